"""EfficientNet (Tan & Le, ICML 2019): the MBConv block and the compound-scaled family B0–B7.

Written in the style and with the names of torchvision's ``efficientnet.py``, so that a
torchvision state dict loads unchanged and the same random seed gives the same weights:

- ``MBConv``: the mobile inverted bottleneck of MobileNetV2 (Sandler et al., 2018) with a
  squeeze-and-excitation block (Hu et al., 2018) inside: a 1×1 *expansion* to ``expand_ratio``
  times the input channels (left out when the ratio is 1), a k×k *depthwise* convolution (the
  block's stride), an SE block squeezing to a quarter of the block's *input* channels (SE ratio
  0.25, with SiLU inside), and a 1×1 *projection* with no activation (the linear bottleneck).
  SiLU (swish) everywhere else. When the input and output shapes agree, the block's output is
  added to its input, after *stochastic depth* (dropped per sample with ``stochastic_depth_prob``).
- ``EfficientNet``: a 3×3 stem of stride 2, seven stages of MBConv blocks (``B0_STAGES``, Table 1
  of the paper), a 1×1 head to 4× the last stage's width (1280 for B0), global average pooling,
  dropout and the classifier. ``width_mult`` scales every channel count (rounded by
  ``make_divisible`` to a multiple of 8), ``depth_mult`` every stage's number of blocks (rounded
  up); the resolution is the input's. The drop probability of stochastic depth grows linearly
  from 0 (first block) towards ``stochastic_depth_prob`` (0.2), as in the authors' code.
- ``efficientnet_b0`` … ``efficientnet_b7``: the official coefficients ``EFFICIENTNET_PARAMS``
  (width, depth, resolution, dropout) of the authors' ``efficientnet_builder.py``; equal to
  torchvision's builders (parameters, state dict, output; tests/test_layers_efficientnet.py).
- ``efficientnet_cifar``: the same network for 32×32 images (stem of stride 1), with the width
  and depth multipliers as arguments, for the chapter's scaling experiment.
"""

import math

import torch
from torch import nn

from utils.layers.common import ConvBNAct, SqueezeExcitation, StochasticDepth, make_divisible

# Table 1 of the paper, EfficientNet-B0's stages 2-8 (stage 1 is the stem, stage 9 the head):
# (expand_ratio, kernel, stride, input channels, output channels, blocks), torchvision's order.
B0_STAGES = [
    (1, 3, 1, 32, 16, 1),     # MBConv1, k3×3, 112×112
    (6, 3, 2, 16, 24, 2),     # MBConv6, k3×3, 112 -> 56
    (6, 5, 2, 24, 40, 2),     # MBConv6, k5×5, 56 -> 28
    (6, 3, 2, 40, 80, 3),     # MBConv6, k3×3, 28 -> 14
    (6, 5, 1, 80, 112, 3),    # MBConv6, k5×5, 14
    (6, 5, 2, 112, 192, 4),   # MBConv6, k5×5, 14 -> 7
    (6, 3, 1, 192, 320, 1),   # MBConv6, k3×3, 7
]

# The authors' efficientnet_builder.efficientnet_params: (width, depth, resolution, dropout).
EFFICIENTNET_PARAMS = {
    "b0": (1.0, 1.0, 224, 0.2),
    "b1": (1.0, 1.1, 240, 0.2),
    "b2": (1.1, 1.2, 260, 0.3),
    "b3": (1.2, 1.4, 300, 0.3),
    "b4": (1.4, 1.8, 380, 0.4),
    "b5": (1.6, 2.2, 456, 0.4),
    "b6": (1.8, 2.6, 528, 0.5),
    "b7": (2.0, 3.1, 600, 0.5),
}


def scale_width(channels: int, width_mult: float) -> int:
    """``channels × width_mult``, rounded to a multiple of 8 (never 10 % below): ``make_divisible``."""
    return make_divisible(channels * width_mult, 8)


