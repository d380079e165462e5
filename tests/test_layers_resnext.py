"""utils/layers/resnext.py: the ImageNet ResNeXts are torchvision's (timm's for 101 32×4d), the
three forms of the block (Figure 3 of Xie et al., 2017) compute the same output on the same
weights, and the CIFAR ResNeXt-29 has the paper's sizes (Table 7).
"""

import pytest
import timm
import torch
import torchvision

from tests.layer_checks import assert_torchvision_twin, build, chapter_definitions
from utils import arithmetic
from utils.layers.reference import same_as_reference
from utils.layers.resnet import Bottleneck, resnet50
from utils.layers.resnext import (AggregatedBlock, ConcatBlock, ResNeXtCIFAR, from_grouped,
                                  resnext29_cifar, resnext50_32x4d, resnext101_32x4d,
                                  resnext101_32x8d, resnext101_64x4d)

TORCHVISION = {"resnext50_32x4d": (resnext50_32x4d, 25_028_904),
               "resnext101_32x8d": (resnext101_32x8d, 88_791_336),
               "resnext101_64x4d": (resnext101_64x4d, 83_455_272)}


@pytest.mark.parametrize("name", list(TORCHVISION))
def test_imagenet_resnext_is_torchvisions(name):
    assert_torchvision_twin(TORCHVISION[name][0], name, TORCHVISION[name][1])


def test_resnext101_32x4d_is_timms():
    with torch.device("meta"):
        check = same_as_reference(resnext101_32x4d(), timm.create_model("resnext101_32x4d"))
    check.assert_ok()
    assert check.params == (44_177_704, 44_177_704)


def test_resnext50_same_output_as_torchvision():
    check = same_as_reference(build(resnext50_32x4d, seed=None),
                              build(torchvision.models.resnext50_32x4d), (3, 64, 64), batch=1)
    check.assert_ok()
    assert check.same_output is True


def test_table_1_costs():
    """Table 1: ResNet-50 25.5 M / 4.1 G, ResNeXt-50 (32×4d) 25.0 M / 4.2 G (multiply-adds; both
    with the stride on the 3×3, as the paper's fb.resnet.torch code)."""
    with torch.device("meta"):
        r, x = arithmetic.summary(resnet50(), (3, 224, 224)), arithmetic.summary(resnext50_32x4d(), (3, 224, 224))
    assert (r.params, r.macs) == (25_557_032, 4_089_184_256)
    assert (x.params, x.macs) == (25_028_904, 4_230_479_872)
    assert round(r.macs / 1e9, 1) == 4.1 and round(x.macs / 1e9, 1) == 4.2
    assert int(x.params / 1e5) / 10 == 25.0 and int(r.params / 1e5) / 10 == 25.5   # truncated


def test_every_block_after_the_first_costs_the_same():
    """The two rules: each stage's repeated block costs 56²·70,144 multiply-adds."""
    with torch.device("meta"):
        s = arithmetic.summary(resnext50_32x4d(), (3, 224, 224))
    per_block = {i: sum(r.macs for r in s.rows if r.name.startswith(f"layer{i}.1."))
                 for i in (1, 2, 3, 4)}
    assert set(per_block.values()) == {56 * 56 * 70_144}


@pytest.mark.parametrize("stride,c_in", [(1, 256), (2, 128)])
def test_three_forms_compute_the_same(stride, c_in):
    torch.manual_seed(0)
    down = None if (stride, c_in) == (1, 256) else torch.nn.Sequential(
        torch.nn.Conv2d(c_in, 256, 1, stride, bias=False), torch.nn.BatchNorm2d(256))
    c = build(lambda: Bottleneck(c_in, 64, stride, down, groups=32, base_width=4))
    a, b = from_grouped(c, "a"), from_grouped(c, "b")
    assert isinstance(a, AggregatedBlock) and isinstance(b, ConcatBlock)
    assert len(a.paths) == len(b.paths) == 32
    n = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert n(a) == n(b) == n(c)               # the same numbers, arranged differently
    x = torch.randn(2, c_in, 8, 8)
    with torch.no_grad():
        for mode in ("train", "eval"):
            outs = [getattr(m, mode)()(x) for m in (a, b, c)]
            assert outs[0].shape == (2, 256, 8 // stride, 8 // stride)
            assert torch.allclose(outs[0], outs[2], atol=1e-5)
            assert torch.allclose(outs[1], outs[2], atol=1e-5)


def test_from_grouped_refuses():
    with pytest.raises(ValueError, match="form"):
        from_grouped(Bottleneck(256, 64, groups=32, base_width=4), "c")
    with pytest.raises(ValueError, match="stride"):
        from_grouped(Bottleneck(256, 64, groups=32, base_width=4, stride_on="conv1"))


def test_chapter_form_a_is_utils():
    chapter = chapter_definitions("10_resnext", "Figure3a", graduated="AggregatedBlock")
    torch.manual_seed(0)
    check = same_as_reference(chapter["Figure3a"](256, 4, 256, 32), AggregatedBlock(256, 4, 256, 32),
                              (256, 8, 8))
    check.assert_ok()
    assert check.same_output is True


def test_cifar_resnext29_table_7():
    """Table 7: ResNeXt-29 8×64d 34.4 M, 16×64d 68.1 M parameters."""
    with torch.device("meta"):
        counts = {cd: sum(p.numel() for p in resnext29_cifar(*cd).parameters())
                  for cd in ((8, 64), (16, 64))}
    assert counts == {(8, 64): 34_426_698, (16, 64): 68_155_210}
    assert [int(v / 1e5) / 10 for v in counts.values()] == [34.4, 68.1]   # the paper truncates


def test_cifar_scaled_pair_costs_about_the_same():
    with torch.device("meta"):
        wide = arithmetic.summary(resnext29_cifar(1, 16, base=16), (3, 32, 32))
        narrow = arithmetic.summary(resnext29_cifar(4, 6, base=16), (3, 32, 32))
    assert (wide.params, narrow.params) == (313_114, 309_290)
    assert abs(narrow.macs / wide.macs - 1) < 0.02
    m = resnext29_cifar(4, 6, base=16)
    assert m(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert m.layer1[0].conv2.groups == 4 and m.layer1[0].conv2.out_channels == 24
    assert m.layer3[0].conv2.out_channels == 96 and m.fc.in_features == 256
    assert sum(isinstance(x, (torch.nn.Conv2d, torch.nn.Linear)) and "downsample" not in name
               for name, x in m.named_modules()) == 29        # ResNeXt-29


def test_cifar_base_must_divide():
    with pytest.raises(ValueError, match="multiple of base"):
        ResNeXtCIFAR(4, 5, base=48)
