"""The book: built from the stored outputs with warnings as errors, then read in a real browser.

``jupyter-book build`` runs into a temporary folder (``--path-output``; execution is off in
``_config.yml``, so the pages show the outputs stored in the notebooks), with ``-W -n
--keep-going``: any Sphinx warning (a broken reference, citation or toc entry) fails
``test_book_builds_without_warnings`` and is quoted in its message. Then headless Chromium opens
the index and every page of the table of contents and checks:

- the page title (``<first heading> — <book title>``, the heading being the notebook's own);
- every figure a notebook stored (its image/png outputs) is on the page and has loaded
  (``naturalWidth > 0``), and no other local image on the page is broken (remote ones, such
  as a Colab badge, cannot load with the network closed);
- the "Colab" launch link of a chapter opens exactly that notebook on GitHub, from the
  repository named in ``_config.yml``;
- no build error box: no docutils system message, no unresolved reference, no stored
  traceback;
- what a reader meets (``reader_view``, with the network closed, every fold closed and the
  maths typeset): at 1280 px no output wider than its box, no raw TeX in the text (MathJax is
  served from the built site), no nbval marker, every image loaded, remote ones included (no page
  may need the network), and on a chapter page at most ``MAX_WORDS`` visible words; at 400 px
  the page itself does not scroll sideways.

The last two tests build a small book with a toc entry pointing nowhere, a corrupted figure, a
figure removed from the page and a stored traceback, and require every check to fire (and a
wrong Colab link, title or heading to be reported), so these tests cannot pass by checking
nothing.

Chromium: ``$CHROMIUM_EXECUTABLE``, else Debian's ``chromium`` (``apt-get install chromium``),
driven by playwright's Python package. Without it the browser tests skip and say why. The
network stays closed: Chromium is started without its background services and every request
that is not for a local file is aborted: the formulas must render from the built site's own
MathJax (``sphinx-mathjax-offline``).
"""

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
#: Elements that only appear on a page when the build went wrong.
ERROR_SELECTORS = {
    ".system-message": "a docutils error box",
    ".problematic": "an unresolved reference",
    ".output.traceback": "a stored traceback",
}
#: myst-nb shows the first of these that an output has (its HTML render priority): a PNG is
#: on the page only if the output has none of the types before it.
BEFORE_PNG = ("application/vnd.jupyter.widget-view+json", "application/javascript", "text/html",
              "image/svg+xml")


# ---------------------------------------------------------------------------------- helpers

def config(root: Path = ROOT) -> dict:
    return yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))


def toc_pages(root: Path = ROOT) -> list[str]:
    """Every document of ``_toc.yml`` in reading order, e.g. ``["book/intro", "chapters/00_lenet5"]``."""
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    pages = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                pages.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    walk(toc.get("parts"))
    walk(toc.get("chapters"))
    return [re.sub(r"\.(md|ipynb)$", "", p) for p in pages]


def build(src: Path, out: Path) -> tuple[int, list[str], str]:
    """Build the book in ``src`` into ``out``; returns (exit code, warning lines, full log)."""
    cmd = [sys.executable, "-c", "from jupyter_book.cli.main import main; main()", "build",
           str(src), "--path-output", str(out), "--all", "-W", "-n", "--keep-going"]
    env = dict(os.environ, NO_COLOR="1", TERM="dumb")
    proc = subprocess.run(cmd, cwd=src, env=env, capture_output=True, text=True, timeout=1800)
    log = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr)
    warnings = [line for line in log.splitlines()
                if re.search(r"\b(WARNING|ERROR|CRITICAL|SEVERE)\b|Exception|Traceback", line)]
    return proc.returncode, warnings, log


def heading_text(markdown: str) -> str | None:
    """The text of the first ``# `` heading in a markdown string."""
    m = re.search(r"^# +(.+?) *#*$", markdown, flags=re.MULTILINE)
    return m.group(1) if m else None


def plain(text: str) -> str:
    """Letters and digits only, lower case: markup and typography do not count."""
    return re.sub(r"[\W_]+", "", text).lower()


