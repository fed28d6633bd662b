"""The shape of the package: no import cycle between its modules, no module over 500 lines.

The import graph is built from the source (the AST of every module of ``rawconv`` and
``rawconv.parallel``), not by importing, so that it sees every import:

- relative and absolute imports, resolved to the modules of the package they name
  (``from . import x`` is an edge to the module ``x`` when there is one, else to the
  package); imports of other packages are ignored;
- imports inside functions count too: deferring an import to call time hides a cycle from
  the interpreter but not from the design, and deferred imports are how cycles creep back;
- imports under ``if TYPE_CHECKING:`` do not count (they never run);
- importing ``a.b.c`` also runs the ``__init__`` of ``a.b`` (and of ``a``): an edge goes to
  each such package, except to the packages the importing module itself is part of (those
  are being imported already), so that a cycle through a package's ``__init__`` shows.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"rawconv": ROOT / "rawconv", "rawconv.parallel": ROOT / "parallel"}
MAX_LINES = 500


def package_modules() -> dict[str, Path]:
    """Module name -> file, for every module of rawconv and rawconv.parallel."""
    out: dict[str, Path] = {}
    for package, folder in PACKAGES.items():
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join([package, *parts])] = path
    return out


def _is_type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement of a module, at any depth, but under ``if TYPE_CHECKING``."""
    found: list[ast.Import | ast.ImportFrom] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        if _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))
    return found


def _known(name: str, modules: dict[str, Path]) -> str | None:
    """`name`, or the longest of its prefixes that is a module of the package."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def _targets(module: str, path: Path, node: ast.AST, modules: dict[str, Path]) -> set[str]:
    if isinstance(node, ast.Import):
        return {t for a in node.names if (t := _known(a.name, modules)) is not None}
    assert isinstance(node, ast.ImportFrom)
    if node.level:
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{node.module}" if node.module else package
    else:
        base = node.module or ""
    found = set()
    for alias in node.names:
        target = f"{base}.{alias.name}"
        found.add(target if target in modules else _known(base, modules))
    return {t for t in found if t is not None}


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the modules of the package that importing it runs (see the docstring)."""
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        edges: set[str] = set()
        for node in _imports(ast.parse(path.read_text(), filename=str(path))):
            for target in _targets(module, path, node, modules):
                edges.add(target)
                parts = target.split(".")
                for i in range(1, len(parts)):
                    parent = ".".join(parts[:i])
                    if parent in modules and not (module + ".").startswith(parent + "."):
                        edges.add(parent)
        edges.discard(module)
        graph[module] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of `graph` as a list of nodes (first == last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)) is not None:
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)) is not None:
            return cycle
    return None


def test_no_import_cycle_in_the_package():
    modules = package_modules()
    assert {"rawconv", "rawconv.lh5.writer", "rawconv.parallel.merge"} <= modules.keys()
    cycle = find_cycle(import_graph(modules))
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def _graph_of(sources: dict[str, str], tmp_path: Path) -> dict[str, set[str]]:
    modules = {}
    for name, text in sources.items():
        path = tmp_path / f"{name}.py"
        path.write_text(text)
        modules[name.replace("__init__", "").replace("/", ".").strip(".")] = path
    return import_graph(modules)


@pytest.mark.parametrize(
    ("sources", "cyclic"),
    [
        # a <-> b through a relative import at module level
        ({"pkg/a": "from . import b\n", "pkg/b": "from .a import f\n"}, True),
        # ... through an absolute import inside a function
        ({"pkg/a": "import pkg.b\n", "pkg/b": "def f():\n    from pkg import a\n"}, True),
        # ... through a package __init__ that imports its submodule
        ({"pkg/__init__": "from .sub import x\n", "pkg/sub/__init__": "from . import x\n",
          "pkg/sub/x": "from .. import other\n", "pkg/other": "from .sub import x\n"}, True),
        # a typing-only import runs nothing
        ({"pkg/a": "from . import b\n",
          "pkg/b": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import a\n"},
         False),
        # a package's __init__ importing its modules, which import each other, is no cycle
        ({"pkg/__init__": "from .a import f\n", "pkg/a": "from .b import g\n", "pkg/b": ""},
         False),
    ],
)  # fmt: skip
def test_the_cycle_finder_sees_cycles(sources, cyclic, tmp_path):
    for name in sources:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
    graph = _graph_of(sources, tmp_path)
    assert (find_cycle(graph) is not None) == cyclic, graph


def test_no_module_over_500_lines():
    long = {
        name: n
        for name, path in package_modules().items()
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def test_lazy_exports_are_the_public_names():
    """Each package's __all__ equals its lazily imported names, and each resolves."""
    import rawconv.parallel

    import rawconv

    for package in (rawconv, rawconv.parallel):
        exports = set(package._EXPORTS)
        assert set(package.__all__) - {"__version__"} == exports
        for name in exports:
            value = getattr(package, name)
            assert getattr(value, "__module__", package.__name__).startswith("rawconv"), name
