"""The course's figures, in one look: training curves, images with labels, confusion matrices,
filters, and the comparison across chapters (from the results files, which ``utils.results``
reads).

Every function returns a matplotlib ``Figure`` that is already closed in pyplot, so a notebook
shows it exactly once: when it is the last expression of a cell (or passed to ``display``).
``fig = plot.curves(...)`` alone shows nothing; ``fig.savefig(...)`` works as usual. The look
(colour-blind-safe palette, sizes for the book's page width) is applied to every figure made
here, whether or not ``use_style()`` was called; ``use_style()`` applies it to your own figures too.
"""

from __future__ import annotations

import math
import textwrap

import matplotlib.pyplot as plt
from matplotlib.transforms import Bbox
import torch

# The results files' reader and schema live in utils.results (plot reads, never writes them).
from utils.results import best_runs, chapter_pages, is_number, read_results, result_value
# The palette (Okabe & Ito, 2008) and STYLE live in utils.style, shared with utils.diagram.
from utils.style import PALETTE, STYLE  # noqa: F401  (plot.PALETTE, plot.STYLE, as before)

WRONG, RIGHT = "#D55E00", "#000000"

METRICS = {
    "train_loss": ("training loss", 1, False), "test_loss": ("test loss", 1, False),
    "train_acc": ("training accuracy (%)", 100, False),
    "test_acc": ("test accuracy (%)", 100, False),
    "train_err": ("training error (%)", 100, True), "test_err": ("test error (%)", 100, True),
}


def use_style() -> None:
    """Apply the course's look (``STYLE``) to every later matplotlib figure of this session."""
    plt.rcParams.update(STYLE)


def _figure(nrows=1, ncols=1, **kw):
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(nrows, ncols, squeeze=False, layout="constrained", **kw)
    plt.close(fig)  # returned, never shown twice
    return fig, axes


def _series(history, metric, x):
    """(x, y) of one metric: per epoch, or against images seen (finer for training metrics)."""
    if metric not in METRICS:
        raise ValueError(f"metric={metric!r}: use one of {', '.join(METRICS)}")
    _, scale, err = METRICS[metric]
    key = metric.replace("_err", "_acc")
    trace = getattr(history, "trace", None)
    if x == "images" and key.startswith("train") and trace:
        xs = [t["images"] for t in trace]
        ys = [t[key] for t in trace]
    else:
        xs, seen = [], 0
        for e in history.epochs:
            seen += e.get("images", 0)
            xs.append(e["epoch"] if x == "epoch" else seen)
        ys = [e[key] for e in history.epochs]
    ys = [scale * ((1 - v) if err else v) for v in ys]
    return xs, ys


def curves(histories: dict, metric: str = "test_acc", ax=None, *, x: str = "epoch",
           target: float | None = None, title: str | None = None):
    """Several runs' curves on one axis: ``histories`` maps a label to a ``train.History``.

    ``metric``: train_loss, test_loss, train_acc, test_acc, train_err or test_err (accuracies
    and errors in %); ``x``: "epoch" or "images" (images seen; training metrics then use the
    points within epochs too). ``target`` draws a horizontal line (e.g. 25 for AlexNet's
    Figure 1, "25% training error").
    """
    if x not in ("epoch", "images"):
        raise ValueError(f"x={x!r}: use 'epoch' or 'images'")
    if ax is None:
        fig, axes = _figure()
        ax = axes[0, 0]
    fig = ax.figure
    with plt.rc_context(STYLE):
        for label, h in histories.items():
            xs, ys = _series(h, metric, x)
            ax.plot(xs, ys, marker="o" if len(xs) < 15 else None, markersize=3, label=label)
        if target is not None:
            ax.axhline(target, color="0.4", linestyle="--", linewidth=1)
        ax.set_xlabel("epoch" if x == "epoch" else "training images seen")
        ax.set_ylabel(METRICS[metric][0])
        if title:
            ax.set_title(title)
        if len(histories) > 1:
            ax.legend()
    return fig


