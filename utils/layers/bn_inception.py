"""Batch normalisation (Ioffe & Szegedy, 2015, "Batch normalization: accelerating deep network
training by reducing internal covariate shift"): chapter 6.

Two families of networks, both built from the course's pieces:

- **BN-Inception**, the network of the paper's §4.2 and appendix (Figure 5): GoogLeNet with batch
  normalisation before every ReLU and the changes the appendix lists: each 5×5 convolution
  replaced by two 3×3 convolutions (the "double 3×3" branch), three 28×28 modules instead of
  two (3a, 3b, 3c), average pooling in most modules' pool branch, no pooling layers between the
  modules but stride-2 modules (3c, 4e) that halve the grid and pass the pooled input through,
  and a first convolution that is separable (depth multiplier 8). ``BN_INCEPTION_TABLE`` is
  Figure 5 as data; ``InceptionBN`` one row of it; ``BNInception`` the network. There is no
  torchvision twin (torchvision has GoogLeNet and Inception v3, not this network); the
  parameter count is computed from the table and compared with the paper's "13.6·10⁶" in the
  chapter and in tests/test_layers_bn_inception.py.
- **The experiments' network**: ``SmallConvNet``, a five-convolution CIFAR-10 network with a
  switch for batch normalisation (``batch_norm``), a choice of nonlinearity (ReLU or the
  sigmoid of the paper's Figure 1) and the "noisy" batch norm of Santurkar et al. (2018)
  (``NoisyBatchNorm2d``), for the with/without comparisons and the learning-rate experiments.

``bn_inception_cifar()`` is the course's CIFAR-10 adaptation: the same ten modules with every
width scaled (TF-slim's ``depth_multiplier``) and a stem that keeps the 32×32 grid.

Conventions: a convolution followed by batch norm has no bias (batch norm's β replaces it, §3.2
of the paper); the convolution–BN–ReLU unit is GoogLeNet's ``BasicConv2d`` (eps = 0.001, as in
TensorFlow's Inception code), imported from ``utils.layers.googlenet``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from utils.layers.googlenet import BasicConv2d

# Figure 5 of the paper, one row per Inception module: (#1×1, #3×3 reduce, #3×3,
# double #3×3 reduce, double #3×3, pool, pool proj, stride). "pool" is the pool branch's pooling
# ("avg" or "max"); "pool proj" its 1×1 projection, or None for "pass through" (the pooled input
# is concatenated as it is). A module with stride 2 (3c, 4e) has no 1×1 branch (#1×1 = 0) and
# halves the grid in its 3×3 branches and its pooling.
BN_INCEPTION_TABLE = {
    "3a": (64, 64, 64, 64, 96, "avg", 32, 1),
    "3b": (64, 64, 96, 64, 96, "avg", 64, 1),
    "3c": (0, 128, 160, 64, 96, "max", None, 2),
    "4a": (224, 64, 96, 96, 128, "avg", 128, 1),
    "4b": (192, 96, 128, 96, 128, "avg", 128, 1),
    "4c": (160, 128, 160, 128, 160, "avg", 128, 1),
    "4d": (96, 128, 192, 160, 192, "avg", 128, 1),
    "4e": (0, 128, 192, 192, 256, "max", None, 2),
    "5a": (352, 192, 320, 160, 224, "avg", 128, 1),
    "5b": (352, 192, 320, 192, 224, "max", 128, 1),
}


def module_out_channels(in_channels: int, row) -> int:
    """A module's output channels from its row of ``BN_INCEPTION_TABLE``: #1×1 + #3×3 +
    double #3×3 + (pool proj, or the input's channels when the pool branch passes through)."""
    ch1x1, _, ch3x3, _, dbl3x3, _, pool_proj, _ = row
    return ch1x1 + ch3x3 + dbl3x3 + (in_channels if pool_proj is None else pool_proj)


def scaled(channels: int, width: float, min_channels: int = 8) -> int:
    """``channels`` times ``width``, rounded down, at least ``min_channels`` (TF-slim's
    ``depth = max(int(d * depth_multiplier), min_depth)``); 0 stays 0 (no branch)."""
    return 0 if channels == 0 else max(int(channels * width), min_channels)


