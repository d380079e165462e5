"""GoogLeNet (Szegedy et al., 2015, "Going deeper with convolutions"): chapter 5.

Table 1 of the paper as data (``GOOGLENET_TABLE``), the Inception module (``Inception``), the
auxiliary classifier (``InceptionAux``) and the network (``GoogLeNet``), in two variants:

- ``variant="paper"``: the network of the paper: no batch normalisation (it came a year later),
  every convolution with a bias and a ReLU, a true 5×5 convolution in each module's fifth
  branch, local response normalisation after the first pooling and after conv3, dropout 40 %,
  the auxiliary heads of §5 (5×5 average pooling, stride 3);
- ``variant="torchvision"``: ``torchvision.models.googlenet``, state dict for state dict (same
  module names, same order, same output; tests/test_layers_googlenet.py): batch normalisation
  after every convolution, a 3×3 convolution in the "5×5" branch (a known slip, kept for the
  pretrained weights: pytorch/vision issue 906), no LRN, a 2×2 last pooling, dropout 20 %,
  adaptive 4×4 pooling in the auxiliary heads.
"""

from collections import namedtuple

import torch
import torch.nn.functional as F
from torch import nn

# Table 1 of the paper, one row per Inception module: (in_channels, #1×1, #3×3 reduce, #3×3,
# #5×5 reduce, #5×5, pool proj). A module's output has #1×1 + #3×3 + #5×5 + pool proj channels
# (3a: 64 + 128 + 32 + 32 = 256), which is the next module's in_channels.
GOOGLENET_TABLE = {
    "3a": (192, 64, 96, 128, 16, 32, 32),
    "3b": (256, 128, 128, 192, 32, 96, 64),
    "4a": (480, 192, 96, 208, 16, 48, 64),
    "4b": (512, 160, 112, 224, 24, 64, 64),
    "4c": (512, 128, 128, 256, 24, 64, 64),
    "4d": (512, 112, 144, 288, 32, 64, 64),
    "4e": (528, 256, 160, 320, 32, 128, 128),
    "5a": (832, 256, 160, 320, 32, 128, 128),
    "5b": (832, 384, 192, 384, 48, 128, 128),
}

# What GoogLeNet returns in training mode with auxiliary heads (the logits only otherwise).
# Careful: torchvision's own namedtuple is ordered (logits, aux_logits2, aux_logits1).
GoogLeNetOutputs = namedtuple("GoogLeNetOutputs", ["logits", "aux1", "aux2"])


