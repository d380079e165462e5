"""The layer table of a whole network, from one real forward pass, checked against PyTorch.

``summary(model, input_size)`` records every layer (name, type, hyper-parameters, output shape,
parameters and multiply-adds with their formulas, activations) and checks itself: output shapes
against the formulas of :mod:`utils.formulas`, parameters against ``model.parameters()``,
multiply-adds against ``torch.utils.flop_counter.FlopCounterMode``. What each layer kind means
(its formulas, its words) is written once, in :mod:`utils.kinds`. ``check_fits`` turns PyTorch's
shape errors into a sentence naming the layer and the arithmetic that fails. ``compare`` puts the
summaries of several networks side by side. Chapters reach all of it as ``utils.arithmetic``.

Sizes are per example (no batch dimension); memory is in bytes of fp32, 1 MB = 10⁶ bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from utils import kinds
from utils.formulas import TIMES, Worked, _shape, fmt, fmt_big, fmt_bytes
from utils.kinds import _ADAPTIVE, _AVGPOOL, _CONV, _MAXPOOL, _SAME_SHAPE  # noqa: F401 (utils.diagram)

__all__ = ["summary", "Summary", "Row", "SummaryMismatch", "ShapeError", "check_fits", "compare",
           "Comparison"]


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


def _leaf(m) -> bool:
    return not list(m.children())


class _Tracer:
    """Runs one forward pass with a pre-hook on every module (to check that the input fits and
    to know which module is running) and an optional forward hook (to record rows)."""

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

    @property
    def running(self) -> str | None:
        """The qualified name of the innermost module running now."""
        return self.stack[-1][0] if self.stack else None

    def _pre(self, name):
        def hook(m, inputs):
            self.stack.append((name, m, inputs))
            x = _first_tensor(inputs)
            fits = kinds.kind_of(m).fits
            if x is not None and fits is not None and _leaf(m):
                problem = fits(m, x, self.last, self.last_map)
                if problem:
                    raise ShapeError(name, f"{kinds.label(name, m)}: {problem}")
        return hook

    def _post(self, name):
        def hook(m, inputs, output):
            if self.stack:
                self.stack.pop()
            if self.on_output is not None:
                self.on_output(name, m, inputs, output)
            out = _first_tensor(output)
            if out is not None and _leaf(m):
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
            error = ShapeError(name, f"{kinds.label(name or '(model)', m)} fails on an input of "
                                     f"{got}{kinds.came_from(self.last)}: {first_line}")
        raise error from None


class _Calls(TorchFunctionMode):
    """Calls ``on_call(func, args, kwargs, out)`` after every torch function of the forward
    pass: how the receptive field follows tensors through sums and concatenations, and how the
    summary sees a layer cut its input into patches (``unfold``)."""

    def __init__(self, on_call):
        super().__init__()
        self.on_call = on_call

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        self.on_call(func, args, kwargs or {}, out)
        return out


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
    new activation memory, so the total leaves them out. ``counted`` is False for a layer whose
    multiply-adds nobody could count (``macs_formula`` says why).
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
    counted: bool = True


_OPTIMIZERS = {"sgd": 2, "sgd-momentum": 3, "momentum": 3, "adam": 4, "adamw": 4}
_OPTIMIZER_NAMES = {2: "SGD", 3: "SGD-momentum", 4: "Adam"}
# Modules that only hold others: never a block of their own (a subclass with its own class is).
_CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)


def _optimizer_factor(optimizer: str) -> int:
    key = optimizer.lower().replace("_", "-").replace(" ", "-")
    if key not in _OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; choose one of {', '.join(_OPTIMIZERS)}")
    return _OPTIMIZERS[key]


def _macs_text(macs: int, counted: bool) -> str:
    return fmt(macs) if counted else ("?" if not macs else f"{fmt(macs)} + ?")


class Summary:
    """The layer table of a network for one input size, with totals, memory and self-checks.

    Built by :func:`summary`. ``.rows`` are the layers in the order they ran; ``.params``,
    ``.macs`` and ``.activations`` the totals (per example). ``str(s)`` / ``s.to_text()`` is a
    stable plain-text table; in a notebook it shows as HTML. ``s.blocks()`` folds the rows into
    one row per block (residual block, Inception module, …). ``.uncounted`` lists the layers
    whose multiply-adds could not be counted (then the table says so and claims no check).
    """

    def __init__(self, title, rows, checks, module_info, grouped=None, input_shape=()):
        self.title, self.rows, self.checks = title, rows, checks
        self._module_info, self.grouped, self.input_shape = module_info, grouped, input_shape

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

    @property
    def uncounted(self) -> list[Row]:
        """The layers whose multiply-adds are missing from ``.macs``."""
        return [r for r in self.rows if not r.counted]

    def __len__(self):
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)

    def row(self, name: str) -> Row:
        """The row of the layer (or block) with this qualified name, e.g. ``s.row("features.0")``,
        or with the label it was given (``s.row("conv1")`` after ``names=``)."""
        for r in self.rows + (self.grouped or []):
            if name in (r.name, r.module):
                return r
        raise KeyError(f"no layer named {name!r}; layers: {', '.join(r.name for r in self.rows[:8])}…")

    # memory
    def param_bytes(self, bytes_per_param: int = 4) -> int:
        """Memory for the parameters alone (fp32: 4 bytes each)."""
        return self.params * bytes_per_param

    def training_bytes(self, optimizer: str = "adam", bytes_per_param: int = 4) -> int:
        """Rule-of-thumb memory for training, without activations: plain SGD keeps weights and
        gradients (2×), SGD with momentum adds the momentum (3×), Adam two moments (4×)."""
        return _optimizer_factor(optimizer) * self.param_bytes(bytes_per_param)

    def activation_bytes(self, bytes_per_value: int = 4, batch_size: int = 1) -> int:
        """Memory of the activations of one forward pass (all kept, as training needs them)."""
        return self.activations * bytes_per_value * batch_size

    # grouping
    def blocks(self, spec=None, *, depth: int | None = None) -> "Summary":
        """The same table with one row per block; each block row holds its layers in
        ``.children`` (shown folded in HTML).

        By default a block is what the model's own structure says: the outermost module below
        the model that is not a plain container (``nn.Sequential``, ``nn.ModuleList``,
        ``nn.ModuleDict``; a subclass of them with a class of its own is a block). So ResNet's
        residual blocks, GoogLeNet's Inception modules and NiN's mlpconv layers each become one
        row, and VGG's plain stacks stay layers. ``spec``: module classes, class names or
        qualified module names that count as blocks instead. ``depth=n`` instead makes every
        module n levels down a block (``depth=1``: ``features``, ``classifier``, …). Layers
        outside any block keep their own row.
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
        return Summary(self.title, self.rows, self.checks, self._module_info, grouped,
                       self.input_shape)

    def _block_of(self, module, spec, depth):
        parts = module.split(".") if module else []
        if depth is not None:
            return ".".join(parts[:depth]) if len(parts) > depth else None
        own = not self._module_info.get(module, (None, None, True))[2]  # a row of a module's own
        for i in range(1, len(parts) + own):  # the outermost block wins
            name = ".".join(parts[:i])
            cls = self._module_info.get(name, (None,))[0]
            if cls is None:
                continue
            if (cls not in _CONTAINERS if spec is None
                    else any(_matches(name, cls, s) for s in spec)):
                return name
        return None

    def _block_row(self, name, rows):
        cls, shape, _ = self._module_info.get(name, (None, (), False))
        n = len(rows)
        return Row(name, cls.__name__ if cls else "", f"{n} layer{'s' * (n != 1)}",
                   shape or rows[-1].out_shape,
                   sum(r.params for r in rows), "", sum(r.macs for r in rows), "",
                   sum(r.activations for r in rows if r.new_tensor), module=name, children=rows,
                   counted=all(r.counted for r in rows))

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
                 fmt(r.params), _macs_text(r.macs, r.counted)] for r, ind in lines_rows]
        total = ["total", "", "", "", fmt(self.params), _macs_text(self.macs, not self.uncounted)]
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
                          for m, label in _OPTIMIZER_NAMES.items())
        lines = [
            f"parameters: {fmt(self.params)} ({fmt_big(self.params)}); fp32: {fmt_bytes(pb)}; "
            f"training (weights, gradients, optimizer state): {train}",
            f"multiply-adds: {fmt(self.macs)} ({fmt_big(self.macs)}); FLOPs = 2 {TIMES} MACs = "
            f"{fmt_big(self.flops)}",
            f"activations: {fmt(self.activations)} values per example = "
            f"{fmt_bytes(self.activation_bytes())} in fp32 (forward pass; in-place layers and "
            f"views not counted)",
        ]
        missing = self.uncounted
        if missing:
            lines.append("not counted: the multiply-adds of " + ", ".join(
                f"{r.name} ({r.type})" for r in missing) + ": FlopCounterMode sees no matrix "
                "product or convolution in them (e.g. patches cut with unfold, multiplied "
                "elementwise), so the total leaves them out")
            if self.checks:
                lines.append("checked, multiply-adds only in part: " + "; ".join(self.checks))
        elif self.checks:
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
                    f"<td {cell.format('right')}>{_macs_text(r.macs, r.counted)}"
                    + (small.format(_esc(r.macs_formula))
                       if (r.macs or not r.counted) and r.macs_formula else "")
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
                 f"<td {cell.format('right')}><b>{_macs_text(self.macs, not self.uncounted)}</b>"
                 f"</td></tr>")
        foot = "".join(f"<li>{_esc(line)}</li>" for line in self.footer())
        return (f"<div><p><b>{_esc(self.title)}</b></p><table>{head}{''.join(body)}{total}</table>"
                f'<ul style="font-size:90%">{foot}</ul></div>')

    @staticmethod
    def compare(summaries, *, optimizer: str = "adam") -> "Comparison":
        """The same as :func:`compare`."""
        return compare(summaries, optimizer=optimizer)


