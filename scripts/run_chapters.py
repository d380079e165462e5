"""Execute chapter notebooks top to bottom, in place, with a chosen budget.

Usage (from the repository root):
    python scripts/run_chapters.py --budget cpu              # every chapter, in book order
    python scripts/run_chapters.py --budget quick 3 vgg      # chapters by number or name
    python scripts/run_chapters.py --budget full --out gpu-out --missing-first --minutes 9
    python scripts/run_chapters.py --budget full --missing-first --minutes 9 --plan

Chapters are named by number (``3``, ``03``), name (``nin``) or file stem (``03_nin``). Each
notebook runs in a fresh ``python3`` kernel whose working folder is the notebook's own (as
``jupyter nbconvert --execute`` and nbval run it: its set-up cell walks up from there to
``utils/``), with ``CNN_BUDGET`` set. One line per chapter gives its wall time; a table ends
the run.

What a run guarantees, so that a stored notebook tells the true story of one run:

- A notebook is replaced only when every cell ran: it is executed in memory, written to a
  temporary file beside its target and renamed over it. A failing cell stops the run and names
  the chapter, the cell, its first line and the end of the error; the file on disk is unchanged.
- Execution counts are 1..n in order; no timing or widget-state metadata is added, and the
  timestamps a previous run left in the cells' metadata (``metadata.execution``) are removed.
  The notebook's metadata keeps its keys; ``language_info`` is the kernel's.
- No output may contain a path of this machine (the repository's absolute path, the home folder,
  the temporary folder, ``/work``, ``/tmp``, ``/root``, ``/home``): the run fails naming the cell,
  and nothing is rewritten to hide it.
- ``quick`` runs never write to ``results/`` or ``checkpoints/``: both point at a temporary folder
  (results start as a copy, so reference numbers read "unchanged"). ``cpu`` and ``full`` runs use
  ``$CNN_RESULTS_DIR`` and ``$CNN_CHECKPOINT_DIR`` when set, else the repository's folders, and
  then regenerate the leaderboard (``scripts/leaderboard.py``). ``--fresh`` trains from scratch
  instead of loading a finished checkpoint from an earlier run.
- ``--out DIR`` leaves the repository as it is: the notebooks go to ``DIR/chapters/``, the results
  files to ``DIR/results/`` (a copy of ``results/`` that the runs append to), the timings to
  ``DIR/timings.json``, and checkpoints to a temporary folder.
- At the end the written notebooks go through the course's hygiene check
  (``../shared/tools/nbcheck.py``) when it is there.

Choosing what fits in a time budget (the GPU machine, ``scripts/gpu_full_runs.sh``):
``--missing-first`` puts chapters that have no record of this budget in the results first (book
order within each group); ``--minutes M`` stops before a chapter whose estimated time exceeds what
is left of M minutes, and interrupts a cell still running when they are spent. A chapter's
estimate is its measured wall time from an earlier timings file (``--previous``, and
``DIR/timings.json``), else the training time of its latest records of this budget in the results
(epochs x images / measured images per second, i.e. their ``wall_seconds``) plus a minute for the
rest of the notebook; a chapter with no estimate starts only while at least 5 minutes are left.
``--plan`` prints the order and the estimates and runs nothing.

Exit status: 0 when every selected chapter ran and passed the checks; 1 when a cell failed or a
check did not pass; 2 for a usage error; 3 when the time budget stopped the run early.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from utils.results import format_seconds as fmt_seconds  # noqa: E402  "12.3 s", "1 min 02 s"

CHAPTER_FILE = re.compile(r"(\d+)_(.+)\.ipynb")
QUICK_CELL_TIMEOUT = 600                 # seconds; cpu and full have no per-cell limit
NOTEBOOK_OVERHEAD_S = 60                 # the untimed rest of a notebook, on top of its training
UNKNOWN_NEEDS_S = 5 * 60                 # a chapter with no estimate starts only with this left
DEFAULT_KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
MACHINE_PATH = re.compile(r"(?<![\w.])/(?:work|tmp|root|home)/[\w.\-]+")  # as nbcheck.py


class RunFailed(Exception):
    """A chapter that did not pass: the message says where and why."""


class OutOfTime(RunFailed):
    """The time budget ran out while a chapter was running."""


# --- chapters -----------------------------------------------------------------------------------

def find_chapters(folder: Path) -> list[Path]:
    """``NN_name.ipynb`` notebooks in ``folder``, in book order (by number)."""
    found = [p for p in folder.glob("*.ipynb") if CHAPTER_FILE.fullmatch(p.name)]
    return sorted(found, key=lambda p: (int(CHAPTER_FILE.fullmatch(p.name).group(1)), p.name))


def chapter_name(path: Path) -> str:
    """``03_nin.ipynb`` -> ``nin``: the name of its results file."""
    return CHAPTER_FILE.fullmatch(path.name).group(2)


def select(chapters: list[Path], wanted: list[str]) -> list[Path]:
    """The chapters named by number, name or stem (all when none), in book order, once each."""
    if not wanted:
        return chapters
    chosen = set()
    for word in wanted:
        word = Path(word).name.removesuffix(".ipynb")
        hits = [p for p in chapters if word in (p.stem, chapter_name(p))
                or (word.isdigit() and int(word) == int(CHAPTER_FILE.fullmatch(p.name).group(1)))]
        if not hits:
            raise ValueError(f"no chapter '{word}'; the chapters are "
                             + ", ".join(p.stem for p in chapters))
        chosen.update(hits)
    return [p for p in chapters if p in chosen]


# --- estimates and the plan ---------------------------------------------------------------------

def read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def recorded_runs(results: Path, chapter: Path, budget: str) -> list[dict]:
    """The latest record of each run of ``budget`` in ``results/<name>.json``."""
    data = read_json(results / f"{chapter_name(chapter)}.json") or {}
    latest = {}
    for rec in data.get("runs", []):
        if rec.get("budget") == budget:
            latest[rec.get("run")] = rec
    return list(latest.values())


def previous_timings(files: list[Path]) -> dict[tuple[str, str], float]:
    """``{(stem, budget): wall seconds}`` of the chapters that ran to the end in timings files."""
    seen = {}
    for path in files:
        for run in (read_json(path) or {}).get("runs", []):
            if run.get("status") == "ok" and run.get("wall_seconds"):
                seen[(run["chapter"], run["budget"])] = float(run["wall_seconds"])
    return seen


def estimate(chapter: Path, budget: str, results: Path, timings: dict) -> tuple[float | None, str]:
    """Seconds the chapter should take with ``budget``, and where the number comes from."""
    if (chapter.stem, budget) in timings:
        return timings[(chapter.stem, budget)], "an earlier run of the notebook"
    records = recorded_runs(results, chapter, budget)
    seconds = []
    for rec in records:
        if rec.get("epochs") and rec.get("train_images") and rec.get("images_per_s"):
            seconds.append(max(rec["epochs"] * rec["train_images"] / rec["images_per_s"],
                               rec.get("wall_seconds", 0)))
        elif rec.get("wall_seconds"):
            seconds.append(rec["wall_seconds"])
    if seconds:
        return sum(seconds) + NOTEBOOK_OVERHEAD_S, f"{len(seconds)} recorded run(s) + 1 min"
    return None, "no earlier run"


def order(chapters: list[Path], budget: str, results: Path, missing_first: bool) -> list[Path]:
    """Book order; with ``missing_first``, chapters without a record of ``budget`` come first."""
    if not missing_first:
        return chapters
    missing = [c for c in chapters if not recorded_runs(results, c, budget)]
    return missing + [c for c in chapters if c not in missing]


def may_start(seconds_left: float | None, needed: float | None) -> bool:
    """Start a chapter only if its estimate fits (an unknown one needs 5 minutes)."""
    if seconds_left is None:
        return True
    return seconds_left >= (needed if needed is not None else UNKNOWN_NEEDS_S)


def print_plan(chapters, budget, results, timings, minutes) -> None:
    """The order, each chapter's estimate, and what would run if the estimates hold."""
    left = None if minutes is None else minutes * 60
    print(f"plan: budget {budget}, " + ("no time limit" if left is None else
                                        f"{fmt_seconds(left)} available"))
    rows = []
    for ch in chapters:
        seconds, why = estimate(ch, budget, results, timings)
        has = "yes" if recorded_runs(results, ch, budget) else "no"
        go = may_start(left, seconds)
        if go and left is not None:
            left -= seconds if seconds is not None else UNKNOWN_NEEDS_S
        shown = fmt_seconds(seconds) if seconds is not None else "unknown"
        rows.append([ch.stem, has, shown, why, "run" if go else "stop here"])
        if not go:
            break
    print(table(rows, ["chapter", f"{budget} run recorded", "estimate", "from", "plan"]))
    skipped = [c.stem for c in chapters[len(rows):]]
    if skipped:
        print("not reached: " + ", ".join(skipped))
    print(f"(a chapter with no estimate is counted as {fmt_seconds(UNKNOWN_NEEDS_S)} and starts "
          f"only with at least that left)")


