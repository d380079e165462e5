"""ResNet (He, Zhang, Ren & Sun, 2016, "Deep residual learning for image recognition"):
chapters/08_resnet.ipynb.

The two residual blocks (``BasicBlock``, ``Bottleneck``, Figure 5), the paper's ImageNet network
``ResNet`` (Table 1) with its builders ``resnet18()`` … ``resnet152()``, the paper's CIFAR-10
networks of §4.2 (``ResNetCIFAR``, built by ``resnet_cifar()``), with or without shortcuts, and
the course's ResNet-18 for CIFAR-10 (``resnet18_cifar()``: kuangliu/pytorch-cifar's 3×3 stem).
``ResNet`` is torchvision's ``ResNet``, module for module: same names, same state dict, same
initialisation, same output (tests/test_layers_resnet.py), so a pretrained torchvision state dict
loads into it. A block computes relu(F(x) + shortcut(x)): the layers learn the residual F(x) =
H(x) − x, and the identity shortcut lets signals and gradients pass through a deep network.
"""

import torch
import torch.nn.functional as F
from torch import nn

from .common import he_init


class BasicBlock(nn.Module):
    """The two-layer residual block (Figure 5, left) of ResNet-18/34 and of the CIFAR networks:
    3×3 conv–BN–ReLU, 3×3 conv–BN, add the shortcut, ReLU.

    ``channels``: the width of both convolutions, which is also the output width
    (``expansion = 1``). ``stride`` (2 at the start of a stage) sits on the first convolution.
    ``downsample``: the shortcut when the shape changes (torchvision's name; a 1×1 projection, or
    ``ZeroPadShortcut``); ``None`` is the identity. ``residual=False`` drops the shortcut: the
    paper's "plain" block, for the degradation experiment (Figure 1, Figure 6 left).
    ``se``: as in ``Bottleneck``.
    """

    expansion = 1

    def __init__(self, in_channels: int, channels: int, stride: int = 1,
                 downsample: nn.Module | None = None, *, residual: bool = True, se=None):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.se = None if se is None else se(channels)
        self.downsample = downsample
        self.stride, self.residual = stride, residual
        self.in_channels, self.out_channels = in_channels, channels * self.expansion

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.se is not None:
            out = self.se(out)
        if self.residual:
            out = out + (x if self.downsample is None else self.downsample(x))
        return self.relu(out)


