"""The chapter slides: tagged by one rule, exported by the build, offline (book/how-chapters-work.md).

- every chapter's cells carry the ``slideshow`` metadata that ``scripts/tag_slides.py`` gives
  them, so a new chapter without its tags fails here (run ``python scripts/tag_slides.py
  chapters/NN_name.ipynb``); tagging changes metadata only and writes the notebook byte-stable;
- the rule on a small notebook whose every case is known (title, sections, figures, folded
  cells, deep dives, exercises);
- every chapter exports (nbconvert's ``SlidesExporter``, as the build runs it) to a lecture-sized
  deck with no network address in a script or style sheet;
- a small book built as the README builds the book: its chapter page links to its deck with a
  relative address, the deck is there, and headless Chromium, with the network closed, opens it:
  reveal.js starts, MathJax typesets, no request fails.
"""

import importlib.util
import json
import re
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
#: A lecture: each chapter's deck has this many slides (horizontal and vertical), no fewer, no more.
DECK_SIZE = (20, 40)
#: A script or style sheet taken from the network (the decks must open offline).
NETWORK = re.compile(r"<(?:script|link)\b[^>]*\b(?:src|href)=[\"']?(?:https?:)?//"
                     r"|@import\s+url\(\s*[\"']?(?:https?:)?//|url\(\s*[\"']?https?://")

sys.path.insert(0, str(ROOT / "tests"))
import test_book  # noqa: E402  (the book's build and browser helpers)


def load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


tag_slides = load("tag_slides_under_test", ROOT / "scripts" / "tag_slides.py")
slides = load("slides_under_test", ROOT / "_ext" / "slides.py")


def stored_types(nb: dict) -> list:
    return [c.get("metadata", {}).get("slideshow", {}).get("slide_type") for c in nb["cells"]]


# ---------------------------------------------------------------------------------- the tags

@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_is_tagged_by_the_rule(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    expected, stored = tag_slides.slide_types(nb), stored_types(nb)
    wrong = [f"cell {i}: {s!r}, the rule says {e!r}" for i, (s, e) in enumerate(zip(stored, expected))
             if s != e]
    assert not wrong, (f"{path.name} is not tagged for slides as the rule says "
                       f"(run: python scripts/tag_slides.py chapters/{path.name}):\n  "
                       + "\n  ".join(wrong[:10]))


def test_tagging_changes_metadata_only_and_is_byte_stable():
    path = CHAPTERS[0]
    raw = path.read_text(encoding="utf-8")
    nb = json.loads(raw)
    assert tag_slides.dumps(nb) == raw, "the notebook is not stored as tag_slides.py writes it"
    bare = json.loads(raw)
    for cell in bare["cells"]:
        cell["metadata"].pop("slideshow", None)
    assert tag_slides.tag(bare) == len(bare["cells"])
    assert tag_slides.dumps(bare) == raw              # tagged again: the same bytes
    assert tag_slides.tag(bare) == 0                  # and a second run changes nothing


def md(text: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def code(text: str, tags=(), png=False, html=False, stream=False) -> dict:
    outputs = []
    if png:
        outputs.append({"output_type": "display_data", "metadata": {},
                        "data": {"image/png": test_book.tiny_png(), "text/plain": "<Figure>"}})
    if html:
        outputs.append({"output_type": "execute_result", "execution_count": 1, "metadata": {},
                        "data": {"text/html": "<table><tr><td>a table</td></tr></table>",
                                 "text/plain": "a table"}})
    if stream:
        outputs.append({"output_type": "stream", "name": "stdout", "text": "printed\n"})
    return {"cell_type": "code", "execution_count": 1, "metadata": {"tags": list(tags)},
            "outputs": outputs, "source": text}


def small_chapter() -> dict:
    long_lead = "A first paragraph long enough to fill the slide. " * 8
    return {"nbformat": 4, "nbformat_minor": 5,
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                        "language": "python"}},
            "cells": [
                md("# A small chapter\n\n**The paper.** Someone, 2015 {cite}`simonyan2015very`.\n\n"
                   "Why it mattered."),                                                # 0
                code("# Set-up (the same in every chapter)", tags=["hide-input"]),      # 1
                md("## Context\n\nWhat came before, with $\\frac{a}{b} = 2$.\n\nMore."),  # 2
                code("plot()", tags=["hide-input"], png=True),                          # 3
                code("plot_again()", png=True),                                          # 4
                md("Prose after the figure.\n\n### An idea\n\n" + long_lead),            # 5
                code("table()", tags=["hide-input"], html=True),                         # 6
                code("print(1)", stream=True),                                           # 7
                code("deep()", tags=["hide-cell"], png=True),                            # 8
                code("shown()", tags=["hide-output"], png=True),                         # 9
                md(":::{dropdown} A deep dive\nDetails.\n:::"),                          # 10
                md("## Common mistakes\n\n```{admonition} Errors\n:class: warning dropdown\n\n"
                   "- **\"A wrong claim.\"** Why it is wrong.\n- **\"Another.\"** Also.\n```"),  # 11
                md("## Exercises\n\n```{exercise} One\n:label: small-ex-1\nDo it.\n```"),  # 12
                md("```{solution} small-ex-1\n:class: dropdown\nDone.\n```"),            # 13
                code("figure_in_exercises()", png=True),                                 # 14
                md("## References\n\nThe list."),                                        # 15
            ]}


