"""Training on CIFAR-10 for every chapter: budgets, ``fit``, evaluation, checkpoints.

One loop serves three kinds of machine:

- a Colab T4 (the ``full`` budget): mixed precision, channels-last, cuDNN autotuning, the
  whole data set on the GPU (``utils.data.DeviceLoader``), optionally ``torch.compile``;
- a laptop CPU (the ``cpu`` budget, picked by itself when there is no GPU): a class-balanced
  subset and fewer epochs, so that a chapter finishes in minutes and says how to get the full run;
- tests and CI (the ``quick`` budget, ``CNN_BUDGET=quick``): real data, a small subset, 1-2 epochs.

Nothing is lost: every epoch ends with a checkpoint written atomically, and a run whose cell is
executed again resumes from it (a Colab disconnect costs at most one epoch). Runs with the ``cpu``
or ``full`` budget append a record to ``results/<chapter>.json``, which the leaderboard reads.

How the network is trained is a ``Recipe`` (``utils.recipe``: optimiser, schedule, label
smoothing, auxiliary losses, moving average of the weights...); where things are kept and the
records' schema are ``utils.results``; the progress display is ``utils.notebook``. Their public
names stay available here (``train.Recipe``, ``train.record_reference``, ``train.shown``...).

Use, in a chapter::

    data = load_cifar10()
    budget = train.get_budget(full=dict(epochs=30), cpu=dict(train_size=5_000, epochs=4))
    torch.manual_seed(0)                      # the initial weights
    history = train.fit(AlexNetCIFAR(), data, budget, run="relu", chapter="alexnet")
    print(history.evaluation.table())         # per-class accuracy; .confusion for plot.confusion

A cell that trains carries nbval's ``nbval-ignore-output`` cell tag: its numbers vary between runs.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import datetime
import hashlib
import inspect
import math
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from utils.hardware import describe_device, device
from utils.notebook import Reporter, in_notebook
from utils.recipe import (Recipe, RMSpropTF, default_lr, ema_for, loss_for,  # noqa: F401
                          make_optimizer, make_schedule, optimizer_for, param_groups,
                          schedule_for)
from utils.results import (REPO, Record, append_record, atomic_write,  # noqa: F401
                           checkpoint_dir, checkpoint_path, format_seconds, one_line,
                           record_reference, remove_stale_temporaries, results_dir,
                           results_path, set_aside, shown)

BUDGET_NAMES = ("quick", "cpu", "full")
CHECKPOINT_FORMAT = 2  # 2 adds the model's fingerprint; 1 is still read (and never matches)

#: ``fit``'s keyword form (``lr=..., nesterov=...`` without a ``Recipe``) starts from this: the
#: defaults fit had before recipes, Nesterov momentum included (``Recipe()`` has plain momentum).
LEGACY = Recipe(nesterov=True)

# The defaults of each budget. A chapter overrides fields with get_budget(full={...}, cpu={...}).
DEFAULT_BUDGETS = {
    "full": dict(epochs=20, train_size=None, test_size=None, batch_size=512,
                 note="the chapter's full run, sized for about 10 minutes on a Colab T4 GPU"),
    "cpu": dict(epochs=5, train_size=10_000, test_size=2_000, batch_size=128,
                note="a subset and fewer epochs, sized for a few minutes on a laptop CPU; for the "
                     "full run use a Colab GPU runtime, or set CNN_BUDGET=full"),
    "quick": dict(epochs=2, train_size=2_000, test_size=1_000, batch_size=128,
                  note="for tests and CI: a small subset of the real data"),
}


# --- budgets ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Budget:
    """How much training a run gets: its name, epochs, data sizes and batch size.

    ``train_size``/``test_size`` of None mean the whole split (50,000 / 10,000 images).
    """

    name: str
    epochs: int
    train_size: int | None
    test_size: int | None
    batch_size: int
    note: str = ""

    def describe(self, dev: torch.device | None = None) -> str:
        """One line: budget name, device, training and test images, epochs, batch size."""
        n_train = f"{self.train_size:,}" if self.train_size else "50,000"
        n_test = f"{self.test_size:,}" if self.test_size else "10,000"
        return (f"Budget '{self.name}' on {describe_device(dev)}: {n_train} training images, "
                f"{n_test} test images, {self.epochs} epoch{'s' * (self.epochs != 1)}, "
                f"batch {self.batch_size}" + (f" ({self.note})" if self.note else ""))

    def key(self) -> dict:
        """The fields that define the run (the note is only words): compared on resume."""
        d = dataclasses.asdict(self)
        d.pop("note")
        return d


def get_budget(full: dict | None = None, cpu: dict | None = None, quick: dict | None = None,
               *, verbose: bool = True) -> Budget:
    """The budget in effect, with this chapter's overrides, printed as one line.

    ``$CNN_BUDGET`` (quick, cpu or full) decides when set; otherwise 'full' on a CUDA GPU and
    'cpu' elsewhere. Each argument is a dict overriding the defaults of that budget, e.g.
    ``get_budget(full=dict(epochs=30), cpu=dict(train_size=5_000))``.
    """
    overrides = {"full": full, "cpu": cpu, "quick": quick}
    for name, over in overrides.items():
        for k in over or {}:
            if k not in DEFAULT_BUDGETS[name]:
                raise TypeError(f"get_budget({name}=...): unknown field {k!r}; the fields are "
                                f"epochs, train_size, test_size, batch_size, note")
    env = os.environ.get("CNN_BUDGET", "").strip().lower()
    if env:
        if env not in BUDGET_NAMES:
            raise ValueError(f"CNN_BUDGET={env!r} is not a budget: use one of quick, cpu, full "
                             f"(or unset it to choose by the hardware)")
        name = env
    else:
        name = "full" if device().type == "cuda" else "cpu"
    fields = dict(DEFAULT_BUDGETS[name])
    fields.update(overrides[name] or {})
    for k in ("epochs", "batch_size"):
        if not isinstance(fields[k], int) or fields[k] < 1:
            raise ValueError(f"budget '{name}': {k} must be a positive integer, got {fields[k]!r}")
    for k in ("train_size", "test_size"):
        if fields[k] is not None and (not isinstance(fields[k], int) or fields[k] < 10):
            raise ValueError(f"budget '{name}': {k} must be None (the whole split) or an integer "
                             f">= 10, got {fields[k]!r}")
    if env:
        fields["note"] = f"set by CNN_BUDGET={env}; " + fields["note"]
        if name == "full" and not torch.cuda.is_available():
            fields["note"] += "; no GPU found, so this will take long"
    elif name == "cpu":
        fields["note"] = "no GPU found, so " + fields["note"]
    budget = Budget(name=name, **fields)
    if verbose:
        print(budget.describe())
    return budget


# --- history and evaluation --------------------------------------------------------------------

@dataclass
class Evaluation:
    """Top-1 and per-class accuracy, and the confusion matrix (rows: true, columns: predicted)."""

    accuracy: float
    per_class: torch.Tensor
    confusion: torch.Tensor
    predictions: torch.Tensor
    labels: torch.Tensor
    loss: float
    classes: tuple = ()
    images: torch.Tensor | None = None  # the evaluated images (uint8, CPU), for plot.image_grid
    tta: bool = False

    def table(self) -> str:
        """Per-class accuracy as plain text, one class a line."""
        names = self.classes or tuple(str(i) for i in range(len(self.per_class)))
        lines = [f"{n:>12}  {100 * float(a):5.1f}%" for n, a in zip(names, self.per_class)]
        lines.append(f"{'all':>12}  {100 * self.accuracy:5.1f}%"
                     + ("  (flip test-time augmentation)" if self.tta else ""))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"Evaluation(accuracy={100 * self.accuracy:.2f}%, {len(self.labels):,} images"
                + (", flip TTA" if self.tta else "") + ")")


@dataclass
class History:
    """What a run did: one dict per epoch, plus where and how it ran.

    ``epochs``: list of dicts with epoch, train_loss, train_acc, test_loss, test_acc, seconds
    (training and evaluation of that epoch), train_seconds and images_per_s (training images per
    second of training). ``trace``: finer points within epochs (images seen, running train loss
    and accuracy since the previous point), for curves against images seen. Accuracies are
    fractions (0.61 = 61%).
    """

    run: str
    chapter: str
    budget: Budget
    device_name: str
    data_source: str = ""
    train_images: int = 0
    test_images: int = 0
    epochs: list = field(default_factory=list)
    trace: list = field(default_factory=list)
    resumed_from: int | None = None
    finished: bool = False
    evaluation: Evaluation | None = None

    @property
    def best_acc(self) -> float:
        return max((e["test_acc"] for e in self.epochs), default=float("nan"))

    @property
    def final_acc(self) -> float:
        return self.epochs[-1]["test_acc"] if self.epochs else float("nan")

    @property
    def wall_seconds(self) -> float:
        return float(sum(e["seconds"] for e in self.epochs))

    @property
    def images_per_s(self) -> float:
        images = sum(e["images"] for e in self.epochs)
        seconds = sum(e["train_seconds"] for e in self.epochs)
        return images / seconds if seconds > 0 else float("nan")

    def line(self) -> str:
        """One line: run, budget, device, data, best and final accuracy, wall time."""
        if not self.epochs:
            return f"{self.chapter}/{self.run}: no epoch finished yet"
        n = self.train_images or self.epochs[-1]["images"]
        return (f"{self.chapter}/{self.run} ({self.budget.name} budget, {self.device_name}, "
                f"{n:,} training images x {len(self.epochs)} epochs): best test accuracy "
                f"{100 * self.best_acc:.1f}%, final {100 * self.final_acc:.1f}%, "
                f"{format_seconds(self.wall_seconds)} ({self.images_per_s:,.0f} images/s)")

    def to_dict(self) -> dict:
        """Plain lists, dicts and numbers only (what ``torch.load(weights_only=True)`` accepts)."""
        return {"run": self.run, "chapter": self.chapter, "budget": dataclasses.asdict(self.budget),
                "device_name": self.device_name, "data_source": self.data_source,
                "train_images": self.train_images, "test_images": self.test_images,
                "epochs": [dict(e) for e in self.epochs], "trace": [dict(t) for t in self.trace],
                "resumed_from": self.resumed_from, "finished": self.finished}

    @classmethod
    def from_dict(cls, d: dict) -> "History":
        d = dict(d)
        d["budget"] = Budget(**d["budget"])
        return cls(**d)

    def __repr__(self) -> str:
        return f"History({self.line()})"



# --- checkpoints ---------------------------------------------------------------------------------

def load_checkpoint(path: Path) -> dict | None:
    """The checkpoint's contents, or None (with a message) when it is missing or unreadable.

    A truncated or corrupt file is renamed to ``<name>.corrupt`` so that training starts fresh
    and the file can still be inspected.
    """
    path = Path(path)
    remove_stale_temporaries(path)
    if not path.exists():
        return None
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(ckpt, dict) or ckpt.get("format") not in (1, CHECKPOINT_FORMAT) \
                or not {"model", "history", "budget", "epoch"} <= set(ckpt):
            raise ValueError("not a checkpoint of utils.train (fields missing)")
    except Exception as e:  # noqa: BLE001 - any unreadable file is handled the same way
        aside = set_aside(path, "corrupt")
        why = one_line(str(e), path) or "truncated"
        print(f"checkpoint {shown(path)} is unreadable ({type(e).__name__}: {why}); set aside "
              f"as {shown(aside)}, training from the start")
        return None
    return ckpt


def _forward_source(cls) -> str:
    """The source of a module class's ``forward`` (its name where the source is unavailable).

    Classes from torch itself are named only: their code changes with torch's version, not
    with a student's edit.
    """
    if cls.__module__.startswith("torch."):
        return f"{cls.__module__}.{cls.__qualname__}"
    try:
        return inspect.getsource(cls.forward)
    except (OSError, TypeError):
        return f"{cls.__module__}.{cls.__qualname__}"


def model_fingerprint(model: nn.Module) -> str:
    """A short hash of what makes a network this network, for matching checkpoints.

    It covers every module's class and settings (the model's ``repr``: ReLU against Tanh,
    Dropout(0.5) against none), every parameter and buffer name with its shape, and the source
    of each of the model's own classes' ``forward`` (an edit from ``F.relu`` to ``torch.tanh``
    there counts too). Two models with the same fingerprint can share weights.
    """
    h = hashlib.sha256(repr(model).encode())
    for name, t in [*model.named_parameters(), *model.named_buffers()]:
        h.update(f"{name}:{tuple(t.shape)};".encode())
    for cls in sorted({type(m) for m in model.modules()},
                      key=lambda c: f"{c.__module__}.{c.__qualname__}"):
        h.update(_forward_source(cls).encode())
    return h.hexdigest()[:16]


def _non_finite(state_dict: dict) -> list[str]:
    """The names of the floating-point tensors in ``state_dict`` that hold a NaN or an infinity."""
    return [k for k, t in state_dict.items()
            if torch.is_tensor(t) and t.is_floating_point() and not torch.isfinite(t).all()]


class Diverged(RuntimeError):
    """The training loss became NaN or infinite: the run stopped, nothing was saved or recorded."""


def _rng_state(loader) -> dict:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    gen = getattr(loader, "generator", None)
    if isinstance(gen, torch.Generator):
        state["loader"] = gen.get_state()
    return state


def _set_rng_state(state: dict, loader) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    gen = getattr(loader, "generator", None)
    if "loader" in state and isinstance(gen, torch.Generator):
        gen.set_state(state["loader"])


def model_cost(model: nn.Module, input_size=(3, 32, 32)) -> tuple[int, int | None, str]:
    """(parameters, multiply-adds per image, how the MACs were counted) for ``input_size``.

    Uses ``utils.arithmetic.summary`` (which checks itself); falls back to
    ``torch.utils.flop_counter.FlopCounterMode`` (FLOPs / 2) when the summary cannot be made.
    """
    params = sum(p.numel() for p in model.parameters())
    m = copy.deepcopy(model).cpu().float().eval()
    try:
        from utils import arithmetic
        s = arithmetic.summary(m, tuple(input_size))
        return int(s.params), int(s.macs), "utils.arithmetic.summary"
    except Exception as e:  # noqa: BLE001 - the count is a record field, never worth a lost run
        why = f"{type(e).__name__}: {e}".splitlines()[0][:100]
    try:
        from torch.utils.flop_counter import FlopCounterMode
        with torch.no_grad(), FlopCounterMode(display=False) as fc:
            m(torch.zeros(1, *input_size))
        return params, int(fc.get_total_flops() // 2), f"FlopCounterMode ({why})"
    except Exception as e:  # noqa: BLE001
        return params, None, f"not counted ({type(e).__name__})"



# --- the loop -----------------------------------------------------------------------------------

def _autocast(dev: torch.device, amp: bool):
    """The mixed-precision type: bf16 on GPUs that have it in hardware (compute capability 8.0+,
    e.g. A100, L4, H100), fp16 on older ones such as Colab's T4 (with a GradScaler), None on CPU.

    (``torch.cuda.is_bf16_supported()`` also says yes where bf16 is only emulated, which is slow.)
    """
    if dev.type != "cuda" or not amp:
        return None
    return torch.bfloat16 if torch.cuda.get_device_capability(dev)[0] >= 8 else torch.float16


def _cast(dtype):
    """Autocast to ``dtype`` on the GPU, or nothing (never a warning on CPU-only installs)."""
    return torch.autocast("cuda", dtype=dtype) if dtype is not None else contextlib.nullcontext()


def _loaders(data, budget, dev, *, augment, seed, resize, channels_last, train=True):
    from utils import data as data_mod
    d = _subset(data, budget)
    # Evaluation needs no gradients, so larger batches fit; not so with enlarged inputs.
    eval_batch = budget.batch_size if resize else max(budget.batch_size, 500)
    test = data_mod.DeviceLoader(d.test_images, d.test_labels, eval_batch,
                                 train=False, device=dev, augment=None, seed=seed, resize=resize,
                                 channels_last=channels_last)
    if not train:
        return d, None, test
    tr = data_mod.DeviceLoader(d.train_images, d.train_labels, budget.batch_size, train=True,
                               device=dev, augment=augment, seed=seed, resize=resize,
                               channels_last=channels_last)
    return d, tr, test


def _subset(data, budget):
    from utils import data as data_mod
    n_train, n_test = budget.train_size, budget.test_size
    if (n_train is None or n_train >= len(data.train_labels)) and \
            (n_test is None or n_test >= len(data.test_labels)):
        return data
    return data_mod.subset(data, n_train=n_train, n_test=n_test, seed=0)


@torch.no_grad()
def _predict(model, loader, dtype, tta):
    """Logits' argmax and the mean cross-entropy over a loader (flip TTA: mean of the logits)."""
    model.eval()
    preds, labels, loss_sum, n = [], [], 0.0, 0
    for x, y in loader:
        with _cast(dtype):
            out = _logits(model(x)).float()
            if tta:
                out = (out + _logits(model(torch.flip(x, dims=[3]))).float()) / 2
        loss_sum += F.cross_entropy(out, y, reduction="sum")
        preds.append(out.argmax(1))
        labels.append(y)
        n += y.numel()
    return torch.cat(preds).cpu(), torch.cat(labels).cpu(), float(loss_sum) / max(n, 1)


