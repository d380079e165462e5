"""Fixtures shared by the tests in this folder (the environment is set in the root conftest.py)."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def script():
    """Import a module from scripts/ (plain scripts, not a package): ``script("setup_cell")``."""
    def load(name: str):
        spec = importlib.util.spec_from_file_location(f"scripts_{name}", ROOT / "scripts" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    return load