def notebook_expectations(path: Path) -> tuple[str | None, int]:
    """A notebook's title (first ``#`` heading) and how many PNG figures its page must show."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    title, figures = None, 0
    for cell in nb["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "markdown" and title is None:
            title = heading_text(source)
        tags = cell.get("metadata", {}).get("tags", [])
        if cell["cell_type"] != "code" or {"remove-cell", "remove-output"} & set(tags):
            continue
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if "image/png" in data and not any(k in data for k in BEFORE_PNG):
                figures += 1
    return title, figures


def colab_url(notebook_rel: str, root: Path = ROOT) -> str:
    cfg = config(root)
    org_repo = re.sub(r"^https://github\.com/|\.git$|/$", "", cfg["repository"]["url"])
    branch = cfg["repository"].get("branch", "main")
    colab = cfg["launch_buttons"]["colab_url"].rstrip("/")
    return f"{colab}/github/{org_repo}/blob/{branch}/{notebook_rel}"


def chromium_executable() -> str | None:
    """``$CHROMIUM_EXECUTABLE``, else Debian's ``chromium`` on the PATH, else None."""
    named = os.environ.get("CHROMIUM_EXECUTABLE")
    if named:
        return named if Path(named).is_file() else None
    return shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None)


def check_page(page, html: Path, *, book_title: str, title: str | None = None,
               figures: int | None = None, colab: str | None = None) -> list[str]:
    """Open ``html`` in the browser ``page``; return the problems found (empty when all is well).

    ``title``: the notebook's heading the page must show; ``figures``: how many output figures
    it must show; ``colab``: the Colab link it must have (each None: not checked).
    """
    problems = []
    redirect = re.search(r'<meta http-equiv="refresh" content="\d+; *url=([^"]+)"',
                         html.read_text(encoding="utf-8"), flags=re.IGNORECASE)
    page.goto(html.as_uri(), wait_until="load")
    if redirect:  # index.html sends the reader on to the root page: follow it
        page.wait_for_url((html.parent / redirect.group(1)).resolve().as_uri(), wait_until="load",
                          timeout=15_000)
    h1, number = page.evaluate("""() => {
        const h = document.querySelector('article h1') || document.querySelector('main h1');
        if (!h) return [null, ''];
        const c = h.cloneNode(true);  // a numbered chapter's "4. " is not part of its title
        const n = [...c.querySelectorAll('.section-number')].map(e => e.textContent).join('');
        c.querySelectorAll('.section-number').forEach(e => e.remove());
        return [c.textContent.replace(/[#¶]\\s*$/, '').trim(), n]; }""")
    got = page.title()
    if not h1:
        problems.append("no <h1> heading on the page")
    elif got != f"{number}{h1} \u2014 {book_title}":
        problems.append(f"page title {got!r}, expected {number + h1 + ' — ' + book_title!r}")
    if title is not None and (not h1 or plain(h1) != plain(title)):
        problems.append(f"heading {h1!r} differs from the notebook's title {title!r}")

    images = page.evaluate("""async () => {
        const out = [];
        for (const img of document.querySelectorAll('img')) {
            img.loading = 'eager';
            try { await img.decode(); } catch (e) {}
            out.push({src: img.getAttribute('src'), ok: img.complete && img.naturalWidth > 0,
                      output: !!img.closest('.cell_output')});
        }
        return out; }""")
    for img in images:  # a remote image cannot load with the network closed: none is allowed
        if not img["ok"]:
            problems.append(f"image did not load: {img['src']}")
    shown = sum(img["output"] for img in images)
    if figures is not None and shown != figures:
        problems.append(f"the notebook stores {figures} figure(s), the page shows {shown}")

    if colab is not None:
        links = page.evaluate("""() => [...document.querySelectorAll('a[href*="colab.research.google.com"]')]
            .map(a => a.href)""")
        if colab not in links:
            problems.append(f"no Colab link to {colab} (found: {links or 'none'})")
        problems += [f"Colab link to another notebook: {link}" for link in links if link != colab]

    for selector, what in ERROR_SELECTORS.items():
        for text in page.locator(selector).all_inner_texts():
            problems.append(f"{what} ({selector}): {text.strip()[:300]}")
    for text in page.locator(".output.stderr").all_inner_texts():
        if "Traceback (most recent call last)" in text:
            problems.append(f"a traceback in a stored stderr output: {text.strip()[:300]}")
    return problems


