"""utils/layers/bn_inception.py: BN-Inception (Ioffe & Szegedy, 2015) and chapter 6's networks.

- Figure 5's channel arithmetic: each module's output is the next one's input (4c and 4d add up
  to 608, as their columns say, and 4e passes 608 channels through: 1,056 into 5a);
- the network's parameters counted by hand from the table (no torchvision twin exists) against
  the module, and the multiply-adds at 224×224; the grid sizes 224 → 112 → 56 → 28 → 14 → 7;
- ``InceptionBN``: branches, strides and pass-through; the separable first layer;
- ``SmallConvNet`` with and without batch norm, the noisy batch norm of Santurkar et al.;
- the chapter's hand-written batch norm (Algorithms 1 and 2, taken out of the notebook) against
  ``nn.BatchNorm2d`` in training and evaluation mode, on several shapes.
"""

import pytest
import torch
from torch import nn

from tests.layer_checks import chapter_definitions
from utils.arithmetic import summary
from utils.layers.bn_inception import (BN_INCEPTION_TABLE, BNInception, ConvBlock, InceptionBN,
                                       NoisyBatchNorm2d, SeparableConv2d, SmallConvNet,
                                       bn_inception_cifar, module_out_channels, scaled)

OUTPUTS = {"3a": 256, "3b": 320, "3c": 576, "4a": 576, "4b": 576, "4c": 608, "4d": 608,
           "4e": 1056, "5a": 1024, "5b": 1024}
SIDE = {"3a": 28, "3b": 28, "3c": 14, "4a": 14, "4b": 14, "4c": 14, "4d": 14, "4e": 7,
        "5a": 7, "5b": 7}


def count(model):
    return sum(p.numel() for p in model.parameters())


def conv_bn(c_in, c_out, k):
    """A convolution without bias and its batch norm (γ, β): the table's unit."""
    return k * k * c_in * c_out + 2 * c_out


def by_hand(table=BN_INCEPTION_TABLE, classes=1000):
    """BN-Inception's parameters from Figure 5 alone, with the course's own arithmetic."""
    total = 3 * 8 * 7 * 7 + 24 * 64 + 2 * 64          # separable conv1: depthwise, pointwise, BN
    total += conv_bn(64, 64, 1) + conv_bn(64, 192, 3)  # conv2: 1×1 reduce, 3×3
    c = 192
    for ch1, red3, ch3, red_d, ch_d, _, proj, _ in table.values():
        total += conv_bn(c, ch1, 1) if ch1 else 0
        total += conv_bn(c, red3, 1) + conv_bn(red3, ch3, 3)
        total += conv_bn(c, red_d, 1) + conv_bn(red_d, ch_d, 3) + conv_bn(ch_d, ch_d, 3)
        total += conv_bn(c, proj, 1) if proj is not None else 0
        c = ch1 + ch3 + ch_d + (c if proj is None else proj)
    return total + c * classes + classes


def test_figure_5_channel_arithmetic():
    c, outs = 192, {}
    for name, row in BN_INCEPTION_TABLE.items():
        c = outs[name] = module_out_channels(c, row)
    assert outs == OUTPUTS
    # the stride-2 modules have no 1×1 branch and pass their pooled input through
    assert [n for n, r in BN_INCEPTION_TABLE.items() if r[-1] == 2] == ["3c", "4e"]
    assert all(r[0] == 0 and r[6] is None for r in BN_INCEPTION_TABLE.values() if r[-1] == 2)


def test_parameters_from_the_table_and_macs():
    with torch.device("meta"):
        net = BNInception()
    s = summary(net, (3, 224, 224))
    assert s.params == count(net) == by_hand() == 11_278_528
    assert s.macs == 1_948_605_440
    for name, out in OUTPUTS.items():
        m = getattr(net, f"inception{name}")
        assert m.out_channels == out
        rows = [r for r in s.rows if r.name.startswith(f"inception{name}.")]
        last = rows[-1]
        assert last.out_shape[1:] == (SIDE[name], SIDE[name])
    assert net.fc.in_features == 1024
    # the paper's §4.2 says 13.6·10⁶: neither the table nor its reproductions get there
    with torch.device("meta"):
        full = BNInception(separable_stem=False)
    biases = sum(m.out_channels for m in full.modules() if isinstance(m, nn.Conv2d))
    assert count(full) == 11_285_224 and count(full) + biases == 11_295_240


def test_tf_slim_variant_keeps_576_channels():
    slim = dict(BN_INCEPTION_TABLE)
    for name in ("4c", "4d"):
        row = list(slim[name])
        row[6] = 96
        slim[name] = tuple(row)
    with torch.device("meta"):
        net = BNInception(table=slim)
    assert net.inception4c.out_channels == net.inception4d.out_channels == 576
    assert count(net) == by_hand(slim)


def test_forward_shapes_and_grid():
    torch.manual_seed(0)
    net = BNInception(num_classes=7).eval()
    with torch.no_grad():
        assert net(torch.randn(1, 3, 224, 224)).shape == (1, 7)
    m = InceptionBN(320, *BN_INCEPTION_TABLE["3c"])            # 160 + 96 + 320 passed through
    assert m.branch1 is None and m(torch.randn(2, 320, 28, 28)).shape == (2, 576, 14, 14)
    m = InceptionBN(192, *BN_INCEPTION_TABLE["3a"])
    assert m(torch.randn(2, 192, 28, 28)).shape == (2, 256, 28, 28)
    assert isinstance(m.branch4[0], nn.AvgPool2d)
    assert isinstance(InceptionBN(1024, *BN_INCEPTION_TABLE["5b"]).branch4[0], nn.MaxPool2d)
    # no bias before batch norm; the double branch is three layers: 1×1, 3×3, 3×3
    assert all(c.bias is None for c in m.modules() if isinstance(c, nn.Conv2d))
    assert [b.conv.kernel_size for b in m.branch3] == [(1, 1), (3, 3), (3, 3)]


