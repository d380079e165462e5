"""utils/layers/mobilenet_v2.py: the block is torchvision's and the chapter's, MobileNetV2 is
torchvision's mobilenet_v2 at every width, and the counts are the paper's (Sandler et al., 2018:
Tables 1, 2 and 4, §3.3).

Full-size networks are compared on the meta device (counts and layout, no memory); outputs with
random weights (``build``) on small inputs.
"""

import pytest
import torch
import torchvision
from torch import nn

from tests.layer_checks import build, chapter_definitions
from utils import arithmetic
from utils.layers.mobilenet_v2 import (MOBILENET_V2_CIFAR_SETTING, MOBILENET_V2_SETTING,
                                       InvertedResidual, MobileNetV2, mobilenet_v2,
                                       mobilenet_v2_cifar)
from utils.layers.reference import same_as_reference


def _params(model):
    return sum(p.numel() for p in model.parameters())


def test_setting_is_table_2():
    assert MOBILENET_V2_SETTING == [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2],
                                    [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1]]
    assert sum(n for _, _, n, _ in MOBILENET_V2_SETTING) == 17          # not §4's "19"
    assert [s for *_, s in MOBILENET_V2_CIFAR_SETTING] == [1, 1, 2, 2, 1, 2, 1]


@pytest.mark.parametrize("k, k_out, s, t", [(64, 64, 1, 6), (32, 16, 1, 1), (24, 32, 2, 6),
                                            (96, 96, 1, 6), (160, 320, 1, 6)])
def test_block_is_torchvisions(k, k_out, s, t):
    theirs = torchvision.models.mobilenetv2.InvertedResidual(k, k_out, s, t)
    check = same_as_reference(InvertedResidual(k, k_out, s, t), theirs, (k, 9, 9))
    check.assert_ok()
    assert check.same_output is True
    assert InvertedResidual(k, k_out, s, t).use_res_connect == theirs.use_res_connect


@pytest.mark.parametrize("k, k_out, s, t", [(64, 64, 1, 6), (32, 16, 1, 1), (24, 32, 2, 6)])
def test_block_is_the_chapters(k, k_out, s, t):
    """The chapter writes the block from Table 1 with its own module names; same computation."""
    ns = chapter_definitions("14_mobilenet_v2", "InvertedResidualBlock")
    check = same_as_reference(ns["InvertedResidualBlock"](k, k_out, s, t),
                              InvertedResidual(k, k_out, s, t), (k, 8, 8), mapping="order")
    check.assert_ok()
    assert check.same_output is True


def test_block_cost_is_the_papers_formula():
    """§3.3: h·w·d'·t·(d' + k² + d'') multiply-adds at stride 1."""
    s = arithmetic.summary(InvertedResidual(64, 64, 1, 6), (64, 14, 14))
    assert s.macs == 14 * 14 * 64 * 6 * (64 + 9 + 64) == 10_311_168
    assert s.params == 64 * 384 + 9 * 384 + 384 * 64 + 2 * (384 + 384 + 64)


def test_relu_bottleneck_shares_the_state_dict():
    torch.manual_seed(0)
    linear = InvertedResidual(32, 32, 1, 6)
    relu = InvertedResidual(32, 32, 1, 6, project_activation=nn.ReLU6)
    relu.load_state_dict(linear.state_dict())
    assert isinstance(relu.conv[-1], nn.ReLU6) and isinstance(linear.conv[-1], nn.BatchNorm2d)
    x = torch.randn(2, 32, 6, 6)
    linear.eval(), relu.eval()
    with torch.no_grad():
        assert torch.allclose(relu(x) - x, torch.clamp(linear(x) - x, 0, 6), atol=1e-6)


def test_mobilenet_v2_is_torchvisions():
    with torch.device("meta"):
        check = same_as_reference(mobilenet_v2(), torchvision.models.mobilenet_v2())
    check.assert_ok()
    assert check.params == (3_504_872, 3_504_872)
    check = same_as_reference(build(mobilenet_v2, seed=None),
                              build(torchvision.models.mobilenet_v2), (3, 64, 64), batch=1)
    check.assert_ok()
    assert check.same_output is True


def test_same_initialisation_as_torchvision():
    torch.manual_seed(0)
    ours = MobileNetV2(num_classes=10, width_mult=0.35)
    torch.manual_seed(0)
    theirs = torchvision.models.mobilenet_v2(num_classes=10, width_mult=0.35)
    assert all(torch.equal(a, b) for a, b in zip(ours.state_dict().values(),
                                                 theirs.state_dict().values()))


@pytest.mark.parametrize("alpha, params", [(0.35, 1_677_128), (0.5, 1_968_680), (0.75, 2_636_424),
                                           (1.4, 6_108_776)])
def test_width_multiplier_is_torchvisions(alpha, params):
    with torch.device("meta"):
        ours, theirs = mobilenet_v2(width_mult=alpha), torchvision.models.mobilenet_v2(width_mult=alpha)
    check = same_as_reference(ours, theirs)
    check.assert_ok()
    assert check.params == (params, params)
    assert ours.last_channel == (1280 if alpha <= 1 else 1792)


def test_imagenet_counts_and_the_papers_3_4_million():
    with torch.device("meta"):
        net = mobilenet_v2()
    s = arithmetic.summary(net, (3, 224, 224))
    assert s.params == 3_504_872 and s.macs == 300_774_272          # Table 4: 3.4M, 300M
    bn = sum(2 * m.num_features for m in net.modules() if isinstance(m, nn.BatchNorm2d))
    assert bn == 34_112 and s.params - bn == 3_470_760               # TF-Slim's "3.47"
    assert sum(b.use_res_connect for b in net.features[1:18]) == 10


def test_cifar_variant():
    net = mobilenet_v2_cifar()
    s = arithmetic.summary(net, (3, 32, 32))
    assert s.params == 2_236_682 and s.macs == 87_976_448
    assert s.blocks().row("features.18").out_shape == (1280, 4, 4)
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    relu = mobilenet_v2_cifar(project_activation=nn.ReLU6)
    assert relu.load_state_dict(net.state_dict()) is not None and _params(relu) == s.params
