"""What the course knows about each kind of layer, in one place per kind.

A kind is a small class decorated with :func:`kind`, listing the module classes it describes
and the functions it can answer (all optional; a kind leaves out what does not apply):

- ``hparams(m)``: the hyper-parameters in words, for the layer table ("3→96, 11×11, stride 4");
- ``label(m)``: the layer in an error message, after its name ("MaxPool2d(kernel 3, stride 2)");
- ``params(m)``: the formula for its parameters (a :class:`~utils.formulas.Worked`), checked
  against the parameters it holds; None when it holds none to check;
- ``macs(m, in_shape, out_shape)``: its multiply-adds, checked against ``FlopCounterMode``;
- ``shape(m, in_shape)``: the output shape the formulas predict, and their derivation;
- ``fits(m, x, last, last_map)``: why the tensor ``x`` (with its batch dimension) cannot go
  through, in words, or None; ``last`` and ``last_map`` describe the layers that ran before, as
  (name, type, output shape), to say where a size came from;
- ``window(m, in_spatial, out_spatial)``: (kernel, stride, dilation) per spatial dimension, the
  layer's step of the receptive field.

``utils.summary`` and ``utils.receptive`` look a module up with :func:`kind_of`: the first of its
class and its base classes, in method resolution order, that a kind names. A subclass is read
as its parent (a ``Conv2d`` subclass as a convolution) unless a kind names it. A new layer kind
(a depthwise convolution, a squeeze-and-excitation gate, another pooling) is one more class
here, for example::

    @kind(nn.AdaptiveAvgPool1d)
    class AdaptivePooling1d:
        def hparams(m):
            return f"output {m.output_size}"

        def shape(m, in_shape):
            return (in_shape[0], m.output_size), "adaptive"

Shapes leave out the batch dimension; only 2-d images are described so far.
"""

from __future__ import annotations

import math

from torch import nn

from utils import formulas
from utils.formulas import DOT, TIMES, Worked, _one, _pair, _shape, fmt

__all__ = ["Kind", "kind", "kind_of", "UNKNOWN"]


class Kind:
    """The functions one kind answers (None where it has no answer) and the classes it covers."""

    FIELDS = ("hparams", "label", "params", "macs", "shape", "fits", "window")

    def __init__(self, name, types, **functions):
        self.name, self.types = name, tuple(types)
        for f in self.FIELDS:
            setattr(self, f, functions.get(f))

    def __repr__(self):
        return f"Kind({self.name}: {', '.join(t.__name__ for t in self.types) or 'any module'})"


_REGISTRY: dict[type, Kind] = {}
UNKNOWN = Kind("unknown", ())


def kind(*types):
    """Class decorator: the functions defined in the class body describe modules of ``types``.
    Returns the :class:`Kind`. A class already described is described anew (the last one wins)."""
    def register(namespace):
        functions = {f: getattr(namespace, f) for f in Kind.FIELDS if hasattr(namespace, f)}
        k = Kind(namespace.__name__.strip("_"), types, **functions)
        for t in types:
            _REGISTRY[t] = k
        return k
    return register


def kind_of(m) -> Kind:
    """The kind of module ``m``: the first class in ``type(m).__mro__`` that a kind names, else
    :data:`UNKNOWN`."""
    for cls in type(m).__mro__:
        if cls in _REGISTRY:
            return _REGISTRY[cls]
    return UNKNOWN


# --- the same words for every kind -----------------------------------------------------------------

def hparams(m) -> str:
    """The layer's hyper-parameters in the course's words (its kind's, or PyTorch's own)."""
    k = kind_of(m)
    if k.hparams is not None:
        return k.hparams(m)
    if getattr(m, "inplace", False):
        return "in-place"
    text = m.extra_repr()
    return text if len(text) <= 40 else text[:39] + "…"


def label(name, m) -> str:
    """'features.12 MaxPool2d(kernel 3, stride 2)', for messages."""
    k = kind_of(m)
    return f"{name} {k.label(m) if k.label is not None else type(m).__name__}"


def came_from(last) -> str:
    return f" (from {last[0]} {last[1]})" if last else ""


def _same(m, in_shape):
    """Layers that keep the shape of their input."""
    return tuple(in_shape), ""


def _sizes_text(ws: list[Worked]) -> str:
    """Per-dimension derivations, written once when both dimensions agree."""
    texts = [w.text for w in ws]
    return texts[0] if len(set(texts)) == 1 else "; ".join(f"{d}: {t}" for d, t in zip("HW", texts))


