"""The results records and where things are kept: the one owner of ``results/<chapter>.json``.

- **Paths**: ``results_dir`` (``$CNN_RESULTS_DIR`` or ``<repo>/results``), ``results_path``,
  ``checkpoint_dir`` (``$CNN_CHECKPOINT_DIR``, ``<repo>/checkpoints``, or the system's temporary
  folder for the quick budget), ``checkpoint_path``; ``shown(path)``, a path as it may be
  printed (never an absolute path of this machine); ``atomic_write`` (never half a file);
  ``set_aside`` (an unusable file is renamed, never deleted).
- **The schema**: a file is ``{"chapter", "reference", "runs"}``; each run is a ``Record``
  (what ``utils.train.fit`` writes at the end of a ``cpu`` or ``full`` run); ``reference``
  holds the paper's numbers (``record_reference``).
- **The reader**: ``read_results`` reads every file, in the book's order, and works out what the
  figures (``utils.plot``) and the leaderboard (``scripts/leaderboard.py``) show: the latest
  record of each run, the network's size, the paper's error rates and its headline result.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import numbers
import os
import re
import tempfile
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent


# --- paths ----------------------------------------------------------------------------------------

def safe_name(name: str) -> str:
    """A run or chapter name as it may appear in a file name."""
    name = str(name).strip()
    if not name:
        raise ValueError("run and chapter names must not be empty")
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def checkpoint_dir(budget=None) -> Path:
    """``$CNN_CHECKPOINT_DIR`` if set; else ``<repo>/checkpoints``, except for the quick budget.

    Quick runs (tests, CI) checkpoint to the system's temporary folder, so that running the
    notebooks leaves the repository as it was. ``budget``: a ``train.Budget`` or its name.
    """
    if os.environ.get("CNN_CHECKPOINT_DIR"):
        return Path(os.environ["CNN_CHECKPOINT_DIR"])
    if getattr(budget, "name", budget) == "quick":
        return Path(tempfile.gettempdir()) / "cnn-history-checkpoints"
    return REPO / "checkpoints"


def results_dir() -> Path:
    """``$CNN_RESULTS_DIR`` or ``<repo>/results``."""
    return Path(os.environ["CNN_RESULTS_DIR"]) if os.environ.get("CNN_RESULTS_DIR") \
        else REPO / "results"


_default_results_dir = results_dir  # for read_results, whose argument has the same name


def checkpoint_path(chapter: str, run: str, budget) -> Path:
    """``checkpoint_dir(budget)``, file ``<chapter>-<run>-<budget>.pt``."""
    name = getattr(budget, "name", budget)
    return checkpoint_dir(budget) / f"{safe_name(chapter)}-{safe_name(run)}-{name}.pt"


def results_path(chapter: str) -> Path:
    """``results_dir()``, file ``<chapter>.json``."""
    return results_dir() / f"{safe_name(chapter)}.json"


def _relative(path: Path, root: Path) -> str | None:
    """``path`` relative to ``root`` (POSIX), trying both as written and with links resolved."""
    for p in dict.fromkeys((Path(os.path.abspath(path)), path.resolve())):
        for r in dict.fromkeys((Path(os.path.abspath(root)), root.resolve())):
            if p.is_relative_to(r):
                return p.relative_to(r).as_posix()
    return None


def shown(path) -> str:
    """A path as it may be printed: never an absolute path of this machine (those must not
    reach a stored notebook).

    In this order: relative to the folder of ``$CNN_CHECKPOINT_DIR``, ``$CNN_RESULTS_DIR`` or
    ``$CIFAR10_DIR`` (``$CNN_RESULTS_DIR/alexnet.json``), to the repository (``results/alexnet.json``), to the
    temporary folder (``<temporary folder>/...``), to the folder holding the repository
    (``../shared/data/...``), to the home folder (``~/.cache/...``); else the file's name alone.
    """
    path = Path(path)
    for var in ("CNN_CHECKPOINT_DIR", "CNN_RESULTS_DIR", "CIFAR10_DIR"):
        root = os.environ.get(var)
        if root and (rel := _relative(path, Path(root).expanduser())) is not None:
            return f"${var}/{rel}" if rel not in ("", ".") else f"${var}"
    if (rel := _relative(path, REPO)) is not None:
        return rel or "."
    if (rel := _relative(path, Path(tempfile.gettempdir()))) is not None:
        return f"<temporary folder>/{rel}"
    if (rel := _relative(path, REPO.parent)) is not None:
        return f"../{rel}"
    home = Path(os.path.expanduser("~"))
    if home != Path("/") and (rel := _relative(path, home)) is not None:
        return f"~/{rel}"
    return path.name


def scrub(message: str, path: Path) -> str:
    """An error message without the machine's absolute paths (it may reach a notebook)."""
    path = Path(path)
    for p in (path.resolve(), path, path.resolve().parent, path.parent):
        if str(p) not in (".", ""):
            message = message.replace(str(p), shown(p) if p.suffix else "<folder>")
    return message


