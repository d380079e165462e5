"""Blocks that several later families share: conv–BN–activation, squeeze-and-excitation, the
channel rounding of the MobileNets and stochastic depth.

Each one is written out here, short enough to read in a chapter, instead of re-exported from
torchvision, for two reasons: the chapters show the code (``inspect.getsource``) next to the
paper's equation, and the names follow one convention (``in_channels``, ``out_channels``,
``stride`` as ``nn.Conv2d`` names them). Each is also built to *be* torchvision's block: the same
sub-modules, created in the same order under the same names, so the state dicts are identical,
the same random seed gives the same initial weights, and the same weights give the same output.
tests/test_layers_common.py checks all of that against ``torchvision.ops.Conv2dNormActivation``,
``torchvision.ops.SqueezeExcitation``, ``torchvision.ops.StochasticDepth`` and
``torchvision.models._utils._make_divisible``; a pretrained torchvision state dict therefore
loads into networks built from these blocks.
"""

import inspect

import torch
from torch import nn


def he_init(model: nn.Module, linear_std: float | None = None) -> None:
    """torchvision's initialisation of its batch-normalised networks (ResNet and later): He et
    al.'s normal rule with the fan-out for every convolution's weights, batch norm's (and group
    norm's) scale 1 and shift 0; linear layers and convolution biases keep PyTorch's default,
    unless ``linear_std`` is given: then linear weights are drawn from N(0, linear_std²) and
    their biases set to 0 (torchvision's MobileNets: 0.01)."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear) and linear_std is not None:
            nn.init.normal_(m.weight, 0, linear_std)
            nn.init.zeros_(m.bias)


def make_divisible(v: float, divisor: int = 8, min_value: int | None = None) -> int:
    """``v`` rounded to the nearest multiple of ``divisor`` (at least ``min_value``, by default
    ``divisor``), but never more than 10 % below ``v``.

    The rule of the MobileNets (Howard et al., 2017; Sandler et al., 2018) and EfficientNet (Tan
    & Le, 2019), from the authors' TensorFlow code: a width multiplier such as 0.75 or 1.4 turns
    32 channels into 24 or 44.8, and hardware runs fastest on multiples of 8. Equal to
    torchvision's private ``torchvision.models._utils._make_divisible`` (tested), kept here
    because a private name may move.
    """
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:  # rounding down must not lose more than 10 % of the channels
        new_v += divisor
    return new_v


def _same_padding(kernel_size, dilation):
    """The padding that keeps the size at stride 1 for an odd kernel: (k − 1)/2 · dilation."""
    if isinstance(kernel_size, int) and isinstance(dilation, int):
        return (kernel_size - 1) // 2 * dilation
    n = len(kernel_size) if not isinstance(kernel_size, int) else len(dilation)
    ks = (kernel_size,) * n if isinstance(kernel_size, int) else tuple(kernel_size)
    ds = (dilation,) * n if isinstance(dilation, int) else tuple(dilation)
    return tuple((k - 1) // 2 * d for k, d in zip(ks, ds))


class ConvBNAct(nn.Sequential):
    """A convolution, then batch normalisation, then an activation: the unit that every network
    after batch normalisation (Ioffe & Szegedy, 2015) is built from, in ResNet, the MobileNets,
    ShuffleNet and EfficientNet alike.

    The layers are ``0`` (``nn.Conv2d``), ``1`` (``norm_layer``) and ``2``
    (``activation_layer``), numbered as in torchvision's ``Conv2dNormActivation``, which this
    equals (same state dict, same output; tests/test_layers_common.py). ``padding=None`` keeps the
    size at stride 1 ("same" padding, (k − 1)/2 · dilation); the convolution has no bias when a
    normalisation follows (``bias=None``), since batch norm's shift β would cancel it.
    ``norm_layer=None`` or ``activation_layer=None`` leave that layer out; ``groups=in_channels``
    makes the depthwise convolution of the MobileNets. The activation is built with
    ``inplace=inplace`` when it takes that argument (``nn.ReLU``, ``nn.ReLU6``, ``nn.SiLU``,
    ``nn.Hardswish``), without it otherwise (``nn.Sigmoid``).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size=3, stride=1,
                 padding=None, groups: int = 1, norm_layer=nn.BatchNorm2d,
                 activation_layer=nn.ReLU, dilation=1, inplace: bool | None = True,
                 bias: bool | None = None):
        if padding is None:
            padding = _same_padding(kernel_size, dilation)
        if bias is None:
            bias = norm_layer is None
        layers = [nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding,
                            dilation=dilation, groups=groups, bias=bias)]
        if norm_layer is not None:
            layers.append(norm_layer(out_channels))
        if activation_layer is not None:
            takes_inplace = "inplace" in inspect.signature(activation_layer).parameters
            kwargs = {"inplace": inplace} if inplace is not None and takes_inplace else {}
            layers.append(activation_layer(**kwargs))
        super().__init__(*layers)
        self.in_channels, self.out_channels = in_channels, out_channels


