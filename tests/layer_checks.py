"""Helpers for the tests of utils.layers: the chapters' own definitions of their networks, taken
out of the notebooks (to compare them with the graduated versions), and full-size networks with
random weights built in a fraction of the usual time.

``chapter_definitions("01_alexnet", "AlexNet")`` finds the code cell that defines the class (or
function) ``AlexNet`` in chapters/01_alexnet.ipynb, takes that definition alone (not the rest of
the cell, which builds and trains things), and executes it in a namespace that holds what the
chapters import: ``torch``, ``nn``, ``F``, ``torchvision``, ``OrderedDict`` and ``layers``
(utils.layers). It returns the namespace. The notebook is read as JSON, never executed, so these
tests stay fast, and they fail as soon as a chapter's network and its utils twin drift apart.

``build(make)`` is ``utils.layers.random_weights``: a network built on the meta device, given
memory without initialising it and filled with seeded random numbers (a VGG-16 in a fraction of
the time of PyTorch's own initialisation; random weights are all an equal-output test needs).
It lives in utils because chapter 7 uses it too.

A chapter may stop defining a network and import it from utils.layers instead; then there is
nothing left to compare: ``chapter_definitions`` skips the test when the chapter refers to
``layers.<graduated>`` and fails it otherwise (the definition was renamed or lost).
"""

import ast
import json
import re
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from utils import layers
from utils.layers.reference import random_weights as build  # noqa: F401  (the tests import it here)

CHAPTERS = Path(__file__).resolve().parent.parent / "chapters"


def _code_cells(chapter: str) -> list[str]:
    path = CHAPTERS / f"{chapter}.ipynb"
    nb = json.loads(path.read_text(encoding="utf-8"))
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]


def _parseable(source: str) -> str:
    """The cell with IPython's magics and shell escapes (``%time``, ``!pip``) turned into blanks."""
    return re.sub(r"(?m)^(\s*)[%!].*$", r"\1pass", source)


def _definitions(chapter: str) -> dict[str, str]:
    """Every top-level ``class``/``def`` of the chapter's code cells: name -> source (the last
    definition of a name wins, as when the notebook is run top to bottom)."""
    found = {}
    for source in _code_cells(chapter):
        source = _parseable(source)
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
                first = min([node.lineno] + [d.lineno for d in node.decorator_list])
                lines = source.splitlines()[first - 1:node.end_lineno]
                found[node.name] = "\n".join(lines) + "\n"
    return found


def chapter_definitions(chapter: str, *names: str, graduated: str | None = None) -> dict:
    """Execute the chapter's definitions of ``names`` (in that order: list helpers first) and
    return the namespace they were executed in. ``graduated``: the utils.layers name that
    replaces them, for the skip message when the chapter uses it directly."""
    found = _definitions(chapter)
    missing = [n for n in names if n not in found]
    if missing:
        text = "\n".join(_code_cells(chapter))
        if graduated and re.search(rf"\blayers\.{re.escape(graduated)}\b", text):
            pytest.skip(f"chapters/{chapter}.ipynb no longer defines {', '.join(missing)}: "
                        f"it uses layers.{graduated} itself")
        pytest.fail(f"chapters/{chapter}.ipynb defines no {', '.join(missing)} (and does not use "
                    f"layers.{graduated}): rename the test's reference or the chapter's code")
    namespace = {"torch": torch, "nn": nn, "F": F, "torchvision": torchvision,
                 "OrderedDict": OrderedDict, "layers": layers, "__name__": f"chapters.{chapter}"}
    for name in names:
        exec(compile(found[name], f"chapters/{chapter}.ipynb:{name}", "exec"), namespace)
    return namespace


def same_init(make_ours, make_theirs, seed: int = 0) -> bool:
    """Whether the two constructors, called after the same ``torch.manual_seed``, give identical
    state dicts: the same modules created in the same order with the same initialisation."""
    torch.manual_seed(seed)
    ours = make_ours().state_dict()
    torch.manual_seed(seed)
    theirs = make_theirs().state_dict()
    return list(ours) == list(theirs) and all(torch.equal(ours[k], theirs[k]) for k in ours)



def assert_torchvision_twin(make_ours, name: str, params: int) -> None:
    """``make_ours()`` is torchvision's ``name`` at full size (built on the meta device): the same
    parameter count ``params``, and the same state dict under the same names, not mapped."""
    with torch.device("meta"):
        check = layers.same_as_reference(make_ours(), getattr(torchvision.models, name)())
    check.assert_ok()
    assert check.params == (params, params)
    assert all(k == v for k, v in check.mapping.items())
