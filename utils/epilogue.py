"""The epilogue's table: the course's networks side by side, checked against the chapters' records.

``chapters/16_epilogue.ipynb`` builds one network per chapter from ``utils.layers`` and counts it
with the course's counter; this module holds what the table needs besides the networks:

- ``Records``: the chapters' ``results/<chapter>.json`` (read by ``utils.results.read_results``)
  with ``check_size`` (the computed parameters and multiply-adds must equal the ones the chapter
  recorded), ``headline`` (the paper's top-1/top-5 error of the chapter's network and the table
  it comes from) and ``number`` (any number a record stores, by its path of keys). A chapter
  whose record does not exist yet can be given its numbers in ``awaited``: they are used until
  the record exists and from then on must equal it (an ``AssertionError`` says which differs),
  so a typed number cannot drift from the chapter's own.
- ``times``, ``points``: how two networks compare ("÷5.41", "×2.27", "−2.75").
- Figures, with ``utils.plot``'s label placement: ``errors_by_year`` (the leaderboard's bubble
  chart, ``plot.imagenet_errors``, for all fifteen ImageNet networks), ``errors_by_macs``,
  ``params_by_year`` and ``memory`` (one image's activations against the weights).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import matplotlib.pyplot as plt

from utils import plot
from utils.results import is_number, read_results, result_value
from utils.style import PALETTE, STYLE, figure

#: Chapters whose records store the paper's *accuracy* (``top1``, ``top5``): the path of the
#: row of the chapter's own network (MobileNetV2's Table 4 lists MobileNetV1 first), read here
#: whatever headline ``utils.results`` picks for them.
HEADLINE_ACCURACY = {"mobilenet": "table_6_width/1.0", "mobilenet_v2": "table_4/MobileNetV2",
                     "efficientnet": "table_2_icml/B0"}


def lookup(tree: dict, path: str):
    """The number stored at ``path`` ("table_3/ResNet-50 (1×64d)/top1_error") in a record's
    ``reference["paper"]``, with the nearest ``source`` above it (or a sibling
    ``<first key>_source``, as chapter 9 stores it): ``(value, source)``. KeyError if absent."""
    keys, node, source = path.split("/"), tree, None
    if isinstance(tree.get(f"{keys[0]}_source"), str):
        source = tree[f"{keys[0]}_source"]
    for k in keys:
        if isinstance(node, dict) and isinstance(node.get("source"), str):
            source = node["source"]
        if not isinstance(node, dict) or k not in node:
            raise KeyError(f"no {k!r} in the record at {path!r}")
        node = node[k]
    if not is_number(node):
        raise KeyError(f"{path!r} holds {node!r}, not a number")
    return node, source


def _value(entry):
    """An awaited entry is a number or ``(number, source)``."""
    return entry[0] if isinstance(entry, tuple) else entry


def error_from_accuracy(accuracy: float) -> float:
    """100 − accuracy, without the float noise (70.6 -> 29.4)."""
    return round(100.0 - accuracy, 4)


def short_source(source: str | None) -> str:
    """"Table 2 (ILSVRC-2012 validation set, one CNN)" -> "Table 2"; "§4.2, Table 4" -> "Table 4";
    a record's key "table_3/BN-Inception" -> "Table 3"; None when it names no table or figure."""
    m = re.search(r"\b(table|figure|fig\.)[\s_]*(\d+)", source or "", flags=re.IGNORECASE)
    if not m:
        return None
    return f"{'Table' if m.group(1).lower() == 'table' else 'Figure'} {m.group(2)}"


@dataclass
class Size:
    """What ``Records.check_size`` found: ``checked`` is True when a record was compared."""
    checked: bool
    words: str