def test_inception_bn_refuses_bad_rows():
    with pytest.raises(ValueError, match="1×1 branch"):
        InceptionBN(320, 64, 128, 160, 64, 96, "max", None, 2)
    with pytest.raises(ValueError, match="pool"):
        InceptionBN(192, 64, 64, 64, 64, 96, "sum", 32)
    with pytest.raises(ValueError, match="stride"):
        InceptionBN(192, 64, 64, 64, 64, 96, "avg", 32, 3)


def test_separable_first_layer():
    conv = SeparableConv2d(3, 64, 7, stride=2, padding=3, depth_multiplier=8)
    assert count(conv) == 2_712 and conv.depthwise.groups == 3
    assert conv(torch.randn(1, 3, 224, 224)).shape == (1, 64, 112, 112)
    # a depth multiplier of 1 with an identity pointwise is a plain depthwise convolution
    dw = SeparableConv2d(3, 3, 3, padding=1, depth_multiplier=1)
    with torch.no_grad():
        dw.pointwise.weight.copy_(torch.eye(3).view(3, 3, 1, 1))
    x = torch.randn(1, 3, 8, 8)
    assert torch.allclose(dw(x), dw.depthwise(x))


def test_cifar_network():
    torch.manual_seed(0)
    net = bn_inception_cifar()
    s = summary(net, (3, 32, 32))
    assert s.params == 647_434 and s.macs == 39_497_216
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert scaled(64, 0.25) == 16 and scaled(0, 0.25) == 0 and scaled(16, 0.25) == 8
    with pytest.raises(ValueError):
        BNInception(stem="tiny")


def test_small_conv_net_with_and_without_bn():
    bn, plain = SmallConvNet(), SmallConvNet(batch_norm=False)
    assert count(bn) == 141_034 and count(plain) == 140_714
    assert all(b.bn is None and b.conv.bias is not None for b in
               (plain.block1, plain.block2, plain.block3, plain.block4, plain.block5))
    assert all(isinstance(b.bn, nn.BatchNorm2d) and b.conv.bias is None for b in
               (bn.block1, bn.block2, bn.block3, bn.block4, bn.block5))
    for net in (bn, plain, SmallConvNet(activation="sigmoid")):
        assert net(torch.randn(3, 3, 32, 32)).shape == (3, 10)
    assert summary(bn, (3, 32, 32)).macs == summary(plain, (3, 32, 32)).macs == 29_197_568
    with pytest.raises(ValueError):
        SmallConvNet(batch_norm=False, noisy=True)
    with pytest.raises(ValueError):
        ConvBlock(3, 8, activation="tanh")


def test_the_nonlinearity_is_a_module_a_hook_can_read():
    net, seen = SmallConvNet(), []
    net.block4.act.register_forward_pre_hook(lambda m, inputs: seen.append(inputs[0].shape))
    net(torch.randn(2, 3, 32, 32))
    assert seen == [(2, 64, 16, 16)]


def test_noisy_batch_norm():
    torch.manual_seed(0)
    noisy, plain = NoisyBatchNorm2d(6), nn.BatchNorm2d(6)
    assert list(noisy.state_dict()) == list(plain.state_dict())
    x = torch.randn(8, 6, 4, 4)
    a, b = noisy(x), noisy(x)
    assert not torch.allclose(a, b)                    # a new scale and shift at every step
    noisy.eval(), plain.eval()
    plain.load_state_dict(noisy.state_dict())
    assert torch.allclose(noisy(x), plain(x))          # plain batch norm in evaluation mode
    net = SmallConvNet(noisy=True)
    assert isinstance(net.block1.bn, NoisyBatchNorm2d)


@pytest.mark.parametrize("shape", [(8, 4, 5, 5), (2, 3, 1, 7), (16, 1, 3, 3)])
def test_the_chapters_hand_written_batch_norm(shape):
    ns = chapter_definitions("06_batch_norm", "batch_norm_train", "HandBatchNorm2d")
    torch.manual_seed(0)
    c = shape[1]
    mine, theirs = ns["HandBatchNorm2d"](c), nn.BatchNorm2d(c)
    with torch.no_grad():
        w, b = torch.rand(c) + 0.5, torch.rand(c) - 0.5
        mine.gamma.copy_(w), theirs.weight.copy_(w), mine.beta.copy_(b), theirs.bias.copy_(b)
    for step in range(4):
        x = (step + 1) * torch.randn(*shape) + step
        assert torch.allclose(mine(x), theirs(x), atol=1e-5)
    assert torch.allclose(mine.running_mean, theirs.running_mean, atol=1e-6)
    assert torch.allclose(mine.running_var, theirs.running_var, atol=1e-5)
    mine.eval(), theirs.eval()
    x = torch.randn(*shape)
    assert torch.allclose(mine(x), theirs(x), atol=1e-5)
