"""The set-up cell: the same in every chapter, built from ``_config.yml``, and working in Colab.

Colab is simulated as closely as a machine without it allows: a fresh Jupyter kernel, started
in an empty folder (Colab's ``/content``), with a stand-in ``google.colab`` module in
``sys.modules`` (Colab imports the real one before any cell runs, which is what the cell tests)
and ``COURSE_REPO_URL`` naming a local clone source instead of GitHub. The cell then really
runs ``git clone`` and ``pip install -q -r requirements.txt``. pip runs for real, so the clone's
requirements are proven to parse and to be satisfied by an environment that already has
everything, as Colab has, without reinstalling anything; ``PIP_NO_INDEX=1`` keeps it off the
network, so a requirement that is not satisfied fails at once with pip's own message instead of
waiting for a download. A decoy top-level ``utils`` package on ``PYTHONPATH`` stands for one
installed in site-packages: the cell's clone must win over it. A decoy ``d2l`` beside it makes
D2L's package importable, so the cell installs it only where it is missing; that step is tested
on its own with a stand-in for ``sys.executable`` that records pip's arguments.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest
import yaml
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))


def configured_url() -> str:
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    return config["repository"]["url"].rstrip("/")


def first_code_cell(path: Path) -> str:
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            return "".join(cell["source"])
    return ""


def run_cells(cells: list[str], cwd: Path, timeout: int = 300) -> list[str]:
    """Run ``cells`` in a fresh kernel started in ``cwd``; return each cell's printed text."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=False,
                   resources={"metadata": {"path": str(cwd)}}).execute()
    return ["".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream"
                    and o.name == "stdout") for cell in nb.cells]


# ------------------------------------------------------------------------------ the text


def test_the_cell_takes_the_address_from_config(script):
    text = script("setup_cell").source()
    url = configured_url()
    assert f'REPO_URL = "{url}"' in text
    assert f'os.path.abspath("{url.rsplit("/", 1)[-1]}")' in text
    assert text.startswith(script("setup_cell").MARKER)
    compile(text, "<set-up cell>", "exec")


def test_the_cell_follows_a_changed_address(script, tmp_path):
    (tmp_path / "_config.yml").write_text("repository:\n  url: https://github.com/someone/a-fork/\n")
    text = script("setup_cell").source(tmp_path)
    assert 'REPO_URL = "https://github.com/someone/a-fork"' in text
    assert 'os.path.abspath("a-fork")' in text
    assert configured_url() not in text


@pytest.mark.parametrize("notebook", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_every_chapter_starts_with_the_set_up_cell(script, notebook):
    assert first_code_cell(notebook) == script("setup_cell").source(), (
        f"{notebook.name}: the first code cell is not the canonical set-up cell; run "
        f"python scripts/sync_setup_cell.py (it says whether the notebook must run again)")


def test_sync_inserts_replaces_and_leaves_alone(script, tmp_path):
    sync = script("sync_setup_cell")
    text = script("setup_cell").source()
    path = tmp_path / "chapter.ipynb"
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# A chapter"),
        nbformat.v4.new_code_cell("print(1)", execution_count=1,
                                  outputs=[nbformat.v4.new_output("stream", text="1\n")]),
    ])
    nbformat.write(nb, path)

    assert sync.main([str(path)]) == 0  # inserted after the header, before the first code cell
    nb = nbformat.read(path, as_version=4)
    assert [c.cell_type for c in nb.cells] == ["markdown", "code", "code"]
    assert nb.cells[1].source == text and nb.cells[2].outputs[0].text == "1\n"

    nb.cells[1].source = text.replace("sys.path.insert", "sys.path.append")  # an old version
    nbformat.write(nb, path)
    assert sync.main([str(path), "--check"]) == 1
    assert sync.main([str(path)]) == 0
    nb = nbformat.read(path, as_version=4)
    assert len(nb.cells) == 3 and nb.cells[1].source == text

    before = path.stat().st_mtime_ns
    assert sync.main([str(path), "--check"]) == 0
    assert sync.main([str(path)]) == 0
    assert path.stat().st_mtime_ns == before  # nothing to change: not rewritten


# ------------------------------------------------------------------------------ running it


def test_locally_the_cell_is_silent_and_finds_the_repository(script):
    outputs = run_cells([script("setup_cell").source(), "import utils; print(utils.__file__)"],
                        cwd=ROOT / "chapters")
    assert outputs[0] == ""
    assert Path(outputs[1].strip()) == ROOT / "utils" / "__init__.py"


