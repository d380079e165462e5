"""Inception v3 (Szegedy et al., 2016, "Rethinking the Inception Architecture for Computer
Vision"): chapter 7.

The paper builds its network from three kinds of Inception module and one grid-size reduction,
each drawn in a figure; torchvision's ``inception_v3`` (ported from Google's TensorFlow code,
whose weights it loads) has five classes. The classes here carry the paper's names and
torchvision's module names inside, so that state dicts are interchangeable:

=====================  ===================  =================================================
here (the paper)       torchvision          what it is
=====================  ===================  =================================================
``InceptionFig5``      ``InceptionA``       35×35 grid: Figure 5, "each 5×5 convolution
                                            replaced by two 3×3" (torchvision's code keeps one
                                            5×5 branch *and* the double 3×3 branch)
``GridReduction35``    ``InceptionB``       35×35 → 17×17: Figure 10, stride-2 convolutions
                                            beside a stride-2 pooling, concatenated (§5)
``InceptionFig6``      ``InceptionC``       17×17 grid: Figure 6, n×n factorised into 1×n
                                            and n×1 (n = 7, §3.2)
``GridReduction17``    ``InceptionD``       17×17 → 8×8: Figure 10 again, with a 1×7/7×1 pair
``InceptionFig7``      ``InceptionE``       8×8 grid: Figure 7, "expanded filter bank outputs"
                                            (3×1 and 1×3 side by side, concatenated)
``AuxiliaryClassifier``  ``InceptionAux``   Figure 8: the one auxiliary head, on the last 17×17
                                            layer, with batch normalisation ("BN-auxiliary")
=====================  ===================  =================================================

``InceptionV3`` is ``torchvision.models.inception_v3(weights=None)`` module for module
(27,161,264 parameters with the auxiliary head, 23,834,568 without; tests/
test_layers_inception_v3.py). ``inception_v3_cifar()`` is the course's reduced network for 32×32
CIFAR-10 images: the same module kinds on 32/16/8 grids instead of 35/17/8, a quarter of the
channels, no stem reduction.

Every convolution is ``BasicConv2d`` (convolution without bias, batch norm with eps = 0.001,
ReLU), imported from ``utils.layers.googlenet``.
"""

from collections import namedtuple

import torch
import torch.nn.functional as F
from torch import nn

from .common import he_init
from .googlenet import BasicConv2d, google_normalisation

# What InceptionV3 returns in training mode with its auxiliary head (the logits alone otherwise),
# with torchvision's field names.
InceptionOutputs = namedtuple("InceptionOutputs", ["logits", "aux_logits"])

#: torchvision's class -> the paper's module kind (the class here).
TORCHVISION_CLASSES = {
    "InceptionA": "InceptionFig5", "InceptionB": "GridReduction35", "InceptionC": "InceptionFig6",
    "InceptionD": "GridReduction17", "InceptionE": "InceptionFig7",
    "InceptionAux": "AuxiliaryClassifier", "BasicConv2d": "BasicConv2d",
}


def _conv(c_in, c_out, kernel_size, stride=1, padding=0):
    return BasicConv2d(c_in, c_out, kernel_size, stride=stride, padding=padding)