class BasicConv2d(nn.Module):
    """A convolution followed by a ReLU, with batch normalisation in between or not.

    ``batch_norm=False`` (the paper): ``conv`` with a bias, then ReLU. ``batch_norm=True``:
    ``conv`` without a bias (batch norm's shift replaces it), ``bn`` with eps = 0.001, then ReLU:
    torchvision's ``BasicConv2d`` (its names ``conv``, ``bn`` and its eps, from TensorFlow's
    Inception code). The ReLU is a function, not a module, as in torchvision.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 batch_norm: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding,
                              bias=not batch_norm)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001) if batch_norm else None
        self.in_channels, self.out_channels = in_channels, out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        return F.relu(x, inplace=True)


class Inception(nn.Module):
    """The Inception module with dimension reductions (Figure 2b of the paper, one row of
    Table 1): four branches side by side on the same input, concatenated along the channels.

    ``branch1``: 1×1 convolution (``ch1x1``). ``branch2``: 1×1 reduction to ``ch3x3red``, then
    3×3 (``ch3x3``). ``branch3``: 1×1 reduction to ``ch5x5red``, then ``fifth_kernel``×
    ``fifth_kernel`` (``ch5x5``). ``branch4``: 3×3 max-pooling, stride 1, then a 1×1 projection
    (``pool_proj``). Every convolution keeps the size ("same" padding), so the maps can be
    concatenated; the cheap 1×1 reductions are what makes the 3×3 and 5×5 convolutions
    affordable (§4). ``fifth_kernel=5`` is the paper's; ``3`` is torchvision's. ``batch_norm``:
    see ``BasicConv2d``. Names and order as torchvision's ``Inception``.
    """

    def __init__(self, in_channels: int, ch1x1: int, ch3x3red: int, ch3x3: int, ch5x5red: int,
                 ch5x5: int, pool_proj: int, *, fifth_kernel: int = 5, batch_norm: bool = False):
        super().__init__()
        if fifth_kernel not in (3, 5):
            raise ValueError(f"fifth_kernel must be 5 (the paper) or 3 (torchvision), "
                             f"got {fifth_kernel}")
        conv = lambda c_in, c_out, k: BasicConv2d(c_in, c_out, k, padding=k // 2,  # noqa: E731
                                                  batch_norm=batch_norm)
        self.branch1 = conv(in_channels, ch1x1, 1)
        self.branch2 = nn.Sequential(conv(in_channels, ch3x3red, 1), conv(ch3x3red, ch3x3, 3))
        self.branch3 = nn.Sequential(conv(in_channels, ch5x5red, 1),
                                     conv(ch5x5red, ch5x5, fifth_kernel))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True),
                                     conv(in_channels, pool_proj, 1))
        self.in_channels = in_channels
        self.out_channels = ch1x1 + ch3x3 + ch5x5 + pool_proj

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = (self.branch1, self.branch2, self.branch3, self.branch4)
        return torch.cat([branch(x) for branch in branches], 1)


class InceptionAux(nn.Module):
    """An auxiliary classifier (§5), on the 14×14 maps of 4a and 4d during training only: its
    loss, weighted 0.3, sends gradient straight into the middle of the 22-layer network.

    The paper: 5×5 average pooling with stride 3 (14×14 → 4×4), a 1×1 convolution to 128
    channels with ReLU (``conv``), a fully connected layer of 1024 units with ReLU (``fc1``),
    dropout 70 %, and a linear layer to the classes (``fc2``). ``adaptive_pool=True``:
    torchvision's adaptive average pooling to 4×4 instead (windows of 4 pixels, not 5, on 14×14
    maps, so the outputs differ; any input size works). No parameters either way.
    ``conv_channels``, ``hidden`` and ``grid`` (the side of the pooled map) are the paper's 128,
    1024 and 4 by default; the CIFAR-10 network's heads are narrower and pool 8×8 maps to 2×2.
    """

    def __init__(self, in_channels: int, num_classes: int, *, batch_norm: bool = False,
                 adaptive_pool: bool = False, dropout: float = 0.7, conv_channels: int = 128,
                 hidden: int = 1024, grid: int = 4):
        super().__init__()
        self.conv = BasicConv2d(in_channels, conv_channels, 1, batch_norm=batch_norm)
        self.fc1 = nn.Linear(conv_channels * grid * grid, hidden)
        self.fc2 = nn.Linear(hidden, num_classes)
        self.dropout = nn.Dropout(dropout)
        self.adaptive_pool, self.grid = adaptive_pool, grid

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (F.adaptive_avg_pool2d(x, self.grid) if self.adaptive_pool
             else F.avg_pool2d(x, 5, stride=3))
        x = torch.flatten(self.conv(x), 1)
        x = self.dropout(F.relu(self.fc1(x), inplace=True))
        return self.fc2(x)


def google_normalisation(x: torch.Tensor) -> torch.Tensor:
    """Inputs normalised with ImageNet's mean and std → Google's (x − 0.5)/0.5, channel by
    channel: what torchvision's ``transform_input=True`` does for the weights Google trained
    (GoogLeNet here, Inception v3 in ``inception_v3.py``)."""
    mean = x.new_tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = x.new_tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    return x * (std / 0.5) + (mean - 0.5) / 0.5


def _modules_and_classifier(net: nn.Module, x: torch.Tensor):
    """Table 1 from module 3a to the classifier, shared by ``GoogLeNet`` and ``GoogLeNetCIFAR``
    (which differ only in the stem): the nine modules with the 3×3/2 poolings after 3b and 4e,
    the auxiliary heads on 4a and 4d in training mode, average pooling, dropout, ``fc``."""
    x = net.maxpool3(net.inception3b(net.inception3a(x)))
    x = net.inception4a(x)
    heads = net.training and net.aux1 is not None
    aux1 = net.aux1(x) if heads else None
    x = net.inception4d(net.inception4c(net.inception4b(x)))
    aux2 = net.aux2(x) if heads else None
    x = net.maxpool4(net.inception4e(x))
    x = net.inception5b(net.inception5a(x))
    x = net.fc(net.dropout(torch.flatten(net.avgpool(x), 1)))
    return GoogLeNetOutputs(x, aux1, aux2) if heads else x


class GoogLeNet(nn.Module):
    """GoogLeNet (Table 1 of the paper), for 3×224×224 inputs: the stem (conv1 7×7/2, max-pool
    3×3/2, conv2 1×1 64, conv3 3×3 192, max-pool 3×3/2), the nine Inception modules of
    ``GOOGLENET_TABLE`` with a 3×3/2 max-pooling after 3b and after 4e, global average pooling
    of the 7×7×1024 maps, dropout and one linear layer. Every pooling rounds up
    (``ceil_mode=True``, as Caffe and torchvision do).

    ``variant``: "paper" or "torchvision" (see the module's docstring). Both have the same
    layers under the same names (``conv1``, ``maxpool1``, ``conv2``, ``conv3``, ``maxpool2``,
    ``inception3a`` … ``inception5b``, ``aux1``, ``aux2``, ``avgpool``, ``dropout``, ``fc``); the
    paper's adds ``lrn1`` and ``lrn2``, with the constants of the BVLC Caffe reproduction (the
    paper gives none): size 5, alpha 10⁻⁴ averaged over the window, beta 0.75, k = 1, which is
    ``nn.LocalResponseNorm`` exactly. ``dropout``: ``None`` for the variant's (0.4 or 0.2).

    ``aux_logits``: build the auxiliary heads (after 4a and 4d). In training mode the network
    then returns ``GoogLeNetOutputs(logits, aux1, aux2)``; in evaluation mode, or without the
    heads, the logits alone. ``transform_input=True`` maps inputs normalised with ImageNet's
    mean and std to the (x − 0.5)/0.5 scaling of Google's pretrained weights, as torchvision
    does when it loads them; ``googlenet(weights=None)`` leaves it False, as here.

    ``init_weights``: torchvision's rule in both variants (weights of convolutions and linear
    layers from a normal with std 0.01 truncated at ±2, batch norm γ = 1, β = 0; biases keep
    PyTorch's default), in torchvision's order, so the same seed gives torchvision's weights.
    """

    def __init__(self, num_classes: int = 1000, aux_logits: bool = True, variant: str = "paper",
                 *, transform_input: bool = False, dropout: float | None = None,
                 dropout_aux: float = 0.7, init_weights: bool = True):
        super().__init__()
        if variant not in ("paper", "torchvision"):
            raise ValueError(f"variant must be 'paper' or 'torchvision', got {variant!r}")
        paper = variant == "paper"
        bn, kw = not paper, dict(batch_norm=not paper, fifth_kernel=5 if paper else 3)
        self.variant, self.aux_logits, self.transform_input = variant, aux_logits, transform_input
        self.conv1 = BasicConv2d(3, 64, 7, stride=2, padding=3, batch_norm=bn)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.lrn1 = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0) if paper else None
        self.conv2 = BasicConv2d(64, 64, 1, batch_norm=bn)
        self.conv3 = BasicConv2d(64, 192, 3, padding=1, batch_norm=bn)
        self.lrn2 = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0) if paper else None
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        for name, row in GOOGLENET_TABLE.items():
            if name == "4a":
                self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
            elif name == "5a":  # torchvision: 2×2/2 (the same 14 → 7, cheaper)
                self.maxpool4 = nn.MaxPool2d(3 if paper else 2, stride=2, ceil_mode=True)
            setattr(self, f"inception{name}", Inception(*row, **kw))
        if aux_logits:
            aux = dict(batch_norm=bn, adaptive_pool=not paper, dropout=dropout_aux)
            self.aux1 = InceptionAux(self.inception4a.out_channels, num_classes, **aux)
            self.aux2 = InceptionAux(self.inception4d.out_channels, num_classes, **aux)
        else:
            self.aux1 = self.aux2 = None
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))  # the paper's 7×7/1 on the 7×7 maps
        self.dropout = nn.Dropout((0.4 if paper else 0.2) if dropout is None else dropout)
        self.fc = nn.Linear(self.inception5b.out_channels, num_classes)
        if init_weights:
            self.reset_parameters()

    def reset_parameters(self):
        """torchvision's initialisation of its GoogLeNet."""
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.trunc_normal_(m.weight, mean=0.0, std=0.01, a=-2, b=2)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def forward(self, x: torch.Tensor):
        if self.transform_input:
            x = google_normalisation(x)
        x = self.maxpool1(self.conv1(x))
        if self.lrn1 is not None:
            x = self.lrn1(x)
        x = self.conv3(self.conv2(x))
        if self.lrn2 is not None:
            x = self.lrn2(x)
        return _modules_and_classifier(self, self.maxpool2(x))