#: A chapter page is a lecture: at most this many words visible with every fold closed.
MAX_WORDS = 6000
#: TeX that MathJax should have turned into formulas; left in the visible text it means the
#: maths did not render (no network, no MathJax).
RAW_TEX = re.compile(r"\\\(|\\\)|\\\[|\\\]|\\frac|\\times|\\lfloor|\$\$")
#: What a reader must never see: nbval's comment markers belong in cell tags.
MARKERS = re.compile(r"NBVAL_\w+")


def reader_view(page, html: Path, width: int = 1280) -> dict:
    """What a reader meets on ``html`` at ``width`` px with every fold closed, maths typeset.

    Returns ``words`` (visible words in the article: prose, code and outputs together),
    ``wide`` (outputs whose content is wider than their box, each as a short description),
    ``tex`` (raw TeX left in the visible text outside code), ``markers`` (nbval markers
    visible), ``broken`` (images that did not load, remote ones included) and ``scroll``
    (how many px the page itself scrolls sideways).
    """
    page.set_viewport_size({"width": width, "height": 900})
    redirect = re.search(r'<meta http-equiv="refresh" content="\d+; *url=([^"]+)"',
                         html.read_text(encoding="utf-8"), flags=re.IGNORECASE)
    if redirect:  # index.html only sends the reader on: read the page it sends them to
        html = (html.parent / redirect.group(1)).resolve()
    page.goto(html.as_uri(), wait_until="load")
    page.evaluate("""async () => {
        if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
            try { await MathJax.startup.promise; } catch (e) {} } }""")
    return page.evaluate("""async () => {
        const art = document.querySelector('article.bd-article') || document.querySelector('main');
        const text = art.innerText;
        const words = (text.match(/\\S+/g) || []).length;
        const visible = el => !!(el.offsetParent || el.getClientRects().length);
        const wide = [];
        for (const el of art.querySelectorAll('.cell_output pre, .cell_output table, .cell_output img, .cell_output svg, .cell_output .output, .cell_output > div')) {
            if (!visible(el)) continue;
            const box = el.closest('.cell_output') || el.parentElement;
            const over = el.scrollWidth - el.clientWidth;
            const out = el.getBoundingClientRect().right - box.getBoundingClientRect().right;
            if (over > 2 || out > 2) wide.push(el.tagName.toLowerCase() + ': ' +
                (el.innerText || el.getAttribute('src') || '').trim().split('\\n')[0].slice(0, 80));
        }
        const clone = art.cloneNode(true);
        clone.querySelectorAll('pre, code, .cell_input, .cell_output, script, style, mjx-container, mjx-assistive-mml')
            .forEach(e => e.remove());
        const prose = [];
        const walker = document.createTreeWalker(art, NodeFilter.SHOW_TEXT);
        while (walker.nextNode()) {
            const node = walker.currentNode, el = node.parentElement;
            if (!el || !visible(el) || el.closest('pre, code, .cell_input, .cell_output, script, style, mjx-container')) continue;
            prose.push(node.textContent);
        }
        const broken = [];
        for (const img of document.querySelectorAll('img')) {
            img.loading = 'eager';
            try { await img.decode(); } catch (e) {}
            if (!(img.complete && img.naturalWidth > 0)) broken.push(img.getAttribute('src'));
        }
        const doc = document.documentElement;
        return {words, wide, prose: prose.join(' '), text, broken,
                scroll: Math.max(0, doc.scrollWidth - doc.clientWidth)}; }""")


def reader_problems(view: dict, *, max_words: int | None = MAX_WORDS) -> list[str]:
    """The problems in a :func:`reader_view` at 1280 px (empty when the page reads well)."""
    problems = [f"output wider than its box: {w}" for w in view["wide"]]
    problems += [f"raw TeX in the visible text: ...{view['prose'][max(0, m.start() - 40):m.end() + 40]!r}..."
                 for m in list(RAW_TEX.finditer(view["prose"]))[:5]]
    problems += [f"nbval marker shown to the reader: {m}" for m in MARKERS.findall(view["text"])]
    problems += [f"image did not load: {src}" for src in view["broken"]]
    if max_words is not None and view["words"] > max_words:
        problems.append(f"{view['words']:,} visible words, more than a lecture's {max_words:,}")
    return problems


