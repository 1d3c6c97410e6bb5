"""No import cycles among the modules of harness/ and services/ (read with ast, nothing imported).

Two graphs: the imports that run when a module is imported (none may form a cycle), and every
import, deferred ones too (inside a function, under `if TYPE_CHECKING:`), whose cycles are the
tangles a lazy import only hides; those still left are listed, with who is removing them.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("harness", "services")

# Cycles through deferred imports still left, each as `find_cycles` gives it (its modules sorted).
# Empty this as they go: the test fails on a new cycle, and on a listed one that is gone.
KNOWN_DEFERRED_CYCLES: set[tuple[str, ...]] = set()  # none left: a new entry needs a reason beside it


def module_name(path: Path, root: Path = ROOT) -> str:
    """The dotted module name of a file under `root` (a package's __init__ is the package)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _all_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement in the module, wherever it is."""
    return [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]


def _module_level_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Imports run when the module is imported: not inside a def/class, not under `if TYPE_CHECKING:`."""
    found: list[ast.Import | ast.ImportFrom] = []

    def walk(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                found.append(node)
            elif isinstance(node, ast.If):
                if not _is_type_checking(node.test):
                    walk(node.body)
                walk(node.orelse)
            elif isinstance(node, ast.Try):
                walk(node.body)
                for h in node.handlers:
                    walk(h.body)
                walk(node.orelse)
                walk(node.finalbody)
            elif isinstance(node, ast.With):
                walk(node.body)

    walk(tree.body)
    return found


def import_graph(root: Path = ROOT, packages: tuple[str, ...] = PACKAGES, *,
                 deferred: bool = False) -> dict[str, set[str]]:
    """Module -> the project modules it imports at module level (`deferred`: anywhere); `from pkg import m` counts pkg.m."""
    imports = _all_imports if deferred else _module_level_imports
    files = {module_name(p, root): p for pkg in packages for p in sorted((root / pkg).rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        is_pkg = path.name == "__init__.py"
        package = name if is_pkg else name.rpartition(".")[0]
        deps: set[str] = set()
        for node in imports(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                targets = [base] + [f"{base}.{a.name}" for a in node.names]
            for t in targets:
                # `import a.b.c` runs a, a.b and a.b.c; the graph keeps the deepest project module.
                while t and t not in files:
                    t = t.rpartition(".")[0]
                if t and t != name:
                    deps.add(t)
        graph[name] = deps
    return graph


def find_cycles(graph: dict[str, set[str]]) -> set[tuple[str, ...]]:
    """Every strongly connected component of more than one module, as a sorted tuple (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: set[tuple[str, ...]] = set()

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.add(tuple(sorted(comp)))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_finds_a_cycle_and_ignores_function_and_type_checking_imports(tmp_path: Path) -> None:
    pkg = tmp_path / "p"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from . import b\n")
    (pkg / "b.py").write_text("from .a import x\n")
    (pkg / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import d\n")
    (pkg / "d.py").write_text("def f():\n    from . import c\nfrom .c import y\n")
    assert find_cycles(import_graph(tmp_path, ("p",))) == {("p.a", "p.b")}
    assert find_cycles(import_graph(tmp_path, ("p",), deferred=True)) == {("p.a", "p.b"), ("p.c", "p.d")}


def _show(cycles: set[tuple[str, ...]]) -> str:
    return "; ".join(" <-> ".join(c) for c in sorted(cycles))


def test_no_import_cycles_at_module_level() -> None:
    cycles = find_cycles(import_graph())
    assert not cycles, f"import cycles among module-level imports: {_show(cycles)}"


def test_no_import_cycles_but_the_known_ones_counting_deferred_imports() -> None:
    cycles = find_cycles(import_graph(deferred=True))
    new = cycles - KNOWN_DEFERRED_CYCLES
    assert not new, f"import cycles (counting imports in functions and under TYPE_CHECKING): {_show(new)}"
    gone = KNOWN_DEFERRED_CYCLES - cycles
    assert not gone, f"these cycles are gone: remove them from KNOWN_DEFERRED_CYCLES: {_show(gone)}"
