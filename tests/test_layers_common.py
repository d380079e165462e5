"""The blocks that later families share (utils/layers/common.py) against torchvision's.

``ConvBNAct``, ``SqueezeExcitation``, ``drop_path``/``StochasticDepth`` and ``make_divisible`` are
written out in utils so that the chapters can show them; these tests prove that each one is
torchvision's block: the same parameter count and state-dict layout, the same initial weights for
the same random seed (the same sub-modules created in the same order), the same output for the
same weights; for stochastic depth, the same random draws, the identity in evaluation mode, the
expected value kept in training, and whole samples dropped in row mode.
"""

from functools import partial

import pytest
import torch
import torchvision
from torch import nn
from torchvision.ops import Conv2dNormActivation

from tests.layer_checks import same_init
from utils.layers import (ConvBNAct, SqueezeExcitation, StochasticDepth, drop_path,
                          make_divisible, same_as_reference)

CONV_BN_ACT = [  # keyword arguments shared by ours and torchvision's, and an input size
    (dict(in_channels=16, out_channels=32), (16, 9, 9)),
    (dict(in_channels=16, out_channels=32, kernel_size=3, stride=2), (16, 9, 9)),
    (dict(in_channels=8, out_channels=8, kernel_size=5, groups=8, activation_layer=nn.ReLU6),
     (8, 7, 7)),                                                            # MobileNet depthwise
    (dict(in_channels=8, out_channels=24, kernel_size=1, activation_layer=nn.SiLU,
          norm_layer=partial(nn.BatchNorm2d, eps=1e-3)), (8, 5, 5)),       # EfficientNet 1×1
    (dict(in_channels=8, out_channels=8, kernel_size=3, dilation=2, activation_layer=nn.Hardswish),
     (8, 9, 9)),
    (dict(in_channels=4, out_channels=6, kernel_size=(1, 3), norm_layer=None), (4, 5, 6)),
    (dict(in_channels=4, out_channels=6, kernel_size=3, activation_layer=None, bias=True),
     (4, 5, 5)),
]


def randomize_batch_norm_(model, seed=0):
    """Running statistics and affine parameters far from (0, 1), so misplaced batch norms show."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.5, generator=g)
                m.running_var.uniform_(0.5, 2.0, generator=g)
                m.weight.uniform_(0.5, 1.5, generator=g)
                m.bias.normal_(0, 0.5, generator=g)
    return model


@pytest.mark.parametrize("kwargs, size", CONV_BN_ACT)
def test_conv_bn_act_is_torchvisions_conv2d_norm_activation(kwargs, size):
    ours, theirs = ConvBNAct(**kwargs), randomize_batch_norm_(Conv2dNormActivation(**kwargs))
    same_as_reference(ours, theirs, size).assert_ok()
    assert same_init(lambda: ConvBNAct(**kwargs), lambda: Conv2dNormActivation(**kwargs))
    assert [type(m) for m in ours] == [type(m) for m in theirs]
    assert ours.out_channels == theirs.out_channels == kwargs["out_channels"]


def test_conv_bn_act_pads_to_keep_the_size_and_drops_the_bias_before_batch_norm():
    x = torch.randn(1, 4, 11, 11)
    for k in (1, 3, 5, 7):
        assert ConvBNAct(4, 8, k)(x).shape == (1, 8, 11, 11)
        assert ConvBNAct(4, 8, k, stride=2)(x).shape == (1, 8, 6, 6)
    assert ConvBNAct(4, 8, 3, dilation=3)[0].padding == (3, 3)
    assert ConvBNAct(4, 8)[0].bias is None                       # batch norm's β replaces it
    assert ConvBNAct(4, 8, norm_layer=None)[0].bias is not None
    assert [name for name, _ in ConvBNAct(4, 8).named_children()] == ["0", "1", "2"]


def test_conv_bn_act_builds_activations_without_an_inplace_argument():
    """torchvision's block fails on nn.Sigmoid with inplace=True; ours leaves the argument out."""
    block = ConvBNAct(4, 8, activation_layer=nn.Sigmoid)
    assert isinstance(block[2], nn.Sigmoid)
    assert ConvBNAct(4, 8)[2].inplace
    assert not ConvBNAct(4, 8, inplace=False)[2].inplace


@pytest.mark.parametrize("activation, scale_activation", [
    (nn.ReLU, nn.Sigmoid),          # the paper (Hu et al., 2018)
    (nn.SiLU, nn.Sigmoid),          # EfficientNet
    (nn.ReLU, nn.Hardsigmoid),      # MobileNetV3
])
def test_squeeze_excitation_is_torchvisions(activation, scale_activation):
    def make_ours():
        return SqueezeExcitation(32, 8, activation, scale_activation)

    def make_theirs():
        return torchvision.ops.SqueezeExcitation(32, 8, activation, scale_activation)

    same_as_reference(make_ours(), make_theirs(), (32, 6, 6)).assert_ok()
    assert same_init(make_ours, make_theirs)