def _window_label(m) -> str:
    """Conv2d(kernel 3, stride 2, padding 1): the window of a conv or pooling layer."""
    k = _one(_pair(m.kernel_size))
    s = _one(_pair(m.stride or m.kernel_size))
    pad = m.padding if isinstance(m.padding, str) else _one(_pair(m.padding))
    bits = [f"kernel {k}", f"stride {s}"] + ([f"padding {pad}"] if pad not in ("0", 0) else [])
    return f"{type(m).__name__}({', '.join(bits)})"


def _window_fits(m, x, last, sizes, in_channels=None) -> str | None:
    """Why ``x`` does not fit a conv or pooling window: not an image, wrong channels, too small."""
    if x.dim() not in (3, 4):
        return f"expects a 2-d image with channels, gets a tensor of shape {_shape(x.shape)}"
    channels, spatial = x.shape[-3], tuple(x.shape[-2:])
    if in_channels is not None and channels != in_channels:
        return (f"expects {in_channels} input channels, gets {channels} "
                f"(input {_shape(x.shape[1:])}{came_from(last)})")
    for w in sizes(m, spatial, checked=False):
        if w.value < 1:
            padded = "" if not any(_pair(m.padding)) else " even with its padding"
            return (f"input {_shape(spatial)}{came_from(last)} is smaller than the "
                    f"kernel{padded}: {w.text}")
    return None


# --- the kinds -------------------------------------------------------------------------------------

_CONV = (nn.Conv2d,)
_MAXPOOL, _AVGPOOL = (nn.MaxPool2d,), (nn.AvgPool2d,)
_ADAPTIVE = (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)


def _conv_sizes(m, in_spatial, checked=True) -> list[Worked]:
    out = []
    for i, size in enumerate(in_spatial):
        if m.padding == "same":  # stride 1: the output keeps the input's size
            out.append(Worked(size, f"padding='same': {size}"))
            continue
        args = (size, m.kernel_size[i], m.stride[i], 0 if m.padding == "valid" else m.padding[i],
                m.dilation[i])
        out.append(formulas.conv_out(*args) if checked else formulas._size(*args))
    return out


@kind(*_CONV)
class Convolution:
    def hparams(m):
        parts = [f"{m.in_channels}→{m.out_channels}", TIMES.join(map(str, m.kernel_size))]
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

    label = _window_label

    def params(m):
        return formulas.conv_params(m.in_channels, m.out_channels, m.kernel_size, m.groups,
                                    m.bias is not None)

    def macs(m, in_shape, out_shape):
        h, w = out_shape[1:]
        return formulas.conv_macs(h, w, m.in_channels, m.out_channels, m.kernel_size, m.groups)

    def shape(m, in_shape):
        ws = _conv_sizes(m, in_shape[1:])
        return (m.out_channels, *[w.value for w in ws]), _sizes_text(ws)

    def fits(m, x, last, last_map):
        return _window_fits(m, x, last, _conv_sizes, m.in_channels)

    def window(m, in_spatial, out_spatial):
        return m.kernel_size, m.stride, m.dilation


def _pool_sizes(m, in_spatial, checked=True) -> list[Worked]:
    k, s, p = _pair(m.kernel_size), _pair(m.stride or m.kernel_size), _pair(m.padding)
    d = _pair(getattr(m, "dilation", 1))
    if checked:
        return [formulas.pool_out(size, k[i], s[i], p[i], d[i], m.ceil_mode)
                for i, size in enumerate(in_spatial)]
    return [formulas._size(size, k[i], s[i], p[i], d[i], m.ceil_mode) for i, size in enumerate(in_spatial)]


@kind(*_MAXPOOL, *_AVGPOOL)
class Pooling:
    def hparams(m):
        parts = [TIMES.join(map(str, _pair(m.kernel_size)))]
        stride = _pair(m.stride or m.kernel_size)
        if stride != _pair(m.kernel_size):
            parts.append(f"stride {_one(stride)}")
        if any(_pair(m.padding)):
            parts.append(f"pad {_one(_pair(m.padding))}")
        if m.ceil_mode:
            parts.append("ceil_mode")
        return ", ".join(parts)

    label = _window_label

    def shape(m, in_shape):
        ws = _pool_sizes(m, in_shape[1:])
        return (in_shape[0], *[w.value for w in ws]), _sizes_text(ws)

    def fits(m, x, last, last_map):
        k, p, d = _pair(m.kernel_size), _pair(m.padding), _pair(getattr(m, "dilation", 1))
        for i in range(2):
            if 2 * p[i] > d[i] * (k[i] - 1) + 1:
                return (f"padding {p[i]} is more than half the pooling window "
                        f"({d[i] * (k[i] - 1) + 1}); PyTorch refuses this")
        return _window_fits(m, x, last, _pool_sizes)

    def window(m, in_spatial, out_spatial):
        return (_pair(m.kernel_size), _pair(m.stride or m.kernel_size),
                _pair(getattr(m, "dilation", 1)))


