"""Training on CIFAR-10 for every chapter: budgets, ``fit``, evaluation, checkpoints, results.

One loop serves three kinds of machine:

- a Colab T4 (the ``full`` budget): mixed precision, channels-last, cuDNN autotuning, the
  whole data set on the GPU (``utils.data.DeviceLoader``), optionally ``torch.compile``;
- a laptop CPU (the ``cpu`` budget, picked by itself when there is no GPU): a class-balanced
  subset and fewer epochs, so that a chapter finishes in minutes and says how to get the full run;
- tests and CI (the ``quick`` budget, ``CNN_BUDGET=quick``): real data, a small subset, 1-2 epochs.

Nothing is lost: every epoch ends with a checkpoint written atomically, and a run whose cell is
executed again resumes from it (a Colab disconnect costs at most one epoch). Runs with the ``cpu``
or ``full`` budget append a record to ``results/<chapter>.json``, which the leaderboard reads.

The recipe follows what made CIFAR-10 training fast (Page, 2018; Jordan, 2024): SGD with Nesterov
momentum and a one-cycle learning rate, label smoothing, no weight decay on norms and biases,
batched augmentation on the device.

Use, in a chapter::

    data = load_cifar10()
    budget = train.get_budget(full=dict(epochs=30), cpu=dict(train_size=5_000, epochs=4))
    torch.manual_seed(0)                      # the initial weights
    history = train.fit(AlexNetCIFAR(), data, budget, run="relu", chapter="alexnet")
    print(history.evaluation.table())         # per-class accuracy; .confusion for plot.confusion

A cell that trains should start with ``# NBVAL_IGNORE_OUTPUT``: its numbers vary between runs.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import datetime
import hashlib
import inspect
import io
import json
import math
import numbers
import os
import re
import sys
import tempfile
import textwrap
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

REPO = Path(__file__).resolve().parent.parent
BUDGET_NAMES = ("quick", "cpu", "full")
CHECKPOINT_FORMAT = 2  # 2 adds the model's fingerprint; 1 is still read (and never matches)

# The defaults of each budget. A chapter overrides fields with get_budget(full={...}, cpu={...}).
DEFAULT_BUDGETS = {
    "full": dict(epochs=20, train_size=None, test_size=None, batch_size=512,
                 note="the chapter's full run, sized for about 10 minutes on a Colab T4 GPU"),
    "cpu": dict(epochs=5, train_size=10_000, test_size=2_000, batch_size=128,
                note="a subset and fewer epochs, sized for a few minutes on a laptop CPU; for the "
                     "full run use a Colab GPU runtime, or set CNN_BUDGET=full"),
    "quick": dict(epochs=2, train_size=2_000, test_size=1_000, batch_size=128,
                  note="tests and CI (CNN_BUDGET=quick): a small subset of the real data"),
}


# --- device -------------------------------------------------------------------------------------

def device() -> torch.device:
    """The device to train on: the first CUDA GPU when there is one, else the CPU."""
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def describe_device(dev: torch.device | str | None = None) -> str:
    """A short human name for the device: "NVIDIA Tesla T4", "CPU (2 threads)"."""
    dev = torch.device(dev) if dev is not None else device()
    if dev.type == "cuda":
        name = torch.cuda.get_device_name(dev)
        return name if name.upper().startswith("NVIDIA") else f"NVIDIA {name}"
    if dev.type == "cpu":
        return f"CPU ({torch.get_num_threads()} threads)"
    return dev.type.upper()


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
        name = "full" if torch.cuda.is_available() else "cpu"
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


def format_seconds(s: float) -> str:
    """12.3 s, 4 min 05 s, 1 h 02 min."""
    if s < 60:
        return f"{s:.1f} s"
    if s < 3600:
        return f"{int(s // 60)} min {int(s % 60):02d} s"
    return f"{int(s // 3600)} h {int(s % 3600 // 60):02d} min"


# --- optimiser and schedule --------------------------------------------------------------------

def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Two groups: weights of convolutions and linear layers decay; norms and biases do not.

    A parameter with one dimension or none (biases, BatchNorm/LayerNorm scales and shifts) gets
    no weight decay: shrinking a norm's scale only changes the effective learning rate of the
    layer before it, and biases are too few to overfit (Goyal et al., 2017; Jordan, 2024).
    """
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]


