"""The course's figures, in one look: training curves, images with labels, confusion matrices,
filters, feature maps, and the comparison across chapters.

Every function returns a matplotlib ``Figure`` that is already closed in pyplot, so a notebook
shows it exactly once: when it is the last expression of a cell (or passed to ``display``).
``fig = plot.curves(...)`` alone shows nothing; ``fig.savefig(...)`` works as usual. The look
(colour-blind-safe palette, sizes for the book's page width) is applied to every figure made
here, whether or not ``use_style()`` was called; ``use_style()`` applies it to your own figures too.
"""

from __future__ import annotations

import json
import math
import re
import textwrap
from pathlib import Path

import matplotlib.pyplot as plt
import torch

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


def _module(model, layer):
    if isinstance(layer, str):
        modules = dict(model.named_modules())
        if layer not in modules:
            raise KeyError(f"feature_maps: no layer named {layer!r}; the model's layers are "
                           f"{', '.join(n for n in modules if n)}")
        return modules[layer]
    return layer


def feature_maps(model, layer, image, n: int = 16, cols: int = 8):
    """The first ``n`` channels that ``layer`` (a module or its name) produces for one image.

    ``image``: [3, H, W], uint8 (normalised here with the CIFAR-10 mean and std) or an already
    normalised float tensor. The input image is drawn first, then the maps.
    """
    module = _module(model, layer)
    x = image.detach()
    if x.dtype == torch.uint8:
        from utils import data
        mean = torch.tensor(data.CIFAR10_MEAN).view(3, 1, 1)
        std = torch.tensor(data.CIFAR10_STD).view(3, 1, 1)
        x = (x.float() / 255 - mean) / std
    param = next(model.parameters())
    x = x.to(param.device, param.dtype).unsqueeze(0)
    got = {}
    handle = module.register_forward_hook(lambda m, i, o: got.setdefault("out", o))
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(x)
    finally:
        handle.remove()
        model.train(was_training)
    maps = got["out"][0].float().cpu()
    n = min(n, maps.shape[0])
    rows = math.ceil((n + 1) / cols)
    fig, axes = _figure(rows, cols, figsize=(cols * 0.9, rows * 1.0))
    with plt.rc_context(STYLE):
        for i, ax in enumerate(axes.flat):
            ax.axis("off")
            if i == 0:
                ax.imshow(_to_rgb(image), interpolation="nearest")
                ax.set_title("input", fontsize=8)
            elif i <= n:
                ax.imshow(maps[i - 1].numpy(), cmap="viridis", interpolation="nearest")
                ax.set_title(f"{i - 1}", fontsize=7)
            else:
                fig.delaxes(ax)
        name = (f"layer '{layer}' ({type(module).__name__})" if isinstance(layer, str)
                else type(module).__name__)
        fig.suptitle(f"{name}: {n} of {maps.shape[0]} channels, "
                     f"{maps.shape[1]}\u00d7{maps.shape[2]}", fontsize=9)
    return fig


# ----------------------------------------------------------------- the results files, read once

REPO = Path(__file__).resolve().parent.parent

#: Which of a paper's results stands for the chapter's network in the comparison figures and in
#: the leaderboard's reference table: one network, on the ImageNet validation set, in the
#: configuration the chapter builds. A path of keys into the record's ``reference["paper"]``;
#: a chapter not listed here is represented by the first ImageNet top-1/top-5 result it records.
HEADLINE = {"alexnet": "ilsvrc2012_one_cnn", "zfnet": "one_convnet",
            "vgg": "table_3_single_scale/D"}

_TOPK_KEY = re.compile(r"top([15])_error(?:_(val|test))?(?:_(\w+))?")
_TOPK_NAME = re.compile(r"[,;]?\s*\b(?:(val|validation|test)\s+)?(top-1/top-5|top-1|top-5)\s*$")
_SPLITS = {"val": "validation", "validation": "validation", "test": "test"}
_WORDS = ((r"\bilsvrc[ -]?(\d{4})\b", r"ILSVRC-\1"), (r"\bcifar[ -]?10\b", "CIFAR-10"),
          (r"\bcnn(s?)\b", r"CNN\1"), (r"\btop([15])\b", r"top-\1"), (r"\bpercent\b", ""),
          (r"\bval\b", "validation"))


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _words(key: str) -> str:
    """A record's key in words: ``ilsvrc2012_one_cnn`` -> "ILSVRC-2012 one CNN"."""
    text = key.replace("_", " ")
    for pattern, repl in _WORDS:
        text = re.sub(pattern, repl, text)
    return re.sub(r"\s+", " ", text).strip()


