"""DenseNet (Huang, Liu, van der Maaten & Weinberger, 2017, "Densely connected convolutional
networks"): chapters/11_densenet.ipynb.

Inside a dense block every layer reads the concatenation of the block's input and of the
outputs of all the layers before it, x_l = H_l([x_0, x_1, ..., x_{l-1}]) (Eq. 2), and adds
``growth_rate`` (k) channels of its own: layer l reads k0 + k(l - 1) channels, and a block of
L layers has L(L + 1)/2 direct connections. H_l is BN-ReLU-Conv (pre-activation); DenseNet-B
puts a 1×1 bottleneck to 4k channels before the 3×3, DenseNet-C lets each transition keep a
fraction θ (``compression``, 0.5) of the channels, DenseNet-BC does both.

- ``DenseLayer``, ``DenseBlock``, ``Transition``: torchvision's ``_DenseLayer``, ``_DenseBlock``
  and ``_Transition`` (same module names: ``denselayer1.norm1`` ... ``conv2``, ``transition1.norm``
  ... ``pool``), with the paper's variants as options (no bottleneck; any θ);
- ``DenseNet``: the ImageNet network (Table 1), equal to torchvision's ``DenseNet`` in state
  dict, initialisation and output; ``densenet121/169/201/264/161()``; ``memory_efficient=True``
  recomputes each layer's concatenation and bottleneck in the backward pass (gradient
  checkpointing, Pleiss et al., 2017) exactly as torchvision does;
- ``DenseNetCIFAR`` (``densenet_cifar(depth, growth_rate, bottleneck, compression)``): the
  paper's CIFAR networks of §3 and Table 2: three dense blocks of equal size on 32, 16 and 8
  pixels; L = 3n + 4 (basic) or 6n + 4 (with bottlenecks) weighted layers;
(What training a dense block costs in memory is measured by ``utils.memory``.)
"""

from collections import OrderedDict

import torch
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from torch import nn


class DenseLayer(nn.Module):
    """One layer H_l of a dense block: it takes the list of the block's earlier feature maps,
    concatenates them (k0 + k(l - 1) channels) and returns ``growth_rate`` new channels.

    With ``bn_size`` (DenseNet-B; torchvision's name, 4 in the paper): BN-ReLU-Conv 1×1 to
    ``bn_size · growth_rate`` channels (``norm1``, ``relu1``, ``conv1``), then BN-ReLU-Conv 3×3
    (``norm2``, ``relu2``, ``conv2``), torchvision's ``_DenseLayer``. With ``bn_size=None``
    (the basic DenseNet): BN-ReLU-Conv 3×3 alone (``norm1``, ``relu1``, ``conv1``).
    ``drop_rate``: dropout after the layer (the paper's 0.2 without augmentation).
    ``memory_efficient``: the concatenation and the bottleneck (or the first BN-ReLU-Conv) run
    under ``torch.utils.checkpoint``, so their outputs, whose size grows with l, are not kept
    for the backward pass but recomputed there.
    """

    def __init__(self, in_channels: int, growth_rate: int, bn_size: int | None = 4,
                 drop_rate: float = 0.0, memory_efficient: bool = False):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(in_channels)
        self.relu1 = nn.ReLU(inplace=True)
        if bn_size is None:
            self.conv1 = nn.Conv2d(in_channels, growth_rate, 3, stride=1, padding=1, bias=False)
        else:
            self.conv1 = nn.Conv2d(in_channels, bn_size * growth_rate, 1, stride=1, bias=False)
            self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
            self.relu2 = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, 3, stride=1, padding=1,
                                   bias=False)
        self.in_channels, self.out_channels = in_channels, growth_rate
        self.bn_size, self.drop_rate, self.memory_efficient = bn_size, float(drop_rate), memory_efficient

    def bn_function(self, inputs) -> torch.Tensor:
        """Concatenate, then BN-ReLU-Conv (the bottleneck's 1×1, or the basic layer's 3×3)."""
        return self.conv1(self.relu1(self.norm1(torch.cat(list(inputs), 1))))

    def forward(self, features) -> torch.Tensor:
        features = [features] if isinstance(features, torch.Tensor) else features
        if self.memory_efficient and any(t.requires_grad for t in features):
            out = cp.checkpoint(lambda *inputs: self.bn_function(inputs), *features,
                                use_reentrant=False)
        else:
            out = self.bn_function(features)
        if self.bn_size is not None:
            out = self.conv2(self.relu2(self.norm2(out)))
        if self.drop_rate > 0:
            out = F.dropout(out, p=self.drop_rate, training=self.training)
        return out


