"""D2L's ``d2l`` package beside the course's numpy, installed the same way in every place.

``d2l`` 1.0.3 pins ``numpy==1.23.5`` (and old pandas, scipy, matplotlib, requests, jupyter):
installed with its dependencies it would replace numpy 2 (and on Python 3.12, Colab's, it
cannot be installed at all). ``pip install --no-deps d2l`` installs d2l alone; what
``d2l.torch`` really imports is in ``requirements-dev.txt``. The README's set-up command, CI and
the set-up cell (in Colab) must all install it that way, and the installed d2l must import.
"""

import ast
import importlib.metadata
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
INSTALL = "pip install --no-deps d2l"

#: Distributions that d2l.torch imports and that come with something requirements-dev.txt
#: names, rather than being named there themselves.
BROUGHT_BY = {"ipython": "ipykernel", "pillow": "torchvision", "torch": "requirements.txt",
              "torchvision": "requirements.txt", "numpy": "requirements.txt",
              "matplotlib": "requirements.txt"}


def readme_setup_command() -> str:
    """The first line of the README's "Two commands on a fresh machine"."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("\n## Two commands on a fresh machine\n"):]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return block.splitlines()[0].strip()


def requirement_names(path: Path) -> set[str]:
    names = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        spec = line.partition(" #")[0].strip()
        if line.startswith("-r "):
            names |= requirement_names(path.parent / line.split()[1])
        elif spec and not spec.startswith(("#", "-")):
            names.add(Requirement(spec).name.lower())
    return names


def test_the_readme_installs_d2l_without_its_pins():
    command = readme_setup_command()
    steps = [s.strip() for s in command.split("&&")]
    assert INSTALL in steps, f"the README's set-up command lacks `{INSTALL}`: {command}"
    assert steps.index(INSTALL) > steps.index("pip install -r requirements-dev.txt"), (
        "d2l after requirements-dev.txt, which brings what d2l.torch imports")
    assert "pip install d2l" not in command, "a plain install would bring numpy==1.23.5"


def test_ci_runs_the_readme_set_up_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    commands = [line.strip() for line in ci.splitlines() if not line.lstrip().startswith("#")]
    assert readme_setup_command() in commands, (
        ".ci/run must run the README's first command as it stands: " + readme_setup_command())


def test_the_set_up_cell_installs_d2l_without_its_pins_in_colab_only(script):
    text = script("setup_cell").source()
    colab, _, elsewhere = text.partition("\nelse:\n")
    assert '"pip", "install", "-q", "--no-deps", "d2l"' in colab
    assert 'importlib.util.find_spec("d2l") is None' in colab  # only when missing
    assert "d2l" not in elsewhere  # locally the cell installs nothing
    # after requirements.txt, as in the README's command
    assert colab.index("requirements.txt") < colab.index('"--no-deps", "d2l"')


def test_requirements_dev_has_what_d2l_torch_imports():
    names = requirement_names(ROOT / "requirements-dev.txt")
    for name in ("pandas", "scipy", "requests", "matplotlib-inline"):
        assert name in names, f"requirements-dev.txt lacks {name}, which d2l.torch imports"
    assert "d2l" not in names, f"d2l is installed with `{INSTALL}`, never as a requirement"


def d2l_torch_path() -> Path:
    spec = importlib.util.find_spec("d2l")
    if spec is None:
        pytest.skip(f"d2l is not installed here (install it with `{INSTALL}`)")
    return Path(spec.submodule_search_locations[0]) / "torch.py"


def test_d2l_torch_imports_beside_the_installed_numpy():
    d2l_torch_path()
    code = ("import importlib.metadata as m, numpy; from d2l import torch as d2l; "
            "print(numpy.__version__, m.version('numpy'), m.version('d2l'))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=600, cwd=ROOT)
    assert run.returncode == 0, f"`from d2l import torch as d2l` failed:\n{run.stderr[-2000:]}"
    imported, installed, _ = run.stdout.split()
    assert imported == installed  # the environment's numpy, not a second one
    with open(ROOT / "requirements.txt", encoding="utf-8") as f:
        numpy_req = next(Requirement(line.partition(" #")[0]) for line in f
                         if line.startswith("numpy"))
    assert installed in numpy_req.specifier, f"numpy {installed} does not meet {numpy_req}"


def test_every_top_level_import_of_d2l_torch_is_required():
    """The modules ``d2l/torch.py`` imports when imported are named in requirements-dev.txt (or
    come with something named there), so that `--no-deps` leaves none out."""
    tree = ast.parse(d2l_torch_path().read_text(encoding="utf-8"))
    modules = set()
    for node in tree.body:  # the top level only: imports inside functions are lazy (gym)
        if isinstance(node, ast.Import):
            modules |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            modules.add(node.module.split(".")[0])
    modules -= set(sys.stdlib_module_names) | {"d2l"}
    distributions = importlib.metadata.packages_distributions()
    required = requirement_names(ROOT / "requirements-dev.txt")
    missing = []
    for module in sorted(modules):
        dists = {d.lower().replace("_", "-") for d in distributions.get(module, [module])}
        if not dists & (required | set(BROUGHT_BY)):
            missing.append(f"{module} ({', '.join(sorted(dists))})")
    assert not missing, f"d2l.torch imports what requirements-dev.txt lacks: {missing}"
