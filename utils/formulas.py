"""The formulas a student reads: output sizes, parameters, multiply-adds and the receptive
field of one layer, each worked out in full.

Every function returns a :class:`Worked` number: the value *and* the sentence that derives it, so
a chapter can print "(227 − 11 + 2·0)/4 + 1 = 55" instead of typing it. Arithmetic that cannot be
(a negative or zero size, kernel, stride or channel count, negative padding, a dilation below 1,
groups that do not divide the channels, a window larger than the padded input) raises a
``ValueError`` that names the argument, instead of returning a number.

Conventions (used throughout the course):

- 1 MAC = one multiply-add = 2 FLOPs. Papers mix the two: GoogLeNet's "1.5 billion
  multiply-adds" and ResNet's "3.8 × 10⁹ FLOPs" are both multiply-adds. We count the
  multiply-adds of convolutions and fully connected layers, not biases, activations,
  normalisation or pooling, as the papers do.
- Sizes are per example: they leave out the batch dimension.
- Memory is in bytes of fp32 (4 bytes a number); 1 MB = 10⁶ bytes.

``utils.summary`` applies these formulas to every layer of a network and checks them against
PyTorch; ``utils.receptive`` follows the receptive field through a network. Chapters reach all
three through ``utils.arithmetic``.
"""

from __future__ import annotations

import math
import operator
from fractions import Fraction

__all__ = [
    "Worked", "conv_out", "pool_out", "conv_params", "linear_params", "bn_params", "se_params",
    "depthwise_params", "conv_macs", "linear_macs", "rf_step", "fmt", "fmt_big", "fmt_bytes",
    "NoOutput",
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


def _one(values, sep=TIMES) -> str:
    """(2, 2) -> "2"; (1, 2) -> "1×2"."""
    values = _pair(values, 1)
    return str(values[0]) if len(set(values)) == 1 else sep.join(map(str, values))


def _kernel_text(kernel) -> tuple[str, str, int]:
    """A kernel (int or tuple) as plain text, LaTeX and its number of taps: 11 -> "11·11"."""
    if isinstance(kernel, (tuple, list)):
        ks = tuple(_ints(1, **{f"kernel[{i}]": k for i, k in enumerate(kernel)}))
    else:
        ks = _pair(*_ints(1, kernel=kernel))
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


# --- arguments that cannot be ---------------------------------------------------------------------

def _ints(minimum: int, **named) -> list[int]:
    """The values of the arguments (ints, or Worked ints), in order. A TypeError for one that is
    not an int; a ValueError, naming it, for one below ``minimum``."""
    values = []
    for name, v in named.items():
        value = _v(v)
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"{name} must be an int, got {v!r}")
        if value < minimum:
            raise ValueError(f"{name} must be at least {minimum}, got {value}" if minimum else
                             f"{name} cannot be negative, got {value}")
        values.append(value)
    return values


def _groups_divide(groups, **channels) -> None:
    for name, c in channels.items():
        if c % groups:
            raise ValueError(f"groups={groups} must divide both "
                             + " and ".join(f"{n}={v}" for n, v in channels.items())
                             + f" ({name} is not a multiple of {groups})")


# --- output sizes -------------------------------------------------------------------------------

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


def _size(size, kernel, stride, padding, dilation, ceil_mode=False) -> Worked:
    """The output size along one dimension as PyTorch computes it, for arguments already checked.
    A value below 1 (the window does not fit) comes back with a note instead of an error: the
    shape checks of ``utils.summary`` quote it."""
    num, k_eff, text, latex = _size_formula(size, kernel, stride, padding, dilation)
    if ceil_mode and num % stride:
        return _ceil_size(size, stride, padding, num, text, latex)
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


def _ceil_size(size, stride, padding, num, text, latex) -> Worked:
    """ceil_mode=True when the division is not whole: rounded up, except that PyTorch drops a
    last window that would start in the right padding."""
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


class NoOutput(ValueError):
    """A window larger than the padded input: there is no output. ``.worked`` is the arithmetic
    that shows it (its value below 1, its ``.note`` in words), for a caller that wants to show
    the misfit rather than stop, such as an explorer with sliders."""

    def __init__(self, message: str, worked: Worked):
        super().__init__(message)
        self.worked = worked