# ---------------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def built_book(tmp_path_factory):
    out = tmp_path_factory.mktemp("book")
    code, warnings, log = build(ROOT, out)
    return code, warnings, log, out / "_build" / "html"


@pytest.fixture(scope="module")
def browser():
    executable = chromium_executable()
    if executable is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium; or set "
                    "CHROMIUM_EXECUTABLE): the built book is not checked in a browser")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


def new_tab(browser):
    """A fresh tab whose requests for anything but local files are aborted."""
    tab = browser.new_context().new_page()
    tab.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:")
              else route.abort())
    return tab


@pytest.fixture
def page(browser):
    tab = new_tab(browser)
    yield tab
    tab.context.close()


# ---------------------------------------------------------------------------------- tests

def test_book_builds_without_warnings(built_book):
    code, warnings, log, html = built_book
    assert code == 0 and not warnings, (
        f"jupyter-book build -W -n --keep-going failed (exit code {code}):\n" + "\n".join(
            warnings or log.splitlines()[-40:]))
    assert (html / "index.html").is_file()


@pytest.mark.parametrize("doc", ["index"] + toc_pages())
def test_page_in_browser(built_book, page, doc):
    html_dir = built_book[3]
    html = html_dir / f"{doc}.html"
    assert html.is_file(), f"{doc}.html was not built (is {doc} in _toc.yml and on disk?)"
    notebook = ROOT / f"{doc}.ipynb"
    title, figures = notebook_expectations(notebook) if notebook.is_file() else (None, None)
    problems = check_page(page, html, book_title=config()["title"], title=title, figures=figures,
                          colab=colab_url(f"{doc}.ipynb") if notebook.is_file() else None)
    problems += reader_problems(reader_view(page, html),
                                max_words=MAX_WORDS if doc.startswith("chapters/") else None)
    phone = reader_view(page, html, width=400)
    if phone["scroll"]:
        problems.append(f"at 400 px the page scrolls {phone['scroll']} px sideways")
    assert not problems, f"{doc}:\n  " + "\n  ".join(problems)


def test_every_chapter_is_in_the_toc():
    listed = set(toc_pages())
    missing = [nb.stem for nb in sorted((ROOT / "chapters").glob("*.ipynb"))
               if f"chapters/{nb.stem}" not in listed]
    assert not missing, f"chapters missing from _toc.yml: {missing}"