def _evaluation(preds, labels, loss, classes=(), images=None, tta=False) -> Evaluation:
    k = max(len(classes), int(labels.max()) + 1, int(preds.max()) + 1)
    cm = torch.bincount(labels * k + preds, minlength=k * k).reshape(k, k)
    per_class = cm.diag().float() / cm.sum(1).clamp(min=1).float()
    return Evaluation(accuracy=int((preds == labels).sum()) / len(labels), per_class=per_class,
                      confusion=cm, predictions=preds, labels=labels, loss=loss,
                      classes=tuple(classes), images=images, tta=tta)


def evaluate(model: nn.Module, data, budget=None, tta: bool = False, *, resize=None) -> Evaluation:
    """Top-1 accuracy, per-class accuracy and the confusion matrix of ``model`` on test images.

    ``budget``: a ``Budget`` (its test subset, the same images ``fit`` evaluates on), a loader
    yielding ``(x, y)`` batches, or None (all 10,000 test images). ``tta``: also classify the
    mirrored image and average the two logits.
    """
    dev = next(model.parameters()).device
    dtype = _autocast(dev, True)
    classes = getattr(data, "classes", ())
    if budget is not None and not isinstance(budget, Budget):
        preds, labels, loss = _predict(model, budget, dtype, tta)
        return _evaluation(preds, labels, loss, classes, getattr(budget, "images", None), tta)
    if budget is None:
        budget = Budget("all", 1, None, None, 500)
    d, _, test = _loaders(data, budget, dev, augment=None, seed=0, resize=resize,
                          channels_last=dev.type == "cuda", train=False)
    preds, labels, loss = _predict(model, test, dtype, tta)
    return _evaluation(preds, labels, loss, classes, d.test_images, tta)




