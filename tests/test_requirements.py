"""The requirement files and the README's local set-up.

``requirements.txt`` is what Colab needs: lower bounds only, which Colab's preinstalled
packages meet (a pin or an upper bound would make the set-up cell reinstall torch there), each
with a comment saying what API sets it. The README's "Running locally" must install what its
commands then run, and ``requirements-dev.txt`` what the tools around the book need.
"""

import re
import shlex
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent

#: What a recent Colab runtime has preinstalled (update when it moves on): every bound must
#: admit these, so that the set-up cell reinstalls nothing there.
COLAB = {"torch": "2.8.0", "torchvision": "0.23.0", "numpy": "2.0.2", "matplotlib": "3.10.0",
         "tqdm": "4.67.1", "ipywidgets": "7.7.1",
         "timm": "1.0.19"}

#: The command each package provides, for the README's commands.
COMMANDS = {"jupyter lab": "jupyterlab", "jupyter notebook": "notebook",
            "jupyter-book": "jupyter-book", "jupyter nbconvert": "nbconvert", "pytest": "pytest"}


def requirement_lines(path: Path) -> list[tuple[Requirement, str]]:
    """(requirement, its comment) for every requirement line of ``path`` (``-r`` lines and
    comment-only lines skipped)."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        spec, _, comment = line.partition(" #")
        spec = spec.strip()
        if spec and not spec.startswith(("#", "-")):
            rows.append((Requirement(spec), comment.strip(" #")))
    return rows


def names_in(path: Path) -> set[str]:
    """The packages a requirement file installs, following its ``-r`` lines."""
    names = {r.name.lower() for r, _ in requirement_lines(path)}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("-r "):
            names |= names_in(path.parent / line.split()[1])
    return names


def installed_names(command: str) -> set[str]:
    """The packages a ``pip install`` command line (run from the repository's root) installs."""
    args, names = shlex.split(command)[2:], set()
    for before, arg in zip(["", *args], args):
        if before == "-r":
            names |= names_in(ROOT / arg)
        elif not arg.startswith("-"):
            names.add(Requirement(arg).name.lower())
    return names


def readme_section(title: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


def test_chapter_requirements_are_reasoned_lower_bounds_that_colab_meets():
    rows = requirement_lines(ROOT / "requirements.txt")
    assert {r.name for r, _ in rows} == set(COLAB), "a new requirement: add Colab's version above"
    for req, why in rows:
        assert len(req.specifier) == 1, f"{req}: one lower bound, nothing else"
        (spec,) = req.specifier
        assert spec.operator == ">=", f"{req}: only lower bounds (>=), never pins or upper bounds"
        assert len(why) > 10, f"{req}: say in a comment what sets the bound"
        assert Version(COLAB[req.name]) in req.specifier, f"{req} refuses Colab's {COLAB[req.name]}"


def test_the_readme_installs_what_running_locally_runs():
    block = re.search(r"```bash\n(.*?)```", readme_section("Running locally"), re.S).group(1)
    lines = [line.strip() for line in block.splitlines()]
    installs = [line for line in lines if line.startswith("pip install")]
    installed = set().union(*map(installed_names, installs))
    ran = [command for command in COMMANDS if any(line.startswith(command) for line in lines)]
    assert ran, "the README's local instructions run no known command"
    for command in ran:
        assert COMMANDS[command] in installed, (
            f"the README runs `{command}` but its pip install does not install {COMMANDS[command]}")


def test_requirements_dev_has_the_notebook_tools():
    names = {r.name.lower(): r for r, _ in requirement_lines(ROOT / "requirements-dev.txt")}
    for name in ("nbconvert", "nbclient", "nbformat", "ipykernel", "jupyter-book", "nbval"):
        assert name in names, f"requirements-dev.txt lacks {name}"
    assert [s.operator for s in names["nbconvert"].specifier] == [">="]  # a loose lower bound