class DenseBlock(nn.ModuleDict):
    """``num_layers`` dense layers ``denselayer1`` ... (torchvision's ``_DenseBlock``): layer l
    reads ``in_channels + (l - 1) · growth_rate`` channels; the block returns the concatenation
    of its input and of every layer's output, ``in_channels + num_layers · growth_rate``."""

    def __init__(self, num_layers: int, in_channels: int, growth_rate: int,
                 bn_size: int | None = 4, drop_rate: float = 0.0, memory_efficient: bool = False):
        super().__init__()
        for i in range(num_layers):
            self.add_module(f"denselayer{i + 1}",
                            DenseLayer(in_channels + i * growth_rate, growth_rate, bn_size,
                                       drop_rate, memory_efficient))
        self.in_channels = in_channels
        self.out_channels = in_channels + num_layers * growth_rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for layer in self.values():
            features.append(layer(features))
        return torch.cat(features, 1)


class Transition(nn.Sequential):
    """Between two dense blocks (torchvision's ``_Transition``): BN, ReLU, a 1×1 convolution to
    ``out_channels`` (⌊θ·m⌋ for compression θ, DenseNet-C), 2×2 average pooling with stride 2."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.norm = nn.BatchNorm2d(in_channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=1, bias=False)
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2)
        self.in_channels, self.out_channels = in_channels, out_channels


def _init_weights(model: nn.Module) -> None:
    """torchvision's DenseNet initialisation ("official init from torch repo"): He et al.'s normal
    rule with the fan-in for convolutions, BN scale 1 and shift 0, linear biases 0."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.Linear):
            nn.init.constant_(m.bias, 0)


def _dense_stages(features: nn.Sequential, channels: int, block_config, growth_rate, bn_size,
                  drop_rate, memory_efficient, compression) -> int:
    """Append ``denseblock1``, ``transition1``, ... to ``features``; return the channels out."""
    for i, num_layers in enumerate(block_config):
        block = DenseBlock(num_layers, channels, growth_rate, bn_size, drop_rate, memory_efficient)
        features.add_module(f"denseblock{i + 1}", block)
        channels = block.out_channels
        if i != len(block_config) - 1:
            out = int(channels * compression)  # ⌊θ·m⌋
            features.add_module(f"transition{i + 1}", Transition(channels, out))
            channels = out
    return channels


class DenseNet(nn.Module):
    """The paper's ImageNet DenseNet-BC (Table 1), torchvision's ``DenseNet`` module for module:
    ``features`` = ``conv0`` (7×7, stride 2, ``num_init_features`` = 2k filters), ``norm0``,
    ``relu0``, ``pool0`` (3×3 max, stride 2: 224 → 56), ``denseblock1`` … ``denseblock4`` with
    ``transition1`` … ``transition3`` between them (56 → 28 → 14 → 7), ``norm5``; then ReLU,
    global average pooling and ``classifier``. The final ReLU and pooling are modules here
    (``relu``, ``avgpool``) where torchvision calls functions: no parameters, the same state dict
    and output. ``compression`` (θ, 0.5) and ``bn_size`` (4; None: no bottleneck) give the
    paper's other variants; ``memory_efficient`` as in ``DenseLayer``.
    """

    def __init__(self, growth_rate: int = 32, block_config=(6, 12, 24, 16),
                 num_init_features: int = 64, bn_size: int | None = 4, drop_rate: float = 0.0,
                 num_classes: int = 1000, memory_efficient: bool = False,
                 compression: float = 0.5, in_channels: int = 3):
        super().__init__()
        self.features = nn.Sequential(OrderedDict([
            ("conv0", nn.Conv2d(in_channels, num_init_features, kernel_size=7, stride=2, padding=3,
                                bias=False)),
            ("norm0", nn.BatchNorm2d(num_init_features)),
            ("relu0", nn.ReLU(inplace=True)),
            ("pool0", nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
        ]))
        channels = _dense_stages(self.features, num_init_features, block_config, growth_rate,
                                 bn_size, drop_rate, memory_efficient, compression)
        self.features.add_module("norm5", nn.BatchNorm2d(channels))
        self.relu = nn.ReLU(inplace=True)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.classifier = nn.Linear(channels, num_classes)
        self.growth_rate, self.block_config = growth_rate, tuple(block_config)
        _init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.relu(self.features(x)))
        return self.classifier(torch.flatten(x, 1))