class SeparableConv2d(nn.Module):
    """A depthwise-separable convolution, as TensorFlow's ``separable_conv2d``: a depthwise
    ``kernel_size`` convolution that makes ``depth_multiplier`` maps from each input channel
    (``depthwise``, ``groups=in_channels``), then a 1×1 convolution to ``out_channels``
    (``pointwise``), with nothing in between. The paper's first layer ("convolution*" in
    Figure 5): 7×7, stride 2, depth multiplier 8, 3 → 24 → 64 channels, 2,712 weights instead of
    a full 7×7 convolution's 9,408. No bias (batch norm follows)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride=1,
                 padding=0, depth_multiplier: int = 8):
        super().__init__()
        mid = in_channels * depth_multiplier
        self.depthwise = nn.Conv2d(in_channels, mid, kernel_size, stride, padding,
                                   groups=in_channels, bias=False)
        self.pointwise = nn.Conv2d(mid, out_channels, 1, bias=False)
        self.in_channels, self.out_channels = in_channels, out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


class SeparableBasicConv2d(nn.Module):
    """``SeparableConv2d`` (``conv``), batch norm (``bn``, eps = 0.001) and ReLU: the stem's
    first layer of BN-Inception, named like ``BasicConv2d``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride=1,
                 padding=0, depth_multiplier: int = 8):
        super().__init__()
        self.conv = SeparableConv2d(in_channels, out_channels, kernel_size, stride, padding,
                                    depth_multiplier)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)
        self.in_channels, self.out_channels = in_channels, out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)), inplace=True)