def training(history):
    """One run's loss and accuracy, training and test, against epochs (``fit``'s live figure)."""
    fig, axes = _figure(1, 2)
    (a, b) = axes[0]
    with plt.rc_context(STYLE):
        ep = [e["epoch"] for e in history.epochs]
        for ax, key, scale in ((a, "loss", 1), (b, "acc", 100)):
            ax.plot(ep, [scale * e[f"train_{key}"] for e in history.epochs], marker="o",
                    markersize=3, label="training")
            ax.plot(ep, [scale * e[f"test_{key}"] for e in history.epochs], marker="o",
                    markersize=3, label="test")
            ax.set_xlabel("epoch")
            ax.set_ylabel("loss" if key == "loss" else "accuracy (%)")
            ax.set_xlim(0.5, max(history.budget.epochs, len(ep)) + 0.5)
            ax.xaxis.get_major_locator().set_params(integer=True)
        b.legend()
        fig.suptitle(f"{history.chapter}/{history.run}: {history.budget.name} budget, "
                     f"{history.device_name}", fontsize=10)
    return fig


def _to_rgb(img: torch.Tensor):
    """[3, H, W] uint8 or float -> [H, W, 3] numpy floats in [0, 1] (floats outside [0, 1] are
    rescaled to it)."""
    img = img.detach().cpu()
    if img.dtype == torch.uint8:
        img = img.float() / 255
    elif img.min() < 0 or img.max() > 1:
        img = (img - img.min()) / (img.max() - img.min()).clamp(min=1e-8)
    if img.shape[0] == 1:
        img = img.expand(3, -1, -1)
    return img.permute(1, 2, 0).clamp(0, 1).numpy()


def image_grid(images, labels, classes, predictions=None, n: int = 32, cols: int = 8,
               spread: bool = True):
    """``n`` images with their labels; with ``predictions``, each title is the prediction, in
    red with the true label below it when wrong.

    ``spread=True`` takes ``n`` images evenly spaced through the set (subsets and test sets are
    ordered by class, so this shows every class); ``spread=False`` the first ``n``.
    """
    n = min(n, len(images))
    if spread and n < len(images):
        idx = torch.linspace(0, len(images) - 1, n).round().long()
        images, labels = images[idx], torch.as_tensor(labels)[idx]
        predictions = None if predictions is None else torch.as_tensor(predictions)[idx]
    rows = math.ceil(n / cols)
    fig, axes = _figure(rows, cols, figsize=(cols * 0.95, rows * (1.25 if predictions is None
                                                                   else 1.45)))
    with plt.rc_context(STYLE):
        for i, ax in enumerate(axes.flat):
            ax.axis("off")
            if i >= n:
                fig.delaxes(ax)
                continue
            ax.imshow(_to_rgb(images[i]), interpolation="nearest")
            true = classes[int(labels[i])]
            if predictions is None:
                ax.set_title(true, fontsize=8)
            else:
                pred = classes[int(predictions[i])]
                ok = pred == true
                ax.set_title(pred if ok else f"{pred}\n(true: {true})", fontsize=7.5,
                             color=RIGHT if ok else WRONG)
    return fig


def confusion(cm, classes, *, normalise: bool = True, title: str | None = None):
    """The confusion matrix (rows: true class, columns: predicted), as % of each true class."""
    cm = torch.as_tensor(cm).cpu().float()
    shown = (100 * cm / cm.sum(1, keepdim=True).clamp(min=1) if normalise else cm).numpy()
    fig, axes = _figure(figsize=(5.6, 5.0))
    ax = axes[0, 0]
    with plt.rc_context(STYLE):
        im = ax.imshow(shown, cmap="Blues", vmin=0)
        ax.grid(False)
        k = len(classes)
        ax.set_xticks(range(k), classes, rotation=45, ha="right")
        ax.set_yticks(range(k), classes)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        top = float(shown.max()) or 1
        for i in range(k):
            for j in range(k):
                v = float(shown[i, j])
                ax.text(j, i, f"{v:.0f}", ha="center", va="center", fontsize=7,
                        color="white" if v > 0.6 * top else "black")
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04,
                     label="% of the true class" if normalise else "images")
        if title:
            ax.set_title(title)
    return fig