def make_optimizer(model, optimizer="sgd", lr=None, momentum=0.9, nesterov=True,
                   weight_decay=5e-4, batch_size=256):
    """SGD (Nesterov momentum by default) or AdamW over ``param_groups``.

    Default peak learning rate: SGD 0.1 per 256 images of batch (the linear scaling rule used by
    He et al., 2016 and Goyal et al., 2017), AdamW 1e-3.
    """
    groups = param_groups(model, weight_decay)
    if optimizer == "sgd":
        lr = 0.1 * batch_size / 256 if lr is None else lr
        return torch.optim.SGD(groups, lr=lr, momentum=momentum, nesterov=nesterov and momentum > 0)
    if optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=1e-3 if lr is None else lr)
    raise ValueError(f"optimizer={optimizer!r}: use 'sgd' or 'adamw'")


def make_schedule(opt, schedule, total_steps, warmup):
    """Learning rate per step: 'onecycle' (linear up, linear down: Smith's one-cycle as in Page,
    2018), 'cosine' (linear warm-up, then cosine to zero) or 'constant' (linear warm-up, then flat).

    ``warmup`` is the fraction of all steps spent rising linearly to the peak (at least one
    step, two for one-cycle); 0 means none for 'cosine' and 'constant'.
    """
    from torch.optim import lr_scheduler as S
    if total_steps < 1:
        raise ValueError(f"total_steps={total_steps}: no batch to train on (is the training set "
                         f"smaller than one batch?)")
    warm = max(1, round(warmup * total_steps))
    if schedule == "onecycle":
        if total_steps < 4:  # OneCycleLR needs at least two steps in each of its two phases
            return S.LambdaLR(opt, lambda step: 1.0)
        warm = min(max(2, warm), total_steps - 2)
        peaks = [g["lr"] for g in opt.param_groups]
        return S.OneCycleLR(opt, max_lr=peaks, total_steps=total_steps,
                            pct_start=warm / total_steps, anneal_strategy="linear",
                            cycle_momentum=False, div_factor=25.0, final_div_factor=1e3)
    if schedule in ("cosine", "constant") and warmup == 0:  # no warm-up at all
        return (S.CosineAnnealingLR(opt, T_max=total_steps) if schedule == "cosine"
                else S.LambdaLR(opt, lambda step: 1.0))
    if schedule in ("cosine", "constant"):
        up = S.LinearLR(opt, start_factor=0.04, end_factor=1.0, total_iters=warm)
        rest = max(1, total_steps - warm)
        after = (S.CosineAnnealingLR(opt, T_max=rest) if schedule == "cosine"
                 else S.ConstantLR(opt, factor=1.0, total_iters=0))
        return S.SequentialLR(opt, [up, after], milestones=[warm])
    raise ValueError(f"schedule={schedule!r}: use 'onecycle', 'cosine' or 'constant'")


# --- paths, checkpoints and records ------------------------------------------------------------

def _safe(name: str) -> str:
    name = str(name).strip()
    if not name:
        raise ValueError("run and chapter names must not be empty")
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def checkpoint_dir(budget: "Budget | str | None" = None) -> Path:
    """``$CNN_CHECKPOINT_DIR`` if set; else ``<repo>/checkpoints``, except for the quick budget.

    Quick runs (tests, CI) checkpoint to the system's temporary folder, so that running the
    notebooks leaves the repository as it was.
    """
    if os.environ.get("CNN_CHECKPOINT_DIR"):
        return Path(os.environ["CNN_CHECKPOINT_DIR"])
    if getattr(budget, "name", budget) == "quick":
        return Path(tempfile.gettempdir()) / "cnn-history-checkpoints"
    return REPO / "checkpoints"


def results_dir() -> Path:
    return Path(os.environ["CNN_RESULTS_DIR"]) if os.environ.get("CNN_RESULTS_DIR") \
        else REPO / "results"


def checkpoint_path(chapter: str, run: str, budget: Budget) -> Path:
    """``checkpoint_dir(budget)``, file ``<chapter>-<run>-<budget>.pt``."""
    return checkpoint_dir(budget) / f"{_safe(chapter)}-{_safe(run)}-{budget.name}.pt"


def results_path(chapter: str) -> Path:
    """``$CNN_RESULTS_DIR`` or ``<repo>/results``, file ``<chapter>.json``."""
    return results_dir() / f"{_safe(chapter)}.json"