def paper_results(paper) -> list[dict]:
    """The error rates in a record's ``reference["paper"]``, in the order they are stored.

    Each is ``{"keys", "path", "what", "values", "source", "imagenet"}``: ``keys`` the keys that
    lead to it, ``path`` the same joined by "/" ("table_3_single_scale/D"), ``what`` in words,
    ``source`` the nearest ``source`` above it (the paper's table), ``values`` a list of ``{"metric", "split", "qualifier",
    "value"}`` (metric "top-1", "top-5" or "error"; split "validation", "test" or None; value in
    %). ``imagenet`` is True for top-1/top-5 classification errors and False for other errors
    (MNIST, CIFAR-10). Three shapes are read: keys such as ``top5_error_val`` side by side, a
    ``value`` whose name ends in "val top-1/top-5" or "test top-5", and numbers under a key that
    contains "error". Anything else (sizes, hardware, notes) is not a result.
    """
    found = []

    def add(path, what, values, source, imagenet):
        found.append({"keys": list(path), "path": "/".join(path), "what": what, "values": values,
                      "source": source, "imagenet": imagenet})

    def walk(node, path, source):
        source = node.get("source", source) if isinstance(node.get("source"), str) else source
        topk = [(k, v) for k, v in node.items() if _TOPK_KEY.fullmatch(k) and _is_number(v)]
        if topk:
            values = []
            for k, v in topk:
                m = _TOPK_KEY.fullmatch(k)
                values.append({"metric": f"top-{m.group(1)}", "split": _SPLITS.get(m.group(2)),
                               "qualifier": m.group(3) and m.group(3).replace("_", " "),
                               "value": v})
            add(path, _words(" ".join(path)), values, source, True)
            return
        if "value" in node and path:
            m = _TOPK_NAME.search(path[-1])
            raw = node["value"] if isinstance(node["value"], list) else [node["value"]]
            metrics = m.group(2).split("/") if m else []
            if m and len(raw) == len(metrics) and all(_is_number(v) for v in raw):
                add(path, path[-1][:m.start()].strip(" ,;"),
                    [{"metric": mt, "split": _SPLITS.get(m.group(1)), "qualifier": None,
                      "value": v} for mt, v in zip(metrics, raw)], source, True)
            return
        if path and "error" in path[-1]:
            nums = [(k, v) for k, v in node.items() if _is_number(v)]
            if nums:
                add(path, _words(path[-1]), [{"metric": "error", "split": None,
                                              "qualifier": _words(k), "value": v}
                                             for k, v in nums], source, False)
                return
        for k, v in node.items():
            if isinstance(v, dict):
                walk(v, path + [k], source)
            elif "error" in k and _is_number(v):
                add(path + [k], _words(k), [{"metric": "error", "split": None, "qualifier": None,
                                              "value": v}], source, False)

    if isinstance(paper, dict):
        walk(paper, [], None)
    return found


def result_value(result: dict | None, metric: str):
    """A result's top-1 or top-5 error in %, validation set first; None when it has none."""
    if not result:
        return None
    order = {"validation": 0, None: 1, "test": 2}
    values = sorted((v for v in result["values"] if v["metric"] == metric and not v["qualifier"]),
                    key=lambda v: order.get(v["split"], 3))
    return values[0]["value"] if values else None


def chapter_pages(chapters_dir=None) -> dict[str, dict]:
    """The book's chapters, from the notebooks' file names and first headings:
    ``{"alexnet": {"number": 1, "page": "chapters/01_alexnet", "name": "AlexNet", "year": 2012}}``.
    """
    chapters_dir = Path(chapters_dir) if chapters_dir is not None else REPO / "chapters"
    pages = {}
    for nb in sorted(chapters_dir.glob("*.ipynb")):
        m = re.fullmatch(r"(\d+)_(.+)", nb.stem)
        if not m:
            continue
        name, year = m.group(2), None
        try:
            cells = json.loads(nb.read_text(encoding="utf-8")).get("cells", [])
        except (OSError, ValueError):
            cells = []
        for cell in cells:
            heading = re.search(r"^# +(.+?)\s*$", "".join(cell.get("source", [])), re.MULTILINE)
            if cell.get("cell_type") == "markdown" and heading:
                titled = re.match(r"(.+?)\s*\((\d{4})\)", heading.group(1))
                name, year = ((titled.group(1), int(titled.group(2))) if titled
                              else (heading.group(1), None))
                break
        pages[m.group(2)] = {"number": int(m.group(1)), "page": f"chapters/{nb.stem}",
                             "name": name, "year": year}
    return pages