def filters(weight, cols: int = 16, title: str | None = None):
    """A first layer's filters as small images, each rescaled to [0, 1] on its own.

    ``weight``: a conv layer or its weight [out, in, k, k]; with 3 input channels they show in
    colour, otherwise the mean over input channels in grey.
    """
    w = weight.weight if hasattr(weight, "weight") else weight
    w = w.detach().float().cpu()
    if w.ndim != 4:
        raise ValueError(f"filters: expected a weight [out, in, k, k], got shape {tuple(w.shape)}")
    if w.shape[1] != 3:
        w = w.mean(1, keepdim=True)
    lo = w.amin(dim=(1, 2, 3), keepdim=True)
    hi = w.amax(dim=(1, 2, 3), keepdim=True)
    w = (w - lo) / (hi - lo).clamp(min=1e-8)
    n = w.shape[0]
    cols = min(cols, n)
    rows = math.ceil(n / cols)
    fig, axes = _figure(rows, cols, figsize=(cols * 0.55, rows * 0.55 + (0.3 if title else 0)))
    with plt.rc_context(STYLE):
        for i, ax in enumerate(axes.flat):
            ax.axis("off")
            if i < n:
                ax.imshow(_to_rgb(w[i]), interpolation="nearest")
            else:
                fig.delaxes(ax)
        if title:
            fig.suptitle(title)
        fig.get_layout_engine().set(w_pad=0.01, h_pad=0.01, wspace=0.02, hspace=0.02)
    return fig


# ----------------------------------------------------------------- labels that do not overlap

def _si(n) -> str:
    """A count in a few characters: 61_106 -> "61k", 2_318_954 -> "2.3M", 10_000 -> "10k"."""
    n = float(n)
    for exp, prefix in ((9, "G"), (6, "M"), (3, "k")):
        if abs(n) >= 10 ** exp:
            v = n / 10 ** exp
            return f"{v:.0f}{prefix}" if v >= 10 or v.is_integer() else f"{v:.1f}{prefix}"
    return f"{n:g}"


#: Where a label may go around its point, in order of preference: (dx, dy) in units of the
#: point's radius plus a gap, and the text's alignment.
_AROUND = ((1, 0, "left", "center"), (0, 1, "center", "bottom"), (-1, 0, "right", "center"),
           (0, -1, "center", "top"), (1, 1, "left", "bottom"), (1, -1, "left", "top"),
           (-1, 1, "right", "bottom"), (-1, -1, "right", "top"))


def _renderer(fig):
    fig.draw_without_rendering()  # runs the layout engine: the axes are where they will be saved
    return fig.canvas.get_renderer() if hasattr(fig.canvas, "get_renderer") else fig._get_renderer()


#: What covering another label's point costs, per square pixel, against 1000 for covering its
#: text and 1 for its margin.
_POINT_WEIGHT = 30


