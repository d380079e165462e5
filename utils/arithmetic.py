"""Output sizes, parameters and multiply-adds, worked out in full and checked against PyTorch.

Every function here returns a :class:`Worked` number: the value *and* the sentence that derives
it, so a chapter can print "(227 − 11 + 2·0)/4 + 1 = 55" instead of typing it. ``summary``
builds the layer table of a whole network from a real forward pass and checks itself: output
shapes against the formulas, parameters against ``model.parameters()``, multiply-adds against
``torch.utils.flop_counter.FlopCounterMode``. ``check_fits`` turns PyTorch's shape errors into
a sentence naming the layer and the arithmetic that fails; ``receptive_field`` follows the
receptive field and the jump (the stride in input pixels) through a network.

Conventions (used throughout the course):

- 1 MAC = one multiply-add = 2 FLOPs. Papers mix the two: GoogLeNet's "1.5 billion
  multiply-adds" and ResNet's "3.8 × 10⁹ FLOPs" are both multiply-adds. We count the
  multiply-adds of convolutions and fully connected layers (and of any matrix product that
  ``FlopCounterMode`` sees), not biases, activations, normalisation or pooling, as the papers do.
- Sizes are per example: ``input_size`` and output shapes leave out the batch dimension.
- Memory is in bytes of fp32 (4 bytes a number); 1 MB = 10⁶ bytes.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field
from fractions import Fraction

import torch
from torch import nn

__all__ = [
    "Worked", "conv_out", "pool_out", "conv_params", "linear_params", "bn_params", "se_params",
    "depthwise_params", "conv_macs", "linear_macs", "rf_step", "fmt", "fmt_big", "fmt_bytes",
    "summary", "Summary", "Row", "SummaryMismatch", "receptive_field", "ReceptiveField", "RFRow",
    "ShapeError", "check_fits",
]

MINUS, DOT, TIMES = "\u2212", "\u00b7", "\u00d7"


# --- numbers as text ---------------------------------------------------------------------------

def fmt(n) -> str:
    """A number with thousands separators: ``fmt(34944) == "34,944"``."""
    if isinstance(n, Worked):
        n = n.value
    if isinstance(n, float) and n.is_integer():
        n = int(n)
    text = f"{n:,}" if isinstance(n, int) else f"{n:,.2f}"
    return text.replace("-", MINUS)  # a real minus sign, as in the formulas


def fmt_big(n, unit: str = "") -> str:
    """A large number with an SI prefix: ``fmt_big(60_965_224) == "60.97 M"``, "1.14 G"."""
    n = float(n.value if isinstance(n, Worked) else n)
    for exp, prefix in ((12, "T"), (9, "G"), (6, "M"), (3, "k")):
        if abs(n) >= 10 ** exp:
            return f"{n / 10 ** exp:.2f} {prefix}{unit}"
    return f"{fmt(int(n) if n.is_integer() else n)} {unit}".rstrip()


def fmt_bytes(n) -> str:
    """Bytes in decimal units (1 MB = 10⁶ bytes): ``fmt_bytes(244_403_360) == "244.40 MB"``."""
    return fmt_big(n, "B")


def _dec(x: Fraction) -> str:
    """A fraction as a short decimal: 54.25, 13.5, or ≈ 13.33 when it does not terminate."""
    if x.denominator == 1:
        return fmt(int(x))
    for digits in (1, 2, 3):
        if (x * 10 ** digits).denominator == 1:
            return f"{float(x):,.{digits}f}"
    return f"≈ {float(x):,.2f}"


def _latex_num(n) -> str:
    return fmt(n).replace(",", "{,}")


def _shape(shape) -> str:
    """(96, 55, 55) -> "96×55×55"."""
    return TIMES.join(str(int(s)) for s in shape) if shape else "scalar"


def _pair(v, n=2) -> tuple:
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * n


def _kernel_text(kernel) -> tuple[str, str, int]:
    """A kernel (int or tuple) as plain text, LaTeX and its number of taps: 11 -> "11·11"."""
    ks = _pair(kernel)
    return DOT.join(map(str, ks)), r" \cdot ".join(map(str, ks)), math.prod(ks)


# --- a number with its derivation -----------------------------------------------------------------

class Worked:
    """A number together with the arithmetic that produced it.

    ``.value`` is the number, ``.text`` the derivation in plain text ("(227 − 11 + 2·0)/4 + 1 =
    55"), ``.latex`` the same in LaTeX, ``.exact`` False when a division did not come out whole
    (PyTorch then rounds), and ``.note`` says what happened in that case (or another caveat).
    It behaves like its value: ``int(w)``, ``w == 55``, ``w + 1``, ``f"{w:,}"``; ``str(w)`` and
    ``f"{w}"`` give the text.
    """

    def __init__(self, value, text: str, latex: str = "", exact: bool = True, note: str = ""):
        self.value, self.text, self.latex = value, text, latex or text
        self.exact, self.note = exact, note

    # what a notebook shows
    def __str__(self):
        return self.text

    def __repr__(self):
        return self.text + (f"  ({self.note})" if self.note else "")

    def __format__(self, spec):
        return self.text if not spec else format(self.value, spec)

    def _repr_markdown_(self):
        return self.text + (f"  \n*{self.note}*" if self.note else "")

    def _repr_latex_(self):
        return f"$${self.latex}$$" + (f"\n\n{self.note}" if self.note else "")

    # behaving like the value
    def __int__(self):
        return int(self.value)

    def __float__(self):
        return float(self.value)

    def __index__(self):
        if not isinstance(self.value, int):
            raise TypeError(f"{self.text} is not an integer")
        return self.value

    def __bool__(self):
        return bool(self.value)

    def __hash__(self):
        return hash(self.value)

    def __round__(self, ndigits=None):
        return round(self.value, ndigits)

    def __neg__(self):
        return -self.value

    def __abs__(self):
        return abs(self.value)


def _v(x):
    return x.value if isinstance(x, Worked) else x


def _binary(op):
    return lambda self, other: op(self.value, _v(other))


def _reflected(op):
    return lambda self, other: op(_v(other), self.value)


# Worked compares and computes like its value: w == 55, w + 1, 2 * w, w / 4, ...
for _name in ("eq", "ne", "lt", "le", "gt", "ge"):
    setattr(Worked, f"__{_name}__", _binary(getattr(operator, _name)))
for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow"):
    setattr(Worked, f"__{_name}__", _binary(getattr(operator, _name)))
    setattr(Worked, f"__r{_name}__", _reflected(getattr(operator, _name)))


# --- output sizes -------------------------------------------------------------------------------

def _check_ints(**kw):
    for name, v in kw.items():
        if not isinstance(_v(v), int) or isinstance(v, bool):
            raise TypeError(f"{name} must be an int, got {v!r}")


def _window(kernel, dilation) -> tuple[int, str, str]:
    """The effective kernel D·(K − 1) + 1 of a dilated window, as value, text and LaTeX."""
    if dilation == 1:
        return kernel, str(kernel), str(kernel)
    return (dilation * (kernel - 1) + 1, f"({dilation}{DOT}({kernel} {MINUS} 1) + 1)",
            rf"({dilation} \cdot ({kernel} - 1) + 1)")


def _size_formula(size, kernel, stride, padding, dilation):
    """Numerator, and text/LaTeX of the fraction (W − K + 2·P)/S, shared by conv and pool."""
    k_eff, k_text, k_latex = _window(kernel, dilation)
    num = size - k_eff + 2 * padding
    text = f"({fmt(size)} {MINUS} {k_text} + 2{DOT}{padding})/{stride}"
    latex = rf"\frac{{{_latex_num(size)} - {k_latex} + 2 \cdot {padding}}}{{{stride}}}"
    return num, k_eff, text, latex


def conv_out(size, kernel, stride=1, padding=0, dilation=1) -> Worked:
    """Output size of a convolution along one dimension: ⌊(W − K + 2P)/S⌋ + 1.

    With dilation D the window spans D·(K − 1) + 1 pixels. When the division is not whole,
    PyTorch floors it (the last pixels of the padded input are never covered by a window), and
    ``.exact`` is False: ``conv_out(224, 11, 4)`` is 54, because (224 − 11)/4 + 1 = 54.25, which
    is why AlexNet needs a 227-pixel input to get 55. A result below 1 means the window does not
    fit in the padded input.
    """
    _check_ints(size=size, kernel=kernel, stride=stride, padding=padding, dilation=dilation)
    size, kernel, stride, padding, dilation = map(_v, (size, kernel, stride, padding, dilation))
    if min(kernel, stride, dilation) < 1 or padding < 0 or size < 0:
        raise ValueError("kernel, stride and dilation must be at least 1, padding and size at least 0")
    num, k_eff, text, latex = _size_formula(size, kernel, stride, padding, dilation)
    value = num // stride + 1
    exact = num % stride == 0
    note = ""
    if exact:
        text, latex = f"{text} + 1 = {fmt(value)}", f"{latex} + 1 = {_latex_num(value)}"
    else:
        real = Fraction(num, stride) + 1
        note = (f"{text} + 1 = {_dec(real)} is not a whole number: PyTorch floors it to "
                f"{fmt(value)}")
        if value >= 1:
            note += (f" (the window never reaches the last {num % stride} of the "
                     f"{fmt(size + 2 * padding)} padded input positions)")
        text = f"{text} + 1 = {_dec(real)} → {fmt(value)}"
        latex = rf"\left\lfloor {latex} \right\rfloor + 1 = {_latex_num(value)}"
    if value < 1:
        note = (note + "; " if note else "") + (
            f"the {k_eff}-wide window does not fit in the padded input of "
            f"{fmt(size)} + 2{DOT}{padding} = {fmt(size + 2 * padding)}: there is no output")
    return Worked(value, text, latex, exact, note)


def pool_out(size, kernel, stride=None, padding=0, dilation=1, ceil_mode=False) -> Worked:
    """Output size of a pooling layer along one dimension, exactly as PyTorch computes it.

    The stride defaults to the kernel size. With ``ceil_mode=False`` it is the convolution
    formula ⌊(W − K + 2P)/S⌋ + 1. With ``ceil_mode=True`` the division is rounded up, so a last,
    partial window is kept, except that PyTorch drops that window when it would start in the
    right padding, that is, when (out − 1)·S ≥ W + P.
    """
    stride = kernel if stride is None else stride
    _check_ints(size=size, kernel=kernel, stride=stride, padding=padding, dilation=dilation)
    size, kernel, stride, padding, dilation = map(_v, (size, kernel, stride, padding, dilation))
    if 2 * padding > dilation * (kernel - 1) + 1:
        raise ValueError(f"padding {padding} is more than half the pooling window "
                         f"({dilation * (kernel - 1) + 1}); PyTorch refuses this")
    if not ceil_mode:
        return conv_out(size, kernel, stride, padding, dilation)
    num, k_eff, text, latex = _size_formula(size, kernel, stride, padding, dilation)
    if num % stride == 0:
        w = conv_out(size, kernel, stride, padding, dilation)
        return w
    value = -(-num // stride) + 1
    real = Fraction(num, stride) + 1
    note = (f"{text} + 1 = {_dec(real)} is not a whole number: with ceil_mode=True PyTorch "
            f"rounds it up to {fmt(value)}")
    if (value - 1) * stride >= size + padding:
        note += (f", but drops the last window because it would start in the right padding: "
                 f"({fmt(value)} {MINUS} 1){DOT}{stride} = {fmt((value - 1) * stride)} ≥ "
                 f"{fmt(size)} + {padding}, so the output is {fmt(value - 1)}")
        value -= 1
    else:
        note += " (the last window hangs over the edge of the input)"
    text = f"{text} + 1 = {_dec(real)} → {fmt(value)}"
    latex = rf"\left\lceil {latex} \right\rceil + 1 = {_latex_num(value)}"
    return Worked(value, text, latex, False, note)


# --- parameters --------------------------------------------------------------------------------

def _weights_times(w_text, w_latex, count, value, bias) -> tuple[str, str]:
    """Text and LaTeX of "(weights + 1)·count = value" (or "weights·count" without bias): the
    shape shared by conv, depthwise and linear parameter counts."""
    if bias:
        return (f"({w_text} + 1){DOT}{fmt(count)} = {fmt(value)}",
                rf"({w_latex} + 1) \cdot {_latex_num(count)} = {_latex_num(value)}")
    return (f"{w_text}{DOT}{fmt(count)} = {fmt(value)}",
            rf"{w_latex} \cdot {_latex_num(count)} = {_latex_num(value)}")


def conv_params(c_in, c_out, kernel, groups=1, bias=True) -> Worked:
    """Parameters of a convolution: (K·K·C_in/groups + 1)·C_out, or K·K·C_in/groups·C_out
    without bias. ``conv_params(3, 96, 11)`` is (11·11·3 + 1)·96 = 34,944 (AlexNet's conv1)."""
    _check_ints(c_in=c_in, c_out=c_out, groups=groups)
    c_in, c_out, groups = _v(c_in), _v(c_out), _v(groups)
    if c_in % groups or c_out % groups:
        raise ValueError(f"groups={groups} must divide both c_in={c_in} and c_out={c_out}")
    k_text, k_latex, taps = _kernel_text(kernel)
    cin_text = fmt(c_in) if groups == 1 else f"{fmt(c_in)}/{groups}"
    cin_latex = _latex_num(c_in) if groups == 1 else rf"{_latex_num(c_in)}/{groups}"
    per_filter = taps * (c_in // groups)
    value = (per_filter + bias) * c_out
    text, latex = _weights_times(f"{k_text}{DOT}{cin_text}", rf"{k_latex} \cdot {cin_latex}",
                                 c_out, value, bias)
    return Worked(value, text, latex)


def depthwise_params(channels, kernel, bias=True) -> Worked:
    """Parameters of a depthwise convolution (one K×K filter per channel, ``groups=channels``):
    (K·K + 1)·C, or K·K·C without bias. MobileNets put batch norm after it and use
    ``bias=False``; the default follows ``nn.Conv2d``."""
    _check_ints(channels=channels)
    channels = _v(channels)
    k_text, k_latex, taps = _kernel_text(kernel)
    value = (taps + bias) * channels
    text, latex = _weights_times(k_text, k_latex, channels, value, bias)
    return Worked(value, text, latex, note=f"nn.Conv2d({channels}, {channels}, {kernel}, "
                                           f"groups={channels}, bias={bool(bias)})")


def linear_params(n_in, n_out, bias=True) -> Worked:
    """Parameters of a fully connected layer: (N_in + 1)·N_out, or N_in·N_out without bias."""
    _check_ints(n_in=n_in, n_out=n_out)
    n_in, n_out = _v(n_in), _v(n_out)
    value = (n_in + bias) * n_out
    text, latex = _weights_times(fmt(n_in), _latex_num(n_in), n_out, value, bias)
    return Worked(value, text, latex)


def bn_params(channels) -> Worked:
    """Learnable parameters of batch norm: a scale γ and a shift β per channel, 2·C. The running
    mean and variance (another 2·C numbers) are buffers: saved with the model, not trained."""
    _check_ints(channels=channels)
    c = _v(channels)
    return Worked(2 * c, f"2{DOT}{fmt(c)} = {fmt(2 * c)}",
                  rf"2 \cdot {_latex_num(c)} = {_latex_num(2 * c)}",
                  note=f"plus 2{DOT}{fmt(c)} = {fmt(2 * c)} running statistics (mean and "
                       f"variance), which are buffers, not parameters")


def se_params(channels, squeeze_channels) -> Worked:
    """Parameters of a squeeze-and-excitation block as torchvision builds it (two 1×1
    convolutions with biases, C → S → C): (C + 1)·S + (S + 1)·C. Hu et al. count the weights
    only, 2·C·S (with S = C/r: 2C²/r)."""
    _check_ints(channels=channels, squeeze_channels=squeeze_channels)
    c, s = _v(channels), _v(squeeze_channels)
    value = (c + 1) * s + (s + 1) * c
    return Worked(value, f"({fmt(c)} + 1){DOT}{fmt(s)} + ({fmt(s)} + 1){DOT}{fmt(c)} = {fmt(value)}",
                  rf"({_latex_num(c)} + 1) \cdot {_latex_num(s)} + ({_latex_num(s)} + 1) "
                  rf"\cdot {_latex_num(c)} = {_latex_num(value)}",
                  note=f"without biases, as Hu et al. count it: 2{DOT}{fmt(c)}{DOT}{fmt(s)} = "
                       f"{fmt(2 * c * s)}")


# --- multiply-adds -------------------------------------------------------------------------------

def conv_macs(h_out, w_out, c_in, c_out, kernel, groups=1) -> Worked:
    """Multiply-adds of a convolution: one per weight per output position,
    H_out·W_out·C_out·(K·K·C_in/groups). Biases are not counted (nor by FlopCounterMode).
    1 MAC = 2 FLOPs."""
    _check_ints(h_out=h_out, w_out=w_out, c_in=c_in, c_out=c_out, groups=groups)
    h, w, c_in, c_out, groups = map(_v, (h_out, w_out, c_in, c_out, groups))
    k_text, k_latex, taps = _kernel_text(kernel)
    cin_text = fmt(c_in) if groups == 1 else f"{fmt(c_in)}/{groups}"
    cin_latex = _latex_num(c_in) if groups == 1 else rf"{_latex_num(c_in)}/{groups}"
    value = h * w * c_out * taps * (c_in // groups)
    text = f"{h}{DOT}{w}{DOT}{fmt(c_out)}{DOT}({k_text}{DOT}{cin_text}) = {fmt(value)}"
    latex = (rf"{h} \cdot {w} \cdot {_latex_num(c_out)} \cdot ({k_latex} \cdot {cin_latex}) = "
             rf"{_latex_num(value)}")
    return Worked(value, text, latex)


def linear_macs(n_in, n_out) -> Worked:
    """Multiply-adds of a fully connected layer: N_in·N_out (one per weight). 1 MAC = 2 FLOPs."""
    _check_ints(n_in=n_in, n_out=n_out)
    n_in, n_out = _v(n_in), _v(n_out)
    value = n_in * n_out
    return Worked(value, f"{fmt(n_in)}{DOT}{fmt(n_out)} = {fmt(value)}",
                  rf"{_latex_num(n_in)} \cdot {_latex_num(n_out)} = {_latex_num(value)}")


def rf_step(r_in, j_in, kernel, stride=1, dilation=1) -> tuple[Worked, Worked]:
    """One layer of receptive-field arithmetic: r_out = r_in + (K_eff − 1)·j_in and
    j_out = j_in·S, where K_eff = D·(K − 1) + 1 and j is the jump (the distance in input pixels
    between neighbouring outputs). Returns (size, jump)."""
    k_eff, k_text, _ = _window(kernel, dilation)
    r = r_in + (k_eff - 1) * j_in
    j = j_in * stride
    return (Worked(r, f"{r_in} + ({k_text} {MINUS} 1){DOT}{j_in} = {r}"),
            Worked(j, f"{j_in}{DOT}{stride} = {j}"))


# --- errors ---------------------------------------------------------------------------------------

class SummaryMismatch(AssertionError):
    """The forward pass and the formulas disagree; ``.layer`` names the layer."""

    def __init__(self, layer: str, message: str):
        super().__init__(f"{layer}: {message}" if layer else message)
        self.layer = layer


class ShapeError(ValueError):
    """A tensor does not fit a layer; the message names the layer, the incoming size and the
    arithmetic that fails. ``.layer`` is the layer's qualified name."""

    def __init__(self, layer: str, message: str):
        super().__init__(message)
        self.layer = layer


# --- describing layers -------------------------------------------------------------------------

_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_MAXPOOL = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)
_AVGPOOL = (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)
_ADAPTIVE = (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d,
             nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d)
_NORM = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.GroupNorm, nn.LayerNorm,
         nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d)
# Layers that keep the shape of their input: checked for that, and cost no multiply-adds.
_SAME_SHAPE = _NORM + (nn.LocalResponseNorm, nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU,
                       nn.GELU, nn.SiLU, nn.Sigmoid, nn.Tanh, nn.Hardswish, nn.Hardsigmoid,
                       nn.Mish, nn.Softmax, nn.LogSoftmax, nn.Identity, nn.Dropout, nn.Dropout1d,
                       nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout)


def _spatial_dims(m) -> int:
    return 1 if isinstance(m, (nn.Conv1d, nn.MaxPool1d, nn.AvgPool1d)) else \
        3 if isinstance(m, (nn.Conv3d, nn.MaxPool3d, nn.AvgPool3d)) else 2


def _conv_padding(m, i):
    """The conv's padding along dimension i, resolving 'same'/'valid' as PyTorch does."""
    if m.padding == "valid":
        return 0
    if m.padding == "same":
        return None
    return m.padding[i]


def _conv_sizes(m, in_spatial) -> list[Worked]:
    out = []
    for i, size in enumerate(in_spatial):
        p = _conv_padding(m, i)
        if p is None:  # padding='same' (stride 1): the output keeps the input's size
            out.append(Worked(size, f"padding='same': {size}"))
        else:
            out.append(conv_out(size, m.kernel_size[i], m.stride[i], p, m.dilation[i]))
    return out


def _pool_sizes(m, in_spatial) -> list[Worked]:
    n = len(in_spatial)
    k, s, p = _pair(m.kernel_size, n), _pair(m.stride or m.kernel_size, n), _pair(m.padding, n)
    d = _pair(getattr(m, "dilation", 1), n)
    return [pool_out(size, k[i], s[i], p[i], d[i], m.ceil_mode) for i, size in enumerate(in_spatial)]


def _sizes_text(ws: list[Worked]) -> str:
    """Per-dimension derivations, written once when all dimensions agree."""
    texts = [w.text for w in ws]
    if len(set(texts)) == 1:
        return texts[0]
    return "; ".join(f"{'HWD'[i] if len(ws) > 1 else ''}: {t}" for i, t in enumerate(texts))


def _hparams(m) -> str:
    """The key hyper-parameters of a layer, in the course's words."""
    if isinstance(m, _CONV):
        ks = TIMES.join(map(str, m.kernel_size))
        parts = [f"{m.in_channels}→{m.out_channels}", ks]
        if any(s != 1 for s in m.stride):
            parts.append(f"stride {_one(m.stride)}")
        if m.padding == "same" or (not isinstance(m.padding, str) and any(m.padding)):
            parts.append(f"pad {m.padding if isinstance(m.padding, str) else _one(m.padding)}")
        if any(d != 1 for d in m.dilation):
            parts.append(f"dilation {_one(m.dilation)}")
        if m.groups != 1:
            parts.append(f"groups {m.groups}")
        if m.bias is None:
            parts.append("no bias")
        return ", ".join(parts)
    if isinstance(m, nn.Linear):
        return f"{fmt(m.in_features)}→{fmt(m.out_features)}" + ("" if m.bias is not None else ", no bias")
    if isinstance(m, _MAXPOOL + _AVGPOOL):
        n = _spatial_dims(m)
        parts = [TIMES.join(map(str, _pair(m.kernel_size, n)))]
        stride = _pair(m.stride or m.kernel_size, n)
        if stride != _pair(m.kernel_size, n):
            parts.append(f"stride {_one(stride)}")
        if any(_pair(m.padding, n)):
            parts.append(f"pad {_one(_pair(m.padding, n))}")
        if m.ceil_mode:
            parts.append("ceil_mode")
        return ", ".join(parts)
    if isinstance(m, _ADAPTIVE):
        size = m.output_size
        n = _spatial_dims(m) if not isinstance(m, (nn.AdaptiveAvgPool1d, nn.AdaptiveMaxPool1d)) else 1
        return f"output {TIMES.join(str(v) for v in _pair(size, n))}"
    if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)):
        return str(m.num_features)
    if isinstance(m, nn.LocalResponseNorm):
        return f"size {m.size}, α {m.alpha}, β {m.beta}, k {m.k}"
    if isinstance(m, (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout)):
        return f"p {m.p}"
    if getattr(m, "inplace", False):
        return "in-place"
    text = m.extra_repr()
    return text if len(text) <= 40 else text[:39] + "…"