@kind(*_ADAPTIVE)
class AdaptivePooling:
    def hparams(m):
        return f"output {TIMES.join(str(v) for v in _pair(m.output_size))}"

    def shape(m, in_shape):
        target = _pair(m.output_size, len(in_shape) - 1)
        spatial = tuple(in_shape[1 + i] if t is None else t for i, t in enumerate(target))
        return (in_shape[0], *spatial), f"adaptive: output {_shape(spatial)} whatever the input"

    def window(m, in_spatial, out_spatial):
        """The equivalent fixed window: stride ⌊in/out⌋, the kernel covering the rest."""
        s = tuple(max(i // o, 1) for i, o in zip(in_spatial, out_spatial))
        k = tuple(i - (o - 1) * st for i, o, st in zip(in_spatial, out_spatial, s))
        return k, s, (1,) * len(in_spatial)


@kind(nn.Linear)
class FullyConnected:
    def hparams(m):
        return f"{fmt(m.in_features)}→{fmt(m.out_features)}" + ("" if m.bias is not None else ", no bias")

    def label(m):
        return f"Linear({fmt(m.in_features)} → {fmt(m.out_features)})"

    def params(m):
        return formulas.linear_params(m.in_features, m.out_features, m.bias is not None)

    def macs(m, in_shape, out_shape):
        rows = math.prod(out_shape[:-1])
        w = formulas.linear_macs(m.in_features, m.out_features)
        if rows == 1:
            return w
        return Worked(rows * w.value, f"{fmt(rows)}{DOT}{w.text.rsplit(' = ', 1)[0]} = "
                                      f"{fmt(rows * w.value)}")

    def shape(m, in_shape):
        return (*in_shape[:-1], m.out_features), ""

    def fits(m, x, last, last_map):
        n = x.shape[-1]
        if n == m.in_features:
            return None
        where = ""
        last = last_map if last_map and math.prod(last_map[2]) == n else last
        if last and last[2] and len(last[2]) > 1 and math.prod(last[2]) == n:
            where = (f" = {DOT.join(map(str, last[2]))}, the flattened output "
                     f"({_shape(last[2])}) of {last[0]} {last[1]}")
        elif last:
            where = f", from {last[0]} {last[1]} (output {_shape(last[2])})"
        return (f"expects {fmt(m.in_features)} input features, gets {fmt(n)}{where}. "
                f"The layers before it shrink or grow the input differently than this layer "
                f"was built for; check the input size or adapt in_features")


@kind(nn.Flatten)
class Flatten:
    def shape(m, in_shape):  # dimensions counted with the batch, as nn.Flatten does
        full = (1, *in_shape)
        start, end = m.start_dim % len(full), m.end_dim % len(full)
        flat = math.prod(full[start:end + 1])
        return ((*full[:start], flat, *full[end + 1:])[1:],
                f"{DOT.join(map(str, full[start:end + 1]))} = {fmt(flat)}")


@kind(nn.BatchNorm2d)
class BatchNorm:
    def hparams(m):
        return str(m.num_features)

    def params(m):
        return formulas.bn_params(m.num_features) if m.affine else None

    shape = _same


@kind(nn.LocalResponseNorm)
class LocalResponseNorm:
    def hparams(m):
        return f"size {m.size}, α {m.alpha}, β {m.beta}, k {m.k}"

    shape = _same


@kind(nn.Dropout, nn.Dropout2d, nn.AlphaDropout)
class Dropout:
    def hparams(m):
        return f"p {m.p}"

    shape = _same


@kind(nn.GroupNorm, nn.LayerNorm, nn.InstanceNorm2d, nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU,
      nn.ELU, nn.GELU, nn.SiLU, nn.Sigmoid, nn.Tanh, nn.Hardswish, nn.Hardsigmoid, nn.Mish,
      nn.Softmax, nn.LogSoftmax, nn.Identity)
class SameShape:
    """Normalisations and activations: the output has the input's shape, no multiply-adds."""
    shape = _same


# Layers that keep the shape of their input (utils.diagram draws no box for them).
_SAME_SHAPE = tuple(t for t, k in _REGISTRY.items() if k.shape is _same)