# --- running one notebook -----------------------------------------------------------------------

def first_line(source: str) -> str:
    lines = [line for line in source.splitlines() if line.strip()]
    return lines[0].strip() if lines else ""


def check_before(nb, stem: str) -> None:
    """Refuse what nbclient would leave unexecuted (and so out of order)."""
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if not cell.source.strip():
            raise RunFailed(f"{stem}: cell {i} is an empty code cell, which is never executed "
                            "(it would break the execution order): delete it")
        if "skip-execution" in cell.metadata.get("tags", []):
            raise RunFailed(f"{stem}: cell {i} is tagged skip-execution; a re-executed notebook "
                            "must run every code cell")


def execute(nb, stem: str, cwd: Path, env: dict, cell_timeout: float | None,
            deadline: float | None):
    """Run every cell of ``nb`` in a fresh kernel. Raises RunFailed/OutOfTime saying where."""
    current = {"index": None}

    def timeout_for(cell):
        limits = [t for t in (cell_timeout, deadline and deadline - time.monotonic()) if t]
        return max(1, int(min(limits))) if limits else None

    client = NotebookClient(
        nb, kernel_name=nb.metadata.get("kernelspec", {}).get("name", "python3"),
        timeout_func=timeout_for, startup_timeout=120, record_timing=False,
        store_widget_state=False, allow_errors=False,
        resources={"metadata": {"path": str(cwd)}},
        on_cell_start=lambda cell, cell_index: current.update(index=cell_index))
    try:
        client.execute(env=env)
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as exc:
        i = current["index"]
        cell = nb.cells[i] if i is not None else None
        where = (f"{stem}, cell {i} (In [{cell.get('execution_count') or '?'}]): "
                 f"{first_line(cell.source)}" if cell is not None else f"{stem}, starting the kernel")
        if isinstance(exc, CellTimeoutError) and deadline and time.monotonic() >= deadline - 2:
            raise OutOfTime(f"{where}\n  stopped: the time budget (--minutes) ran out") from None
        raise RunFailed(f"{where}\n" + error_tail(cell, exc)) from None
    except Exception as exc:                  # the kernel did not start, or the client broke
        raise RunFailed(f"{stem}: {type(exc).__name__}: {exc}") from None


