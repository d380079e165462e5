"""utils/layers/resnet.py: the ImageNet ResNets are torchvision's, and the CIFAR-10 networks have
the paper's sizes (He et al., 2016, Table 6).

The full-size networks are compared on the meta device (counts and layout, no memory); outputs
are compared with random weights (``build``) on a small input.
"""

import pytest
import torch
import torchvision

from tests.layer_checks import assert_torchvision_twin, build, chapter_definitions, same_init
from utils import arithmetic
from utils.layers.reference import same_as_reference
from utils.layers.resnet import (BasicBlock, Bottleneck, ResNet, ResNetCIFAR, resnet18, resnet34,
                                 resnet50, resnet101, resnet152, resnet_cifar)

IMAGENET = {"resnet18": (resnet18, 11_689_512), "resnet34": (resnet34, 21_797_672),
            "resnet50": (resnet50, 25_557_032), "resnet101": (resnet101, 44_549_160),
            "resnet152": (resnet152, 60_192_808)}


@pytest.mark.parametrize("name", list(IMAGENET))
def test_imagenet_resnet_is_torchvisions(name):
    assert_torchvision_twin(IMAGENET[name][0], name, IMAGENET[name][1])


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_imagenet_resnet_same_output(name):
    make_ours, _ = IMAGENET[name]
    check = same_as_reference(build(make_ours, seed=None),
                              build(getattr(torchvision.models, name)), (3, 64, 64), batch=1)
    check.assert_ok()
    assert check.same_output is True                              # compared, not skipped


def test_same_initialisation_as_torchvision():
    """Same modules created in the same order, same init: the same seed gives the same weights."""
    assert same_init(resnet18, torchvision.models.resnet18)
    assert same_init(lambda: resnet18(zero_init_residual=True),
                     lambda: torchvision.models.resnet18(zero_init_residual=True))


def test_multiply_adds_at_224():
    """torchvision's v1.5 (stride on the 3×3) costs 4.09 G multiply-adds; the paper's v1 (stride
    on the first 1×1; Table 1's "3.8 × 10⁹ FLOPs" are multiply-adds) 3.86 G. Same parameters."""
    with torch.device("meta"):
        v15, v1 = resnet50(), resnet50(stride_on="conv1")
    assert v1.layer2[0].conv1.stride == (2, 2) and v1.layer2[0].conv2.stride == (1, 1)
    assert v15.layer2[0].conv1.stride == (1, 1) and v15.layer2[0].conv2.stride == (2, 2)
    macs_v15 = arithmetic.summary(v15, (3, 224, 224)).macs     # works on meta: shapes only
    macs_v1 = arithmetic.summary(v1, (3, 224, 224)).macs
    assert macs_v15 == 4_089_184_256
    assert macs_v1 == 3_857_973_248
    assert round(macs_v15 / 1e7) / 100 == 4.09 and round(macs_v1 / 1e7) / 100 == 3.86
    assert sum(p.numel() for p in v15.parameters()) == sum(p.numel() for p in v1.parameters())


def test_blocks():
    x = torch.randn(2, 64, 8, 8)
    assert BasicBlock.expansion == 1 and Bottleneck.expansion == 4
    assert BasicBlock(64, 64)(x).shape == (2, 64, 8, 8)
    down = torch.nn.Sequential(torch.nn.Conv2d(64, 512, 1, 2, bias=False),
                               torch.nn.BatchNorm2d(512))
    block = Bottleneck(64, 128, stride=2, downsample=down)
    assert block.out_channels == 512 and block(x).shape == (2, 512, 4, 4)
    with pytest.raises(ValueError, match="stride_on"):
        Bottleneck(64, 64, stride_on="conv3")


# The paper's Table 6 (option A), in millions of parameters, as printed (1.7 for ResNet-110).
TABLE_6 = {20: 0.27, 32: 0.46, 44: 0.66, 56: 0.85, 110: 1.7}


def _params(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("depth", list(TABLE_6))
def test_cifar_parameters_match_table_6(depth):
    a = _params(resnet_cifar(depth))
    digits = 1 if depth == 110 else 2
    assert round(a / 1e6, digits) == TABLE_6[depth]
    assert _params(resnet_cifar(depth, plain=True)) == a            # option A adds no parameters
    # Option B: 1×1 projections where the shape changes, at the start of stages 2 and 3:
    # 16·32 weights + 2·32 BN = 576, and 32·64 + 2·64 = 2,176; together 2,752 more.
    assert _params(resnet_cifar(depth, shortcut="B")) == a + 2_752


def test_cifar_resnet20():
    model = resnet_cifar(20)
    assert isinstance(model, ResNetCIFAR) and _params(model) == 269_722
    assert sum(isinstance(m, torch.nn.Conv2d) for m in model.modules()) + 1 == 20  # + fc
    x = torch.randn(2, 3, 32, 32)
    for m in (model, resnet_cifar(20, plain=True), resnet_cifar(20, shortcut="B")):
        assert m.eval()(x).shape == (2, 10)
    assert list(resnet_cifar(20, plain=True).state_dict()) == list(model.state_dict())


def test_cifar_depth_must_be_6n_plus_2():
    with pytest.raises(ValueError, match="depth"):
        resnet_cifar(21)
    with pytest.raises(ValueError, match="shortcut"):
        resnet_cifar(20, shortcut="C")


def test_resnet18_cifar_is_kuangliu_resnet18():
    """The course's ResNet-18 for CIFAR-10: torchvision's resnet18 with a 3×3 stride-1 stem and
    no max-pooling (benchmarks/bench_pipeline.py builds it so; kuangliu/pytorch-cifar's count)."""
    from utils.layers.resnet import resnet18_cifar
    model = resnet18_cifar()
    assert _params(model) == 11_173_962
    tv = torchvision.models.resnet18(num_classes=10)
    tv.conv1 = torch.nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
    tv.maxpool = torch.nn.Identity()
    check = same_as_reference(resnet18_cifar(), tv, (3, 32, 32), batch=2)
    check.assert_ok()
    assert check.same_output is True
    s = arithmetic.summary(model, (3, 32, 32))
    assert s.macs == 555_422_720 and s.row("layer4.1.conv2").out_shape == (512, 4, 4)
    with pytest.raises(ValueError, match="stem"):
        ResNet(BasicBlock, [2, 2, 2, 2], stem="tiny")


def test_chapter_block_is_basic_block():
    """The chapter writes the basic block out step by step (``Residual``); ``BasicBlock`` is it:
    same state dict, same initialisation, same output for the same weights."""
    chapter = chapter_definitions("08_resnet", "Residual", graduated="BasicBlock")
    for channels, size in ((16, 8), (64, 12)):
        check = same_as_reference(chapter["Residual"](channels), BasicBlock(channels, channels),
                                  (channels, size, size))
        check.assert_ok()
        assert check.same_output is True
