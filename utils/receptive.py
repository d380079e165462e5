"""The receptive field of a whole network: how many input pixels each output sees, and the jump
(the distance in input pixels between neighbouring outputs), after every conv and pooling layer.

Each layer's step is the formula :func:`utils.formulas.rf_step`; which layers have a window, and
what it is, is written per layer kind in :mod:`utils.kinds`. Branches and shortcuts are followed
through the real forward pass. Chapters reach it as ``utils.arithmetic.receptive_field``.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from utils import formulas, kinds
from utils.formulas import _one, _shape
from utils.summary import (_Calls, _esc, _EvalMode, _example_input, _first_tensor, _leaf, _tensors,
                           _Tracer)

__all__ = ["receptive_field", "ReceptiveField", "RFRow"]


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

    def _cells(self, r) -> list[str]:
        return [r.name, r.type, _one(r.kernel), _one(r.stride), _one(r.dilation), _one(r.size),
                _one(r.jump), r.text]

    def to_text(self) -> str:
        head = ["layer", "type", "kernel", "stride", "dilation", "size", "jump", "derivation"]
        body = [self._cells(r) for r in self.rows]
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
        body = "".join("<tr>" + "".join(f"<td>{_esc(c)}</td>" for c in self._cells(r)) + "</tr>"
                       for r in self.rows)
        return f"<div><p><b>{_esc(self.title)}</b></p><table><tr>{head}</tr>{body}</table></div>"


def _squeeze(values):
    """(5, 5) -> 5; (1, 7) stays a tuple."""
    values = tuple(values)
    return values[0] if len(set(values)) == 1 else values


def receptive_field(model: nn.Module, input_size) -> ReceptiveField:
    """Receptive field size and jump after every conv and pooling layer of ``model``.

    r_out = r_in + (K_eff − 1)·j_in and j_out = j_in·S, with K_eff = D·(K − 1) + 1 for dilation
    D, starting from r = j = 1 at the input. Branches (Inception) and shortcuts (ResNet) are
    followed through the actual forward pass: every torch operation carries the largest receptive
    field of its inputs to its outputs, so a sum or concatenation keeps the largest of its
    branches. Two stacked 3×3 convolutions see 5×5, three see 7×7.
    """
    x = _example_input(model, input_size)
    n = max(x.dim() - 2, 1)
    info = {id(x): (x, (1,) * n, (1,) * n)}  # id(tensor) -> (tensor, size, jump)
    rows = []

    def carry(func, args, kwargs, out):
        known = [info[id(t)] for t in _tensors([list(args), kwargs])
                 if id(t) in info and info[id(t)][0] is t]
        if known:
            k = min(len(item[1]) for item in known)
            r = tuple(max(item[1][i] for item in known) for i in range(k))
            j = tuple(max(item[2][i] for item in known) for i in range(k))
            for t in _tensors(out):
                info[id(t)] = (t, r, j)

    def on_output(name, m, inputs, output):
        x_in, out = _first_tensor(inputs), _first_tensor(output)
        window = kinds.kind_of(m).window
        if x_in is None or out is None or window is None or not _leaf(m):
            return
        kernel, stride, dilation = window(m, tuple(x_in.shape[2:]), tuple(out.shape[2:]))
        _, r_in, j_in = info.get(id(x_in), (None, (1,) * n, (1,) * n))
        steps = [formulas.rf_step(r_in[i], j_in[i], kernel[i], stride[i], dilation[i])
                 for i in range(len(kernel))]
        r = tuple(s[0].value for s in steps)
        j = tuple(s[1].value for s in steps)
        info[id(out)] = (out, r, j)
        texts = [f"r = {s[0].text}, j = {s[1].text}" for s in steps]
        text = texts[0] if len(set(texts)) == 1 else "; ".join(texts)
        rows.append(RFRow(name, type(m).__name__, _squeeze(kernel), _squeeze(stride),
                          _squeeze(dilation), _squeeze(r), _squeeze(j), text))

    with _EvalMode(model), _Tracer(model, on_output) as tracer, _Calls(carry):
        tracer.run(x)
    return ReceptiveField(f"{type(model).__name__}, input {_shape(tuple(x.shape[1:]))}: "
                          f"receptive field (size) and jump, in input pixels", rows)
