"""utils/layers/mobilenet.py: the depthwise separable block is a dense convolution of a special
form, MobileNet-224 is timm's mobilenetv1_100, and the counts are the paper's (Howard et al., 2017:
§3.1, Tables 1 to 7).

Full-size networks are counted on the meta device (no memory); outputs are compared with random
weights on small inputs.
"""

from fractions import Fraction

import pytest
import torch
from torch import nn

from utils import arithmetic
from utils.layers.common import ConvBNAct
from utils.layers.mobilenet import (MOBILENET_TABLE, DepthwiseSeparable, MobileNet, mobilenet,
                                    mobilenet_cifar)
from utils.layers.reference import same_as_reference

timm = pytest.importorskip("timm")


def _params(model):
    return sum(p.numel() for p in model.parameters())


def _weights(model):
    """The paper's count: convolution and FC weights, no batch norm, no biases."""
    return sum(p.numel() for p in model.parameters() if p.dim() > 1)


def _meta(fn, *args, **kwargs):
    with torch.device("meta"):
        return fn(*args, **kwargs)


def test_block_layout_and_counts():
    block = DepthwiseSeparable(32, 64, stride=2)
    assert isinstance(block.dw, ConvBNAct) and isinstance(block.pw, ConvBNAct)
    assert block.dw[0].groups == 32 and block.dw[0].stride == (2, 2) and block.dw[0].bias is None
    assert block.pw[0].kernel_size == (1, 1) and block.pw[0].bias is None
    assert isinstance(block.dw[2], nn.ReLU6) and isinstance(block.pw[2], nn.ReLU6)
    assert _params(block) == 9 * 32 + 2 * 32 + 32 * 64 + 2 * 64
    assert block(torch.randn(2, 32, 16, 16)).shape == (2, 64, 8, 8)
    assert isinstance(DepthwiseSeparable(8, 8, activation_layer=nn.ReLU).pw[2], nn.ReLU)