def test_leaderboard_table_is_up_to_date():
    """The committed tables and figures are what scripts/leaderboard.py makes of results/ and
    book/figure-data/ilsvrc.csv (``--check`` compares the figures byte for byte)."""
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "leaderboard.py"), "--check"],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def leaderboard_script():
    """scripts/leaderboard.py as a module (it is not a package)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("leaderboard", ROOT / "scripts" / "leaderboard.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FIGURES = ["cifar10-macs.svg", "cifar10-params.svg", "imagenet-error.svg", "timeline.svg"]


def test_leaderboard_figures_are_byte_stable_and_self_contained():
    """Two renderings give the same bytes (so --check can compare them); the text is drawn as
    paths, so the figures need no fonts, and each stays small."""
    lb = leaderboard_script()
    first, second = lb.outputs(ROOT / "results"), lb.outputs(ROOT / "results")
    assert sorted(first) == sorted([lb.TABLE] + [f"figures/{f}" for f in FIGURES])
    for name in FIGURES:
        svg = first[f"figures/{name}"]
        assert svg == second[f"figures/{name}"], f"{name} differs between two renderings"
        assert b"<text" not in svg and b"font-family" not in svg, name
        assert b"<dc:date>" not in svg and len(svg) < 150_000, name


def test_leaderboard_check_fails_when_a_figure_is_out_of_date(tmp_path):
    lb = leaderboard_script()
    book = tmp_path / "book"
    shutil.copytree(ROOT / "book" / "figures", book / "figures")
    shutil.copy(ROOT / "book" / "_leaderboard_table.md", book)
    check = ["--check", "--book", str(book)]
    assert lb.main(check) == 0
    svg = book / "figures" / "timeline.svg"
    svg.write_bytes(svg.read_bytes().replace(b"28.2", b"28.3", 1) + b" ")       # hand-edited
    assert lb.main(check) == 1
    (book / "figures" / "imagenet-error.svg").unlink()
    assert lb.main(check) == 1
    assert lb.main(["--book", str(book)]) == 0 and lb.main(check) == 0         # rewritten
    # a new run in the results changes the CIFAR-10 figures and the table, not the others
    results = tmp_path / "results"
    shutil.copytree(ROOT / "results", results)
    data = json.loads((results / "vgg.json").read_text(encoding="utf-8"))
    data["runs"].append({**data["runs"][-1], "budget": "full", "best_test_acc": 0.93})
    (results / "vgg.json").write_text(json.dumps(data), encoding="utf-8")
    before = {f: (book / "figures" / f).read_bytes() for f in FIGURES}
    assert lb.main(check + ["--results", str(results)]) == 1
    assert lb.main(["--book", str(book), "--results", str(results)]) == 0
    changed = sorted(f for f in FIGURES if (book / "figures" / f).read_bytes() != before[f])
    assert changed == ["cifar10-macs.svg", "cifar10-params.svg"]
    assert "93.0%" in (book / lb.TABLE).read_text(encoding="utf-8")


def test_leaderboard_check_accepts_a_figure_drawn_by_another_matplotlib(tmp_path):
    """Another Matplotlib version may write different bytes for the same figure: --check then
    compares the digest of the data that the figure carries."""
    lb = leaderboard_script()
    book = tmp_path / "book"
    shutil.copytree(ROOT / "book" / "figures", book / "figures")
    shutil.copy(ROOT / "book" / "_leaderboard_table.md", book)
    svg = book / "figures" / "timeline.svg"
    text = svg.read_text(encoding="utf-8")
    version = re.search(r"Matplotlib v([\w.+-]+)", text).group(1)
    svg.write_text(text.replace(f"Matplotlib v{version}", "Matplotlib v0.0.1")
                   .replace("<path ", "<path  ", 1), encoding="utf-8")
    assert lb.main(["--check", "--book", str(book)]) == 0
    svg.write_text(re.sub(r"sha256:[0-9a-f]+", "sha256:0", svg.read_text(encoding="utf-8")),
                   encoding="utf-8")
    assert lb.main(["--check", "--book", str(book)]) == 1


def test_figures_are_on_their_pages():
    """The timeline opens the landing page and the timeline page; the leaderboard's figures are
    in its generated part; every figure a page names exists."""
    pages = {name: (ROOT / "book" / name).read_text(encoding="utf-8")
             for name in ("intro.md", "timeline.md", "_leaderboard_table.md")}
    assert "figures/timeline.svg" in pages["intro.md"].split("## ")[0]   # before the first section
    assert "chapters/00_lenet5.ipynb" in pages["intro.md"].split("## ")[0]
    assert "figures/timeline.svg" in pages["timeline.md"]
    for name in FIGURES[:3]:
        assert f"figures/{name}" in pages["_leaderboard_table.md"], name
    for text in pages.values():
        for ref in re.findall(r"```\{figure\} (\S+)", text):
            assert (ROOT / "book" / ref).is_file(), ref


def test_ilsvrc_data_agrees_with_the_chapters_records():
    """book/figure-data/ilsvrc.csv and the results files state some of the same numbers: they
    agree, and every row has a source."""
    import csv
    with open(ROOT / "book" / "figure-data" / "ilsvrc.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert all(r["source"].strip() for r in rows)
    years = sorted({int(r["year"]) for r in rows if r["kind"] == "winner"})
    assert years == list(range(2010, 2018))                  # one winner a year, 2010 to 2017

    def row(year, kind):
        (found,) = [float(r["top5_error"]) for r in rows
                    if int(r["year"]) == year and r["kind"] == kind]
        return found

    paper = {p.stem: json.loads(p.read_text(encoding="utf-8"))["reference"]["paper"]
             for p in (ROOT / "results").glob("*.json")}
    alexnet, zfnet, vgg = paper["alexnet"], paper["zfnet"], paper["vgg"]
    assert row(2012, "winner-extra-data") == alexnet["ilsvrc2012_winner"]["top5_error_test"]
    assert row(2012, "runner-up") == alexnet["ilsvrc2012_winner"]["runner_up_top5_error_test"]
    clarifai = zfnet["ilsvrc2013_clarifai"]
    assert row(2013, "winner") == round(clarifai["top5_error_test_original_data"], 1)
    assert row(2013, "winner-extra-data") == round(clarifai["top5_error_test_with_outside_data"], 1)
    assert row(2013, "paper") == zfnet["six_convnets"]["top5_error_test"]
    results = vgg["results"]
    assert row(2014, "runner-up") == results["ILSVRC-2014 submission, 7 nets, test top-5"]["value"]
    assert round(row(2014, "winner"), 1) == \
        results["GoogLeNet, ILSVRC-2014 winner (7 nets), test top-5"]["value"]


def test_repository_address_is_the_configured_one():
    """Links to the course's repository (README, book pages, chapters) use ``repository.url``."""
    org_repo = re.sub(r"^https://github\.com/|\.git$|/$", "", config()["repository"]["url"])
    # the authors' own code, which chapters link as sources
    external = {"KellerJordan/cifar10-airbench", "KaimingHe/deep-residual-networks",
                "tensorflow/models", "facebookresearch/ResNeXt",
                "gpleiss/efficient_densenet_pytorch", "hujie-frank/SENet"}
    files = [ROOT / "README.md", *sorted((ROOT / "book").glob("*.md")),
             *sorted((ROOT / "chapters").glob("*.ipynb"))]
    wrong = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        for m in re.finditer(r"(?:github\.com|colab\.research\.google\.com/github)/([\w.-]+/[\w.-]+)", text):
            found = re.sub(r"\.git$", "", m.group(1))
            if found != org_repo and found not in external:
                wrong.append(f"{path.relative_to(ROOT)}: {m.group(0)}")
    assert not wrong, f"links to a repository other than {org_repo}:\n" + "\n".join(wrong)