def _one(values, sep=TIMES) -> str:
    """(2, 2) -> "2"; (1, 2) -> "1×2"."""
    values = _pair(values, 1)
    return str(values[0]) if len(set(values)) == 1 else sep.join(map(str, values))


def _layer_label(name, m) -> str:
    """'features.12 MaxPool2d(kernel 3, stride 2)' for messages."""
    if isinstance(m, _CONV + _MAXPOOL + _AVGPOOL):
        n = _spatial_dims(m)
        k = _one(_pair(m.kernel_size, n))
        s = _one(_pair(m.stride or m.kernel_size, n))
        pad = m.padding if isinstance(m.padding, str) else _one(_pair(m.padding, n))
        bits = [f"kernel {k}", f"stride {s}"] + ([f"padding {pad}"] if pad not in ("0", 0) else [])
        return f"{name} {type(m).__name__}({', '.join(bits)})"
    if isinstance(m, nn.Linear):
        return f"{name} Linear({fmt(m.in_features)} → {fmt(m.out_features)})"
    return f"{name} {type(m).__name__}"


def _own_params(m) -> list:
    return list(m.parameters(recurse=False))


def _params_formula(m, params) -> Worked | None:
    """The formula for a known layer's parameters, or None for a layer we do not know."""
    has_bias = getattr(m, "bias", None) is not None
    if isinstance(m, _CONV):
        return conv_params(m.in_channels, m.out_channels, m.kernel_size, m.groups, has_bias)
    if isinstance(m, nn.Linear):
        return linear_params(m.in_features, m.out_features, has_bias)
    if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)) and m.affine:
        return bn_params(m.num_features)
    if not params:
        return Worked(0, "no parameters")
    return None


