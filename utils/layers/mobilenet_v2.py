"""MobileNetV2 (Sandler, Howard, Zhu, Zhmoginov & Chen, CVPR 2018): chapters/14_mobilenet_v2.ipynb.

- ``InvertedResidual``: the paper's "bottleneck residual block" (Table 1, Figure 3b): a 1×1
  *expansion* from k to t·k channels (ReLU6), a 3×3 *depthwise* convolution with stride s
  (ReLU6), a 1×1 *projection* back to k' channels with **no activation** (the linear
  bottleneck), and a shortcut between the two narrow ends when s = 1 and k = k'. With t = 1 (the
  first block) the expansion is left out. ``project_activation=nn.ReLU6`` puts an activation
  after the projection as well (the "ReLU bottleneck" of the paper's Figure 6a), as an extra
  module ``conv.4`` without parameters, so both variants share one state dict.
- ``MobileNetV2``: Table 2, the (t, c, n, s) rows ``MOBILENET_V2_SETTING``, the width multiplier
  ``width_mult`` with the channel rounding ``make_divisible`` (multiples of 8) and the last
  1×1 convolution's 1280 channels, which a multiplier *below* 1 does not shrink (§5.1). It is
  torchvision's ``mobilenet_v2`` module for module: the same names (``features.0`` …
  ``features.18``, ``classifier``), the same state dict, the same initialisation and output
  (3,504,872 parameters; tests/test_layers_mobilenet_v2.py).
- ``mobilenet_v2_cifar()``: the network for CIFAR-10's 32×32 images, with the strides adapted as
  in kuangliu's pytorch-cifar: stride 1 in the stem and in the second row of Table 2 (24
  channels), so the maps go 32 → 32 → 32 → 16 → 8 → 4 and the last 1×1 convolution sees 4×4.
  The blocks stay the paper's (kuangliu's adds 1×1 projection shortcuts and a t = 1 expansion;
  see the chapter).
"""

from __future__ import annotations

import torch
from torch import nn

from .common import ConvBNAct, he_init, make_divisible

# Table 2 of the paper: expansion t, output channels c, repetitions n, stride s of the first
MOBILENET_V2_SETTING = [
    # t, c, n, s
    [1, 16, 1, 1],
    [6, 24, 2, 2],
    [6, 32, 3, 2],
    [6, 64, 4, 2],
    [6, 96, 3, 1],
    [6, 160, 3, 2],
    [6, 320, 1, 1],
]

# CIFAR-10 (kuangliu/pytorch-cifar): the second row's stride 2 -> 1 (and the stem's, below)
MOBILENET_V2_CIFAR_SETTING = [row[:3] + [1] if row[1] == 24 else list(row)
                              for row in MOBILENET_V2_SETTING]