def shown(path: Path) -> str:
    """A path as it may be printed: relative to the repository, or to the folder's variable.

    Never an absolute path of this machine (those must not reach a stored notebook).
    """
    path = Path(path).resolve()
    for var in ("CNN_CHECKPOINT_DIR", "CNN_RESULTS_DIR"):
        root = os.environ.get(var)
        if root:
            try:
                return f"${var}/{path.relative_to(Path(root).resolve()).as_posix()}"
            except ValueError:
                pass
    try:
        return path.relative_to(REPO.resolve()).as_posix()
    except ValueError:
        pass
    try:
        return f"<temporary folder>/{path.relative_to(Path(tempfile.gettempdir()).resolve()).as_posix()}"
    except ValueError:
        return path.name


def _remove_stale_temporaries(path: Path) -> None:
    """Delete ``.<name>.*.tmp`` files that a process killed in mid-write left beside ``path``."""
    if path.parent.is_dir():
        for tmp in path.parent.glob(f".{path.name}.*.tmp"):
            with contextlib.suppress(OSError):
                tmp.unlink()


def _atomic_write(path: Path, write) -> None:
    """Write through a temporary file in the same folder, then rename: never half a file.

    A temporary file left by an earlier write that was killed (``kill -9``) is removed first.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes the file private; give it the usual mode
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _set_aside(path: Path, why: str) -> Path:
    """Rename a checkpoint or results file that cannot be used, keeping it for inspection:
    ``<name>.<why>``, or ``<name>.<why>-2``, ``-3``... when that exists already."""
    aside, k = path.with_name(f"{path.name}.{why}"), 1
    while aside.exists():
        k += 1
        aside = path.with_name(f"{path.name}.{why}-{k}")
    os.replace(path, aside)
    return aside


def _scrub(message: str, path: Path) -> str:
    """An error message without the machine's absolute paths (it may reach a notebook)."""
    for p in (path.resolve(), path, path.resolve().parent, path.parent):
        if str(p) not in (".", ""):
            message = message.replace(str(p), shown(p) if p.suffix else "<folder>")
    return message


def load_checkpoint(path: Path) -> dict | None:
    """The checkpoint's contents, or None (with a message) when it is missing or unreadable.

    A truncated or corrupt file is renamed to ``<name>.corrupt`` so that training starts fresh
    and the file can still be inspected.
    """
    path = Path(path)
    _remove_stale_temporaries(path)
    if not path.exists():
        return None
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(ckpt, dict) or ckpt.get("format") not in (1, CHECKPOINT_FORMAT) \
                or not {"model", "history", "budget", "epoch"} <= set(ckpt):
            raise ValueError("not a checkpoint of utils.train (fields missing)")
    except Exception as e:  # noqa: BLE001 - any unreadable file is handled the same way
        aside = _set_aside(path, "corrupt")
        why = _one_line(str(e), path) or "truncated"
        print(f"checkpoint {shown(path)} is unreadable ({type(e).__name__}: {why}); set aside "
              f"as {shown(aside)}, training from the start")
        return None
    return ckpt


def _one_line(message: str, path: Path, width: int = 200) -> str:
    """An error message on one line, without machine paths, shortened at a word boundary."""
    return textwrap.shorten(_scrub(message, path), width, placeholder=" …")


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


def _json_dump(obj) -> bytes:
    return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _read_results(path: Path, chapter: str) -> dict:
    """The results file's contents; an unreadable file is set aside (never overwritten)."""
    empty = {"chapter": chapter, "reference": {}, "runs": []}
    if not path.exists():
        return empty
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or not isinstance(data.get("runs", []), list):
            raise ValueError("expected an object with a 'runs' list")
    except (ValueError, UnicodeDecodeError) as e:
        aside = _set_aside(path, "corrupt")
        print(f"results file {shown(path)} is unreadable ({_scrub(str(e), path)}); set aside as "
              f"{shown(aside)}, starting a new one")
        return empty
    out = {"chapter": data.get("chapter", chapter), "reference": data.get("reference", {}),
           "runs": data.get("runs", [])}
    out.update({k: v for k, v in data.items() if k not in out})
    return out