# ---------------------------------------------------------------------------------- the checks fire

def tiny_png() -> str:
    """A real 8×8 PNG, base64-encoded, made with matplotlib."""
    import io
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    fig = plt.figure(figsize=(0.08, 0.08), dpi=100)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def write_notebook(path: Path, title: str, outputs: list[dict]) -> None:
    nb = {"nbformat": 4, "nbformat_minor": 5,
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                      "language": "python"}},
          "cells": [{"cell_type": "markdown", "id": "title", "metadata": {}, "source": f"# {title}"},
                    {"cell_type": "code", "id": "figures", "metadata": {}, "execution_count": 1,
                     "source": "show()", "outputs": outputs}]}
    path.write_text(json.dumps(nb, indent=1), encoding="utf-8")


def figure(b64: str) -> dict:
    return {"output_type": "display_data", "metadata": {},
            "data": {"image/png": b64, "text/plain": "<Figure size 8x8 with 0 Axes>"}}


def write_reader_notebook(path: Path) -> None:
    """A chapter that builds but reads badly: too long, raw TeX, a visible nbval marker, a
    remote image, an output line wider than its box (the small book has no course.css to wrap
    it) and a block too wide for a phone."""
    long_text = " ".join(["word"] * (MAX_WORDS + 100))
    nb = {"nbformat": 4, "nbformat_minor": 5,
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                      "language": "python"}},
          "cells": [
              {"cell_type": "markdown", "id": "title", "metadata": {},
               "source": "# An unreadable chapter\n\nThe ratio \\frac{a}{b} left as TeX.\n\n"
                         "![a badge](https://example.invalid/badge.svg)\n\n"
                         '<div style="width:900px">a wide block</div>\n\n' + long_text},
              {"cell_type": "code", "id": "marker", "metadata": {}, "execution_count": 1,
               "source": "# NBVAL_IGNORE_OUTPUT\nprint('x' * 400)",
               "outputs": [{"output_type": "stream", "name": "stdout", "text": "x" * 400 + "\n"}]}]}
    path.write_text(json.dumps(nb, indent=1), encoding="utf-8")


