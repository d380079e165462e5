"""ResNeXt (Xie, Girshick, Dollár, Tu & He, CVPR 2017, "Aggregated residual transformations for
deep neural networks"): chapters/10_resnext.ipynb.

A ResNeXt block is ResNet's bottleneck (chapter 8) whose 3×3 convolution is split into ``C``
("cardinality") parallel paths of width ``d``; its output is x + Σᵢ Tᵢ(x) (Eq. 3). The paper
draws three equivalent forms (Figure 3), all here:

- (a) ``AggregatedBlock``: C separate paths (1×1 → d, 3×3 d → d, 1×1 d → out), summed;
- (b) ``ConcatBlock``: the C paths end after their 3×3, are concatenated, and one 1×1 follows;
- (c) a grouped convolution: ``utils.layers.resnet.Bottleneck(groups=C, base_width=d)``, the
  form the paper trains and torchvision builds.

``from_grouped(block, "a")`` / ``from_grouped(block, "b")`` build (a) or (b) carrying a form-(c)
block's weights (and batch-norm statistics), so that all three compute the same output.
The ImageNet networks are ``utils.layers.resnet.ResNet`` with ``groups``/``width_per_group``
(torchvision's ``resnext50_32x4d`` … module for module); the CIFAR-10 ResNeXt-29 of §5 is
``ResNeXtCIFAR`` (``resnext29_cifar``).
"""

import torch
from torch import nn

from .resnet import Bottleneck, ResNet, _init_weights, _make_stage


# --- the three forms of one block (Figure 3) ---------------------------------------------------

def _path_width(block: Bottleneck) -> tuple[int, int]:
    """(C, d) of a form-(c) block: its 3×3 convolution's groups and the width of one group."""
    groups = block.conv2.groups
    return groups, block.conv2.out_channels // groups


def _split_transform(in_channels: int, width: int, stride: int) -> list:
    """One path's first two layers, as forms (a) and (b) share them: 1×1 conv → ``width``, BN,
    ReLU, 3×3 conv ``width`` → ``width`` with ``stride``, BN, ReLU (indices 0-5 of the path)."""
    return [nn.Conv2d(in_channels, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, width, 3, stride, padding=1, bias=False), nn.BatchNorm2d(width),
            nn.ReLU()]