def error_tail(cell, exc, lines: int = 12) -> str:
    """The last lines of the cell's error (its traceback without colours), indented."""
    text = ""
    for out in (cell.get("outputs", []) if cell is not None else []):
        if out.get("output_type") == "error":
            text = "\n".join(out.get("traceback", [])) or f"{out.get('ename')}: {out.get('evalue')}"
    text = ANSI.sub("", text or str(exc)).rstrip()
    return "\n".join("  " + line for line in text.splitlines()[-lines:])


def output_text(out) -> str:
    """Everything readable in one output: stream text, text-like data, a traceback."""
    parts = [out.get("text", "")] + out.get("traceback", [])
    for kind, value in out.get("data", {}).items():
        if not kind.startswith("image/"):
            parts.append(value if isinstance(value, str) else json.dumps(value))
    return ANSI.sub("", "\n".join(p if isinstance(p, str) else "".join(p) for p in parts))


def machine_paths() -> re.Pattern:
    """This machine's paths that must not reach a stored output."""
    places = {str(ROOT), os.path.realpath(ROOT), tempfile.gettempdir(),
              os.path.realpath(tempfile.gettempdir()), os.path.expanduser("~")}
    places = sorted((p.rstrip("/") for p in places if p.rstrip("/")), key=len, reverse=True)
    return re.compile("|".join([MACHINE_PATH.pattern] + [
        rf"(?<![\w.]){re.escape(p)}(?![\w.\-])" for p in places]))


