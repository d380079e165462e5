"""Every network and block of the course that has a twin in torchvision (or in timm, where
torchvision has none) *is* that twin.

One parametrized test, one case per twin, each through ``utils.layers.same_as_reference``:

- VGG-11, 13, 16, 19 and their batch-norm variants (chapters/04_vgg.ipynb): ``VGG(config,
  batch_norm, adaptive_pool=True)`` against ``torchvision.models.vgg11`` … ``vgg19_bn``;
- torchvision's AlexNet, the single-tower network (usually called the "one weird trick" variant,
  with 256 rather than 384 filters in conv4) that chapters/01_alexnet.ipynb rebuilds as ``AlexNetOWT`` (taken from the notebook; utils does not keep it, since no later
  chapter needs it) against ``torchvision.models.alexnet``;
- the blocks that later families share (utils/layers/common.py) against ``torchvision.ops``;
- GoogLeNet with torchvision's changes (utils/layers/googlenet.py) against
  ``torchvision.models.googlenet``; ResNet-18 and ResNet-50 (utils/layers/resnet.py) against
  ``torchvision.models.resnet18``/``50``;
- ResNeXt-50 (32×4d) (utils/layers/resnext.py) against ``torchvision.models.resnext50_32x4d``;
  SE-ResNet-50 (utils/layers/senet.py) against timm's ``seresnet50``; DenseNet-121
  (utils/layers/densenet.py) against ``torchvision.models.densenet121``; Inception-v4 and the
  released Inception-ResNet-v2 (utils/layers/inception_v4.py) against timm's ``inception_v4`` and
  ``inception_resnet_v2`` (their tensors paired in order: the names differ); MobileNet at α = 1
  (utils/layers/mobilenet.py) against timm's ``mobilenetv1_100`` (paired in order);
  MobileNetV2 and EfficientNet-B0 (utils/layers/mobilenet_v2.py, efficientnet.py) against
  ``torchvision.models.mobilenet_v2`` and ``efficientnet_b0``.

Each case runs twice: at full size on the meta device (parameter count and state-dict layout, in
no time and no memory), then with random weights (``build``) on a small input, for the outputs.
"""

import pytest
import torch
import timm
import torchvision
from torch import nn

from tests.layer_checks import build, chapter_definitions
from utils import layers
from utils.layers import (VGG, AlexNet, ConvBNAct, SqueezeExcitation, StochasticDepth,
                          same_as_reference)


def alexnet_owt():
    chapter = chapter_definitions("01_alexnet", "AlexNetOWT", graduated="AlexNetOWT")
    return chapter["AlexNetOWT"]()


TWINS = {  # name: (ours, theirs, a small input that both accept)
    "ConvBNAct = ops.Conv2dNormActivation": (
        lambda: ConvBNAct(16, 32, 3, stride=2, activation_layer=nn.SiLU),
        lambda: torchvision.ops.Conv2dNormActivation(16, 32, 3, stride=2,
                                                     activation_layer=nn.SiLU),
        (16, 8, 8)),
    "ConvBNAct (depthwise) = ops.Conv2dNormActivation": (
        lambda: ConvBNAct(24, 24, 5, groups=24, activation_layer=nn.ReLU6),
        lambda: torchvision.ops.Conv2dNormActivation(24, 24, 5, groups=24,
                                                     activation_layer=nn.ReLU6),
        (24, 7, 7)),
    "SqueezeExcitation = ops.SqueezeExcitation": (
        lambda: SqueezeExcitation(64, 4), lambda: torchvision.ops.SqueezeExcitation(64, 4),
        (64, 5, 5)),
    "StochasticDepth = ops.StochasticDepth": (
        lambda: StochasticDepth(0.2), lambda: torchvision.ops.StochasticDepth(0.2, "row"),
        (8, 3, 3)),
    "AlexNetOWT (chapter 1) = alexnet": (
        alexnet_owt, torchvision.models.alexnet, (3, 64, 64)),
}
for config, name in {"A": "vgg11", "B": "vgg13", "D": "vgg16", "E": "vgg19"}.items():
    for bn in (False, True):
        TWINS[f"VGG {config}{' + BN' if bn else ''} = {name}{'_bn' if bn else ''}"] = (
            lambda config=config, bn=bn: VGG(config, batch_norm=bn, adaptive_pool=True),
            getattr(torchvision.models, name + ("_bn" if bn else "")),
            (3, 32, 32))