def _row(n):
    """A 1×n convolution's kernel and 'same' padding."""
    return dict(kernel_size=(1, n), padding=(0, n // 2))


def _col(n):
    """An n×1 convolution's kernel and 'same' padding."""
    return dict(kernel_size=(n, 1), padding=(n // 2, 0))


class InceptionFig5(nn.Module):
    """The Inception module of the 35×35 grid (Figure 5; torchvision's ``InceptionA``).

    Four branches on the same input, concatenated: ``branch1x1`` (1×1, ``ch1x1``);
    ``branch5x5_1``/``_2`` (1×1 to ``ch5x5red``, then 5×5 to ``ch5x5``); ``branch3x3dbl_1``/
    ``_2``/``_3`` (1×1 to ``ch3x3red``, then two 3×3 to ``ch3x3``: the factorised 5×5 of §3.1);
    ``branch_pool`` (3×3 average pooling, stride 1, then 1×1 to ``pool_features``). Figure 5
    shows only the factorised branch; Google's released network, and so torchvision, keeps a
    true 5×5 branch too. Defaults: torchvision's (64 + 64 + 96 + ``pool_features``).
    """

    def __init__(self, in_channels: int, pool_features: int, *, ch1x1: int = 64,
                 ch5x5red: int = 48, ch5x5: int = 64, ch3x3red: int = 64, ch3x3: int = 96):
        super().__init__()
        self.branch1x1 = _conv(in_channels, ch1x1, 1)
        self.branch5x5_1 = _conv(in_channels, ch5x5red, 1)
        self.branch5x5_2 = _conv(ch5x5red, ch5x5, 5, padding=2)
        self.branch3x3dbl_1 = _conv(in_channels, ch3x3red, 1)
        self.branch3x3dbl_2 = _conv(ch3x3red, ch3x3, 3, padding=1)
        self.branch3x3dbl_3 = _conv(ch3x3, ch3x3, 3, padding=1)
        self.branch_pool = _conv(in_channels, pool_features, 1)
        self.in_channels = in_channels
        self.out_channels = ch1x1 + ch5x5 + ch3x3 + pool_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1))
        return torch.cat([b1, b5, b3, bp], 1)


class GridReduction35(nn.Module):
    """The grid-size reduction 35×35 → 17×17 (Figure 10, §5; torchvision's ``InceptionB``).

    Instead of pooling then convolving (a representational bottleneck) or convolving then
    pooling (expensive), stride-2 branches run side by side and are concatenated:
    ``branch3x3`` (3×3, stride 2, to ``ch3x3``); ``branch3x3dbl_1``/``_2``/``_3`` (1×1 to
    ``ch3x3dblred``, 3×3 to ``ch3x3dbl``, 3×3 stride 2); and a 3×3 max-pooling with stride 2,
    which passes the input's channels through. No padding: 35 → (35 − 3)/2 + 1 = 17.
    ``padding=1`` (the CIFAR network) halves even sizes exactly: 32 → 16.
    """

    def __init__(self, in_channels: int, *, ch3x3: int = 384, ch3x3dblred: int = 64,
                 ch3x3dbl: int = 96, padding: int = 0):
        super().__init__()
        self.branch3x3 = _conv(in_channels, ch3x3, 3, stride=2, padding=padding)
        self.branch3x3dbl_1 = _conv(in_channels, ch3x3dblred, 1)
        self.branch3x3dbl_2 = _conv(ch3x3dblred, ch3x3dbl, 3, padding=1)
        self.branch3x3dbl_3 = _conv(ch3x3dbl, ch3x3dbl, 3, stride=2, padding=padding)
        self.padding = padding
        self.in_channels = in_channels
        self.out_channels = ch3x3 + ch3x3dbl + in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3(x)
        b3dbl = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = F.max_pool2d(x, kernel_size=3, stride=2, padding=self.padding)
        return torch.cat([b3, b3dbl, bp], 1)


class InceptionFig6(nn.Module):
    """The Inception module of the 17×17 grid (Figure 6, §3.2; torchvision's ``InceptionC``):
    every n×n convolution factorised into a 1×n and an n×1 one, n = 7.

    ``branch1x1`` (1×1, ``ch_out``); ``branch7x7_1``/``_2``/``_3`` (1×1 to ``channels_7x7``,
    1×n, n×1 to ``ch_out``); ``branch7x7dbl_1`` … ``_5`` (1×1, then n×1, 1×n, n×1, 1×n: a
    factorised pair of n×n convolutions); ``branch_pool`` (3×3 average pooling, 1×1 to
    ``ch_out``). Output: 4·``ch_out`` channels (768 in torchvision). The names say 7×7 whatever
    ``n`` is, as torchvision's.
    """

    def __init__(self, in_channels: int, channels_7x7: int, *, ch_out: int = 192, n: int = 7):
        super().__init__()
        c7 = channels_7x7
        self.branch1x1 = _conv(in_channels, ch_out, 1)
        self.branch7x7_1 = _conv(in_channels, c7, 1)
        self.branch7x7_2 = BasicConv2d(c7, c7, **_row(n))
        self.branch7x7_3 = BasicConv2d(c7, ch_out, **_col(n))
        self.branch7x7dbl_1 = _conv(in_channels, c7, 1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, **_col(n))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, **_row(n))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, **_col(n))
        self.branch7x7dbl_5 = BasicConv2d(c7, ch_out, **_row(n))
        self.branch_pool = _conv(in_channels, ch_out, 1)
        self.in_channels = in_channels
        self.out_channels = 4 * ch_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        b7dbl = self.branch7x7dbl_1(x)
        for conv in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4,
                     self.branch7x7dbl_5):
            b7dbl = conv(b7dbl)
        bp = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1))
        return torch.cat([b1, b7, b7dbl, bp], 1)


