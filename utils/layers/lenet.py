"""LeNet-5 (LeCun, Bottou, Bengio & Haffner, 1998, "Gradient-based learning applied to document
recognition"): chapters/00_lenet5.ipynb.

The paper's layers (the C3 connection table, the scaled tanh, the trainable subsampling, the
Euclidean RBF output), the paper's network ``LeNet5`` and the course's CIFAR-10 adaptation
``lenet5_cifar()``. The two networks are the chapter's ``lenet5_paper()`` and ``lenet5_cifar()``
module for module (same names, same order, so the same seed gives the same weights);
tests/test_layers_lenet.py takes the chapter's definitions from the notebook and checks it.
"""

from collections import OrderedDict

import torch
from torch import nn

# Table I of the paper: which of S2's 6 feature maps (rows) each of C3's 16 maps (columns) reads.
# Maps 0-5 read three contiguous S2 maps, 6-11 four contiguous ones, 12-14 four non-contiguous
# ones, and map 15 reads all six ("contiguous" wraps around: map 4 reads S2 maps 4, 5 and 0).
LENET_C3_TABLE = (
    # 0  1  2  3  4  5  6  7  8  9 10 11 12 13 14 15
    (1, 0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 1, 1),  # S2 map 0
    (1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 1),  # S2 map 1
    (1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 1, 0, 1, 1, 1),  # S2 map 2
    (0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0, 1, 0, 1, 1),  # S2 map 3
    (0, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 1, 1, 0, 1),  # S2 map 4
    (0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 1, 1, 1),  # S2 map 5
)


def lenet_c3_table():
    """Table I of LeCun et al. (1998) as a bool tensor [6 S2 maps, 16 C3 maps]."""
    return torch.tensor(LENET_C3_TABLE, dtype=torch.bool)


class ScaledTanh(nn.Module):
    """LeNet-5's squashing function f(a) = A·tanh(S·a), A = 1.7159, S = 2/3 (paper, Appendix A).

    The constants make f(1) = 1 and f(−1) = −1, where the curvature is largest, so the targets
    ±1 sit in the non-linear range without saturating the unit.
    """

    def __init__(self, amplitude=1.7159, slope=2 / 3):
        super().__init__()
        self.amplitude, self.slope = amplitude, slope

    def forward(self, x):
        return self.amplitude * torch.tanh(self.slope * x)

    def extra_repr(self):
        return f"amplitude={self.amplitude}, slope={self.slope:.4f}"


class Subsampling(nn.Module):
    """LeNet-5's S2/S4: per map, the sum of each 2×2 block times a trainable coefficient plus a
    trainable bias (2 parameters per map). The paper then applies the squashing function; here
    that is a separate module, as in the rest of the course.
    """

    def __init__(self, channels, kernel_size=2):
        super().__init__()
        self.kernel_size = kernel_size
        self.weight = nn.Parameter(torch.ones(channels))  # the trainable coefficient
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x):
        k = self.kernel_size
        block_sum = nn.functional.avg_pool2d(x, k) * (k * k)
        return block_sum * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)

    def extra_repr(self):
        return f"channels={self.weight.numel()}, kernel_size={self.kernel_size}"


