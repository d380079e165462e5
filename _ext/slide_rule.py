"""The rule that decides what of a chapter goes on its slides (used by scripts/tag_slides.py,
which writes it into the notebooks' metadata, and by the exporter, _ext/slides.py).

A chapter is read as a sequence of *parts*: a markdown cell is cut at its headings
(outside fenced blocks), because a chapter often ends one section and starts the next in the
same cell. Each part gets a type:

- the ``#`` title and each ``##`` section: ``slide``; each ``###`` (or deeper): ``subslide``.
  On the slide the heading shows with its first paragraph (or list, or the title and bold claims
  of a box); the rest of the part goes to the speaker notes (press ``s`` in the deck);
- the "Exercises" and "References" sections, with everything in them: ``skip``;
- prose without a heading: ``notes``; a part that is only a dropdown deep dive, an exercise or a
  solution: ``skip``;
- code: ``skip`` for the set-up cell (the first code cell), for cells folded whole or whose output
  is folded or removed (``hide-cell``, ``remove-cell``, ``hide-output``, ``remove-output``) and
  for cells that show no figure or table; a cell that shows one is a key figure: ``fragment``
  (it appears on the section's slide at the next key press) for the first of its part when the
  heading's first paragraph is short, else ``subslide`` (a slide of its own, below), so that a
  slide holds one figure. Only the figure or table shows; the code too when it is visible on
  the page and at most three lines long.

A cell's ``slide_type`` is the type of its first part; the exporter applies the same rule to the
parts after it (``plan``), and an author may change a cell's stored type by hand to override the
rule for that cell (the test that compares them then says where). It lives beside the
extension so that a book built from a copy of ``_config.yml`` and ``_ext/`` has all it needs.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

#: ``##`` sections left out of the slides, with everything in them (matched at the start).
SKIPPED_SECTIONS = re.compile(r"(Exercises|References)\b", re.IGNORECASE)
#: Fenced MyST blocks that are not lecture material: deep dives, exercises, solutions.
SKIPPED_BLOCKS = ("dropdown", "exercise", "solution")
#: Tags that fold or remove a code cell or its output on the page.
FOLDED = {"hide-cell", "remove-cell", "hide-output", "remove-output"}
#: Tags that fold or remove a code cell's input only (its figure or table shows).
INPUT_FOLDED = {"hide-input", "remove-input"}
#: A visible code cell with at most this many lines shows its code on the slide too.
MAX_CODE_LINES = 3
#: A heading whose first paragraph is longer than this (characters) leaves no room for a figure.
LEAD_ROOM = 320

HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
FENCE = re.compile(r"^\s*(`{3,}|~{3,}|:{3,})\s*(.*)$")


@dataclass
class Part:
    """A piece of a markdown cell: its heading (``level`` 0: none) and everything up to the next."""
    level: int
    title: str
    text: str          # the whole part, heading line included

    @property
    def body(self) -> str:
        return (self.text.split("\n", 1) + [""])[1] if self.level else self.text


def _source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _fence(line: str, fences: list[str]):
    """``line``'s fence (a match of ``FENCE``) or None, after updating ``fences``, the stack of
    fences open before it: a bare fence of the same character, at least as long, closes the
    innermost; a fence with a directive or language, or any fence outside all, opens one."""
    m = FENCE.match(line)
    if m:
        mark = m.group(1)
        if fences and mark[0] == fences[-1][0] and len(mark) >= len(fences[-1]) and not m.group(2):
            fences.pop()
        elif m.group(2) or not fences:
            fences.append(mark)
    return m


def blocks(text: str) -> list[str]:
    """``text`` cut into blocks at blank lines that are not inside a fenced block."""
    out, current, fences = [], [], []
    for line in text.split("\n"):
        m = _fence(line, fences)
        if not line.strip() and not fences:
            if current:
                out.append("\n".join(current))
                current = []
            continue
        current.append(line)
    if current:
        out.append("\n".join(current))
    return out


def fenced_kind(block: str) -> str | None:
    """The directive (``note``, ``dropdown``, ...) or language of a block that is one fenced block."""
    m = FENCE.match(block.split("\n", 1)[0])
    if not m:
        return None
    d = re.match(r"\{([\w:-]+)\}", m.group(2))
    return d.group(1) if d else (m.group(2).split() or ["code"])[0]


def split_parts(text: str) -> list[Part]:
    """A markdown cell's text cut at its headings (a heading inside a fenced block does not count)."""
    parts, lines, fences = [], [], []
    level, title = 0, ""
    for line in text.split("\n"):
        m = _fence(line, fences)
        h = None if fences or m else HEADING.match(line)
        if h:
            if lines and "\n".join(lines).strip():
                parts.append(Part(level, title, "\n".join(lines).strip("\n")))
            level, title, lines = len(h.group(1)), h.group(2), [line]
            continue
        lines.append(line)
    if "\n".join(lines).strip():
        parts.append(Part(level, title, "\n".join(lines).strip("\n")))
    return parts