class Records:
    """The chapters' records, as ``utils.results.read_results`` reads them (``chapters``, or read
    from ``results_dir``), with ``awaited``: ``{chapter: {path: number}}`` for chapters whose
    record does not exist yet (numbers as the record will store them, under the same paths; a
    number may come with the table it is from, ``(70.6, "Table 6")``)."""

    def __init__(self, chapters=None, *, awaited=None, results_dir=None):
        chapters = read_results(results_dir) if chapters is None else chapters
        self.chapters = {c["chapter"]: c for c in chapters}
        self.awaited = awaited or {}

    def exists(self, key: str) -> bool:
        return key in self.chapters

    def number(self, key: str, path: str, *, optional: bool = False):
        """``(value, source)`` stored at ``path`` in chapter ``key``'s ``reference["paper"]``; from
        ``awaited`` while the record does not exist or holds no paper's numbers yet (a run records
        itself before its chapter records the references), with the source given there, else
        None; and checked against the record once it holds them. ``optional``: ``(None, None)`` instead of KeyError when the number is absent."""
        typed = self.awaited.get(key, {})
        paper = (self.chapters[key]["reference"].get("paper") or {}) if key in self.chapters else {}
        if paper:
            try:
                value, source = lookup(paper, path)
            except KeyError:
                if optional and path not in typed:
                    return None, None
                raise
            if path in typed and _value(typed[path]) != value:
                raise AssertionError(f"{key}: the record stores {value} at {path!r}, the epilogue "
                                     f"typed {_value(typed[path])}: correct the epilogue's number")
            return value, source
        if path in typed:
            entry = typed[path]
            return (entry if isinstance(entry, tuple) else (entry, None))
        if optional:
            return None, None
        raise KeyError(f"results/{key}.json does not exist and no number is awaited for {path!r}")

    def check_size(self, key: str, params: int, macs: int) -> Size:
        """Compare a network's computed parameters and multiply-adds with those its chapter
        recorded (``reference["imagenet"]``, or the paper's network for LeNet-5): equal, or an
        AssertionError. A chapter of ``awaited`` whose record does not exist, or holds no sizes
        yet, is not checked, and says so; any other chapter without them is an AssertionError."""
        net = self.chapters[key]["network"] if key in self.chapters else None
        if not net:
            if key not in self.awaited:
                raise AssertionError(f"results/{key}.json does not exist or records no network size")
            if key not in self.chapters:
                return Size(False, f"results/{key}.json not written yet: not checked")
            return Size(False, f"results/{key}.json holds no reference numbers yet: not checked")
        stored = (net["params"], net["macs"])
        if stored != (params, macs):
            raise AssertionError(f"{key}: computed {params:,} parameters and {macs:,} multiply-adds,"
                                 f" the chapter recorded {stored[0]:,} and {stored[1]:,}")
        return Size(True, f"equal to results/{key}.json")

    def headline(self, key: str) -> dict:
        """The paper's error for the chapter's network: ``{"top1", "top5", "source", "note"}``
        (errors in %, None where the paper gives none): the ``utils.results`` headline, except for
        the chapters of ``HEADLINE_ACCURACY``: 100 − the accuracy stored in their network's row;
        ``note`` says why there is none (no ImageNet result in the paper, another task)."""
        c = self.chapters.get(key)
        if c is not None and c["headline"] and key not in HEADLINE_ACCURACY:
            h = c["headline"]
            source = h["source"]
            if source is None:
                paper = c["reference"].get("paper") or {}
                source = paper.get(f"{h['keys'][0]}_source")
            return {"top1": result_value(h, "top-1"), "top5": result_value(h, "top-5"),
                    "source": source, "note": None}
        if key in HEADLINE_ACCURACY:
            path = HEADLINE_ACCURACY[key]
            top1, source = self.number(key, f"{path}/top1")
            top5, _ = self.number(key, f"{path}/top5", optional=True)
            return {"top1": error_from_accuracy(top1),
                    "top5": None if top5 is None else error_from_accuracy(top5),
                    "source": source, "note": None}
        note = c["note"] if c is not None else None
        if c is not None and not note:
            task = (c["reference"].get("paper") or {}).get("task")
            note = f"no ImageNet result: {task.split(',')[0]}" if isinstance(task, str) else None
        return {"top1": None, "top5": None, "source": None,
                "note": note or "no ImageNet result recorded"}


# ------------------------------------------------------------------------------ comparisons

def times(new: float, old: float) -> str:
    """How ``new`` compares with ``old`` as a factor: "×2.27" (more) or "÷5.41" (fewer)."""
    if new <= 0 or old <= 0:
        raise ValueError("times() compares positive numbers")
    r = new / old
    sign, r = ("×", r) if r >= 1 else ("÷", 1 / r)
    if r >= 100:
        return f"{sign}{r:,.0f}"
    return f"{sign}{r:.4f}" if r < 1.01 else f"{sign}{r:.3g}"


def points(new: float | None, old: float | None) -> str:
    """An error's change in percentage points: "−2.75", "+1.97"; "–" when either is missing."""
    if new is None or old is None:
        return "–"
    d = round(new - old, 2)
    text = f"{abs(d):.2f}"
    return f"{'+' if d > 0 else '−' if d < 0 else '±'}{text[:-1] if text.endswith('0') else text}"


