"""Blocks that the chapters introduce, in the final form that later chapters import.

Each block is developed step by step in its chapter; the version here is the one that later
chapters use, and a test shows that the two agree (same parameters, same output for the same
weights). Names follow the papers.
"""

import torch
from torch import nn

# --- LeNet-5 (LeCun et al., 1998): chapters/00_lenet5.ipynb -------------------------------------

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


# --- AlexNet (Krizhevsky, Sutskever & Hinton, 2012): chapters/01_alexnet.ipynb ------------------


class LocalResponseNorm(nn.Module):
    """Local response normalisation across channels, as written in the AlexNet paper (§3.3).

    b_i = a_i / (k + alpha * sum_{j = max(0, i - n//2)}^{min(N - 1, i + n//2)} a_j**2) ** beta

    The defaults are the paper's constants: n = 5, k = 2, alpha = 1e-4, beta = 0.75.

    Why not ``nn.LocalResponseNorm`` directly? PyTorch divides ``alpha`` by ``n`` (it averages the
    squares instead of summing them), so the paper's layer is
    ``nn.LocalResponseNorm(5, alpha=5 * 1e-4, beta=0.75, k=2)``. This class takes the paper's
    alpha and does that conversion once, in one place. For odd ``size`` (the paper's n = 5) the
    channel window is the paper's exactly; chapters/01_alexnet.ipynb derives it step by step and
    tests/test_layers_alexnet.py checks that the two agree.
    """

    def __init__(self, size: int = 5, alpha: float = 1e-4, beta: float = 0.75, k: float = 2.0):
        super().__init__()
        if size < 1:
            raise ValueError(f"size (the paper's n) must be a positive number of channels, got {size}")
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.local_response_norm(
            x, self.size, alpha=self.size * self.alpha, beta=self.beta, k=self.k
        )

    def extra_repr(self) -> str:
        return f"n={self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k} (paper's constants)"


# --- ZFNet (Zeiler & Fergus, 2013): chapters/02_zfnet.ipynb -----------------------------------


# --- Network in Network (Lin, Chen & Yan, 2013): chapters/03_nin.ipynb ------------------------


class MLPConv(nn.Sequential):
    """Network in Network's mlpconv layer (Lin, Chen & Yan, 2013, §3.1 and Equation 2).

    A small multilayer perceptron slid over the input like a convolution filter. Its first layer
    is an ordinary k×k convolution (``conv``); every further layer is a 1×1 convolution, which is
    the same fully connected layer applied at every pixel (the paper's "cascaded cross channel
    parametric pooling", ``cccp1``, ``cccp2``, … as in the authors' Caffe files). Each layer is
    followed by a ReLU, the last one included, as in Equation 2 and the authors' released networks:

        f¹ = max(W¹ ∗ x + b¹, 0),   fⁿ = max(Wⁿ fⁿ⁻¹ + bⁿ, 0)  for n = 2 … len(channels).

    ``channels`` lists the output channels of the layers, e.g. ``(192, 160, 96)`` for the first
    mlpconv layer of the paper's CIFAR-10 network; ``kernel_size``, ``stride`` and ``padding`` are
    those of the first convolution (padding 0 by default, as in ``nn.Conv2d``: pass
    ``kernel_size // 2`` to keep the size). ``last_relu=False`` leaves the last layer linear (for
    a variant whose last maps go straight into a softmax; the paper's networks keep the ReLU).
    chapters/03_nin.ipynb builds the same layer step by step; tests/test_layers_nin.py checks
    that the two agree.
    """

    def __init__(self, in_channels: int, channels, kernel_size, stride=1, padding=0,
                 last_relu: bool = True):
        channels = tuple(channels)
        if not channels or any(not isinstance(c, int) or c < 1 for c in channels):
            raise ValueError(f"channels must be a non-empty sequence of positive ints, got {channels!r}")
        layers = [("conv", nn.Conv2d(in_channels, channels[0], kernel_size, stride, padding)),
                  ("relu", nn.ReLU(inplace=True))]
        for i, (c_in, c_out) in enumerate(zip(channels, channels[1:]), start=1):
            layers.append((f"cccp{i}", nn.Conv2d(c_in, c_out, kernel_size=1)))
            layers.append((f"relu{i}", nn.ReLU(inplace=True)))
        if not last_relu:
            layers.pop()
        super().__init__()
        for name, layer in layers:
            self.add_module(name, layer)
        self.in_channels, self.channels, self.last_relu = in_channels, channels, last_relu

    @property
    def out_channels(self) -> int:
        return self.channels[-1]