def _plain(obj, where="value"):
    """Check that ``obj`` is JSON-ready (numbers, strings, lists, dicts); convert tensors/tuples."""
    if isinstance(obj, torch.Tensor) and obj.numel() == 1:
        return obj.item()
    if isinstance(obj, bool) or obj is None or isinstance(obj, (int, float, str)):
        return obj
    if isinstance(obj, numbers.Integral):  # numpy integers
        return int(obj)
    if isinstance(obj, numbers.Real):
        return float(obj)
    if isinstance(obj, (list, tuple)):
        return [_plain(v, where) for v in obj]
    if isinstance(obj, dict):
        return {str(k): _plain(v, f"{where}[{k!r}]") for k, v in obj.items()}
    if hasattr(obj, "params") and hasattr(obj, "macs"):  # an arithmetic.Summary
        return {"params": int(obj.params), "macs": int(obj.macs)}
    if hasattr(obj, "value"):  # an arithmetic.Worked
        return _plain(obj.value, where)
    raise TypeError(f"{where}: {type(obj).__name__} cannot be stored in a results file "
                    f"(use numbers, strings, lists and dicts)")


def record_reference(chapter: str, *, imagenet=None, paper=None, cifar=None) -> dict:
    """Store the chapter's reference numbers in ``results/<chapter>.json``; returns them.

    ``imagenet``: the ImageNet configuration's parameters and MACs (a dict, or an
    ``arithmetic.Summary``, stored as its ``params`` and ``macs``); ``paper``: the paper's own
    numbers with the table they come from, e.g. ``dict(top5_error=15.3, params=60e6,
    source="Table 2")``; ``cifar``: anything about the CIFAR-10 configuration. Arguments left None
    keep what is stored. Idempotent: the file is written only when the content changes. Under the
    quick budget nothing is written. Prints nothing (so the cell's output is the same under every
    budget, as nbval wants): show the returned dict if you like.
    """
    path = results_path(chapter)
    data = _read_results(path, _safe(chapter))
    new = dict(data["reference"])
    for key, value in (("imagenet", imagenet), ("paper", paper), ("cifar", cifar)):
        if value is not None:
            new[key] = _plain(value, key)
    quick = os.environ.get("CNN_BUDGET", "").strip().lower() == "quick"
    if new != data["reference"] and not quick:
        data["reference"] = new
        _atomic_write(path, lambda f: f.write(_json_dump(data)))
    return new


def _append_record(chapter: str, record: dict) -> Path:
    path = results_path(chapter)
    data = _read_results(path, _safe(chapter))
    data["runs"].append(record)
    _atomic_write(path, lambda f: f.write(_json_dump(data)))
    return path


# --- the loop -----------------------------------------------------------------------------------

def _in_notebook() -> bool:
    """True inside a Jupyter/Colab kernel (where live figures and widget bars make sense)."""
    ip = sys.modules.get("IPython")
    shell = ip.get_ipython() if ip is not None and hasattr(ip, "get_ipython") else None
    return shell is not None and (type(shell).__name__ == "ZMQInteractiveShell"
                                  or "google.colab" in sys.modules)