def _refuse_empty(w: Worked, size, kernel, padding, dilation) -> Worked:
    if w.value < 1:
        k_eff = _window(kernel, dilation)[0]
        raise NoOutput(f"kernel {kernel}{f' (dilation {dilation})' if dilation > 1 else ''} does "
                         f"not fit: the {k_eff}-wide window is larger than the padded input of "
                         f"{fmt(size)} + 2{DOT}{padding} = {fmt(size + 2 * padding)} "
                         f"({w.text}): there is no output", w)
    return w


def conv_out(size, kernel, stride=1, padding=0, dilation=1) -> Worked:
    """Output size of a convolution along one dimension: ⌊(W − K + 2P)/S⌋ + 1.

    With dilation D the window spans D·(K − 1) + 1 pixels. When the division is not whole,
    PyTorch floors it (the last pixels of the padded input are never covered by a window), and
    ``.exact`` is False: ``conv_out(224, 11, 4)`` is 54, because (224 − 11)/4 + 1 = 54.25, which
    is why AlexNet needs a 227-pixel input to get 55. A window larger than the padded input has
    no output: :class:`NoOutput` (a ValueError) says so, and carries the arithmetic.
    """
    size, kernel, stride, dilation = _ints(1, size=size, kernel=kernel, stride=stride,
                                           dilation=dilation)
    (padding,) = _ints(0, padding=padding)
    return _refuse_empty(_size(size, kernel, stride, padding, dilation), size, kernel, padding,
                         dilation)


def pool_out(size, kernel, stride=None, padding=0, dilation=1, ceil_mode=False) -> Worked:
    """Output size of a pooling layer along one dimension, exactly as PyTorch computes it.

    The stride defaults to the kernel size. With ``ceil_mode=False`` it is the convolution
    formula ⌊(W − K + 2P)/S⌋ + 1. With ``ceil_mode=True`` the division is rounded up, so a last,
    partial window is kept, except that PyTorch drops that window when it would start in the
    right padding, that is, when (out − 1)·S ≥ W + P. PyTorch refuses padding over half the
    window, and so does this function (a ValueError), as it refuses a window with no output.
    """
    stride = kernel if stride is None else stride
    size, kernel, stride, dilation = _ints(1, size=size, kernel=kernel, stride=stride,
                                           dilation=dilation)
    (padding,) = _ints(0, padding=padding)
    if 2 * padding > dilation * (kernel - 1) + 1:
        raise ValueError(f"padding {padding} is more than half the pooling window "
                         f"({dilation * (kernel - 1) + 1}); PyTorch refuses this")
    return _refuse_empty(_size(size, kernel, stride, padding, dilation, ceil_mode), size, kernel,
                         padding, dilation)


# --- parameters --------------------------------------------------------------------------------

def _weights_times(w_text, w_latex, count, value, bias) -> tuple[str, str]:
    """Text and LaTeX of "(weights + 1)·count = value" (or "weights·count" without bias): the
    shape shared by conv, depthwise and linear parameter counts."""
    if bias:
        return (f"({w_text} + 1){DOT}{fmt(count)} = {fmt(value)}",
                rf"({w_latex} + 1) \cdot {_latex_num(count)} = {_latex_num(value)}")
    return (f"{w_text}{DOT}{fmt(count)} = {fmt(value)}",
            rf"{w_latex} \cdot {_latex_num(count)} = {_latex_num(value)}")


def _per_group(c_in, groups) -> tuple[str, str]:
    """C_in, or C_in/groups, as text and LaTeX."""
    if groups == 1:
        return fmt(c_in), _latex_num(c_in)
    return f"{fmt(c_in)}/{groups}", rf"{_latex_num(c_in)}/{groups}"