# --- VGG (Simonyan & Zisserman, 2014): chapters/04_vgg.ipynb ----------------------------------

# Table 1 of the paper, one column per configuration, in the paper's own notation:
# "conv<receptive field size>-<number of channels>", "maxpool" (2×2, stride 2) and "LRN" (A-LRN
# only). Every 3×3 convolution has stride 1 and padding 1; every one is followed by a ReLU, which
# Table 1 leaves out "for brevity". The three fully connected layers (FC-4096, FC-4096, FC-1000)
# are the same in all configurations and are built by VGG, not listed here.
_VGG_STAGES = {  # the convolutions of each of the five stages, before its max-pooling
    "A": (("conv3-64",), ("conv3-128",), ("conv3-256",) * 2, ("conv3-512",) * 2,
          ("conv3-512",) * 2),
    "A-LRN": (("conv3-64", "LRN"), ("conv3-128",), ("conv3-256",) * 2, ("conv3-512",) * 2,
              ("conv3-512",) * 2),
    "B": (("conv3-64",) * 2, ("conv3-128",) * 2, ("conv3-256",) * 2, ("conv3-512",) * 2,
          ("conv3-512",) * 2),
    "C": (("conv3-64",) * 2, ("conv3-128",) * 2, ("conv3-256", "conv3-256", "conv1-256"),
          ("conv3-512", "conv3-512", "conv1-512"), ("conv3-512", "conv3-512", "conv1-512")),
    "D": (("conv3-64",) * 2, ("conv3-128",) * 2, ("conv3-256",) * 3, ("conv3-512",) * 3,
          ("conv3-512",) * 3),
    "E": (("conv3-64",) * 2, ("conv3-128",) * 2, ("conv3-256",) * 4, ("conv3-512",) * 4,
          ("conv3-512",) * 4),
}
VGG_CONFIGS = {name: tuple(layer for stage in stages for layer in stage + ("maxpool",))
               for name, stages in _VGG_STAGES.items()}
# The names torchvision (and most of the literature) gives the configurations it ships.
VGG_NAMES = {"A": "VGG-11", "B": "VGG-13", "D": "VGG-16", "E": "VGG-19"}


def _vgg_config(config):
    """A configuration name ("A" … "E", "A-LRN", or "VGG-16" and the like) or a sequence of
    layer strings, as a tuple of layer strings."""
    if isinstance(config, str):
        by_name = {v: k for k, v in VGG_NAMES.items()}
        key = by_name.get(config.upper().replace("VGG", "VGG-").replace("--", "-"), config.upper())
        if key not in VGG_CONFIGS:
            raise ValueError(f"unknown VGG configuration {config!r}; the paper's are "
                             f"{', '.join(VGG_CONFIGS)} (VGG-11/13/16/19 are A/B/D/E)")
        return VGG_CONFIGS[key]
    return tuple(config)


