"""Network in Network (Lin, Chen & Yan, 2013, "Network in network"): chapters/03_nin.ipynb.

The paper's mlpconv layer (``MLPConv``), the paper's CIFAR-10 network (``NiNCIFAR``, built by
``nin_cifar()``) and the authors' released ImageNet network (``NiNImageNet``). The networks are
written exactly as the chapter's classes of the same names (same modules, same names, same order);
tests/test_layers_nin.py takes them from the notebook and checks that they agree.
"""

from torch import nn

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


class NiNCIFAR(nn.Module):
    """The paper's CIFAR-10 network (§4.1–4.2; the layer sizes of the authors' released Caffe
    definition): three mlpconv layers, max- then average-pooling with dropout 0.5 after the first
    two, and global average pooling of the last layer's one map per class instead of fully
    connected layers (§3.2). For 3×32×32 inputs (any size works, thanks to the global pooling).

    ``last_relu=False`` leaves the last 1×1 layer linear (the chapter's variant); the paper's
    network keeps the ReLU, so the class scores are never negative.
    """

    def __init__(self, num_classes=10, last_relu=True):
        super().__init__()
        self.mlpconv1 = MLPConv(3, (192, 160, 96), kernel_size=5, padding=2)
        self.pool1 = nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True)
        self.drop1 = nn.Dropout(0.5)
        self.mlpconv2 = MLPConv(96, (192, 192, 192), kernel_size=5, padding=2)
        self.pool2 = nn.AvgPool2d(kernel_size=3, stride=2, ceil_mode=True)
        self.drop2 = nn.Dropout(0.5)
        self.mlpconv3 = MLPConv(192, (192, 192, num_classes), kernel_size=3, padding=1,
                                last_relu=last_relu)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()

    def forward(self, x):
        x = self.drop1(self.pool1(self.mlpconv1(x)))
        x = self.drop2(self.pool2(self.mlpconv2(x)))
        return self.flatten(self.gap(self.mlpconv3(x)))


class NiNImageNet(nn.Module):
    """The authors' released ImageNet NiN (Caffe model zoo; the paper reports no ImageNet network),
    for 3×224×224 inputs: four mlpconv layers, the first like AlexNet's conv1 (11×11, stride 4),
    3×3 stride-2 max-pooling after the first three, dropout, and a 6×6 average pooling of the
    class maps. ``ceil_mode`` rounds the poolings up as Caffe does (224 → 54 → 27 → 13 → 6)."""

    def __init__(self, num_classes=1000, ceil_mode=True):
        super().__init__()
        self.mlpconv1 = MLPConv(3, (96, 96, 96), kernel_size=11, stride=4)
        self.pool1 = nn.MaxPool2d(3, stride=2, ceil_mode=ceil_mode)
        self.mlpconv2 = MLPConv(96, (256, 256, 256), kernel_size=5, padding=2)
        self.pool2 = nn.MaxPool2d(3, stride=2, ceil_mode=ceil_mode)
        self.mlpconv3 = MLPConv(256, (384, 384, 384), kernel_size=3, padding=1)
        self.pool3 = nn.MaxPool2d(3, stride=2, ceil_mode=ceil_mode)
        self.drop = nn.Dropout(0.5)
        self.mlpconv4 = MLPConv(384, (1024, 1024, num_classes), kernel_size=3, padding=1)
        self.pool4 = nn.AvgPool2d(6, stride=1)     # global: the class maps are 6×6
        self.flatten = nn.Flatten()

    def forward(self, x):
        x = self.pool1(self.mlpconv1(x))
        x = self.pool2(self.mlpconv2(x))
        x = self.drop(self.pool3(self.mlpconv3(x)))
        return self.flatten(self.pool4(self.mlpconv4(x)))


def nin_cifar(num_classes=10, last_relu=True):
    """The paper's CIFAR-10 Network in Network (3×32×32 inputs): a ``NiNCIFAR``."""
    return NiNCIFAR(num_classes, last_relu)