class GridReduction17(nn.Module):
    """The grid-size reduction 17×17 → 8×8 (Figure 10's idea; torchvision's ``InceptionD``).

    ``branch3x3_1``/``_2`` (1×1 to ``ch3x3red``, 3×3 stride 2 to ``ch3x3``);
    ``branch7x7x3_1`` … ``_4`` (1×1 to ``ch7x7``, 1×n, n×1, 3×3 stride 2); a 3×3 max-pooling
    with stride 2. No padding: 17 → 8. ``padding=1``: 16 → 8.
    """

    def __init__(self, in_channels: int, *, ch3x3red: int = 192, ch3x3: int = 320,
                 ch7x7: int = 192, n: int = 7, padding: int = 0):
        super().__init__()
        self.branch3x3_1 = _conv(in_channels, ch3x3red, 1)
        self.branch3x3_2 = _conv(ch3x3red, ch3x3, 3, stride=2, padding=padding)
        self.branch7x7x3_1 = _conv(in_channels, ch7x7, 1)
        self.branch7x7x3_2 = BasicConv2d(ch7x7, ch7x7, **_row(n))
        self.branch7x7x3_3 = BasicConv2d(ch7x7, ch7x7, **_col(n))
        self.branch7x7x3_4 = _conv(ch7x7, ch7x7, 3, stride=2, padding=padding)
        self.padding = padding
        self.in_channels = in_channels
        self.out_channels = ch3x3 + ch7x7 + in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_1(x)
        for conv in (self.branch7x7x3_2, self.branch7x7x3_3, self.branch7x7x3_4):
            b7 = conv(b7)
        bp = F.max_pool2d(x, kernel_size=3, stride=2, padding=self.padding)
        return torch.cat([b3, b7, bp], 1)


class InceptionFig7(nn.Module):
    """The Inception module of the 8×8 grid (Figure 7; torchvision's ``InceptionE``): "expanded
    filter bank outputs", to promote high-dimensional representations (principle 2 of §2).

    ``branch1x1`` (1×1, ``ch1x1``); ``branch3x3_1`` (1×1 to ``ch3x3``) feeding
    ``branch3x3_2a`` (1×3) and ``branch3x3_2b`` (3×1) *side by side*, concatenated;
    ``branch3x3dbl_1`` (1×1 to ``ch3x3dblred``), ``branch3x3dbl_2`` (3×3 to ``ch3x3``), then
    ``_3a`` (1×3) and ``_3b`` (3×1) side by side; ``branch_pool`` (3×3 average pooling, 1×1 to
    ``pool_proj``). Output: ``ch1x1`` + 4·``ch3x3`` + ``pool_proj`` (2048 in torchvision).
    """

    def __init__(self, in_channels: int, *, ch1x1: int = 320, ch3x3: int = 384,
                 ch3x3dblred: int = 448, pool_proj: int = 192):
        super().__init__()
        self.branch1x1 = _conv(in_channels, ch1x1, 1)
        self.branch3x3_1 = _conv(in_channels, ch3x3, 1)
        self.branch3x3_2a = BasicConv2d(ch3x3, ch3x3, **_row(3))
        self.branch3x3_2b = BasicConv2d(ch3x3, ch3x3, **_col(3))
        self.branch3x3dbl_1 = _conv(in_channels, ch3x3dblred, 1)
        self.branch3x3dbl_2 = _conv(ch3x3dblred, ch3x3, 3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(ch3x3, ch3x3, **_row(3))
        self.branch3x3dbl_3b = BasicConv2d(ch3x3, ch3x3, **_col(3))
        self.branch_pool = _conv(in_channels, pool_proj, 1)
        self.in_channels = in_channels
        self.out_channels = ch1x1 + 4 * ch3x3 + pool_proj

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        b3dbl = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        b3dbl = torch.cat([self.branch3x3dbl_3a(b3dbl), self.branch3x3dbl_3b(b3dbl)], 1)
        bp = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1))
        return torch.cat([b1, b3, b3dbl, bp], 1)