def _place_labels(ax, labels, *, fontsize: float = 7.5, gap: float = 3.0, lines=()):
    """Write each label next to its point where it overlaps no other label, point or line and
    stays inside the axes: a simple, deterministic de-overlap.

    ``labels``: dicts with ``x``, ``y`` (data), ``text``, optional ``r`` (the point's radius in
    points), ``prefer`` (indices into ``_AROUND`` to try first) and ``color``. ``lines``: lists
    of (x, y) vertices of lines drawn on the axes, which labels should not cross either. Each
    label, in order, takes the first free position of its preference list, next to its point;
    failing that, the first free one a little farther out, joined to its point by a thin line;
    failing that, the least crowded of all. A label is kept a few points clear of the other
    labels' points, so that it cannot be read as theirs. Then each label that still overlaps
    something looks again, now that the labels after it are placed too (at most two more
    rounds), so that an early label does not keep a place a later point needed. Returns the
    annotations.
    """
    fig = ax.figure
    renderer = _renderer(fig)
    scale = fig.dpi / 72
    frame = ax.get_window_extent(renderer)
    margin = 4 * scale
    own = []  # each label's point, and the same box widened by the margin
    for lab in labels:
        cx, cy = ax.transData.transform((lab["x"], lab["y"]))
        r = lab.get("r", 3.0) * scale
        own.append(((cx - r, cy - r, cx + r, cy + r),
                    (cx - r - margin, cy - r - margin, cx + r + margin, cy + r + margin)))
    fixed = []
    for vertices in lines:  # a line is a row of small boxes along it
        xy = ax.transData.transform(vertices)
        for (x0, y0), (x1, y1) in zip(xy[:-1], xy[1:]):
            n = max(1, int(math.hypot(x1 - x0, y1 - y0) / (2 * scale)))
            fixed += [(x0 + (x1 - x0) * k / n - scale, y0 + (y1 - y0) * k / n - scale,
                       x0 + (x1 - x0) * k / n + scale, y0 + (y1 - y0) * k / n + scale)
                      for k in range(n + 1)]
    placed, out = [], []

    def cost(box, me):
        c = 0.0
        others = [wide if j != me else tight for j, (tight, wide) in enumerate(own)]
        points = [tight for j, (tight, _) in enumerate(own) if j != me]
        weights = [1000] * len(placed) + [1] * (len(fixed) + len(others)) + [_POINT_WEIGHT] * len(points)
        for k, (a0, b0, a1, b1) in enumerate(placed + fixed + others + points):
            w, h = min(box.x1, a1) - max(box.x0, a0), min(box.y1, b1) - max(box.y0, b0)
            if w > 0 and h > 0:   # covering another label is worst: text on text is unreadable;
                c += w * h * weights[k]   # then covering another label's point (not only its margin)
        outside = ((max(0, frame.x0 - box.x0) + max(0, box.x1 - frame.x1)) * box.height
                   + (max(0, frame.y0 - box.y0) + max(0, box.y1 - frame.y1)) * box.width)
        return c + 1000 * outside   # outside the axes is as bad as text on text

    def offset(r, reach, slide, i):
        """Where candidate ``i`` of ``_AROUND`` puts the text, in points from a point of radius
        ``r`` (plus the gap): ``reach`` rings out, slid ``slide`` points across its direction."""
        dx, dy, _, _ = _AROUND[i]
        x, y = dx * (r + (reach - 1) * 8), dy * (r + (reach - 1) * 6)
        return (x, y + slide) if dy == 0 else (x + slide, y) if dx == 0 else (x, y + slide)

    def search(me, ann):
        """The cheapest position for label ``me`` given the labels placed so far."""
        lab = labels[me]
        r = lab.get("r", 3.0) + gap
        prefer = list(lab.get("prefer", ()))
        order = prefer + [i for i in range(len(_AROUND)) if i not in prefer]
        candidates = sorted(((reach, slide, i) for reach in (1.0, 2.6, 4.5, 6.5, 8.5, 11.0)
                             for slide in (0, 5, -5, 10, -10, 16, -16, 24, -24, 34, -34)
                             for i in order),
                            key=lambda c: (c[0], abs(c[1]), order.index(c[2])))
        best = None
        for reach, slide, i in candidates:
            ann.xyann = offset(r, reach, slide, i)
            ann.set_horizontalalignment(_AROUND[i][2])
            ann.set_verticalalignment(_AROUND[i][3])
            box = ann.get_window_extent(renderer)
            if reach > 1 or abs(slide) > 5:   # joined by a line: it takes room too (the box of
                (px, py), = ax.transData.transform([(lab["x"], lab["y"])])  # point and text)
                box = Bbox.union([box, Bbox.from_extents(px - 1, py - 1, px + 1, py + 1)])
            c = cost(box, me)
            if best is None or c < best[0]:
                best = (c, (reach, slide, i), box)
            if c == 0:
                break
        return best

    probes = []
    for lab in labels:
        ann = ax.annotate(lab["text"], (lab["x"], lab["y"]), xytext=(0, 0),
                          textcoords="offset points", fontsize=fontsize,
                          color=lab.get("color", "black"), annotation_clip=False)
        ann.set_in_layout(False)
        probes.append(ann)
    chosen = {}
    for rounds in range(3):   # in order first; then each label again, now that all are placed
        moved = False
        for me in range(len(labels)):
            old = chosen.pop(me, None)
            placed[:] = [(b.x0 - 1, b.y0 - 1, b.x1 + 1, b.y1 + 1) for _, _, b in chosen.values()]
            if old is not None:
                old = (cost(old[2], me),) + old[1:]
            best = search(me, probes[me]) if old is None or old[0] >= 1000 else old
            if old is not None and best[0] >= old[0]:
                best = old
            moved |= old is None or best[1] != old[1]
            chosen[me] = best
        if not moved:
            break
    for ann in probes:
        ann.remove()
    for me, lab in enumerate(labels):
        c, (reach, slide, i), box = chosen[me]
        ha, va = _AROUND[i][2:]
        r = lab.get("r", 3.0) + gap
        joined = reach > 1 or abs(slide) > 5  # farther out: a thin line joins label and point
        ann = ax.annotate(lab["text"], (lab["x"], lab["y"]), xytext=offset(r, reach, slide, i),
                          textcoords="offset points", fontsize=fontsize, ha=ha, va=va,
                          color=lab.get("color", "black"), annotation_clip=False,
                          arrowprops=dict(arrowstyle="-", color="0.55", linewidth=0.6,
                                          shrinkA=1, shrinkB=lab.get("r", 3.0) + 0.5)
                          if joined else None)
        ann.set_in_layout(False)
        out.append(ann)
    return out


