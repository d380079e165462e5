"""Slides for every chapter: reveal.js decks made by nbconvert during the book's build, offline.

A local Sphinx extension (``_config.yml``, ``sphinx: local_extensions``). When the HTML build
has finished it exports every notebook page of the book with nbconvert's ``SlidesExporter``
(what ``jupyter nbconvert --to slides`` runs) to ``slides/<name>.slides.html`` in the built
site, and copies the part of reveal.js the decks use (``_ext/reveal.js``) to
``slides/reveal.js``. Each chapter's page gets a "Slides" button in its header that opens its
deck. Nothing is taken from the network: reveal.js comes from ``slides/reveal.js``, MathJax from
the site's own copy (``_static/mathjax``, put there by ``sphinx-mathjax-offline``), figures are
embedded, and the template (``_ext/templates/cnn-slides``) loads no require.js, jQuery or
widget code.

What goes on the slides is decided by the cells' ``slideshow`` metadata, which
``scripts/tag_slides.py`` sets by the rule in ``_ext/slide_rule.py``; see that file. Before exporting, a copy of the
notebook is prepared for the screen: a markdown cell is cut at its headings, each heading shows
with its first paragraph and the rest goes to the speaker notes, MyST's markup that nbconvert
does not know is turned into plain Markdown (``{cite}`` into "(Author, year)", a note box into
a quotation, a dropdown deep dive left out), and a kept code cell shows only its figures or
tables, and its code when that is short and visible on the page.
"""

from __future__ import annotations

import copy
import importlib.util
import re
import sys
import time
from functools import lru_cache
from pathlib import Path

HERE = Path(__file__).resolve().parent
REVEAL = HERE / "reveal.js"
TEMPLATES = HERE / "templates"
#: Where the decks go in the built site, and the MathJax that sphinx-mathjax-offline serves there.
SLIDES_DIR = "slides"
MATHJAX = "_static/mathjax/tex-chtml.js"

SLIDES_CSS = """
:root { --jp-content-font-size1: 21px; --jp-ui-font-size1: 21px; }
.reveal .slides { text-align: left; }
.reveal .slides section { height: 100%; overflow-y: auto; overflow-x: hidden; }
.reveal .slides h1, .reveal .slides h2, .reveal .slides h3 { text-transform: none; }
.reveal .slides h1 { font-size: 1.9em; } .reveal .slides h2 { font-size: 1.5em; }
.reveal .slides h3 { font-size: 1.2em; }
.reveal .slides p.cnn-continued { color: #777; font-size: 0.8em; margin: 0 0 0.4em 0; }
.reveal blockquote { width: 92%; text-align: left; box-shadow: none; border-left: 4px solid #c93; }
.reveal .slides section img { max-height: 520px !important; max-width: 100%; width: auto; margin: 0.2em 0; }
.reveal table { font-size: 0.55em; margin: 0.3em 0; }
.reveal .jp-InputPrompt, .reveal .jp-OutputPrompt { display: none; }
.reveal .jp-Cell { padding: 0; }
.reveal pre { box-shadow: none; font-size: 0.55em; }
.cnn-chapter-link { position: fixed; left: 1em; bottom: 0.6em; font-size: 14px; z-index: 40; }
"""


# ---------------------------------------------------------------------------------- the rule