class AuxiliaryClassifier(nn.Module):
    """The auxiliary classifier (Figure 8; torchvision's ``InceptionAux``), on the last 17×17
    layer, with batch normalisation in its convolutions (Table 3's "BN-auxiliary").

    5×5 average pooling with stride 3 (17 → 5), ``conv0`` (1×1 to ``mid``), ``conv1``
    (``kernel_size``×``kernel_size`` to ``hidden``: 5×5 → 1×1), adaptive average pooling to
    1×1, ``fc`` to the classes. Its loss is added with a weight during training only (0.4 in
    Google's TF-slim training script) and the head is dropped at inference.

    ``fc.stddev = 0.001`` is the initialisation ``InceptionV3`` gives the head's linear layer.
    torchvision also sets ``stddev = 0.01`` on ``conv1``, but on the ``BasicConv2d``, not on its
    ``Conv2d``, so its initialisation never reads it: that convolution gets 0.1, like the others.
    """

    def __init__(self, in_channels: int, num_classes: int, *, mid: int = 128,
                 hidden: int = 768, kernel_size: int = 5):
        super().__init__()
        self.conv0 = _conv(in_channels, mid, 1)
        self.conv1 = _conv(mid, hidden, kernel_size)
        self.conv1.stddev = 0.01  # as torchvision; ignored by the initialisation (see above)
        self.fc = nn.Linear(hidden, num_classes)
        self.fc.stddev = 0.001

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.avg_pool2d(x, kernel_size=5, stride=3)
        x = self.conv1(self.conv0(x))
        x = torch.flatten(F.adaptive_avg_pool2d(x, (1, 1)), 1)
        return self.fc(x)