class LeNetC3(nn.Module):
    """LeNet-5's C3: a 5×5 convolution in which output map j reads only the input maps that
    column j of the connection table marks (default: the paper's Table I).

    Only the connected kernels are parameters: ``weight`` holds one k×k kernel per connection
    (60 for Table I, listed output map by output map) and ``bias`` one number per output map, so
    the module has exactly the paper's 6·(3·25+1) + 9·(4·25+1) + 1·(6·25+1) = 1,516 parameters.
    The forward pass scatters the kernels into a dense [out, in, k, k] weight with zeros where the
    table has no link and runs one ordinary convolution: on current hardware that is several
    times faster than one small convolution per group, at the price of multiplying the structural
    zeros (240,000 multiply-adds per image at 10×10 instead of the 150,000 that count).
    """

    def __init__(self, table=None, kernel_size=5, bias=True):
        super().__init__()
        table = lenet_c3_table() if table is None else torch.as_tensor(table, dtype=torch.bool)
        if table.dim() != 2 or not table.any(0).all():
            raise ValueError("the connection table must be [in_maps, out_maps] and every output "
                             f"map must read at least one input; got shape {tuple(table.shape)}")
        self.in_channels, self.out_channels = table.shape
        self.kernel_size = kernel_size
        self.register_buffer("table", table.clone(), persistent=False)
        # flat positions of the connected (out, in) pairs in a [out * in] grid, out-major
        self.register_buffer("links", table.T.flatten().nonzero().flatten(), persistent=False)
        n = len(self.links)
        # the initialisation nn.Conv2d would use for each output map's own fan-in
        fan_in = table.sum(0)[self.links // self.in_channels].float() * kernel_size ** 2
        bound = (1.0 / fan_in).sqrt().view(n, 1, 1)
        self.weight = nn.Parameter((torch.rand(n, kernel_size, kernel_size) * 2 - 1) * bound)
        if bias:
            b = (1.0 / (table.sum(0).float() * kernel_size ** 2)).sqrt()
            self.bias = nn.Parameter((torch.rand(self.out_channels) * 2 - 1) * b)
        else:
            self.register_parameter("bias", None)

    def dense_weight(self):
        """The kernels as one [out, in, k, k] weight, zero where the table has no link."""
        k = self.kernel_size
        grid = self.weight.new_zeros(self.out_channels * self.in_channels, k, k)
        return grid.index_copy(0, self.links, self.weight).view(
            self.out_channels, self.in_channels, k, k)

    def forward(self, x):
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"LeNetC3 expects [N, {self.in_channels}, H, W]; got {tuple(x.shape)}")
        return nn.functional.conv2d(x, self.dense_weight(), self.bias)

    def extra_repr(self):
        return (f"in_maps={self.in_channels}, out_maps={self.out_channels}, "
                f"kernel_size={self.kernel_size}, connections={len(self.links)}")


class EuclideanRBF(nn.Module):
    """LeNet-5's output layer (paper, Section II.B, F6 → output): one unit per class computes the
    squared Euclidean distance between its input vector and a fixed code of ±1 values, so the
    predicted class is the *smallest* output (``argmin``; use ``-output`` as logits).

    The codes are a buffer, not parameters: the paper fixed them by hand (stylised 7×12 bitmaps
    of the characters); here they are random ±1 codes from a generator seeded with ``seed``, as
    in the chapter, so the layer is reproducible and has no trainable parameters.
    """

    def __init__(self, in_features=84, num_classes=10, seed=0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        codes = torch.randint(0, 2, (num_classes, in_features), generator=g).float() * 2 - 1
        self.register_buffer("centres", codes)

    def forward(self, x):
        return ((x[:, None, :] - self.centres) ** 2).sum(-1)

    def extra_repr(self):
        n, d = self.centres.shape
        return f"in_features={d}, num_classes={n}"


class LeNet5(nn.Sequential):
    """LeNet-5 as in Section II.B of the paper, for a 1×32×32 input (a 28×28 MNIST digit padded).

    C1 (6 maps 5×5), S2, C3 (16 maps through Table I), S4, C5 (120), F6 (84) and the RBF output,
    each followed by the scaled tanh: the paper's "60,000 trainable free parameters" (§II.A).
    The layers carry the paper's names, as in the chapter's ``lenet5_paper()``, which this equals.
    """

    def __init__(self, num_classes=10):
        super().__init__(OrderedDict(
            C1=nn.Conv2d(1, 6, 5), f1=ScaledTanh(),
            S2=Subsampling(6), f2=ScaledTanh(),
            C3=LeNetC3(), f3=ScaledTanh(),
            S4=Subsampling(16), f4=ScaledTanh(),
            C5=nn.Conv2d(16, 120, 5), f5=ScaledTanh(), flatten=nn.Flatten(),
            F6=nn.Linear(120, 84), f6=ScaledTanh(),
            output=EuclideanRBF(84, num_classes),
        ))


def lenet5_cifar(num_classes=10):
    """LeNet-5 for 3×32×32 CIFAR-10 images, with today's activation (ReLU), pooling (max) and
    output (a linear layer for cross-entropy): the paper's C1–F6 and Table I otherwise, as in the
    chapter's ``lenet5_cifar()``, which this equals."""
    return nn.Sequential(OrderedDict(
        C1=nn.Conv2d(3, 6, 5), relu1=nn.ReLU(inplace=True), S2=nn.MaxPool2d(2),
        C3=LeNetC3(), relu3=nn.ReLU(inplace=True), S4=nn.MaxPool2d(2),
        C5=nn.Conv2d(16, 120, 5), relu5=nn.ReLU(inplace=True), flatten=nn.Flatten(),
        F6=nn.Linear(120, 84), relu6=nn.ReLU(inplace=True),
        output=nn.Linear(84, num_classes),
    ))