def test_squeeze_excitation_rescales_each_channel_by_a_weight_in_0_1():
    torch.manual_seed(0)
    se = SqueezeExcitation(64, 64 // 16)             # the paper's reduction ratio r = 16
    assert sum(p.numel() for p in se.parameters()) == 2 * 64 * 4 + 4 + 64
    x = torch.randn(3, 64, 5, 5)
    s = se.scale(x)
    assert s.shape == (3, 64, 1, 1) and ((s > 0) & (s < 1)).all()
    torch.testing.assert_close(se(x), x * s)
    # the weights depend on the whole map only through its mean: shuffling pixels changes nothing
    shuffled = x.flatten(2)[:, :, torch.randperm(25)].view_as(x)
    torch.testing.assert_close(se.scale(shuffled), s)


@pytest.mark.parametrize("mode", ["row", "batch"])
@pytest.mark.parametrize("p", [0.0, 0.2, 0.5, 1.0])
def test_drop_path_draws_exactly_what_torchvision_draws(mode, p):
    x = torch.randn(16, 3, 4, 4)
    torch.manual_seed(1)
    ours = drop_path(x, p, mode)
    torch.manual_seed(1)
    theirs = torchvision.ops.stochastic_depth(x, p, mode)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=0)
    ours_module, theirs_module = StochasticDepth(p, mode), torchvision.ops.StochasticDepth(p, mode)
    torch.manual_seed(2)
    a = ours_module(x)
    torch.manual_seed(2)
    torch.testing.assert_close(a, theirs_module(x), rtol=0, atol=0)
    same_as_reference(ours_module, theirs_module, (3, 4, 4)).assert_ok()


@pytest.mark.parametrize("mode", ["row", "batch"])
def test_stochastic_depth_is_the_identity_in_evaluation_mode(mode):
    x = torch.randn(8, 5)
    layer = StochasticDepth(0.7, mode).eval()
    assert layer(x) is x
    assert drop_path(x, 0.7, mode, training=False) is x
    assert StochasticDepth(0.0, mode).train()(x) is x


def test_stochastic_depth_keeps_the_expected_value_in_training():
    torch.manual_seed(0)
    x = torch.randn(1, 6)
    layer = StochasticDepth(0.3, "row").train()
    draws = layer(x.expand(40_000, 6))
    torch.testing.assert_close(draws.mean(0), x[0], rtol=0, atol=0.03)
    kept = (draws != 0).all(1).float().mean()
    assert abs(kept - 0.7) < 0.01                               # survival probability 1 − p


def test_row_mode_drops_whole_samples_and_batch_mode_the_whole_batch():
    torch.manual_seed(0)
    x = torch.rand(64, 3, 4, 4) + 1                             # no zeros of its own
    out = drop_path(x, 0.5, "row")
    dropped = (out == 0).flatten(1)
    assert (dropped.all(1) | ~dropped.any(1)).all()             # each sample: all or nothing
    assert 0 < dropped.all(1).sum() < 64
    kept = ~dropped.any(1)
    torch.testing.assert_close(out[kept], x[kept] / 0.5)        # survivors are scaled by 1/(1−p)
    outs = [drop_path(x, 0.5, "batch") for _ in range(20)]
    assert all(bool((o == 0).all()) or torch.equal(o, x / 0.5) for o in outs)
    assert torch.equal(drop_path(x, 1.0, "row"), torch.zeros_like(x))


def test_stochastic_depth_refuses_bad_arguments():
    for bad in (dict(p=-0.1), dict(p=1.5), dict(p=0.1, mode="column")):
        with pytest.raises(ValueError):
            StochasticDepth(**bad)
        with pytest.raises(ValueError):
            drop_path(torch.ones(2, 2), **bad)


def test_make_divisible_is_torchvisions():
    _make_divisible = pytest.importorskip("torchvision.models._utils")._make_divisible
    for divisor in (4, 8, 16):
        for v in [x / 4 for x in range(1, 4 * 600)]:
            assert make_divisible(v, divisor) == _make_divisible(v, divisor), (v, divisor)
        assert make_divisible(3, divisor, min_value=1) == _make_divisible(3, divisor, 1)


def test_make_divisible_examples_from_the_mobilenets():
    assert make_divisible(32 * 0.75) == 24 and make_divisible(32 * 1.4) == 48
    assert make_divisible(1) == 8                                 # never below the divisor
    assert make_divisible(100, 64) == 128                         # 64 would lose 36 %: round up
    for v in range(1, 2000):
        r = make_divisible(v)
        assert r % 8 == 0 and r >= 0.9 * v
