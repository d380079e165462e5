"""The chapter pattern that the page a reader meets depends on (book/how-chapters-work.md).

- nbval's markers are cell tags, never ``# NBVAL_...`` comments (a reader would see them);
- every cell whose output genuinely varies (it trains, evaluates trained weights, times, or
  loads data with a timing) carries ``nbval-ignore-output``, and every cell carrying it has such
  a reason, so that nbval checks everything else;
- the set-up cell is folded under one line that says what it does;
- exercises have labels ``<chapter>-ex-<n>`` and the prose refers to them with ``{numref}``,
  never by a typed number (the book numbers them within their chapter).
"""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
IGNORE = "nbval-ignore-output"
#: What makes a cell's output vary between runs: training, evaluating or drawing what training
#: produced, timing, the data's load time, the budget (it names the device).
VARIES = re.compile(
    r"\btrain\.(fit|evaluate|get_budget|sweep\w*|lr_sweep\w*|record_reference)\("
    r"|\bdata\.load_cifar10\(|\bperf_counter\(|\btime\.time\(|\bhistory\b|\bevaluation\b"
    r"|\brecord_reference\(|\bresults\.|\bfit\(")


def cells(path):
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def source(cell) -> str:
    return "".join(cell["source"])


def code_without_comments(cell) -> str:
    """The code without comments and plain string literals (an f-string's fields count)."""
    code = re.sub(r"(?<![fFrR\w])(\"[^\"\n]*\"|'[^'\n]*')", '""', source(cell))
    return "\n".join(line.split("#", 1)[0] for line in code.splitlines())


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_nbval_markers_are_tags_not_comments(path):
    shown = [i for i, c in enumerate(cells(path))
             if c["cell_type"] == "code" and re.search(r"#\s*NBVAL_", source(c))]
    assert not shown, (f"{path.name}: cells {shown} carry a '# NBVAL_...' comment, which every "
                       f"reader sees; use the cell tag {IGNORE!r} instead")


def assigned(code: str) -> set[str]:
    """Top-level names a cell binds (``a, b = ...``, ``def f``, ``for x in``)."""
    names = set()
    for m in re.finditer(r"^(?:for\s+)?([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)\s*(?:=(?!=)|\bin\b)"
                         r"|^def\s+(\w+)|^class\s+(\w+)", code, flags=re.MULTILINE):
        names |= {n.strip() for g in m.groups() if g for n in g.split(",")}
    return names


def tag_problems(notebook_cells) -> tuple[list[str], list[str]]:
    """(cells that vary but are compared, cells ignored without a reason)."""
    untagged, unjustified, varying_names = [], [], set()
    for i, c in enumerate(notebook_cells):
        if c["cell_type"] != "code" or source(c).startswith("# Set-up"):
            continue
        code = code_without_comments(c)
        tagged = IGNORE in c.get("metadata", {}).get("tags", [])
        varies = bool(VARIES.search(code))
        first = source(c).strip().splitlines()[0][:70] if source(c).strip() else "(empty)"
        if varies and c.get("outputs") and not tagged:
            untagged.append(f"cell {i}: {first}")
        if tagged:
            uses = {n for n in varying_names if re.search(rf"\b{re.escape(n)}\b", code)}
            if not varies and not uses:
                unjustified.append(f"cell {i}: {first}")
            varying_names |= assigned(code)
    return untagged, unjustified


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_exactly_the_cells_that_vary_are_ignored_by_nbval(path):
    """A cell that trains, times or loads data shows output nbval must not compare: it carries
    the tag. A tagged cell must have a reason: it varies itself, or it uses a name that a
    tagged cell bound (the trained model, the run's history, the sweep's result)."""
    untagged, unjustified = tag_problems(cells(path))
    assert not untagged, (f"{path.name}: these cells train, time or use trained weights but nbval "
                          f"would compare their output:\n  " + "\n  ".join(untagged))
    assert not unjustified, (f"{path.name}: these cells carry {IGNORE!r} without training, "
                             f"timing or using what training produced, so nbval checks nothing in "
                             f"them:\n  " + "\n  ".join(unjustified))


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_the_set_up_cell_is_folded_under_one_line(path):
    first = next(c for c in cells(path) if c["cell_type"] == "code")
    meta = first.get("metadata", {})
    assert source(first).startswith("# Set-up"), f"{path.name}: the first code cell is not the set-up cell"
    assert "hide-input" in meta.get("tags", []), f"{path.name}: the set-up cell is not folded"
    prompt = meta.get("mystnb", {}).get("code_prompt_show", "")
    assert prompt.startswith("Set-up") and "`" not in prompt, (
        f"{path.name}: the folded set-up cell needs a plain one-line prompt, got {prompt!r}")


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_exercises_are_labelled_and_referred_to_by_label(path):
    text = [source(c) for c in cells(path) if c["cell_type"] == "markdown"]
    labels = re.findall(r"```\{exercise\}[^\n]*\n:label: ([\w-]+)", "\n".join(text))
    assert len(labels) >= 5, f"{path.name}: {len(labels)} labelled exercises, the pattern asks for 5"
    prefix = labels[0].rsplit("-ex-", 1)[0]
    assert labels == [f"{prefix}-ex-{n}" for n in range(1, len(labels) + 1)], labels
    typed = []
    for t in text:
        prose = re.sub(r"```\{(exercise|solution)\}.*?```", "", t, flags=re.DOTALL)
        typed += re.findall(r"\b[Ee]xercises? \d+\b", prose)
    assert not typed, (f"{path.name}: exercises referred to by a typed number {typed}: the book "
                       f"numbers them within the chapter; write {{numref}}`{prefix}-ex-N`")
    for ref in re.findall(r"\{numref\}`([^`]+)`", "\n".join(text)):
        assert ref.split("<")[-1].rstrip(">") in labels or "-ex-" not in ref, ref


def test_the_tag_check_fires():
    def cell(code, tagged, outputs=True):
        return {"cell_type": "code", "source": code, "outputs": [{"text": "x"}] if outputs else [],
                "metadata": {"tags": [IGNORE] if tagged else []}}

    good = [cell("history = train.fit(model, cifar, budget, recipe, run='a', chapter='b')", True),
            cell("plot.training(history)", True), cell("print(ar.conv_out(227, 11, 4))", False),
            cell("def helper(history):\n    return history", False, outputs=False)]
    assert tag_problems(good) == ([], [])
    untagged, unjustified = tag_problems(good[:1] + [cell("plot.training(history)", False),
                                                     cell("print(1 + 1)", True)])
    assert untagged == ["cell 1: plot.training(history)"]
    assert unjustified == ["cell 2: print(1 + 1)"]