def check_after(nb, stem: str) -> None:
    """Execution counts 1..n in order, and no machine path in any output."""
    code = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    counts = [c.get("execution_count") for _, c in code]
    if counts != list(range(1, len(code) + 1)):
        raise RunFailed(f"{stem}: execution counts are {counts}, not 1..{len(code)} in order")
    pattern = machine_paths()
    for i, cell in code:
        for out in cell.get("outputs", []):
            m = pattern.search(output_text(out))
            if m:
                raise RunFailed(f"{stem}, cell {i} (In [{cell.execution_count}]): "
                                f"{first_line(cell.source)}\n  its output contains a path of this "
                                f"machine: {m.group(0)!r}. Print paths relative to the "
                                "repository (or not at all); the notebook was not written.")


def normalise(nb, metadata_before: dict) -> None:
    """The notebook's metadata as it was, with the kernel's language_info; no timestamps."""
    language_info = nb.metadata.get("language_info")
    nb.metadata = nbformat.from_dict(metadata_before)
    nb.metadata.setdefault("kernelspec", DEFAULT_KERNELSPEC)
    if language_info:
        nb.metadata["language_info"] = language_info
    for cell in nb.cells:
        cell.metadata.pop("execution", None)


def write_atomically(nb, target: Path) -> None:
    """Write through a temporary file beside ``target``, then rename it over ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            nbformat.write(nb, f)
        if target.exists():
            shutil.copymode(target, tmp)
        else:
            os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def run_chapter(path: Path, target: Path, env: dict, cell_timeout, deadline) -> int:
    """Execute ``path`` and write it to ``target`` if it passes. Returns its number of code cells."""
    nb = nbformat.read(path, as_version=4)
    check_before(nb, path.stem)
    metadata_before = json.loads(json.dumps(nb.metadata))
    execute(nb, path.stem, path.parent, env, cell_timeout, deadline)
    normalise(nb, metadata_before)
    check_after(nb, path.stem)
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as exc:
        raise RunFailed(f"{path.stem}: the executed notebook is not valid nbformat: {exc}") from None
    write_atomically(nb, target)
    return sum(c.cell_type == "code" for c in nb.cells)


# --- the whole run ------------------------------------------------------------------------------



def table(rows, headers) -> str:
    widths = [max(len(str(r[i])) for r in [headers] + rows) for i in range(len(headers))]
    fmt = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    return "\n".join([fmt(headers), fmt(["-" * w for w in widths])] + [fmt(r) for r in rows])


def device_info() -> dict:
    """The GPU (torch.cuda.get_device_name) or CPU, and the torch version, as the kernels see them."""
    probe = ("import json, platform, torch; cuda = torch.cuda.is_available(); print(json.dumps({"
             "'device': torch.cuda.get_device_name(0) if cuda else 'CPU', "
             "'torch': torch.__version__, 'python': platform.python_version()}))")
    try:
        out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                             timeout=300, check=True).stdout
        return json.loads(out.strip().splitlines()[-1])
    except (subprocess.SubprocessError, ValueError, IndexError, OSError):
        return {"device": "unknown", "torch": "unknown"}


def folders(args, source: Path, scratch: Path) -> tuple[Path, dict]:
    """(where the notebooks are written, the kernel's environment variables)."""
    env = dict(os.environ, CNN_BUDGET=args.budget)
    if args.budget == "quick" or args.out:
        results = (args.out / "results") if args.out else scratch / "results"
        results.mkdir(parents=True, exist_ok=True)
        for f in source.glob("*.json"):              # a copy to read, and for the runs to extend
            if not (results / f.name).exists():
                shutil.copy2(f, results / f.name)
        env["CNN_RESULTS_DIR"] = str(results)
    if args.budget == "quick" or args.out or args.fresh:
        if args.budget == "quick" or args.fresh or not os.environ.get("CNN_CHECKPOINT_DIR"):
            env["CNN_CHECKPOINT_DIR"] = str(scratch / "checkpoints")
    written = (args.out / "chapters") if args.out else args.chapters_dir
    return written, env


def save_timings(path: Path, runs: list[dict]) -> None:
    old = (read_json(path) or {}).get("runs", []) if path.exists() else []
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"runs": old + runs}, indent=1) + "\n", encoding="utf-8")