def densenet121(num_classes=1000, **kwargs):
    """DenseNet-121 (Table 1): k = 32, blocks of 6, 12, 24, 16 layers; 7,978,856 parameters."""
    return DenseNet(32, (6, 12, 24, 16), 64, num_classes=num_classes, **kwargs)


def densenet169(num_classes=1000, **kwargs):
    """DenseNet-169 (Table 1): k = 32, blocks of 6, 12, 32, 32 layers; 14,149,480 parameters."""
    return DenseNet(32, (6, 12, 32, 32), 64, num_classes=num_classes, **kwargs)


def densenet201(num_classes=1000, **kwargs):
    """DenseNet-201 (Table 1): k = 32, blocks of 6, 12, 48, 32 layers; 20,013,928 parameters."""
    return DenseNet(32, (6, 12, 48, 32), 64, num_classes=num_classes, **kwargs)


def densenet264(num_classes=1000, **kwargs):
    """DenseNet-264 (Table 1): k = 32, blocks of 6, 12, 64, 48 layers (not in torchvision)."""
    return DenseNet(32, (6, 12, 64, 48), 64, num_classes=num_classes, **kwargs)


def densenet161(num_classes=1000, **kwargs):
    """DenseNet-161 (the authors' released model, not in the paper's tables): k = 48, 96 initial
    filters, blocks of 6, 12, 36, 24 layers; torchvision's ``densenet161``."""
    return DenseNet(48, (6, 12, 36, 24), 96, num_classes=num_classes, **kwargs)


class DenseNetCIFAR(nn.Module):
    """The paper's CIFAR-10 DenseNets (§3 "Implementation details", Table 2) for 3×32×32 inputs:
    ``features.conv0`` (3×3, 16 filters, or 2k for DenseNet-BC), three dense blocks of n layers
    each on 32×32, 16×16 and 8×8 maps, two transitions (BN-ReLU-1×1 conv-2×2 average pooling,
    keeping ⌊θ·m⌋ channels), ``norm5``, ReLU, global average pooling and ``classifier``.

    ``depth`` counts the weighted layers, L: the first convolution, two per dense layer with
    bottlenecks (one without), the two transitions and the classifier, so L = 6n + 4 with
    bottlenecks (DenseNet-BC-100: n = 16) and 3n + 4 without (DenseNet-40: n = 12).
    """

    def __init__(self, depth: int = 100, growth_rate: int = 12, *, bottleneck: bool = True,
                 compression: float = 0.5, num_classes: int = 10, drop_rate: float = 0.0,
                 memory_efficient: bool = False, in_channels: int = 3):
        super().__init__()
        per_layer = 2 if bottleneck else 1
        if not isinstance(depth, int) or (depth - 4) % (3 * per_layer) or depth < 4 + 3 * per_layer:
            rule = "6n + 4 (with bottlenecks)" if bottleneck else "3n + 4 (without bottlenecks)"
            raise ValueError(f"depth must be {rule} for a whole n >= 1, got depth={depth!r}")
        n = (depth - 4) // (3 * per_layer)
        first = 2 * growth_rate if (bottleneck and compression < 1) else 16
        self.features = nn.Sequential(OrderedDict([
            ("conv0", nn.Conv2d(in_channels, first, kernel_size=3, padding=1, bias=False))]))
        channels = _dense_stages(self.features, first, (n, n, n), growth_rate,
                                 4 if bottleneck else None, drop_rate, memory_efficient, compression)
        self.features.add_module("norm5", nn.BatchNorm2d(channels))
        self.relu = nn.ReLU(inplace=True)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.classifier = nn.Linear(channels, num_classes)
        self.depth, self.growth_rate, self.layers_per_block = depth, growth_rate, n
        self.bottleneck, self.compression = bottleneck, compression
        _init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.relu(self.features(x)))
        return self.classifier(torch.flatten(x, 1))


def densenet_cifar(depth: int = 100, growth_rate: int = 12, bottleneck: bool = True,
                   compression: float = 0.5, **kwargs) -> DenseNetCIFAR:
    """A CIFAR DenseNet of Table 2: ``densenet_cifar(100, 12)`` is DenseNet-BC (L = 100, k = 12),
    0.8 M parameters; ``densenet_cifar(40, 12, bottleneck=False, compression=1)`` the basic
    DenseNet (L = 40, k = 12), 1.0 M."""
    return DenseNetCIFAR(depth, growth_rate, bottleneck=bottleneck, compression=compression,
                         **kwargs)