class InceptionBN(nn.Module):
    """One Inception module of BN-Inception (one row of Figure 5), every convolution followed by
    batch norm and ReLU (``BasicConv2d``):

    - ``branch1``: 1×1 convolution to ``ch1x1`` (absent when ``ch1x1 == 0``: modules 3c, 4e);
    - ``branch2``: 1×1 reduction to ``ch3x3red``, then 3×3 to ``ch3x3`` (stride ``stride``);
    - ``branch3``: 1×1 reduction to ``dbl3x3red``, then two 3×3 convolutions to ``dbl3x3``
      each, the second with stride ``stride``: GoogLeNet's 5×5 branch, factorised (the same
      5×5 receptive field with two layers);
    - ``branch4``: 3×3 pooling (``pool``: "avg" or "max"), stride 1 with padding 1, or stride 2
      in a grid-halving module, then a 1×1 projection to ``pool_proj``, or nothing
      (``pool_proj=None``: "pass through", the pooled input is concatenated as it is).

    The branches are concatenated along the channels. Stride-2 poolings round up
    (``ceil_mode=True``: 28 → 14 → 7, as in the Caffe reproduction); the stride-2 convolutions
    use padding 1, which gives the same sizes. ``batch_norm=False`` builds the same module with
    biases and no batch norm (GoogLeNet's way), for comparisons.
    """

    def __init__(self, in_channels: int, ch1x1: int, ch3x3red: int, ch3x3: int, dbl3x3red: int,
                 dbl3x3: int, pool: str = "avg", pool_proj: int | None = 32, stride: int = 1,
                 *, batch_norm: bool = True):
        super().__init__()
        if pool not in ("avg", "max"):
            raise ValueError(f"pool must be 'avg' or 'max', got {pool!r}")
        if stride not in (1, 2):
            raise ValueError(f"stride must be 1 or 2, got {stride}")
        if stride == 2 and ch1x1:
            raise ValueError("a stride-2 module has no 1×1 branch (ch1x1 = 0 in Figure 5)")

        def conv(c_in, c_out, k, s=1):
            return BasicConv2d(c_in, c_out, k, stride=s, padding=k // 2, batch_norm=batch_norm)

        self.branch1 = conv(in_channels, ch1x1, 1) if ch1x1 else None
        self.branch2 = nn.Sequential(conv(in_channels, ch3x3red, 1),
                                     conv(ch3x3red, ch3x3, 3, stride))
        self.branch3 = nn.Sequential(conv(in_channels, dbl3x3red, 1),
                                     conv(dbl3x3red, dbl3x3, 3),
                                     conv(dbl3x3, dbl3x3, 3, stride))
        if stride == 1:
            pooling = (nn.AvgPool2d(3, stride=1, padding=1) if pool == "avg"
                       else nn.MaxPool2d(3, stride=1, padding=1))
        else:
            pooling = (nn.AvgPool2d(3, stride=2, ceil_mode=True) if pool == "avg"
                       else nn.MaxPool2d(3, stride=2, ceil_mode=True))
        self.branch4 = (nn.Sequential(pooling, conv(in_channels, pool_proj, 1))
                        if pool_proj is not None else nn.Sequential(pooling))
        self.in_channels, self.stride = in_channels, stride
        self.out_channels = module_out_channels(
            in_channels, (ch1x1, ch3x3red, ch3x3, dbl3x3red, dbl3x3, pool, pool_proj, stride))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = [self.branch2(x), self.branch3(x), self.branch4(x)]
        if self.branch1 is not None:
            branches.insert(0, self.branch1(x))
        return torch.cat(branches, 1)


class BNInception(nn.Module):
    """BN-Inception, the network of the paper's §4.2 and Figure 5, for 3×224×224 inputs.

    Stem: ``conv1`` 7×7/2 to 64 channels (separable, depth multiplier 8, when
    ``separable_stem``; a full 7×7 convolution otherwise, as the Caffe reproduction has it),
    ``maxpool1`` 3×3/2, ``conv2_reduce`` 1×1 to 64 and ``conv2`` 3×3 to 192, ``maxpool2`` 3×3/2
    (224 → 112 → 56 → 28). Then the ten modules of ``BN_INCEPTION_TABLE`` (``inception3a`` …
    ``inception5b``; 3c and 4e halve the grid, 28 → 14 → 7), a 7×7 average pooling
    (``avgpool``: the paper's, fixed, so that a wrong input size fails instead of being hidden),
    an optional dropout (the paper removed it for its accelerated networks, §4.2.1: default 0)
    and the linear classifier ``fc`` (1024 → ``num_classes``). Batch norm before every ReLU, no
    biases in the convolutions. No auxiliary classifiers (Figure 5 lists none).

    ``table``: the rows to build (``BN_INCEPTION_TABLE`` by default; a copy with 96-channel pool
    projections in 4c and 4d gives TF-slim's ``inception_v2``, whose 14×14 modules all output
    576 channels). ``width``: a multiplier for every channel count (TF-slim's
    ``depth_multiplier``), for smaller variants. ``stem``: "imagenet" (the paper's, /8) or
    "cifar" (3×3 convolutions without stride and one 3×3/2 max-pooling: /2, so that a 32×32
    image reaches 3a as 16×16); ``pool_size``: the final average pooling's window (7 for 224, 4
    for 32 with the CIFAR stem).
    """

    def __init__(self, num_classes: int = 1000, *, table: dict | None = None, width: float = 1.0,
                 separable_stem: bool = True, stem: str = "imagenet", pool_size: int = 7,
                 dropout: float = 0.0):
        super().__init__()
        if stem not in ("imagenet", "cifar"):
            raise ValueError(f"stem must be 'imagenet' or 'cifar', got {stem!r}")
        table = BN_INCEPTION_TABLE if table is None else table
        c = lambda n: scaled(n, width)  # noqa: E731
        c64, c192 = c(64), c(192)
        if stem == "imagenet":
            if separable_stem:
                self.conv1 = SeparableBasicConv2d(3, c64, 7, stride=2, padding=3,
                                                  depth_multiplier=8)
            else:
                self.conv1 = BasicConv2d(3, c64, 7, stride=2, padding=3)
            self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
            self.conv2_reduce = BasicConv2d(c64, c64, 1)
            self.conv2 = BasicConv2d(c64, c192, 3, padding=1)
            self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        else:
            self.conv1 = BasicConv2d(3, c64, 3, padding=1)
            self.maxpool1 = None
            self.conv2_reduce = BasicConv2d(c64, c64, 1)
            self.conv2 = BasicConv2d(c64, c192, 3, padding=1)
            self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        channels = c192
        for name, row in table.items():
            ch1x1, ch3x3red, ch3x3, dbl3x3red, dbl3x3, pool, pool_proj, stride = row
            module = InceptionBN(channels, c(ch1x1), c(ch3x3red), c(ch3x3), c(dbl3x3red),
                                 c(dbl3x3), pool, None if pool_proj is None else c(pool_proj),
                                 stride)
            setattr(self, f"inception{name}", module)
            channels = module.out_channels
        self.module_names = tuple(f"inception{name}" for name in table)
        self.avgpool = nn.AvgPool2d(pool_size, stride=1)
        self.dropout = nn.Dropout(dropout) if dropout else None
        self.fc = nn.Linear(channels, num_classes)
        self.num_features = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        if self.maxpool1 is not None:
            x = self.maxpool1(x)
        x = self.conv2(self.conv2_reduce(x))
        if self.maxpool2 is not None:
            x = self.maxpool2(x)
        for name in self.module_names:
            x = getattr(self, name)(x)
        x = torch.flatten(self.avgpool(x), 1)
        if self.dropout is not None:
            x = self.dropout(x)
        return self.fc(x)


def bn_inception_cifar(num_classes: int = 10, width: float = 0.25) -> BNInception:
    """The course's CIFAR-10 BN-Inception: Figure 5's ten modules with every width multiplied by
    ``width`` (a quarter by default: 3a outputs 64 channels instead of 256), a stem of a 3×3
    convolution to 16 channels, a 1×1 and a 3×3 to 48 without stride, and one 3×3/2
    max-pooling (32 → 16, where the ImageNet stem divides by 8), so that 3c and 4e take the grid
    16 → 8 → 4, and a 4×4 average pooling."""
    return BNInception(num_classes, width=width, stem="cifar", pool_size=4)


# --- the experiments' network -------------------------------------------------------------------

class NoisyBatchNorm2d(nn.BatchNorm2d):
    """Batch norm followed, in training mode only, by a random per-channel scale and shift drawn
    anew at every step: Santurkar et al. (2018), §2.1, "noisy" BN. Their point: the noise makes
    each layer's input distribution *less* stable from step to step (more "internal covariate
    shift", not less), yet the network trains about as well as with plain batch norm.

    The scale is drawn uniformly from [1 − ``scale``, 1 + ``scale``] and the shift from
    [−``shift``, ``shift``], one pair per channel, shared by the whole batch (a different
    distribution at every step, not per-example noise). In evaluation mode it is plain
    ``nn.BatchNorm2d``. The paper draws non-zero means and non-unit variances from other
    distributions; the idea is the same.
    """

    def __init__(self, num_features: int, scale: float = 0.5, shift: float = 0.5, **kwargs):
        super().__init__(num_features, **kwargs)
        self.noise_scale, self.noise_shift = scale, shift

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = super().forward(x)
        if not self.training:
            return y
        c = y.shape[1]
        scale = 1 + self.noise_scale * (2 * torch.rand(c, device=y.device, dtype=y.dtype) - 1)
        shift = self.noise_shift * (2 * torch.rand(c, device=y.device, dtype=y.dtype) - 1)
        return y * scale.view(1, c, 1, 1) + shift.view(1, c, 1, 1)

    def extra_repr(self) -> str:
        return (super().extra_repr()
                + f", noise_scale={self.noise_scale}, noise_shift={self.noise_shift}")


class ConvBlock(nn.Module):
    """A 3×3 convolution (``conv``; with a bias only when there is no batch norm), batch norm or
    nothing (``bn``), and the nonlinearity (``act``, a module, so that a hook can read its
    input: the distribution the paper's Figure 1 follows)."""

    def __init__(self, in_channels: int, out_channels: int, *, norm: str = "bn",
                 activation: str = "relu"):
        super().__init__()
        if norm not in ("bn", "none", "noisy"):
            raise ValueError(f"norm must be 'bn', 'none' or 'noisy', got {norm!r}")
        if activation not in ("relu", "sigmoid"):
            raise ValueError(f"activation must be 'relu' or 'sigmoid', got {activation!r}")
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=norm == "none")
        self.bn = {"bn": nn.BatchNorm2d, "noisy": NoisyBatchNorm2d}[norm](out_channels) \
            if norm != "none" else None
        self.act = nn.ReLU(inplace=True) if activation == "relu" else nn.Sigmoid()
        self.in_channels, self.out_channels = in_channels, out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        return self.act(x)


