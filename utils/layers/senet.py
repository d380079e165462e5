"""Squeeze-and-excitation networks (Hu, Shen & Sun, CVPR 2018; journal version Hu, Shen,
Albanie, Sun & Wu, TPAMI 2020): chapters/12_senet.ipynb.

- ``SEBlock``: the squeeze-and-excitation block of Figure 1 and Equations 2–4, with the paper's
  names: *squeeze* (global average pooling, Eq. 2), *excitation* (FC → ReLU → FC → sigmoid with
  reduction ratio r = 16, Eq. 3) and *scale* (each channel times its weight, Eq. 4). The two
  fully connected layers are 1×1 convolutions named ``fc1`` and ``fc2``, the names and shapes of
  ``torchvision.ops.SqueezeExcitation``, of ``utils.layers.common.SqueezeExcitation`` and of
  timm's ``SEModule``, so their state dicts load into it (tests/test_layers_senet.py).
- ``se_resnet50()``: SE-ResNet-50 (Table 1, Figure 3): ``utils.layers.resnet.ResNet`` with an
  ``SEBlock`` on every residual branch, after the last batch norm and before the addition. It is
  timm's ``seresnet50`` module for module (28,088,024 parameters, same state dict, same output);
  like timm's and torchvision's ResNet-50 it is "v1.5" (stride on the 3×3); ``stride_on="conv1"``
  gives the paper's v1, whose 3.87 G multiply-adds Table 2 reports.
- ``SEInception``: an Inception module followed by an ``SEBlock`` on its concatenated output
  (Figure 2); ``add_se(model, kinds)`` wraps every module of the given kinds in a network (the
  paper's SE-BN-Inception is ``add_se(BNInception(), InceptionBN)``).
- ``SEResNetCIFAR`` / ``se_resnet_cifar(depth)``: the ResNet paper's CIFAR-10 networks (6n + 2
  layers, 16/32/64 channels, option A shortcuts; ``utils.layers.resnet.ResNetCIFAR``) with an SE
  block in every basic block: SE-ResNet-20, -56, -110 (Table 4 of the SENet paper trains
  SE-ResNet-110 and -164). ``se=False`` gives ``ResNetCIFAR`` exactly (same state dict).
  ``se_resnet18_cifar()``: the course's ResNet-18 for CIFAR-10 with SE blocks.
"""

from __future__ import annotations

import torch
from torch import nn

from .resnet import BasicBlock, Bottleneck, ResNet, ResNetCIFAR


class SEBlock(nn.Module):
    """Squeeze, excitation, scale (Figure 1): recalibrate the C channels of a feature map U.

    - ``squeeze`` (Eq. 2): z_c = mean of channel c over its H × W positions (global average
      pooling): one number per channel, [N, C, 1, 1];
    - ``excitation`` (Eq. 3): s = σ(W₂ δ(W₁ z)), W₁ reducing C to C/r (``fc1``), δ a ReLU,
      W₂ restoring C (``fc2``), σ a sigmoid (``sigmoid``): one weight in (0, 1) per channel,
      computed from the whole image, not mutually exclusive (a sigmoid, not a softmax);
    - ``scale`` (Eq. 4): x̃_c = s_c · u_c.

    ``reduction``: the paper's r = 16; the hidden width is ``channels // reduction`` (at least
    1), or ``squeeze_channels`` when given (timm rounds C/16 up to a multiple of 8, which is the
    same for the ImageNet widths 256 … 2048). ``bias``: the FC layers' biases, as in the released
    models, timm and torchvision (the journal version's ablations drop them, §6). The FC layers
    are 1×1 convolutions on the 1×1 squeezed map, the same arithmetic as ``nn.Linear``.
    """

    def __init__(self, channels: int, reduction: int = 16, *, squeeze_channels: int | None = None,
                 bias: bool = True):
        super().__init__()
        if squeeze_channels is None:
            squeeze_channels = max(1, channels // reduction)
        self.squeeze = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze_channels, 1, bias=bias)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(squeeze_channels, channels, 1, bias=bias)
        self.sigmoid = nn.Sigmoid()
        self.channels, self.squeeze_channels, self.reduction = channels, squeeze_channels, reduction

    def excitation(self, z: torch.Tensor) -> torch.Tensor:
        """The channel weights s = σ(W₂ δ(W₁ z)) for the squeezed input z: [N, C, 1, 1]."""
        return self.sigmoid(self.fc2(self.relu(self.fc1(z))))

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        s = self.excitation(self.squeeze(u))
        return u * s                                     # scale: F_scale(u_c, s_c) = s_c · u_c

    def extra_repr(self) -> str:
        return f"{self.channels}, squeeze_channels={self.squeeze_channels}"