def scale_depth(blocks: int, depth_mult: float) -> int:
    """``blocks × depth_mult`` rounded *up*: a stage never loses its last block."""
    return int(math.ceil(blocks * depth_mult))


class MBConv(nn.Module):
    """Mobile inverted bottleneck with squeeze-and-excitation (MBConv1 / MBConv6 of Table 1).

    ``in_channels → expand_ratio·in_channels`` (1×1, BN, SiLU; absent for ratio 1) → depthwise
    ``kernel_size``×``kernel_size`` with ``stride`` (BN, SiLU) → SE (squeeze to
    ``max(1, int(in_channels · se_ratio))``, SiLU, sigmoid) → 1×1 to ``out_channels`` (BN, no
    activation). Residual sum, after stochastic depth, when ``stride == 1`` and the widths agree.
    Sub-modules ``block`` (a Sequential) and ``stochastic_depth``, as torchvision's ``MBConv``.
    """

    def __init__(self, in_channels: int, out_channels: int, expand_ratio: float = 6,
                 kernel_size: int = 3, stride: int = 1, stochastic_depth_prob: float = 0.0,
                 se_ratio: float = 0.25, norm_layer=nn.BatchNorm2d):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"stride must be 1 or 2, got {stride}")
        self.use_res_connect = stride == 1 and in_channels == out_channels
        expanded = make_divisible(in_channels * expand_ratio, 8)
        layers = []
        if expanded != in_channels:                                   # expansion (MBConv6)
            layers.append(ConvBNAct(in_channels, expanded, 1, norm_layer=norm_layer,
                                    activation_layer=nn.SiLU))
        layers.append(ConvBNAct(expanded, expanded, kernel_size, stride, groups=expanded,
                                norm_layer=norm_layer, activation_layer=nn.SiLU))   # depthwise
        squeeze = max(1, int(in_channels * se_ratio))                # a quarter of the *input*
        layers.append(SqueezeExcitation(expanded, squeeze, activation=nn.SiLU))
        layers.append(ConvBNAct(expanded, out_channels, 1, norm_layer=norm_layer,
                                activation_layer=None))               # linear projection
        self.block = nn.Sequential(*layers)
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob, "row")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.expanded_channels, self.stride = expanded, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x)
        if self.use_res_connect:
            out = self.stochastic_depth(out) + x
        return out


class EfficientNet(nn.Module):
    """EfficientNet: stem, the stages of ``stages`` (rows of ``B0_STAGES``' form) scaled by
    ``width_mult`` and ``depth_mult``, head, pooling, dropout, classifier.

    ``features`` holds the stem (``features.0``), one Sequential per stage (``features.1`` …
    ``features.7``) and the head (``features.8``); then ``avgpool`` and ``classifier`` (dropout,
    linear), as in torchvision. ``stem_stride=1`` keeps a 32×32 input whole (CIFAR-10).
    ``head_channels`` defaults to 4× the last stage's output (1280 for B0). Initialisation as
    torchvision's: He's fan-out rule for convolutions, uniform ±1/√out for the classifier.
    """

    def __init__(self, stages=B0_STAGES, width_mult: float = 1.0, depth_mult: float = 1.0,
                 dropout: float = 0.2, stochastic_depth_prob: float = 0.2,
                 num_classes: int = 1000, norm_layer=nn.BatchNorm2d, stem_stride: int = 2,
                 in_channels: int = 3, head_channels: int | None = None):
        super().__init__()
        rows = [(e, k, s, scale_width(i, width_mult), scale_width(o, width_mult),
                 scale_depth(n, depth_mult)) for e, k, s, i, o, n in stages]
        self.stages = rows
        layers = [ConvBNAct(in_channels, rows[0][3], 3, stem_stride, norm_layer=norm_layer,
                            activation_layer=nn.SiLU)]
        total, block_id = sum(r[5] for r in rows), 0
        for expand, k, stride, cin, cout, n in rows:
            stage = []
            for j in range(n):
                p = stochastic_depth_prob * block_id / total          # linear in depth
                stage.append(MBConv(cin if j == 0 else cout, cout, expand, k,
                                    stride if j == 0 else 1, p, norm_layer=norm_layer))
                block_id += 1
            layers.append(nn.Sequential(*stage))
        last = rows[-1][4]
        head = head_channels if head_channels is not None else 4 * last
        layers.append(ConvBNAct(last, head, 1, norm_layer=norm_layer, activation_layer=nn.SiLU))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout, inplace=True),
                                        nn.Linear(head, num_classes))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                r = 1.0 / math.sqrt(m.out_features)
                nn.init.uniform_(m.weight, -r, r)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


