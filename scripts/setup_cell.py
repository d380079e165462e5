"""The set-up cell that every chapter starts with: its one canonical text.

Why a cell and not an installed package: the course's code lives in the top-level package
``utils/``, which must never be pip-installed (a top-level ``utils`` in site-packages collides
with other packages of that name). So each chapter's first code cell puts the repository's root
at the front of ``sys.path``, where it wins over anything installed:

- in Colab (``google.colab`` is imported there before any cell runs) it clones the repository
  next to the notebook (``/content/cnn-history``) once, and installs ``requirements.txt``, whose
  lower bounds Colab already satisfies, so normally nothing is reinstalled; a clone that fails
  (no network, a wrong address) raises a RuntimeError with git's last line and what to do;
  then, unless ``d2l`` is already importable, D2L's package with ``pip install --no-deps d2l``:
  d2l 1.0.3 pins ``numpy==1.23.5`` (and the pandas, scipy, matplotlib of mid-2023), which would
  replace Colab's numpy and cannot be built on Python 3.12; without its pins it imports beside
  numpy 2, and what ``d2l.torch`` imports (pandas, scipy, requests, matplotlib-inline) Colab
  already has;
- anywhere else it walks up from the working folder to the folder that holds ``utils/``, and
  prints nothing.

``COURSE_REPO_URL`` overrides the address to clone (a fork, or a local path in the tests). The
address itself is defined once, as ``repository.url`` in ``_config.yml``.

``python scripts/sync_setup_cell.py`` writes this text into every chapter; the tests check that
every chapter carries it unchanged.
"""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent

TEMPLATE = '''\
# Set-up (the same in every chapter). In Colab: fetch the course, install what Colab lacks.
# Elsewhere: only put the repository's root on the path, so that `import utils` works.
import os, sys, subprocess, importlib.util
REPO_URL = "{url}"
if "google.colab" in sys.modules:
    ROOT = os.path.abspath("{folder}")
    if not os.path.isdir(ROOT):
        url = os.environ.get("COURSE_REPO_URL", REPO_URL)
        git = subprocess.run(["git", "clone", "--depth", "1", url, ROOT],
                             capture_output=True, text=True)
        if git.returncode:
            why = (git.stderr.strip() or "no message").splitlines()[-1]
            raise RuntimeError(f"git could not clone {{url}} ({{why}}). Online: run this cell "
                               f"again. Offline: upload the course's folder to {{ROOT}} (or clone "
                               "it there by hand), or set os.environ['COURSE_REPO_URL'] to a "
                               "copy you can reach.")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-r",
                    os.path.join(ROOT, "requirements.txt")], check=True)
    if importlib.util.find_spec("d2l") is None:  # D2L's package, without its pins (numpy 1.23)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "d2l"],
                       check=True)
else:
    ROOT = os.getcwd()
    while not os.path.isdir(os.path.join(ROOT, "utils")):
        if os.path.dirname(ROOT) == ROOT:
            raise RuntimeError("Open this notebook inside the course's folder "
                               "(the one holding utils/), or in Colab.")
        ROOT = os.path.dirname(ROOT)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)'''

#: How the set-up cell starts: a first code cell starting like this is replaced, not duplicated.
MARKER = "# Set-up (the same in every chapter)"


def repository_url(root: Path = ROOT) -> str:
    """``repository.url`` from ``_config.yml``: the one place the address is defined."""
    config = yaml.safe_load((Path(root) / "_config.yml").read_text(encoding="utf-8"))
    try:
        url = config["repository"]["url"]
    except (KeyError, TypeError):
        raise ValueError(f"{Path(root) / '_config.yml'} has no repository.url") from None
    return str(url).rstrip("/")


def source(root: Path = ROOT) -> str:
    """The set-up cell's text, with the address from ``_config.yml`` filled in."""
    url = repository_url(root)
    folder = url.rsplit("/", 1)[-1].removesuffix(".git")
    return TEMPLATE.format(url=url, folder=folder)


if __name__ == "__main__":
    print(source())
