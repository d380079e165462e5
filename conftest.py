"""What every test run needs, set before anything is collected (pytest.ini has the options).

- ``CNN_BUDGET=quick``: every notebook trains on a small subset for a few seconds. The nbval
  kernels are child processes, so they inherit this environment.
- ``CNN_RESULTS_DIR`` and ``CNN_CHECKPOINT_DIR`` point into a fresh temporary folder, so a test
  run never writes to ``results/`` or ``checkpoints/`` and never resumes from an old checkpoint.
  The results folder starts as a copy of ``results/``: a chapter that checks its reference
  numbers against the stored ones (``train.record_reference``) then says "unchanged", as in its
  stored output, or fails under nbval when they differ. The folder is removed at the end.
- The data: the loader in ``utils/data.py`` finds its cache, or the offline copy in
  ``../shared/data`` beside the repository, or downloads CIFAR-10; nothing to set here.

A full run (``pytest`` with no paths) also checks that nbval collected every chapter notebook,
so a notebook that silently stops being tested fails the run instead. Every run checks that it
left the repository as it found it (``git status``, ignored files included): running the
notebooks must not leave checkpoints, results or data behind.
"""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent


# Written by the tools themselves, not by the code under test.
TOOL_LEFTOVERS = (".pytest_cache", "__pycache__", "_build/", ".ipynb_checkpoints")


def repository_state() -> set[str] | None:
    """``git status --porcelain --ignored`` as a set of lines, without the tools' own caches;
    None outside a git checkout."""
    try:
        out = subprocess.run(["git", "status", "--porcelain", "--ignored", "--untracked-files=all"],
                             cwd=ROOT, capture_output=True, text=True, timeout=60, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return {line for line in out.splitlines() if not any(t in line for t in TOOL_LEFTOVERS)}


def pytest_configure(config):
    config._cnn_repo_state = repository_state()
    scratch = Path(tempfile.mkdtemp(prefix="cnn-history-tests-"))
    config._cnn_scratch = scratch
    os.environ["CNN_BUDGET"] = "quick"
    if (ROOT / "results").is_dir():
        shutil.copytree(ROOT / "results", scratch / "results")
    os.environ["CNN_RESULTS_DIR"] = str(scratch / "results")
    os.environ["CNN_CHECKPOINT_DIR"] = str(scratch / "checkpoints")
    # pytest.ini names the sanitize file relative to the root; make that hold from any folder.
    option = getattr(config.option, "nbval_sanitize_with", None)
    if option and not Path(option).is_absolute():
        config.option.nbval_sanitize_with = str(ROOT / option)


def pytest_sessionfinish(session, exitstatus):
    """Fail the run when it changed the repository (a checkpoint, a record, a cache file)."""
    before = getattr(session.config, "_cnn_repo_state", None)
    after = repository_state() if before is not None else None
    if after is None or after == before:
        return
    changed = sorted(after - before) + sorted(f"(gone) {line}" for line in before - after)
    print("\nThe tests changed the repository (git status differs from before the run):\n  "
          + "\n  ".join(changed[:20]))
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_unconfigure(config):
    scratch = getattr(config, "_cnn_scratch", None)
    if scratch is not None:
        shutil.rmtree(scratch, ignore_errors=True)


def pytest_collection_modifyitems(session, config, items):
    """With no paths given (the README's command, CI), every chapter must have been collected."""
    if config.args_source != pytest.Config.ArgsSource.TESTPATHS:
        return
    if (config.getoption("keyword") or config.getoption("markexpr") or config.getoption("lf", False)
            or config.getoption("deselect", None)):
        return
    collected = {Path(str(item.fspath)).resolve() for item in items}
    missing = [nb.relative_to(ROOT).as_posix() for nb in sorted((ROOT / "chapters").glob("*.ipynb"))
               if nb.resolve() not in collected]
    if missing:
        raise pytest.UsageError(
            "These chapter notebooks were not collected, so nbval would not test them: "
            + ", ".join(missing) + ". Is `--nbval` still in pytest.ini's addopts?")
