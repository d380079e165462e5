"""Diagrams of networks drawn from the model itself, never typed by hand.

``architecture(model, input_size)`` draws a network left to right, one box per feature map, as
the papers do: height ∝ log of the spatial size, thickness ∝ log of the channels (so LeNet's 6
and VGG's 512 both read), fully connected layers as thin bars. Above a box: the layer and its
operation ("11×11 /4 p2": kernel, stride, padding); below it: its output, height×width×channels
("55×55×96"). Boxes, sizes and kernels come from the rows of ``utils.arithmetic.summary``, the
same forward pass as the layer table. A network made of blocks gets one box per block (as
``summary(...).blocks()`` folds it), marked by what the block merges: "+" a residual sum, "‖"
a concatenation, "×" a channel gate (squeeze-and-excitation).

``block(module, input_size)``, or ``architecture(..., expand="inception3a")``, draws one block
with its branches side by side and the merge explicit. How the branches connect is read from
the block's dataflow, traced with ``torch.fx``; the shapes come from running it.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field

import torch
from matplotlib.colors import to_rgb
from matplotlib.font_manager import FontProperties
from matplotlib.patches import Circle, FancyArrowPatch, Polygon
from matplotlib.path import Path
from matplotlib.textpath import TextToPath
from torch import nn

from utils import summary as ar  # summary(), the forward pass and the layer kinds it reads
from utils.style import PALETTE, figure

__all__ = ["architecture", "block", "shape_text"]

TIMES = "\u00d7"
FONT, FOOT, TITLE = 6.5, 6, 9     # points: at 6.5, 7 inches hold AlexNet's 13 boxes in one row
LINE = FONT * 1.3 / 72            # one line of labels, in inches
GAP, HGAP, VGAP, MARGIN = 0.08, 0.26, 0.14, 0.14  # inches: between boxes of a row; between
#                                   the nodes of a block (room for bends); between lanes; edges
COLOURS = {"input": "#999999", "conv": PALETTE[0], "pool": PALETTE[4], "fc": PALETTE[2],
           "other": PALETTE[3], "block": PALETTE[0], "+": PALETTE[5], "‖": PALETTE[3],
           "×": PALETTE[1]}
MERGES = {"cat": "concat", "concat": "concat", "add": "add", "iadd": "add", "add_": "add",
          "mul": "multiply", "imul": "multiply", "mul_": "multiply"}
SYMBOLS = {"multiply": "×", "concat": "‖", "add": "+"}
MARK_WORDS = {"×": "× channel gate", "‖": "‖ concatenation", "+": "+ residual sum"}
KEY = ("k×k /s pP: kernel, stride, padding", "box height ∝ log size, thickness ∝ log channels")
SUFFIXES = {r" dw": "dw: depthwise", r" g\d": "gN: N groups", r" ceil": "ceil: size rounded up"}
_POOLS = ar._MAXPOOL + ar._AVGPOOL + ar._ADAPTIVE
_FUNCTIONAL = {nn.functional.avg_pool2d: nn.AvgPool2d, nn.functional.max_pool2d: nn.MaxPool2d,
               nn.functional.adaptive_avg_pool2d: nn.AdaptiveAvgPool2d}
_TEXT = TextToPath()


# --- words ---------------------------------------------------------------------------------------

def shape_text(shape) -> str:
    """(96, 55, 55) -> "55×55×96": height×width×channels, as the papers write it;
    (4096,) -> "4096"."""
    shape = tuple(int(s) for s in shape)
    if len(shape) >= 2:
        return TIMES.join(map(str, shape[1:] + shape[:1]))
    return str(shape[0]) if shape else "scalar"


def _one(v, n) -> str:
    """An int or tuple per spatial dimension, once when they agree: (2, 2) -> "2", (1, 2) -> "1×2"."""
    v = tuple(v) if isinstance(v, (tuple, list)) else (v,) * n
    return str(v[0]) if len(set(v)) == 1 else TIMES.join(map(str, v))


def _width(text: str, size: float = FONT, bold: bool = False) -> float:
    """Width of a label in inches, measured with the font matplotlib draws it in."""
    font = FontProperties(size=size, weight="bold" if bold else "normal")
    return _TEXT.get_text_width_height_descent(text, font, ismath=False)[0] / 72


def _kind(m, in_shape, out_shape) -> str | None:
    """What a layer is drawn as: 'conv', 'pool', 'fc', 'other', or None when it is not drawn
    (activations, normalisation, dropout, views: they keep the size of the box before)."""
    if isinstance(m, ar._CONV) or isinstance(m, nn.Linear):
        return "conv" if isinstance(m, ar._CONV) else "fc"
    same = tuple(out_shape) == tuple(in_shape)
    if isinstance(m, _POOLS):
        return None if isinstance(m, ar._ADAPTIVE) and same else "pool"
    if not out_shape or same or isinstance(m, ar._SAME_SHAPE + (nn.Flatten, nn.Unflatten)):
        return None
    if len(out_shape) == 1:
        return "fc"
    if hasattr(m, "kernel_size") and in_shape:  # the course's own layers (LeNet's C3 and S2)
        return "conv" if out_shape[0] != in_shape[0] else "pool"
    return "other"


def _op(m, in_shape, out_shape) -> str:
    """The operation in shorthand: "11×11 /4" (kernel /stride), "5×5 /1 p2" (padding 2),
    "max 3×3 /2 ceil", "3×3 /1 p1 dw" (depthwise), "global avg"; a block's class otherwise."""
    if isinstance(m, ar._ADAPTIVE):
        kind = "max" if "Max" in type(m).__name__ else "avg"
        spatial = tuple(out_shape[1:])
        return f"global {kind}" if set(spatial) == {1} else f"{kind} → {TIMES.join(map(str, spatial))}"
    k = getattr(m, "kernel_size", None)
    if k is None or not in_shape:
        return "" if isinstance(m, nn.Linear) else type(m).__name__.strip("_")
    n = max(len(in_shape) - 1, 1)
    k = tuple(k) if isinstance(k, (tuple, list)) else (k,) * n
    s = getattr(m, "stride", None) or (k if isinstance(m, _POOLS) else next(
        (s for s in range(1, k[0] + 1) if (in_shape[1] - k[0]) // s + 1 == out_shape[1]), 1))
    text = f"{TIMES.join(map(str, k))} /{_one(s, n)}"
    p = getattr(m, "padding", 0)
    text += (f" {p}" if p != "valid" else "") if isinstance(p, str) else \
        (f" p{_one(p, n)}" if _one(p, n) != "0" else "")
    text += " ceil" if getattr(m, "ceil_mode", False) else ""
    if isinstance(m, ar._CONV) and m.groups > 1:
        text += " dw" if m.groups == m.in_channels else f" g{m.groups}"
    if isinstance(m, _POOLS):
        text = ("max " if isinstance(m, ar._MAXPOOL) else "avg ") + text
    return text


def _single_layer(m):
    """The one conv, linear or pooling layer of a module built around it with normalisation and
    activations (BasicConv2d, Conv2dNormActivation), or None. Such a module is drawn as it."""
    leaves = [c for c in m.modules() if not list(c.children())]
    main = [c for c in leaves if isinstance(c, ar._CONV + _POOLS + (nn.Linear,))]
    if len(main) == 1 and all(c is main[0] or isinstance(c, ar._SAME_SHAPE) for c in leaves):
        return main[0]
    return None


def _short(name: str) -> str:
    """The readable end of a qualified name: 'features.denseblock1' -> 'denseblock1',
    'block.2.fc1' -> 'fc1'; 'features.1.0' and 'layer1.0' stay whole."""
    parts = name.split(".")
    return ".".join(parts[max((j for j, p in enumerate(parts) if not p.isdigit()), default=0):])


@dataclass
class _Box:
    """What the figures draw: a tensor as a box, or a run of boxes of the same size and kind
    (VGG's stacked convolutions, ResNet's blocks of a stage), or a merge (kind 'merge')."""
    titles: list
    op: str
    shape: tuple
    kind: str
    marks: list = field(default_factory=lambda: [""])
    names: list = field(default_factory=list)   # qualified names: the boxes' gids ("box:…")
    inputs: int = 0                              # of a merge: how many tensors it merges

    @property
    def title(self) -> str:
        """'conv1', 'conv ×2', 'layer1.0–2', 'inception4a–c', 'features.11–13'."""
        t = self.titles
        if len(set(t)) == 1:
            return t[0] + (f" {TIMES}{len(t)}" if len(t) > 1 else "")
        first, last = t[0].split("."), t[-1].split(".")
        k = len(os.path.commonprefix([first, last]))
        a, b = first[k], last[k]
        cut = 0 if a.isdigit() or b.isdigit() else len(os.path.commonprefix([a, b]))
        return f"{t[0]}–{'.'.join([b[cut:], *last[k + 1:]])}"

    def step(self) -> float:
        return 0.55 * _solid(self.shape)[0] + 0.02

    def geometry(self) -> tuple[float, float]:
        """Width and height of the drawing itself, without labels."""
        if self.kind == "merge":
            return 0.24, 0.24
        t, h, d = _solid(self.shape)
        return (len(self.marks) - 1) * self.step() + t + d, h + d

    def width(self) -> float:
        return max(self.geometry()[0], _width(self.title, bold=True), _width(self.op),
                   _width(shape_text(self.shape)))

    def extent(self) -> tuple[float, float, float]:
        """(width, up, down) around the centre line, labels included."""
        gh = self.geometry()[1] / 2
        if self.kind == "merge":
            return self.width(), gh, gh + 0.04 + 2 * LINE
        return self.width(), gh + 0.04 + 2 * LINE, gh + 0.04 + LINE


# --- the dataflow of a block ---------------------------------------------------------------------

def _trace(module, coarse=False):
    """``module`` traced by torch.fx, stopping at single layers (a conv with its norm and
    activation is one node), or with ``coarse`` at its direct children."""
    class Tracer(torch.fx.Tracer):
        def is_leaf_module(self, m, qualname):
            return m is not module and (not list(m.children()) or _single_layer(m) is not None
                                        or (coarse and "." not in qualname))
    return torch.fx.GraphModule(module, Tracer().trace(module))


def _merge(n) -> str:
    """'concat', 'add' or 'multiply' for an fx node that merges two or more tensors, else ''."""
    if n.op not in ("call_function", "call_method"):
        return ""
    name = n.target if isinstance(n.target, str) else getattr(n.target, "__name__", "")
    return MERGES.get(name, "") if len([a for a in n.all_input_nodes if a.op != "get_attr"]) > 1 else ""


def _marks(module) -> str:
    """A block's mark: "×" when it gates channels, "‖" when it concatenates, "+" when it adds;
    "" when it merges nothing or torch.fx cannot trace it."""
    try:
        merges = {_merge(n) for n in _trace(module).graph.nodes}
    except Exception:  # noqa: BLE001 - whatever torch.fx raises, the block just gets no mark
        return ""
    return "".join(s for k, s in SYMBOLS.items() if k in merges)


def _meta_shape(n) -> tuple:
    meta = n.meta.get("tensor_meta")
    return tuple(meta.shape[1:]) if hasattr(meta, "shape") else ()


def _dataflow(module, x, coarse=False):
    """The drawn nodes of a block (its input, layers and merges) in topological order, and the
    edges between them; what keeps the shape (activations, normalisation) is passed through."""
    from torch.fx.passes.shape_prop import ShapeProp

    gm = _trace(module, coarse)
    with ar._EvalMode(module), torch.no_grad():
        ShapeProp(gm).propagate(x)
    nodes, src, edges = [], {}, []
    for n in gm.graph.nodes:
        preds = set().union(*[src.get(a, set()) for a in n.all_input_nodes])
        box, shape = None, _meta_shape(n)
        in_shape = _meta_shape(n.all_input_nodes[0]) if n.all_input_nodes else ()
        layer = (module.get_submodule(n.target) if n.op == "call_module" else
                 _FUNCTIONAL[n.target](*n.args[1:], **n.kwargs)  # F.avg_pool2d(x, 3, 1, 1)
                 if n.op == "call_function" and n.target in _FUNCTIONAL else None)
        if n.op == "placeholder" and not nodes:
            box = _Box(["input"], "", shape, "input")
        elif layer is not None:
            layer = _single_layer(layer) or layer
            kind = _kind(layer, in_shape, shape)
            box = kind and _Box([_short(str(n.target) if n.op == "call_module" else n.name)],
                                _op(layer, in_shape, shape), shape, kind)
        elif _merge(n):
            box = _Box([_merge(n)], _merge(n), shape, "merge")
        if box:
            target = str(n.target)  # a module called twice: its second node by fx's name
            unique = n.op == "call_module" and all(target != o.names[0] for o in nodes)
            box.names = [target if unique else n.name]
            nodes.append(box)
            edges += [(p, box.names[0]) for p in sorted(preds)]
            src[n] = {box.names[0]}
        else:
            src[n] = preds
    return nodes, edges


def _components(seg, edges) -> list[list]:
    """The weakly connected parts of ``seg`` (the parallel branches), in the order of ``seg``."""
    parts, linked = [], set(edges) | {(v, u) for u, v in edges}
    for n in seg:
        touching = [p for p in parts if any((m, n) in linked for m in p)]
        parts = [p for p in parts if p not in touching] + [sum(touching, []) + [n]]
    return sorted((sorted(p, key=seg.index) for p in parts), key=lambda p: seg.index(p[0]))


def _series(inner, a, b, edges, nested=False) -> list:
    """The series-parallel structure of the nodes ``inner`` (topological order) between ``a``
    and ``b``: node names and ("par", branches, identity, a, b) groups. A node that every path
    passes through (no edge jumps over it) cuts the series; between cuts, the nodes fall into
    parallel branches. Dataflow that is not series-parallel (DenseNet's block: every layer
    feeds every later one) becomes ("dense", names, sources): the nodes in order, the edges
    that skip ahead on one lane per source."""
    order = {n: i for i, n in enumerate([a, *inner, b])}
    own = [(u, v) for u, v in edges if u in order and v in order
           and (u in inner or v in inner or not nested)]  # a→b itself: the parent's shortcut
    cuts = {n for n in inner if not any(order[u] < order[n] < order[v] for u, v in own)}
    if nested and not cuts and len(inner) > 1:
        follows = dict(zip([a, *inner], [*inner, b]))
        return [("dense", list(inner),
                 [u for u in [a, *inner] if any(x == u and y != follows[u] for x, y in own)])]
    out, prev, seg = [], a, []
    for n in [*inner, b]:
        if n in cuts or n == b:
            if seg:
                branches = [_series(c, prev, n, edges, True) for c in _components(seg, edges)]
                out.append(("par", branches, (prev, n) in edges, prev, n))
            out += [n] if n != b else []
            prev, seg = n, []
        else:
            seg.append(n)
    return out


def _structure(nodes, edges) -> list:
    names = [n.names[0] for n in nodes]
    return names if len(names) < 2 else [names[0], *_series(names[1:-1], names[0], names[-1],
                                                                edges), names[-1]]


def _dense(tree) -> bool:
    return any(isinstance(e, tuple) and (e[0] == "dense" or any(_dense(b) for b in e[1]))
               for e in tree)


# --- drawing -------------------------------------------------------------------------------------

def _tint(colour, amount: float):
    """``colour`` mixed with white (``amount`` > 0) or with black (< 0)."""
    t = abs(amount)
    return tuple(c + (1 - c) * t if amount > 0 else c * (1 - t) for c in to_rgb(colour))


def _solid(shape) -> tuple[float, float, float]:
    """(thickness, height, depth) in inches of the box of a tensor, log-scaled so that 6 and
    512 channels, a 227-pixel input and a 6-pixel map all read; a vector is a thin bar."""
    shape = tuple(shape)
    if len(shape) >= 2:
        edge = [0.1 + 0.095 * math.log2(max(s, 1)) for s in shape[1:3]]
        return 0.04 + 0.02 * math.log2(max(shape[0], 1)), edge[0], 0.35 * edge[-1]
    return 0.06, 0.1 + 0.08 * math.log2(max(shape[0] if shape else 1, 1)), 0.03


def _cuboid(ax, x, yc, shape, colour, gid, mark):
    """One box (front, top and side faces) centred on the height ``yc``, left edge at ``x``."""
    t, h, d = _solid(shape)
    y0, y1 = yc - (h + d) / 2, yc + (h - d) / 2   # the front face's bottom and top
    style = dict(edgecolor=_tint(colour, -0.45), linewidth=0.6)
    for points, shade in (([(x, y0), (x + t, y0), (x + t, y1), (x, y1)], 0.45),
                          ([(x, y1), (x + t, y1), (x + t + d, y1 + d), (x + d, y1 + d)], 0.7),
                          ([(x + t, y0), (x + t + d, y0 + d), (x + t + d, y1 + d), (x + t, y1)], 0.2)):
        face = ax.add_patch(Polygon(points, facecolor=_tint(colour, shade), **style))
        face.set_gid(gid if shade == 0.45 else None)
    if mark:  # one symbol a line, so that thin boxes side by side keep theirs apart
        ax.text(x + t / 2, y0 + h / 2, "\n".join(mark), ha="center", va="center", fontsize=7.5,
                fontweight="bold", color="#222222", linespacing=1.0)


def _draw_box(ax, box, cx, yc, top=None, bottom=None):
    """A box (or run, or merge) centred at (cx, yc), its title and operation above it (or at
    ``top``), its output size below it (or at ``bottom``)."""
    gw, gh = box.geometry()
    top = yc + gh / 2 + 0.04 if top is None else top
    bottom = yc - gh / 2 - 0.04 if bottom is None else bottom
    if box.kind == "merge":
        circle = ax.add_patch(Circle((cx, yc), 0.12, facecolor="white", edgecolor="#222222",
                                     linewidth=0.9, zorder=3))
        circle.set_gid(f"merge:{box.op}:{box.inputs}")
        ax.text(cx, yc, SYMBOLS[box.op], ha="center", va="center", fontsize=9,
                fontweight="bold", zorder=4)
        lines = [(bottom, box.op, "bold"), (bottom - LINE, shape_text(box.shape), "normal")]
    else:
        colour = COLOURS[box.marks[0][:1] or "block"] if box.kind == "block" else COLOURS[box.kind]
        names = box.names if len(box.names) == len(box.marks) else box.names[:1] * len(box.marks)
        for j, (name, mark) in enumerate(zip(names, box.marks)):
            _cuboid(ax, cx - gw / 2 + j * box.step(), yc, box.shape, colour, f"box:{name}", mark)
        lines = [(top + LINE, box.title, "bold"), (top, box.op, "normal"),
                 (bottom, shape_text(box.shape), "normal")]
    for y, text, weight in lines:
        if text:
            ax.text(cx, y, text, ha="center", va="bottom" if y >= top else "top",
                    fontsize=FONT, fontweight=weight)


def _arrow(ax, points):
    ax.add_patch(FancyArrowPatch(path=Path(points), arrowstyle="-|>", mutation_scale=6,
                                 linewidth=0.8, color="#444444", shrinkA=0, shrinkB=0))


def _canvas(w, title, body_h, boxes, extra=()):
    """A closed figure ``w`` inches wide whose axes measure inches, with the title on top and
    the key (for what ``boxes`` show, plus ``extra``) at the bottom; returns it, its axes and
    the top of the space left for the drawing."""
    ops = " ".join(b.op for b in boxes)
    marks = [MARK_WORDS[m] for m in MARK_WORDS if any(m in mk for b in boxes for mk in b.marks)]
    lines, extra = [], [*(v for k, v in SUFFIXES.items() if re.search(k, ops)), ", ".join(marks), *extra]
    for part in (*KEY, *(e for e in extra if e)):  # the key, on as few lines as fit
        if lines and _width(lines[-1] + "; " + part, FOOT) <= w - 2 * MARGIN:
            lines[-1] += "; " + part
        else:
            lines.append(part)
    h = 0.3 + body_h + len(lines) * LINE + 0.1
    fig, axes = figure(figsize=(w, h))
    fig.set_layout_engine("none")
    ax = axes[0, 0]
    ax.set_position([0, 0, 1, 1])
    ax.set(xlim=(0, w), ylim=(0, h))
    ax.set_axis_off()
    ax.text(MARGIN, h - 0.08, title, fontsize=TITLE, va="top")
    for i, line in enumerate(reversed(lines)):
        ax.text(MARGIN, 0.06 + i * LINE, line, fontsize=FOOT, color="#555555", va="bottom")
    return fig, ax, h - 0.3


# --- the whole network: a row of boxes -----------------------------------------------------------

def _layer_box(name, m, in_shape, out_shape):
    kind = _kind(m, in_shape, out_shape)
    if kind is None:
        return None
    last = name.split(".")[-1]
    title = last if last and not last.isdigit() else {"other": type(m).__name__}.get(kind, kind)
    return _Box([title], _op(m, in_shape, out_shape), tuple(out_shape), kind, [""], [name])


def _boxes(model, s, input_shape, spec) -> list[_Box]:
    """The overview's boxes, from the summary's rows (``spec`` None) or its blocks; runs of
    boxes of the same size and operation become one column."""
    modules = dict(model.named_modules())
    boxes = [_Box(["input"], "", tuple(input_shape), "input", [""], ["input"])]
    for r in (s.rows if spec is None else s.blocks(None if spec is True else spec).grouped):
        m = modules.get(r.name if r.children else r.module)
        if not r.out_shape or m is None:
            continue
        in_shape = next((c.in_shape for c in r.children if c.in_shape), ()) if r.children else r.in_shape
        layer = _single_layer(m) if r.children else m
        box = (_layer_box(r.name, layer, in_shape, r.out_shape) if layer is not None else
               _Box([_short(r.name)], _op(m, (), ()), tuple(r.out_shape), "block", [_marks(m)],
                    [r.name]))
        prev = boxes[-1]
        if (box and prev.kind == box.kind != "input" and (prev.shape, prev.op) == (box.shape, box.op)
                and (box.kind == "block" or prev.titles[-1] == box.titles[0])):
            prev.titles, prev.marks, prev.names = (prev.titles + box.titles, prev.marks + box.marks,
                                                   prev.names + box.names)
        elif box:
            boxes.append(box)
    return boxes


def _wrap(widths, avail) -> list[list[int]]:
    """The columns split into rows no wider than ``avail`` inches, as even as the widths allow."""
    total = sum(widths) + GAP * (len(widths) - 1)
    n = max(1, math.ceil(total / avail))
    start = max(max(widths), total / n)
    for limit in [start + (avail - start) * k / 10 for k in range(11)]:
        rows, w = [[]], 0.0
        for i, wd in enumerate(widths):
            if rows[-1] and w + GAP + wd > limit:
                rows.append([])
            w = wd if not rows[-1] else w + GAP + wd
            rows[-1].append(i)
        if len(rows) <= n:
            break
    return rows


def _draw_row(boxes, title, max_width, notes=()):
    """The overview: boxes left to right, wrapped into rows at ``max_width`` inches, labels
    aligned along each row."""
    widths = [b.width() for b in boxes]
    rows = _wrap(widths, max_width - 2 * MARGIN)
    heights = [max(boxes[i].geometry()[1] for i in r) for r in rows]
    w = min(max_width, 2 * MARGIN + max(_width(title, TITLE), *(
        sum(widths[i] for i in r) + GAP * (len(r) - 1) for r in rows)))
    row_h = [gh + 3 * LINE + 0.26 for gh in heights]
    fig, ax, top = _canvas(w, title, sum(row_h), boxes, notes)
    for k, (r, gh) in enumerate(zip(rows, heights)):
        yc = top - 2 * LINE - 0.06 - gh / 2
        x = MARGIN
        for i in r:
            _draw_box(ax, boxes[i], x + widths[i] / 2, yc, yc + gh / 2 + 0.04, yc - gh / 2 - 0.04)
            x += widths[i] + GAP
        if k < len(rows) - 1:  # the network goes on in the next row
            _arrow(ax, [(x - GAP + 0.02, yc), (w - 0.02, yc)])
        if k > 0:
            _arrow(ax, [(0.02, yc), (MARGIN - 0.02, yc)])
        top -= row_h[k]
    return fig


# --- one block: branches in lanes ----------------------------------------------------------------

def _measure(el, info) -> tuple[float, float, float]:
    """(width, up, down) of a node name, a series (list) or a group."""
    if isinstance(el, str):
        return info[el].extent()
    if isinstance(el, list):
        sizes = [_measure(e, info) for e in el] or [(0.0, 0.0, 0.0)]
        return (sum(s[0] for s in sizes) + HGAP * (len(sizes) - 1),
                max(s[1] for s in sizes), max(s[2] for s in sizes))
    if el[0] == "dense":
        w, up, down = _measure(el[1], info)
        return w, up + 0.06 + 0.07 * len(el[2]), down
    lanes, centres, anchor = _lanes(el, info)
    total = centres[-1] + lanes[-1][2] if lanes else 0.0
    return max(_measure(b, info)[0] for b, _, _ in lanes), anchor, total - anchor


def _lanes(group, info):
    """The lanes of a parallel group, top to bottom, as (branch, up, down); the distance from
    the group's top to each lane's centre; and to the group's centre line, which runs along a
    residual's main branch (its shortcut above), a gate's identity (the gate branch above), or
    through the middle (Inception's branches)."""
    _, branches, identity, _, b = group
    merge = info[b].op if info[b].kind == "merge" else ""
    if merge == "add":
        branches = sorted(branches, key=lambda br: -len(br))
    lanes = [(br, *_measure(br, info)[1:]) for br in branches]
    shortcut = ([], 0.06, 0.06)
    lanes = (lanes + [shortcut] if merge == "multiply" else [shortcut] + lanes) if identity else lanes
    centres, top = [], 0.0
    for _, up, down in lanes:
        centres.append(top + up)
        top += up + down + VGAP
    middle = (centres[-1] + lanes[-1][2]) / 2
    anchor = (centres[-1] if merge == "multiply" else centres[1]) if identity else middle
    return lanes, centres, anchor


def _place(el, x, y, info, pos, routes):
    """``pos[name] = (left, right, y)`` of each node's column; ``routes[(a, b)]``: the height
    of a shortcut's lane; ``routes[a]``: that of the lane of a's edges that skip ahead."""
    if isinstance(el, str):
        pos[el] = (x, x + info[el].width(), y)
    elif isinstance(el, list):
        for e in el:
            _place(e, x, y, info, pos, routes)
            x += _measure(e, info)[0] + HGAP
    elif el[0] == "dense":
        _place(el[1], x, y, info, pos, routes)
        top = y + _measure(el[1], info)[1] + 0.06
        routes.update({u: top + 0.07 * k for k, u in enumerate(el[2])})
    else:
        lanes, centres, anchor = _lanes(el, info)
        for (branch, _, _), c in zip(lanes, centres):
            if branch:
                _place(branch, x, y - (c - anchor), info, pos, routes)
            else:
                routes[(el[3], el[4])] = y - (c - anchor)


def _edge_path(u, v, info, pos, routes, fork, skip):
    """One edge as a polyline: straight along a lane, bent in the gaps between columns (near
    the fork, or near the join); a shortcut, or an edge that skips nodes, runs on its own lane."""
    (lu, ru, yu), (lv, rv, yv) = pos[u], pos[v]
    depth = 0 if info[u].kind == "merge" else _solid(info[u].shape)[2]  # into the side face
    a = ((lu + ru + info[u].geometry()[0] - depth) / 2, yu)
    b = ((lv + rv - info[v].geometry()[0]) / 2, yv)
    xa, xb = ru + HGAP / 2, lv - HGAP / 2
    lane = routes.get((u, v), routes.get(u) if skip else None)
    if lane is not None and lane != yu:
        return [a, (xa, yu), (xa, lane), (xb, lane), (xb, yv), b]
    if yu == yv:
        return [a, b]
    return [a, (xa if fork else xb, yu), (xa if fork else xb, yv), b]


def _draw_block(nodes, edges, title, note=""):
    """One block: its nodes in lanes, every edge of the dataflow, merges as circles."""
    info = {n.names[0]: n for n in nodes}
    for n in nodes:
        n.inputs = sum(v == n.names[0] for _, v in edges)
    tree = _structure(nodes, edges)
    w, up, down = _measure(tree, info)
    fig_w = max(w, _width(title, TITLE)) + 2 * MARGIN
    fig, ax, top = _canvas(fig_w, title, up + down, nodes, [note])
    pos, routes = {}, {}
    _place(tree, MARGIN, top - up, info, pos, routes)
    for u, v in edges:
        skip = any(pos[u][0] < p[0] < pos[v][0] and p[2] == pos[u][2] for p in pos.values())
        fork = sum(e[0] == u for e in edges) > 1
        _arrow(ax, _edge_path(u, v, info, pos, routes, fork, skip))
    for name, (left, right, y) in pos.items():
        _draw_box(ax, info[name], (left + right) / 2, y)
    return fig


# --- the public functions ------------------------------------------------------------------------

def architecture(model: nn.Module, input_size, *, blocks=None, expand: str | None = None,
                 max_width: float = 7.0, title: str | None = None):
    """A diagram of ``model`` for one input of ``input_size`` (e.g. ``(3, 227, 227)``, no batch
    dimension), drawn from the forward pass that ``utils.arithmetic.summary`` records.

    ``blocks``: None chooses one box per block when the network has blocks that merge branches
    (residual, Inception, dense, gated), else one box per layer; True forces the block view (the
    usual blocks of ``Summary.blocks``), False the layer view; a list of classes or names goes
    to ``Summary.blocks``. ``expand``: the qualified name of one block to draw alone, with its
    branches (see :func:`block`). ``max_width``: inches; a longer network wraps into rows.
    Returns a matplotlib figure, closed in pyplot.
    """
    x = ar._example_input(model, input_size)
    s = ar.summary(model, x, verify=False)
    if expand is not None:
        m = dict(model.named_modules()).get(expand)
        first = next((r for r in s.rows if f"{r.module}.".startswith(f"{expand}.")), None)
        if m is None or first is None:
            raise KeyError(f"architecture: no block named {expand!r} ran; the blocks are "
                           f"{', '.join(r.name for r in s.blocks().grouped if r.children)}")
        return block(m, first.in_shape, max_width=max_width, title=title or (
            f"{expand} of {type(model).__name__} ({type(m).__name__}), "
            f"input {shape_text(first.in_shape)}"))
    shape = tuple(x.shape[1:])
    boxes = _boxes(model, s, shape, None if blocks is False else (blocks or True))
    if blocks is None and not any(b.kind == "block" and any(b.marks) for b in boxes):
        boxes = _boxes(model, s, shape, None)  # nothing branches: one box per layer reads best
    per_block = any(b.kind == "block" for b in boxes)
    return _draw_row(boxes, title or f"{type(model).__name__}, input {shape_text(shape)}"
                     + (": one box per block" * per_block), max_width)


def block(module: nn.Module, input_size, *, max_width: float = 7.0, title: str | None = None):
    """One block (an Inception module, a residual block, an MBConv, a dense block) for an input
    of ``input_size`` (no batch dimension, e.g. ``(192, 28, 28)``): its branches side by side,
    each layer a box with its operation and output, and the merge (concat "‖", sum "+", channel
    gate "×") drawn as a circle. The dataflow comes from ``torch.fx``; a block it cannot trace
    is drawn as its layers in the order they run (``max_width`` then wraps them), with a note.
    """
    x = ar._example_input(module, input_size)
    head = title or f"{type(module).__name__.strip('_')}, input {shape_text(x.shape[1:])}"
    try:
        nodes, edges = _dataflow(module, x)
    except Exception as e:  # noqa: BLE001 - torch.fx raises many kinds of errors
        why = (str(e).strip().splitlines() or [type(e).__name__])[0][:80]
        boxes = _boxes(module, ar.summary(module, x, verify=False), tuple(x.shape[1:]), None)
        return _draw_row(boxes, head, max_width, [f"torch.fx cannot trace this block ({why}): "
                                                  f"its layers in the order they run"])
    note = ""
    if _dense(_structure(nodes, edges)):  # every layer feeds every later one: a box per layer
        nodes, edges = _dataflow(module, x, coarse=True)
        note = "every layer reads the outputs of all the layers before it (the arrows into it)"
    return _draw_block(nodes, edges, head, note)
