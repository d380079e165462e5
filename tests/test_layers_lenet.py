"""LeNet-5 in utils/layers/lenet.py against the paper and against the chapter's version.

The chapter (chapters/00_lenet5.ipynb) builds C3 step by step as an ordinary 6→16 convolution
whose weights are multiplied by the connection mask; ``MaskedC3`` below is that same code. The
tests show that it and ``utils.layers.LeNetC3`` hold the same 1,516 trainable numbers and give
the same output for the same weights. The networks ``LeNet5`` and ``lenet5_cifar()`` are checked
against the chapter's ``lenet5_paper()`` and ``lenet5_cifar()``, taken from the notebook itself.
"""

import pytest
import torch
from torch import nn

from tests.layer_checks import chapter_definitions, same_init
from utils import arithmetic as ar
from utils.layers import (LENET_C3_TABLE, EuclideanRBF, LeNet5, LeNetC3, ScaledTanh, Subsampling,
                          lenet5_cifar, lenet_c3_table, same_as_reference)


class MaskedC3(nn.Module):
    """The chapter's step-by-step C3: a full convolution with the disconnected weights masked."""

    def __init__(self, table):
        super().__init__()
        self.conv = nn.Conv2d(6, 16, 5)
        self.register_buffer("mask", table.T[:, :, None, None].float())  # [16, 6, 1, 1]

    def forward(self, x):
        return nn.functional.conv2d(x, self.conv.weight * self.mask, self.conv.bias)


def n_params(module):
    return sum(p.numel() for p in module.parameters())


def test_table_is_table_one_of_the_paper():
    t = lenet_c3_table()
    assert t.shape == (6, 16) and t.dtype == torch.bool
    assert t.tolist() == [[bool(v) for v in row] for row in LENET_C3_TABLE]
    cols = [set(t[:, j].nonzero().flatten().tolist()) for j in range(16)]
    # "The first six C3 feature maps take inputs from every contiguous subsets of three feature
    # maps in S2. The next six take input from every contiguous subset of four. The next three
    # take input from some discontinuous subsets of four. Finally the last one takes input from
    # all S2 feature maps."
    assert cols[:6] == [{j % 6, (j + 1) % 6, (j + 2) % 6} for j in range(6)]
    assert cols[6:12] == [{j % 6, (j + 1) % 6, (j + 2) % 6, (j + 3) % 6} for j in range(6)]
    assert cols[12:15] == [{0, 1, 3, 4}, {1, 2, 4, 5}, {0, 2, 3, 5}]
    assert cols[15] == set(range(6))
    assert t.sum(1).tolist() == [10] * 6  # every S2 map feeds ten C3 maps


def test_c3_has_the_papers_1516_parameters_and_151600_connections():
    c3 = LeNetC3()
    assert n_params(c3) == 6 * (3 * 25 + 1) + 9 * (4 * 25 + 1) + 1 * (6 * 25 + 1) == 1516
    assert c3(torch.zeros(1, 6, 14, 14)).shape == (1, 16, 10, 10)
    assert 10 * 10 * n_params(c3) == 151_600  # each parameter is used at all 10×10 positions
    # the chapter's masked version stores the full 16·6·25 + 16 = 2,416 numbers, of which the
    # table lets 1,516 matter
    masked = MaskedC3(lenet_c3_table())
    assert n_params(masked) == 2416
    assert int(masked.mask.sum()) * 25 + 16 == 1516


def same_weights(seed):
    """A utils LeNetC3 and the chapter's masked version holding the same weights."""
    torch.manual_seed(seed)
    c3, masked = LeNetC3(), MaskedC3(lenet_c3_table())
    with torch.no_grad():
        masked.conv.weight.copy_(c3.dense_weight())
        masked.conv.bias.copy_(c3.bias)
    return c3, masked


def test_chapter_version_and_utils_version_agree_for_the_same_weights():
    c3, masked = same_weights(0)
    x = torch.randn(4, 6, 14, 14)
    torch.testing.assert_close(c3(x), masked(x), rtol=1e-5, atol=1e-5)


def test_disconnected_weights_do_not_matter_in_the_masked_version():
    torch.manual_seed(0)
    masked = MaskedC3(lenet_c3_table())
    x = torch.randn(2, 6, 14, 14)
    masked(x).sum().backward()
    grad_nonzero = masked.conv.weight.grad.abs().sum((2, 3)) != 0  # [16, 6]
    assert torch.equal(grad_nonzero, lenet_c3_table().T)


