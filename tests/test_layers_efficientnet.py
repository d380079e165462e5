"""utils/layers/efficientnet.py: MBConv and EfficientNet-B0 … B7 are torchvision's (parameters,
state dict, same random initialisation, output), the counts are the paper's (Tan & Le, 2019:
Table 1, Table 2) and the chapter's plain MBConv computes the same block.

Full-size networks are compared on the meta device (counts and layout, no memory); outputs on a
small input.
"""

import math

import pytest
import torch
import torchvision

from tests.layer_checks import chapter_definitions
from utils import arithmetic
from utils.layers.common import make_divisible
from utils.layers.efficientnet import (B0_STAGES, BUILDERS, EFFICIENTNET_PARAMS, EfficientNet,
                                       MBConv, efficientnet_b0, efficientnet_cifar, scale_depth,
                                       scale_width)
from utils.layers.reference import same_as_reference


def _params(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name, params", [("b0", 5_288_548), ("b1", 7_794_184), ("b2", 9_109_994),
                                          ("b3", 12_233_232), ("b4", 19_341_616),
                                          ("b5", 30_389_784), ("b6", 43_040_704),
                                          ("b7", 66_347_960)])
def test_family_is_torchvisions(name, params):
    with torch.device("meta"):
        ours, theirs = BUILDERS[name](), getattr(torchvision.models, f"efficientnet_{name}")()
    check = same_as_reference(ours, theirs)
    check.assert_ok()
    assert check.params == (params, params)
    assert all(k == v for k, v in check.mapping.items())
    assert ours.classifier[0].p == theirs.classifier[0].p == EFFICIENTNET_PARAMS[name][3]


def test_b0_same_init_and_output_as_torchvision():
    torch.manual_seed(0)
    theirs = torchvision.models.efficientnet_b0().eval()
    torch.manual_seed(0)
    ours = efficientnet_b0().eval()
    for (k1, a), (k2, b) in zip(ours.state_dict().items(), theirs.state_dict().items()):
        assert k1 == k2 and torch.equal(a, b), k1
    ours.load_state_dict(theirs.state_dict())
    for size in (64, 97):
        x = torch.randn(2, 3, size, size)
        with torch.no_grad():
            assert torch.equal(ours(x), theirs(x))


def test_b0_counts_and_table_1():
    with torch.device("meta"):
        model = efficientnet_b0()
    s = arithmetic.summary(model, (3, 224, 224))
    assert (s.params, s.macs) == (5_288_548, 385_814_752)
    blocks = s.blocks()
    assert [len(model.features[i]) for i in range(1, 8)] == [n for *_, n in B0_STAGES] == [1, 2, 2, 3, 3, 4, 1]
    sides = [blocks.row(f"features.{i}.0").out_shape for i in range(1, 8)]
    assert sides == [(16, 112, 112), (24, 56, 56), (40, 28, 28), (80, 14, 14), (112, 14, 14),
                     (192, 7, 7), (320, 7, 7)]
    assert blocks.row("features.8").out_shape == (1280, 7, 7)
    assert (_params(model.features[2][1]), blocks.row("features.2.1").macs) == (10_710, 25_742_016)
    # the paper's "FLOPS" (Table 2) are these multiply-adds, rounded
    for name, res, paper in (("b1", 240, 0.70), ("b3", 300, 1.8), ("b7", 600, 37)):
        with torch.device("meta"):
            m = BUILDERS[name]()
        assert round(arithmetic.summary(m, (3, res, res)).macs / 1e9, 1) == pytest.approx(paper, abs=0.8)


@pytest.mark.parametrize("c_in, c_out, e, k, stride", [(32, 16, 1, 3, 1), (24, 24, 6, 3, 1),
                                                       (40, 80, 6, 3, 2), (112, 112, 6, 5, 1)])
def test_mbconv_is_torchvisions(c_in, c_out, e, k, stride):
    from functools import partial
    from torchvision.models.efficientnet import MBConv as TVMBConv, MBConvConfig
    cnf = MBConvConfig(e, k, stride, c_in, c_out, 1)
    theirs = TVMBConv(cnf, 0.1, torch.nn.BatchNorm2d)
    ours = MBConv(c_in, c_out, e, k, stride, 0.1)
    check = same_as_reference(ours, theirs, (c_in, 9, 9))
    check.assert_ok()
    assert check.same_output is True
    assert ours.use_res_connect == (stride == 1 and c_in == c_out)
    se = ours.block[-2]
    assert se.fc1.out_channels == max(1, c_in // 4)                  # a quarter of the input
    assert isinstance(se.activation, torch.nn.SiLU)
    del partial


def test_mbconv_is_the_chapters():
    ns = chapter_definitions("15_efficientnet", "MBConvBlock")
    for c_in, c_out, e, k, stride in ((24, 24, 6, 3, 1), (16, 24, 6, 3, 2), (32, 16, 1, 3, 1),
                                      (40, 40, 6, 5, 1)):
        torch.manual_seed(0)
        plain = ns["MBConvBlock"](c_in, c_out, e, k, stride).eval()
        ours = MBConv(c_in, c_out, e, k, stride).eval()
        assert _params(plain) == _params(ours)
        ours.load_state_dict(dict(zip(ours.state_dict(), plain.state_dict().values())))
        x = torch.randn(2, c_in, 12, 12)
        with torch.no_grad():
            assert torch.allclose(ours(x), plain(x), atol=1e-5)


def test_stochastic_depth_schedule():
    model = efficientnet_b0()
    blocks = [m for m in model.modules() if isinstance(m, MBConv)]
    assert [m.stochastic_depth.p for m in blocks] == [0.2 * i / 16 for i in range(16)]
    model.train()
    x = torch.randn(4, 24, 8, 8)
    b = blocks[2]                                                    # residual block, p = 0.025
    torch.manual_seed(1)
    y = b(x)
    assert y.shape == x.shape


def test_scaling_rules():
    assert [scale_depth(n, 1.1) for n in (1, 2, 3, 4)] == [2, 3, 4, 5]
    assert [scale_width(c, 1.1) for c in (32, 24, 40, 80)] == [32, 24, 48, 88]
    assert scale_width(32, 0.5) == make_divisible(16) == 16
    assert round(1.2 * 1.1 ** 2 * 1.15 ** 2, 2) == 1.92
    # the official coefficients do not follow alpha^phi (B7: depth 3.1, 1.2^7 = 3.58)
    assert EFFICIENTNET_PARAMS["b7"][:3] == (2.0, 3.1, 600) and round(1.2 ** 7, 2) == 3.58
    assert round(math.log(3.1) / math.log(1.2), 1) == 6.2


def test_cifar_variant():
    model = efficientnet_cifar(0.5, 1.0)
    s = arithmetic.summary(model, (3, 32, 32))
    assert (s.params, s.macs) == (1_077_932, 9_899_904)
    assert s.blocks().row("features.7.0").out_shape == (160, 2, 2)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert [r[5] for r in efficientnet_cifar(0.55, 1.2).stages] == [2, 3, 3, 4, 4, 5, 2]
    assert isinstance(EfficientNet(B0_STAGES, stem_stride=1).features[0][0], torch.nn.Conv2d)