def test_outside_the_repository_the_cell_says_what_to_do(script, tmp_path):
    with pytest.raises(Exception, match="inside the course's folder"):
        run_cells([script("setup_cell").source()], cwd=tmp_path)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_in_colab_the_cell_clones_installs_and_imports_the_clone(script, tmp_path, monkeypatch):
    if subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True).returncode:
        pytest.skip("the repository has no commit to clone (not a git checkout)")
    content = tmp_path / "content"  # Colab's working folder
    content.mkdir()
    decoy = tmp_path / "site-packages"
    (decoy / "utils").mkdir(parents=True)
    (decoy / "utils" / "__init__.py").write_text("DECOY = True\n")
    (decoy / "d2l").mkdir()  # d2l importable: the cell must not try to install it (no index)
    (decoy / "d2l" / "__init__.py").write_text("")
    monkeypatch.setenv("COURSE_REPO_URL", str(ROOT))
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PYTHONPATH", str(decoy))

    folder = configured_url().rsplit("/", 1)[-1]
    colab = "import sys, types; sys.modules['google.colab'] = types.ModuleType('google.colab')"
    where = ("import importlib.util; print(importlib.util.find_spec('utils').origin)")
    cell = script("setup_cell").source()
    check = "import utils; print(utils.__file__); print(hasattr(utils, 'DECOY'))"

    before, _, after = run_cells([colab + "\n" + where, cell, check], cwd=content)
    clone = content / folder
    assert Path(before.strip()) == decoy / "utils" / "__init__.py"  # the decoy would win
    assert (clone / ".git").is_dir() and (clone / "requirements.txt").is_file()
    assert after.split() == [str(clone / "utils" / "__init__.py"), "False"]

    # A second session (Colab after "Restart session"): the clone is reused, not cloned again.
    marker = clone / "utils" / "_marker.py"
    marker.write_text("")
    again = run_cells([colab, cell, check], cwd=content)[2]
    assert again.split() == [str(clone / "utils" / "__init__.py"), "False"] and marker.exists()


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_in_colab_a_failed_clone_says_what_happened_and_what_to_do(script, tmp_path, monkeypatch):
    content = tmp_path / "content"
    content.mkdir()
    monkeypatch.setenv("COURSE_REPO_URL", str(tmp_path / "unreachable"))  # git fails at once
    colab = "import sys, types; sys.modules['google.colab'] = types.ModuleType('google.colab')"
    with pytest.raises(CellExecutionError) as caught:
        run_cells([colab, script("setup_cell").source()], cwd=content)
    name, message = caught.value.ename, caught.value.evalue
    folder = content / configured_url().rsplit("/", 1)[-1]
    assert name == "RuntimeError" and message.startswith("git could not clone"), (name, message)
    assert f"(fatal: repository '{tmp_path / 'unreachable'}' does not exist)" in message  # git's
    assert f"upload the course's folder to {folder}" in message and "COURSE_REPO_URL" in message
    assert not folder.exists()


@pytest.mark.skipif(os.name == "nt", reason="the stand-in for Python is a POSIX shell script")
@pytest.mark.parametrize("d2l_present", [False, True], ids=["d2l-missing", "d2l-present"])
def test_in_colab_the_cell_installs_d2l_without_its_pins_only_when_missing(script, tmp_path,
                                                                           monkeypatch, d2l_present):
    """pip install --no-deps d2l after requirements.txt when d2l is not importable, and not at
    all when it is (a second session, or a runtime that has it). ``sys.executable`` is replaced
    by a script that records its arguments, so nothing is installed and nothing downloaded."""
    content = tmp_path / "content"
    clone = content / configured_url().rsplit("/", 1)[-1]
    clone.mkdir(parents=True)  # already cloned: the cell goes straight to pip
    (clone / "requirements.txt").write_text("")
    log = tmp_path / "pip-calls.txt"
    fake = tmp_path / "fake-python"
    fake.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\n')
    fake.chmod(0o755)
    decoy = tmp_path / "site-packages"
    (decoy / "d2l").mkdir(parents=True)
    (decoy / "d2l" / "__init__.py").write_text("")
    if d2l_present:
        monkeypatch.setenv("PYTHONPATH", str(decoy))
    hide = "" if d2l_present else "; sys.modules['d2l'] = None"  # find_spec('d2l') -> None
    colab = ("import sys, types; sys.modules['google.colab'] = types.ModuleType('google.colab'); "
             f"sys.executable = {str(fake)!r}" + hide)
    run_cells([colab, script("setup_cell").source()], cwd=content)
    calls = log.read_text().splitlines()
    expected = [f"-m pip install -q -r {clone / 'requirements.txt'}"]
    if not d2l_present:
        expected.append("-m pip install -q --no-deps d2l")
    assert calls == expected
