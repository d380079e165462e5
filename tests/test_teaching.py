"""The teacher's guide (book/teaching.md) and the glossary (book/glossary.md) against the chapters.

- Every exercise the guide cites with ``{ref}`` exists as a ``:label:`` in a chapter notebook, and
  a lecture cites only its own chapter's exercises.
- Every chapter notebook has a lecture (``### Lecture N: ...``) that links it, and that lecture
  cites all of the chapter's exercises: a new chapter, or a new exercise, fails here until the
  guide says how to teach it.
- Every ``{cite}`` key of the two pages is in book/references.bib.
- Every glossary entry is a definition list item with a Chinese name (a CJK character in its
  term line) and a definition of at least a few words ending with a full stop; the entries are in
  alphabetical order under their letter's heading.
- Every link to a chapter from either page points to an existing notebook.

The parsers are checked on small texts first, so that a test that passes is not a parser that
finds nothing.
"""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
CHAPTERS = ROOT / "chapters"
TEACHING = BOOK / "teaching.md"
GLOSSARY = BOOK / "glossary.md"

REF = re.compile(r"\{ref\}`(?:[^`<]*<)?([^`<>]+)>?`")
CITE = re.compile(r"\{cite(?::[a-z]+)?\}`([^`]+)`")
LABEL = re.compile(r"^:label:\s*(\S+)", re.MULTILINE)
CHAPTER_LINK = re.compile(r"\]\((\.\./chapters/[^)#\s]+)(?:#[^)]*)?\)")
LECTURE = re.compile(r"^### Lecture (\d+):", re.MULTILINE)
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")


# ------------------------------------------------------------------------------------ the parsers

def notebook_labels(path: Path) -> set[str]:
    """The ``:label:`` names in the markdown cells of one notebook."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    labels = set()
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
            labels.update(LABEL.findall(source))
    return labels


def exercise_labels(path: Path) -> set[str]:
    """The labels of a notebook's exercises (``<chapter>-ex-<n>``)."""
    return {label for label in notebook_labels(path) if re.fullmatch(r"[\w-]+-ex-\d+", label)}


def lectures(text: str) -> dict[int, str]:
    """{chapter number: the text of its ``### Lecture N:`` section, up to the next heading of
    level 2 or 3}."""
    out = {}
    matches = list(LECTURE.finditer(text))
    for m in matches:
        rest = text[m.end():]
        end = re.search(r"^#{2,3} ", rest, re.MULTILINE)
        out[int(m.group(1))] = text[m.start():m.end() + (end.start() if end else len(rest))]
    return out


def glossary_entries(text: str) -> list[tuple[str, str, str]]:
    """(letter heading, term line, definition) for every entry after the first ``## `` heading.

    An entry is a term line followed by a line starting with ``: `` (MyST's definition list);
    any other line in the body (a term without a definition, a stray paragraph) raises
    ValueError naming it."""
    body = text[text.index("\n## "):] if "\n## " in text else ""
    entries, heading, term = [], None, None
    for line in body.splitlines():
        if not line.strip():
            continue
        if line.startswith("## "):
            if term is not None:
                raise ValueError(f"term without a definition: {term!r}")
            heading = line[3:].strip()
        elif line.startswith(": "):
            if term is None:
                raise ValueError(f"definition without a term: {line[:60]!r}")
            entries.append((heading, term, line[2:].strip()))
            term = None
        elif line.startswith("  ") and entries and term is None:
            h, t, d = entries[-1]                        # a definition's continuation line
            entries[-1] = (h, t, d + " " + line.strip())
        else:
            if term is not None:
                raise ValueError(f"term without a definition: {term!r}")
            term = line.strip()
    if term is not None:
        raise ValueError(f"term without a definition: {term!r}")
    return entries


def sort_key(term_line: str) -> str:
    """The English term of a term line (before " · "), as the glossary sorts it."""
    return term_line.split(" · ")[0].lower()


def test_the_parsers_find_what_they_should():
    assert REF.findall("see {ref}`vgg-ex-2` and {ref}`the shallow net <vgg-ex-3>`") == \
        ["vgg-ex-2", "vgg-ex-3"]
    assert CITE.findall("{cite}`a2001,b2002` and {cite:p}`c2003`") == ["a2001,b2002", "c2003"]
    assert CHAPTER_LINK.findall("[chapter 4](../chapters/04_vgg.ipynb) [x](how-to-use.md)") == \
        ["../chapters/04_vgg.ipynb"]
    text = "## Syllabus\n\n### Lecture 0: A\n\nzero\n\n### Lecture 4: B\n\nfour\n\n## Labs\n\nno\n"
    found = lectures(text)
    assert sorted(found) == [0, 4] and "zero" in found[0] and "no" not in found[4]
    good = "# G\n\nIntro.\n\n## A\n\nAlpha · 阿尔法\n: The first letter.\n\nBeta · 贝塔\n: The next.\n"
    assert glossary_entries(good) == [("A", "Alpha · 阿尔法", "The first letter."),
                                      ("A", "Beta · 贝塔", "The next.")]
    for bad in ("# G\n\n## A\n\nAlpha · 阿尔法\n\nBeta · 贝塔\n: The next.\n",
                "# G\n\n## A\n\n: A definition without a term.\n",
                "# G\n\n## A\n\nAlpha · 阿尔法\n"):
        with pytest.raises(ValueError):
            glossary_entries(bad)