class AggregatedBlock(nn.Module):
    """Figure 3(a): ``cardinality`` separate paths, each 1×1 conv → ``width`` (BN, ReLU), 3×3 conv
    ``width`` → ``width`` with ``stride`` (BN, ReLU) and 1×1 conv ``width`` → ``out_channels``;
    the paths' outputs are summed (Eq. 2), then one BN, the shortcut is added (Eq. 3) and ReLU.
    The BN sits after the sum: a BN on each path's output would not be a BN of the sum.
    ``downsample`` as in ``Bottleneck`` (None: identity)."""

    def __init__(self, in_channels: int, width: int, out_channels: int, cardinality: int,
                 stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.paths = nn.ModuleList(
            nn.Sequential(*_split_transform(in_channels, width, stride),
                          nn.Conv2d(width, out_channels, 1, bias=False))
            for _ in range(cardinality))
        self.bn = nn.BatchNorm2d(out_channels)
        self.downsample = downsample
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn(sum(path(x) for path in self.paths))           # Σ T_i(x), then BN
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class ConcatBlock(nn.Module):
    """Figure 3(b), "early concatenation": ``cardinality`` paths of 1×1 conv → ``width`` (BN,
    ReLU) and 3×3 conv (BN, ReLU), concatenated into ``cardinality · width`` channels, then one
    1×1 conv → ``out_channels``, BN, the shortcut, ReLU (the form of Inception-ResNet's blocks)."""

    def __init__(self, in_channels: int, width: int, out_channels: int, cardinality: int,
                 stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.paths = nn.ModuleList(nn.Sequential(*_split_transform(in_channels, width, stride))
                                   for _ in range(cardinality))
        self.conv3 = nn.Conv2d(cardinality * width, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.downsample = downsample
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn3(self.conv3(torch.cat([path(x) for path in self.paths], dim=1)))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


def _copy_bn(dst: nn.BatchNorm2d, src: nn.BatchNorm2d, rows=slice(None)) -> None:
    """Copy ``src``'s channels ``rows`` (scale, shift, running statistics) into ``dst``."""
    for name in ("weight", "bias", "running_mean", "running_var"):
        getattr(dst, name).copy_(getattr(src, name)[rows])
    dst.num_batches_tracked.copy_(src.num_batches_tracked)


@torch.no_grad()
def from_grouped(block: Bottleneck, form: str = "a") -> nn.Module:
    """Form (a) (``AggregatedBlock``) or (b) (``ConcatBlock``) of the form-(c) ``block`` (a
    ``Bottleneck`` with a grouped 3×3), carrying its weights: path i gets output channels
    i·d … (i+1)·d of the first 1×1 and of the grouped 3×3 (group i), their batch norms' channels,
    and, in form (a), input channels i·d … (i+1)·d of the last 1×1. The last BN and the shortcut
    are shared (the same module in form (a)/(b) and in ``block``). The result computes the
    same output as ``block``, in training and in evaluation mode. Needs the v1.5 stride (on the
    3×3) and no SE."""
    if form not in ("a", "b"):
        raise ValueError(f"form must be 'a' (separate paths) or 'b' (early concatenation), "
                         f"got {form!r}")
    if getattr(block, "stride_on", "conv2") != "conv2" or getattr(block, "se", None) is not None:
        raise ValueError("from_grouped needs a Bottleneck with the stride on its 3×3 and no SE")
    groups, d = _path_width(block)
    kind = AggregatedBlock if form == "a" else ConcatBlock
    new = kind(block.conv1.in_channels, d, block.conv3.out_channels, groups,
               block.conv2.stride[0], block.downsample)
    for i, path in enumerate(new.paths):
        rows = slice(i * d, (i + 1) * d)
        path[0].weight.copy_(block.conv1.weight[rows])
        _copy_bn(path[1], block.bn1, rows)
        path[3].weight.copy_(block.conv2.weight[rows])             # group i's filters
        _copy_bn(path[4], block.bn2, rows)
        if form == "a":
            path[6].weight.copy_(block.conv3.weight[:, rows])      # the 1×1 on path i's channels
    if form == "a":
        _copy_bn(new.bn, block.bn3)
    else:
        new.conv3.weight.copy_(block.conv3.weight)
        _copy_bn(new.bn3, block.bn3)
    return new.train(block.training)


# --- the ImageNet networks (Table 1) -----------------------------------------------------------

def resnext50_32x4d(num_classes=1000, **kwargs):
    """ResNeXt-50 (32×4d), Table 1 of the paper: ResNet-50's layout with 32 paths of width 4 in
    conv2 (128 channels in the 3×3, 2× ResNet's 64) … conv5; 25,028,904 parameters, equal to
    torchvision's ``resnext50_32x4d``."""
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes, groups=32, width_per_group=4, **kwargs)


def resnext101_32x4d(num_classes=1000, **kwargs):
    """ResNeXt-101 (32×4d), Table 3 of the paper (21.2% top-1); 44,177,704 parameters (timm's
    ``resnext101_32x4d``; torchvision has no 32×4d 101)."""
    return ResNet(Bottleneck, [3, 4, 23, 3], num_classes, groups=32, width_per_group=4, **kwargs)


def resnext101_32x8d(num_classes=1000, **kwargs):
    """ResNeXt-101 (32×8d), torchvision's ``resnext101_32x8d`` (88,791,336 parameters): twice the
    width of each path, not in the paper's tables."""
    return ResNet(Bottleneck, [3, 4, 23, 3], num_classes, groups=32, width_per_group=8, **kwargs)


def resnext101_64x4d(num_classes=1000, **kwargs):
    """ResNeXt-101 (64×4d), Tables 4 and 5 of the paper (20.4% top-1 at 224); 83,455,272
    parameters, equal to torchvision's ``resnext101_64x4d``."""
    return ResNet(Bottleneck, [3, 4, 23, 3], num_classes, groups=64, width_per_group=4, **kwargs)


# --- CIFAR-10: ResNeXt-29 (§5 and the appendix) ------------------------------------------------

class ResNeXtCIFAR(nn.Module):
    """The paper's CIFAR network (§5, appendix): a 3×3 convolution to ``base`` channels (``conv1``,
    ``bn1``, ``relu``), three stages ``layer1`` … ``layer3`` of ``blocks`` bottleneck blocks on
    32×32, 16×16 and 8×8 maps (stride 2 on the 3×3 of the first block of stages 2 and 3), global
    average pooling and ``fc``: 9·blocks + 2 weighted layers (29 for 3 blocks).

    ``cardinality`` C and ``width`` d are the paper's "C×dd": the 3×3 of stage i has C paths of
    width d·2ⁱ (rule 2: double the width when the map halves), as one grouped convolution.
    ``base``: the stem's width and a quarter of stage 1's output width. The paper's 64 gives
    outputs 256, 512, 1024 (ResNeXt-29 8×64d: 34.4 M parameters, 16×64d: 68.1 M, Table 7); a
    smaller ``base`` scales every width but the paths' by base/64 (the course trains ``base=16``,
    a quarter of the paper's widths, with d scaled by the same quarter). Shortcuts: identity, or
    a 1×1 projection with BN where the shape changes (option B), as in the authors' code; the
    stride sits on the 3×3, as in the authors' code and torchvision.
    """

    def __init__(self, cardinality: int = 8, width: int = 64, base: int = 64, blocks: int = 3,
                 num_classes: int = 10, in_channels: int = 3):
        super().__init__()
        if (width * 64) % base:
            raise ValueError(f"width·64 must be a multiple of base (the bottleneck's inner width "
                             f"is computed as torchvision's base_width/64 rule), got width={width}, "
                             f"base={base}")
        self.cardinality, self.width, self.base = cardinality, width, base
        self.conv1 = nn.Conv2d(in_channels, base, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(base)
        self.relu = nn.ReLU(inplace=True)
        kwargs = dict(groups=cardinality, base_width=width * 64 // base)
        c = base
        for i, stride in enumerate((1, 2, 2)):
            self.add_module(f"layer{i + 1}", _make_stage(Bottleneck, c, base * 2 ** i, blocks,
                                                         stride, **kwargs))
            c = base * 2 ** i * Bottleneck.expansion
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(c, num_classes)
        _init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnext29_cifar(cardinality: int = 8, width: int = 64, base: int = 64, num_classes: int = 10):
    """ResNeXt-29 (C×dd) for CIFAR-10 (§5): ``resnext29_cifar(8, 64)`` is the paper's 8×64d
    (34.4 M parameters, Table 7), ``resnext29_cifar(16, 64)`` its 16×64d (68.1 M); ``base`` < 64
    shrinks the block's input and output widths for a small budget (the course trains ``base=16``)."""
    return ResNeXtCIFAR(cardinality, width, base, 3, num_classes)