def nbcheck(paths: list[Path]) -> bool:
    """The course's notebook check on the written notebooks; True when it finds nothing."""
    tool = next((p for p in (ROOT.parent / "shared" / "tools" / "nbcheck.py",
                             ROOT / "shared" / "tools" / "nbcheck.py") if p.is_file()), None)
    if tool is None:
        print("nbcheck: ../shared/tools/nbcheck.py is not here; skipped")
        return True
    spec = importlib.util.spec_from_file_location("nbcheck", tool)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    problems = [f"{p.name}: {problem}" for p in paths for problem in module.check(str(p))]
    for line in problems:
        print(f"nbcheck: {line}")
    print(f"nbcheck: {len(paths)} notebook(s) written, {len(problems)} problem(s)")
    return not problems


def leaderboard(args, env: dict) -> None:
    """Regenerate the leaderboard after recorded runs into the repository's results/."""
    results = Path(env.get("CNN_RESULTS_DIR") or ROOT / "results")
    if args.budget == "quick" or args.out:
        return
    if results.resolve() != (ROOT / "results").resolve():
        print("leaderboard: the results went to $CNN_RESULTS_DIR, not results/; not regenerated")
        return
    subprocess.run([sys.executable, str(ROOT / "scripts" / "leaderboard.py")], cwd=ROOT, check=False)