def cifar_table(width: float = 0.5) -> dict:
    """``GOOGLENET_TABLE`` with every channel count multiplied by ``width`` (rounded), each
    module's input the previous module's output: the CIFAR-10 network's modules."""
    table, previous = {}, None
    for name, (c_in, *branches) in GOOGLENET_TABLE.items():
        branches = [max(1, round(c * width)) for c in branches]
        c_in = round(c_in * width) if previous is None else previous
        table[name] = (c_in, *branches)
        ch1, _, ch3, _, ch5, proj = branches
        previous = ch1 + ch3 + ch5 + proj
    return table


class GoogLeNetCIFAR(nn.Module):
    """An Inception network for 32×32 images in the paper's spirit (chapter 5): Table 1's nine
    modules with every channel count multiplied by ``width`` (half by default), on maps of
    16×16 (3a, 3b), 8×8 (4a to 4e) and 4×4 (5a, 5b) where the paper has 28, 14 and 7.

    The stem keeps the paper's three convolutions (conv1, a 1×1 conv2, a 3×3 conv3) but with
    3×3 kernels and stride 1 at 32×32, and one 3×3/2 max-pooling (32 → 16) instead of the
    paper's stride-2 7×7 and two poolings (224 → 28). Then, as in the paper: a 3×3/2 max-pooling
    after 3b and after 4e, global average pooling, dropout 40 % and one linear layer.
    ``aux_logits``: the two auxiliary classifiers of §5 on 4a's and 4d's 8×8 maps (5×5/3
    average pooling to 2×2, 1×1 convolution, a fully connected layer, dropout 70 %, a linear
    layer; widths scaled as the modules'); in training mode the network then returns
    ``GoogLeNetOutputs(logits, aux1, aux2)``, for ``Recipe(aux_weights=(0.3, 0.3))``.
    ``batch_norm``: after every convolution (not in the paper; chapter 6), default on.
    ``fifth_kernel``: 5 (the paper) or 3 (torchvision).
    """

    def __init__(self, num_classes: int = 10, aux_logits: bool = True, *, width: float = 0.5,
                 batch_norm: bool = True, fifth_kernel: int = 5, dropout: float = 0.4,
                 dropout_aux: float = 0.7):
        super().__init__()
        table = cifar_table(width)
        stem = round(64 * width), table["3a"][0]
        self.aux_logits = aux_logits
        self.conv1 = BasicConv2d(3, stem[0], 3, padding=1, batch_norm=batch_norm)
        self.conv2 = BasicConv2d(stem[0], stem[0], 1, batch_norm=batch_norm)
        self.conv3 = BasicConv2d(stem[0], stem[1], 3, padding=1, batch_norm=batch_norm)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        kw = dict(batch_norm=batch_norm, fifth_kernel=fifth_kernel)
        for name, row in table.items():
            if name == "4a":
                self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
            elif name == "5a":
                self.maxpool4 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
            setattr(self, f"inception{name}", Inception(*row, **kw))
        if aux_logits:
            aux = dict(batch_norm=batch_norm, dropout=dropout_aux, grid=2,
                       conv_channels=round(128 * width), hidden=round(1024 * width))
            self.aux1 = InceptionAux(self.inception4a.out_channels, num_classes, **aux)
            self.aux2 = InceptionAux(self.inception4d.out_channels, num_classes, **aux)
        else:
            self.aux1 = self.aux2 = None
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(self.inception5b.out_channels, num_classes)

    def forward(self, x: torch.Tensor):
        return _modules_and_classifier(self, self.maxpool2(self.conv3(self.conv2(self.conv1(x)))))


def googlenet_cifar(aux_logits: bool = True, **kwargs) -> GoogLeNetCIFAR:
    """The course's CIFAR-10 GoogLeNet (see ``GoogLeNetCIFAR``): half width, batch norm, the
    paper's 5×5 branches, the two auxiliary heads unless ``aux_logits=False``."""
    return GoogLeNetCIFAR(num_classes=10, aux_logits=aux_logits, **kwargs)