# ----------------------------------------------------------------- the papers' ImageNet numbers

def imagenet_errors(results_dir=None, *, chapters=None):
    """The papers' ImageNet error against the year, one bubble per chapter network, its area
    proportional to the network's parameters: top-1 error above, top-5 below.

    Each bubble is the chapter's headline result (``results.HEADLINE``: one network, on the validation
    set). A chapter whose record has only one of top-1 and top-5 appears only in that panel;
    chapters without an ImageNet result are named under the panels. ``chapters``: what
    ``results.read_results`` returned (read from ``results_dir`` when None).
    """
    if chapters is None:
        chapters = read_results(results_dir)
    shown = [c for c in chapters if c["headline"] and c["network"] and c["network"]["imagenet"]
             and c["year"]]
    missing = [c for c in chapters if c not in shown]
    # the panels one above the other, each the page's width: room for a dozen chapters' labels
    fig, axes = _figure(2, 1, figsize=(7.0, 7.0), sharex=True)
    with plt.rc_context(STYLE):
        area = 6.0  # points² per million parameters
        years = [c["year"] for c in shown] or [2012]
        jobs = []
        for ax, metric in zip(axes[:, 0], ("top-1", "top-5")):
            pts = [(c, result_value(c["headline"], metric)) for c in shown]
            pts = [(c, v) for c, v in pts if v is not None]
            ax.set_title(f"{metric} error", fontsize=9)
            ax.set_xlabel("year of the paper")
            ax.set_ylabel(f"ImageNet {metric} error (%)")
            ax.set_xlim(min(years) - 0.7, max(years) + 1.0)   # room for the last year's labels
            ax.set_xticks(range(min(years), max(years) + 1))
            if not pts:
                ax.text(0.5, 0.5, f"no {metric} error recorded", ha="center", va="center",
                        transform=ax.transAxes, color="0.4")
                ax.set_yticks([])
                continue
            ax.scatter([c["year"] for c, _ in pts], [v for _, v in pts],
                       s=[area * c["network"]["params"] / 1e6 for c, _ in pts],
                       color=PALETTE[0], alpha=0.55, edgecolors="black", linewidths=0.6,
                       zorder=3)
            lo, hi = min(v for _, v in pts), max(v for _, v in pts)
            span = max(hi - lo, 4.0)
            ax.set_ylim(max(0.0, lo - 0.45 * span), hi + 0.45 * span)
            # points of the same year take turns, right and left, from the top down: a label
            # beside its own bubble cannot then sit beside a neighbour's
            turn = {id(c): sum(1 for d, w in pts if d["year"] == c["year"] and w > v)
                    for c, v in pts}
            jobs.append((ax, [{"x": c["year"], "y": v,
                               "prefer": (0, 4, 5) if turn[id(c)] % 2 == 0 else (2, 6, 7),
                               "r": math.sqrt(area * c["network"]["params"] / 1e6 / math.pi),
                               "text": f"{c['name']}: {v:g}%\n"
                                       f"{_si(c['network']['params'])} parameters"}
                              for c, v in pts]))
        fig.suptitle("The papers' ImageNet error, one network per paper, on the validation set "
                     "(bubble area = parameters)", fontsize=9)
        if missing:
            def reason(c):
                task = (c["reference"].get("paper") or {}).get("task")
                return c["note"] or ("no ImageNet result; its paper's task: " + task.split(",")[0]
                                     if isinstance(task, str) else "no ImageNet result recorded")
            why = "; ".join(f"{c['name']} ({reason(c)})" for c in missing)
            fig.supxlabel(textwrap.fill(f"Not drawn: {why}.", 125), fontsize=7.5, color="0.3")
        # labels last, once every title is in place: the layout engine must not move the axes
        # after the labels were fitted between the bubbles
        for ax, labels in jobs:
            _place_labels(ax, labels, fontsize=7.5 if len(labels) <= 6 else 6.5)
    return fig


# ----------------------------------------------------------------- the ILSVRC timeline