class SmallConvNet(nn.Module):
    """The with/without batch norm network of chapter 6, for 3×32×32 inputs: five 3×3
    convolutions (``block1`` … ``block5``: 32, 32, 64, 64, 128 channels), a 2×2 max-pooling
    after the 2nd, 4th and 5th (32 → 16 → 8 → 4), global average pooling and one linear layer
    (``fc``). About 0.15 M parameters and 29 M multiply-adds: small enough for several runs.

    ``batch_norm``: batch norm between each convolution and its nonlinearity (the paper's
    §3.2: BN(Wu), the bias dropped). ``noisy=True`` makes each one a ``NoisyBatchNorm2d``.
    ``activation``: "relu" or "sigmoid".
    """

    widths = (32, 32, 64, 64, 128)

    def __init__(self, num_classes: int = 10, *, batch_norm: bool = True, noisy: bool = False,
                 activation: str = "relu"):
        super().__init__()
        norm = ("noisy" if noisy else "bn") if batch_norm else "none"
        if noisy and not batch_norm:
            raise ValueError("noisy=True is a kind of batch norm: it needs batch_norm=True")
        c_in = 3
        for i, c in enumerate(self.widths, start=1):
            setattr(self, f"block{i}", ConvBlock(c_in, c, norm=norm, activation=activation))
            c_in = c
        self.pool = nn.MaxPool2d(2)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c_in, num_classes)
        self.batch_norm, self.activation = batch_norm, activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.block2(self.block1(x)))
        x = self.pool(self.block4(self.block3(x)))
        x = self.pool(self.block5(x))
        return self.fc(torch.flatten(self.gap(x), 1))