def _macs_formula(m, in_shape, out_shape) -> Worked | None:
    """Multiply-adds of a conv or linear layer from the formulas; None for other layers."""
    if isinstance(m, _CONV):
        spatial = out_shape[1:]
        k = m.kernel_size
        if len(spatial) == 2:
            return conv_macs(spatial[0], spatial[1], m.in_channels, m.out_channels, k, m.groups)
        positions = math.prod(spatial)
        taps = math.prod(k) * (m.in_channels // m.groups)
        value = positions * m.out_channels * taps
        return Worked(value, f"{_shape(spatial)}{DOT}{fmt(m.out_channels)}{DOT}({DOT.join(map(str, k))}"
                             f"{DOT}{fmt(m.in_channels)}{'/' + str(m.groups) if m.groups > 1 else ''})"
                             f" = {fmt(value)}")
    if isinstance(m, nn.Linear):
        rows = math.prod(out_shape[:-1])
        w = linear_macs(m.in_features, m.out_features)
        if rows == 1:
            return w
        return Worked(rows * w.value, f"{fmt(rows)}{DOT}{w.text.rsplit(' = ', 1)[0]} = {fmt(rows * w.value)}")
    return None


def _expected_shape(m, in_shape) -> tuple[tuple | None, str]:
    """The output shape the formulas predict for a layer (None when we have no formula)."""
    if isinstance(m, _CONV):
        ws = _conv_sizes(m, in_shape[1:])
        return (m.out_channels, *[w.value for w in ws]), _sizes_text(ws)
    if isinstance(m, _MAXPOOL + _AVGPOOL):
        ws = _pool_sizes(m, in_shape[1:])
        return (in_shape[0], *[w.value for w in ws]), _sizes_text(ws)
    if isinstance(m, _ADAPTIVE):
        n = len(in_shape) - 1
        target = _pair(m.output_size, n)
        spatial = tuple(in_shape[1 + i] if t is None else t for i, t in enumerate(target))
        return (in_shape[0], *spatial), f"adaptive: output {_shape(spatial)} whatever the input"
    if isinstance(m, nn.Linear):
        return (*in_shape[:-1], m.out_features), ""
    if isinstance(m, nn.Flatten):  # dimensions counted with the batch, as nn.Flatten does
        full = (1, *in_shape)
        start, end = m.start_dim % len(full), m.end_dim % len(full)
        flat = math.prod(full[start:end + 1])
        return (*full[:start], flat, *full[end + 1:])[1:], \
            f"{DOT.join(map(str, full[start:end + 1]))} = {fmt(flat)}"
    if isinstance(m, _SAME_SHAPE):
        return tuple(in_shape), ""
    return None, ""


# --- the forward pass with hooks ------------------------------------------------------------------

def _first_tensor(x):
    if isinstance(x, torch.Tensor):
        return x
    if isinstance(x, (tuple, list)):
        for item in x:
            t = _first_tensor(item)
            if t is not None:
                return t
    if isinstance(x, dict):
        return _first_tensor(list(x.values()))
    return None


def _tensors(x):
    if isinstance(x, torch.Tensor):
        yield x
    elif isinstance(x, (tuple, list)):
        for item in x:
            yield from _tensors(item)
    elif isinstance(x, dict):
        for item in x.values():
            yield from _tensors(item)


def _example_input(model, input_size):
    """A batch of one zero image on the model's device, or the tensor the caller gave."""
    if isinstance(input_size, torch.Tensor):
        return input_size
    if isinstance(input_size, int):
        input_size = (input_size,)
    ref = next(iter(model.parameters()), None)
    if ref is None:
        ref = next(iter(model.buffers()), torch.zeros(()))
    dtype = ref.dtype if ref.is_floating_point() else torch.float32
    return torch.zeros((1, *input_size), device=ref.device, dtype=dtype)


def _precheck(name, m, x, last, last_map=None) -> str | None:
    """Why the tensor ``x`` cannot go through layer ``m``, in words; None when it fits.
    ``last`` is (name, type, output shape) of the layer that ran last, ``last_map`` of the last
    one whose output had spatial dimensions (to say where a flattened size came from)."""
    label = _layer_label(name, m)
    shape = tuple(x.shape[1:])
    if isinstance(m, _CONV + _MAXPOOL + _AVGPOOL):
        n = _spatial_dims(m)
        if x.dim() not in (n + 1, n + 2):
            return f"{label}: expects a {n}-d image with channels, gets a tensor of shape {_shape(x.shape)}"
        channels, spatial = x.shape[-n - 1], tuple(x.shape[-n:])
        if isinstance(m, _CONV) and channels != m.in_channels:
            return (f"{label}: expects {m.in_channels} input channels, gets {channels} "
                    f"(input {_shape(shape)}{_came_from(last)})")
        sizes = _conv_sizes(m, spatial) if isinstance(m, _CONV) else _pool_sizes(m, spatial)
        for w in sizes:
            if w.value < 1:
                padded = "" if not any(_pair(m.padding, n)) else " even with its padding"
                return (f"{label}: input {_shape(spatial)}{_came_from(last)} is smaller than the "
                        f"kernel{padded}: {w.text}")
    if isinstance(m, nn.Linear) and x.shape[-1] != m.in_features:
        n = x.shape[-1]
        where = ""
        last = last_map if last_map and math.prod(last_map[2]) == n else last
        if last and last[2] and len(last[2]) > 1 and math.prod(last[2]) == n:
            where = (f" = {DOT.join(map(str, last[2]))}, the flattened output "
                     f"({_shape(last[2])}) of {last[0]} {last[1]}")
        elif last:
            where = f", from {last[0]} {last[1]} (output {_shape(last[2])})"
        return (f"{label}: expects {fmt(m.in_features)} input features, gets {fmt(n)}{where}. "
                f"The layers before it shrink or grow the input differently than this layer "
                f"was built for; check the input size or adapt in_features")
    return None


def _came_from(last) -> str:
    return f" (from {last[0]} {last[1]})" if last else ""


class _Tracer:
    """Runs one forward pass with a pre-hook on every module (to check that the input fits and
    to know which layer is running) and an optional forward hook (to record rows)."""

    def __init__(self, model, on_output=None):
        self.model, self.on_output = model, on_output
        self.stack, self.last, self.last_map = [], None, None  # running modules; last leaves

    def __enter__(self):
        self.handles = []
        for name, m in self.model.named_modules():
            self.handles.append(m.register_forward_pre_hook(self._pre(name)))
            self.handles.append(m.register_forward_hook(self._post(name)))
        return self

    def __exit__(self, *exc):
        for h in self.handles:
            h.remove()

    def _pre(self, name):
        def hook(m, inputs):
            self.stack.append((name, m, inputs))
            x = _first_tensor(inputs)
            if x is not None and not list(m.children()):
                problem = _precheck(name, m, x, self.last, self.last_map)
                if problem:
                    raise ShapeError(name, problem)
        return hook

    def _post(self, name):
        def hook(m, inputs, output):
            if self.stack:
                self.stack.pop()
            if self.on_output is not None:
                self.on_output(name, m, inputs, output)
            out = _first_tensor(output)
            if out is not None and not list(m.children()):
                self.last = (name, type(m).__name__, tuple(out.shape[1:]))
                if out.dim() > 2:
                    self.last_map = self.last
        return hook

    def run(self, x):
        """The forward pass; a failure becomes a ShapeError naming the layer, with a short chain."""
        try:
            with torch.no_grad():
                return self.model(x)
        except ShapeError as e:
            error = ShapeError(e.layer, f"{e}. The network's input was {_shape(x.shape[1:])}")
        except RuntimeError as e:
            if not self.stack:
                raise
            name, m, inputs = self.stack[-1]
            x_in = _first_tensor(inputs)
            got = _shape(x_in.shape[1:]) if x_in is not None else "?"
            first_line = str(e).strip().splitlines()[0]
            error = ShapeError(name, f"{_layer_label(name or '(model)', m)} fails on an input of "
                                     f"{got}{_came_from(self.last)}: {first_line}")
        raise error from None


class _EvalMode:
    """Puts a model in eval mode for a measurement and restores every module's mode after."""

    def __init__(self, model):
        self.model = model

    def __enter__(self):
        self.modes = [(m, m.training) for m in self.model.modules()]
        self.model.eval()

    def __exit__(self, *exc):
        for m, training in self.modes:
            m.training = training


def check_fits(model: nn.Module, input_size, *, raise_error: bool = True) -> tuple | None:
    """Run one example of ``input_size`` (without the batch dimension) through ``model``.

    Returns the output shape (without the batch dimension). When the tensor does not fit, raises
    :class:`ShapeError` naming the layer, the incoming size and the arithmetic that fails, e.g.
    "features.12 MaxPool2d(kernel 3, stride 2): input 1×1 is smaller than the kernel:
    (1 − 3 + 2·0)/2 + 1 = 0", instead of PyTorch's raw message. With ``raise_error=False`` it
    prints that message (``ShapeError: …``) and returns None: a notebook can show the error
    without a traceback (which would also print the file's path).
    """
    x = _example_input(model, input_size)
    try:
        with _EvalMode(model), _Tracer(model) as tracer:
            out = tracer.run(x)
    except ShapeError as e:
        if raise_error:
            raise ShapeError(e.layer, str(e)) from None
        print(f"ShapeError: {e}")
        return None
    first = _first_tensor(out)
    return tuple(first.shape[1:]) if first is not None else ()


# --- the layer table ----------------------------------------------------------------------------

@dataclass
class Row:
    """One line of a :class:`Summary`: a layer (or, in a grouped table, a block of layers).

    ``params`` and ``macs`` come with the formula that gives them; ``activations`` is the number
    of elements the layer outputs per example. ``new_tensor`` is False for layers whose output
    is their input (in-place ReLU, dropout at evaluation, views such as Flatten): they take no
    new activation memory, so the total leaves them out.
    """
    name: str
    type: str
    hparams: str
    out_shape: tuple
    params: int
    params_formula: str
    macs: int
    macs_formula: str
    activations: int
    in_shape: tuple = ()
    out_formula: str = ""
    new_tensor: bool = True
    module: str = ""
    children: list = field(default_factory=list)


_OPTIMIZERS = {"sgd": 2, "sgd-momentum": 3, "momentum": 3, "adam": 4, "adamw": 4}
_OPTIMIZER_WHY = {2: "weights + gradients", 3: "weights + gradients + momentum",
                  4: "weights + gradients + two moment estimates"}

# Blocks that ``Summary.blocks()`` folds by default (class names, so torchvision need not load).
DEFAULT_BLOCKS = ("BasicBlock", "Bottleneck", "InvertedResidual", "MBConv", "FusedMBConv",
                  "Inception", "InceptionA", "InceptionB", "InceptionC", "InceptionD",
                  "InceptionE", "InceptionAux", "_DenseBlock", "_Transition", "DenseBlock",
                  "Transition", "InceptionModule", "ResidualBlock", "SEBlock", "SqueezeExcitation",
                  "Fire", "ConvBNReLU", "Conv2dNormActivation", "BasicConv2d", "MLPConv")


class Summary:
    """The layer table of a network for one input size, with totals, memory and self-checks.

    Built by :func:`summary`. ``.rows`` are the layers in the order they ran; ``.params``,
    ``.macs`` and ``.activations`` the totals (per example). ``str(s)`` / ``s.to_text()`` is a
    stable plain-text table; in a notebook it shows as HTML. ``s.blocks()`` folds the rows into
    one row per block (residual block, Inception module, …).
    """

    def __init__(self, title, rows, checks, module_info, grouped=None):
        self.title, self.rows, self.checks = title, rows, checks
        self._module_info, self.grouped = module_info, grouped

    # totals
    @property
    def params(self) -> int:
        return sum(r.params for r in self.rows)

    @property
    def macs(self) -> int:
        return sum(r.macs for r in self.rows)

    @property
    def flops(self) -> int:
        """2 × the multiply-adds (1 MAC = 2 FLOPs)."""
        return 2 * self.macs

    @property
    def activations(self) -> int:
        """Elements of all the tensors the layers create for one example (in-place layers and
        views such as Flatten add nothing). The input itself is not counted."""
        return sum(r.activations for r in self.rows if r.new_tensor)

    def __len__(self):
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)

    def row(self, name: str) -> Row:
        """The row of the layer (or block) with this qualified name, e.g. ``s.row("features.0")``."""
        for r in self.rows + (self.grouped or []):
            if r.name == name:
                return r
        raise KeyError(f"no layer named {name!r}; layers: {', '.join(r.name for r in self.rows[:8])}…")

    # memory
    def param_bytes(self, bytes_per_param: int = 4) -> int:
        """Memory for the parameters alone (fp32: 4 bytes each)."""
        return self.params * bytes_per_param

    def training_bytes(self, optimizer: str = "adam", bytes_per_param: int = 4) -> int:
        """Rule-of-thumb memory for training, without activations: plain SGD keeps weights and
        gradients (2×), SGD with momentum adds the momentum (3×), Adam two moments (4×)."""
        key = optimizer.lower().replace("_", "-").replace(" ", "-")
        if key not in _OPTIMIZERS:
            raise ValueError(f"unknown optimizer {optimizer!r}; choose one of {', '.join(_OPTIMIZERS)}")
        return _OPTIMIZERS[key] * self.param_bytes(bytes_per_param)

    def activation_bytes(self, bytes_per_value: int = 4, batch_size: int = 1) -> int:
        """Memory of the activations of one forward pass (all kept, as training needs them)."""
        return self.activations * bytes_per_value * batch_size

    # grouping
    def blocks(self, spec=None, *, depth: int | None = None) -> "Summary":
        """The same table with one row per block; each block row holds its layers in
        ``.children`` (shown folded in HTML).

        ``spec``: module classes, class names or qualified module names that count as blocks
        (default: the usual blocks, e.g. torchvision's ``BasicBlock``, ``Bottleneck``,
        ``InvertedResidual``, ``MBConv``, GoogLeNet's ``Inception``). ``depth=n`` instead makes
        every module n levels down a block (``depth=1``: ``features``, ``classifier``, …).
        Layers outside any block keep their own row.
        """
        groups, order = {}, []
        for r in self.rows:
            key = self._block_of(r.module, spec, depth)
            if key is None:
                order.append(r)
            else:
                if key not in groups:
                    groups[key] = []
                    order.append(key)
                groups[key].append(r)
        grouped = [self._block_row(item, groups[item]) if isinstance(item, str) else item
                   for item in order]
        return Summary(self.title, self.rows, self.checks, self._module_info, grouped)

    def _block_of(self, module, spec, depth):
        parts = module.split(".") if module else []
        if depth is not None:
            return ".".join(parts[:depth]) if len(parts) > depth else None
        spec = DEFAULT_BLOCKS if spec is None else spec
        for i in range(1, len(parts)):  # the outermost matching ancestor wins
            name = ".".join(parts[:i])
            cls = self._module_info.get(name, (None, None))[0]
            if cls is not None and any(_matches(name, cls, s) for s in spec):
                return name
        return None

    def _block_row(self, name, rows):
        cls, shape = self._module_info.get(name, (None, ()))
        n = len(rows)
        return Row(name, cls.__name__ if cls else "", f"{n} layer{'s' * (n != 1)}",
                   shape or rows[-1].out_shape,
                   sum(r.params for r in rows), "", sum(r.macs for r in rows), "",
                   sum(r.activations for r in rows if r.new_tensor), module=name, children=rows)

    # text
    def to_text(self, formulas: bool = False, expand: bool = False) -> str:
        """A plain-text table (stable, for nbval), with the derivations when ``formulas``; in a
        grouped table ``expand`` lists each block's layers under it."""
        lines_rows = []
        for r in (self.grouped or self.rows):
            lines_rows.append((r, ""))
            if expand and r.children:
                lines_rows.extend((c, "  ") for c in r.children)
        head = ["layer", "type", "hyper-parameters", "output", "params", "MACs"]
        body = [[ind + r.name, r.type, r.hparams, _shape(r.out_shape) if r.out_shape else "–",
                 fmt(r.params), fmt(r.macs)] for r, ind in lines_rows]
        total = ["total", "", "", "", fmt(self.params), fmt(self.macs)]
        widths = [max(len(row[i]) for row in [head, total] + body) for i in range(6)]

        def line(cells):
            left = "  ".join(c.ljust(w) for c, w in zip(cells[:4], widths[:4]))
            right = "  ".join(c.rjust(w) for c, w in zip(cells[4:], widths[4:]))
            return f"{left}  {right}".rstrip()

        out = [self.title, line(head), "-" * len(line(head))]
        for cells, (r, ind) in zip(body, lines_rows):
            out.append(line(cells))
            if formulas and not r.children:
                for label, text in (("output", r.out_formula), ("params", r.params_formula),
                                    ("MACs", r.macs_formula)):
                    if text and text not in ("no parameters", "–"):
                        out.append(f"{ind}    {label}: {text}")
        out.append("-" * len(line(head)))
        out.append(line(total))
        out.extend(self.footer())
        return "\n".join(out)

    def footer(self) -> list[str]:
        """The totals in words: parameters and their memory, multiply-adds, activations, checks."""
        pb = self.param_bytes()
        train = ", ".join(f"{label} {m}× = {fmt_bytes(m * pb)}"
                          for label, m in (("SGD", 2), ("SGD-momentum", 3), ("Adam", 4)))
        lines = [
            f"parameters: {fmt(self.params)} ({fmt_big(self.params)}); fp32: {fmt_bytes(pb)}; "
            f"training (weights, gradients, optimizer state): {train}",
            f"multiply-adds: {fmt(self.macs)} ({fmt_big(self.macs)}); FLOPs = 2 {TIMES} MACs = "
            f"{fmt_big(self.flops)}",
            f"activations: {fmt(self.activations)} values per example = "
            f"{fmt_bytes(self.activation_bytes())} in fp32 (forward pass; in-place layers and "
            f"views not counted)",
        ]
        if self.checks:
            lines.append("verified: " + "; ".join(self.checks))
        return lines

    def __str__(self):
        return self.to_text()

    __repr__ = __str__

    # HTML
    def _repr_html_(self) -> str:
        cell = 'style="text-align:{};padding:2px 8px;vertical-align:top"'
        small = '<br><span style="font-size:80%;opacity:0.7">{}</span>'

        def tr(r, bold=False):
            b = ("<b>", "</b>") if bold else ("", "")
            shape = _shape(r.out_shape) if r.out_shape else "–"
            return ("<tr>" + f"<td {cell.format('left')}>{b[0]}{_esc(r.name)}{b[1]}</td>"
                    f"<td {cell.format('left')}>{_esc(r.type)}</td>"
                    f"<td {cell.format('left')}>{_esc(r.hparams)}</td>"
                    f"<td {cell.format('left')}>{shape}"
                    + (small.format(_esc(r.out_formula)) if r.out_formula else "") + "</td>"
                    f"<td {cell.format('right')}>{fmt(r.params)}"
                    + (small.format(_esc(r.params_formula)) if r.params and r.params_formula else "")
                    + "</td>"
                    f"<td {cell.format('right')}>{fmt(r.macs)}"
                    + (small.format(_esc(r.macs_formula)) if r.macs and r.macs_formula else "")
                    + "</td></tr>")

        head = ("<tr>" + "".join(f"<th {cell.format(a)}>{h}</th>" for h, a in (
            ("layer", "left"), ("type", "left"), ("hyper-parameters", "left"), ("output", "left"),
            ("params", "right"), ("MACs", "right"))) + "</tr>")
        body = []
        for r in (self.grouped or self.rows):
            body.append(tr(r, bold=bool(r.children)))
            if r.children:
                inner = "<table>" + head + "".join(tr(c) for c in r.children) + "</table>"
                body.append(f'<tr><td colspan="6" style="padding:0 8px 4px 24px"><details>'
                            f"<summary>the {len(r.children)} layers of {_esc(r.name)}</summary>"
                            f"{inner}</details></td></tr>")
        total = (f"<tr><td {cell.format('left')}><b>total</b></td><td></td><td></td><td></td>"
                 f"<td {cell.format('right')}><b>{fmt(self.params)}</b></td>"
                 f"<td {cell.format('right')}><b>{fmt(self.macs)}</b></td></tr>")
        foot = "".join(f"<li>{_esc(line)}</li>" for line in self.footer())
        return (f"<div><p><b>{_esc(self.title)}</b></p><table>{head}{''.join(body)}{total}</table>"
                f'<ul style="font-size:90%">{foot}</ul></div>')


