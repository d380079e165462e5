"""Inception-v4 and Inception-ResNet (Szegedy, Ioffe, Vanhoucke & Alemi, AAAI 2017, "Inception-v4,
Inception-ResNet and the Impact of Residual Connections on Learning"): chapter 9.

The paper draws its networks as figures of modules. The classes here carry the paper's names;
their sub-modules are created in the order of timm's code (ported from Google's TF-slim
release, whose weights timm loads), so that ``same_as_reference(ours, timm_model,
mapping="order")`` pairs every tensor:

======================  ===============  =================================================
here (the paper)        timm             what it is
======================  ===============  =================================================
``StemV4``              features.0-5     Figure 3: 299×299×3 → 35×35×384 (Inception-v4,
                                         and the paper's Inception-ResNet-v2)
``InceptionA``          InceptionA       Figure 4: the 35×35 module, 384 channels
``ReductionA``          ReductionA       Figure 7: 35 → 17, with Table 1's k, l, m, n
``InceptionB``          InceptionB       Figure 5: the 17×17 module, 1024 channels
``ReductionB``          ReductionB       Figure 8: 17 → 8 (Inception-v4)
``InceptionC``          InceptionC       Figure 6: the 8×8 module, 1536 channels
``InceptionResNetA``    Block35          Figures 10 and 16: 35×35 residual block
``InceptionResNetB``    Block17          Figures 11 and 17: 17×17 residual block
``ReductionBRes``       Mixed_7a         Figures 12 and 18: 17 → 8 for the residual nets
``InceptionResNetC``    Block8           Figures 13 and 19: 8×8 residual block
======================  ===============  =================================================

Where Google's released code (and so timm) departs from the figures, the default is the code,
so that the networks equal timm's; ``order="paper"`` builds the figures' order of the 1×n and
n×1 convolutions instead (same parameters, different function). The departures, all
documented in chapters/09_inception_v4.ipynb:

- Figure 3's stem: the right branch of its second split is 7×1 then 1×7 in the figure, 1×7 then
  7×1 in the code; the last 3×3 convolution (192, "V") needs stride 2 to reach 35×35.
- Figures 5 and 6: the 1×7/7×1 (Inception-B) and 1×3/3×1 (Inception-C) pairs come in the other
  order in the code.
- Inception-ResNet-v2: the released network (timm's ``inception_resnet_v2``) has Inception-v3's
  stem plus a "Mixed_5b" module (320 channels), not Figure 3's stem (384); its blocks carry 320,
  1088 and 2080 channels where Figures 16, 17 and 19 say 384, 1154 and 2048 (which do not add
  up: Reduction-A gives 1152, Reduction-B 2146); 10/20/10 blocks where Figure 15 has 5/10/5;
  and a final 1×1 convolution to 1536 channels after a last, unscaled block without ReLU.

``InceptionV4`` equals ``timm.create_model("inception_v4")`` (42,679,816 parameters) and
``InceptionResNetV2`` equals ``timm.create_model("inception_resnet_v2")`` (55,843,464):
same parameters, same state dict in order, same output (tests/test_layers_inception_v4.py).
``inception_resnet_v1()`` builds the paper's Inception-ResNet-v1 from Figures 10–14 (no
reference implementation exists). ``inception_resnet_cifar()`` is the course's small
Inception-ResNet for 32×32 images, with ``residual=False`` for the same network without its
shortcuts.

Every convolution except the residual blocks' last 1×1 is ``BasicConv2d`` (convolution without
bias, batch norm with eps = 0.001, ReLU), from ``utils.layers.googlenet``. The residual blocks'
last 1×1 is "linear" (the figures' word): a convolution with a bias, no batch norm, no ReLU.
"""

import torch
import torch.nn.functional as F
from torch import nn

from .common import he_init
from .googlenet import BasicConv2d