class _Reporter:
    """Where a run's progress goes: a transient tqdm.auto bar, a text line per epoch, a figure.

    In a notebook (Jupyter, Colab) three display slots are used, each updated in place: the epoch
    log (plain text, one line per epoch), the progress bar (one tqdm widget for the whole run, reset
    each epoch, and replaced by nothing at the end) and the training curve (a PNG redrawn after
    every epoch). The stored notebook thus keeps the log and exactly one static figure, and no
    widget (the book cannot show widgets). Elsewhere (terminal, tests, CI) the lines are printed,
    tqdm draws its text bar on a terminal only, and nothing is plotted.
    """

    def __init__(self, notebook: bool, live_plot: bool):
        self.notebook, self.live_plot = notebook, live_plot and notebook
        self.lines, self.bar = [], None
        self.log_slot = self.bar_slot = self.fig_slot = None
        if self.notebook:
            from IPython.display import HTML, display
            self.log_slot = display(_Text(""), display_id=True)
            self.bar_slot = display(HTML(""), display_id=True)
            if self.live_plot:
                self.fig_slot = display(HTML(""), display_id=True)

    def line(self, text: str):
        """One line of the log: printed, or appended to the notebook's log slot."""
        if self.log_slot is None:
            print(text, flush=True)
        else:
            self.lines.append(text)
            self.log_slot.update(_Text("\n".join(self.lines)))

    def start_epoch(self, total: int, desc: str):
        if self.notebook:
            if self.bar is None:
                try:
                    from tqdm.notebook import tqdm as tqdm_nb
                    self.bar = tqdm_nb(total=total, desc=desc, leave=False, unit="batch",
                                       display=False)
                    from utils.explorer import WidgetWithText  # ipywidgets 7.7 (Colab) and 8
                    self.bar_slot.update(WidgetWithText(self.bar.container, ""))
                except Exception:  # noqa: BLE001 - no ipywidgets: no bar; the log remains
                    self.bar = False
            elif self.bar:
                self.bar.reset(total=total)
                self.bar.set_description(desc, refresh=False)
            return
        from tqdm.auto import tqdm
        self.bar = tqdm(total=total, desc=desc, leave=False, unit="batch", disable=None)

    def step(self, n: int, **postfix):
        if self.bar:
            self.bar.set_postfix(postfix, refresh=False)
            self.bar.update(n)

    def end_epoch(self):
        if self.bar and not self.notebook:
            self.bar.close()
            self.bar = None

    def figure(self, history: "History"):
        if self.fig_slot is None or not history.epochs:
            return
        from IPython.display import Image
        from utils import plot
        fig = plot.training(history)
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        self.fig_slot.update(Image(data=buf.getvalue(), format="png"))

    def close(self):
        if self.bar:
            self.bar.close()
        self.bar = None
        if self.bar_slot is not None:
            from IPython.display import HTML
            self.bar_slot.update(HTML(""))
            self.bar_slot = None