def _efficientnet(name: str, **kwargs) -> EfficientNet:
    width, depth, _, dropout = EFFICIENTNET_PARAMS[name]
    if name in ("b5", "b6", "b7"):   # torchvision's B5-B7 weights came with the TF BN settings
        kwargs.setdefault("norm_layer", lambda c: nn.BatchNorm2d(c, eps=0.001, momentum=0.01))
    kwargs.setdefault("dropout", dropout)
    return EfficientNet(B0_STAGES, width, depth, **kwargs)


def efficientnet_b0(**kwargs) -> EfficientNet:
    """EfficientNet-B0 (224×224): 5,288,548 parameters, 0.39 G multiply-adds."""
    return _efficientnet("b0", **kwargs)


def efficientnet_b1(**kwargs) -> EfficientNet:
    """EfficientNet-B1 (240×240): width 1.0, depth 1.1; 7,794,184 parameters."""
    return _efficientnet("b1", **kwargs)


def efficientnet_b2(**kwargs) -> EfficientNet:
    """EfficientNet-B2 (260×260): width 1.1, depth 1.2."""
    return _efficientnet("b2", **kwargs)


def efficientnet_b3(**kwargs) -> EfficientNet:
    """EfficientNet-B3 (300×300): width 1.2, depth 1.4."""
    return _efficientnet("b3", **kwargs)


def efficientnet_b4(**kwargs) -> EfficientNet:
    """EfficientNet-B4 (380×380): width 1.4, depth 1.8."""
    return _efficientnet("b4", **kwargs)


def efficientnet_b5(**kwargs) -> EfficientNet:
    """EfficientNet-B5 (456×456): width 1.6, depth 2.2."""
    return _efficientnet("b5", **kwargs)


def efficientnet_b6(**kwargs) -> EfficientNet:
    """EfficientNet-B6 (528×528): width 1.8, depth 2.6."""
    return _efficientnet("b6", **kwargs)


def efficientnet_b7(**kwargs) -> EfficientNet:
    """EfficientNet-B7 (600×600): width 2.0, depth 3.1; 66,347,960 parameters."""
    return _efficientnet("b7", **kwargs)


BUILDERS = {f"b{i}": globals()[f"efficientnet_b{i}"] for i in range(8)}


def efficientnet_cifar(width_mult: float = 1.0, depth_mult: float = 1.0, num_classes: int = 10,
                       stages=B0_STAGES, dropout: float = 0.2,
                       stochastic_depth_prob: float = 0.2, **kwargs) -> EfficientNet:
    """EfficientNet for CIFAR-10's 32×32: the stem keeps stride 1 (at stride 2 the last stage
    would see 1×1 maps), so the stages work at 32, 16, 8, 4 and 2 pixels instead of 112 … 7.
    ``width_mult`` and ``depth_mult`` scale it as the ImageNet family; the resolution is the
    input's (``train.fit(..., resize=...)``)."""
    return EfficientNet(stages, width_mult, depth_mult, dropout=dropout,
                        stochastic_depth_prob=stochastic_depth_prob, num_classes=num_classes,
                        stem_stride=1, **kwargs)