class InvertedResidual(nn.Module):
    """Expand (1×1, t·k channels, BN, ReLU6) → depthwise 3×3 (stride s, BN, ReLU6) → project
    (1×1, k' channels, BN, *linear*), plus the input when ``stride == 1`` and
    ``in_channels == out_channels`` (the shortcut joins the narrow ends).

    ``expand_ratio`` is t; the hidden width is ``round(in_channels * t)``. Modules ``conv.0``
    (expansion, left out when t = 1), ``conv.1`` (depthwise; ``conv.0`` when t = 1), then the
    projection convolution and its batch norm, as in torchvision's ``InvertedResidual``.
    ``project_activation``: ``None`` (the paper's linear bottleneck) or an activation class
    appended after the projection's batch norm (the ReLU bottleneck of Figure 6a).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int, expand_ratio: float,
                 norm_layer=nn.BatchNorm2d, activation_layer=nn.ReLU6, project_activation=None):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"stride should be 1 or 2 instead of {stride}")
        self.stride, self.expand_ratio = stride, expand_ratio
        hidden = int(round(in_channels * expand_ratio))
        self.use_res_connect = stride == 1 and in_channels == out_channels
        layers: list[nn.Module] = []
        if expand_ratio != 1:     # pw: expansion
            layers.append(ConvBNAct(in_channels, hidden, 1, norm_layer=norm_layer,
                                    activation_layer=activation_layer))
        layers += [
            ConvBNAct(hidden, hidden, 3, stride, groups=hidden, norm_layer=norm_layer,  # dw
                      activation_layer=activation_layer),
            nn.Conv2d(hidden, out_channels, 1, 1, 0, bias=False),                      # pw-linear
            norm_layer(out_channels),
        ]
        if project_activation is not None:
            layers.append(project_activation(inplace=False))
        self.conv = nn.Sequential(*layers)
        self.in_channels, self.hidden_channels, self.out_channels = in_channels, hidden, out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.use_res_connect:
            return x + self.conv(x)
        return self.conv(x)


class MobileNetV2(nn.Module):
    """Table 2: a 3×3 convolution (32 channels, stride ``stem_stride``), the inverted residual
    blocks of ``inverted_residual_setting`` (rows t, c, n, s; the stride s applies to the first
    of the n blocks), a 1×1 convolution to ``last_channel`` (1280), global average pooling,
    dropout and the classifier (torchvision's ``nn.Linear``, the paper's final 1×1 convolution).

    ``width_mult`` scales every width, rounded by ``make_divisible(·, round_nearest)``; the last
    convolution keeps 1280 channels for multipliers below 1 (``max(1, width_mult)``, §5.1).
    ``project_activation=nn.ReLU6`` gives the ReLU-bottleneck variant.
    """

    def __init__(self, num_classes: int = 1000, width_mult: float = 1.0,
                 inverted_residual_setting=None, round_nearest: int = 8, block=None,
                 norm_layer=None, dropout: float = 0.2, *, stem_stride: int = 2,
                 last_channel: int = 1280, project_activation=None):
        super().__init__()
        block = block or InvertedResidual
        norm_layer = norm_layer or nn.BatchNorm2d
        setting = inverted_residual_setting or MOBILENET_V2_SETTING
        if len(setting) == 0 or len(setting[0]) != 4:
            raise ValueError("inverted_residual_setting should be a non-empty list of (t, c, n, s)")
        input_channel = make_divisible(32 * width_mult, round_nearest)
        self.last_channel = make_divisible(last_channel * max(1.0, width_mult), round_nearest)
        features: list[nn.Module] = [ConvBNAct(3, input_channel, 3, stem_stride,
                                               norm_layer=norm_layer, activation_layer=nn.ReLU6)]
        for t, c, n, s in setting:
            output_channel = make_divisible(c * width_mult, round_nearest)
            for i in range(n):
                features.append(block(input_channel, output_channel, s if i == 0 else 1, t,
                                      norm_layer=norm_layer, project_activation=project_activation))
                input_channel = output_channel
        features.append(ConvBNAct(input_channel, self.last_channel, 1, norm_layer=norm_layer,
                                  activation_layer=nn.ReLU6))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout),
                                        nn.Linear(self.last_channel, num_classes))
        self.setting = [list(row) for row in setting]
        self.width_mult = width_mult
        he_init(self, linear_std=0.01)   # torchvision's initialisation (no convolution has a bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        x = nn.functional.adaptive_avg_pool2d(x, (1, 1))
        x = torch.flatten(x, 1)
        return self.classifier(x)


def mobilenet_v2(num_classes: int = 1000, width_mult: float = 1.0, **kwargs) -> MobileNetV2:
    """MobileNetV2 of Table 2 at ``width_mult`` (the paper's 0.35 … 1.4); torchvision's
    ``mobilenet_v2(width_mult=...)``."""
    return MobileNetV2(num_classes, width_mult, **kwargs)


def mobilenet_v2_cifar(num_classes: int = 10, width_mult: float = 1.0,
                       project_activation=None, dropout: float = 0.0) -> MobileNetV2:
    """MobileNetV2 for 32×32 inputs (kuangliu/pytorch-cifar's strides): stem stride 1, the
    24-channel row at stride 1; 4×4 maps before the pooling. No dropout, as kuangliu's."""
    return MobileNetV2(num_classes, width_mult, MOBILENET_V2_CIFAR_SETTING, dropout=dropout,
                       stem_stride=1, project_activation=project_activation)