def one_line(message: str, path: Path, width: int = 200) -> str:
    """An error message on one line, without machine paths, shortened at a word boundary."""
    return textwrap.shorten(scrub(message, path), width, placeholder=" …")


def remove_stale_temporaries(path: Path) -> None:
    """Delete ``.<name>.*.tmp`` files that a process killed in mid-write left beside ``path``."""
    path = Path(path)
    if path.parent.is_dir():
        for tmp in path.parent.glob(f".{path.name}.*.tmp"):
            with contextlib.suppress(OSError):
                tmp.unlink()


def atomic_write(path: Path, write) -> None:
    """``write(f)`` into a temporary file in the same folder, then rename: never half a file.

    A temporary file left by an earlier write that was killed (``kill -9``) is removed first.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
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
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def set_aside(path: Path, why: str) -> Path:
    """Rename a checkpoint or results file that cannot be used, keeping it for inspection:
    ``<name>.<why>``, or ``<name>.<why>-2``, ``-3``... when that exists already."""
    path = Path(path)
    aside, k = path.with_name(f"{path.name}.{why}"), 1
    while aside.exists():
        k += 1
        aside = path.with_name(f"{path.name}.{why}-{k}")
    os.replace(path, aside)
    return aside


def format_seconds(s: float) -> str:
    """12.3 s, 4 min 05 s, 1 h 02 min."""
    if s < 60:
        return f"{s:.1f} s"
    if s < 3600:
        return f"{int(s // 60)} min {int(s % 60):02d} s"
    return f"{int(s // 3600)} h {int(s % 3600 // 60):02d} min"


# --- the schema -----------------------------------------------------------------------------------

@dataclass
class Record:
    """One finished run, as stored in ``results/<chapter>.json`` (fields in this order).

    Accuracies are fractions (0.61 = 61%); ``macs`` per image of ``input_size`` (None when they
    could not be counted; ``macs_counted_by`` says how); ``recipe`` is the run's ``Recipe`` as a
    plain dict with the run's other settings (precision, seed, TTA...); ``extra`` is what the
    chapter passed to ``fit(extra=...)``.
    """

    run: str
    budget: str
    device: str
    torch: str
    date: str
    epochs: int
    train_images: int
    test_images: int
    batch_size: int
    best_test_acc: float
    final_test_acc: float
    wall_seconds: float
    images_per_s: float
    params: int
    macs: int | None
    macs_counted_by: str
    input_size: str
    data_source: str
    resumed: bool
    recipe: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Plain JSON values, in the fields' order."""
        return plain({f.name: getattr(self, f.name) for f in dataclasses.fields(self)}, "record")

    @classmethod
    def from_dict(cls, d: dict) -> "Record":
        """A stored record; ValueError naming the fields it lacks (other keys are ignored)."""
        names = [f.name for f in dataclasses.fields(cls)]
        required = [f.name for f in dataclasses.fields(cls)
                    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
        missing = [k for k in required if k not in d]
        if missing:
            raise ValueError(f"record of run {d.get('run')!r} lacks {', '.join(missing)}")
        return cls(**{k: d[k] for k in names if k in d})


def plain(obj, where="value"):
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
        return [plain(v, where) for v in obj]
    if isinstance(obj, dict):
        return {str(k): plain(v, f"{where}[{k!r}]") for k, v in obj.items()}
    if hasattr(obj, "params") and hasattr(obj, "macs"):  # an arithmetic.Summary
        return {"params": int(obj.params), "macs": int(obj.macs)}
    if hasattr(obj, "value"):  # an arithmetic.Worked
        return plain(obj.value, where)
    raise TypeError(f"{where}: {type(obj).__name__} cannot be stored in a results file "
                    f"(use numbers, strings, lists and dicts)")


def _json_dump(obj) -> bytes:
    return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def read_file(path: Path, chapter: str) -> dict:
    """One results file's contents, to add to it; an unreadable file is set aside (never
    overwritten) and an empty one returned."""
    empty = {"chapter": chapter, "reference": {}, "runs": []}
    if not path.exists():
        return empty
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or not isinstance(data.get("runs", []), list):
            raise ValueError("expected an object with a 'runs' list")
    except (ValueError, UnicodeDecodeError) as e:
        aside = set_aside(path, "corrupt")
        print(f"results file {shown(path)} is unreadable ({scrub(str(e), path)}); set aside as "
              f"{shown(aside)}, starting a new one")
        return empty
    out = {"chapter": data.get("chapter", chapter), "reference": data.get("reference", {}),
           "runs": data.get("runs", [])}
    out.update({k: v for k, v in data.items() if k not in out})
    return out


def append_record(chapter: str, record: Record | dict) -> Path:
    """Add one run's record to ``results/<chapter>.json``; returns the file's path."""
    rec = record.to_dict() if isinstance(record, Record) else Record.from_dict(record).to_dict()
    path = results_path(chapter)
    data = read_file(path, safe_name(chapter))
    data["runs"].append(rec)
    atomic_write(path, lambda f: f.write(_json_dump(data)))
    return path


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
    data = read_file(path, safe_name(chapter))
    new = dict(data["reference"])
    for key, value in (("imagenet", imagenet), ("paper", paper), ("cifar", cifar)):
        if value is not None:
            new[key] = plain(value, key)
    quick = os.environ.get("CNN_BUDGET", "").strip().lower() == "quick"
    if new != data["reference"] and not quick:
        data["reference"] = new
        atomic_write(path, lambda f: f.write(_json_dump(data)))
    return new


# --- the reader -----------------------------------------------------------------------------------

#: Which of a paper's results stands for the chapter's network in the comparison figures and in
#: the leaderboard's reference table: one network, on the ImageNet validation set, in the
#: configuration the chapter builds. A path of keys into the record's ``reference["paper"]``;
#: a chapter not listed here is represented by the first ImageNet top-1/top-5 result it records.
HEADLINE = {"alexnet": "ilsvrc2012_one_cnn", "zfnet": "one_convnet",
            "vgg": "table_3_single_scale/D", "inception_v4": "single_crop/Inception-v4",
            "resnext": "table_3/ResNeXt-50 (32×4d)",
            "googlenet": "table_3_val_top5_error/models 1, crops 1",
            "mobilenet": "table_6_width/1.0", "mobilenet_v2": "table_4/MobileNetV2",
            "efficientnet": "table_2_icml/B0"}

_TOPK_KEY = re.compile(r"top([15])_error(?:_(val|test))?(?:_(\w+))?")
#: Papers from 2017 on report accuracy: ``top1=72.0`` (or ``top1_accuracy``) is a top-1 accuracy
#: in %, read as the error 100 − 72.0 = 28.0.
_TOPK_ACC_KEY = re.compile(r"top([15])(?:_accuracy)?")
_TOPK_NAME = re.compile(r"[,;]?\s*\b(?:(val|validation|test)\s+)?(top-1/top-5|top-1|top-5)\s*$")
_SPLITS = {"val": "validation", "validation": "validation", "test": "test"}
_WORDS = ((r"\bilsvrc[ -]?(\d{4})\b", r"ILSVRC-\1"), (r"\bcifar[ -]?10\b", "CIFAR-10"),
          (r"\bcnn(s?)\b", r"CNN\1"), (r"\btop([15])\b", r"top-\1"), (r"\bpercent\b", ""),
          (r"\bval\b", "validation"))


def is_number(v) -> bool:
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
    ``source`` the nearest ``source`` above it (the paper's table), ``values`` a list of
    ``{"metric", "split", "qualifier", "value"}`` (metric "top-1", "top-5" or "error"; split
    "validation", "test" or None; value in %). ``imagenet`` is True for top-1/top-5
    classification errors and False for other errors (MNIST, CIFAR-10). Three shapes are read:
    keys such as ``top5_error_val`` side by side, a ``value`` whose name ends in "val
    top-1/top-5" or "test top-5", and numbers under a key that contains "error". A list of
    dicts is a table's rows: each row is read like a dict, under a name made of its other fields
    ("models 1, crops 1"; a key ``rows`` adds nothing to the path). Accuracies stored as ``top1``
    or ``top5_accuracy`` (in %) are read as errors, 100 minus the accuracy, with the accuracy's
    decimals, where the same dict has no error for that metric. Anything else (sizes, hardware,
    notes) is not a result.
    """
    found = []

    def add(path, what, values, source, imagenet):
        found.append({"keys": list(path), "path": "/".join(path), "what": what, "values": values,
                      "source": source, "imagenet": imagenet})

    def walk(node, path, source):
        source = node.get("source", source) if isinstance(node.get("source"), str) else source
        topk = [(k, v) for k, v in node.items() if _TOPK_KEY.fullmatch(k) and is_number(v)]
        values = []
        for k, v in topk:
            m = _TOPK_KEY.fullmatch(k)
            values.append({"metric": f"top-{m.group(1)}", "split": _SPLITS.get(m.group(2)),
                           "qualifier": m.group(3) and m.group(3).replace("_", " "),
                           "value": v})
        for k, v in node.items():
            m = _TOPK_ACC_KEY.fullmatch(k)
            metric = m and f"top-{m.group(1)}"
            if m and is_number(v) and not any(x["metric"] == metric for x in values):
                values.append({"metric": metric, "split": None, "qualifier": None,
                               "value": _complement(v)})
        if values:
            add(path, _words(" ".join(path)), values, source, True)
            return
        if "value" in node and path:
            m = _TOPK_NAME.search(path[-1])
            raw = node["value"] if isinstance(node["value"], list) else [node["value"]]
            metrics = m.group(2).split("/") if m else []
            if m and len(raw) == len(metrics) and all(is_number(v) for v in raw):
                add(path, path[-1][:m.start()].strip(" ,;"),
                    [{"metric": mt, "split": _SPLITS.get(m.group(1)), "qualifier": None,
                      "value": v} for mt, v in zip(metrics, raw)], source, True)
            return
        if path and "error" in path[-1]:
            nums = [(k, v) for k, v in node.items() if is_number(v)]
            if nums:
                add(path, _words(path[-1]), [{"metric": "error", "split": None,
                                              "qualifier": _words(k), "value": v}
                                             for k, v in nums], source, False)
                return
        for k, v in node.items():
            if isinstance(v, dict):
                walk(v, path + [k], source)
            elif isinstance(v, list) and v and all(isinstance(row, dict) for row in v):
                for row in v:   # a table's rows, each named by its other fields: "models 1, crops 1"
                    name = ", ".join(f"{f} {x}" for f, x in row.items()
                                     if not _TOPK_KEY.fullmatch(f) and "error" not in f
                                     and not _TOPK_ACC_KEY.fullmatch(f))
                    walk(row, path + ([name] if k == "rows" else [k, name]), source)
            elif "error" in k and is_number(v):
                add(path + [k], _words(k), [{"metric": "error", "split": None, "qualifier": None,
                                              "value": v}], source, False)

    if isinstance(paper, dict):
        walk(paper, [], None)
    return found


def _complement(accuracy: float) -> float:
    """The error for an accuracy in %, with the accuracy's decimals: 70.6 -> 29.4 (not 29.400…06)."""
    text = repr(float(accuracy))
    decimals = len(text.split(".")[1]) if "." in text and "e" not in text else 6
    return round(100 - accuracy, decimals)


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


def latest(runs) -> list[dict]:
    """The most recent record of each (run, budget), full budget first, runs in recorded order."""
    last, first_seen = {}, {}
    for i, rec in enumerate(runs):
        key = (rec.get("run", "?"), rec.get("budget", "?"))
        last[key] = rec
        first_seen.setdefault(key[0], i)
    budgets = {"full": 0, "cpu": 1}
    return [last[k] for k in sorted(last, key=lambda k: (first_seen[k[0]], budgets.get(k[1], 9)))]


def read_results(results_dir=None, chapters_dir=None) -> list[dict]:
    """Every ``<results_dir>/<chapter>.json``, in the book's order: the one reader of the results
    files, used by the figures (``utils.plot``) and by ``scripts/leaderboard.py``.

    ``results_dir`` defaults to ``results_dir()``, ``chapters_dir`` to the repository's
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
    folder = Path(results_dir) if results_dir is not None else _default_results_dir()
    pages = chapter_pages(chapters_dir)
    chapters = []
    for path in sorted(folder.glob("*.json")):
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
        if is_number(net.get("params")):
            network = {"name": net.get("network"), "params": net["params"],
                       "macs": net.get("macs"), "imagenet": True}
        elif is_number(paper.get("params")):
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
                         "latest": latest(data.get("runs") or []), "network": network,
                         "results": results, "headline": headline, "note": note})
    return sorted(chapters, key=lambda c: (c["number"] is None, c["number"] or 0, c["chapter"]))


def best_runs(chapters) -> list[dict]:
    """One point per chapter and budget (full, cpu): of the latest record of each of the
    chapter's runs, the one with the highest best test accuracy, plus ``chapter`` and ``name``.

    ``chapters``: what ``read_results`` returned (records of other budgets are left out).
    """
    points = []
    for c in chapters:
        best = {}
        for r in c["latest"]:
            b = r.get("budget")
            if b not in ("cpu", "full") or not is_number(r.get("best_test_acc")):
                continue
            if b not in best or r["best_test_acc"] > best[b]["best_test_acc"]:
                best[b] = r
        points += [{**best[b], "chapter": c["chapter"], "name": c["name"]}
                   for b in ("full", "cpu") if b in best]
    return points
