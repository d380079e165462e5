"""utils/layers/densenet.py: the ImageNet DenseNets are torchvision's, the CIFAR networks have the
sizes of the paper's Table 2 (Huang et al., 2017), and the memory counters measure what the
chapter says they measure.

The full-size networks are compared on the meta device (counts and layout, no memory); outputs
are compared with random weights (``build``) on a small input.
"""

import pytest
import torch
import torchvision

from tests.layer_checks import assert_torchvision_twin, build, chapter_definitions, same_init
from utils import arithmetic
from utils.layers.densenet import (DenseBlock, DenseLayer, DenseNet, DenseNetCIFAR, Transition,
                                   densenet121, densenet161, densenet169, densenet201,
                                   densenet264, densenet_cifar)
from utils.layers.reference import same_as_reference

IMAGENET = {"densenet121": (densenet121, 7_978_856), "densenet169": (densenet169, 14_149_480),
            "densenet201": (densenet201, 20_013_928), "densenet161": (densenet161, 28_681_000)}


def _params(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name", list(IMAGENET))
def test_imagenet_densenet_is_torchvisions(name):
    assert_torchvision_twin(IMAGENET[name][0], name, IMAGENET[name][1])


@pytest.mark.parametrize("memory_efficient", [False, True])
def test_densenet121_same_output(memory_efficient):
    check = same_as_reference(build(lambda: densenet121(memory_efficient=memory_efficient), seed=None),
                              build(torchvision.models.densenet121), (3, 64, 64), batch=1)
    check.assert_ok()
    assert check.same_output is True


def test_same_initialisation_as_torchvision():
    """Same modules created in the same order, same init: the same seed gives the same weights."""
    assert same_init(densenet121, torchvision.models.densenet121)


def test_memory_efficient_gives_the_same_gradients():
    """Checkpointing recomputes, it does not approximate: outputs and gradients are identical,
    and the layer checkpoints exactly as torchvision's does."""
    torch.manual_seed(0)
    plain, efficient = (DenseBlock(4, 8, 4, memory_efficient=m).double() for m in (False, True))
    efficient.load_state_dict(plain.state_dict())
    x = torch.randn(2, 8, 6, 6, dtype=torch.float64, requires_grad=True)
    grads = []
    for block in (plain, efficient):
        x.grad = None
        block(x).square().sum().backward()
        grads.append([x.grad.clone()] + [p.grad.clone() for p in block.parameters()])
    assert all(torch.equal(a, b) for a, b in zip(*grads))


def test_multiply_adds_match_torchvision_documentation():
    """torchvision documents 2.834, 3.36 and 4.291 GFLOPS (its "FLOPs" are multiply-adds)."""
    expected = {"densenet121": 2.834, "densenet169": 3.36, "densenet201": 4.291}
    for name, gmacs in expected.items():
        with torch.device("meta"):
            s = arithmetic.summary(IMAGENET[name][0](), (3, 224, 224))
        assert round(s.macs / 1e9, 3) == gmacs
    with torch.device("meta"):
        s = arithmetic.summary(densenet121(), (3, 224, 224))
    assert s.macs == 2_834_161_664
    assert sum(1 for r in s.rows if r.type in ("Conv2d", "Linear")) == 121    # "121 layers"


def test_channel_arithmetic():
    """Layer l of a block reads k0 + k(l − 1) channels; transitions keep ⌊θ·m⌋."""
    with torch.device("meta"):
        model = densenet121()
    block = model.features.denseblock1
    assert [layer.conv1.in_channels for layer in block.values()] == [64 + 32 * i for i in range(6)]
    assert block.out_channels == 256 and model.features.transition1.conv.out_channels == 128
    assert model.features.norm5.num_features == 1024 and model.classifier.in_features == 1024
    with torch.device("meta"):
        assert densenet264().classifier.in_features == 2688
        assert DenseNet(compression=1.0).classifier.in_features == 1920


# Table 2 of the paper: (depth, k, bottleneck, compression) -> millions of parameters
TABLE_2 = {(40, 12, False, 1.0): 1.0, (100, 12, False, 1.0): 7.0, (100, 24, False, 1.0): 27.2,
           (100, 12, True, 0.5): 0.8, (250, 24, True, 0.5): 15.3, (190, 40, True, 0.5): 25.6}


@pytest.mark.parametrize("config", list(TABLE_2))
def test_cifar_parameters_match_table_2(config):
    depth, k, bottleneck, theta = config
    with torch.device("meta"):
        model = densenet_cifar(depth, k, bottleneck=bottleneck, compression=theta)
    assert round(_params(model) / 1e6, 1) == TABLE_2[config]
    weighted = sum(isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)) for m in model.modules())
    assert weighted == depth


def test_cifar_densenet_bc_100():
    model = densenet_cifar(100, 12)
    assert isinstance(model, DenseNetCIFAR) and _params(model) == 769_162
    assert model.features.conv0.out_channels == 24 and model.layers_per_block == 16
    assert model.eval()(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    s = arithmetic.summary(densenet_cifar(40, 12), (3, 32, 32))
    assert s.row("features.denseblock3.denselayer6.conv2").out_shape == (12, 8, 8)
    with pytest.raises(ValueError, match="6n \\+ 4"):
        densenet_cifar(101, 12)
    with pytest.raises(ValueError, match="3n \\+ 4"):
        densenet_cifar(41, 12, bottleneck=False)


def test_layers_and_transition():
    layer = DenseLayer(40, 12)
    out = layer([torch.randn(2, 16, 5, 5), torch.randn(2, 24, 5, 5)])
    assert out.shape == (2, 12, 5, 5) and layer.conv1.out_channels == 48
    basic = DenseLayer(40, 12, bn_size=None)
    assert not hasattr(basic, "conv2") and basic.conv1.kernel_size == (3, 3)
    assert Transition(256, 128)(torch.randn(1, 256, 8, 8)).shape == (1, 128, 4, 4)


def test_chapter_layer_is_dense_layer():
    """The chapter writes the bottleneck layer out step by step (``BottleneckLayer``);
    ``DenseLayer`` is it: same state dict, same output for the same weights."""
    chapter = chapter_definitions("11_densenet", "BottleneckLayer", graduated="DenseLayer")
    for k0, k in ((16, 8), (64, 32)):
        ours, theirs = chapter["BottleneckLayer"](k0, k), DenseLayer(k0, k)
        check = same_as_reference(ours, theirs, (k0, 6, 6))
        check.assert_ok()
        assert check.same_output is True