@lru_cache(maxsize=1)
def rule():
    """``_ext/slide_rule.py``, the rule that tags the cells (scripts/tag_slides.py), as a module."""
    spec = importlib.util.spec_from_file_location("cnn_slide_rule", HERE / "slide_rule.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module          # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------------------- citations

_ACCENTS = re.compile(r"\\[`'^\"~=.uvHckr]\s*\{?(\w)\}?")


def _plain_tex(text: str) -> str:
    return re.sub(r"[{}]", "", _ACCENTS.sub(r"\1", text)).replace("\\", "").strip()


@lru_cache(maxsize=8)
def citations(bibfiles: tuple[str, ...]) -> dict[str, str]:
    """``{key: "Author et al., year"}`` for every entry of the BibTeX files (empty without pybtex)."""
    try:
        from pybtex.database import parse_file
    except ImportError:
        return {}
    out = {}
    for bib in bibfiles:
        if not Path(bib).is_file():
            continue
        for key, entry in parse_file(bib).entries.items():
            people = entry.persons.get("author") or entry.persons.get("editor") or []
            names = [_plain_tex(" ".join(p.last_names)) for p in people]
            if len(names) > 2:
                who = f"{names[0]} et al."
            else:
                who = " and ".join(names) or _plain_tex(entry.fields.get("title", key))
            out[key] = f"{who}, {entry.fields.get('year', 'n.d.')}"
    return out


# ---------------------------------------------------------------------------------- markdown

def _roles(text: str, cites: dict[str, str]) -> str:
    """MyST roles as plain Markdown: citations as (Author, year), an exercise reference by number."""
    def cite(m):
        keys = [k.strip() for k in m.group(1).split(",")]
        return "(" + "; ".join(cites.get(k, k) for k in keys) + ")"

    def numref(m):
        ex = re.search(r"-ex-(\d+)$", m.group(1))
        return f"exercise {ex.group(1)}" if ex else m.group(1)

    text = re.sub(r"\{cite(?::\w+)?\}`([^`]+)`", cite, text)
    text = re.sub(r"\{numref\}`([^`]+)`", numref, text)
    text = re.sub(r"\{[\w:-]+\}`(?:[^`<]*<)?([^`>]+)>?`", r"\1", text)   # {doc}, {ref}, {term}, ...
    return re.sub(r"^\(\S+\)=\s*$", "", text, flags=re.MULTILINE)       # MyST targets


def _box(block: str, kind: str, lead: bool) -> str:
    """A fenced note or admonition as a quotation; in a lead, a list keeps its bold claims only."""
    lines = block.split("\n")
    first = rule().FENCE.match(lines[0])
    title = first.group(2)[len("{" + kind + "}"):].strip() or kind.capitalize()
    body = [line for line in lines[1:-1] if not re.match(r"^:\w[\w-]*:", line)]
    text = "\n".join(body).strip()
    if lead:
        items = re.findall(r"^[-*] +(\*\*.+?\*\*)", text, flags=re.MULTILINE)
        if items:
            text = "\n".join(f"- {item}" for item in items)
    quoted = "\n".join("> " + line if line else ">" for line in text.split("\n"))
    return f"> **{title}**\n>\n{quoted}"


def clean(text: str, cites: dict[str, str], lead: bool = False) -> str:
    """A part's markdown for nbconvert: deep dives out, boxes as quotations, roles as text."""
    r = rule()
    out = []
    for block in r.blocks(text):
        kind = r.fenced_kind(block)
        if kind in r.SKIPPED_BLOCKS:
            continue
        if kind and re.match(r"\s*(`{3,}|~{3,}|:{3,})\s*\{", block):   # a directive: a box
            block = _box(block, kind, lead)
        out.append(block)
    return _roles("\n\n".join(out), cites).strip()


def _lead_and_rest(part, cites) -> tuple[str, str]:
    """The part's heading with its first paragraph (list, box), and the rest of it."""
    r = rule()
    chunks = [b for b in r.blocks(part.body) if r.fenced_kind(b) not in r.SKIPPED_BLOCKS]
    head = part.text.split("\n", 1)[0] if part.level else ""
    lead = clean(chunks[0], cites, lead=True) if chunks else ""
    boxed = bool(chunks) and re.match(r"\s*(`{3,}|~{3,}|:{3,})\s*\{", chunks[0]) is not None
    # a box is shortened on the slide: the notes then have all of it
    rest = clean("\n\n".join(chunks if boxed else chunks[1:]), cites)
    return "\n\n".join(x for x in (head, lead) if x), rest


# ---------------------------------------------------------------------------------- the deck

def slides_notebook(nb: dict, cites: dict[str, str] | None = None) -> dict:
    """A copy of the notebook ``nb`` (a dict as stored) made for the screen, every cell typed."""
    r = rule()
    cites = cites or {}
    nb = copy.deepcopy(nb)
    cells, section = [], ""
    for cell, parts in zip(nb["cells"], r.plan(nb)):
        stored = cell.get("metadata", {}).get("slideshow", {}).get("slide_type")
        if stored:          # a cell's stored type rules its first part (an author may override)
            parts = [(parts[0][0], stored)] + parts[1:]
        if cell["cell_type"] == "code":
            kind = parts[0][1]
            if kind == "skip":
                continue
            outputs = [o for o in cell.get("outputs", []) if "data" in o]
            images = [o for o in outputs if any(k.startswith("image/") for k in o["data"])]
            keep = images or [o for o in outputs if "text/html" in o["data"]]
            show_code = r.shows_code(cell)
            if kind == "subslide" and section:     # a figure on a slide of its own: say whose
                cells.append({"cell_type": "markdown", "metadata": {"slideshow": {"slide_type": kind}},
                              "source": f'<p class="cnn-continued">{section} (continued)</p>'})
                kind = "-"
            cells.append({"cell_type": "code", "execution_count": None, "source": r._source(cell)
                          if show_code else "", "outputs": keep,
                          "metadata": {"slideshow": {"slide_type": kind},
                                       "tags": [] if show_code else ["remove-input"]}})
            continue
        if cell["cell_type"] != "markdown":
            continue
        for part, kind in parts:
            if kind == "skip" or part is None:
                continue
            if part.level:
                section = _roles(part.title, cites)
            if kind == "notes":
                shown, notes = "", clean(part.text, cites)
            else:
                shown, notes = _lead_and_rest(part, cites)
                shown = _roles(shown, cites)
            if shown:
                cells.append({"cell_type": "markdown", "source": shown,
                              "metadata": {"slideshow": {"slide_type": kind}}})
            if notes:
                cells.append({"cell_type": "markdown", "source": notes,
                              "metadata": {"slideshow": {"slide_type": "notes"}}})
    for i, cell in enumerate(cells):
        cell["id"] = f"slide-{i}"
    title = next((p.title for parts in r.plan(nb) for p, _ in parts if p and p.level == 1), None)
    nb["cells"] = cells
    nb["metadata"] = {key: value for key, value in nb.get("metadata", {}).items()
                      if key in ("kernelspec", "language_info")}
    if title:
        nb["metadata"]["title"] = _roles(title, cites)
    return nb


def export_deck(notebook: Path, out_dir: Path, *, mathjax_url: str, reveal_url: str = "reveal.js",
                chapter_url: str | None = None, bibfiles: tuple[str, ...] = ()) -> Path:
    """Write ``out_dir/<stem>.slides.html``, the deck of ``notebook``; returns its path.

    ``mathjax_url`` and ``reveal_url`` are relative to ``out_dir`` (reveal.js is not copied
    here: see :func:`copy_reveal`); ``chapter_url`` is the chapter's page, for a link back.
    """
    import nbformat
    from nbconvert import SlidesExporter
    from traitlets.config import Config

    # nbformat joins the stored lists of lines (sources, text outputs) into strings
    stored = nbformat.reads(Path(notebook).read_text(encoding="utf-8"), as_version=4)
    nb = nbformat.from_dict(slides_notebook(stored, citations(tuple(bibfiles))))
    config = Config()
    config.TagRemovePreprocessor.enabled = True
    config.TagRemovePreprocessor.remove_input_tags = {"remove-input"}
    exporter = SlidesExporter(config=config, template_name="cnn-slides",
                              extra_template_basedirs=[str(TEMPLATES)],
                              reveal_url_prefix=reveal_url, reveal_theme="white",
                              reveal_number="c/t", mathjax_url=mathjax_url,
                              exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nb, resources={
        "metadata": {"name": Path(notebook).stem}, "slides_css": SLIDES_CSS,
        "chapter_url": chapter_url})
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{Path(notebook).stem}.slides.html"
    path.write_text(body, encoding="utf-8")
    return path


def copy_reveal(out_dir: Path) -> None:
    """Put the vendored reveal.js beside the decks (``out_dir/reveal.js``)."""
    from sphinx.util.fileutil import copy_asset
    copy_asset(str(REVEAL), str(out_dir / "reveal.js"), excluded=lambda p: p.endswith(".md"))


# ---------------------------------------------------------------------------------- Sphinx

def deck_docs(app) -> list[str]:
    """The documents that get a deck: every notebook page of the book, in order."""
    env = app.env
    return sorted(doc for doc in env.found_docs if str(env.doc2path(doc)).endswith(".ipynb"))


def deck_name(doc: str) -> str:
    return f"{SLIDES_DIR}/{doc.rsplit('/', 1)[-1]}.slides.html"


def add_slides_button(app, pagename, templatename, context, doctree):
    """A "Slides" button in the header of every page that has a deck (a relative link)."""
    if app.builder.format != "html" or pagename not in deck_docs(app):
        return
    buttons = context.get("header_buttons")
    if buttons is None:
        return
    buttons.insert(0, {"type": "link", "url": context["pathto"](deck_name(pagename), 1),
                       "tooltip": "Slides of this chapter (reveal.js, they work offline)",
                       "icon": "fas fa-person-chalkboard", "label": "slides-button"})


def write_decks(app, exc):
    if exc is not None or app.builder.format != "html":
        return
    from sphinx.util import logging
    logger = logging.getLogger(__name__)
    out = Path(app.outdir) / SLIDES_DIR
    copy_reveal(out)
    bibfiles = tuple(str(Path(app.srcdir) / b) for b in getattr(app.config, "bibtex_bibfiles", []))
    docs, start = deck_docs(app), time.perf_counter()
    for doc in docs:
        try:
            export_deck(Path(app.env.doc2path(doc)), out, mathjax_url=f"../{MATHJAX}",
                        chapter_url=f"../{doc}.html", bibfiles=bibfiles)
        except Exception as err:  # noqa: BLE001 (a deck that fails is a warning: -W fails the build)
            logger.warning(f"slides: no deck for {doc}: {type(err).__name__}: {err}")
    logger.info(f"slides: {len(docs)} deck(s) written to {SLIDES_DIR}/ in "
                f"{time.perf_counter() - start:.1f} s")


def setup(app):
    app.connect("html-page-context", add_slides_button, priority=502)
    app.connect("build-finished", write_decks)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