@pytest.fixture(scope="module")
def broken_book(tmp_path_factory):
    """A two-chapter book with a toc entry pointing nowhere, a corrupted figure, a figure that
    goes missing from the page and a stored traceback; and its build."""
    tmp = tmp_path_factory.mktemp("broken")
    src = tmp / "src"
    (src / "book").mkdir(parents=True)
    (src / "chapters").mkdir()
    shutil.copy(ROOT / "_config.yml", src)
    shutil.copytree(ROOT / "_ext", src / "_ext")   # the local extension _config.yml names
    shutil.copy(ROOT / "book" / "references.bib", src / "book")
    (src / "book" / "intro.md").write_text("# A small book\n\nAn introduction.\n")
    good = tiny_png()
    write_notebook(src / "chapters" / "00_good.ipynb", "A good chapter", [figure(good)])
    write_notebook(src / "chapters" / "01_broken.ipynb", "A broken chapter", [
        figure(base64.b64encode(b"these bytes are not a PNG").decode()),  # will not load
        figure(good),  # removed from the page below
        {"output_type": "error", "ename": "ValueError", "evalue": "boom",
         "traceback": ["Traceback (most recent call last):", "ValueError: boom"]},
    ])
    write_reader_notebook(src / "chapters" / "03_unreadable.ipynb")
    (src / "_toc.yml").write_text(
        "format: jb-book\nroot: book/intro\nchapters:\n  - file: chapters/00_good\n"
        "  - file: chapters/01_broken\n  - file: chapters/02_nowhere\n"
        "  - file: chapters/03_unreadable\n")
    code, warnings, log = build(src, tmp / "out")
    html = tmp / "out" / "_build" / "html"
    broken = html / "chapters" / "01_broken.html"
    if broken.is_file():  # a figure goes missing from the page
        text = broken.read_text(encoding="utf-8")
        imgs = re.findall(r"<img [^>]*src=\"[^\"]*_images/[^\"]+\"[^>]*>", text)
        assert len(imgs) == 2, imgs
        broken.write_text(text.replace(imgs[1], ""), encoding="utf-8")
    return src, code, warnings, log, html


def test_build_check_catches_a_toc_entry_pointing_nowhere(broken_book):
    src, code, warnings, log, html = broken_book
    assert code != 0 and any("02_nowhere" in w for w in warnings), (
        "a toc entry pointing nowhere did not fail the build:\n" + log[-3000:])


def test_page_checks_catch_broken_pages(broken_book, page):
    """A corrupted figure, a missing figure, a traceback, a wrong link and a wrong title all fail."""
    src, code, warnings, log, html = broken_book
    title = config(src)["title"]
    good, broken = html / "chapters" / "00_good.html", html / "chapters" / "01_broken.html"
    ok = check_page(page, good, book_title=title, title="A good chapter", figures=1,
                    colab=colab_url("chapters/00_good.ipynb", src))
    assert ok == [], ok
    problems = check_page(page, broken, book_title=title, title="A broken chapter", figures=2,
                          colab=colab_url("chapters/01_broken.ipynb", src))
    report = "\n".join(problems)
    assert "image did not load" in report, report
    assert "the notebook stores 2 figure(s), the page shows 1" in report, report
    assert "a stored traceback" in report, report
    wrong_link = check_page(page, good, book_title=title, figures=1,
                            colab=colab_url("chapters/01_broken.ipynb", src))
    assert any("no Colab link" in p for p in wrong_link), wrong_link
    wrong_title = check_page(page, good, book_title="Another book", figures=1)
    assert any("page title" in p for p in wrong_title), wrong_title
    wrong_heading = check_page(page, good, book_title=title, title="Another chapter", figures=1)
    assert any("differs from the notebook's title" in p for p in wrong_heading), wrong_heading


def test_reader_checks_catch_an_unreadable_page(broken_book, page):
    """Too many words, raw TeX, a visible marker, a remote image, a wide output and a page that
    scrolls sideways on a phone each fail; the good page passes them all."""
    src, code, warnings, log, html = broken_book
    good = reader_view(page, html / "chapters" / "00_good.html")
    assert reader_problems(good) == [] and reader_view(
        page, html / "chapters" / "00_good.html", width=400)["scroll"] == 0
    bad = html / "chapters" / "03_unreadable.html"
    report = "\n".join(reader_problems(reader_view(page, bad)))
    for expected in ("visible words, more than a lecture's", "raw TeX in the visible text",
                     "nbval marker shown to the reader: NBVAL_IGNORE_OUTPUT",
                     "image did not load: https://example.invalid/badge.svg",
                     "output wider than its box: pre: xxxx"):
        assert expected in report, f"{expected!r} not reported:\n{report}"
    assert reader_view(page, bad, width=400)["scroll"] > 0