class _Text:
    """Plain text for a display slot (shown like printed output)."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


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


def fit(model: nn.Module, data, budget: Budget, *, run: str, chapter: str,
        optimizer: str = "sgd", lr: float | None = None, momentum: float = 0.9,
        nesterov: bool = True, weight_decay: float = 5e-4, schedule: str = "onecycle",
        warmup: float | None = None, label_smoothing: float = 0.0,
        augment=("crop", "flip"), amp: bool = True, compile: bool = False,
        checkpoint: bool = True, record: bool = True, live_plot: bool = True, tta: bool = False,
        seed: int = 0, extra: dict | None = None, resume: bool = True, fresh: bool = False,
        resize: int | None = None, criterion=None, on_epoch=None) -> History:
    """Train ``model`` on CIFAR-10 (``data`` from ``utils.data.load_cifar10``) within ``budget``.

    ``run`` names the run (checkpoint file, results record); ``chapter`` the results file.
    Optimiser: 'sgd' (Nesterov momentum unless ``nesterov=False``) or 'adamw'; ``lr`` is the peak
    learning rate (default 0.1 per 256 images of batch for SGD, 1e-3 for AdamW). ``schedule``:
    'onecycle', 'cosine' or 'constant', each with a linear warm-up over the fraction ``warmup``
    of the run (default 0.2 for one-cycle, 0.05 otherwise). Weight decay skips norms and biases.
    ``augment`` is passed to ``utils.data.DeviceLoader``; ``resize`` too (for chapters whose
    network needs a larger input). ``tta``: evaluate with flip test-time augmentation.
    ``criterion(output, labels) -> loss`` replaces the default cross-entropy (with
    ``label_smoothing``), e.g. for GoogLeNet's auxiliary classifiers: a model whose training
    output is a tuple has its first element taken as the logits for accuracy.

    Checkpoints: after every epoch, atomically (quick runs: in the temporary folder). With
    ``resume=True`` (default) a checkpoint of the same chapter, run, budget, recipe and model
    (``model_fingerprint``: its modules, parameter shapes and forward code) is picked up: an
    interrupted run goes on from its last epoch; a finished one loads its weights into ``model``
    and reports without training. Any other checkpoint is never loaded: the run starts afresh
    and says why. ``fresh=True`` or ``resume=False`` trains from the start whatever is stored
    (the old file is kept as ``<name>.old``). A NaN or infinite loss stops the run with
    ``Diverged`` (no record, no checkpoint of the diverged weights). Records: a finished run with the cpu or full budget appends to
    ``results/<chapter>.json`` (unless ``record=False``); ``extra`` (a dict of plain values) is
    stored with the record. ``on_epoch(history)`` is called after each epoch's checkpoint.

    Returns a ``History``; ``history.evaluation`` holds the final per-class accuracy and
    confusion matrix. Call ``torch.manual_seed(...)`` before building the model: ``seed`` fixes
    the data order, augmentation and dropout, not the initial weights.
    """
    if not isinstance(budget, Budget):
        raise TypeError(f"budget must be a Budget from get_budget(), got {type(budget).__name__}")
    warmup = (0.2 if schedule == "onecycle" else 0.05) if warmup is None else warmup
    if not 0 <= warmup < 1:
        raise ValueError(f"warmup={warmup}: a fraction of the run, in [0, 1)")
    dev = device()
    dtype = _autocast(dev, amp)
    channels_last = dev.type == "cuda"
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
    n_params = sum(p.numel() for p in model.parameters())
    fingerprint = model_fingerprint(model)

    torch.manual_seed(seed)
    model.to(dev)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    d, train_loader, test_loader = _loaders(data, budget, dev, augment=augment, seed=seed,
                                            resize=resize, channels_last=channels_last)
    opt = make_optimizer(model, optimizer, lr, momentum, nesterov, weight_decay, budget.batch_size)
    peak_lr = opt.param_groups[0]["lr"]
    sched = make_schedule(opt, schedule, budget.epochs * len(train_loader), warmup)
    scaler = torch.amp.GradScaler("cuda", enabled=dtype == torch.float16)  # torch >= 2.3
    step_model = torch.compile(model) if compile else model
    config = dict(optimizer=optimizer, lr=peak_lr, momentum=momentum,
                  nesterov=nesterov, weight_decay=weight_decay, schedule=schedule, warmup=warmup,
                  label_smoothing=label_smoothing, augment=_describe_augment(augment),
                  amp=str(dtype).replace("torch.", "") if dtype else "off", compile=compile,
                  tta=tta, seed=seed, resize=resize,
                  criterion=None if criterion is None else getattr(
                      criterion, "__name__", type(criterion).__name__))

    n_train, n_test = len(d.train_labels), len(d.test_labels)
    history = History(run=run, chapter=chapter, budget=budget, device_name=describe_device(dev),
                      data_source=getattr(data, "source", ""), train_images=n_train,
                      test_images=n_test)
    print(f"{chapter}/{run}: budget '{budget.name}' on {history.device_name}: {n_train:,} "
          f"training images, {n_test:,} test images, {budget.epochs} epochs, batch "
          f"{budget.batch_size}; {n_params:,} parameters; {optimizer} peak lr {config['lr']:.3g}, "
          f"{schedule}" + (f", mixed precision {config['amp']}" if dtype else ""))
    if history.data_source:
        print(f"data: {history.data_source}")
    if getattr(data, "synthetic", False):
        print("NOTE: synthetic data (made-up images for unit tests): these accuracies say nothing "
              "about CIFAR-10, and no results record is written")

    path = checkpoint_path(chapter, run, budget)
    if checkpoint and "google.colab" in sys.modules and not os.environ.get("CNN_CHECKPOINT_DIR"):
        print("Colab: checkpoints are kept on this machine, which survives a lost connection but "
              "not a reset runtime. To keep them, mount Google Drive and set "
              "os.environ['CNN_CHECKPOINT_DIR'] to a folder there before training.")
    state = dict(model=model, opt=opt, sched=sched, scaler=scaler, loader=train_loader)
    start, already_done = (_resume(path, history, state, budget, fingerprint, config,
                                   fresh or not resume) if checkpoint else (0, False))
    report = _Reporter(_in_notebook(), live_plot)
    for e in history.epochs:
        report.line(_epoch_line(e, budget.epochs))
    report.figure(history)
    if criterion is None:
        criterion = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
    try:
        # fp16: the GradScaler skips steps whose gradients overflow (on purpose, at the start);
        # PyTorch then warns that the schedule stepped without the optimiser.
        warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler.step\(\)`",
                                category=UserWarning)
        for epoch in range(start, budget.epochs):
            t0 = time.perf_counter()
            report.start_epoch(len(train_loader), f"epoch {epoch + 1}/{budget.epochs}")
            stats = _train_epoch(step_model, train_loader, opt, sched, scaler, criterion, dtype,
                                 history, report)
            train_seconds = time.perf_counter() - t0
            report.end_epoch()
            preds, labels, test_loss = _predict(step_model, test_loader, dtype, tta)
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
                history.evaluation = _evaluation(preds, labels, test_loss, d.classes,
                                                 d.test_images, tta)
            if checkpoint:
                _save(path, history, state, budget, n_params, fingerprint, config)
            report.line(_epoch_line(history.epochs[-1], budget.epochs))
            report.figure(history)
            if on_epoch is not None:
                on_epoch(history)
    except Diverged as e:
        report.close()
        done = len(history.epochs)
        kept = (f"the checkpoint of epoch {done} ({shown(path)}), from before, is kept"
                if checkpoint and done else "nothing was saved")
        raise Diverged(
            f"{chapter}/{run} diverged: {e}. The run stopped: no results record was written, "
            f"{kept}. Try a smaller peak learning rate (lr={peak_lr / 10:.3g}, ten times "
            f"smaller), a longer warm-up (warmup=0.3), or check the model's initialisation; "
            f"run the cell again with fresh=True once it is fixed.") from None
    except KeyboardInterrupt:
        report.close()
        done = len(history.epochs)
        print(f"interrupted during epoch {done + 1}: " + (
            f"run the cell again to resume from epoch {done + 1} (checkpoint {shown(path)})"
            if checkpoint and done else "nothing was saved"))
        raise
    finally:
        report.close()

    if history.evaluation is None and history.epochs:
        # A finished run loaded from its checkpoint: evaluate its weights once, for the figures.
        preds, labels, test_loss = _predict(step_model, test_loader, dtype, tta)
        history.evaluation = _evaluation(preds, labels, test_loss, d.classes, d.test_images, tta)
    report.line(history.line())
    if record and history.finished and not already_done:
        _record(history, model, data, d, config, extra, resize)
    return history


def _logits(out):
    """The main logits of a model's output (GoogLeNet-style models return a tuple in training)."""
    return out[0] if isinstance(out, (tuple, list)) else out


