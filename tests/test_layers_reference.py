"""``utils.layers.same_as_reference``: the three checks, the key mappings, and the report.

The check is only worth something if it fails when it should: these tests give it networks that
differ in each of the three ways (parameter count, state-dict layout, output) and read the verdict
and the printed report; tests/test_reference_twins.py then uses it on every chapter's twin.
"""

from collections import OrderedDict

import pytest
import torch
from torch import nn

from utils.layers import ReferenceCheck, same_as_reference


def named(activation=nn.ReLU, width=8):
    return nn.Sequential(OrderedDict(conv=nn.Conv2d(3, width, 3), bn=nn.BatchNorm2d(width),
                                     act=activation(), pool=nn.AdaptiveAvgPool2d(1),
                                     flat=nn.Flatten(), fc=nn.Linear(width, 4)))


def numbered():
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4))


def test_the_same_network_passes_all_three_checks_and_says_so():
    torch.manual_seed(0)
    check = same_as_reference(named(), named(), (3, 8, 8))
    assert isinstance(check, ReferenceCheck)
    assert check.ok and check.same_params and check.same_layout and check.same_output
    assert check.params == (8 * 27 + 8 + 16 + 36, 8 * 27 + 8 + 16 + 36)
    assert check.max_diff == 0.0
    text = str(check)
    assert text == repr(check) and len(text.splitlines()) == 4
    assert text.splitlines()[0] == "nn.Sequential against nn.Sequential: the same network"
    assert "✓ parameters  276 = 276" in text and "9 tensors, same names and shapes" in text
    assert "on a 2×3×8×8 input" in text
    assert check.assert_ok() is check


def test_ours_receives_their_weights_and_every_training_flag_is_restored():
    torch.manual_seed(0)
    ours, theirs = named(), named()
    ours.train()
    theirs.train()
    theirs.bn.eval()                                          # a frozen batch norm stays frozen
    with torch.no_grad():
        theirs.bn.running_mean.fill_(0.5)
    same_as_reference(ours, theirs, (3, 8, 8)).assert_ok()
    assert torch.equal(ours.conv.weight, theirs.conv.weight)
    assert torch.equal(ours.bn.running_mean, theirs.bn.running_mean)
    assert ours.training and ours.bn.training and theirs.training and not theirs.bn.training


def test_a_different_parameter_count_fails():
    check = same_as_reference(named(width=8), named(width=6), (3, 8, 8))
    assert not check.ok and not check.same_params and not check.same_layout
    assert check.same_output is None                          # weights cannot be copied
    assert "✗ parameters  276 ≠ 208" in str(check) and "NOT the same network" in str(check)
    assert "conv.weight: [8, 3, 3, 3] here, [6, 3, 3, 3] there" in str(check)
    with pytest.raises(AssertionError, match="NOT the same network"):
        check.assert_ok()


def test_the_same_weights_under_other_names_need_a_mapping():
    torch.manual_seed(0)
    plain = same_as_reference(named(), numbered(), (3, 8, 8))
    assert plain.same_params and not plain.same_layout and not plain.ok
    assert any("conv.weight: only here" in p for p in plain.layout_problems)
    assert any("0.weight: only there" in p for p in plain.layout_problems)
    by_order = same_as_reference(named(), numbered(), (3, 8, 8), mapping="order").assert_ok()
    assert by_order.mapping["fc.bias"] == "5.bias" and "names mapped" in str(by_order)
    names = {"conv": "0", "bn": "1", "fc": "5"}
    by_function = same_as_reference(named(), numbered(), (3, 8, 8),
                                    mapping=lambda k: names[k.split(".")[0]] + k[k.index("."):])
    by_dict = same_as_reference(named(), numbered(), (3, 8, 8), mapping=by_order.mapping)
    assert by_function.ok and by_dict.ok


def test_order_mapping_reports_a_different_number_of_tensors_and_shapes():
    check = same_as_reference(named(), nn.Sequential(nn.Conv2d(3, 8, 3), nn.Linear(8, 4)),
                              mapping="order")
    assert not check.same_layout
    assert check.layout_problems[0] == "9 tensors here, 4 there"
    assert "bn.weight → 1.weight: [8] here, [4, 8] there" in check.layout_problems


def test_a_mapping_may_not_use_one_of_their_tensors_twice():
    check = same_as_reference(nn.Linear(4, 4), nn.Linear(4, 4), mapping={"bias": "weight"})
    assert not check.same_layout
    assert any("only there" in p for p in check.layout_problems)


def test_the_same_layout_with_a_different_computation_fails_on_the_output():
    check = same_as_reference(named(nn.ReLU), named(nn.Tanh), (3, 8, 8))
    assert check.same_params and check.same_layout and check.same_output is False
    assert not check.ok and check.max_diff > 0 and "✗ output" in str(check)


def test_different_output_shapes_fail_clearly():
    check = same_as_reference(nn.Conv2d(3, 4, 3), nn.Conv2d(3, 4, 3, padding=1), (3, 6, 6))
    assert check.same_layout and check.same_output is False
    assert "(2, 4, 4, 4)" in str(check) and "(2, 4, 6, 6)" in str(check)


def test_a_network_that_cannot_run_the_input_fails_the_output_check():
    check = same_as_reference(named(), named(), (3, 2, 2))       # 2×2 is too small for a 3×3 conv
    assert check.same_layout and check.same_output is False and not check.ok
    assert "✗ output      ours raised RuntimeError" in str(check)


def test_meta_networks_get_the_shape_checks_only():
    with torch.device("meta"):
        check = same_as_reference(named(), named(), (3, 8, 8))
    assert check.ok and check.same_output is None
    assert "not compared: meta tensors" in str(check) and "outputs not compared" in str(check)
    assert "no input_size" in str(same_as_reference(named(), named()))


def test_explicit_inputs_and_tolerances():
    torch.manual_seed(0)
    ours, theirs = nn.Linear(3, 2), nn.Linear(3, 2)
    x = torch.randn(5, 3)
    assert same_as_reference(ours, theirs, inputs=x).assert_ok().output_note == "a 5×3 input"

    class Nudged(nn.Linear):
        def forward(self, x):
            return super().forward(x) + 1e-3

    nudged = Nudged(3, 2)
    assert not same_as_reference(nudged, theirs, inputs=x).ok
    assert same_as_reference(nudged, theirs, inputs=x, atol=1e-2).ok


def test_tuple_outputs_are_compared_element_by_element():
    class Two(nn.Module):
        def __init__(self, scale):
            super().__init__()
            self.fc, self.scale = nn.Linear(3, 3), scale

        def forward(self, x):
            y = self.fc(x)
            return y, {"aux": y * self.scale}

    assert same_as_reference(Two(1.0), Two(1.0), (3,)).ok
    assert not same_as_reference(Two(1.0), Two(2.0), (3,)).ok


def test_a_bad_mapping_is_a_clear_error():
    with pytest.raises(TypeError, match="mapping"):
        same_as_reference(nn.Linear(2, 2), nn.Linear(2, 2), mapping=3)
