"""Write the leaderboard's tables (book/_leaderboard_table.md) from results/*.json.

Usage (from the repository root):
    python scripts/leaderboard.py           # rewrite the tables (the file changes only if they did)
    python scripts/leaderboard.py --check   # change nothing; exit 1 if the file is out of date

The book is built with execution off, so the page cannot compute its tables at build time:
this script does it, book/leaderboard.md includes the result, and tests/test_book.py fails when
the committed tables no longer match the results files. Run it after a chapter records a result.

Each results file (written by utils.train) holds ``reference`` (the ImageNet configuration's
parameters and multiply-adds, the paper's own numbers with their source, the CIFAR-10
configuration) and ``runs`` (one record per cpu or full training run). The first table lists
the latest record of each chapter, run and budget; the second the reference numbers. Chapters
come in the book's order (the number in the notebook's file name).
"""

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from utils.arithmetic import fmt, fmt_big  # noqa: E402
from utils.train import format_seconds  # noqa: E402

TABLE = ROOT / "book" / "_leaderboard_table.md"
BUDGET_ORDER = {"full": 0, "cpu": 1}


def chapter_pages(root: Path = ROOT) -> dict[str, tuple[int, str]]:
    """``{"alexnet": (1, "chapters/01_alexnet"), ...}`` from the notebooks' file names."""
    pages = {}
    for nb in sorted((root / "chapters").glob("*.ipynb")):
        m = re.fullmatch(r"(\d+)_(.+)", nb.stem)
        if m:
            pages[m.group(2)] = (int(m.group(1)), f"chapters/{nb.stem}")
    return pages


def load(results_dir: Path) -> list[dict]:
    """Every results file, in the book's order; a file that is not valid JSON stops the script."""
    pages = chapter_pages(results_dir.parent)
    files = []
    for path in sorted(results_dir.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as e:
            sys.exit(f"{path.relative_to(results_dir.parent)} is not valid JSON: {e}")
        data.setdefault("chapter", path.stem)
        data["_order"], data["_page"] = pages.get(path.stem, (10**6, None))
        files.append(data)
    return sorted(files, key=lambda d: (d["_order"], d["chapter"]))


def chapter_cell(data: dict) -> str:
    """The chapter's page title as a link (Sphinx fills in the title), or its name."""
    return f"{{doc}}`../{data['_page']}`" if data["_page"] else data["chapter"]


def latest_runs(data: dict) -> list[dict]:
    """The most recent record of each (run, budget), full budget first, runs in recorded order."""
    latest, first_seen = {}, {}
    for i, rec in enumerate(data.get("runs", [])):
        key = (rec.get("run", "?"), rec.get("budget", "?"))
        latest[key] = rec
        first_seen.setdefault(key[0], i)
    return [latest[k] for k in sorted(latest, key=lambda k: (first_seen[k[0]],
                                                             BUDGET_ORDER.get(k[1], 9)))]


def pct(x) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def run_row(data: dict, rec: dict) -> str:
    jpeg = "¹" if "JPEG" in str(rec.get("data_source", "")) else ""
    training = (f"{fmt(rec['train_images'])} images × {rec['epochs']} epochs, batch {rec['batch_size']}"
                if {"train_images", "epochs", "batch_size"} <= set(rec) else "–")
    size = " / ".join(fmt_big(rec[k]) if rec.get(k) is not None else "–" for k in ("params", "macs"))
    cells = [
        chapter_cell(data), f"`{rec.get('run', '?')}`",
        f"{rec.get('budget', '?')}, {rec.get('device', '?')}, {str(rec.get('date', ''))[:10]}",
        training,
        f"{pct(rec.get('best_test_acc'))} / {pct(rec.get('final_test_acc'))}{jpeg}",
        format_seconds(rec["wall_seconds"]) if "wall_seconds" in rec else "–",
        size,
    ]
    return "| " + " | ".join(cells) + " |"


def number(value) -> str:
    """As stored, with thousands separators: 34944 -> "34,944", 17.0 -> "17.0", 0.95 -> "0.95"."""
    return f"{value:,}"


def describe(numbers, top: bool = True) -> str:
    """A stored reference dict in words, one entry a line: ``top5 error 15.3 (Table 2)``.

    Nested dicts (one per table of the paper, say) become one line each, led by their name.
    """
    if not isinstance(numbers, dict):
        return number(numbers) if isinstance(numbers, (int, float)) and not isinstance(
            numbers, bool) else str(numbers)
    parts = []
    for key, value in numbers.items():
        if key == "source":
            continue
        label = re.sub(r"\bmacs\b", "MACs", re.sub(r"\bparams\b", "parameters", key.replace("_", " ")))
        if isinstance(value, dict):
            parts.append(f"**{label}**: {describe(value, top=False)}")
        else:
            parts.append(f"{label} {describe(value, top=False)}")
    text = ("<br>" if top else ", ").join(parts) or "–"
    if numbers.get("source"):
        text += f" ({numbers['source']})"
    return text.replace("|", "\\|") if top else text  # a | would end the table cell


def render(results_dir: Path = ROOT / "results") -> str:
    files = load(results_dir)
    lines = ["% Written by scripts/leaderboard.py from results/*.json: do not edit by hand.", ""]
    runs = [(d, r) for d in files for r in latest_runs(d)]
    lines += ["## Training runs on CIFAR-10", ""]
    if runs:
        lines += [
            "| Chapter | Run | Budget, device, date | Training | Test accuracy (best / final) "
            "| Wall time | Parameters / MACs |",
            "|---|---|---|---|---|---|---|",
        ] + [run_row(d, r) for d, r in runs] + [
            "",
            "¹ Measured on the offline JPEG copy of CIFAR-10 (re-encoded at quality 75): accuracies "
            "run a little lower than on the official files.",
        ]
    else:
        lines.append("No training run has been recorded yet.")
    refs = [d for d in files if d.get("reference")]
    lines += ["", "## Reference numbers", ""]
    if refs:
        lines += ["| Chapter | ImageNet configuration | The paper reports | CIFAR-10 configuration |",
                  "|---|---|---|---|"]
        for d in refs:
            ref = d["reference"]
            lines.append("| " + " | ".join([chapter_cell(d)] + [
                describe(ref.get(key) or {}) for key in ("imagenet", "paper", "cifar")
            ]) + " |")
    else:
        lines.append("No reference numbers have been recorded yet.")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if book/_leaderboard_table.md is out of date; write nothing")
    args = parser.parse_args(argv)
    text = render()
    current = TABLE.read_text(encoding="utf-8") if TABLE.exists() else None
    if text == current:
        print(f"{TABLE.relative_to(ROOT)} is up to date")
        return 0
    if args.check:
        print(f"{TABLE.relative_to(ROOT)} is out of date: run python scripts/leaderboard.py")
        return 1
    TABLE.write_text(text, encoding="utf-8")
    print(f"{TABLE.relative_to(ROOT)} written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
