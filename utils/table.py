"""A table that a chapter's code prints: a real HTML table on the page, aligned text elsewhere.

The book shows a cell's richest output, so a :class:`Table` is an HTML table there: it fits the
page's column or wraps its cells, where a printed text table is cut off at the right edge. Its
text form (``str``, ``repr``: what a terminal prints and what nbval compares) is the same table
aligned in columns. One helper for every hand-made table of the chapters (a paper's results, a
layer-by-layer comparison); ``utils.summary`` draws its own, richer tables.

    Table(["network", "parameters"], [["AlexNet", 61_100_840], ["VGG-16", 138_357_544]],
          title="ImageNet configurations", note="parameters counted by the code")

Numbers are written with thousands separators and right-aligned; text is left-aligned.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from numbers import Number


def _cell(value) -> str:
    """How one value is written: ints with thousands separators, floats as given by ``:g``."""
    if isinstance(value, bool) or value is None:
        return "–" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    return str(value)


@dataclass(frozen=True)
class Table:
    """``columns``: the headings; ``rows``: one sequence of values per row (as many as the
    headings); ``title``: a line above, ``note``: a line below (both optional). ``align``: one
    letter per column, ``"l"`` or ``"r"``; by default numbers right, everything else left."""

    columns: tuple
    rows: tuple
    title: str = ""
    note: str = ""
    align: str = ""
    _cells: tuple = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        columns, rows = tuple(map(str, self.columns)), tuple(tuple(r) for r in self.rows)
        for i, row in enumerate(rows):
            if len(row) != len(columns):
                raise ValueError(f"Table row {i} has {len(row)} values for {len(columns)} "
                                 f"columns ({', '.join(columns)}): {row!r}")
        align = self.align or "".join(
            "r" if rows and all(isinstance(r[j], Number) and not isinstance(r[j], bool)
                                for r in rows) else "l" for j in range(len(columns)))
        if len(align) != len(columns) or set(align) - {"l", "r"}:
            raise ValueError(f"align={align!r}: give one letter, 'l' or 'r', for each of the "
                             f"{len(columns)} columns")
        object.__setattr__(self, "columns", columns)
        object.__setattr__(self, "rows", rows)
        object.__setattr__(self, "align", align)
        object.__setattr__(self, "_cells", tuple(tuple(_cell(v) for v in r) for r in rows))

    def to_text(self) -> str:
        widths = [max([len(h)] + [len(r[j]) for r in self._cells])
                  for j, h in enumerate(self.columns)]

        def line(cells):
            return "  ".join(c.rjust(w) if a == "r" else c.ljust(w)
                             for c, w, a in zip(cells, widths, self.align)).rstrip()

        head = line(self.columns)
        out = ([self.title] if self.title else []) + [head, "-" * len(head)]
        out += [line(r) for r in self._cells]
        return "\n".join(out + ([self.note] if self.note else []))

    def __str__(self) -> str:
        return self.to_text()

    __repr__ = __str__

    def _repr_html_(self) -> str:
        def td(tag, text, a):
            side = "right" if a == "r" else "left"
            return f'<{tag} style="text-align:{side}">{html.escape(text)}</{tag}>'

        head = "".join(td("th", h, a) for h, a in zip(self.columns, self.align))
        body = "".join("<tr>" + "".join(td("td", c, a) for c, a in zip(r, self.align)) + "</tr>"
                       for r in self._cells)
        title = f"<p><b>{html.escape(self.title)}</b></p>" if self.title else ""
        note = f'<p class="table-note">{html.escape(self.note)}</p>' if self.note else ""
        return (f'<div class="course-table">{title}<table><thead><tr>{head}</tr></thead>'
                f"<tbody>{body}</tbody></table>{note}</div>")
