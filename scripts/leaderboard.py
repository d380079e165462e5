"""Write the leaderboard (book/_leaderboard_table.md) and the book's figures from results/*.json
and book/figure-data/ilsvrc.csv.

Usage (from the repository root):
    python scripts/leaderboard.py           # rewrite what changed (only files that did change)
    python scripts/leaderboard.py --check   # write nothing; exit 1 if a table or figure is stale

The book is built with execution off, so its pages cannot compute tables or draw figures at build
time: this script does it, book/leaderboard.md includes the tables (and the figures between them),
book/timeline.md and book/intro.md show the timeline, and tests/test_book.py fails when the
committed files no longer match what the results and the data give. Run it after a chapter
records a result, or after editing book/figure-data/ilsvrc.csv.

What it writes:

- ``book/_leaderboard_table.md``: the latest record of each chapter, run and budget, and one row
  per network with the paper's numbers;
- ``book/figures/cifar10-macs.svg`` and ``cifar10-params.svg``: CIFAR-10 test accuracy against
  multiply-adds and against parameters, full and cpu runs in separate panels
  (``utils.plot.compare``);
- ``book/figures/imagenet-error.svg``: the papers' ImageNet top-1 and top-5 error against the
  year, bubble area = parameters (``utils.plot.imagenet_errors``);
- ``book/figures/timeline.svg``: the challenge's winning top-5 error, 2010-2017, with the course's
  networks (``utils.plot.ilsvrc_timeline``, from ``book/figure-data/ilsvrc.csv``).

Every results file is read by ``utils.results.read_results``, the one reader of their schema.

``book/figure-data/ilsvrc.csv`` has one row per result, each with its source: ``year``; ``kind``
(``winner``: the winning entry with the supplied training data; ``winner-extra-data``: the same
team with extra training data; ``runner-up``; ``paper``: a result the paper reports outside the
competition; ``no-result``: a course network with no ImageNet number); ``team``; ``network``;
``top5_error`` (%, as the source gives it); ``chapter`` (the key of the course chapter that
rebuilds the network, as in ``chapters/NN_<key>.ipynb``; it is drawn as a chapter once that
notebook exists); ``note``; ``source``.

The figures are SVG with their text drawn as paths (they need no fonts) and made byte-stable (a
fixed hash salt, no date), so ``--check`` compares them byte for byte. Each also carries, in its
metadata, a digest of the data it shows: a file written by another Matplotlib version (whose
output may differ in the bytes) is accepted when that digest matches.
"""

import argparse
import csv
import hashlib
import io
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import matplotlib  # noqa: E402

from utils import plot, results  # noqa: E402
from utils.arithmetic import fmt, fmt_big  # noqa: E402
from utils.results import format_seconds  # noqa: E402

BOOK = ROOT / "book"
TABLE = "_leaderboard_table.md"
FIGURES = "figures"
ILSVRC = ROOT / "book" / "figure-data" / "ilsvrc.csv"
#: Matplotlib settings that make an SVG byte-stable and independent of installed fonts.
SVG_RC = {"svg.hashsalt": "cnn-history", "svg.fonttype": "path"}


# ---------------------------------------------------------------------------- tables

def chapter_cell(c: dict) -> str:
    """The chapter's page title as a link (Sphinx fills in the title), or its name."""
    return f"{{doc}}`../{c['page']}`" if c["page"] else c["chapter"]


def pct(x) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def run_row(c: dict, rec: dict) -> str:
    jpeg = "¹" if "JPEG" in str(rec.get("data_source", "")) else ""
    training = (f"{fmt(rec['train_images'])} images × {rec['epochs']} epochs, batch {rec['batch_size']}"
                if {"train_images", "epochs", "batch_size"} <= set(rec) else "–")
    size = " / ".join(fmt_big(rec[k]) if rec.get(k) is not None else "–" for k in ("params", "macs"))
    cells = [
        chapter_cell(c), f"`{rec.get('run', '?')}`",
        f"{rec.get('budget', '?')}, {rec.get('device', '?')}, {str(rec.get('date', ''))[:10]}",
        training,
        f"{pct(rec.get('best_test_acc'))} / {pct(rec.get('final_test_acc'))}{jpeg}",
        format_seconds(rec["wall_seconds"]) if "wall_seconds" in rec else "–",
        size,
    ]
    return "| " + " | ".join(cells) + " |"


