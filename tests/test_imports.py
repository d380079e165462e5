"""utils stays a set of modules that can each be read on its own: no import cycles, no giant file.

Every ``utils/**/*.py`` is parsed (never imported) and every import of another utils module is
collected, those inside functions included (``import utils.x``, ``from utils import x``,
``from utils.x import y``, and relative imports inside a sub-package such as ``utils.layers``).
The graph of those imports must have no cycle: a cycle means two modules that cannot be
understood, tested or split apart one without the other, and an import inside a function is
the usual way one hides. Imports under ``if TYPE_CHECKING:`` do not run and are left out.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UTILS = ROOT / "utils"
MAX_LINES = 900


def module_name(path: Path, root: Path = ROOT) -> str:
    """``utils/train.py`` -> ``utils.train``; ``utils/layers/__init__.py`` -> ``utils.layers``."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def sources() -> dict[str, list[Path]]:
    """Every utils module by name. During a move from ``x.py`` to a package ``x/`` both files
    may exist for a while: both are read, as one module."""
    found = {}
    for path in sorted(UTILS.rglob("*.py")):
        if "__pycache__" not in path.parts:
            found.setdefault(module_name(path), []).append(path)
    return found


def _type_checking(node) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"))


def _imports(tree: ast.AST):
    """Every Import/ImportFrom node, at any depth, except under ``if TYPE_CHECKING:``."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if _type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def imported_modules(name: str, path: Path, modules) -> set[str]:
    """The utils modules that the file ``path`` (module ``name``) imports."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]

    def known(target: str) -> str | None:
        """The module ``target`` names, or the nearest package above it that is one."""
        while target and target not in modules:
            target = target.rpartition(".")[0]
        return target or None

    out = set()
    for node in _imports(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            if node.level:  # relative: from . import x, from .x import y
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)] if node.level > 1 else base
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            # from utils import x: x may be a module; from utils.x import y: y may be one too
            targets = [f"{origin}.{a.name}" if f"{origin}.{a.name}" in modules else origin
                       for a in node.names]
        for target in targets:
            if target == "utils" or target.startswith("utils."):
                hit = known(target)
                if hit and hit != name:
                    out.add(hit)
    return out


def import_graph() -> dict[str, set[str]]:
    modules = sources()
    graph = {name: set() for name in modules}
    for name, paths in modules.items():
        for path in paths:
            graph[name] |= imported_modules(name, path, modules)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as ``[a, b, ..., a]``, or None (depth-first search)."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_the_graph_is_read_as_written(tmp_path):
    """The reader itself: imports at the top, inside functions, relative, and TYPE_CHECKING."""
    pkg = tmp_path / "utils"
    (pkg / "layers").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from utils import b\n")
    (pkg / "b.py").write_text("def f():\n    from utils.c import thing\n")
    (pkg / "c.py").write_text("import utils.layers.common\nfrom typing import TYPE_CHECKING\n"
                              "if TYPE_CHECKING:\n    from utils import a\n")
    (pkg / "layers" / "__init__.py").write_text("from .common import Block\n")
    (pkg / "layers" / "common.py").write_text("from . import other\nfrom utils import a\n")
    (pkg / "layers" / "other.py").write_text("")
    modules = {module_name(p, tmp_path): [p] for p in pkg.rglob("*.py")}
    graph = {n: set().union(*(imported_modules(n, p, modules) for p in ps))
             for n, ps in modules.items()}
    assert graph["utils.a"] == {"utils.b"} and graph["utils.b"] == {"utils.c"}
    assert graph["utils.c"] == {"utils.layers.common"}                    # not the TYPE_CHECKING one
    assert graph["utils.layers"] == {"utils.layers.common"}
    assert graph["utils.layers.common"] == {"utils.layers.other", "utils.a"}
    cycle = find_cycle(graph)
    assert cycle == ["utils.a", "utils.b", "utils.c", "utils.layers.common", "utils.a"]
    assert find_cycle({"x": {"y"}, "y": set()}) is None


def test_utils_has_no_import_cycle():
    graph = import_graph()
    assert "utils.train" in graph and "utils.results" in graph
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle in utils: " + " -> ".join(cycle)


@pytest.mark.parametrize("name", sorted(sources()))
def test_no_utils_module_is_over_900_lines(name):
    for path in sources()[name]:
        lines = len(path.read_text(encoding="utf-8").splitlines())
        assert lines <= MAX_LINES, (f"{path.relative_to(ROOT).as_posix()} has {lines} lines "
                                    f"(at most {MAX_LINES}): split it by concern")