def se_factory(reduction: int = 16, **kwargs):
    """The function of a block's width that ``ResNet(..., se=)`` and ``BasicBlock(se=)`` expect:
    ``se_factory(16)(256)`` is ``SEBlock(256, 16)``."""
    def make(channels: int) -> SEBlock:
        return SEBlock(channels, reduction, **kwargs)
    return make


def se_resnet50(num_classes: int = 1000, reduction: int = 16, **kwargs) -> ResNet:
    """SE-ResNet-50 (Table 1, middle column): ``Bottleneck`` × [3, 4, 6, 3] with an ``SEBlock``
    (fc [C/16, C]) on each residual branch before the addition; 28,088,024 parameters, 2,530,992
    more than ResNet-50. Equal to timm's ``seresnet50`` (v1.5); ``stride_on="conv1"`` for the
    paper's v1. Other keywords go to ``ResNet``."""
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes, se=se_factory(reduction), **kwargs)


def se_resnet18_cifar(num_classes: int = 10, reduction: int = 16, **kwargs) -> ResNet:
    """The course's ResNet-18 for CIFAR-10 (``resnet18_cifar``: 3×3 stem, no max-pooling) with an
    SE block in each of its eight basic blocks; 11,263,042 parameters (89,080 more)."""
    return ResNet(BasicBlock, [2, 2, 2, 2], num_classes, stem="cifar",
                  se=se_factory(reduction), **kwargs)


class SEResNetCIFAR(ResNetCIFAR):
    """The ResNet paper's CIFAR-10 network (§4.2 of He et al.; ``ResNetCIFAR``) with an SE
    block in every basic block: a 3×3 convolution to 16 channels, three stages of n basic blocks
    on 32×32, 16×16 and 8×8 maps with 16, 32 and 64 channels, option A (zero-padding) shortcuts,
    global average pooling and ``fc``; 6n + 2 weighted layers not counting the SE blocks' FC
    layers. Each block's SE sits on the residual branch after ``bn2``, before the addition
    (Figure 3 of the SENet paper). ``reduction``: r (16: 1, 2 and 4 hidden units in the three
    stages). ``se=False``: no SE blocks, the same state dict as ``ResNetCIFAR``.
    """

    def __init__(self, depth: int = 20, num_classes: int = 10, *, reduction: int = 16,
                 se: bool = True, shortcut: str = "A", in_channels: int = 3):
        super().__init__(depth, num_classes, shortcut=shortcut, in_channels=in_channels,
                         se=se_factory(reduction) if se else None)
        self.reduction = reduction if se else None


def se_resnet_cifar(depth: int = 20, reduction: int = 16, num_classes: int = 10,
                    se: bool = True) -> SEResNetCIFAR:
    """SE-ResNet-``depth`` for CIFAR-10 (depth = 6n + 2): ``se_resnet_cifar(20)`` has 272,095
    parameters, 2,373 more than ResNet-20's 269,722."""
    return SEResNetCIFAR(depth, num_classes, reduction=reduction, se=se)


class SEInception(nn.Module):
    """An SE-Inception module (Figure 2): the Inception module ``inception`` (any module with
    ``out_channels``: GoogLeNet's ``Inception``, ``InceptionBN``, Inception v3's modules) is the
    transformation F_tr, and an ``SEBlock`` (``se``) recalibrates its concatenated output. There
    is no shortcut: the scaled map is the module's output."""

    def __init__(self, inception: nn.Module, reduction: int = 16):
        super().__init__()
        self.inception = inception
        self.se = SEBlock(inception.out_channels, reduction)
        self.in_channels = getattr(inception, "in_channels", None)
        self.out_channels = inception.out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.se(self.inception(x))


def add_se(model: nn.Module, kinds, reduction: int = 16) -> nn.Module:
    """``model`` with every sub-module of the classes ``kinds`` replaced by ``SEInception(it)``
    (in place; returned): "by making this change for each such module in the architecture, we
    obtain an SE-Inception network" (§3.3). A wrapped module keeps its weights; its parameters'
    names gain ``.inception``."""
    kinds = tuple(kinds) if isinstance(kinds, (list, tuple)) else (kinds,)
    for name, child in list(model.named_children()):
        if isinstance(child, kinds):
            setattr(model, name, SEInception(child, reduction))
        else:
            add_se(child, kinds, reduction)
    return model


def se_parameters(channels_and_blocks, reduction: int = 16, bias: bool = True) -> int:
    """The parameters that SE blocks add: Eq. 5, (2/r) Σ N_s · C_s², for stages of ``N_s``
    blocks with ``C_s`` output channels, given as ``[(N_s, C_s), ...]``; with ``bias`` also
    the two FC layers' biases, N_s · (C_s/r + C_s), which the paper calls negligible."""
    total = 0
    for n, c in channels_and_blocks:
        hidden = max(1, c // reduction)
        total += n * (2 * c * hidden + (hidden + c if bias else 0))
    return total