# ------------------------------------------------------------------------------ figures

#: The figures' size: narrower than the page's column, so that on a phone the text shrinks less.
WIDTH, FONT = 6.4, 8.5
_TICKS = [(1e5, "0.1 M"), (1e6, "1 M"), (1e7, "10 M"), (1e8, "100 M"), (3e8, "0.3 G"),
          (1e9, "1 G"), (3e9, "3 G"), (1e10, "10 G"), (3e10, "30 G")]


def _spread(rows, width: float = 0.24) -> dict:
    """An x position per row: its year, networks of the same year side by side in the table's
    order (``width`` apart), so that their points and labels do not sit on one another."""
    x = {}
    for year in {r["year"] for r in rows}:
        same = [r for r in rows if r["year"] == year]
        for i, r in enumerate(same):
            x[r["key"]] = year + (i - (len(same) - 1) / 2) * width
    return x


def _si_axis(axis, lo: float, hi: float) -> None:
    """Log-scale ticks in words (0.3 G, 1 G, 3 G ...) between ``lo`` and ``hi``."""
    ticks = [(v, t) for v, t in _TICKS if lo <= v <= hi]
    axis.set_ticks([v for v, _ in ticks], [t for _, t in ticks])
    axis.set_minor_locator(plt.NullLocator())


def _year_axis(ax, years) -> None:
    ax.set_xlim(min(years) - 0.6, max(years) + (1.7 if len(set(years)) > 1 else 0.6))  # room for labels
    ax.set_xticks(range(min(years), max(years) + 1))
    ax.tick_params(axis="x", labelrotation=90)


def errors_by_year(rows):
    """The papers' ImageNet top-1 error (above) and top-5 error (below) against the year, one
    bubble per network, its area proportional to the parameters (as the leaderboard's
    ``plot.imagenet_errors``); networks of one year side by side. ``rows``: dicts with ``key``,
    ``name``, ``year``, ``params``, ``imagenet``, ``top1`` and ``top5`` (None where the paper
    gives none)."""
    shown = [r for r in rows if r["imagenet"]]
    x = _spread(shown)
    fig, axes = figure(2, 1, figsize=(WIDTH, 9.0), sharex=True)
    area = 5.0   # points² per million parameters
    jobs = []
    with plt.rc_context(STYLE):
        for ax, (metric, key) in zip(axes[:, 0], (("top-1", "top1"), ("top-5", "top5"))):
            pts = [r for r in shown if r[key] is not None]
            ax.scatter([x[r["key"]] for r in pts], [r[key] for r in pts],
                       s=[area * r["params"] / 1e6 for r in pts], color=PALETTE[0], alpha=0.55,
                       edgecolors="black", linewidths=0.6, zorder=3)
            lo, hi = min(r[key] for r in pts), max(r[key] for r in pts)
            ax.set_ylim(max(0.0, lo - 0.25 * (hi - lo)), hi + 0.15 * (hi - lo))
            ax.set_ylabel(f"ImageNet {metric} error (%)")
            ax.set_title(f"{metric} error ({len(pts)} networks)", fontsize=FONT + 1)
            _year_axis(ax, [r["year"] for r in shown])
            jobs.append((ax, [{"x": x[r["key"]], "y": r[key], "text": f"{r['name']} {r[key]}",
                               "r": (area * r["params"] / 1e6 / math.pi) ** 0.5} for r in pts]))
        axes[1, 0].set_xlabel("year of the paper (bubble area: parameters)")
        for ax, labels in jobs:   # last, once the layout is settled (see plot.imagenet_errors)
            plot._place_labels(ax, labels, fontsize=FONT)
    return fig


def _label(row) -> str:
    return f"{row['name']} ({row['year']})"