# ------------------------------------------------------------------------------ the teacher's guide

@pytest.fixture(scope="module")
def teaching() -> str:
    return TEACHING.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def notebooks() -> dict[int, Path]:
    """{chapter number: notebook}, from the file names ``NN_name.ipynb``."""
    found = {int(p.name[:2]): p for p in sorted(CHAPTERS.glob("[0-9][0-9]_*.ipynb"))}
    assert found, "no chapter notebooks found"
    return found


def test_every_ref_is_an_exercise_label_of_a_chapter(teaching, notebooks):
    refs = REF.findall(teaching)
    assert refs, "the guide cites no exercise"
    labels = set().union(*(notebook_labels(p) for p in notebooks.values()))
    missing = sorted(set(refs) - labels)
    assert not missing, f"{{ref}} labels that no chapter defines: {missing}"


def test_every_chapter_has_a_lecture_that_links_it(teaching, notebooks):
    found = lectures(teaching)
    problems = []
    for number, path in notebooks.items():
        if number not in found:
            problems.append(f"{path.name}: no '### Lecture {number}:' section")
        elif f"../chapters/{path.name}" not in found[number]:
            problems.append(f"{path.name}: its lecture does not link the notebook")
    assert not problems, "\n".join(problems)


def test_each_lecture_cites_all_and_only_its_chapters_exercises(teaching, notebooks):
    problems = []
    for number, section in lectures(teaching).items():
        cited = set(REF.findall(section))
        if number not in notebooks:          # a chapter still being written: no labels yet
            if cited:
                problems.append(f"lecture {number} cites {sorted(cited)} but has no notebook")
            continue
        own = exercise_labels(notebooks[number])
        if cited - own:
            problems.append(f"lecture {number} cites other chapters' labels: {sorted(cited - own)}")
        if own - cited:
            problems.append(f"lecture {number} leaves out: {sorted(own - cited)}")
    assert not problems, "\n".join(problems)


# ------------------------------------------------------------------------------------ the glossary

@pytest.fixture(scope="module")
def glossary() -> str:
    return GLOSSARY.read_text(encoding="utf-8")


def test_every_glossary_entry_has_a_chinese_name_and_a_definition(glossary):
    entries = glossary_entries(glossary)
    assert len(entries) >= 60, f"only {len(entries)} entries"
    problems = []
    for _, term, definition in entries:
        if " · " not in term:
            problems.append(f"{term!r}: the term line is not 'English · Chinese'")
        elif not CJK.search(term.split(" · ", 1)[1]):
            problems.append(f"{term!r}: no Chinese name")
        words = CHAPTER_LINK.sub("]", definition).split()
        if len(words) < 8 or not definition.rstrip().endswith("."):
            problems.append(f"{term!r}: the definition is missing or not a sentence")
    assert not problems, "\n".join(problems)


def test_glossary_is_alphabetical_under_letter_headings(glossary):
    entries = glossary_entries(glossary)
    keys = [sort_key(term) for _, term, _ in entries]
    assert keys == sorted(keys), "the entries are not in alphabetical order"
    assert len(set(keys)) == len(keys), "a term appears twice"
    wrong = [term for heading, term, _ in entries if heading != sort_key(term)[0].upper()]
    assert not wrong, f"entries under the wrong letter: {wrong}"


# ----------------------------------------------------------------------------------------- links

@pytest.mark.parametrize("page", [TEACHING, GLOSSARY], ids=lambda p: p.name)
def test_chapter_links_point_to_existing_notebooks(page):
    links = CHAPTER_LINK.findall(page.read_text(encoding="utf-8"))
    assert links, f"{page.name} links no chapter"
    missing = sorted({link for link in links if not (page.parent / link).resolve().is_file()})
    assert not missing, f"{page.name} links notebooks that do not exist: {missing}"
    assert all(link.endswith(".ipynb") for link in links), "a chapter link is not a notebook"


@pytest.mark.parametrize("page", [TEACHING, GLOSSARY], ids=lambda p: p.name)
def test_citations_are_in_the_bibliography(page):
    bib = (BOOK / "references.bib").read_text(encoding="utf-8")
    keys = set(re.findall(r"^@\w+\{([^,\s]+),", bib, re.MULTILINE))
    cited = {k.strip() for group in CITE.findall(page.read_text(encoding="utf-8"))
             for k in group.split(",")}
    assert cited <= keys, f"{page.name} cites keys missing from references.bib: {sorted(cited - keys)}"