def test_dense_weight_marks_exactly_the_table_and_gradients_reach_only_links():
    c3 = LeNetC3()
    connected = c3.dense_weight().abs().sum((2, 3)) != 0  # [16, 6]
    assert torch.equal(connected.T, lenet_c3_table())
    assert c3.weight.shape == (60, 5, 5) and c3.bias.shape == (16,)
    c3(torch.randn(2, 6, 14, 14)).sum().backward()
    assert (c3.weight.grad.abs().sum((1, 2)) > 0).all()  # every stored kernel is used


def test_same_output_on_other_input_sizes():
    c3, masked = same_weights(2)
    for size in (5, 14, 23):
        x = torch.randn(3, 6, size, size)
        torch.testing.assert_close(c3(x), masked(x), rtol=1e-5, atol=1e-5)


def test_any_table_works_even_when_maps_must_be_reordered():
    torch.manual_seed(1)
    table = lenet_c3_table()[:, torch.randperm(16)]
    c3 = LeNetC3(table)
    x = torch.randn(2, 6, 14, 14)
    expected = nn.functional.conv2d(x, c3.dense_weight(), c3.bias)
    torch.testing.assert_close(c3(x), expected, rtol=1e-5, atol=1e-5)
    assert n_params(c3) == 1516


def test_bad_input_is_refused_clearly():
    with pytest.raises(ValueError, match="every output map"):
        LeNetC3(torch.zeros(6, 16, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"expects \[N, 6, H, W\]"):
        LeNetC3()(torch.zeros(1, 3, 14, 14))


def test_subsampling_is_sum_times_coefficient_plus_bias():
    s = Subsampling(2)
    assert n_params(s) == 4  # "S2 has 12 trainable parameters" for 6 maps: 2 per map
    with torch.no_grad():
        s.weight.copy_(torch.tensor([0.5, 2.0]))
        s.bias.copy_(torch.tensor([0.1, -1.0]))
    x = torch.arange(32.0).view(1, 2, 4, 4)
    top_left = x[0, :, :2, :2].sum((1, 2))
    torch.testing.assert_close(s(x)[0, :, 0, 0], top_left * s.weight.detach() + s.bias.detach())
    assert s(x).shape == (1, 2, 2, 2)


def test_scaled_tanh_constants_of_appendix_a():
    f = ScaledTanh()
    out = f(torch.tensor([-1.0, 0.0, 1.0, 50.0]))
    torch.testing.assert_close(out[:3], torch.tensor([-1.0, 0.0, 1.0]), atol=2e-4, rtol=0)
    assert out[3].item() == pytest.approx(1.7159, abs=1e-4)


def test_lenet5_is_the_chapters_lenet5_paper():
    chapter = chapter_definitions("00_lenet5", "EuclideanRBF", "lenet5_paper", graduated="LeNet5")
    torch.manual_seed(0)
    same_as_reference(LeNet5(), chapter["lenet5_paper"](), (1, 32, 32)).assert_ok()
    assert same_init(LeNet5, chapter["lenet5_paper"])       # same modules, same order
    assert [n for n, _ in LeNet5().named_children()] == \
        [n for n, _ in chapter["lenet5_paper"]().named_children()]


def test_lenet5_cifar_is_the_chapters():
    chapter = chapter_definitions("00_lenet5", "lenet5_cifar", graduated="lenet5_cifar")
    torch.manual_seed(0)
    same_as_reference(lenet5_cifar(), chapter["lenet5_cifar"](), (3, 32, 32)).assert_ok()
    assert same_init(lenet5_cifar, chapter["lenet5_cifar"])
    assert same_init(lambda: lenet5_cifar(100), lambda: chapter["lenet5_cifar"](100))


def test_euclidean_rbf_is_the_chapters_and_has_fixed_codes():
    chapter = chapter_definitions("00_lenet5", "EuclideanRBF", graduated="EuclideanRBF")
    ours, theirs = EuclideanRBF(), chapter["EuclideanRBF"]()
    assert torch.equal(ours.centres, theirs.centres)
    assert set(ours.centres.unique().tolist()) == {-1, 1}
    assert n_params(ours) == 0 and list(ours.state_dict()) == ["centres"]
    x = torch.randn(5, 84)
    torch.testing.assert_close(ours(x), theirs(x))
    torch.testing.assert_close(ours(x), torch.cdist(x, ours.centres) ** 2, rtol=1e-4, atol=1e-3)


def test_lenet5_has_the_papers_60000_parameters_and_layer_sizes():
    net = LeNet5()
    assert n_params(net) == 60_000              # "only 60,000 trainable free parameters" (§II.A)
    s = ar.summary(net, (1, 32, 32))
    assert [s.row(n).out_shape for n in ("C1", "S2", "C3", "S4", "C5", "F6", "output")] == \
        [(6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 5, 5), (120, 1, 1), (84,), (10,)]
    assert lenet5_cifar()(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