#: The kinds of row in ``book/figure-data/ilsvrc.csv`` and how the timeline draws them.
ILSVRC_KINDS = {
    "winner": dict(marker="o", face="black", label="winner, provided training data"),
    "winner-extra-data": dict(marker="o", face="white", label="winner, with extra training data"),
    "runner-up": dict(marker="s", face="0.6", label="second place"),
    "paper": dict(marker="D", face="0.6", label="the paper's own result"),
    "no-result": dict(marker=None, face=None, label=None),
}


def ilsvrc_timeline(rows, chapters=None):
    """The ImageNet challenge's winning top-5 classification error year by year, each winner
    named, with the course's networks marked.

    ``rows``: dicts with ``year``, ``kind`` (a key of ``ILSVRC_KINDS``), ``team``, ``network``,
    ``top5_error`` (the number as written, "16.4", or "" for none) and ``chapter`` (the chapter
    that rebuilds the network, or ""), as in ``book/figure-data/ilsvrc.csv``. ``chapters``: what
    ``results.chapter_pages`` returns (default: the repository's); a row whose chapter is there is drawn
    in the chapters' colour and labelled with its number.
    """
    chapters = chapter_pages() if chapters is None else chapters
    fig, axes = _figure(figsize=(7.0, 4.0))
    ax = axes[0, 0]
    chapter_colour = PALETTE[1]

    def chapter(row):
        c = chapters.get(row.get("chapter") or "")
        return f"ch. {c['number']}" if c else ""

    def tag(row):
        return f" ({chapter(row)})" if chapter(row) else ""

    with plt.rc_context(STYLE):
        numbered = [r for r in rows if r.get("top5_error") not in (None, "")]
        winners = sorted((r for r in numbered if r["kind"] == "winner"), key=lambda r: r["year"])
        ax.plot([r["year"] for r in winners], [float(r["top5_error"]) for r in winners],
                color="black", linewidth=1.2, zorder=2)
        labels = []
        for kind, how in ILSVRC_KINDS.items():
            group = [r for r in numbered if r["kind"] == kind]
            if not group or how["marker"] is None:
                continue
            faces = [chapter_colour if tag(r) and kind != "winner-extra-data" else how["face"]
                     for r in group]
            ax.scatter([r["year"] for r in group], [float(r["top5_error"]) for r in group],
                       marker=how["marker"], s=36, c=faces, edgecolors="black", linewidths=0.8,
                       zorder=4)
            ax.scatter([], [], marker=how["marker"], s=36, c=how["face"], edgecolors="black",
                       linewidths=0.8, label=how["label"])
            for r in group:
                if kind == "winner-extra-data":  # said in the winner's label
                    continue
                who = r["team"] or r["network"]
                also = [n for n in (r["network"] if r["team"] and r["network"] != r["team"]
                                    else "", chapter(r)) if n]
                who += f" ({', '.join(also)})" if also else ""
                extra = [e["top5_error"] for e in numbered if e["kind"] == "winner-extra-data"
                         and e["year"] == r["year"] and e["team"] == r["team"]]
                text = {
                    "winner": f"{who}\n{r['top5_error']}%" + "".join(
                        f", {e}% with extra data" for e in extra),
                    "runner-up": f"2nd: {who}, {r['top5_error']}%",
                    "paper": f"{r['network']} paper{tag(r)}: {r['top5_error']}%",
                }[kind]
                prefer = {"winner": (1, 0), "runner-up": (0, 2), "paper": (0, 2)}[kind]
                labels.append({"x": r["year"], "y": float(r["top5_error"]), "text": text,
                               "r": 3.5, "prefer": prefer,
                               "color": chapter_colour if tag(r) else "black"})
        ax.scatter([], [], marker="o", s=36, c=chapter_colour, edgecolors="black",
                   linewidths=0.8, label="a network the course rebuilds (ch. = chapter)")
        years = [r["year"] for r in rows]
        ax.set_xlim(min(years) - 0.5, max(years) + 0.6)
        ax.set_xticks(range(min(years), max(years) + 1))
        ax.set_ylim(0, max(float(r["top5_error"]) for r in numbered) * 1.18)
        ax.set_xlabel("ILSVRC year")
        ax.set_ylabel("top-5 classification error (%)")
        ax.legend(loc="upper right", fontsize=7.5, markerscale=0.9)
        ax.text(0.99, 0.56, "1,000 classes, about 1.2 million training images;\n"
                "error on the challenge's test set",
                transform=ax.transAxes, ha="right", va="top", fontsize=7.5, color="0.3")
        for r in rows:  # a network without a number: named at the bottom of its year
            if r["kind"] == "no-result":
                labels.append({"x": r["year"], "y": 0, "r": 0, "prefer": (1,),
                               "text": f"{r['network']}{tag(r)}:\n{r['note'] or 'no result'}",
                               "color": chapter_colour if tag(r) else "0.3"})
        _place_labels(ax, labels, lines=[[(r["year"], float(r["top5_error"])) for r in winners]])
    return fig