def number(value) -> str:
    """As stored: 17.0 -> "17.0", 11.743 -> "11.743", 60000 -> "60,000"."""
    return str(value) if isinstance(value, float) else f"{value:,}"


def result_words(result: dict) -> str:
    """A paper's result in words, with where it comes from: "40.7% top-1, 18.2% top-5 — Table 2
    (ILSVRC-2012 validation set, one CNN)". The split (validation or test) is named where the
    source does not say it; a row of a larger table (a configuration) is named too."""
    source = result["source"] or ""
    splits = {v["split"] for v in result["values"]}
    say_split = len(splits) > 1 or (splits != {None} and not re.search(
        r"validation|\bval\b|test", source, flags=re.IGNORECASE))
    each = say_split and (len(splits) > 1 or any(v["qualifier"] for v in result["values"]
                                                  if v["metric"] != "error"))  # else said once
    parts = []
    for v in result["values"]:
        if v["metric"] == "error":
            parts.append(f"{number(v['value'])}%" + (f" {v['qualifier']}" if v["qualifier"] else ""))
            continue
        extra = [x for x in ((v["split"] if each else None), v["qualifier"]) if x]
        parts.append(f"{number(v['value'])}% {v['metric']}"
                     + (f" ({', '.join(extra)})" if extra else ""))
    text = ", ".join(parts)
    if say_split and not each:
        text += f" ({next(iter(splits))})"
    if all(v["metric"] == "error" for v in result["values"]):
        text = f"{result['what']}: {text}"  # "CIFAR-10 test error: 10.41% without augmentation"
    keys = result["keys"]
    what = ""
    if len(keys) > 1:  # a row of a larger table: a configuration, or a named result
        what = f"configuration {keys[-1]}" if len(keys[-1]) <= 6 else result["what"]
    where = "; ".join(x for x in (what, source) if x)
    return f"{text} — {where}" if where else text


def paper_cell(c: dict) -> str:
    """What the paper reports, one result a line, the network's headline result first (in bold):
    the ImageNet classification errors, or else the paper's note and its other errors."""
    head = c["headline"]
    imagenet = [r for r in c["results"] if r["imagenet"]]
    if head:
        # of a table with one row per configuration, only the row of the chapter's network
        parent = head["keys"][:-1]
        rest = [r for r in imagenet if r is not head
                and not (parent and r["keys"][:len(parent)] == parent)]
        lines = [f"**{result_words(head)}**"] + [result_words(r) for r in rest]
    else:
        lines = ([c["note"]] if c["note"] else []) + [result_words(r) for r in c["results"]]
    if len(lines) > 1:
        lines = [f"• {line}" for line in lines]
    return "<br>".join(lines).replace("|", "\\|") or "–"


def network_cells(c: dict) -> list[str]:
    net = c["network"]
    if not net:
        return ["–", "–", "–"]
    name = net["name"] or c["name"]
    if not net["imagenet"]:
        task = (c["reference"].get("paper") or {}).get("task")
        name += f" ({task.split(',')[0]}, not ImageNet)" if isinstance(task, str) else \
            " (not an ImageNet network)"
    return [name.replace("|", "\\|"), fmt_big(net["params"]),
            fmt_big(net["macs"]) if net.get("macs") is not None else "–"]


def figure_block(name: str, alt: str, caption: str) -> list[str]:
    return [f"```{{figure}} {FIGURES}/{name}", f":alt: {alt}", ":width: 100%", "",
            caption, "```", ""]


RUN_HEADER = ("| Chapter | Run | Budget, device, date | Training | Test accuracy (best / final) "
              "| Wall time | Parameters / MACs |")
#: The runs are never ranked across budgets: one table per budget, each with what it measures.
RUN_TABLES = (
    ("full", "### Full runs (a GPU)",
     "Each chapter's `full` budget: all 50,000 training images for the chapter's full number of "
     "epochs. These rows can be compared with each other and with the papers."),
    ("cpu", "### Laptop runs (the `cpu` budget)",
     "What two CPU cores show in minutes to an hour. Each chapter sizes its own `cpu` budget "
     "(the Training column: images × epochs), so these rows measure the runs, not the "
     "architectures: do not rank them."),
)