# --- fit ------------------------------------------------------------------------------------------

def fit(model: nn.Module, data, budget: Budget, recipe: Recipe | None = None, *, run: str,
        chapter: str, compile: bool = False, checkpoint: bool = True, record: bool = True,
        live_plot: bool = True, tta: bool = False, seed: int = 0, extra: dict | None = None,
        resume: bool = True, fresh: bool = False, resize: int | None = None, criterion=None,
        on_epoch=None, **recipe_fields) -> History:
    """Train ``model`` on CIFAR-10 (``data`` from ``utils.data.load_cifar10``) within ``budget``,
    following ``recipe`` (a ``Recipe``: optimiser, learning rate and schedule, label smoothing,
    auxiliary losses, augmentation, mixed precision, moving average of the weights).

    ``run`` names the run (checkpoint file, results record); ``chapter`` the results file.
    Any field of ``Recipe`` may also be given as a keyword (``lr=0.02, nesterov=False``): it
    overrides that field of ``recipe``, or, without a recipe, of ``LEGACY``, the defaults fit
    had before recipes (SGD with Nesterov momentum, one-cycle), so that older calls train as
    they did. ``tta``: evaluate with flip test-time augmentation; ``resize``: enlarge the
    images (for a network that needs a larger input); ``criterion(output, labels) -> loss``
    replaces the recipe's loss. A model whose training output is a tuple has its first element
    taken as the logits.

    Checkpoints: after every epoch, atomically (quick runs: in the temporary folder). With
    ``resume=True`` (default) a checkpoint of the same chapter, run, budget, recipe and model
    (``model_fingerprint``: its modules, parameter shapes and forward code) is picked up: an
    interrupted run goes on from its last epoch; a finished one loads its weights into ``model``
    and reports without training. Any other checkpoint is never loaded: the run starts afresh
    and says why. ``fresh=True`` or ``resume=False`` trains from the start whatever is stored
    (the old file is kept as ``<name>.old``). A NaN or infinite loss stops the run with
    ``Diverged`` (no record, no checkpoint of the diverged weights). Records: a finished run
    with the cpu or full budget appends a ``Record`` to ``results/<chapter>.json`` (unless
    ``record=False``), the recipe with it; ``extra`` (a dict of plain values) is stored with
    it. ``on_epoch(history)`` is called after each epoch's checkpoint. With ``recipe.ema`` the
    moving average is evaluated, and ``model`` ends with its weights.

    Returns a ``History``; ``history.evaluation`` holds the final per-class accuracy and
    confusion matrix. Call ``torch.manual_seed(...)`` before building the model: ``seed`` fixes
    the data order, augmentation and dropout, not the initial weights.
    """
    r = _setup(model, data, budget, _recipe_of(recipe, recipe_fields), run=run, chapter=chapter,
               compile=compile, tta=tta, seed=seed, resize=resize, criterion=criterion,
               checkpoint=checkpoint)
    start, already_done = _resume(r, fresh or not resume) if checkpoint else (0, False)
    report = Reporter(in_notebook(), live_plot, _training_figure)
    try:
        for e in r.history.epochs:
            report.line(_epoch_line(e, budget.epochs))
        report.figure(r.history)
        _epochs(r, start, report, checkpoint=checkpoint, on_epoch=on_epoch)
    finally:
        report.close()
    return _finish(r, report, record=record and not already_done, extra=extra)


