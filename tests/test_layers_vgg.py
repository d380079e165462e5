"""The VGG chapter's configuration-driven builder (utils/layers/vgg.py) against the paper and the
chapter.

The chapter (chapters/04_vgg.ipynb) builds every configuration of the paper's Table 1 from one
function. These tests prove that the builder is the paper's network: the configurations have the
depths of Table 1 and round to the parameter counts of Table 2; at 224×224 the paper's network
(no adaptive pooling) gives torchvision's outputs; the chapter's written-out VGG-16 (a plain list
of layers, taken from the notebook) is the same network as ``VGG("D")``; and ``vgg16_cifar()`` is
the chapter's. That A, B, D and E (with and without batch norm) are torchvision's ``vgg11`` …
``vgg19_bn`` tensor for tensor is checked in tests/test_reference_twins.py.
"""

import pytest
import torch
import torchvision
from torch import nn

from tests.layer_checks import build, chapter_definitions, same_init
from utils import arithmetic as ar
from utils.layers import (VGG, VGG_CONFIGS, VGG_NAMES, LocalResponseNorm, make_vgg_layers,
                          same_as_reference, vgg16_cifar, vgg_cifar)

# Table 2 of the paper: number of parameters, in millions (rounded).
TABLE_2 = {"A": 133, "A-LRN": 133, "B": 133, "C": 134, "D": 138, "E": 144}
# Table 1: weight layers (convolutions + 3 fully connected) of each configuration.
TABLE_1_DEPTH = {"A": 11, "A-LRN": 11, "B": 13, "C": 16, "D": 16, "E": 19}


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def on_meta(fn):
    """Build a full-size network without allocating its weights (shapes only)."""
    with torch.device("meta"):
        return fn()


@pytest.mark.parametrize("config", list(VGG_CONFIGS))
def test_depths_of_table_1(config):
    model = on_meta(lambda: VGG(config))
    weight_layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert len(weight_layers) == TABLE_1_DEPTH[config]
    assert sum(isinstance(m, nn.MaxPool2d) for m in model.modules()) == 5
    assert sum(isinstance(m, LocalResponseNorm) for m in model.modules()) == (config == "A-LRN")
    widths = sorted({m.out_channels for m in model.features if isinstance(m, nn.Conv2d)})
    assert widths == [64, 128, 256, 512]


@pytest.mark.parametrize("config", list(VGG_CONFIGS))
def test_parameter_counts_round_to_table_2(config):
    model = on_meta(lambda: VGG(config))
    assert round(n_params(model) / 1e6) == TABLE_2[config]


def test_configuration_c_has_three_1x1_convolutions():
    model = on_meta(lambda: VGG("C"))
    one_by_one = [m for m in model.features if isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1)]
    assert [m.out_channels for m in one_by_one] == [256, 512, 512]
    assert all(m.padding == (0, 0) for m in one_by_one)


def test_same_output_as_torchvision_at_224_without_adaptive_pooling():
    """At 224×224 the maps are already 7×7: the paper's network (no pooling) is torchvision's."""
    ours = build(lambda: VGG("A"), seed=None)
    assert ours.avgpool is None
    same_as_reference(ours, build(torchvision.models.vgg11), (3, 224, 224), batch=1,
                      rtol=1e-5, atol=1e-6).assert_ok()


def test_the_chapters_written_out_vgg16_is_vgg_d():
    """The chapter's VGG-16 layer by layer: nn.Sequential(features, Flatten, classifier), so its
    tensors are numbered 0.* and 2.* where VGG's are features.* and classifier.*."""
    chapter = chapter_definitions("04_vgg", "conv3", "vgg16_written_out", graduated="VGG")
    to_chapter = {"features": "0", "classifier": "2"}
    ours, theirs = build(lambda: VGG("D"), seed=None), build(chapter["vgg16_written_out"])
    check = same_as_reference(ours, theirs, (3, 224, 224), batch=1, rtol=0, atol=0,
                              mapping=lambda k: to_chapter[k.split(".")[0]] + k[k.index("."):])
    check.assert_ok()
    assert check.mapping["classifier.6.bias"] == "2.6.bias"


def test_vgg16_cifar_is_the_chapters():
    chapter = chapter_definitions("04_vgg", "vgg16_cifar", graduated="vgg16_cifar")
    same_as_reference(vgg16_cifar(), chapter["vgg16_cifar"](), (3, 32, 32)).assert_ok()
    assert same_init(vgg16_cifar, chapter["vgg16_cifar"])
    with torch.device("meta"):
        other = vgg_cifar("A", 100)
    assert other.config == VGG_CONFIGS["A"] and other.classifier.out_features == 100


def test_paper_network_needs_224_and_says_where_it_breaks():
    with pytest.raises(ar.ShapeError) as error:
        ar.check_fits(on_meta(lambda: VGG("A")).eval(), (3, 32, 32))
    assert error.value.layer == "classifier.0"


def test_cifar_head():
    model = VGG("D", num_classes=10, batch_norm=True, hidden=None, final_size=1)
    assert isinstance(model.classifier, nn.Linear) and model.classifier.in_features == 512
    s = ar.summary(model, (3, 32, 32))
    assert s.row("features.43").out_shape == (512, 1, 1)  # the fifth pooling: 32 / 2⁵ = 1
    assert s.params == n_params(model)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_names_and_custom_configurations():
    assert on_meta(lambda: VGG("VGG-16")).config == on_meta(lambda: VGG("vgg16")).config \
        == VGG_CONFIGS["D"]
    assert set(VGG_NAMES) == {"A", "B", "D", "E"}
    tiny = make_vgg_layers(["conv3-8", "maxpool", "conv1-4"], batch_norm=True)
    assert [type(m).__name__ for m in tiny] == ["Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d",
                                               "Conv2d", "BatchNorm2d", "ReLU"]
    assert tiny(torch.randn(1, 3, 8, 8)).shape == (1, 4, 4, 4)


def test_bad_configuration_is_a_clear_error():
    with pytest.raises(ValueError, match="configuration"):
        VGG("F")
    with pytest.raises(ValueError, match="conv3-64"):
        make_vgg_layers(["conv-64"])