def render_table(chapters: list[dict]) -> str:
    lines = ["% Written by scripts/leaderboard.py from results/*.json: do not edit by hand.", ""]
    runs = [(c, r) for c in chapters for r in c["latest"]]
    lines += ["## Training runs on CIFAR-10", ""]
    budgets = {r.get("budget") for _, r in runs}
    if not {"full", "cpu"} & budgets:
        lines += ["No `cpu` or `full` training run has been recorded yet, so there is nothing to "
                  "draw.", ""]
    else:
        now = ("Only `cpu` runs are recorded so far: the left panel fills in when a chapter is "
               "run with the `full` budget on a GPU. " if "full" not in budgets else
               "Only `full` runs are recorded so far. " if "cpu" not in budgets else "")
        seen = ("A `cpu` point is a laptop run, on part or all of the training set for a few "
                "epochs at most and tested on a subset of the test set: its label says how many "
                "images the run saw (training images × epochs). ")
        for x, what in (("macs", "multiply-adds per 32×32 image"), ("params", "parameters")):
            lines += figure_block(
                f"cifar10-{x}.svg", f"CIFAR-10 test accuracy against {what}, by budget",
                f"Each chapter's best CIFAR-10 test accuracy against its network's {what} "
                f"(log scale), one point per chapter and budget. `full` runs (left) and `cpu` "
                f"runs (right) differ in data and epochs, so they are never ranked together. "
                + seen + now)
    for budget, heading, intro in RUN_TABLES:
        rows = [run_row(c, r) for c, r in runs if r["budget"] == budget]
        lines += [heading, "", intro, ""]
        lines += ([RUN_HEADER, "|---|---|---|---|---|---|---|", *rows] if rows
                  else [f"No `{budget}` run has been recorded yet."]) + [""]
    if any(r.get("data_source") for _, r in runs):
        lines.append("¹ Measured on the offline JPEG copy of CIFAR-10 (re-encoded at quality 75): "
                     "accuracies run a little lower than on the official files.")
    refs = [c for c in chapters if c["reference"]]
    lines += ["", "## Reference numbers", ""]
    if refs:
        drawn = [c for c in refs if c["headline"] and c["network"] and c["network"]["imagenet"]]
        if drawn:
            lines += figure_block(
                "imagenet-error.svg", "The papers' ImageNet error against the year",
                "The papers' own ImageNet error for one network (the first line of each row "
                "below, in bold), against the year of the paper; the bubble's area is the "
                "network's parameters. Top-1 error above, top-5 below; a paper "
                "that gives only one of them appears only in that panel.")
        lines += [
            "One row per network, at the size its paper describes (ImageNet, 224×224 or "
            "227×227 input, unless the row says otherwise). Parameters and multiply-adds (MACs) "
            "are computed by the chapters; the errors are the papers' own, with the table they "
            "come from.", "",
            "| Chapter | Network | Parameters | MACs | The paper reports (error rates) |",
            "|---|---|---|---|---|"]
        for c in refs:
            lines.append("| " + " | ".join([chapter_cell(c)] + network_cells(c)
                                           + [paper_cell(c)]) + " |")
    else:
        lines.append("No reference numbers have been recorded yet.")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- figures

def read_ilsvrc(path: Path = ILSVRC) -> list[dict]:
    """The rows of book/figure-data/ilsvrc.csv, ``year`` as an int; a row of an unknown kind,
    without a source, or with a number that does not parse stops the script."""
    rows = []
    with open(path, newline="", encoding="utf-8") as f:
        for i, row in enumerate(csv.DictReader(f), start=2):
            where = f"{path.name}, line {i}"
            if row["kind"] not in plot.ILSVRC_KINDS:
                sys.exit(f"{where}: kind {row['kind']!r} is not one of "
                         f"{', '.join(plot.ILSVRC_KINDS)}")
            if not row["source"].strip():
                sys.exit(f"{where}: every row needs a source")
            if row["top5_error"]:
                try:
                    float(row["top5_error"])
                except ValueError:
                    sys.exit(f"{where}: top5_error {row['top5_error']!r} is not a number")
            rows.append({**row, "year": int(row["year"])})
    return rows