#: The two budgets' panels in ``compare``: never ranked together.
BUDGET_PANELS = {
    "full": dict(marker="o", colour=PALETTE[0],
                 title="full budget: a GPU, all 50,000 training images"),
    "cpu": dict(marker="s", colour=PALETTE[1],
                title="cpu budget: a laptop run on a subset"),
}


def _seen(p) -> str:
    """How much data a run saw: "100k images seen\n(10k × 10 epochs)"."""
    if is_number(p.get("train_images")) and is_number(p.get("epochs")):
        return (f"{_si(p['train_images'] * p['epochs'])} images seen\n"
                f"({_si(p['train_images'])} × {p['epochs']} epochs)")
    return "images seen: not recorded"


def compare(results_dir=None, x: str = "params", *, chapters=None):
    """CIFAR-10 test accuracy against parameters or multiply-adds (log scale), one point per
    chapter and budget (its best run, ``results.best_runs``).

    The budgets train on different amounts of data, so they are drawn in separate panels and
    never ranked together: left the ``full`` runs (a GPU, the whole training set), right the
    ``cpu`` runs (a laptop-class processor, a subset for a few epochs). Every point says how many
    images its run saw (training images × epochs). A budget without runs leaves its panel saying
    so. ``chapters``: what ``results.read_results`` returned (read from ``results_dir``, default
    ``results.results_dir()``, when None).
    """
    if x not in ("params", "macs"):
        raise ValueError(f"x={x!r}: use 'params' or 'macs'")
    if chapters is None:
        chapters = read_results(results_dir)
    points = [p for p in best_runs(chapters) if is_number(p.get(x))]
    fig, axes = _figure(1, 2, figsize=(7.0, 6.0), sharex=True)
    with plt.rc_context(STYLE):
        xs = [p[x] for p in points] or [1e5, 1e8]
        jobs = []
        for ax, (budget, how) in zip(axes[0], BUDGET_PANELS.items()):
            ax.set_xscale("log")
            ax.set_xlim(min(xs) / 4, max(xs) * 4)
            ax.set_title(how["title"], fontsize=9)
            ax.set_xlabel("parameters" if x == "params" else "multiply-adds per 32×32 image")
            ps = [p for p in points if p["budget"] == budget]
            if not ps:
                ax.text(0.5, 0.5, f"no {budget}-budget run recorded yet", ha="center",
                        va="center", transform=ax.transAxes, color="0.4")
                ax.set_yticks([])
                ax.grid(False)
                continue
            ax.set_ylabel("best CIFAR-10 test accuracy (%)")
            accs = [100 * p["best_test_acc"] for p in ps]
            ax.scatter([p[x] for p in ps], accs, marker=how["marker"], s=30,
                       color=how["colour"], edgecolors="black", linewidths=0.5, zorder=3)
            lo, hi = min(accs), max(accs)
            span = max(hi - lo, 10.0)
            ax.set_ylim(max(0.0, lo - 0.3 * span), min(100.0, hi + 0.3 * span))
            jobs.append((ax, [{"x": p[x], "y": 100 * p["best_test_acc"], "r": 3.0,
                               "text": f"{p['name']} {100 * p['best_test_acc']:.1f}%\n"
                                       + (_seen(p) if budget == "cpu" else
                                          f"{p.get('epochs', '?')} epochs")}
                              for p in ps]))
        for ax, labels in jobs:   # last, when both panels are laid out (see imagenet_errors)
            _place_labels(ax, labels, fontsize=7 if len(labels) <= 6 else 6)
    return fig


# --- network diagrams: utils/diagram.py, drawn from the model's own forward pass ------------------
from utils.diagram import architecture, block  # noqa: E402,F401  (plot.architecture, plot.block)