def errors_by_macs(rows):
    """Top-1 error (above) and top-5 error (below) against multiply-adds per image, log scale:
    which networks bought their accuracy with computation, and which did not."""
    shown = [r for r in rows if r["imagenet"]]
    fig, axes = figure(2, 1, figsize=(WIDTH, 9.0), sharex=True)
    jobs = []
    with plt.rc_context(STYLE):
        lo, hi = min(r["macs"] for r in shown) / 2, max(r["macs"] for r in shown) * 2.5
        for ax, (metric, key) in zip(axes[:, 0], (("top-1", "top1"), ("top-5", "top5"))):
            pts = [r for r in shown if r[key] is not None]
            ax.set_xscale("log")
            ax.set_xlim(lo, hi)
            ax.scatter([r["macs"] for r in pts], [r[key] for r in pts], s=30, color=PALETTE[0],
                       edgecolors="black", linewidths=0.6, zorder=3)
            e_lo, e_hi = min(r[key] for r in pts), max(r[key] for r in pts)
            ax.set_ylim(e_lo - 0.1 * (e_hi - e_lo) - 0.5, e_hi + 0.1 * (e_hi - e_lo) + 0.5)
            ax.set_ylabel(f"ImageNet {metric} error (%)")
            ax.set_title(f"{metric} error ({len(pts)} networks)", fontsize=FONT + 1)
            jobs.append((ax, [{"x": r["macs"], "y": r[key], "r": 3.0, "text": _label(r)}
                              for r in pts]))
        _si_axis(axes[1, 0].xaxis, lo, hi)
        axes[1, 0].set_xlabel("multiply-adds per image (log scale)")
        for ax, labels in jobs:
            plot._place_labels(ax, labels, fontsize=FONT)
    return fig


def params_by_year(rows):
    """Parameters against the year (log scale), every network of the table; LeNet-5 (1998), if
    there, on a broken axis of its own."""
    early = [r for r in rows if r["year"] < 2010]
    late = [r for r in rows if r["year"] >= 2010]
    x = _spread(rows)
    fig, axes = figure(1, 2, figsize=(WIDTH, 6.4), sharey=True,
                       gridspec_kw={"width_ratios": [1, 7]} if early else None)
    jobs = []
    with plt.rc_context(STYLE):
        ps = [r["params"] for r in rows]
        for ax, group, sep in zip(axes[0], (early, late), ("\n", "")):   # narrow axis: 2 lines
            ax.set_yscale("log")
            ax.set_ylim(min(ps) / 3, max(ps) * 3)
            ax.scatter([x[r["key"]] for r in group], [r["params"] for r in group], s=30,
                       color=PALETTE[1], edgecolors="black", linewidths=0.6, zorder=3)
            _year_axis(ax, [r["year"] for r in group] or [2000])
            jobs.append((ax, [{"x": x[r["key"]], "y": r["params"], "r": 3.0,
                               "text": f"{r['name']}{sep} {plot._si(r['params'])}"}
                              for r in group]))
        _si_axis(axes[0, 0].yaxis, min(ps) / 3, min(max(ps) * 3, 2e8))
        axes[0, 0].set_ylabel("parameters (log scale)")
        axes[0, -1].set_xlabel("year of the paper")
        if early:
            axes[0, 1].spines["left"].set_visible(False)
            axes[0, 1].tick_params(axis="y", left=False)
        for ax, labels in jobs:
            plot._place_labels(ax, labels, fontsize=FONT)
    return fig


def memory(rows):
    """Activation memory for one image against weight memory (fp32), both log scale, with the
    line where the two are equal: where the memory of training goes, network by network
    (the ImageNet networks only)."""
    shown = [r for r in rows if r["imagenet"]]
    fig, axes = figure(figsize=(WIDTH, 5.6))
    ax = axes[0, 0]
    with plt.rc_context(STYLE):
        w = [r["weight_bytes"] / 1e6 for r in shown]
        a = [r["activation_bytes"] / 1e6 for r in shown]
        lo, hi = min(w + a) / 2, max(w + a) * 2
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.plot([lo, hi], [lo, hi], color="0.6", linewidth=1.0, zorder=1)
        ax.text(hi / 1.15, lo * 1.15, "below the line: the weights take more\nmemory than "
                "one image's activations", fontsize=FONT, color="0.35", ha="right", va="bottom")
        ax.scatter(w, a, s=30, color=PALETTE[2], edgecolors="black", linewidths=0.6, zorder=3)
        for axis in (ax.xaxis, ax.yaxis):
            ticks = [t for t in (10, 30, 100, 300) if lo <= t <= hi]
            axis.set_ticks(ticks, [str(t) for t in ticks])
            axis.set_minor_locator(plt.NullLocator())
        ax.set_xlabel("weights, MB (fp32)")
        ax.set_ylabel("activations kept for the backward pass, MB per image")
        plot._place_labels(ax, [{"x": x, "y": y, "r": 3.0, "text": r["name"]}
                                for x, y, r in zip(w, a, shown)],
                           fontsize=FONT, lines=[[(lo, lo), (hi, hi)]])
    return fig