def test_the_rule_on_a_small_chapter():
    nb = small_chapter()
    assert tag_slides.slide_types(nb) == [
        "slide", "skip", "slide", "fragment", "subslide", "notes", "subslide", "skip", "skip",
        "skip", "skip", "slide", "skip", "skip", "skip", "skip"]
    # cell 5's second part, "### An idea", is a subslide; its long lead leaves the table no room
    assert [k for _, k in slides.rule().plan(nb)[5]] == ["notes", "subslide"]


def test_the_deck_of_a_small_chapter_is_made_for_the_screen():
    nb = small_chapter()
    tag_slides.tag(nb)
    deck = slides.slides_notebook(nb, {"simonyan2015very": "Simonyan and Zisserman, 2015"})
    shown = [(c["metadata"]["slideshow"]["slide_type"], c["source"]) for c in deck["cells"]]
    text = "\n".join(s for _, s in shown)
    assert "(Simonyan and Zisserman, 2015)" in text and "{cite}" not in text
    assert any(t == "notes" and s == "Why it mattered." for t, s in shown)   # the rest: notes
    assert "A deep dive" not in text and "Do it." not in text and "The list." not in text
    mistakes = next(s for t, s in shown if s.startswith("## Common mistakes"))
    assert '**"A wrong claim."**' in mistakes and "Why it is wrong" not in mistakes
    # the title, Context (its first figure a fragment, the next on a slide of its own), the
    # idea (its table on a slide of its own: the long first paragraph fills the idea's slide),
    # Common mistakes
    assert [s.split("\n")[0] for t, s in shown if t in ("slide", "subslide")] == [
        "# A small chapter", "## Context", '<p class="cnn-continued">Context (continued)</p>',
        "### An idea", '<p class="cnn-continued">An idea (continued)</p>', "## Common mistakes"]
    figures = [c for c in deck["cells"] if c["cell_type"] == "code"]
    assert [c["source"] for c in figures] == ["", "plot_again()", ""]   # folded code stays folded


# ---------------------------------------------------------------------------------- the decks

def slide_count(nb: dict) -> int:
    """How many slides (horizontal and vertical) nbconvert makes of a prepared notebook."""
    kinds = [c["metadata"]["slideshow"]["slide_type"] for c in nb["cells"]]
    return sum(k in ("slide", "subslide") for k in kinds) + (kinds[0] not in ("slide", "subslide"))


@pytest.fixture(scope="module")
def bibfiles():
    return (str(ROOT / "book" / "references.bib"),)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_deck_is_lecture_sized(path, bibfiles):
    nb = json.loads(path.read_text(encoding="utf-8"))
    prepared = slides.slides_notebook(nb, slides.citations(bibfiles))
    n = slide_count(prepared)
    assert DECK_SIZE[0] <= n <= DECK_SIZE[1], f"{path.name}: {n} slides, not {DECK_SIZE}"
    raw = "\n".join(c["source"] for c in prepared["cells"] if c["cell_type"] == "markdown")
    left = re.findall(r"\{(?:cite|numref|dropdown|exercise|solution)\}", raw)
    assert not left, f"{path.name}: MyST markup left on the slides: {sorted(set(left))}"