def _esc(text) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _matches(name, cls, item) -> bool:
    if isinstance(item, type):
        return issubclass(cls, item)
    return item == name or item == cls.__name__


# --- several networks side by side ----------------------------------------------------------------

class Comparison:
    """Several networks side by side, built by :func:`compare`: per network its input, parameters,
    multiply-adds, activations, and the memory of its weights, of training them (weights,
    gradients, optimizer state) and of its activations, per example in fp32. ``.rows`` holds the
    numbers (one dict per network); ``str()`` is a plain-text table, a notebook shows HTML."""

    def __init__(self, summaries: dict, optimizer: str = "adam"):
        factor = _optimizer_factor(optimizer)
        self.optimizer = f"{_OPTIMIZER_NAMES[factor]} {factor}{TIMES}"
        self.rows = [dict(network=name, input=s.input_shape, params=s.params, macs=s.macs,
                          macs_counted=not s.uncounted, activations=s.activations,
                          param_bytes=s.param_bytes(), training_bytes=s.training_bytes(optimizer),
                          activation_bytes=s.activation_bytes())
                     for name, s in summaries.items()]

    def columns(self) -> list[tuple[str, list[str]]]:
        """(heading, cells) per column, as the text and the HTML show them."""
        rows = self.rows
        return [
            ("network", [r["network"] for r in rows]),
            ("input", [_shape(r["input"]) if r["input"] else "–" for r in rows]),
            ("parameters", [fmt(r["params"]) for r in rows]),
            ("MACs", [_macs_text(r["macs"], r["macs_counted"]) for r in rows]),
            ("activations", [fmt(r["activations"]) for r in rows]),
            ("weights", [fmt_bytes(r["param_bytes"]) for r in rows]),
            (f"training ({self.optimizer})", [fmt_bytes(r["training_bytes"]) for r in rows]),
            ("activation memory", [fmt_bytes(r["activation_bytes"]) for r in rows]),
        ]

    def to_text(self) -> str:
        cols = self.columns()
        widths = [max(len(h), *(len(c) for c in cells)) for h, cells in cols]

        def line(cells):
            return "  ".join(c.ljust(w) if i < 2 else c.rjust(w)
                             for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

        out = [line([h for h, _ in cols])]
        out.append("-" * len(out[0]))
        out += [line([cells[i] for _, cells in cols]) for i in range(len(self.rows))]
        out.append("per example; memory in fp32 (4 bytes a number, 1 MB = 10⁶ bytes); training: "
                   "weights, gradients and optimizer state, without activations")
        return "\n".join(out)

    def __str__(self):
        return self.to_text()

    __repr__ = __str__

    def _repr_html_(self) -> str:
        cols = self.columns()
        style = 'style="text-align:{};padding:2px 8px"'
        head = "".join(f"<th {style.format('left' if i < 2 else 'right')}>{_esc(h)}</th>"
                       for i, (h, _) in enumerate(cols))
        body = "".join("<tr>" + "".join(
            f"<td {style.format('left' if i < 2 else 'right')}>{_esc(cells[j])}</td>"
            for i, (_, cells) in enumerate(cols)) + "</tr>" for j in range(len(self.rows)))
        note = self.to_text().splitlines()[-1]
        return (f"<div><table><tr>{head}</tr>{body}</table>"
                f'<p style="font-size:90%">{_esc(note)}</p></div>')


def compare(summaries, *, optimizer: str = "adam") -> Comparison:
    """Several summaries side by side: ``compare({"AlexNet": s1, "VGG-16": s2})`` (or a list of
    summaries, named by their model's class). ``optimizer`` sets the training-memory column
    ("sgd", "sgd-momentum" or "adam")."""
    if not isinstance(summaries, dict):
        named = {}
        for s in summaries:
            name = s.title.split(",")[0] if isinstance(s, Summary) else type(s).__name__
            same = sum(k == name or k.startswith(f"{name} (") for k in named)
            named[f"{name} ({same + 1})" if same else name] = s
        summaries = named
    for name, s in summaries.items():
        if not isinstance(s, Summary):
            raise TypeError(f"compare: {name!r} is a {type(s).__name__}, not a Summary; "
                            f"pass summary(model, input_size)")
    return Comparison(summaries, optimizer)


# --- recording the rows -----------------------------------------------------------------------------

def _aliases(out, x) -> bool:
    """True when ``out`` is ``x`` itself or a view of the same memory (no new activation)."""
    if out is None or x is None:
        return False
    return out is x or out._base is x or (out._base is not None and out._base is x._base)


def _own_params(m) -> list:
    return list(m.parameters(recurse=False))


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
        # name -> (class, output shape, leaf)
        self.module_info = {n: (type(m), None, _leaf(m)) for n, m in model.named_modules()}
        self.own_ops_at = {}  # non-leaf module name -> row index after its children
        self.shapes_checked = 0
        self.patches = set()  # modules that cut their input into patches (unfold)
        self.tracer = None

    def fail(self, layer, message):
        if self.mismatch is None:
            self.mismatch = SummaryMismatch(layer, message)

    def on_call(self, func, args, kwargs, out):
        if getattr(func, "__name__", "") in ("unfold", "im2col") and self.tracer.running is not None:
            self.patches.add(self.tracer.running)

    def record(self, name, m, inputs, output):
        x, out = _first_tensor(inputs), _first_tensor(output)
        out_shape = tuple(out.shape[1:]) if out is not None else ()
        leaf = _leaf(m)
        self.module_info[name] = (type(m), out_shape, leaf)
        if not leaf:
            self.own_ops_at[name] = len(self.rows)
            new = [p for p in _own_params(m) if id(p) not in self.seen]
            if new:
                self._add_own_params(name, m, new)
            return
        in_shape = tuple(x.shape[1:]) if x is not None else ()
        self.calls[name] = self.calls.get(name, 0) + 1
        row = Row(name, type(m).__name__, kinds.hparams(m), out_shape, 0, "", 0, "",
                  sum(t.numel() // self.batch for t in _tensors(output)), in_shape,
                  new_tensor=not _aliases(out, x), module=name)
        self._fill_params(row, name, m)
        kind = kinds.kind_of(m)
        if x is not None and kind.shape is not None:
            try:
                expected, row.out_formula = kind.shape(m, in_shape)
            except ValueError as e:  # the formulas refuse what the forward pass did
                expected, row.out_formula = None, ""
                self.fail(name, f"{type(m).__name__} ({row.hparams}): the forward pass gives "
                                f"{_shape(out_shape)}, the formulas refuse it: {e}")
            self.shapes_checked += expected is not None
            if expected is not None and tuple(expected) != out_shape:
                self.fail(name, f"{type(m).__name__} ({row.hparams}): the forward pass gives "
                                f"{_shape(out_shape)}, the formulas give {_shape(expected)}"
                                + (f" ({row.out_formula})" if row.out_formula else ""))
        if x is not None and kind.macs is not None:
            macs = kind.macs(m, in_shape, out_shape)
            row.macs, row.macs_formula = macs.value, macs.text
        self.rows.append(row)

    def _fill_params(self, row, name, m):
        own = _own_params(m)
        new = [p for p in own if id(p) not in self.seen]
        kind = kinds.kind_of(m)
        formula = kind.params(m) if kind.params is not None else None
        if formula is None and not own:
            formula = Worked(0, "no parameters")
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


def _uncountable(rec, m, name) -> str:
    """Why FlopCounterMode's zero cannot be this layer's multiply-adds, or '' when it can be:
    the layer cut its input into patches (a convolution written by hand), or holds a weight
    matrix or filter bank (2 or more dimensions) whose products it did not see."""
    if kinds.kind_of(m) is not kinds.UNKNOWN:
        return ""
    if name in rec.patches and list(m.parameters(recurse=False)):
        return "it cuts its input into patches (unfold) and multiplies them by its weights"
    weights = [n for n, p in m.named_parameters(recurse=False) if p.dim() >= 2]
    if weights:
        return f"it holds the weights {', '.join(weights)}"
    return ""


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
            rec.fail(name, f"{type(m).__name__} ({kinds.hparams(m)}): the formulas give "
                           f"{fmt(macs)} multiply-adds, FlopCounterMode counts {fmt(ref)} FLOPs = "
                           f"{fmt(ref / 2)} multiply-adds")
        checked += 1
    done = set()
    for r in rec.rows:  # layers without a formula: FlopCounterMode's count, once per module
        if not r.macs_formula and r.module not in done:
            done.add(r.module)
            m, f = modules[r.module], flops.get(r.module, 0)
            if f and _leaf(m):
                r.macs, r.macs_formula = f // 2, f"FlopCounterMode: {fmt(f)} FLOPs / 2"
            elif not f and _leaf(m) and r.in_shape and (why := _uncountable(rec, m, r.module)):
                r.counted, r.macs_formula = False, f"not counted: FlopCounterMode sees none; {why}"
    _add_forward_ops(rec, model, flops)
    total = counter.get_total_flops() // rec.batch
    if verify and abs(2 * sum(r.macs for r in rec.rows) - total) > len(rec.rows):
        rec.fail("", f"the layers add up to {fmt(sum(r.macs for r in rec.rows))} multiply-adds, "
                     f"FlopCounterMode counts {fmt(total)} FLOPs = {fmt(total / 2)} multiply-adds")
    return [f"multiply-adds of {checked} conv/linear layers = FlopCounterMode FLOPs / 2, and the "
            f"total = FlopCounterMode's total / 2"] if checked else []


def _add_forward_ops(rec, model, flops):
    """Rows for matrix products written directly in a block's forward method (not in a layer),
    and for a block that cuts patches there without FlopCounterMode seeing its products."""
    children = {n: [f"{n}.{c}" if n else c for c, _ in m.named_children()]
                for n, m in model.named_modules()}
    inserts = []
    for name, at in rec.own_ops_at.items():
        own = flops.get(name, 0) - sum(flops.get(c, 0) for c in children.get(name, []))
        cls = rec.module_info[name][0]
        row = Row(f"{name or '(model)'} (operations in forward)", cls.__name__, "", (), 0, "",
                  own // 2, f"FlopCounterMode: {fmt(own)} FLOPs / 2", 0, new_tensor=False,
                  module=name)
        if own > 0:
            inserts.append((at, row))
        elif name in rec.patches:
            row.counted, row.macs_formula = False, ("not counted: FlopCounterMode sees none; it "
                                                    "cuts its input into patches (unfold)")
            inserts.append((at, row))
    for at, row in sorted(inserts, key=lambda t: -t[0]):
        rec.rows.insert(at, row)


def summary(model: nn.Module, input_size, *, blocks=None, verify: bool = True,
            names: dict | None = None) -> Summary:
    """The layer table of ``model`` for one example of ``input_size`` (no batch dimension,
    e.g. ``(3, 227, 227)``; a tensor with a batch dimension also works).

    One forward pass (in eval mode, without gradients; the model's modes are restored) records
    every layer: name, type, hyper-parameters, output shape, parameters and multiply-adds with
    their formulas, and the activations. It checks itself and raises :class:`SummaryMismatch`
    naming the layer when the output shapes differ from the formulas, when a layer's parameters
    differ from its formula, when the total differs from ``sum(p.numel() for p in
    model.parameters())`` (shared parameters are counted once), or when the multiply-adds differ
    from ``FlopCounterMode`` / 2. An input that does not fit raises :class:`ShapeError`. A layer
    whose multiply-adds nobody can count (FlopCounterMode sees none, yet it holds weights or
    cuts patches) is named as not counted, and the table then claims no verification.

    ``blocks``: fold the table into one row per block (see :meth:`Summary.blocks`); ``True``
    uses the model's own blocks. ``names``: the labels the table shows instead of the modules'
    qualified names, e.g. the paper's ``{"features.0": "conv1", "features.2": "pool1"}`` for a
    network laid out as torchvision's (``s.row`` finds a row by either name).
    """
    from torch.utils.flop_counter import FlopCounterMode

    x = _example_input(model, input_size)
    rec = _Recorder(model, x.shape[0] if x.dim() else 1)
    with _EvalMode(model), _Tracer(model, rec.record) as tracer, \
            FlopCounterMode(display=False) as counter, _Calls(rec.on_call):
        rec.tracer = tracer
        tracer.run(x)
    rec.add_uncalled()
    unknown = sorted(set(names or {}) - {r.name for r in rec.rows})
    if unknown:
        raise KeyError(f"summary(names=...): no layer named {', '.join(map(repr, unknown))}; "
                       f"the layers are {', '.join(r.name for r in rec.rows)}")
    for r in rec.rows:
        r.name = (names or {}).get(r.name, r.name)
    checks = _check_macs(rec, model, counter, verify)
    checks = _check_params(rec, model, verify) + checks
    if verify and rec.mismatch is not None:
        raise rec.mismatch from None
    checks.insert(0, f"output shapes of {rec.shapes_checked} layers match the formulas")
    size = _shape(tuple(x.shape[1:]))
    s = Summary(f"{type(model).__name__}, input {size}", rec.rows, checks if verify else [],
                rec.module_info, input_shape=tuple(x.shape[1:]))
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