class Bottleneck(nn.Module):
    """The three-layer "bottleneck" block (Figure 5, right) of ResNet-50/101/152: a 1×1
    convolution reduces the width to ``channels``, a 3×3 works at that width, a 1×1 expands it to
    ``4 · channels`` (``expansion = 4``), each followed by BN (and ReLU, the last one after the
    addition). The cheap 1×1s make a 50-layer network cost about as much as a 34-layer one.

    ``stride_on``: which convolution subsamples at the start of a stage. ``"conv2"`` (the 3×3,
    the default) is torchvision's "ResNet v1.5", slightly more accurate and more expensive;
    ``"conv1"`` (the first 1×1) is the paper's v1, which looks at only one pixel in four.
    ``downsample`` and ``residual`` as in ``BasicBlock``.

    ``groups`` and ``base_width`` (torchvision's names): ResNeXt's aggregated transformations
    (chapter 10). The inner width is ``channels · base_width / 64 · groups`` and the 3×3 is a
    grouped convolution with ``groups`` groups, so ResNeXt-50 (32×4d) is ``groups=32,
    base_width=4``; the defaults (1, 64) give ResNet's block. ``se``: a function of the block's
    output width returning a module applied to the residual branch before the addition (the
    squeeze-and-excitation block of SENet, chapter 12; timm's name ``se``); ``None``, the
    default, adds nothing.
    """

    expansion = 4

    def __init__(self, in_channels: int, channels: int, stride: int = 1,
                 downsample: nn.Module | None = None, *, stride_on: str = "conv2",
                 residual: bool = True, groups: int = 1, base_width: int = 64, se=None):
        super().__init__()
        if stride_on not in ("conv1", "conv2"):
            raise ValueError(f"stride_on must be 'conv2' (v1.5) or 'conv1' (v1), got {stride_on!r}")
        s1, s2 = (stride, 1) if stride_on == "conv1" else (1, stride)
        out_channels = channels * self.expansion
        width = int(channels * (base_width / 64.0)) * groups
        self.conv1 = nn.Conv2d(in_channels, width, 1, s1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, s2, padding=1, groups=groups, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.se = None if se is None else se(out_channels)
        self.downsample = downsample
        self.stride, self.stride_on, self.residual = stride, stride_on, residual
        self.in_channels, self.out_channels = in_channels, out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.se is not None:
            out = self.se(out)
        if self.residual:
            out = out + (x if self.downsample is None else self.downsample(x))
        return self.relu(out)


class ZeroPadShortcut(nn.Module):
    """The paper's shortcut option A (§3.3): the identity, subsampled by taking every
    ``stride``-th pixel, with the missing channels filled with zeros (put after the input's
    channels). No parameters, so a network with it has exactly the plain network's count."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 2):
        super().__init__()
        self.in_channels, self.out_channels, self.stride = in_channels, out_channels, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, ::self.stride, ::self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.out_channels - self.in_channels))

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, stride={self.stride}"


def _projection(in_channels: int, out_channels: int, stride: int) -> nn.Sequential:
    """Shortcut option B: a 1×1 convolution with the block's stride, then BN (torchvision's
    ``downsample``, numbered ``0`` and ``1``)."""
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                         nn.BatchNorm2d(out_channels))


def _init_weights(model: nn.Module, zero_init_residual: bool = False):
    """torchvision's initialisation: He et al.'s normal rule with the fan-out for convolutions
    (the paper's own rule, [13] in its references), BN scale 1 and shift 0; linear layers keep
    PyTorch's default. ``zero_init_residual`` zeroes each block's last BN scale, so that every
    block starts as the identity (Goyal et al., 2017)."""
    he_init(model)
    if zero_init_residual:
        for m in model.modules():
            if isinstance(m, (BasicBlock, Bottleneck)):
                nn.init.zeros_(m.bn3.weight if isinstance(m, Bottleneck) else m.bn2.weight)


def _make_stage(block, in_channels, channels, blocks, stride, shortcut="B", **kwargs):
    """One stage (torchvision's ``layerN``): ``blocks`` blocks of width ``channels``, the first
    with ``stride``; it gets a shortcut when the shape changes ("A": zero padding, "B": 1×1
    projection; none in a plain network)."""
    out_channels = channels * block.expansion
    downsample = None
    if (stride != 1 or in_channels != out_channels) and kwargs.get("residual", True):
        downsample = (ZeroPadShortcut(in_channels, out_channels, stride) if shortcut == "A"
                      else _projection(in_channels, out_channels, stride))
    layers = [block(in_channels, channels, stride, downsample, **kwargs)]
    layers += [block(out_channels, channels, **kwargs) for _ in range(1, blocks)]
    return nn.Sequential(*layers)


class ResNet(nn.Module):
    """The paper's ImageNet network (Table 1) for 224×224 inputs: a 7×7 stride-2 convolution
    (``conv1``, ``bn1``, ``relu``) and 3×3 stride-2 max-pooling (224 → 56), four stages
    ``layer1`` … ``layer4`` of ``layers[i]`` blocks with widths 64, 128, 256, 512 (times
    ``block.expansion``), each after the first halving the size (56 → 7), global average pooling
    and one linear layer ``fc``. Shortcuts are identities, or 1×1 projections where the shape
    changes (the paper's option B). Equal to torchvision's ``ResNet`` (module names, state dict,
    initialisation, outputs); ``stride_on="conv1"`` gives the paper's v1 bottleneck instead.

    ``groups``, ``width_per_group`` (torchvision's names for ResNeXt, chapter 10) and ``se``
    (SENet, chapter 12) are handed to every ``Bottleneck`` (``se`` also to a ``BasicBlock``).

    ``stem="cifar"``: the stem for 32×32 inputs of kuangliu/pytorch-cifar (the course's
    ResNet-18 for CIFAR-10, ``resnet18_cifar``): ``conv1`` a 3×3 convolution with stride 1 and
    no max-pooling (``maxpool`` is ``nn.Identity``), so that the four stages see 32, 16, 8 and 4
    pixels; every other module is unchanged.
    """

    def __init__(self, block, layers, num_classes: int = 1000, *, zero_init_residual: bool = False,
                 stride_on: str = "conv2", in_channels: int = 3, stem: str = "imagenet",
                 groups: int = 1, width_per_group: int = 64, se=None):
        super().__init__()
        if stem not in ("imagenet", "cifar"):
            raise ValueError(f"stem must be 'imagenet' (7×7 /2 and max-pooling) or 'cifar' "
                             f"(3×3 /1, no pooling), got stem={stem!r}")
        kwargs = {"se": se}
        if block is Bottleneck:
            kwargs.update(stride_on=stride_on, groups=groups, base_width=width_per_group)
        elif (groups, width_per_group) != (1, 64):
            raise ValueError("groups and width_per_group need the Bottleneck block (ResNeXt); "
                             f"got groups={groups}, width_per_group={width_per_group} with "
                             f"{block.__name__}")
        if stem == "imagenet":
            self.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        else:
            self.conv1 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = (nn.MaxPool2d(kernel_size=3, stride=2, padding=1) if stem == "imagenet"
                        else nn.Identity())
        c = 64
        for i, (width, n) in enumerate(zip((64, 128, 256, 512), layers), start=1):
            stage = _make_stage(block, c, width, n, 1 if i == 1 else 2, **kwargs)
            self.add_module(f"layer{i}", stage)
            c = width * block.expansion
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(c, num_classes)
        _init_weights(self, zero_init_residual)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet18(num_classes=1000, **kwargs):
    """ResNet-18 (Table 1): ``BasicBlock`` × [2, 2, 2, 2]; 11.7 M parameters."""
    return ResNet(BasicBlock, [2, 2, 2, 2], num_classes, **kwargs)


def resnet18_cifar(num_classes=10, **kwargs):
    """The course's ResNet-18 for CIFAR-10 (kuangliu/pytorch-cifar's): ``resnet18`` with the
    ``stem="cifar"`` (3×3 stride-1 ``conv1``, no max-pooling); 11,173,962 parameters, 0.56 G
    multiply-adds per 32×32 image."""
    return ResNet(BasicBlock, [2, 2, 2, 2], num_classes, stem="cifar", **kwargs)


def resnet34(num_classes=1000, **kwargs):
    """ResNet-34 (Table 1): ``BasicBlock`` × [3, 4, 6, 3]; 21.8 M parameters."""
    return ResNet(BasicBlock, [3, 4, 6, 3], num_classes, **kwargs)


def resnet50(num_classes=1000, **kwargs):
    """ResNet-50 (Table 1): ``Bottleneck`` × [3, 4, 6, 3]; 25.6 M parameters. torchvision's v1.5
    by default; ``stride_on="conv1"`` for the paper's v1 (same parameters, fewer multiply-adds)."""
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes, **kwargs)


def resnet101(num_classes=1000, **kwargs):
    """ResNet-101 (Table 1): ``Bottleneck`` × [3, 4, 23, 3]; 44.5 M parameters."""
    return ResNet(Bottleneck, [3, 4, 23, 3], num_classes, **kwargs)


def resnet152(num_classes=1000, **kwargs):
    """ResNet-152 (Table 1): ``Bottleneck`` × [3, 8, 36, 3]; 60.2 M parameters."""
    return ResNet(Bottleneck, [3, 8, 36, 3], num_classes, **kwargs)


class ResNetCIFAR(nn.Module):
    """The paper's CIFAR-10 networks (§4.2) for 3×32×32 inputs, 6n + 2 weighted layers: a 3×3
    convolution to 16 channels, three stages of n ``BasicBlock``s (2n layers each) with 16, 32,
    64 channels on 32×32, 16×16, 8×8 maps (the first block of stages 2 and 3 has stride 2),
    global average pooling and ``fc``. n = 3, 5, 7, 9, 18 give ResNet-20, 32, 44, 56, 110.

    ``shortcut``: "A" (the paper's choice here: zero-padding identity, no parameters) or "B" (1×1
    projections at the two changes of shape). ``plain=True``: the same layers without shortcuts
    (the plain networks of Figure 6, left), with the same state dict as option A. ``se``: as in
    ``BasicBlock``, for every block (SENet's CIFAR networks, chapter 12).
    """

    def __init__(self, depth: int = 20, num_classes: int = 10, *, shortcut: str = "A",
                 plain: bool = False, in_channels: int = 3, se=None):
        super().__init__()
        if not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
            raise ValueError(f"depth must be 6n + 2 for a whole n ≥ 1 (20, 32, 44, 56, 110, …), "
                             f"got depth={depth!r}")
        if shortcut not in ("A", "B"):
            raise ValueError(f"shortcut must be 'A' (zero padding) or 'B' (projection), "
                             f"got shortcut={shortcut!r}")
        n = (depth - 2) // 6
        self.depth, self.shortcut, self.plain = depth, shortcut, plain
        self.conv1 = nn.Conv2d(in_channels, 16, kernel_size=3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = _make_stage(BasicBlock, 16, 16, n, 1, shortcut, residual=not plain,
                                  se=se)
        self.layer2 = _make_stage(BasicBlock, 16, 32, n, 2, shortcut, residual=not plain,
                                  se=se)
        self.layer3 = _make_stage(BasicBlock, 32, 64, n, 2, shortcut, residual=not plain,
                                  se=se)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(64, num_classes)
        _init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet_cifar(depth: int = 20, shortcut: str = "A", plain: bool = False,
                 num_classes: int = 10):
    """The paper's CIFAR-10 ResNet-``depth`` (§4.2; depth = 6n + 2): a ``ResNetCIFAR``.
    ``resnet_cifar(20)`` has 0.27 M parameters, ``resnet_cifar(110)`` 1.7 M (Table 6)."""
    return ResNetCIFAR(depth, num_classes, shortcut=shortcut, plain=plain)
