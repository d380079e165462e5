"""VGG (Simonyan & Zisserman, 2014, "Very deep convolutional networks for large-scale image
recognition"): chapters/04_vgg.ipynb.

Table 1 of the paper as data (``VGG_CONFIGS``), the builder of its convolutional part
(``make_vgg_layers``), the paper's network ``VGG`` (any configuration, A to E) and the course's
CIFAR-10 adaptation ``vgg_cifar()`` (``vgg16_cifar()`` is the chapter's). ``VGG`` with
``adaptive_pool=True`` is torchvision's ``vgg11``/``13``/``16``/``19`` (and ``_bn``), state dict
for state dict: tests/test_layers_vgg.py and tests/test_reference_twins.py check it.
"""

import torch
from torch import nn

from .alexnet import LocalResponseNorm

# Table 1 of the paper, one column per configuration, in the paper's own notation:
# "conv<receptive field size>-<number of channels>", "maxpool" (2×2, stride 2) and "LRN" (A-LRN
# only). Every 3×3 convolution has stride 1 and padding 1; every one is followed by a ReLU, which
# Table 1 leaves out "for brevity". The three fully connected layers (FC-4096, FC-4096, FC-1000)
# are the same in all configurations and are built by VGG, not listed here.
_VGG_STAGES = {  # the convolutions of each of the five stages, before its max-pooling
    "A": (("conv3-64",), ("conv3-128",), ("conv3-256",) * 2, ("conv3-512",) * 2,
          ("conv3-512",) * 2),
    "A-LRN": (("conv3-64", "LRN"), ("conv3-128",), ("conv3-256",) * 2, ("conv3-512",) * 2,
              ("conv3-512",) * 2),
    "B": (("conv3-64",) * 2, ("conv3-128",) * 2, ("conv3-256",) * 2, ("conv3-512",) * 2,
          ("conv3-512",) * 2),
    "C": (("conv3-64",) * 2, ("conv3-128",) * 2, ("conv3-256", "conv3-256", "conv1-256"),
          ("conv3-512", "conv3-512", "conv1-512"), ("conv3-512", "conv3-512", "conv1-512")),
    "D": (("conv3-64",) * 2, ("conv3-128",) * 2, ("conv3-256",) * 3, ("conv3-512",) * 3,
          ("conv3-512",) * 3),
    "E": (("conv3-64",) * 2, ("conv3-128",) * 2, ("conv3-256",) * 4, ("conv3-512",) * 4,
          ("conv3-512",) * 4),
}
VGG_CONFIGS = {name: tuple(layer for stage in stages for layer in stage + ("maxpool",))
               for name, stages in _VGG_STAGES.items()}
# The names torchvision (and most of the literature) gives the configurations it ships.
VGG_NAMES = {"A": "VGG-11", "B": "VGG-13", "D": "VGG-16", "E": "VGG-19"}


def _vgg_config(config):
    """A configuration name ("A" … "E", "A-LRN", or "VGG-16" and the like) or a sequence of
    layer strings, as a tuple of layer strings."""
    if isinstance(config, str):
        by_name = {v: k for k, v in VGG_NAMES.items()}
        key = by_name.get(config.upper().replace("VGG", "VGG-").replace("--", "-"), config.upper())
        if key not in VGG_CONFIGS:
            raise ValueError(f"unknown VGG configuration {config!r}; the paper's are "
                             f"{', '.join(VGG_CONFIGS)} (VGG-11/13/16/19 are A/B/D/E)")
        return VGG_CONFIGS[key]
    return tuple(config)