def _init_weights(model: nn.Module) -> None:
    """torchvision's initialisation of Inception v3: every convolution and linear layer from a
    normal with std 0.1 (0.001 for a layer that carries ``stddev``) truncated at ±2 (absolute
    values, i.e. ±20 standard deviations: in effect no truncation), batch norm γ = 1, β = 0;
    biases keep PyTorch's default. In module order, so the same seed gives the same weights."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            std = float(m.stddev) if hasattr(m, "stddev") else 0.1
            nn.init.trunc_normal_(m.weight, mean=0.0, std=std, a=-2, b=2)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)


class InceptionV3(nn.Module):
    """Inception v3 for 3×299×299 inputs: ``torchvision.models.inception_v3(weights=None)``,
    module for module (names, order, initialisation for a seed, outputs).

    The stem (``Conv2d_1a_3x3`` 3×3/2 to 32, ``Conv2d_2a_3x3`` 3×3 to 32, ``Conv2d_2b_3x3`` 3×3
    padded to 64, ``maxpool1`` 3×3/2, ``Conv2d_3b_1x1`` 1×1 to 80, ``Conv2d_4a_3x3`` 3×3 to 192,
    ``maxpool2`` 3×3/2): 299 → 149 → 147 → 147 → 73 → 73 → 71 → 35. Then three
    ``InceptionFig5`` (``Mixed_5b``–``5d``, 35×35, 256, 288, 288 channels), ``GridReduction35``
    (``Mixed_6a``, 17×17×768), four ``InceptionFig6`` (``Mixed_6b``–``6e``, 7×7 factorised,
    channels_7x7 128, 160, 160, 192), the ``AuxiliaryClassifier`` (``AuxLogits``) on Mixed_6e's
    output, ``GridReduction17`` (``Mixed_7a``, 8×8×1280), two ``InceptionFig7`` (``Mixed_7b``,
    ``7c``, 2048 channels), global average pooling, dropout 0.5, ``fc`` 2048 → classes.

    ``aux_logits``: build the head; in training mode the network then returns
    ``InceptionOutputs(logits, aux_logits)``, otherwise the logits alone. ``transform_input``:
    map ImageNet-normalised inputs to the (x − 0.5)/0.5 scaling of Google's weights, as
    torchvision does when it loads them.
    """

    def __init__(self, num_classes: int = 1000, aux_logits: bool = True,
                 transform_input: bool = False, init_weights: bool = True,
                 dropout: float = 0.5):
        super().__init__()
        self.aux_logits, self.transform_input = aux_logits, transform_input
        self.Conv2d_1a_3x3 = _conv(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = _conv(32, 32, 3)
        self.Conv2d_2b_3x3 = _conv(32, 64, 3, padding=1)
        self.maxpool1 = nn.MaxPool2d(kernel_size=3, stride=2)
        self.Conv2d_3b_1x1 = _conv(64, 80, 1)
        self.Conv2d_4a_3x3 = _conv(80, 192, 3)
        self.maxpool2 = nn.MaxPool2d(kernel_size=3, stride=2)
        self.Mixed_5b = InceptionFig5(192, pool_features=32)
        self.Mixed_5c = InceptionFig5(256, pool_features=64)
        self.Mixed_5d = InceptionFig5(288, pool_features=64)
        self.Mixed_6a = GridReduction35(288)
        self.Mixed_6b = InceptionFig6(768, channels_7x7=128)
        self.Mixed_6c = InceptionFig6(768, channels_7x7=160)
        self.Mixed_6d = InceptionFig6(768, channels_7x7=160)
        self.Mixed_6e = InceptionFig6(768, channels_7x7=192)
        self.AuxLogits = AuxiliaryClassifier(768, num_classes) if aux_logits else None
        self.Mixed_7a = GridReduction17(768)
        self.Mixed_7b = InceptionFig7(1280)
        self.Mixed_7c = InceptionFig7(2048)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(2048, num_classes)
        if init_weights:
            _init_weights(self)

    def forward(self, x: torch.Tensor):
        if self.transform_input:
            x = google_normalisation(x)
        x = self.maxpool1(self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x))))
        x = self.maxpool2(self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x)))
        x = self.Mixed_5d(self.Mixed_5c(self.Mixed_5b(x)))
        x = self.Mixed_6e(self.Mixed_6d(self.Mixed_6c(self.Mixed_6b(self.Mixed_6a(x)))))
        heads = self.training and self.AuxLogits is not None
        aux = self.AuxLogits(x) if heads else None
        x = self.Mixed_7c(self.Mixed_7b(self.Mixed_7a(x)))
        x = self.fc(torch.flatten(self.dropout(self.avgpool(x)), 1))
        return InceptionOutputs(x, aux) if heads else x


class InceptionV3CIFAR(nn.Module):
    """A reduced Inception v3 for 3×32×32 CIFAR-10 images.

    The ImageNet network's stem takes 299 down to 35 before the first module; a 32×32 image is
    already that small, so the stem keeps the size (two 3×3 convolutions, padding 1, 3 → 32 →
    ``4·w``), and the modules run on grids of 32, 16 and 8 instead of 35, 17 and 8. Every width
    is the ImageNet module's divided by ``div`` (4 by default); ``blocks`` = (Figure 5 modules,
    Figure 6 modules, Figure 7 modules), (3, 4, 2) in the paper's network, (2, 2, 1) by default.
    The reductions pad by 1 (32 → 16 → 8). The asymmetric convolutions are 1×7 and 7×1 as in
    the paper (``n``): 16×16 lies in the range of 12 to 20 where §3.2 found them to work. The
    auxiliary head (``aux_logits=True``) sits on the last 16×16 module, as the paper's on the
    last 17×17 one: 5×5/3 pooling (16 → 4) and a 4×4 convolution. Module names as the ImageNet
    network's where a module has a counterpart.
    """

    def __init__(self, num_classes: int = 10, aux_logits: bool = False, *, div: int = 4,
                 blocks: tuple = (2, 2, 1), n: int = 7, dropout: float = 0.2,
                 init_weights: bool = True):
        super().__init__()
        w = lambda c: c // div  # noqa: E731
        self.aux_logits = aux_logits
        self.Conv2d_1a_3x3 = _conv(3, w(128), 3, padding=1)
        self.Conv2d_2a_3x3 = _conv(w(128), w(192), 3, padding=1)
        c = w(192)
        fig5 = []
        for i in range(blocks[0]):
            fig5.append(InceptionFig5(c, w(32 if i == 0 else 64), ch1x1=w(64), ch5x5red=w(48),
                                      ch5x5=w(64), ch3x3red=w(64), ch3x3=w(96)))
            c = fig5[-1].out_channels
        self.mixed_5 = nn.Sequential(*fig5)
        self.Mixed_6a = GridReduction35(c, ch3x3=w(384), ch3x3dblred=w(64), ch3x3dbl=w(96),
                                        padding=1)
        c = self.Mixed_6a.out_channels
        fig6 = []
        for i in range(blocks[1]):
            fig6.append(InceptionFig6(c, w(128 if i == 0 else 160), ch_out=w(192), n=n))
            c = fig6[-1].out_channels
        self.mixed_6 = nn.Sequential(*fig6)
        self.AuxLogits = (AuxiliaryClassifier(c, num_classes, mid=w(128), hidden=w(768),
                                              kernel_size=4) if aux_logits else None)
        self.Mixed_7a = GridReduction17(c, ch3x3red=w(192), ch3x3=w(320), ch7x7=w(192), n=n,
                                        padding=1)
        c = self.Mixed_7a.out_channels
        fig7 = []
        for _ in range(blocks[2]):
            fig7.append(InceptionFig7(c, ch1x1=w(320), ch3x3=w(384), ch3x3dblred=w(448),
                                      pool_proj=w(192)))
            c = fig7[-1].out_channels
        self.mixed_7 = nn.Sequential(*fig7)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(c, num_classes)
        if init_weights:
            self.reset_parameters()

    def reset_parameters(self):
        """He (fan-out) initialisation for the convolutions, PyTorch's default for the linear
        layers, batch norm γ = 1, β = 0: torchvision's std 0.1 is tuned for its own widths."""
        he_init(self)

    def forward(self, x: torch.Tensor):
        x = self.mixed_6(self.Mixed_6a(self.mixed_5(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))))
        heads = self.training and self.AuxLogits is not None
        aux = self.AuxLogits(x) if heads else None
        x = self.mixed_7(self.Mixed_7a(x))
        x = self.fc(torch.flatten(self.dropout(self.avgpool(x)), 1))
        return InceptionOutputs(x, aux) if heads else x


def inception_v3(num_classes: int = 1000, aux_logits: bool = True, **kwargs) -> InceptionV3:
    """``InceptionV3`` (torchvision's ``inception_v3(weights=None)``)."""
    return InceptionV3(num_classes=num_classes, aux_logits=aux_logits, **kwargs)


def inception_v3_cifar(num_classes: int = 10, aux_logits: bool = False,
                       **kwargs) -> InceptionV3CIFAR:
    """The course's reduced Inception v3 for CIFAR-10 (``InceptionV3CIFAR``)."""
    return InceptionV3CIFAR(num_classes=num_classes, aux_logits=aux_logits, **kwargs)