def _recipe_of(recipe: Recipe | None, fields: dict) -> Recipe:
    """``recipe`` (or ``LEGACY``) with the fields given to fit as keywords replaced."""
    if recipe is not None and not isinstance(recipe, Recipe):
        raise TypeError(f"fit's fourth argument is a Recipe, got {type(recipe).__name__}")
    names = [f.name for f in dataclasses.fields(Recipe)]
    unknown = [k for k in fields if k not in names]
    if unknown:
        raise TypeError(f"fit() got an unexpected keyword argument {unknown[0]!r}; a recipe's "
                        f"fields are {', '.join(names)}")
    return dataclasses.replace(LEGACY if recipe is None else recipe, **fields)


def _training_figure(history):
    """The live figure of a run (utils.train imports utils.plot, never the reverse)."""
    from utils import plot
    return plot.training(history)


@dataclass
class _Run:
    """What ``fit``'s set-up made, for the epoch loop and the finish."""

    model: nn.Module
    step_model: nn.Module  # the model, or its torch.compile'd form
    data: object  # what fit was given
    d: object  # its subset for the budget
    train_loader: object
    test_loader: object
    opt: torch.optim.Optimizer
    sched: object
    scaler: object
    ema: object  # an AveragedModel, or None
    criterion: object
    dtype: object
    tta: bool
    resize: int | None
    budget: Budget
    history: History
    config: dict  # the resolved recipe and the run's settings: stored in checkpoint and record
    fingerprint: str
    path: Path

    @property
    def evaluated(self) -> nn.Module:
        """The weights that are evaluated: the moving average when the recipe keeps one."""
        return self.ema.module if self.ema is not None else self.step_model


