"""The VGG chapter's configuration-driven builder (utils.layers.VGG) against the paper and torchvision.

The chapter (chapters/04_vgg.ipynb) builds every configuration of the paper's Table 1 from one
function. These tests prove that the builder is the paper's network and torchvision's: the
configurations have the depths of Table 1 and round to the parameter counts of Table 2; A, B, D and E
(with and without batch norm) have exactly torchvision's parameter count and state-dict layout; the
same weights give the same outputs; and the written-out step-by-step VGG-16 of the chapter (a plain
list of layers) is the same network as ``VGG("D")``.
"""

import pytest
import torch
import torchvision
from torch import nn

from utils import arithmetic as ar
from utils.layers import VGG, VGG_CONFIGS, VGG_NAMES, LocalResponseNorm, make_vgg_layers

TORCHVISION = {"A": "vgg11", "B": "vgg13", "D": "vgg16", "E": "vgg19"}
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


def vgg16_step_by_step():
    """The chapter's VGG-16 written out layer by layer, without the builder (torchvision's layout)."""
    features = nn.Sequential(
        nn.Conv2d(3, 64, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2, 2),
        nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(128, 128, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2, 2),
        nn.Conv2d(128, 256, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2, 2),
        nn.Conv2d(256, 512, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(512, 512, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(512, 512, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2, 2),
        nn.Conv2d(512, 512, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(512, 512, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(512, 512, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2, 2),
    )
    classifier = nn.Sequential(
        nn.Linear(512 * 7 * 7, 4096), nn.ReLU(inplace=True), nn.Dropout(0.5),
        nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Dropout(0.5),
        nn.Linear(4096, 1000),
    )
    return nn.ModuleDict({"features": features, "classifier": classifier})


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


@pytest.mark.parametrize("config", list(TORCHVISION))
@pytest.mark.parametrize("batch_norm", [False, True])
def test_exactly_torchvisions_count_and_layout(config, batch_norm):
    name = TORCHVISION[config] + ("_bn" if batch_norm else "")
    reference = on_meta(lambda: getattr(torchvision.models, name)(weights=None))
    ours = on_meta(lambda: VGG(config, batch_norm=batch_norm, adaptive_pool=True))
    assert n_params(ours) == n_params(reference)
    assert {k: v.shape for k, v in ours.state_dict().items()} == \
        {k: v.shape for k, v in reference.state_dict().items()}
    # without the adaptive pooling (the paper's network) the parameters are the same
    assert n_params(on_meta(lambda: VGG(config, batch_norm=batch_norm))) == n_params(reference)


@pytest.mark.parametrize("config", ["A", "E"])
@pytest.mark.parametrize("batch_norm", [False, True])
def test_same_weights_same_output_as_torchvision_on_a_small_input(config, batch_norm):
    """Small inputs need torchvision's adaptive pooling (64 px → 2×2 maps, averaged up to 7×7)."""
    torch.manual_seed(0)
    reference = getattr(torchvision.models, TORCHVISION[config] + ("_bn" if batch_norm else ""))(
        init_weights=False)
    ours = VGG(config, batch_norm=batch_norm, adaptive_pool=True, init_weights=False)
    ours.load_state_dict(reference.state_dict())
    reference.eval(), ours.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), reference(x), rtol=0, atol=0)


def test_same_output_as_torchvision_at_224_without_adaptive_pooling():
    """At 224×224 the maps are already 7×7: the paper's network (no pooling) is torchvision's."""
    torch.manual_seed(0)
    reference = torchvision.models.vgg11(init_weights=False).eval()
    ours = VGG("A", init_weights=False).eval()
    assert ours.avgpool is None
    ours.load_state_dict(reference.state_dict())
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), reference(x), rtol=1e-5, atol=1e-6)


def test_the_chapters_step_by_step_vgg16_is_vgg_d():
    torch.manual_seed(0)
    written_out = vgg16_step_by_step()
    ours = VGG("D", init_weights=False).eval()
    assert n_params(written_out) == n_params(ours)
    ours.load_state_dict(written_out.state_dict())  # strict: same names, same shapes
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        step = written_out["classifier"].eval()(torch.flatten(written_out["features"](x), 1))
        torch.testing.assert_close(ours(x), step, rtol=0, atol=0)


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
