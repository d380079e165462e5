"""Write the canonical set-up cell (scripts/setup_cell.py) as the first code cell of every chapter.

Usage (from the repository root):
    python scripts/sync_setup_cell.py                 # every chapters/*.ipynb
    python scripts/sync_setup_cell.py NOTEBOOK ...    # only these
    python scripts/sync_setup_cell.py --check         # change nothing; exit 1 if any is out of date

A first code cell that already is a set-up cell (it starts with the marker comment) gets its
text replaced; otherwise a new cell is inserted before the first code cell, after the header.
Every other cell, output and metadata stays as it was, and a notebook is written only when
its set-up cell changed. An inserted cell has not run: execute the notebook again afterwards.
"""

import argparse
import os
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
import setup_cell  # noqa: E402  (the sibling module with the canonical text)


def sync(nb, text: str) -> str | None:
    """Put ``text`` in ``nb``'s set-up cell. Returns what changed ("replaced", "inserted") or None."""
    code = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"]
    if code and nb.cells[code[0]].source.startswith(setup_cell.MARKER):
        cell = nb.cells[code[0]]
        if cell.source == text:
            return None
        cell.source = text
        return "replaced"
    at = code[0] if code else len(nb.cells)
    nb.cells.insert(at, nbformat.v4.new_code_cell(text))
    return "inserted"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to update (default: chapters/*.ipynb)")
    parser.add_argument("--check", action="store_true",
                        help="report notebooks whose set-up cell differs; write nothing")
    args = parser.parse_args(argv)
    notebooks = args.notebooks or sorted((setup_cell.ROOT / "chapters").glob("*.ipynb"))
    if not notebooks:
        print("no notebooks found in chapters/")
        return 0
    text = setup_cell.source()
    stale = 0
    for path in notebooks:
        shown = os.path.relpath(path)
        if not path.is_file():
            print(f"{shown}: no such notebook", file=sys.stderr)
            return 2
        nb = nbformat.read(path, as_version=4)
        change = sync(nb, text)
        if change is None:
            continue
        stale += 1
        if args.check:
            print(f"{shown}: set-up cell out of date (run python scripts/sync_setup_cell.py)")
            continue
        nbformat.write(nb, path)
        note = "; execute the notebook again" if change == "inserted" else ""
        print(f"{shown}: set-up cell {change}{note}")
    if not stale:
        print(f"set-up cell up to date in {len(notebooks)} notebook(s)")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