def shows_figure(cell) -> bool:
    """Whether a code cell has an output the page shows as a figure or a table."""
    return any(key in out.get("data", {}) for out in cell.get("outputs", [])
               for key in ("image/png", "image/svg+xml", "text/html"))


def shows_code(cell) -> bool:
    """Whether a kept code cell shows its code on the slide (visible on the page, and short)."""
    tags = set(cell.get("metadata", {}).get("tags", []))
    return not tags & INPUT_FOLDED and len(_source(cell).strip().splitlines()) <= MAX_CODE_LINES


def plan(nb: dict) -> list[list[tuple[Part | None, str]]]:
    """For every cell, its parts with their slide types (a code cell: one part, ``None``)."""
    out = []
    skipping = False          # inside an Exercises or References section
    figures = 0               # key figures shown since the last heading
    room = False              # whether the last heading's slide has room for a figure
    first_code = True
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            typed = []
            for part in split_parts(_source(cell)):
                if part.level:
                    figures = 0
                    lead = [b for b in blocks(part.body) if fenced_kind(b) not in SKIPPED_BLOCKS]
                    room = not lead or len(lead[0]) <= LEAD_ROOM
                    if part.level <= 2:
                        skipping = part.level == 2 and bool(SKIPPED_SECTIONS.match(part.title))
                if skipping:
                    kind = "skip"
                elif part.level == 1 or part.level == 2:
                    kind = "slide"
                elif part.level >= 3:
                    kind = "subslide"
                elif all(fenced_kind(b) in SKIPPED_BLOCKS for b in blocks(part.text)):
                    kind = "skip"
                else:
                    kind = "notes"
                typed.append((part, kind))
            out.append(typed or [(None, "skip")])
            continue
        if cell["cell_type"] != "code":
            out.append([(None, "skip")])
            continue
        tags = set(cell.get("metadata", {}).get("tags", []))
        if first_code or skipping or tags & FOLDED or not shows_figure(cell):
            kind = "skip"
        else:
            kind = "fragment" if figures == 0 and room else "subslide"
            figures += 1
        first_code = False
        out.append([(None, kind)])
    return out


def slide_types(nb: dict) -> list[str]:
    """The ``slide_type`` the rule gives each cell of ``nb`` (that of its first part)."""
    return [parts[0][1] for parts in plan(nb)]


def tag(nb: dict) -> int:
    """Set every cell's ``metadata.slideshow.slide_type`` by the rule; returns how many changed."""
    changed = 0
    for cell, kind in zip(nb["cells"], slide_types(nb)):
        meta = cell.setdefault("metadata", {})
        if meta.get("slideshow", {}).get("slide_type") != kind:
            meta.setdefault("slideshow", {})["slide_type"] = kind
            changed += 1
    return changed


def dumps(nb: dict) -> str:
    """A notebook as the repository stores it (nbformat's layout: sorted keys, one-space indent)."""
    return json.dumps(nb, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