def _esc(text) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _matches(name, cls, item) -> bool:
    if isinstance(item, type):
        return issubclass(cls, item)
    return item == name or item == cls.__name__


def _aliases(out, x) -> bool:
    """True when ``out`` is ``x`` itself or a view of the same memory (no new activation)."""
    if out is None or x is None:
        return False
    return out is x or out._base is x or (out._base is not None and out._base is x._base)


def _param_listing(m) -> str:
    """'weight 10×5 + bias 10 = 60' for a layer without a formula of its own."""
    named = list(m.named_parameters(recurse=False))
    total = sum(p.numel() for _, p in named)
    parts = [f"{n} {_shape(p.shape)}" for n, p in named]
    return f"{' + '.join(parts)} = {fmt(total)}"


class _Recorder:
    """Collects the rows of a summary from the forward hooks."""

    def __init__(self, model, batch):
        self.model, self.batch = model, batch
        self.rows, self.mismatch, self.seen, self.calls = [], None, {}, {}
        self.module_info = {n: (type(m), None) for n, m in model.named_modules()}
        self.own_ops_at = {}  # non-leaf module name -> row index after its children
        self.shapes_checked = 0

    def fail(self, layer, message):
        if self.mismatch is None:
            self.mismatch = SummaryMismatch(layer, message)

    def record(self, name, m, inputs, output):
        x, out = _first_tensor(inputs), _first_tensor(output)
        out_shape = tuple(out.shape[1:]) if out is not None else ()
        self.module_info[name] = (type(m), out_shape)
        leaf = not list(m.children())
        if not leaf:
            self.own_ops_at[name] = len(self.rows)
            new = [p for p in _own_params(m) if id(p) not in self.seen]
            if new:
                self._add_own_params(name, m, new)
            return
        in_shape = tuple(x.shape[1:]) if x is not None else ()
        self.calls[name] = self.calls.get(name, 0) + 1
        row = Row(name, type(m).__name__, _hparams(m), out_shape, 0, "", 0, "",
                  sum(t.numel() // self.batch for t in _tensors(output)), in_shape,
                  new_tensor=not _aliases(out, x), module=name)
        self._fill_params(row, name, m)
        if x is not None:
            expected, row.out_formula = _expected_shape(m, in_shape)
            self.shapes_checked += expected is not None
            if expected is not None and tuple(expected) != out_shape:
                self.fail(name, f"{type(m).__name__} ({row.hparams}): the forward pass gives "
                                f"{_shape(out_shape)}, the formulas give {_shape(expected)}"
                                + (f" ({row.out_formula})" if row.out_formula else ""))
            macs = _macs_formula(m, in_shape, out_shape)
            if macs is not None:
                row.macs, row.macs_formula = macs.value, macs.text
        self.rows.append(row)

    def _fill_params(self, row, name, m):
        own = _own_params(m)
        new = [p for p in own if id(p) not in self.seen]
        formula = _params_formula(m, own)
        held = sum(p.numel() for p in own)
        if formula is not None and formula.value != held:
            self.fail(name, f"{type(m).__name__} ({row.hparams}): the formula gives "
                            f"{formula.text}, but the layer holds {fmt(held)} parameters")
        if len(new) == len(own):
            row.params = held
            row.params_formula = formula.text if formula is not None else _param_listing(m)
        else:
            row.params = sum(p.numel() for p in new)
            owners = sorted({self.seen[id(p)] for p in own if id(p) in self.seen})
            row.params_formula = f"shared with {', '.join(owners)}: counted there"
        for p in new:
            self.seen[id(p)] = name

    def _add_own_params(self, name, m, new):
        for p in new:
            self.seen[id(p)] = name
        total = sum(p.numel() for p in new)
        self.rows.append(Row(f"{name or '(model)'} (own parameters)", type(m).__name__, "",
                             (), total, _param_listing(m), 0, "", 0, new_tensor=False, module=name))

    def add_uncalled(self):
        """Rows for modules whose parameters the forward pass never used (e.g. an auxiliary
        classifier that only runs in training), so the parameter total stays complete."""
        for name, m in self.model.named_modules():
            new = [p for p in _own_params(m) if id(p) not in self.seen]
            if new:
                for p in new:
                    self.seen[id(p)] = name
                self.rows.append(Row(name, type(m).__name__, "not run for this input", (),
                                     sum(p.numel() for p in new), _param_listing(m), 0, "", 0,
                                     new_tensor=False, module=name))


def _flops_by_module(counter, root_name, batch=1) -> dict[str, int]:
    """FlopCounterMode's FLOPs per module and example, keyed by our qualified names ('' for
    the model)."""
    out = {}
    for key, ops in counter.get_flop_counts().items():
        if key == "Global":
            continue
        if key == root_name:
            out[""] = sum(ops.values()) // batch
        elif key.startswith(root_name + "."):
            out[key[len(root_name) + 1:]] = sum(ops.values()) // batch
    return out


def _check_macs(rec, model, counter, verify) -> list[str]:
    """Compare conv/linear multiply-adds with FlopCounterMode/2, layer by layer; take the other
    layers' multiply-adds (and operations written in a forward method) from it."""
    flops = _flops_by_module(counter, type(model).__name__, rec.batch)
    modules = dict(model.named_modules())
    by_name, checked = {}, 0
    for r in rec.rows:
        if r.macs_formula:
            by_name[r.module] = by_name.get(r.module, 0) + r.macs
    for name, macs in by_name.items():
        ref = flops.get(name, 0)
        if verify and 2 * macs != ref:
            m = modules[name]
            rec.fail(name, f"{type(m).__name__} ({_hparams(m)}): the formulas give {fmt(macs)} "
                           f"multiply-adds, FlopCounterMode counts {fmt(ref)} FLOPs = "
                           f"{fmt(ref / 2)} multiply-adds")
        checked += 1
    done = set()
    for r in rec.rows:  # layers without a formula: FlopCounterMode's count, once per module
        if not r.macs_formula and r.module not in done:
            done.add(r.module)
            f = flops.get(r.module, 0)
            if f and not list(modules[r.module].children()):
                r.macs, r.macs_formula = f // 2, f"FlopCounterMode: {fmt(f)} FLOPs / 2"
    _add_forward_ops(rec, model, flops)
    total = counter.get_total_flops() // rec.batch
    if verify and abs(2 * sum(r.macs for r in rec.rows) - total) > len(rec.rows):
        rec.fail("", f"the layers add up to {fmt(sum(r.macs for r in rec.rows))} multiply-adds, "
                     f"FlopCounterMode counts {fmt(total)} FLOPs = {fmt(total / 2)} multiply-adds")
    return [f"multiply-adds of {checked} conv/linear layers = FlopCounterMode FLOPs / 2, and the "
            f"total = FlopCounterMode's total / 2"] if checked else []


def _add_forward_ops(rec, model, flops):
    """Rows for matrix products written directly in a block's forward method (not in a layer)."""
    children = {n: [f"{n}.{c}" if n else c for c, _ in m.named_children()]
                for n, m in model.named_modules()}
    inserts = []
    for name, at in rec.own_ops_at.items():
        own = flops.get(name, 0) - sum(flops.get(c, 0) for c in children.get(name, []))
        if own > 0:
            cls = rec.module_info[name][0]
            inserts.append((at, Row(f"{name or '(model)'} (operations in forward)", cls.__name__,
                                    "", (), 0, "", own // 2, f"FlopCounterMode: {fmt(own)} FLOPs / 2",
                                    0, new_tensor=False, module=name)))
    for at, row in sorted(inserts, key=lambda t: -t[0]):
        rec.rows.insert(at, row)


def summary(model: nn.Module, input_size, *, blocks=None, verify: bool = True) -> Summary:
    """The layer table of ``model`` for one example of ``input_size`` (no batch dimension,
    e.g. ``(3, 227, 227)``; a tensor with a batch dimension also works).

    One forward pass (in eval mode, without gradients; the model's modes are restored) records
    every layer: name, type, hyper-parameters, output shape, parameters and multiply-adds with
    their formulas, and the activations. It checks itself and raises :class:`SummaryMismatch`
    naming the layer when the output shapes differ from the formulas, when a layer's parameters
    differ from its formula, when the total differs from ``sum(p.numel() for p in
    model.parameters())`` (shared parameters are counted once), or when the multiply-adds differ
    from ``FlopCounterMode`` / 2. An input that does not fit raises :class:`ShapeError`.

    ``blocks``: fold the table into one row per block (see :meth:`Summary.blocks`); ``True``
    uses the usual blocks.
    """
    from torch.utils.flop_counter import FlopCounterMode

    x = _example_input(model, input_size)
    rec = _Recorder(model, x.shape[0] if x.dim() else 1)
    with _EvalMode(model), _Tracer(model, rec.record) as tracer, \
            FlopCounterMode(display=False) as counter:
        tracer.run(x)
    rec.add_uncalled()
    checks = _check_macs(rec, model, counter, verify)
    checks = _check_params(rec, model, verify) + checks
    if verify and rec.mismatch is not None:
        raise rec.mismatch from None
    checks.insert(0, f"output shapes of {rec.shapes_checked} layers match the formulas")
    size = _shape(tuple(x.shape[1:]))
    s = Summary(f"{type(model).__name__}, input {size}", rec.rows, checks if verify else [],
                rec.module_info)
    if blocks:
        s = s.blocks(None if blocks is True else blocks)
    return s


def _check_params(rec, model, verify) -> list[str]:
    expected = sum(p.numel() for p in model.parameters())
    got = sum(r.params for r in rec.rows)
    if verify and got != expected:
        rec.fail("", f"the rows add up to {fmt(got)} parameters, "
                     f"sum(p.numel() for p in model.parameters()) is {fmt(expected)}")
    return [f"parameters = sum(p.numel() for p in model.parameters()) = {fmt(expected)}"]


# --- receptive field ----------------------------------------------------------------------------

@dataclass
class RFRow:
    """Receptive field after one layer: ``size`` (input pixels one output sees, per spatial
    dimension if they differ) and ``jump`` (input pixels between neighbouring outputs)."""
    name: str
    type: str
    kernel: int | tuple
    stride: int | tuple
    dilation: int | tuple
    size: int | tuple
    jump: int | tuple
    text: str


class ReceptiveField:
    """The table built by :func:`receptive_field`: one :class:`RFRow` per conv or pooling layer."""

    def __init__(self, title, rows):
        self.title, self.rows = title, rows

    def __len__(self):
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)

    def row(self, name: str) -> RFRow:
        for r in self.rows:
            if r.name == name:
                return r
        raise KeyError(f"no conv or pooling layer named {name!r}")

    @property
    def size(self):
        """The receptive field of the last conv or pooling layer."""
        return self.rows[-1].size if self.rows else 1

    def to_text(self) -> str:
        head = ["layer", "type", "kernel", "stride", "dilation", "size", "jump", "derivation"]
        body = [[r.name, r.type, _one(r.kernel), _one(r.stride), _one(r.dilation), _one(r.size),
                 _one(r.jump), r.text] for r in self.rows]
        widths = [max(len(row[i]) for row in [head] + body) for i in range(7)]
        lines = [self.title]
        for row in [head] + body:
            cells = [c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))]
            lines.append(("  ".join(cells) + "  " + row[7]).rstrip())
        return "\n".join(lines)

    def __str__(self):
        return self.to_text()

    __repr__ = __str__

    def _repr_html_(self):
        head = "".join(f"<th>{h}</th>" for h in ("layer", "type", "kernel", "stride", "dilation",
                                                  "size", "jump", "derivation"))
        body = "".join(
            "<tr>" + "".join(f"<td>{_esc(c)}</td>" for c in (
                r.name, r.type, _one(r.kernel), _one(r.stride), _one(r.dilation), _one(r.size),
                _one(r.jump), r.text)) + "</tr>" for r in self.rows)
        return f"<div><p><b>{_esc(self.title)}</b></p><table><tr>{head}</tr>{body}</table></div>"


