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
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import torch

# Okabe & Ito (2008): eight colours that stay distinct for the common forms of colour blindness.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"]
WRONG, RIGHT = "#D55E00", "#000000"

STYLE = {
    "figure.figsize": (7.0, 3.6),  # the book's text column, at a readable font size
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "savefig.bbox": "tight",
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.prop_cycle": matplotlib.cycler(color=PALETTE),
    "legend.frameon": False,
    "lines.linewidth": 1.8,
    "image.cmap": "viridis",
}

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


def _best_runs(results_dir):
    """One point per chapter and budget: its best run (highest best test accuracy)."""
    points = []
    for path in sorted(Path(results_dir).glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        best = {}
        for r in data.get("runs", []):
            if r.get("budget") not in ("cpu", "full") or r.get("best_test_acc") is None:
                continue
            b = r["budget"]
            if b not in best or r["best_test_acc"] > best[b]["best_test_acc"]:
                best[b] = r
        for b, r in best.items():
            points.append({"chapter": data.get("chapter", path.stem), **r})
    return points


def compare(results_dir=None, x: str = "params"):
    """Accuracy against parameters or MACs across chapters (log scale), bubble area ~ wall time.

    Reads every ``results/<chapter>.json`` (default: ``train.results_dir()``); one point per
    chapter and budget (its best run). Budgets differ in data and epochs, so they get different
    markers: compare points of the same budget only.
    """
    if x not in ("params", "macs"):
        raise ValueError(f"x={x!r}: use 'params' or 'macs'")
    if results_dir is None:
        from utils import train
        results_dir = train.results_dir()
    points = [p for p in _best_runs(results_dir) if p.get(x)]
    fig, axes = _figure(figsize=(7.0, 4.2))
    ax = axes[0, 0]
    with plt.rc_context(STYLE):
        if not points:
            ax.text(0.5, 0.5, "no cpu or full runs recorded yet", ha="center", va="center",
                    transform=ax.transAxes)
            ax.set_axis_off()
            return fig
        longest = max(p.get("wall_seconds") or 1 for p in points)
        for budget, marker, colour in (("full", "o", PALETTE[0]), ("cpu", "s", PALETTE[1])):
            ps = [p for p in points if p["budget"] == budget]
            if not ps:
                continue
            ax.scatter([p[x] for p in ps], [100 * p["best_test_acc"] for p in ps],
                       s=[30 + 600 * (p.get("wall_seconds") or 0) / longest for p in ps],
                       marker=marker, color=colour, alpha=0.6, edgecolors="black",
                       linewidths=0.5, label=f"{budget} budget")
            for p in ps:
                ax.annotate(p["chapter"], (p[x], 100 * p["best_test_acc"]), fontsize=8,
                            xytext=(6, 4), textcoords="offset points")
        ax.set_xscale("log")
        ax.set_xlabel("parameters" if x == "params" else "multiply-adds per 32x32 image")
        ax.set_ylabel("best CIFAR-10 test accuracy (%)")
        ax.set_title("bubble area: wall time of the run", fontsize=9)
        ax.legend(loc="lower right", markerscale=0.6)
    return fig