#: timm's classes -> the paper's module (the class here).
TIMM_CLASSES = {
    "Mixed3a, Mixed4a, Mixed5a": "StemV4", "InceptionA": "InceptionA",
    "ReductionA": "ReductionA", "InceptionB": "InceptionB", "ReductionB": "ReductionB",
    "InceptionC": "InceptionC", "Block35": "InceptionResNetA", "Block17": "InceptionResNetB",
    "Mixed_7a": "ReductionBRes", "Block8": "InceptionResNetC",
}

#: Table 1 of the paper: the filters k, l, m, n of Reduction-A (Figure 7) in each network.
REDUCTION_A_TABLE_1 = {
    "Inception-v4": (192, 224, 256, 384),
    "Inception-ResNet-v1": (192, 192, 256, 384),
    "Inception-ResNet-v2": (256, 256, 384, 384),
}


def _conv(c_in, c_out, kernel_size, stride=1, padding=0):
    return BasicConv2d(c_in, c_out, kernel_size, stride=stride, padding=padding)


def _row(c_in, c_out, n):
    """A 1×n convolution with 'same' padding."""
    return BasicConv2d(c_in, c_out, (1, n), padding=(0, n // 2))


def _col(c_in, c_out, n):
    """An n×1 convolution with 'same' padding."""
    return BasicConv2d(c_in, c_out, (n, 1), padding=(n // 2, 0))


def _pair(order, code_first_row):
    """The two factorised convolutions (1×n, n×1) in the code's order (``code_first_row``: the
    1×n first) or in the figure's, which is the other one everywhere."""
    if order not in ("code", "paper"):
        raise ValueError(f"order must be 'code' (Google's release, timm) or 'paper', got {order!r}")
    first_row = code_first_row if order == "code" else not code_first_row
    return (_row, _col) if first_row else (_col, _row)


def _avg_pool():
    # 3×3 average pooling, stride 1, 'same'; the padding is not counted in the average (TF's
    # 'SAME' pooling, and timm's count_include_pad=False)
    return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)


class StemV4(nn.Module):
    """The stem of Inception-v4 (Figure 3): 299×299×3 → 35×35×384 (in_channels → 2·``c``).

    conv1 (3×3/2 V, 32) 149, conv2 (3×3 V, 32) 147, conv3 (3×3 same, 64) 147; then three splits,
    each concatenated: [3×3/2 V max-pooling ‖ 3×3/2 V conv 96] → 73×73×160; [1×1 64, 3×3 V 96 ‖
    1×1 64, 1×7 64, 7×1 64, 3×3 V 96] → 71×71×192; [3×3/2 V conv 192 ‖ 3×3/2 V max-pooling] →
    35×35×384. ``order="paper"`` puts the 7×1 first, as the figure draws it.
    """

    def __init__(self, in_channels: int = 3, *, order: str = "code"):
        super().__init__()
        first, second = _pair(order, code_first_row=True)
        self.conv1 = _conv(in_channels, 32, 3, stride=2)
        self.conv2 = _conv(32, 32, 3)
        self.conv3 = _conv(32, 64, 3, padding=1)
        self.mixed_3a_pool = nn.MaxPool2d(3, stride=2)
        self.mixed_3a_conv = _conv(64, 96, 3, stride=2)
        self.mixed_4a_branch0 = nn.Sequential(_conv(160, 64, 1), _conv(64, 96, 3))
        self.mixed_4a_branch1 = nn.Sequential(_conv(160, 64, 1), first(64, 64, 7),
                                              second(64, 64, 7), _conv(64, 96, 3))
        self.mixed_5a_conv = _conv(192, 192, 3, stride=2)
        self.mixed_5a_pool = nn.MaxPool2d(3, stride=2)
        self.out_channels = 384

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv3(self.conv2(self.conv1(x)))
        x = torch.cat([self.mixed_3a_pool(x), self.mixed_3a_conv(x)], 1)
        x = torch.cat([self.mixed_4a_branch0(x), self.mixed_4a_branch1(x)], 1)
        return torch.cat([self.mixed_5a_conv(x), self.mixed_5a_pool(x)], 1)


class InceptionA(nn.Module):
    """Inception-A (Figure 4), the 35×35 module: [1×1 96 ‖ 1×1 64, 3×3 96 ‖ 1×1 64, 3×3 96,
    3×3 96 ‖ 3×3 average pooling, 1×1 96] → 384 channels. ``w`` divides every width (CIFAR)."""

    def __init__(self, in_channels: int = 384, *, w: int = 1):
        super().__init__()
        self.branch0 = _conv(in_channels, 96 // w, 1)
        self.branch1 = nn.Sequential(_conv(in_channels, 64 // w, 1),
                                     _conv(64 // w, 96 // w, 3, padding=1))
        self.branch2 = nn.Sequential(_conv(in_channels, 64 // w, 1),
                                     _conv(64 // w, 96 // w, 3, padding=1),
                                     _conv(96 // w, 96 // w, 3, padding=1))
        self.branch3 = nn.Sequential(_avg_pool(), _conv(in_channels, 96 // w, 1))
        self.in_channels, self.out_channels = in_channels, 4 * (96 // w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)], 1)


class ReductionA(nn.Module):
    """Reduction-A (Figure 7), 35×35 → 17×17: [3×3/2 V max-pooling ‖ 3×3/2 V conv n ‖ 1×1 k,
    3×3 l, 3×3/2 V m]; output in_channels + n + m. Table 1 gives k, l, m, n for each network
    (``REDUCTION_A_TABLE_1``). ``padding=1`` halves even sizes (CIFAR: 32 → 16)."""

    def __init__(self, in_channels: int, k: int, l: int, m: int, n: int,  # noqa: E741
                 *, padding: int = 0):
        super().__init__()
        self.branch0 = _conv(in_channels, n, 3, stride=2, padding=padding)
        self.branch1 = nn.Sequential(_conv(in_channels, k, 1), _conv(k, l, 3, padding=1),
                                     _conv(l, m, 3, stride=2, padding=padding))
        self.branch2 = nn.MaxPool2d(3, stride=2, padding=padding)
        self.in_channels, self.out_channels = in_channels, in_channels + n + m

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch0(x), self.branch1(x), self.branch2(x)], 1)


class InceptionB(nn.Module):
    """Inception-B (Figure 5), the 17×17 module: [1×1 384 ‖ 1×1 192, 1×7 224, 7×1 256 ‖ 1×1
    192, 7×1 192, 1×7 224, 7×1 224, 1×7 256 (the figure: 1×7 first) ‖ 3×3 average pooling,
    1×1 128] → 1024 channels."""

    def __init__(self, in_channels: int = 1024, *, order: str = "code"):
        super().__init__()
        a, b = _pair(order, code_first_row=False)   # the double branch: code 7×1 first
        self.branch0 = _conv(in_channels, 384, 1)
        self.branch1 = nn.Sequential(_conv(in_channels, 192, 1), _row(192, 224, 7),
                                     _col(224, 256, 7))
        self.branch2 = nn.Sequential(_conv(in_channels, 192, 1), a(192, 192, 7), b(192, 224, 7),
                                     a(224, 224, 7), b(224, 256, 7))
        self.branch3 = nn.Sequential(_avg_pool(), _conv(in_channels, 128, 1))
        self.in_channels, self.out_channels = in_channels, 1024

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)], 1)


class ReductionB(nn.Module):
    """Reduction-B of Inception-v4 (Figure 8), 17×17 → 8×8: [3×3/2 V max-pooling ‖ 1×1 192,
    3×3/2 V 192 ‖ 1×1 256, 1×7 256, 7×1 320, 3×3/2 V 320] → 1024 + 192 + 320 = 1536."""

    def __init__(self, in_channels: int = 1024):
        super().__init__()
        self.branch0 = nn.Sequential(_conv(in_channels, 192, 1), _conv(192, 192, 3, stride=2))
        self.branch1 = nn.Sequential(_conv(in_channels, 256, 1), _row(256, 256, 7),
                                     _col(256, 320, 7), _conv(320, 320, 3, stride=2))
        self.branch2 = nn.MaxPool2d(3, stride=2)
        self.in_channels, self.out_channels = in_channels, in_channels + 192 + 320

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch0(x), self.branch1(x), self.branch2(x)], 1)


class InceptionC(nn.Module):
    """Inception-C (Figure 6), the 8×8 module: [1×1 256 ‖ 1×1 384 → (1×3 256 ‖ 3×1 256) ‖
    1×1 384, 3×1 448, 1×3 512 (the figure: 1×3 first) → (1×3 256 ‖ 3×1 256) ‖ 3×3 average
    pooling, 1×1 256] → 1536 channels. Names as timm's."""

    def __init__(self, in_channels: int = 1536, *, order: str = "code"):
        super().__init__()
        a, b = _pair(order, code_first_row=False)
        self.branch0 = _conv(in_channels, 256, 1)
        self.branch1_0 = _conv(in_channels, 384, 1)
        self.branch1_1a = _row(384, 256, 3)
        self.branch1_1b = _col(384, 256, 3)
        self.branch2_0 = _conv(in_channels, 384, 1)
        self.branch2_1 = a(384, 448, 3)
        self.branch2_2 = b(448, 512, 3)
        self.branch2_3a = _row(512, 256, 3)
        self.branch2_3b = _col(512, 256, 3)
        self.branch3 = nn.Sequential(_avg_pool(), _conv(in_channels, 256, 1))
        self.in_channels, self.out_channels = in_channels, 1536

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1_0(x)
        b2 = self.branch2_2(self.branch2_1(self.branch2_0(x)))
        return torch.cat([self.branch0(x), self.branch1_1a(b1), self.branch1_1b(b1),
                          self.branch2_3a(b2), self.branch2_3b(b2), self.branch3(x)], 1)


class InceptionV4(nn.Module):
    """Inception-v4 (Figure 9): stem, 4 × Inception-A, Reduction-A (k, l, m, n = 192, 224, 256,
    384), 7 × Inception-B, Reduction-B, 3 × Inception-C, global average pooling, dropout (keep
    0.8, so p = 0.2), a 1536 → ``num_classes`` linear layer. Grids 299 → 35 → 17 → 8.

    Equal to ``timm.create_model("inception_v4")`` with ``mapping="order"`` (timm numbers its
    modules ``features.0`` … ``features.21``; timm's dropout is 0 by default; the same in
    evaluation mode). ``order="paper"`` builds the figures' order of the factorised pairs.
    """

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, *, dropout: float = 0.2,
                 order: str = "code"):
        super().__init__()
        self.stem = StemV4(in_channels, order=order)
        self.inception_a = nn.Sequential(*[InceptionA(384) for _ in range(4)])
        self.reduction_a = ReductionA(384, *REDUCTION_A_TABLE_1["Inception-v4"])
        self.inception_b = nn.Sequential(*[InceptionB(1024, order=order) for _ in range(7)])
        self.reduction_b = ReductionB(1024)
        self.inception_c = nn.Sequential(*[InceptionC(1536, order=order) for _ in range(3)])
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(1536, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.inception_a(self.stem(x))
        x = self.inception_b(self.reduction_a(x))
        x = self.inception_c(self.reduction_b(x))
        return self.fc(self.dropout(torch.flatten(self.avgpool(x), 1)))


# --- Inception-ResNet --------------------------------------------------------------------------

class _Residual(nn.Module):
    """What the three residual blocks share: branches concatenated, a linear 1×1 back to the
    input's width (``conv2d``, with a bias, no batch norm), scaled by ``scale`` and added to the
    input, then a ReLU (``relu=False``: none, as in the released network's last block).
    ``residual=False``: the same layers without the shortcut, relu(conv2d(branches)), as the
    CIFAR-10 experiment's plain network."""

    def _finish(self, branches, x):
        out = self.conv2d(torch.cat(branches, 1))
        out = out * self.scale + x if self.residual else out
        return self.act(out) if self.act is not None else out


class InceptionResNetA(_Residual):
    """The 35×35 residual block (Figure 10: v1, 256 channels; Figure 16: v2): [1×1 c0 ‖ 1×1 c1,
    3×3 c1 ‖ 1×1 c2[0], 3×3 c2[1], 3×3 c2[2]] → 1×1 linear to ``in_channels``, × scale, + x,
    ReLU. Defaults: v2 (32; 32, 32; 32, 48, 64). v1: c2 = (32, 32, 32)."""

    def __init__(self, in_channels: int = 320, scale: float = 0.17, *, c0: int = 32,
                 c1: int = 32, c2=(32, 48, 64), residual: bool = True, relu: bool = True):
        super().__init__()
        self.scale, self.residual = scale, residual
        self.branch0 = _conv(in_channels, c0, 1)
        self.branch1 = nn.Sequential(_conv(in_channels, c1, 1), _conv(c1, c1, 3, padding=1))
        self.branch2 = nn.Sequential(_conv(in_channels, c2[0], 1),
                                     _conv(c2[0], c2[1], 3, padding=1),
                                     _conv(c2[1], c2[2], 3, padding=1))
        self.conv2d = nn.Conv2d(c0 + c1 + c2[2], in_channels, 1)
        self.act = nn.ReLU() if relu else None
        self.in_channels = self.out_channels = in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._finish([self.branch0(x), self.branch1(x), self.branch2(x)], x)


class InceptionResNetB(_Residual):
    """The 17×17 residual block (Figure 11: v1, 896 channels, 128 everywhere; Figure 17: v2):
    [1×1 c0 ‖ 1×1 c1[0], 1×7 c1[1], 7×1 c1[2]] → 1×1 linear, × scale, + x, ReLU. Defaults: v2
    (192; 128, 160, 192), 1088 channels as released (the figure: 1154)."""

    def __init__(self, in_channels: int = 1088, scale: float = 0.10, *, c0: int = 192,
                 c1=(128, 160, 192), n: int = 7, residual: bool = True, relu: bool = True):
        super().__init__()
        self.scale, self.residual = scale, residual
        self.branch0 = _conv(in_channels, c0, 1)
        self.branch1 = nn.Sequential(_conv(in_channels, c1[0], 1), _row(c1[0], c1[1], n),
                                     _col(c1[1], c1[2], n))
        self.conv2d = nn.Conv2d(c0 + c1[2], in_channels, 1)
        self.act = nn.ReLU() if relu else None
        self.in_channels = self.out_channels = in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._finish([self.branch0(x), self.branch1(x)], x)


class InceptionResNetC(_Residual):
    """The 8×8 residual block (Figure 13: v1, 1792 channels, 192 everywhere; Figure 19: v2):
    [1×1 c0 ‖ 1×1 c1[0], 1×3 c1[1], 3×1 c1[2]] → 1×1 linear, × scale, + x, ReLU. Defaults: v2
    (192; 192, 224, 256), 2080 channels as released (the figure: 2048)."""

    def __init__(self, in_channels: int = 2080, scale: float = 0.20, *, c0: int = 192,
                 c1=(192, 224, 256), residual: bool = True, relu: bool = True):
        super().__init__()
        self.scale, self.residual = scale, residual
        self.branch0 = _conv(in_channels, c0, 1)
        self.branch1 = nn.Sequential(_conv(in_channels, c1[0], 1), _row(c1[0], c1[1], 3),
                                     _col(c1[1], c1[2], 3))
        self.conv2d = nn.Conv2d(c0 + c1[2], in_channels, 1)
        self.act = nn.ReLU() if relu else None
        self.in_channels = self.out_channels = in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._finish([self.branch0(x), self.branch1(x)], x)


class ReductionBRes(nn.Module):
    """Reduction-B of the residual networks (Figure 12: v1; Figure 18: v2), 17 → 8: [3×3/2 V
    max-pooling ‖ 1×1 256, 3×3/2 V c0 ‖ 1×1 256, 3×3/2 V c1 ‖ 1×1 256, 3×3 c2[0], 3×3/2 V
    c2[1]]. Defaults: v2 (384; 288; 288, 320); v1: (384; 256; 256, 256)."""

    def __init__(self, in_channels: int = 1088, *, red: int = 256, c0: int = 384, c1: int = 288,
                 c2=(288, 320), padding: int = 0):
        super().__init__()
        self.branch0 = nn.Sequential(_conv(in_channels, red, 1),
                                     _conv(red, c0, 3, stride=2, padding=padding))
        self.branch1 = nn.Sequential(_conv(in_channels, red, 1),
                                     _conv(red, c1, 3, stride=2, padding=padding))
        self.branch2 = nn.Sequential(_conv(in_channels, red, 1), _conv(red, c2[0], 3, padding=1),
                                     _conv(c2[0], c2[1], 3, stride=2, padding=padding))
        self.branch3 = nn.MaxPool2d(3, stride=2, padding=padding)
        self.in_channels, self.out_channels = in_channels, in_channels + c0 + c1 + c2[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)], 1)


class StemV3(nn.Module):
    """The stem of the *released* Inception-ResNet-v2 (timm's ``conv2d_1a`` … ``mixed_5b``):
    Inception-v3's stem (3×3/2 32, 3×3 32, 3×3 64, max-pool, 1×1 80, 3×3 192, max-pool: 299 →
    35×35×192), then a "Mixed_5b" module [1×1 96 ‖ 1×1 48, 5×5 64 ‖ 1×1 64, 3×3 96, 3×3 96 ‖
    avg-pool, 1×1 64] → 320 channels. Not in the paper, whose v2 uses Figure 3's stem (384)."""

    def __init__(self, in_channels: int = 3):
        super().__init__()
        self.conv2d_1a = _conv(in_channels, 32, 3, stride=2)
        self.conv2d_2a = _conv(32, 32, 3)
        self.conv2d_2b = _conv(32, 64, 3, padding=1)
        self.maxpool_3a = nn.MaxPool2d(3, stride=2)
        self.conv2d_3b = _conv(64, 80, 1)
        self.conv2d_4a = _conv(80, 192, 3)
        self.maxpool_5a = nn.MaxPool2d(3, stride=2)
        self.branch0 = _conv(192, 96, 1)
        self.branch1 = nn.Sequential(_conv(192, 48, 1), _conv(48, 64, 5, padding=2))
        self.branch2 = nn.Sequential(_conv(192, 64, 1), _conv(64, 96, 3, padding=1),
                                     _conv(96, 96, 3, padding=1))
        self.branch3 = nn.Sequential(_avg_pool(), _conv(192, 64, 1))
        self.out_channels = 320

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool_3a(self.conv2d_2b(self.conv2d_2a(self.conv2d_1a(x))))
        x = self.maxpool_5a(self.conv2d_4a(self.conv2d_3b(x)))
        return torch.cat([self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)], 1)


class InceptionResNetV2(nn.Module):
    """Inception-ResNet-v2 as Google released it (TF-slim; timm's ``inception_resnet_v2``):
    ``StemV3`` (320 channels), 10 × Inception-ResNet-A (scale 0.17), Reduction-A (k, l, m, n =
    256, 256, 384, 384: 320 → 1088), 20 × Inception-ResNet-B (scale 0.10), Reduction-B (1088 →
    2080), 9 × Inception-ResNet-C (scale 0.20) and a tenth with scale 1 and no ReLU, a 1×1
    convolution to 1536 (``conv_last``), global average pooling, dropout, fc.

    Equal to ``timm.create_model("inception_resnet_v2")`` with ``mapping="order"``.
    """

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, *, dropout: float = 0.2,
                 scales=(0.17, 0.10, 0.20), blocks=(10, 20, 9)):
        super().__init__()
        self.stem = StemV3(in_channels)
        self.inception_resnet_a = nn.Sequential(
            *[InceptionResNetA(320, scales[0]) for _ in range(blocks[0])])
        self.reduction_a = ReductionA(320, *REDUCTION_A_TABLE_1["Inception-ResNet-v2"])
        self.inception_resnet_b = nn.Sequential(
            *[InceptionResNetB(1088, scales[1]) for _ in range(blocks[1])])
        self.reduction_b = ReductionBRes(1088)
        self.inception_resnet_c = nn.Sequential(
            *[InceptionResNetC(2080, scales[2]) for _ in range(blocks[2])],
            InceptionResNetC(2080, 1.0, relu=False))
        self.conv_last = _conv(2080, 1536, 1)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(1536, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.inception_resnet_a(self.stem(x))
        x = self.inception_resnet_b(self.reduction_a(x))
        x = self.conv_last(self.inception_resnet_c(self.reduction_b(x)))
        return self.fc(self.dropout(torch.flatten(self.avgpool(x), 1)))


class StemResV1(nn.Sequential):
    """The stem of Inception-ResNet-v1 (Figure 14): 3×3/2 V 32, 3×3 V 32, 3×3 64, 3×3/2 V
    max-pooling, 1×1 80, 3×3 V 192, 3×3/2 V 256: 299 → 35×35×256."""

    def __init__(self, in_channels: int = 3):
        super().__init__(_conv(in_channels, 32, 3, stride=2), _conv(32, 32, 3),
                         _conv(32, 64, 3, padding=1), nn.MaxPool2d(3, stride=2),
                         _conv(64, 80, 1), _conv(80, 192, 3), _conv(192, 256, 3, stride=2))
        self.out_channels = 256


class InceptionResNetV1(nn.Module):
    """Inception-ResNet-v1 from the paper's figures (no released weights, no reference code):
    Figure 14's stem (256), 5 × Inception-ResNet-A (Figure 10), Reduction-A (k, l, m, n = 192,
    192, 256, 384: 256 → 896), 10 × Inception-ResNet-B (Figure 11), Reduction-B (Figure 12:
    896 → 1792), 5 × Inception-ResNet-C (Figure 13), average pooling, dropout (keep 0.8), fc.
    Block counts from Figure 15. Scales: the paper says only "between 0.1 and 0.3"; 0.17, 0.10,
    0.20 as in the released v2."""

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, *, dropout: float = 0.2,
                 scales=(0.17, 0.10, 0.20), blocks=(5, 10, 5)):
        super().__init__()
        self.stem = StemResV1(in_channels)
        self.inception_resnet_a = nn.Sequential(
            *[InceptionResNetA(256, scales[0], c2=(32, 32, 32)) for _ in range(blocks[0])])
        self.reduction_a = ReductionA(256, *REDUCTION_A_TABLE_1["Inception-ResNet-v1"])
        self.inception_resnet_b = nn.Sequential(
            *[InceptionResNetB(896, scales[1], c0=128, c1=(128, 128, 128))
              for _ in range(blocks[1])])
        self.reduction_b = ReductionBRes(896, c0=384, c1=256, c2=(256, 256))
        self.inception_resnet_c = nn.Sequential(
            *[InceptionResNetC(1792, scales[2], c0=192, c1=(192, 192, 192))
              for _ in range(blocks[2])])
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(1792, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.inception_resnet_a(self.stem(x))
        x = self.inception_resnet_b(self.reduction_a(x))
        x = self.inception_resnet_c(self.reduction_b(x))
        return self.fc(self.dropout(torch.flatten(self.avgpool(x), 1)))


class InceptionResNetCIFAR(nn.Module):
    """A small Inception-ResNet for 3×32×32 CIFAR-10 images, in the spirit of Inception-ResNet-v2.

    Stem: two 3×3 convolutions with padding 1 (3 → 32 → ``width``): a 32×32 image is already
    the size of the paper's 35×35 grid, so the stem keeps it. Then ``blocks[0]`` ×
    Inception-ResNet-A at 32×32, Reduction-A (padding 1: 32 → 16), ``blocks[1]`` ×
    Inception-ResNet-B at 16×16 (1×7/7×1), Reduction-B (16 → 8), ``blocks[2]`` ×
    Inception-ResNet-C at 8×8, then, as in the released network, a 1×1 convolution with batch
    norm and ReLU (``conv_last``, 1536 / ``div`` channels), average pooling, dropout, fc. The
    branches are v2's widths divided by ``div``. ``residual=False`` removes the shortcuts and
    nothing else (same parameters); ``scale`` multiplies every residual (the paper's 0.1–0.3).
    ``conv_last`` matters for that comparison: no batch norm rescales the residual trunk, whose
    activations at initialisation are several times the plain network's; normalised, both
    classifiers start alike. Initialisation: He (fan-out), as ``he_init``.
    """

    def __init__(self, num_classes: int = 10, *, residual: bool = True, scale: float = 0.2,
                 width: int = 64, blocks=(3, 4, 3), div: int = 8, dropout: float = 0.2,
                 init_weights: bool = True):
        super().__init__()
        d = lambda c: max(1, c // div)  # noqa: E731
        self.residual, self.scale = residual, scale
        self.conv1 = _conv(3, 32, 3, padding=1)
        self.conv2 = _conv(32, width, 3, padding=1)
        c = width
        self.inception_resnet_a = nn.Sequential(*[
            InceptionResNetA(c, scale, c0=d(32), c1=d(32), c2=(d(32), d(48), d(64)),
                             residual=residual) for _ in range(blocks[0])])
        self.reduction_a = ReductionA(c, d(256), d(256), d(384), d(384), padding=1)
        c = self.reduction_a.out_channels
        self.inception_resnet_b = nn.Sequential(*[
            InceptionResNetB(c, scale, c0=d(192), c1=(d(128), d(160), d(192)),
                             residual=residual) for _ in range(blocks[1])])
        self.reduction_b = ReductionBRes(c, red=d(256), c0=d(384), c1=d(288),
                                         c2=(d(288), d(320)), padding=1)
        c = self.reduction_b.out_channels
        self.inception_resnet_c = nn.Sequential(*[
            InceptionResNetC(c, scale, c0=d(192), c1=(d(192), d(224), d(256)),
                             residual=residual) for _ in range(blocks[2])])
        self.conv_last = _conv(c, d(1536), 1)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(d(1536), num_classes)
        if init_weights:
            he_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.inception_resnet_a(self.conv2(self.conv1(x)))
        x = self.inception_resnet_b(self.reduction_a(x))
        x = self.conv_last(self.inception_resnet_c(self.reduction_b(x)))
        return self.fc(self.dropout(torch.flatten(self.avgpool(x), 1)))


def inception_v4(num_classes: int = 1000, **kwargs) -> InceptionV4:
    """``InceptionV4`` (timm's ``inception_v4``)."""
    return InceptionV4(num_classes=num_classes, **kwargs)


def inception_resnet_v2(num_classes: int = 1000, **kwargs) -> InceptionResNetV2:
    """``InceptionResNetV2`` as released (timm's ``inception_resnet_v2``)."""
    return InceptionResNetV2(num_classes=num_classes, **kwargs)


def inception_resnet_v1(num_classes: int = 1000, **kwargs) -> InceptionResNetV1:
    """``InceptionResNetV1`` from the paper's Figures 10–15."""
    return InceptionResNetV1(num_classes=num_classes, **kwargs)


def inception_resnet_cifar(num_classes: int = 10, **kwargs) -> InceptionResNetCIFAR:
    """The course's small Inception-ResNet for CIFAR-10 (``InceptionResNetCIFAR``)."""
    return InceptionResNetCIFAR(num_classes=num_classes, **kwargs)