def _setup(model, data, budget, recipe, *, run, chapter, compile, tta, seed, resize, criterion,
           checkpoint) -> _Run:
    """Device, data, optimiser, schedule and moving average; prints the run's first lines."""
    if not isinstance(budget, Budget):
        raise TypeError(f"budget must be a Budget from get_budget(), got {type(budget).__name__}")
    recipe = recipe.resolved(budget.batch_size)
    dev = device()
    dtype = _autocast(dev, recipe.amp)
    channels_last = dev.type == "cuda"
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
    n_params = sum(p.numel() for p in model.parameters())
    fingerprint = model_fingerprint(model)
    torch.manual_seed(seed)
    model.to(dev)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    d, train_loader, test_loader = _loaders(data, budget, dev, augment=recipe.augment, seed=seed,
                                            resize=resize, channels_last=channels_last)
    opt = optimizer_for(model, recipe, budget.batch_size)
    config = dict(recipe.to_dict(), precision=str(dtype).replace("torch.", "") if dtype else "off",
                  compile=compile, tta=tta, seed=seed, resize=resize,
                  criterion=None if criterion is None else getattr(
                      criterion, "__name__", type(criterion).__name__))
    n_train, n_test = len(d.train_labels), len(d.test_labels)
    history = History(run=run, chapter=chapter, budget=budget, device_name=describe_device(dev),
                      data_source=getattr(data, "source", ""), train_images=n_train,
                      test_images=n_test)
    print(f"{chapter}/{run}: budget '{budget.name}' on {history.device_name}: {n_train:,} "
          f"training images, {n_test:,} test images, {budget.epochs} epochs, batch "
          f"{budget.batch_size}; {n_params:,} parameters; {recipe.optimizer} peak lr "
          f"{recipe.lr:.3g}, {recipe.schedule}"
          + (f", mixed precision {config['precision']}" if dtype else ""))
    if history.data_source:
        print(f"data: {history.data_source}")
    if getattr(data, "synthetic", False):
        print("NOTE: synthetic data (made-up images for unit tests): these accuracies say nothing "
              "about CIFAR-10, and no results record is written")
    if checkpoint and "google.colab" in sys.modules and not os.environ.get("CNN_CHECKPOINT_DIR"):
        print("Colab: checkpoints are kept on this machine, which survives a lost connection but "
              "not a reset runtime. To keep them, mount Google Drive and set "
              "os.environ['CNN_CHECKPOINT_DIR'] to a folder there before training.")
    return _Run(model=model, step_model=torch.compile(model) if compile else model, data=data,
                d=d, train_loader=train_loader, test_loader=test_loader, opt=opt,
                sched=schedule_for(opt, recipe, len(train_loader), budget.epochs),
                scaler=torch.amp.GradScaler("cuda", enabled=dtype == torch.float16),
                ema=None if recipe.ema is None else ema_for(model, recipe.ema),
                criterion=loss_for(recipe) if criterion is None else criterion, dtype=dtype,
                tta=tta, resize=resize, budget=budget, history=history, config=config,
                fingerprint=fingerprint, path=checkpoint_path(chapter, run, budget))


