"""The code's two floors, read from the source: `bot/` over `retrieval/`, neither over the tests
or the benchmarks, and no import cycles.

Every `import` in every module of `bot/` and `retrieval/` counts, those inside functions and under
`TYPE_CHECKING` too (a lazy import is still a dependency); relative imports are resolved.
The cycle check takes the imports that run when a module is loaded (module level, outside
`if TYPE_CHECKING:`), the ones that can make loading fail.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PRODUCT = ("bot", "retrieval")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def product_modules() -> dict[str, Path]:
    return {module_name(p): p for package in PRODUCT for p in sorted((REPO / package).rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports(name: str, path: Path, *, load_time_only: bool = False) -> set[str]:
    """The absolute names of the modules `name` imports (for `from X import y`: X and X.y)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST, top: bool) -> None:
        if isinstance(node, ast.Import):
            if top or not load_time_only:
                found.update(alias.name for alias in node.names)
            return
        if isinstance(node, ast.ImportFrom):
            if not (top or not load_time_only):
                return
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            found.add(source)
            found.update(f"{source}.{alias.name}" for alias in node.names)
            return
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, False)
            for child in node.orelse:
                visit(child, top)
            return
        still_top = top and not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        for child in ast.iter_child_nodes(node):
            visit(child, still_top)

    visit(tree, True)
    return found


def top_package(module: str) -> str:
    return module.split(".")[0]


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return {name: imports(name, path) for name, path in product_modules().items()}


def test_the_walk_sees_the_imports_it_must():
    # The walk itself: a relative import, one inside a function, one under TYPE_CHECKING.
    found = imports("bot.context", REPO / "bot" / "context.py")
    assert {"bot.records", "retrieval.engine", "bot.follow", "telegram.ext"} <= found
    assert "bot.follow" not in imports("bot.context", REPO / "bot" / "context.py", load_time_only=True)
    assert len(product_modules()) > 40


def test_no_product_module_imports_the_tests_or_the_benchmarks(graph):
    offenders = {name: sorted(m for m in deps if top_package(m) in ("tests", "benchmarks"))
                 for name, deps in graph.items()}
    assert {n: m for n, m in offenders.items() if m} == {}


def test_retrieval_imports_neither_telegram_nor_the_bot(graph):
    offenders = {name: sorted(m for m in deps if top_package(m) in ("telegram", "bot"))
                 for name, deps in graph.items() if top_package(name) == "retrieval"}
    assert {n: m for n, m in offenders.items() if m} == {}


def find_cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Each cycle a depth-first walk of `edges` meets, as the path around it."""
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the walk's path, 2: done
    path: list[str] = []

    def walk(node: str) -> None:
        state[node] = 1
        path.append(node)
        for dep in sorted(edges.get(node, ())):
            if state.get(dep) == 1:
                cycles.append([*path[path.index(dep):], dep])
            elif dep not in state:
                walk(dep)
        path.pop()
        state[node] = 2

    for name in sorted(edges):
        if name not in state:
            walk(name)
    return cycles


def test_find_cycles_finds_one():
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []


def test_no_import_cycles():
    modules = product_modules()
    # Edges to a package name are to its `__init__`, which loads before any of its modules.
    edges = {name: {m for m in imports(name, path, load_time_only=True) if m in modules and m != name}
             for name, path in modules.items()}
    assert find_cycles(edges) == []


def test_the_command_line_starts_without_the_telegram_and_fetching_stacks():
    """`newsbot ask`, `ingest`, `stats` ... start in well under a second of imports: telegram, aiohttp and
    the extraction stack are loaded only by the commands that use them (run, feeds, watch)."""
    import subprocess
    import sys

    heavy = ("telegram", "aiohttp", "lxml", "trafilatura")
    code = f"import sys, bot.cli; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
