"""MobileNet (Howard et al., 2017): the depthwise separable convolution and the network of Table 1,
with the width multiplier α of §4.2 and a CIFAR-10 adaptation.

- :class:`DepthwiseSeparable`: Figure 3 (right) of the paper: a 3×3 *depthwise* convolution (one
  filter per input channel, ``groups=in_channels``), batch norm, ReLU6; then a 1×1 *pointwise*
  convolution that mixes the channels, batch norm, ReLU6. Its cost is 1/N + 1/D_K² of a standard
  convolution's (§3.1): 8 to 9 times fewer multiply-adds for 3×3 filters.
- :class:`MobileNet`: Table 1: a standard 3×3 convolution with stride 2 (``conv1``), thirteen
  depthwise separable blocks (``blocks``), global average pooling and the classifier ``fc``.
  Every width is ``make_divisible(α · c, 8)`` (the rounding of the authors' and timm's code; for
  α = 1, 0.75, 0.5 and 0.25 it is exactly α · c).
- :func:`mobilenet`: the ImageNet network for a width multiplier α. ``mobilenet(1.0)`` equals
  timm's ``mobilenetv1_100`` (4,231,976 parameters; the same state dict, entry by entry in
  order, and the same output on the same weights: tests/test_layers_mobilenet.py). Table 1 of the
  paper prints the depthwise layer of the last block as "Conv dw / s2"; its input
  and output are both 7×7, so the stride is 1, as in timm and TensorFlow's code.
- :func:`mobilenet_cifar`: the course's 32×32 version: ``conv1`` with stride 1, otherwise Table 1
  (four stride-2 blocks: 32 → 16 → 8 → 4 → 2), ten classes.

The paper writes "batchnorm and ReLU nonlinearity" after every layer (§3.1, Figure 3); the
authors' TensorFlow code (slim's ``mobilenet_v1.py``) uses ReLU6, min(max(x, 0), 6), and so do
timm and this module (``activation_layer=nn.ReLU`` gives the paper's words).
"""

from torch import nn

from .common import ConvBNAct, he_init, make_divisible

# Table 1: (output channels, stride) of the thirteen depthwise separable blocks, α = 1. The stride
# is that of the block's depthwise 3×3 convolution; its 1×1 convolution always has stride 1.
MOBILENET_TABLE = [
    (64, 1),
    (128, 2), (128, 1),
    (256, 2), (256, 1),
    (512, 2), (512, 1), (512, 1), (512, 1), (512, 1), (512, 1),
    (1024, 2), (1024, 1),          # Table 1 prints "s2" for the second: a misprint (7×7 in and out)
]
STEM_CHANNELS = 32                 # conv1: 3×3×3×32, stride 2


class DepthwiseSeparable(nn.Module):
    """Figure 3 (right): depthwise 3×3 conv → BN → ReLU6, then pointwise 1×1 conv → BN → ReLU6.

    ``dw`` filters each of the ``in_channels`` maps with its own 3×3 kernel (``groups=in_channels``,
    stride ``stride``): D_K² · M weights, D_K² · M · D_F² multiply-adds (Eq. 4). ``pw`` combines the
    M maps into ``out_channels`` = N new ones: M · N weights, M · N · D_F² multiply-adds. Both are
    :class:`~utils.layers.common.ConvBNAct` (layers ``0`` conv, ``1`` BN, ``2`` activation),
    without biases: batch norm's shift replaces them.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1,
                 activation_layer=nn.ReLU6):
        super().__init__()
        self.dw = ConvBNAct(in_channels, in_channels, 3, stride, groups=in_channels,
                            activation_layer=activation_layer)
        self.pw = ConvBNAct(in_channels, out_channels, 1, activation_layer=activation_layer)
        self.in_channels, self.out_channels, self.stride = in_channels, out_channels, stride

    def forward(self, x):
        return self.pw(self.dw(x))


class MobileNet(nn.Module):
    """The MobileNet of Table 1 for a width multiplier ``alpha`` (§4.2).

    ``conv1`` (a standard 3×3 convolution, ``stem_stride``), ``blocks`` (one
    :class:`DepthwiseSeparable` per row pair of Table 1, ``table`` as (channels, stride) at
    α = 1), ``avgpool`` (global average pooling: "Avg Pool / s1, Pool 7 × 7" at 224) and ``fc``
    (fully connected to ``num_classes``; the softmax is in the loss). The resolution multiplier ρ
    of §4.3 is not a parameter: it is the input size (224, 192, 160 or 128).

    Initialisation as torchvision's MobileNets: He's normal rule (fan-out) for the convolutions,
    batch norm's scale 1 and shift 0, the classifier's weights normal with standard deviation 0.01
    and its bias 0.
    """

    def __init__(self, alpha: float = 1.0, num_classes: int = 1000, table=None,
                 stem_stride: int = 2, in_channels: int = 3, activation_layer=nn.ReLU6,
                 divisor: int = 8):
        super().__init__()
        table = MOBILENET_TABLE if table is None else table
        width = lambda c: make_divisible(c * alpha, divisor)   # noqa: E731
        channels = width(STEM_CHANNELS)
        self.conv1 = ConvBNAct(in_channels, channels, 3, stem_stride,
                               activation_layer=activation_layer)
        blocks = []
        for c, s in table:
            blocks.append(DepthwiseSeparable(channels, width(c), s, activation_layer))
            channels = width(c)
        self.blocks = nn.Sequential(*blocks)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)
        self.alpha, self.num_features = alpha, channels
        he_init(self, linear_std=0.01)   # as timm's and torchvision's MobileNets

    def forward(self, x):
        x = self.avgpool(self.blocks(self.conv1(x)))
        return self.fc(x.flatten(1))


def mobilenet(alpha: float = 1.0, num_classes: int = 1000, **kwargs) -> MobileNet:
    """The ImageNet MobileNet of Table 1 with width multiplier ``alpha`` (1.0, 0.75, 0.5, 0.25 in
    the paper). ``mobilenet(1.0)`` equals timm's ``mobilenetv1_100`` (4,231,976 parameters)."""
    return MobileNet(alpha, num_classes, **kwargs)


def mobilenet_cifar(alpha: float = 1.0, num_classes: int = 10, **kwargs) -> MobileNet:
    """MobileNet for CIFAR-10's 32×32 images: ``conv1`` with stride 1 (the ImageNet stem's stride 2
    would leave 16 pixels after the first layer and 1 pixel after the last stride-2 block), the
    thirteen blocks of Table 1 with their four stride-2 blocks (32 → 16 → 8 → 4 → 2), ten
    classes. ``alpha`` scales every width as in the ImageNet network."""
    return MobileNet(alpha, num_classes, stem_stride=1, **kwargs)
