"""Tag every chapter's cells for slides, by one rule, so that every chapter's deck is made alike.

Usage (from the repository root):
    python scripts/tag_slides.py                      # every chapters/*.ipynb
    python scripts/tag_slides.py NOTEBOOK ...         # only these
    python scripts/tag_slides.py --check              # change nothing; exit 1 if any differs

It sets each cell's ``metadata.slideshow.slide_type`` (the field that Jupyter's slideshow tools
and ``jupyter nbconvert --to slides`` read) and changes nothing else: no source, no output, no
other metadata. The book's build turns the tagged notebooks into reveal.js decks
(``_ext/slides.py``, into ``_build/html/slides/``).

The rule itself, and why, is in ``_ext/slide_rule.py``: a cell's ``slide_type`` is the type of
its first part (markdown cells are cut at their headings), so the decks follow from the
notebooks and that file alone, and a new chapter gets its slides by running this script on it (a
test checks that every chapter is tagged as the rule says).
"""

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "_ext"))
from slide_rule import dumps, slide_types, tag  # noqa: E402  (the tests use them from here too)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to tag (default: chapters/*.ipynb)")
    parser.add_argument("--check", action="store_true",
                        help="report notebooks whose tags differ from the rule; write nothing")
    args = parser.parse_args(argv)
    notebooks = args.notebooks or sorted((ROOT / "chapters").glob("*.ipynb"))
    stale = 0
    for path in notebooks:
        if not path.is_file():
            print(f"{path}: no such notebook", file=sys.stderr)
            return 2
        nb = json.loads(path.read_text(encoding="utf-8"))
        changed = tag(nb)
        kinds = slide_types(nb)
        if changed:
            stale += 1
            if not args.check:
                path.write_text(dumps(nb), encoding="utf-8")
        verb = "would change" if args.check else "changed"
        print(f"{path.name}: {sum(k == 'slide' for k in kinds)} slide cells, "
              f"{sum(k == 'subslide' for k in kinds)} subslide cells, "
              f"{sum(k == 'fragment' for k in kinds)} fragments"
              + (f"; {verb} {changed} cell(s)" if changed else "; up to date"))
    if args.check and stale:
        print(f"{stale} notebook(s) not tagged as the rule says: run python scripts/tag_slides.py")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
