"""utils/layers/inception_v4.py: Inception-v4 and Inception-ResNet (Szegedy et al., 2017).

- ``InceptionV4`` is timm's ``inception_v4`` (42,679,816 parameters, 12.25 G multiply-adds at
  299×299) and ``InceptionResNetV2`` timm's ``inception_resnet_v2`` (55,843,464, 13.16 G): same
  parameters, state dicts paired in order with the same shapes, same output on the same weights;
- the grids 299 → 35 → 17 → 8 and each module's channels (Figures 3–9, Table 1);
- the figures' order of the factorised convolutions: same parameters, another function;
- Inception-ResNet-v1 from Figures 10–15; the residual blocks' scaling and the plain variant;
- the CIFAR-10 network: grids 32/16/8, the same parameters with and without shortcuts.
"""

import pytest
import timm
import torch
from torch import nn

from tests.layer_checks import chapter_definitions
from utils.arithmetic import summary
from utils.layers import same_as_reference
from utils.layers.reference import random_weights
from utils.layers.inception_v4 import (REDUCTION_A_TABLE_1, InceptionA, InceptionB, InceptionC,
                                       InceptionResNetA, InceptionResNetB, InceptionResNetC,
                                       InceptionResNetV1, InceptionResNetV2, InceptionV4,
                                       ReductionA, ReductionB, StemV4, inception_resnet_cifar)

TIMM = {"inception_v4": (InceptionV4, 42_679_816), "inception_resnet_v2": (InceptionResNetV2, 55_843_464)}


@pytest.mark.parametrize("name", sorted(TIMM))
def test_equal_to_timm(name):
    ours, params = TIMM[name]
    with torch.device("meta"):
        check = same_as_reference(ours(), timm.create_model(name), mapping="order").assert_ok()
    assert check.params == (params, params)
    check = same_as_reference(random_weights(ours, seed=None),
                              random_weights(lambda: timm.create_model(name), seed=0),
                              (3, 75, 75), mapping="order", batch=2)
    assert check.assert_ok().same_output is True


def test_grids_and_channels():
    x = torch.zeros(1, 3, 299, 299, device="meta")
    stem = StemV4().to("meta")
    assert stem(x).shape == (1, 384, 35, 35)
    assert InceptionA().to("meta")(torch.zeros(1, 384, 35, 35, device="meta")).shape == (1, 384, 35, 35)
    red_a = ReductionA(384, *REDUCTION_A_TABLE_1["Inception-v4"]).to("meta")
    assert red_a(torch.zeros(1, 384, 35, 35, device="meta")).shape == (1, 1024, 17, 17)
    assert InceptionB().to("meta")(torch.zeros(1, 1024, 17, 17, device="meta")).shape == (1, 1024, 17, 17)
    assert ReductionB().to("meta")(torch.zeros(1, 1024, 17, 17, device="meta")).shape == (1, 1536, 8, 8)
    assert InceptionC().to("meta")(torch.zeros(1, 1536, 8, 8, device="meta")).shape == (1, 1536, 8, 8)


def test_macs_at_299():
    with torch.device("meta"):
        v4, r2 = InceptionV4(), InceptionResNetV2()
    assert summary(v4, (3, 299, 299)).macs == 12_253_974_624
    assert summary(r2, (3, 299, 299)).macs == 13_155_794_016


def test_paper_order_same_parameters_other_function():
    torch.manual_seed(0)
    code, paper = InceptionB(order="code"), InceptionB(order="paper")
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(code) == count(paper)
    shapes = lambda m: [tuple(p.shape) for p in m.parameters()]  # noqa: E731
    assert shapes(code) != shapes(paper)
    with torch.device("meta"):
        assert count(InceptionV4(order="paper")) == 42_679_816
    with pytest.raises(ValueError):
        InceptionC(order="figure")


def test_inception_resnet_v1_from_the_figures():
    with torch.device("meta"):
        net = InceptionResNetV1()
    s = summary(net, (3, 299, 299), blocks=True)
    assert s.row("stem").out_shape == (256, 35, 35)
    assert s.row("reduction_a").out_shape == (896, 17, 17)
    assert s.row("reduction_b").out_shape == (1792, 8, 8)
    assert s.params == 22_756_328


@pytest.mark.parametrize("block, shape", [(InceptionResNetA(320), (320, 9, 9)),
                                          (InceptionResNetB(1088), (1088, 5, 5)),
                                          (InceptionResNetC(2080), (2080, 3, 3))])
def test_residual_blocks_scale(block, shape):
    torch.manual_seed(0)
    block.eval()
    x = torch.relu(torch.randn(2, *shape))
    with torch.no_grad():
        branches = block.conv2d(torch.cat([m(x) for n, m in block.named_children()
                                           if n.startswith("branch")], 1))
        assert torch.allclose(block(x), torch.relu(x + block.scale * branches), atol=1e-5)
        block.residual = False
        assert torch.allclose(block(x), torch.relu(branches), atol=1e-5)


def test_cifar_network():
    torch.manual_seed(0)
    res, plain = inception_resnet_cifar(), inception_resnet_cifar(residual=False)
    assert sum(p.numel() for p in res.parameters()) == sum(p.numel() for p in plain.parameters())
    s = summary(res, (3, 32, 32), blocks=True)
    assert s.row("inception_resnet_a.2").out_shape[1:] == (32, 32)
    assert s.row("inception_resnet_b.3").out_shape[1:] == (16, 16)
    assert s.row("inception_resnet_c.2").out_shape[1:] == (8, 8)
    x = torch.randn(2, 3, 32, 32)
    res.eval(), plain.eval()
    plain.load_state_dict(res.state_dict())
    assert res(x).shape == plain(x).shape == (2, 10)
    assert not torch.allclose(res(x), plain(x))
    assert all(isinstance(b, nn.Module) and b.residual is False for b in plain.inception_resnet_b)


def test_the_chapters_block_is_the_module():
    ns = chapter_definitions("09_inception_v4", "conv_bn", "ResidualInceptionA",
                             graduated="InceptionResNetA")
    for shape in [(320, 9, 9), (320, 5, 7)]:
        torch.manual_seed(0)
        check = same_as_reference(ns["ResidualInceptionA"](), InceptionResNetA(320, 0.17), shape,
                                  mapping="order")
        assert check.assert_ok().same_output is True