def _epochs(r: _Run, start: int, report, *, checkpoint: bool, on_epoch) -> None:
    """Epochs ``start`` to the budget's last: each trained, evaluated, checkpointed, reported.
    A divergence or an interruption stops the run, saying what was kept."""
    budget, history = r.budget, r.history
    try:
        # fp16: the GradScaler skips steps whose gradients overflow (on purpose, at the start);
        # PyTorch then warns that the schedule stepped without the optimiser.
        warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler.step\(\)`",
                                category=UserWarning)
        for epoch in range(start, budget.epochs):
            t0 = time.perf_counter()
            report.start_epoch(len(r.train_loader), f"epoch {epoch + 1}/{budget.epochs}")
            stats = _train_epoch(r, report)
            train_seconds = time.perf_counter() - t0
            report.end_epoch()
            preds, labels, test_loss = _predict(r.evaluated, r.test_loader, r.dtype, r.tta)
            if not math.isfinite(test_loss):
                raise Diverged(f"the test loss became {test_loss} after epoch {epoch + 1}, "
                               f"although the training loss stayed finite")
            history.epochs.append({
                "epoch": epoch + 1, **stats, "test_loss": test_loss,
                "test_acc": int((preds == labels).sum()) / len(labels),
                "seconds": time.perf_counter() - t0, "train_seconds": train_seconds,
                "images_per_s": stats["images"] / train_seconds})
            history.finished = epoch + 1 == budget.epochs
            if history.finished:
                history.evaluation = _evaluation(preds, labels, test_loss, r.d.classes,
                                                 r.d.test_images, r.tta)
            if checkpoint:
                _save(r)
            report.line(_epoch_line(history.epochs[-1], budget.epochs))
            report.figure(history)
            if on_epoch is not None:
                on_epoch(history)
    except Diverged as e:
        report.close()
        done = len(history.epochs)
        kept = (f"the checkpoint of epoch {done} ({shown(r.path)}), from before, is kept"
                if checkpoint and done else "nothing was saved")
        raise Diverged(
            f"{history.chapter}/{history.run} diverged: {e}. The run stopped: no results record "
            f"was written, {kept}. Try a smaller peak learning rate (lr="
            f"{r.config['lr'] / 10:.3g}, ten times smaller), a longer warm-up (warmup=0.3), or "
            f"check the model's initialisation; run the cell again with fresh=True once it is "
            f"fixed.") from None
    except KeyboardInterrupt:
        report.close()
        done = len(history.epochs)
        print(f"interrupted during epoch {done + 1}: " + (
            f"run the cell again to resume from epoch {done + 1} (checkpoint {shown(r.path)})"
            if checkpoint and done else "nothing was saved"))
        raise


def _finish(r: _Run, report, *, record: bool, extra: dict | None) -> History:
    """The final evaluation, the moving average's weights into the model, the last line, and
    the results record."""
    history = r.history
    if history.evaluation is None and history.epochs:
        # A finished run loaded from its checkpoint: evaluate its weights once, for the figures.
        preds, labels, test_loss = _predict(r.evaluated, r.test_loader, r.dtype, r.tta)
        history.evaluation = _evaluation(preds, labels, test_loss, r.d.classes, r.d.test_images,
                                         r.tta)
    if r.ema is not None and history.epochs:
        r.model.load_state_dict(r.ema.module.state_dict())  # the weights that were evaluated
    report.line(history.line())
    if record and history.finished:
        _record(r, extra)
    return history


def _logits(out):
    """The main logits of a model's output (GoogLeNet-style models return a tuple in training)."""
    return out[0] if isinstance(out, (tuple, list)) else out


def _train_epoch(r: _Run, report) -> dict:
    """One pass over the training set; returns train_loss, train_acc and images.

    Sums stay on the device and are read about ten times an epoch (for the bar and the
    trace), so the GPU is not stalled by a sync after every batch. A NaN or infinite loss
    raises ``Diverged`` naming the step and its learning rate: on the CPU at once (a check
    costs nothing there), on a GPU at the next of those reads, before any checkpoint.
    """
    model, loader, opt, history = r.step_model, r.train_loader, r.opt, r.history
    model.train()
    dev = next(model.parameters()).device
    total = torch.zeros(2, device=dev)  # loss sum, correct
    window = torch.zeros(2, device=dev)
    first_bad = torch.full((), -1, dtype=torch.long, device=dev)  # first non-finite step
    lrs = []
    n = n_window = shown_steps = 0
    seen = sum(e["images"] for e in history.epochs)
    every = max(1, len(loader) // 10)
    t0 = time.perf_counter()
    for i, (x, y) in enumerate(loader):
        lrs.append(opt.param_groups[0]["lr"])
        with _cast(r.dtype):
            out = model(x)
            loss = r.criterion(out, y)
        if dev.type == "cpu":
            if not torch.isfinite(loss):
                _raise_diverged(loss.item(), i, lrs, len(history.epochs), len(loader))
        else:
            bad = ~torch.isfinite(loss.detach()) & (first_bad < 0)
            first_bad = torch.where(bad, torch.full_like(first_bad, i), first_bad)
        opt.zero_grad(set_to_none=True)
        r.scaler.scale(loss).backward()
        r.scaler.step(opt)
        r.scaler.update()
        r.sched.step()
        if r.ema is not None:
            r.ema.update_parameters(r.model)
        with torch.no_grad():
            batch = torch.stack([loss.detach().float() * y.numel(),
                                 (_logits(out).argmax(1) == y).sum().float()])
            total += batch
            window += batch
        n += y.numel()
        n_window += y.numel()
        if (i + 1) % every == 0 or i + 1 == len(loader):
            if int(first_bad) >= 0:
                _raise_diverged(float("nan"), int(first_bad), lrs, len(history.epochs),
                                len(loader))
            w_loss, w_correct = window.tolist()
            history.trace.append({"images": seen + n, "train_loss": w_loss / n_window,
                                  "train_acc": w_correct / n_window})
            report.step(i + 1 - shown_steps, loss=f"{w_loss / n_window:.3f}",
                        acc=f"{100 * w_correct / n_window:.1f}%",
                        img_s=f"{n / (time.perf_counter() - t0):,.0f}")
            shown_steps = i + 1
            window.zero_()
            n_window = 0
    loss_sum, correct = total.tolist()
    return {"train_loss": loss_sum / n, "train_acc": correct / n, "images": n}


def _raise_diverged(value: float, step: int, lrs: list, epochs_done: int, steps: int):
    """Stop the epoch: the loss at ``step`` (0-based) was NaN or infinite."""
    raise Diverged(f"the training loss became {value} at epoch {epochs_done + 1}, step "
                   f"{step + 1} of {steps}, at learning rate {lrs[step]:.3g}")


def _save(r: _Run) -> None:
    history = r.history
    weights = r.model.state_dict()
    if _non_finite(weights):  # never checkpoint a diverged network (fit checks the loss first)
        raise Diverged(f"the weights hold NaN or infinite values after epoch "
                       f"{len(history.epochs)} ({', '.join(_non_finite(weights)[:3])})")
    ckpt = {"format": CHECKPOINT_FORMAT, "epoch": len(history.epochs),
            "finished": history.finished, "model": weights,
            "optimizer": r.opt.state_dict(), "scheduler": r.sched.state_dict(),
            "scaler": r.scaler.state_dict(), "rng": _rng_state(r.train_loader),
            "history": history.to_dict(), "budget": r.budget.key(),
            "params": sum(p.numel() for p in r.model.parameters()),
            "fingerprint": r.fingerprint, "config": r.config}
    if r.ema is not None:
        ckpt["ema"] = r.ema.state_dict()
    atomic_write(r.path, lambda f: torch.save(ckpt, f))


#: What a checkpoint written before a recipe field existed had for it: that field's default.
_RECIPE_DEFAULTS = Recipe().to_dict()


def _recipe(config) -> dict | None:
    """The settings a resumed run must share with its checkpoint: the recipe, and the run's
    seed, test-time augmentation, input size and loss. Mixed precision and ``torch.compile`` are
    left out: a reconnected Colab session may get another GPU type."""
    return None if config is None else {k: v for k, v in {**_RECIPE_DEFAULTS, **config}.items()
                                        if k not in ("amp", "precision", "compile")}


def _resume(r: _Run, fresh: bool) -> tuple[int, bool]:
    """Pick up the run's checkpoint: returns (epochs already done, whether the run had finished).

    Only a checkpoint of this very model (``model_fingerprint``), budget and recipe is loaded.
    Any other is set aside (``.old``) and the run starts from the beginning, saying why in one
    line, as with ``fresh=True`` (or ``resume=False``); a file that cannot be read is set aside
    as ``.corrupt``, one whose weights hold NaN as ``.nan``, one that does not load into the
    model as ``.mismatch``. Nothing is deleted.
    """
    path, history, budget = r.path, r.history, r.budget
    if fresh:
        if path.exists():
            aside = set_aside(path, "old")
            print(f"starting afresh (fresh=True or resume=False): the previous checkpoint is "
                  f"set aside as {shown(aside)}")
        return 0, False
    ckpt = load_checkpoint(path)
    if ckpt is None:
        return 0, False
    why = [w for w, bad in (("budget", ckpt["budget"] != budget.key()),
                            ("model", ckpt.get("fingerprint") != r.fingerprint),
                            ("recipe", _recipe(ckpt.get("config")) != _recipe(r.config))) if bad]
    if why:
        return _start_afresh(path, "old", f"is of a different {' and '.join(why)}"
                             + (" (its layers, shapes or forward code differ)"
                                if "model" in why else ""))
    if _non_finite(ckpt["model"]):
        return _start_afresh(path, "nan", "holds NaN or infinite weights (a diverged run)")
    try:
        r.model.load_state_dict(ckpt["model"])
        if r.ema is not None:
            r.ema.load_state_dict(ckpt["ema"])
    except (RuntimeError, KeyError) as e:
        return _start_afresh(path, "mismatch", f"does not load into this model "
                             f"({one_line(str(e), path)})")
    stored = History.from_dict(ckpt["history"])
    history.epochs, history.trace = stored.epochs, stored.trace
    done = int(ckpt["epoch"])
    if ckpt.get("finished"):
        history.finished, history.resumed_from = True, stored.resumed_from
        print(f"this run already finished: its weights and history are loaded from checkpoint "
              f"{shown(path)} (fit(..., fresh=True) trains it again)")
        return done, True
    r.opt.load_state_dict(ckpt["optimizer"])
    r.sched.load_state_dict(ckpt["scheduler"])
    r.scaler.load_state_dict(ckpt["scaler"])
    _set_rng_state(ckpt["rng"], r.train_loader)
    history.resumed_from = done
    print(f"resuming from epoch {done + 1} of {budget.epochs} (checkpoint {shown(path)})")
    return done, False


def _start_afresh(path: Path, why: str, what: str) -> tuple[int, bool]:
    """Set the checkpoint aside as ``<name>.<why>`` and say in one line why training restarts."""
    aside = set_aside(path, why)
    print(f"checkpoint {shown(path)} {what}: set aside as {shown(aside)}, training from the start")
    return 0, False


def _record(r: _Run, extra: dict | None) -> None:
    """Append the finished run to results/<chapter>.json (cpu and full budgets only)."""
    history = r.history
    if history.budget.name == "quick" or getattr(r.data, "synthetic", False):
        return  # quick runs never touch results/
    side = r.resize or 32
    params, macs, how = model_cost(r.model, (3, side, side))
    rec = Record(
        run=history.run, budget=history.budget.name, device=history.device_name,
        torch=torch.__version__,
        date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        epochs=len(history.epochs), train_images=len(r.d.train_labels),
        test_images=len(r.d.test_labels), batch_size=history.budget.batch_size,
        best_test_acc=round(history.best_acc, 4), final_test_acc=round(history.final_acc, 4),
        wall_seconds=round(history.wall_seconds, 1),
        images_per_s=round(history.images_per_s, 1), params=params, macs=macs,
        macs_counted_by=how, input_size=f"3x{side}x{side}", data_source=history.data_source,
        resumed=history.resumed_from is not None, recipe=r.config, extra=extra or {})
    out = append_record(history.chapter, rec)
    print(f"result recorded in {shown(out)}")


def _epoch_line(e: dict, epochs: int) -> str:
    w = len(str(epochs))
    return (f"epoch {e['epoch']:>{w}}/{epochs}  train loss {e['train_loss']:.3f} "
            f"acc {100 * e['train_acc']:5.1f}%  test loss {e['test_loss']:.3f} "
            f"acc {100 * e['test_acc']:5.1f}%  {e['seconds']:6.1f} s  "
            f"{e['images_per_s']:7,.0f} images/s")