def conv_params(c_in, c_out, kernel, groups=1, bias=True) -> Worked:
    """Parameters of a convolution: (K·K·C_in/groups + 1)·C_out, or K·K·C_in/groups·C_out
    without bias. ``conv_params(3, 96, 11)`` is (11·11·3 + 1)·96 = 34,944 (AlexNet's conv1)."""
    c_in, c_out, groups = _ints(1, c_in=c_in, c_out=c_out, groups=groups)
    _groups_divide(groups, c_in=c_in, c_out=c_out)
    k_text, k_latex, taps = _kernel_text(kernel)
    cin_text, cin_latex = _per_group(c_in, groups)
    value = (taps * (c_in // groups) + bias) * c_out
    text, latex = _weights_times(f"{k_text}{DOT}{cin_text}", rf"{k_latex} \cdot {cin_latex}",
                                 c_out, value, bias)
    return Worked(value, text, latex)


def depthwise_params(channels, kernel, bias=True) -> Worked:
    """Parameters of a depthwise convolution (one K×K filter per channel, ``groups=channels``):
    (K·K + 1)·C, or K·K·C without bias. MobileNets put batch norm after it and use
    ``bias=False``; the default follows ``nn.Conv2d``."""
    (channels,) = _ints(1, channels=channels)
    k_text, k_latex, taps = _kernel_text(kernel)
    value = (taps + bias) * channels
    text, latex = _weights_times(k_text, k_latex, channels, value, bias)
    return Worked(value, text, latex, note=f"nn.Conv2d({channels}, {channels}, {kernel}, "
                                           f"groups={channels}, bias={bool(bias)})")


def linear_params(n_in, n_out, bias=True) -> Worked:
    """Parameters of a fully connected layer: (N_in + 1)·N_out, or N_in·N_out without bias."""
    n_in, n_out = _ints(1, n_in=n_in, n_out=n_out)
    value = (n_in + bias) * n_out
    text, latex = _weights_times(fmt(n_in), _latex_num(n_in), n_out, value, bias)
    return Worked(value, text, latex)


def bn_params(channels) -> Worked:
    """Learnable parameters of batch norm: a scale γ and a shift β per channel, 2·C. The running
    mean and variance (another 2·C numbers) are buffers: saved with the model, not trained."""
    (c,) = _ints(1, channels=channels)
    return Worked(2 * c, f"2{DOT}{fmt(c)} = {fmt(2 * c)}",
                  rf"2 \cdot {_latex_num(c)} = {_latex_num(2 * c)}",
                  note=f"plus 2{DOT}{fmt(c)} = {fmt(2 * c)} running statistics (mean and "
                       f"variance), which are buffers, not parameters")


def se_params(channels, squeeze_channels) -> Worked:
    """Parameters of a squeeze-and-excitation block as torchvision builds it (two 1×1
    convolutions with biases, C → S → C): (C + 1)·S + (S + 1)·C. Hu et al. count the weights
    only, 2·C·S (with S = C/r: 2C²/r)."""
    c, s = _ints(1, channels=channels, squeeze_channels=squeeze_channels)
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
    h, w, c_in, c_out, groups = _ints(1, h_out=h_out, w_out=w_out, c_in=c_in, c_out=c_out,
                                      groups=groups)
    _groups_divide(groups, c_in=c_in, c_out=c_out)
    k_text, k_latex, taps = _kernel_text(kernel)
    cin_text, cin_latex = _per_group(c_in, groups)
    value = h * w * c_out * taps * (c_in // groups)
    text = f"{h}{DOT}{w}{DOT}{fmt(c_out)}{DOT}({k_text}{DOT}{cin_text}) = {fmt(value)}"
    latex = (rf"{h} \cdot {w} \cdot {_latex_num(c_out)} \cdot ({k_latex} \cdot {cin_latex}) = "
             rf"{_latex_num(value)}")
    return Worked(value, text, latex)


def linear_macs(n_in, n_out) -> Worked:
    """Multiply-adds of a fully connected layer: N_in·N_out (one per weight). 1 MAC = 2 FLOPs."""
    n_in, n_out = _ints(1, n_in=n_in, n_out=n_out)
    value = n_in * n_out
    return Worked(value, f"{fmt(n_in)}{DOT}{fmt(n_out)} = {fmt(value)}",
                  rf"{_latex_num(n_in)} \cdot {_latex_num(n_out)} = {_latex_num(value)}")


# --- receptive field ----------------------------------------------------------------------------

def rf_step(r_in, j_in, kernel, stride=1, dilation=1) -> tuple[Worked, Worked]:
    """One layer of receptive-field arithmetic: r_out = r_in + (K_eff − 1)·j_in and
    j_out = j_in·S, where K_eff = D·(K − 1) + 1 and j is the jump (the distance in input pixels
    between neighbouring outputs). Returns (size, jump)."""
    r_in, j_in, kernel, stride, dilation = _ints(1, r_in=r_in, j_in=j_in, kernel=kernel,
                                                 stride=stride, dilation=dilation)
    k_eff, k_text, _ = _window(kernel, dilation)
    r = r_in + (k_eff - 1) * j_in
    j = j_in * stride
    return (Worked(r, f"{r_in} + ({k_text} {MINUS} 1){DOT}{j_in} = {r}"),
            Worked(j, f"{j_in}{DOT}{stride} = {j}"))