def parse(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n".join(__doc__.splitlines()[2:7]))
    p.add_argument("chapters", nargs="*", help="numbers (3, 03), names (nin) or stems (03_nin); "
                   "default: all, in book order")
    p.add_argument("--budget", choices=("quick", "cpu", "full"), required=True)
    p.add_argument("--chapters-dir", type=Path, default=ROOT / "chapters",
                   help="where the NN_name.ipynb notebooks are (default: chapters/)")
    p.add_argument("--out", type=Path, help="write notebooks, results and timings.json here "
                   "instead of in place")
    p.add_argument("--timeout", type=float, help="seconds per cell (default: 600 for quick, "
                   "none for cpu and full; 0 for none)")
    p.add_argument("--fresh", action="store_true", help="checkpoints in a temporary folder: train "
                   "from scratch, never load an earlier run's checkpoint")
    p.add_argument("--missing-first", action="store_true", help="chapters with no record of this "
                   "budget in the results first")
    p.add_argument("--minutes", type=float, help="time budget: stop before a chapter that would "
                   "not fit, interrupt one still running when it is spent")
    p.add_argument("--previous", type=Path, action="append", default=[],
                   help="a timings.json from an earlier run, for the estimates (repeatable)")
    p.add_argument("--timings", type=Path, help="write the timings here (default with --out: "
                   "DIR/timings.json)")
    p.add_argument("--keep-going", action="store_true", help="after a failing chapter, run the rest")
    p.add_argument("--plan", action="store_true", help="print the order and estimates; run nothing")
    args = p.parse_args(argv)
    if args.timeout is None:
        args.timeout = QUICK_CELL_TIMEOUT if args.budget == "quick" else 0
    if args.out and args.timings is None:
        args.timings = args.out / "timings.json"
    return args


def main(argv=None) -> int:
    start = time.monotonic()
    args = parse(argv)
    deadline = start + args.minutes * 60 if args.minutes is not None else None
    try:
        chapters = select(find_chapters(args.chapters_dir), args.chapters)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not chapters:
        print(f"no chapter notebooks (NN_name.ipynb) in {os.path.relpath(args.chapters_dir)}")
        return 2
    source = Path(os.environ.get("CNN_RESULTS_DIR") or ROOT / "results")
    timings = previous_timings(args.previous + [p for p in [args.timings] if p and p.exists()])
    chapters = order(chapters, args.budget, source, args.missing_first)
    if args.plan:
        print_plan(chapters, args.budget, source, timings, args.minutes)
        return 0

    scratch = Path(tempfile.mkdtemp(prefix="run-chapters-"))
    try:
        written_dir, env = folders(args, source, scratch)
        info = device_info() if args.timings else {}
        rows, runs, written, status = [], [], [], 0
        print(f"running {len(chapters)} chapter(s) with CNN_BUDGET={args.budget}"
              + (f", {fmt_seconds(args.minutes * 60)} available" if deadline else ""))
        for n, path in enumerate(chapters, 1):
            seconds, why = estimate(path, args.budget, source, timings)
            left = deadline - time.monotonic() if deadline else None
            if not may_start(left, seconds):
                need = fmt_seconds(seconds) if seconds is not None else "unknown (needs 5 min)"
                print(f"[{n}/{len(chapters)}] {path.stem}: not started, estimate {need}, "
                      f"{fmt_seconds(max(left, 0))} left; stopping here")
                status = status or 3
                break
            t0 = time.monotonic()
            target = written_dir / path.name
            try:
                cells = run_chapter(path, target, env, args.timeout, deadline)
                outcome, message = "ok", ""
                written.append(target)
            except RunFailed as exc:
                cells, outcome, message = "-", ("out of time" if isinstance(exc, OutOfTime)
                                                else "FAILED"), str(exc)
            wall = time.monotonic() - t0
            print(f"[{n}/{len(chapters)}] {path.stem}: " + (
                f"ok in {fmt_seconds(wall)} ({cells} code cells, budget {args.budget})"
                if outcome == "ok" else f"{outcome} after {fmt_seconds(wall)}"), flush=True)
            rows.append([path.stem, args.budget, outcome, fmt_seconds(wall), cells])
            runs.append(dict(chapter=path.stem, budget=args.budget, status=outcome.lower(),
                             wall_seconds=round(wall, 1), **info,
                             date=datetime.datetime.now(datetime.timezone.utc)
                             .isoformat(timespec="seconds")))
            if args.timings:
                save_timings(args.timings, runs[-1:])
            if message:
                print(f"\n{outcome}: {message}\n", file=sys.stderr, flush=True)
                status = 3 if outcome == "out of time" else 1
                if outcome == "out of time" or not args.keep_going:
                    break
        print("\n" + table(rows, ["chapter", "budget", "status", "wall time", "code cells"]))
        print(f"total {fmt_seconds(time.monotonic() - start)}"
              + (f"; timings in {os.path.relpath(args.timings)}" if args.timings else ""))
        if runs:
            leaderboard(args, env)
        if written and not nbcheck(written):
            status = status or 1
        return status
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