def test_exporter_writes_an_offline_deck(tmp_path, bibfiles):
    """The exporter on a real chapter: a deck whose scripts and style sheets are all local."""
    deck = slides.export_deck(CHAPTERS[0], tmp_path, mathjax_url="../_static/mathjax/tex-chtml.js",
                              chapter_url="../chapters/x.html", bibfiles=bibfiles)
    html = deck.read_text(encoding="utf-8")
    assert deck.name == f"{CHAPTERS[0].stem}.slides.html"
    assert not NETWORK.findall(html), NETWORK.findall(html)[:5]
    assert '<script src="reveal.js/dist/reveal.js">' in html
    assert 'src="../_static/mathjax/tex-chtml.js"' in html
    assert "require.js" not in html and "jquery" not in html.lower()
    assert html.count("<section") > 20
    # and the check fires: the stock template takes reveal.js and require.js from CDNs
    from nbconvert import SlidesExporter
    import nbformat
    stock, _ = SlidesExporter().from_notebook_node(nbformat.from_dict(slides.slides_notebook(
        json.loads(CHAPTERS[0].read_text(encoding="utf-8")))))
    assert NETWORK.findall(stock)


# ---------------------------------------------------------------------------------- the book

@pytest.fixture(scope="module")
def small_book(tmp_path_factory):
    """A one-chapter book with the course's configuration and extension, built with -W."""
    tmp = tmp_path_factory.mktemp("slides-book")
    src = tmp / "src"
    (src / "book").mkdir(parents=True)
    (src / "chapters").mkdir()
    shutil.copy(ROOT / "_config.yml", src)
    shutil.copytree(ROOT / "_ext", src / "_ext", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "book" / "references.bib", src / "book")
    (src / "book" / "intro.md").write_text("# A small book\n\nAn introduction.\n", encoding="utf-8")
    (src / "book" / "references.md").write_text("# References\n\n```{bibliography}\n```\n",
                                                encoding="utf-8")
    nb = small_chapter()
    nb["cells"] = [c for c in nb["cells"] if "{exercise}" not in c["source"]
                   and "{solution}" not in c["source"]]     # no sphinx-exercise numbering here
    tag_slides.tag(nb)
    (src / "chapters" / "00_small.ipynb").write_text(tag_slides.dumps(nb), encoding="utf-8")
    (src / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n"
                                  "  - file: chapters/00_small\n  - file: book/references\n",
                                  encoding="utf-8")
    code_, warnings, log = test_book.build(src, tmp / "out")
    return code_, warnings, log, tmp / "out" / "_build" / "html"


def test_the_build_writes_a_deck_and_links_it(small_book):
    code_, warnings, log, html = small_book
    assert code_ == 0 and not warnings, "\n".join(warnings or log.splitlines()[-30:])
    page = (html / "chapters" / "00_small.html").read_text(encoding="utf-8")
    links = re.findall(r'href="([^"]*\.slides\.html)"', page)
    assert links == ["../slides/00_small.slides.html"], links
    deck = (html / "chapters" / links[0]).resolve()
    assert deck.is_file()
    assert (html / "slides" / "reveal.js" / "dist" / "reveal.js").is_file()
    assert (html / "slides" / "reveal.js" / "LICENSE").is_file()
    assert not NETWORK.findall(deck.read_text(encoding="utf-8"))
    assert "slides.html" not in (html / "book" / "intro.html").read_text(encoding="utf-8")


def test_the_deck_opens_offline_in_a_browser(small_book, browser):
    code_, warnings, log, html = small_book
    deck = html / "slides" / "00_small.slides.html"
    assert deck.is_file(), log[-2000:]
    tab = test_book.new_tab(browser)           # every request that is not for a local file fails
    failed = []
    tab.on("requestfailed", lambda request: failed.append(request.url))
    try:
        tab.goto(deck.as_uri(), wait_until="load")
        tab.wait_for_function("() => window.Reveal && Reveal.isReady()", timeout=20_000)
        tab.evaluate("""async () => { if (window.MathJax && MathJax.startup)
                                          await MathJax.startup.promise; }""")
        state = tab.evaluate("""() => ({ready: !!document.querySelector('.reveal.ready'),
            slides: Reveal.getTotalSlides(), maths: document.querySelectorAll('mjx-container').length,
            notes: document.querySelectorAll('aside.notes').length,
            images: [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).length})""")
    finally:
        tab.context.close()
    assert state["ready"] and state["slides"] == slide_count(slides.slides_notebook(
        json.loads((html / "_sources" / "chapters" / "00_small.ipynb").read_text("utf-8")))), state
    assert state["maths"] >= 1, "MathJax did not typeset the formula (served from the site?)"
    assert state["notes"] >= 1 and state["images"] == 0, state
    assert not failed, f"requests that failed (the network is closed): {failed}"


@pytest.fixture(scope="module")
def browser():
    executable = test_book.chromium_executable()
    if executable is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium; or set "
                    "CHROMIUM_EXECUTABLE): the deck is not opened in a browser")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=executable, headless=True,
                                     args=test_book.CHROMIUM_FLAGS)
        yield chromium
        chromium.close()