def _latest(runs) -> list[dict]:
    """The most recent record of each (run, budget), full budget first, runs in recorded order."""
    latest, first_seen = {}, {}
    for i, rec in enumerate(runs):
        key = (rec.get("run", "?"), rec.get("budget", "?"))
        latest[key] = rec
        first_seen.setdefault(key[0], i)
    budgets = {"full": 0, "cpu": 1}
    return [latest[k] for k in sorted(latest, key=lambda k: (first_seen[k[0]],
                                                             budgets.get(k[1], 9)))]


def read_results(results_dir=None, chapters_dir=None) -> list[dict]:
    """Every ``<results_dir>/<chapter>.json``, in the book's order: the one reader of the results
    files, used by the figures here and by ``scripts/leaderboard.py``.

    ``results_dir`` defaults to ``train.results_dir()``, ``chapters_dir`` to the repository's
    ``chapters/`` (the notebooks give each chapter its number, page, name and year). Each item
    holds ``chapter`` (the file's stem), ``number``, ``page``, ``name``, ``year`` (None for a file
    without a notebook), ``reference`` and ``runs`` as stored, and, worked out from them:

    - ``latest``: the latest record of each (run, budget), full budget first;
    - ``network``: the network as its paper describes it, ``{"name", "params", "macs",
      "imagenet"}``, from ``reference["imagenet"]`` or else the paper's own configuration
      (``imagenet`` says which); None when neither gives a size;
    - ``results``: the paper's error rates (``paper_results``);
    - ``headline``: the one of them that stands for the network (``HEADLINE``), or None;
    - ``note``: what the record says instead of an ImageNet result ("no ImageNet result in the
      paper"), or None.

    A file that is not valid JSON raises ValueError, naming it.
    """
    if results_dir is None:
        from utils import train
        results_dir = train.results_dir()
    pages = chapter_pages(chapters_dir)
    chapters = []
    for path in sorted(Path(results_dir).glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as e:
            raise ValueError(f"{path.name} is not valid JSON: {e}") from None
        if not isinstance(data, dict):
            raise ValueError(f"{path.name}: expected an object with 'reference' and 'runs'")
        key = path.stem
        page = pages.get(key, {"number": None, "page": None, "name": key, "year": None})
        ref = data.get("reference") or {}
        paper = ref.get("paper") if isinstance(ref.get("paper"), dict) else {}
        net = ref.get("imagenet") if isinstance(ref.get("imagenet"), dict) else {}
        if _is_number(net.get("params")):
            network = {"name": net.get("network"), "params": net["params"],
                       "macs": net.get("macs"), "imagenet": True}
        elif _is_number(paper.get("params")):
            network = {"name": paper.get("configuration"), "params": paper["params"],
                       "macs": paper.get("macs"), "imagenet": False}
        else:
            network = None
        results = paper_results(paper)
        imagenet = [r for r in results if r["imagenet"]]
        wanted = HEADLINE.get(key)
        headline = next((r for r in imagenet if r["path"] == wanted), None) if wanted else None
        headline = headline or (imagenet[0] if imagenet else None)
        note = paper.get("imagenet") if isinstance(paper.get("imagenet"), str) else None
        chapters.append({"chapter": key, **page, "reference": ref,
                         "runs": list(data.get("runs") or []),
                         "latest": _latest(data.get("runs") or []), "network": network,
                         "results": results, "headline": headline, "note": note})
    return sorted(chapters, key=lambda c: (c["number"] is None, c["number"] or 0, c["chapter"]))


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


def _place_labels(ax, labels, *, fontsize: float = 7.5, gap: float = 3.0, lines=()):
    """Write each label next to its point where it overlaps no other label, point or line and
    stays inside the axes: a simple, deterministic de-overlap.

    ``labels``: dicts with ``x``, ``y`` (data), ``text``, optional ``r`` (the point's radius in
    points), ``prefer`` (indices into ``_AROUND`` to try first) and ``color``. ``lines``: lists
    of (x, y) vertices of lines drawn on the axes, which labels should not cross either. Each
    label, in order, takes the first free position of its preference list, next to its point;
    failing that, the first free one a little farther out, joined to its point by a thin line;
    failing that, the least crowded of all. A label is kept a few points clear of the other
    labels' points, so that it cannot be read as theirs. Returns the annotations.
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
        for a0, b0, a1, b1 in placed + fixed + others:
            w, h = min(box.x1, a1) - max(box.x0, a0), min(box.y1, b1) - max(box.y0, b0)
            if w > 0 and h > 0:
                c += w * h
        outside = ((max(0, frame.x0 - box.x0) + max(0, box.x1 - frame.x1)) * box.height
                   + (max(0, frame.y0 - box.y0) + max(0, box.y1 - frame.y1)) * box.width)
        return c + 4 * outside

    def offset(r, reach, slide, i):
        """Where candidate ``i`` of ``_AROUND`` puts the text, in points from a point of radius
        ``r`` (plus the gap): ``reach`` rings out, slid ``slide`` points across its direction."""
        dx, dy, _, _ = _AROUND[i]
        x, y = dx * (r + (reach - 1) * 8), dy * (r + (reach - 1) * 6)
        return (x, y + slide) if dy == 0 else (x + slide, y) if dx == 0 else (x, y + slide)

    for me, lab in enumerate(labels):
        r = lab.get("r", 3.0) + gap
        prefer = list(lab.get("prefer", ()))
        order = prefer + [i for i in range(len(_AROUND)) if i not in prefer]
        candidates = sorted(((reach, slide, i) for reach in (1.0, 2.6, 4.5)
                             for slide in (0, 5, -5, 10, -10, 16, -16) for i in order),
                            key=lambda c: (c[0], abs(c[1]), order.index(c[2])))
        ann = ax.annotate(lab["text"], (lab["x"], lab["y"]), xytext=(0, 0),
                          textcoords="offset points", fontsize=fontsize,
                          color=lab.get("color", "black"), annotation_clip=False)
        ann.set_in_layout(False)
        best = None
        for reach, slide, i in candidates:
            ann.xyann = offset(r, reach, slide, i)
            ann.set_horizontalalignment(_AROUND[i][2])
            ann.set_verticalalignment(_AROUND[i][3])
            box = ann.get_window_extent(renderer)
            c = cost(box, me)
            if best is None or c < best[0]:
                best = (c, (reach, slide, i), box)
            if c == 0:
                break
        c, (reach, slide, i), box = best
        ha, va = _AROUND[i][2:]
        ann.remove()
        joined = reach > 1 or abs(slide) > 5  # farther out: a thin line joins label and point
        ann = ax.annotate(lab["text"], (lab["x"], lab["y"]), xytext=offset(r, reach, slide, i),
                          textcoords="offset points", fontsize=fontsize, ha=ha, va=va,
                          color=lab.get("color", "black"), annotation_clip=False,
                          arrowprops=dict(arrowstyle="-", color="0.55", linewidth=0.6,
                                          shrinkA=1, shrinkB=lab.get("r", 3.0) + 0.5)
                          if joined else None)
        ann.set_in_layout(False)
        placed.append((box.x0 - 1, box.y0 - 1, box.x1 + 1, box.y1 + 1))
        out.append(ann)
    return out


# ----------------------------------------------------------------- the papers' ImageNet numbers

def imagenet_errors(results_dir=None, *, chapters=None):
    """The papers' ImageNet error against the year, one bubble per chapter network, its area
    proportional to the network's parameters: top-1 error on the left, top-5 on the right.

    Each bubble is the chapter's headline result (``HEADLINE``: one network, on the validation
    set). A chapter whose record has only one of top-1 and top-5 appears only in that panel;
    chapters without an ImageNet result are named under the panels. ``chapters``: what
    ``read_results`` returned (read from ``results_dir`` when None).
    """
    if chapters is None:
        chapters = read_results(results_dir)
    shown = [c for c in chapters if c["headline"] and c["network"] and c["network"]["imagenet"]
             and c["year"]]
    missing = [c for c in chapters if c not in shown]
    fig, axes = _figure(1, 2, figsize=(7.0, 3.7), sharex=True)
    with plt.rc_context(STYLE):
        area = 6.0  # points² per million parameters
        years = [c["year"] for c in shown] or [2012]
        for ax, metric in zip(axes[0], ("top-1", "top-5")):
            pts = [(c, result_value(c["headline"], metric)) for c in shown]
            pts = [(c, v) for c, v in pts if v is not None]
            ax.set_title(f"{metric} error", fontsize=9)
            ax.set_xlabel("year of the paper")
            ax.set_ylabel(f"ImageNet {metric} error (%)")
            ax.set_xlim(min(years) - 0.7, max(years) + 0.7)
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
            _place_labels(ax, [{"x": c["year"], "y": v, "prefer": (0, 2),
                                "r": math.sqrt(area * c["network"]["params"] / 1e6 / math.pi),
                                "text": f"{c['name']}: {v:g}%\n"
                                        f"{_si(c['network']['params'])} parameters"}
                               for c, v in pts])
        fig.suptitle("The papers' ImageNet error, one network per paper, on the validation set "
                     "(bubble area = parameters)", fontsize=9)
        if missing:
            def reason(c):
                task = (c["reference"].get("paper") or {}).get("task")
                return c["note"] or ("no ImageNet result; its paper's task: " + task.split(",")[0]
                                     if isinstance(task, str) else "no ImageNet result recorded")
            why = "; ".join(f"{c['name']} ({reason(c)})" for c in missing)
            fig.supxlabel(textwrap.fill(f"Not drawn: {why}.", 125), fontsize=7.5, color="0.3")
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
    ``chapter_pages`` returns (default: the repository's); a row whose chapter is there is drawn
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


def _best_runs(chapters) -> list[dict]:
    """One point per chapter and budget (full, cpu): of the latest record of each of the
    chapter's runs, the one with the highest best test accuracy, plus ``chapter`` and ``name``.

    ``chapters``: what ``read_results`` returned (records of other budgets are left out).
    """
    points = []
    for c in chapters:
        best = {}
        for r in c["latest"]:
            b = r.get("budget")
            if b not in ("cpu", "full") or not _is_number(r.get("best_test_acc")):
                continue
            if b not in best or r["best_test_acc"] > best[b]["best_test_acc"]:
                best[b] = r
        points += [{**best[b], "chapter": c["chapter"], "name": c["name"]}
                   for b in ("full", "cpu") if b in best]
    return points


#: The two budgets' panels in ``compare``: never ranked together.
BUDGET_PANELS = {
    "full": dict(marker="o", colour=PALETTE[0],
                 title="full budget: a GPU, all 50,000 training images"),
    "cpu": dict(marker="s", colour=PALETTE[1],
                title="cpu budget: a laptop run on a subset"),
}


def _seen(p) -> str:
    """How much data a run saw: "100k images seen\n(10k × 10 epochs)"."""
    if _is_number(p.get("train_images")) and _is_number(p.get("epochs")):
        return (f"{_si(p['train_images'] * p['epochs'])} images seen\n"
                f"({_si(p['train_images'])} × {p['epochs']} epochs)")
    return "images seen: not recorded"


def compare(results_dir=None, x: str = "params", *, chapters=None):
    """CIFAR-10 test accuracy against parameters or multiply-adds (log scale), one point per
    chapter and budget (its best run, ``_best_runs``).

    The budgets train on different amounts of data, so they are drawn in separate panels and
    never ranked together: left the ``full`` runs (a GPU, the whole training set), right the
    ``cpu`` runs (a laptop-class processor, a subset for a few epochs). Every point says how many
    images its run saw (training images × epochs). A budget without runs leaves its panel saying
    so. ``chapters``: what ``read_results`` returned (read from ``results_dir``, default
    ``train.results_dir()``, when None).
    """
    if x not in ("params", "macs"):
        raise ValueError(f"x={x!r}: use 'params' or 'macs'")
    if chapters is None:
        chapters = read_results(results_dir)
    points = [p for p in _best_runs(chapters) if _is_number(p.get(x))]
    fig, axes = _figure(1, 2, figsize=(7.0, 3.6), sharex=True)
    with plt.rc_context(STYLE):
        xs = [p[x] for p in points] or [1e5, 1e8]
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
            _place_labels(ax, [{"x": p[x], "y": 100 * p["best_test_acc"], "r": 3.0,
                                "text": f"{p['name']} {100 * p['best_test_acc']:.1f}%\n"
                                        + (_seen(p) if budget == "cpu" else
                                           f"{p.get('epochs', '?')} epochs")}
                               for p in ps], fontsize=7)
    return fig


# --- network diagrams: utils/diagram.py, drawn from the model's own forward pass ------------------
from utils.diagram import architecture, block  # noqa: E402,F401  (plot.architecture, plot.block)