def make_vgg_layers(config="D", batch_norm: bool = False, in_channels: int = 3) -> nn.Sequential:
    """The convolutional part of a VGG network, built from one column of the paper's Table 1.

    ``config``: "A", "A-LRN", "B", "C", "D" or "E" (or "VGG-16" and the like), or a list of layer
    strings in the paper's notation: "conv3-64" is a 3×3 convolution with 64 output channels
    (stride 1, padding 1, so the size is kept), "conv1-256" a 1×1 convolution, "maxpool" a 2×2
    max-pooling with stride 2, "LRN" AlexNet's local response normalisation (A-LRN; the paper uses
    AlexNet's constants, as ``LocalResponseNorm`` does). Every convolution is followed by a ReLU.

    ``batch_norm``: put ``nn.BatchNorm2d`` between each convolution and its ReLU. The paper has no
    batch normalisation (it was published a year later); torchvision's ``vgg16_bn`` and the
    CIFAR-10 networks of this course add it. The layers are numbered exactly as in torchvision's
    ``make_layers``, so that a state dict of ``torchvision.models.vgg16()`` loads into
    ``VGG("D")`` and back (A-LRN and C have no torchvision counterpart).
    """
    layers, c = [], in_channels
    for spec in _vgg_config(config):
        kernel, _, channels = spec.removeprefix("conv").partition("-")
        if spec == "maxpool":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        elif spec == "LRN":
            layers.append(LocalResponseNorm())
        elif spec.startswith("conv") and kernel.isdigit() and channels.isdigit():
            k, width = int(kernel), int(channels)
            layers.append(nn.Conv2d(c, width, kernel_size=k, padding=k // 2))
            if batch_norm:
                layers.append(nn.BatchNorm2d(width))
            layers.append(nn.ReLU(inplace=True))
            c = width
        else:
            raise ValueError(f"unknown VGG layer {spec!r}: use 'conv<k>-<channels>' (e.g. "
                             f"'conv3-64'), 'maxpool' or 'LRN'")
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """A VGG network (Simonyan & Zisserman, 2014): ``features`` from one column of Table 1
    (see ``make_vgg_layers``), then the classifier.

    Defaults: the paper's ImageNet network, for 224×224 inputs: after five poolings the maps are
    7×7 (``final_size``), flattened into FC-4096, FC-4096 and FC-``num_classes``, with ReLUs and
    dropout 0.5 after the first two (§3.1). ``hidden=None`` replaces the three layers by one
    linear layer from the flattened features to the classes (the usual CIFAR-10 head, as in
    kuangliu/pytorch-cifar, where ``final_size=1``).

    ``adaptive_pool=True`` inserts torchvision's ``nn.AdaptiveAvgPool2d(final_size)`` before the
    classifier, so that any input of at least 32×32 pixels works; it has no parameters and is the
    identity on a 224×224 input (the maps are already 7×7), so it changes neither the count nor
    the output there. With it, the state dict and the outputs equal torchvision's ``vgg11``,
    ``vgg13``, ``vgg16``, ``vgg19`` (configurations A, B, D, E) and their ``_bn`` variants.

    Initialisation (``init_weights``): torchvision's (He et al.'s fan-out rule for convolutions,
    N(0, 0.01) for the linear layers, zero biases). The paper instead trained A from N(0, 10⁻²)
    weights (a variance, §3.1) and started the deeper configurations from A's layers.
    """

    def __init__(self, config="D", num_classes: int = 1000, *, batch_norm: bool = False,
                 hidden: int | None = 4096, dropout: float = 0.5, final_size: int = 7,
                 adaptive_pool: bool = False, in_channels: int = 3, init_weights: bool = True):
        super().__init__()
        self.config = _vgg_config(config)
        self.features = make_vgg_layers(self.config, batch_norm, in_channels)
        if adaptive_pool:
            self.avgpool = nn.AdaptiveAvgPool2d((final_size, final_size))
        else:
            self.avgpool = None
        channels = [m.out_channels for m in self.features if isinstance(m, nn.Conv2d)][-1]
        self.flatten = nn.Flatten()
        n_in = channels * final_size * final_size
        if hidden:
            self.classifier = nn.Sequential(
                nn.Linear(n_in, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
                nn.Linear(hidden, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
                nn.Linear(hidden, num_classes))
        else:
            self.classifier = nn.Linear(n_in, num_classes)
        if init_weights:
            self.reset_parameters()

    def reset_parameters(self):
        """torchvision's initialisation of its VGG models."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        if self.avgpool is not None:
            x = self.avgpool(x)
        return self.classifier(self.flatten(x))


def vgg_cifar(config="D", num_classes=10, batch_norm=True):
    """A VGG network for 3×32×32 CIFAR-10 images: the convolutions of configuration ``config``
    with batch normalisation, five poolings (32 → 1) and one linear layer 512 → ``num_classes``
    (the usual CIFAR-10 head, as in kuangliu/pytorch-cifar)."""
    return VGG(config, num_classes=num_classes, batch_norm=batch_norm, hidden=None, final_size=1)


def vgg16_cifar(num_classes=10):
    """The VGG chapter's CIFAR-10 network: ``vgg_cifar("D")``, configuration D (VGG-16)."""
    return vgg_cifar("D", num_classes)