class SqueezeExcitation(nn.Module):
    """The squeeze-and-excitation block of Hu, Shen & Sun (2018), Figure 1 and Equations 2–4.

    *Squeeze*: average each of the C input maps to one number (global average pooling).
    *Excitation*: a two-layer bottleneck, C → ``squeeze_channels`` → C, with ``activation`` (the
    paper's δ, a ReLU) in between and ``scale_activation`` (σ, a sigmoid) at the end, gives one
    weight in (0, 1) per channel. *Scale*: multiply each input map by its weight. The paper
    writes the two layers as fully connected ones with a reduction ratio r = 16
    (``squeeze_channels = in_channels // 16``); here they are 1×1 convolutions on the 1×1 pooled
    maps, which is the same computation, so that the weights have torchvision's shapes.

    Sub-modules ``avgpool``, ``fc1``, ``fc2``, ``activation``, ``scale_activation`` as in
    ``torchvision.ops.SqueezeExcitation``, which this equals (tested); MobileNetV3 passes
    ``scale_activation=nn.Hardsigmoid``, EfficientNet ``activation=nn.SiLU``.
    """

    def __init__(self, in_channels: int, squeeze_channels: int, activation=nn.ReLU,
                 scale_activation=nn.Sigmoid):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(in_channels, squeeze_channels, 1)
        self.fc2 = nn.Conv2d(squeeze_channels, in_channels, 1)
        self.activation = activation()
        self.scale_activation = scale_activation()
        self.in_channels, self.squeeze_channels = in_channels, squeeze_channels

    def scale(self, x: torch.Tensor) -> torch.Tensor:
        """The channel weights s = σ(W₂ δ(W₁ z)), z the squeezed input: shape [N, C, 1, 1]."""
        z = self.avgpool(x)
        return self.scale_activation(self.fc2(self.activation(self.fc1(z))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale(x) * x


def drop_path(x: torch.Tensor, p: float, mode: str = "row", training: bool = True) -> torch.Tensor:
    """Stochastic depth (Huang et al., 2016): zero ``x`` with probability ``p``, else divide it by
    the survival probability 1 − p, so that the expected value is ``x`` and nothing changes at
    test time.

    ``x`` is a residual branch's output, before it is added to the shortcut: dropping it leaves
    the block an identity, so a deep network trains as a random shallower one. ``mode="batch"``
    drops the branch for the whole mini-batch at once, as in the paper; ``mode="row"`` decides
    sample by sample (each row of the batch), as EfficientNet and timm's ``DropPath`` do. The
    paper instead multiplied the branch by 1 − p at test time; dividing during training (the
    "inverted" form) is the same in expectation. Equal to ``torchvision.ops.stochastic_depth``,
    draw for draw under the same random seed (tested).
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"drop probability p must be between 0 and 1, got {p}")
    if mode not in ("batch", "row"):
        raise ValueError(f"mode must be 'batch' or 'row', got {mode!r}")
    if not training or p == 0.0:
        return x
    survival = 1.0 - p
    size = [x.shape[0]] + [1] * (x.dim() - 1) if mode == "row" else [1] * x.dim()
    keep = torch.empty(size, dtype=x.dtype, device=x.device).bernoulli_(survival)
    if survival > 0.0:
        keep.div_(survival)
    return x * keep


class StochasticDepth(nn.Module):
    """``drop_path`` as a module: active in training mode, the identity in evaluation mode.

    EfficientNet grows ``p`` linearly with depth, from 0 to 0.2 at the last block (the paper's
    "linear decay" rule of survival probabilities). Same arguments and behaviour as
    ``torchvision.ops.StochasticDepth`` (tested).
    """

    def __init__(self, p: float, mode: str = "row"):
        super().__init__()
        if not 0.0 <= p <= 1.0 or mode not in ("batch", "row"):
            raise ValueError("need 0 <= p <= 1 and mode 'batch' or 'row', "
                             f"got p={p}, mode={mode!r}")
        self.p, self.mode = p, mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return drop_path(x, self.p, self.mode, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, mode={self.mode!r}"