TWINS["GoogLeNet (torchvision's variant) = googlenet"] = (
    lambda: layers.GoogLeNet(variant="torchvision", aux_logits=True),
    lambda: torchvision.models.googlenet(weights=None, aux_logits=True, init_weights=True),
    (3, 64, 64))
for name in ("resnet18", "resnet50"):  # the others: tests/test_layers_resnet.py, at full size
    TWINS[f"ResNet {name} = {name}"] = (getattr(layers, name), getattr(torchvision.models, name),
                                        (3, 64, 64))

TWINS["ResNeXt-50 (32×4d) = resnext50_32x4d"] = (layers.resnext50_32x4d,
                                                 torchvision.models.resnext50_32x4d, (3, 64, 64))
TWINS["DenseNet-121 = densenet121"] = (layers.densenet121, torchvision.models.densenet121,
                                       (3, 64, 64))
TWINS["SE-ResNet-50 = timm seresnet50"] = (layers.se_resnet50,
                                           lambda: timm.create_model("seresnet50"), (3, 64, 64))

TWINS["Inception-v4 = timm inception_v4"] = (layers.InceptionV4,
                                             lambda: timm.create_model("inception_v4"), (3, 75, 75))
TWINS["Inception-ResNet-v2 = timm inception_resnet_v2"] = (
    layers.InceptionResNetV2, lambda: timm.create_model("inception_resnet_v2"), (3, 75, 75))
TWINS["MobileNet (α = 1) = timm mobilenetv1_100"] = (
    layers.mobilenet.mobilenet, lambda: timm.create_model("mobilenetv1_100"), (3, 64, 64))
TWINS["MobileNetV2 = mobilenet_v2"] = (layers.mobilenet_v2.mobilenet_v2,
                                       torchvision.models.mobilenet_v2, (3, 64, 64))
TWINS["EfficientNet-B0 = efficientnet_b0"] = (layers.efficientnet_b0,
                                              torchvision.models.efficientnet_b0, (3, 64, 64))
MAPPINGS = {"Inception-v4 = timm inception_v4": "order",
            "Inception-ResNet-v2 = timm inception_resnet_v2": "order",
            "MobileNet (α = 1) = timm mobilenetv1_100": "order"}


@pytest.mark.parametrize("name", list(TWINS))
def test_twin(name):
    make_ours, make_theirs, size = TWINS[name]
    with torch.device("meta"):
        full_size = same_as_reference(make_ours(), make_theirs(), mapping=MAPPINGS.get(name))
    full_size.assert_ok()
    check = same_as_reference(build(make_ours, seed=None), build(make_theirs), size,
                              mapping=MAPPINGS.get(name), batch=1)
    check.assert_ok()
    assert check.same_output is True                    # compared, not skipped


def test_torchvisions_alexnet_is_not_the_papers():
    """The trap the AlexNet chapter explains: torchvision.models.alexnet is a single tower with
    64-192-384-256-256 filters and no normalisation (the one-weird-trick paper lists 384 in conv4;
    torchvision's 256 is cuda-convnet2's single-GPU configuration), not the 2012 network."""
    with torch.device("meta"):
        check = same_as_reference(AlexNet(groups=1), torchvision.models.alexnet())
    assert not check.ok and check.params == (62_378_344, 61_100_840)
    assert "NOT the same network" in str(check)