def digest(data) -> str:
    """A digest of what a figure shows (and of the course's style)."""
    blob = json.dumps({"data": data, "style": repr(plot.STYLE), "palette": plot.PALETTE},
                      sort_keys=True, default=str)
    return "sha256:" + hashlib.sha256(blob.encode()).hexdigest()


def svg(fig, title: str, identifier: str) -> bytes:
    """The figure as byte-stable SVG: text as paths, fixed ids, no date."""
    buf = io.BytesIO()
    with matplotlib.rc_context(SVG_RC):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Title": title,
                                                  "Identifier": identifier})
    return buf.getvalue()


def figures(chapters: list[dict], rows: list[dict]) -> dict[str, bytes]:
    """Every figure, by file name, rendered."""
    runs = results.best_runs(chapters)
    out = {}
    for x, what in (("macs", "multiply-adds"), ("params", "parameters")):
        out[f"cifar10-{x}.svg"] = svg(
            plot.compare(x=x, chapters=chapters),
            f"CIFAR-10 test accuracy against {what}, full and cpu runs apart",
            digest([x, runs]))
    drawn = [[c["chapter"], c["name"], c["year"], c["network"], c["headline"], c["note"],
              (c["reference"].get("paper") or {}).get("task")] for c in chapters]
    out["imagenet-error.svg"] = svg(
        plot.imagenet_errors(chapters=chapters),
        "The papers' ImageNet top-1 and top-5 error against the year",
        digest(drawn))
    pages = results.chapter_pages(ROOT / "chapters")
    out["timeline.svg"] = svg(
        plot.ilsvrc_timeline(rows, pages),
        "ILSVRC's winning top-5 classification error, 2010-2017",
        digest([rows, {k: v["number"] for k, v in pages.items()}]))
    return out


def svg_meta(data: bytes) -> tuple[str | None, str | None]:
    """(the Matplotlib version that wrote an SVG, the digest it carries)."""
    text = data[:4000].decode("utf-8", "replace")
    version = re.search(r"Matplotlib v([\w.+-]+)", text)
    ident = re.search(r"<dc:identifier>([^<]+)</dc:identifier>", text)
    return (version and version.group(1)), (ident and ident.group(1))


def outputs(results_dir: Path, ilsvrc: Path = ILSVRC) -> dict[str, bytes]:
    """Everything the script writes, by path relative to book/."""
    try:
        chapters = results.read_results(results_dir, ROOT / "chapters")
    except ValueError as e:
        sys.exit(f"results/{e}")
    out = {TABLE: render_table(chapters).encode("utf-8")}
    for name, data in figures(chapters, read_ilsvrc(ilsvrc)).items():
        out[f"{FIGURES}/{name}"] = data
    return out


def stale(path: Path, new: bytes) -> str | None:
    """Why the file at ``path`` differs from ``new`` (None when it does not, or when only the
    Matplotlib version that drew it differs)."""
    if not path.exists():
        return "missing"
    old = path.read_bytes()
    if old == new:
        return None
    if path.suffix == ".svg":
        (old_version, old_id), (new_version, new_id) = svg_meta(old), svg_meta(new)
        if old_version != new_version and old_id == new_id:
            return None  # the same data and code, drawn by another Matplotlib
    return "out of date"


def main(argv=None) -> int:
    # No window: the figures go to files. Set here, not at import: the tests import this module,
    # and an environment variable would reach the notebooks' kernels that nbval starts.
    matplotlib.use("Agg")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if a table or figure is out of date; write nothing")
    parser.add_argument("--results", type=Path, default=ROOT / "results", help=argparse.SUPPRESS)
    parser.add_argument("--book", type=Path, default=BOOK, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    problems, written = [], []
    for rel, data in outputs(args.results).items():
        path = args.book / rel
        why = stale(path, data)
        if why is None:
            continue
        shown = f"book/{rel}"
        if args.check:
            problems.append(f"{shown} is {why}")
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            written.append(shown)
    if problems:
        print("\n".join(problems) + "\nrun: python scripts/leaderboard.py")
        return 1
    print("written: " + ", ".join(written) if written else "the tables and figures are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