def make_vgg_layers(config="D", batch_norm: bool = False, in_channels: int = 3) -> nn.Sequential:
    """The convolutional part of a VGG network, built from one column of the paper's Table 1.

    ``config``: "A", "A-LRN", "B", "C", "D" or "E" (or "VGG-16" and the like), or a list of layer
    strings in the paper's notation: "conv3-64" is a 3×3 convolution with 64 output channels
    (stride 1, padding 1, so the size is kept), "conv1-256" a 1×1 convolution, "maxpool" a 2×2
    max-pooling with stride 2, "LRN" AlexNet's local response normalisation (A-LRN; the paper uses
    AlexNet's constants, as ``LocalResponseNorm`` does). Every convolution is followed by a ReLU.

    ``batch_norm``: put ``nn.BatchNorm2d`` between each convolution and its ReLU. The paper has no
    batch normalisation (it was published a year later); torchvision's ``vgg16_bn`` and the
    CIFAR-10 networks of this course add it. The layers are numbered exactly as in torchvision's
    ``make_layers``, so that a state dict of ``torchvision.models.vgg16()`` loads into
    ``VGG("D")`` and back (A-LRN and C have no torchvision counterpart).
    """
    layers, c = [], in_channels
    for spec in _vgg_config(config):
        kernel, _, channels = spec.removeprefix("conv").partition("-")
        if spec == "maxpool":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        elif spec == "LRN":
            layers.append(LocalResponseNorm())
        elif spec.startswith("conv") and kernel.isdigit() and channels.isdigit():
            k, width = int(kernel), int(channels)
            layers.append(nn.Conv2d(c, width, kernel_size=k, padding=k // 2))
            if batch_norm:
                layers.append(nn.BatchNorm2d(width))
            layers.append(nn.ReLU(inplace=True))
            c = width
        else:
            raise ValueError(f"unknown VGG layer {spec!r}: use 'conv<k>-<channels>' (e.g. "
                             f"'conv3-64'), 'maxpool' or 'LRN'")
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """A VGG network (Simonyan & Zisserman, 2014): ``features`` from one column of Table 1
    (see ``make_vgg_layers``), then the classifier.

    Defaults: the paper's ImageNet network, for 224×224 inputs: after five poolings the maps are
    7×7 (``final_size``), flattened into FC-4096, FC-4096 and FC-``num_classes``, with ReLUs and
    dropout 0.5 after the first two (§3.1). ``hidden=None`` replaces the three layers by one
    linear layer from the flattened features to the classes (the usual CIFAR-10 head, as in
    kuangliu/pytorch-cifar, where ``final_size=1``).

    ``adaptive_pool=True`` inserts torchvision's ``nn.AdaptiveAvgPool2d(final_size)`` before the
    classifier, so that any input of at least 32×32 pixels works; it has no parameters and is the
    identity on a 224×224 input (the maps are already 7×7), so it changes neither the count nor
    the output there. With it, the state dict and the outputs equal torchvision's ``vgg11``,
    ``vgg13``, ``vgg16``, ``vgg19`` (configurations A, B, D, E) and their ``_bn`` variants.

    Initialisation (``init_weights``): torchvision's (He et al.'s fan-out rule for convolutions,
    N(0, 0.01) for the linear layers, zero biases). The paper instead trained A from N(0, 10⁻²)
    weights (a variance, §3.1) and started the deeper configurations from A's layers.
    """

    def __init__(self, config="D", num_classes: int = 1000, *, batch_norm: bool = False,
                 hidden: int | None = 4096, dropout: float = 0.5, final_size: int = 7,
                 adaptive_pool: bool = False, in_channels: int = 3, init_weights: bool = True):
        super().__init__()
        self.config = _vgg_config(config)
        self.features = make_vgg_layers(self.config, batch_norm, in_channels)
        if adaptive_pool:
            self.avgpool = nn.AdaptiveAvgPool2d((final_size, final_size))
        else:
            self.avgpool = None
        channels = [m.out_channels for m in self.features if isinstance(m, nn.Conv2d)][-1]
        self.flatten = nn.Flatten()
        n_in = channels * final_size * final_size
        if hidden:
            self.classifier = nn.Sequential(
                nn.Linear(n_in, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
                nn.Linear(hidden, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
                nn.Linear(hidden, num_classes))
        else:
            self.classifier = nn.Linear(n_in, num_classes)
        if init_weights:
            self.reset_parameters()

    def reset_parameters(self):
        """torchvision's initialisation of its VGG models."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        if self.avgpool is not None:
            x = self.avgpool(x)
        return self.classifier(self.flatten(x))