def _describe_augment(augment):
    if not augment:
        return None
    if callable(augment):
        return getattr(augment, "__name__", type(augment).__name__)
    return ", ".join(str(a) for a in augment)


def _train_epoch(model, loader, opt, sched, scaler, criterion, dtype, history, report) -> dict:
    """One pass over the training set; returns train_loss, train_acc and images.

    Sums stay on the device and are read about ten times an epoch (for the bar and the
    trace), so the GPU is not stalled by a sync after every batch. A NaN or infinite loss
    raises ``Diverged`` naming the step and its learning rate: on the CPU at once (a check
    costs nothing there), on a GPU at the next of those reads, before any checkpoint.
    """
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
        with _cast(dtype):
            out = model(x)
            loss = criterion(out, y)
        if dev.type == "cpu":
            if not torch.isfinite(loss):
                _raise_diverged(loss.item(), i, lrs, len(history.epochs), len(loader))
        else:
            bad = ~torch.isfinite(loss.detach()) & (first_bad < 0)
            first_bad = torch.where(bad, torch.full_like(first_bad, i), first_bad)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        sched.step()
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


def _save(path, history, state, budget, n_params, fingerprint, config):
    weights = state["model"].state_dict()
    if _non_finite(weights):  # never checkpoint a diverged network (fit checks the loss first)
        raise Diverged(f"the weights hold NaN or infinite values after epoch "
                       f"{len(history.epochs)} ({', '.join(_non_finite(weights)[:3])})")
    ckpt = {"format": CHECKPOINT_FORMAT, "epoch": len(history.epochs),
            "finished": history.finished, "model": weights,
            "optimizer": state["opt"].state_dict(), "scheduler": state["sched"].state_dict(),
            "scaler": state["scaler"].state_dict(), "rng": _rng_state(state["loader"]),
            "history": history.to_dict(), "budget": budget.key(), "params": n_params,
            "fingerprint": fingerprint, "config": config}
    _atomic_write(path, lambda f: torch.save(ckpt, f))


def _recipe(config) -> dict | None:
    """The settings a resumed run must share with its checkpoint. Mixed precision and
    ``torch.compile`` are left out: a reconnected Colab session may get another GPU type."""
    return None if config is None else {k: v for k, v in config.items()
                                        if k not in ("amp", "compile")}