def _rf_mode_class():
    from torch.overrides import TorchFunctionMode

    class _RFMode(TorchFunctionMode):
        """Carries (size, jump) from the inputs of every torch operation to its outputs, so
        concatenations (Inception) and sums (ResNet) keep the largest receptive field of their
        inputs; conv and pooling layers then overwrite it with their own arithmetic."""

        def __init__(self, info):
            super().__init__()
            self.info = info

        def __torch_function__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            known = [self.info[id(t)] for t in _tensors([list(args), kwargs or {}])
                     if id(t) in self.info and self.info[id(t)][0] is t]
            if known:
                n = min(len(k[1]) for k in known)
                r = tuple(max(k[1][i] for k in known) for i in range(n))
                j = tuple(max(k[2][i] for k in known) for i in range(n))
                for t in _tensors(out):
                    self.info[id(t)] = (t, r, j)
            return out

    return _RFMode


def _rf_layer(m, in_spatial, out_spatial):
    """(kernel, stride, dilation) per spatial dimension of a conv or pooling layer, or None."""
    n = len(in_spatial)
    if isinstance(m, _CONV):
        return m.kernel_size, m.stride, m.dilation
    if isinstance(m, _MAXPOOL + _AVGPOOL):
        return (_pair(m.kernel_size, n), _pair(m.stride or m.kernel_size, n),
                _pair(getattr(m, "dilation", 1), n))
    if isinstance(m, _ADAPTIVE):  # the equivalent fixed window: stride ⌊in/out⌋, kernel the rest
        s = tuple(max(i // o, 1) for i, o in zip(in_spatial, out_spatial))
        k = tuple(i - (o - 1) * st for i, o, st in zip(in_spatial, out_spatial, s))
        return k, s, (1,) * n
    return None


def receptive_field(model: nn.Module, input_size) -> ReceptiveField:
    """Receptive field size and jump after every conv and pooling layer of ``model``.

    r_out = r_in + (K_eff − 1)·j_in and j_out = j_in·S, with K_eff = D·(K − 1) + 1 for dilation
    D, starting from r = j = 1 at the input. Branches (Inception) and shortcuts (ResNet) are
    followed through the actual forward pass: a sum or concatenation keeps the largest receptive
    field of its inputs. Two stacked 3×3 convolutions see 5×5, three see 7×7.
    """
    x = _example_input(model, input_size)
    n = max(x.dim() - 2, 1)
    info = {id(x): (x, (1,) * n, (1,) * n)}
    rows = []

    def on_output(name, m, inputs, output):
        x_in, out = _first_tensor(inputs), _first_tensor(output)
        if x_in is None or out is None or list(m.children()):
            return
        layer = _rf_layer(m, tuple(x_in.shape[2:]), tuple(out.shape[2:]))
        if layer is None:
            return
        _, r_in, j_in = info.get(id(x_in), (None, (1,) * n, (1,) * n))
        steps = [rf_step(r_in[i], j_in[i], layer[0][i], layer[1][i], layer[2][i])
                 for i in range(len(layer[0]))]
        r = tuple(s[0].value for s in steps)
        j = tuple(s[1].value for s in steps)
        info[id(out)] = (out, r, j)
        texts = [f"r = {s[0].text}, j = {s[1].text}" for s in steps]
        text = texts[0] if len(set(texts)) == 1 else "; ".join(texts)
        rows.append(RFRow(name, type(m).__name__, _squeeze(layer[0]), _squeeze(layer[1]),
                          _squeeze(layer[2]), _squeeze(r), _squeeze(j), text))

    with _EvalMode(model), _Tracer(model, on_output) as tracer, _rf_mode_class()(info):
        tracer.run(x)
    return ReceptiveField(f"{type(model).__name__}, input {_shape(tuple(x.shape[1:]))}: "
                          f"receptive field (size) and jump, in input pixels", rows)


def _squeeze(values):
    """(5, 5) -> 5; (1, 7) stays a tuple."""
    values = tuple(values)
    return values[0] if len(set(values)) == 1 else values