@pytest.mark.parametrize("m, n, k", [(4, 6, 3), (8, 3, 5), (3, 16, 3)])
def test_separable_is_a_dense_convolution(m, n, k):
    """depthwise + pointwise = one dense convolution with kernel W[n, m] = P[n, m] · D[m]."""
    torch.manual_seed(0)
    dw = nn.Conv2d(m, m, k, padding=k // 2, groups=m, bias=False)
    pw = nn.Conv2d(m, n, 1, bias=False)
    dense = nn.Conv2d(m, n, k, padding=k // 2, bias=False)
    with torch.no_grad():
        dense.weight.copy_(pw.weight[:, :, 0, 0, None, None] * dw.weight[:, 0][None])
        x = torch.randn(2, m, 9, 7)
        assert torch.allclose(dense(x), pw(dw(x)), atol=1e-5)
    assert Fraction(_params(dw) + _params(pw), _params(dense)) == Fraction(1, n) + Fraction(1, k * k)


def test_reduction_for_every_block():
    """§3.1: the separable block costs 1/N + 1/9 of a standard 3×3 convolution, layer by layer."""
    s = arithmetic.summary(_meta(mobilenet), (3, 224, 224))
    for i, (n, _) in enumerate(MOBILENET_TABLE):
        dw, pw = s.row(f"blocks.{i}.dw.0"), s.row(f"blocks.{i}.pw.0")
        m, d_f = dw.in_shape[0], dw.out_shape[1]
        standard = 9 * m * n * d_f * d_f
        assert Fraction(dw.macs + pw.macs, standard) == Fraction(1, n) + Fraction(1, 9)


def test_table_1_sizes():
    s = arithmetic.summary(_meta(mobilenet), (3, 224, 224))
    assert s.row("conv1.0").out_shape == (32, 112, 112)
    assert [s.row(f"blocks.{i}.pw.0").out_shape for i in range(13)] == [
        (64, 112, 112), (128, 56, 56), (128, 56, 56), (256, 28, 28), (256, 28, 28),
        (512, 14, 14), (512, 14, 14), (512, 14, 14), (512, 14, 14), (512, 14, 14), (512, 14, 14),
        (1024, 7, 7), (1024, 7, 7)]
    layers = [m for m in _meta(mobilenet).modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert len(layers) == 28                                  # "MobileNet has 28 layers" (§3.2)


def test_mobilenet_224_is_timms_mobilenetv1_100():
    torch.manual_seed(0)
    check = same_as_reference(mobilenet(), timm.create_model("mobilenetv1_100"), (3, 64, 64),
                              mapping="order")
    check.assert_ok()
    assert check.same_output is True and check.params == (4_231_976, 4_231_976)


@pytest.mark.parametrize("alpha", [0.75, 0.5, 0.25])
def test_width_multiplier_is_timms(alpha):
    from timm.models.efficientnet import _gen_mobilenet_v1
    theirs = _meta(_gen_mobilenet_v1, f"mobilenetv1_{int(alpha * 100)}", channel_multiplier=alpha)
    check = same_as_reference(_meta(mobilenet, alpha), theirs, mapping="order")
    check.assert_ok()


# Tables 6 and 7 (and Table 9's 0.5 at 160): (α, input) -> (million multiply-adds, million weights)
PAPER = {(1.0, 224): (569, 4.2), (0.75, 224): (325, 2.6), (0.5, 224): (149, 1.3),
         (0.25, 224): (41, 0.5), (1.0, 192): (418, 4.2), (1.0, 160): (290, 4.2),
         (1.0, 128): (186, 4.2), (0.5, 160): (76, 1.32)}
COUNTS = {(1.0, 224): (4_231_976, 568_740_352), (0.75, 224): (2_585_560, 325_400_448),
          (0.5, 224): (1_331_592, 149_497_088), (0.25, 224): (470_072, 41_030_272),
          (1.0, 192): (4_231_976, 418_121_728), (1.0, 160): (4_231_976, 290_675_200),
          (1.0, 128): (4_231_976, 186_400_768), (0.5, 160): (1_331_592, 76_524_800)}


@pytest.mark.parametrize("alpha, size", list(PAPER))
def test_width_and_resolution_counts(alpha, size):
    model = _meta(mobilenet, alpha)
    s = arithmetic.summary(model, (3, size, size))
    assert (s.params, s.macs) == COUNTS[alpha, size]
    macs, weights = PAPER[alpha, size]
    assert abs(s.macs / 1e6 - macs) < 1                     # the paper's rounding is not uniform
    assert round(_weights(model) / 1e6, 2 if weights == 1.32 else 1) == weights


def test_table_2_shares():
    s = arithmetic.summary(_meta(mobilenet), (3, 224, 224))
    pw = sum(s.row(f"blocks.{i}.pw.0").macs for i in range(13))
    dw = sum(s.row(f"blocks.{i}.dw.0").macs for i in range(13))
    assert round(100 * pw / s.macs, 2) == 94.86 and round(100 * dw / s.macs, 2) == 3.06
    assert round(100 * s.row("conv1.0").macs / s.macs, 2) == 1.91      # printed 1.19 in Table 2
    assert round(100 * 1_024_000 / _weights(_meta(mobilenet)), 2) == 24.33
    assert _weights(_meta(mobilenet)) == 4_209_088


def test_table_4_conv_mobilenet():
    """Table 4: the same network with standard 3×3 convolutions: 29.3 M parameters, 4866 M."""
    class ConvMobileNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = ConvBNAct(3, 32, 3, 2, activation_layer=nn.ReLU6)
            convs, c = [], 32
            for n, stride in MOBILENET_TABLE:
                convs.append(ConvBNAct(c, n, 3, stride, activation_layer=nn.ReLU6))
                c = n
            self.blocks, self.pool, self.fc = nn.Sequential(*convs), nn.AdaptiveAvgPool2d(1), nn.Linear(c, 1000)

        def forward(self, x):
            return self.fc(self.pool(self.blocks(self.conv1(x))).flatten(1))

    s = arithmetic.summary(_meta(ConvMobileNet), (3, 224, 224))
    assert (s.params, s.macs) == (29_294_088, 4_867_293_184)
    assert round(s.params / 1e6, 1) == 29.3 and abs(s.macs / 1e6 - 4866) < 2


@pytest.mark.parametrize("alpha, params, macs", [(0.25, 215_642, 3_331_072), (0.5, 823_722, 12_167_168),
                                                  (1.0, 3_217_226, 46_354_432)])
def test_cifar_variant(alpha, params, macs):
    model = mobilenet_cifar(alpha)
    s = arithmetic.summary(model, (3, 32, 32))
    assert (s.params, s.macs) == (params, macs)
    assert s.row("conv1.0").out_shape[1:] == (32, 32)
    assert s.row("blocks.12.pw.0").out_shape[1:] == (2, 2)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert isinstance(model, MobileNet) and model.fc.out_features == 10


def test_initialisation():
    torch.manual_seed(0)
    model = mobilenet_cifar(0.5)
    assert torch.all(model.fc.bias == 0) and abs(model.fc.weight.std().item() - 0.01) < 2e-3
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert all(torch.all(b.weight == 1) and torch.all(b.bias == 0) for b in bns)