def _resume(path, history, state, budget, fingerprint, config, fresh) -> tuple[int, bool]:
    """Pick up the run's checkpoint: returns (epochs already done, whether the run had finished).

    Only a checkpoint of this very model (``model_fingerprint``), budget and recipe is loaded.
    Any other is set aside (``.old``) and the run starts from the beginning, saying why in one
    line, as with ``fresh=True`` (or ``resume=False``); a file that cannot be read is set aside
    as ``.corrupt``, one whose weights hold NaN as ``.nan``, one that does not load into the
    model as ``.mismatch``. Nothing is deleted.
    """
    if fresh:
        if path.exists():
            aside = _set_aside(path, "old")
            print(f"starting afresh (fresh=True or resume=False): the previous checkpoint is "
                  f"set aside as {shown(aside)}")
        return 0, False
    ckpt = load_checkpoint(path)
    if ckpt is None:
        return 0, False
    why = [w for w, bad in (("budget", ckpt["budget"] != budget.key()),
                            ("model", ckpt.get("fingerprint") != fingerprint),
                            ("recipe", _recipe(ckpt.get("config")) != _recipe(config))) if bad]
    if why:
        return _start_afresh(path, "old", f"is of a different {' and '.join(why)}"
                             + (" (its layers, shapes or forward code differ)"
                                if "model" in why else ""))
    if _non_finite(ckpt["model"]):
        return _start_afresh(path, "nan", "holds NaN or infinite weights (a diverged run)")
    try:
        state["model"].load_state_dict(ckpt["model"])
    except RuntimeError as e:
        return _start_afresh(path, "mismatch", f"does not load into this model "
                             f"({_one_line(str(e), path)})")
    stored = History.from_dict(ckpt["history"])
    history.epochs, history.trace = stored.epochs, stored.trace
    done = int(ckpt["epoch"])
    if ckpt.get("finished"):
        history.finished, history.resumed_from = True, stored.resumed_from
        print(f"this run already finished: its weights and history are loaded from checkpoint "
              f"{shown(path)} (fit(..., fresh=True) trains it again)")
        return done, True
    state["opt"].load_state_dict(ckpt["optimizer"])
    state["sched"].load_state_dict(ckpt["scheduler"])
    state["scaler"].load_state_dict(ckpt["scaler"])
    _set_rng_state(ckpt["rng"], state["loader"])
    history.resumed_from = done
    print(f"resuming from epoch {done + 1} of {budget.epochs} (checkpoint {shown(path)})")
    return done, False


def _start_afresh(path: Path, why: str, what: str) -> tuple[int, bool]:
    """Set the checkpoint aside as ``<name>.<why>`` and say in one line why training restarts."""
    aside = _set_aside(path, why)
    print(f"checkpoint {shown(path)} {what}: set aside as {shown(aside)}, training from the start")
    return 0, False


def _record(history, model, data, d, config, extra, resize):
    """Append the finished run to results/<chapter>.json (cpu and full budgets only)."""
    if history.budget.name == "quick":
        return  # quick runs never touch results/
    if getattr(data, "synthetic", False):
        return
    side = resize or 32
    params, macs, how = model_cost(model, (3, side, side))
    rec = {
        "run": history.run, "budget": history.budget.name, "device": history.device_name,
        "torch": torch.__version__,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "epochs": len(history.epochs), "train_images": len(d.train_labels),
        "test_images": len(d.test_labels), "batch_size": history.budget.batch_size,
        "best_test_acc": round(history.best_acc, 4), "final_test_acc": round(history.final_acc, 4),
        "wall_seconds": round(history.wall_seconds, 1),
        "images_per_s": round(history.images_per_s, 1),
        "params": params, "macs": macs, "macs_counted_by": how, "input_size": f"3x{side}x{side}",
        "data_source": history.data_source, "resumed": history.resumed_from is not None,
        "recipe": _plain(config, "recipe"), "extra": _plain(extra or {}, "extra"),
    }
    out = _append_record(history.chapter, rec)
    print(f"result recorded in {shown(out)}")


def _epoch_line(e: dict, epochs: int) -> str:
    w = len(str(epochs))
    return (f"epoch {e['epoch']:>{w}}/{epochs}  train loss {e['train_loss']:.3f} "
            f"acc {100 * e['train_acc']:5.1f}%  test loss {e['test_loss']:.3f} "
            f"acc {100 * e['test_acc']:5.1f}%  {e['seconds']:6.1f} s  "
            f"{e['images_per_s']:7,.0f} images/s")
