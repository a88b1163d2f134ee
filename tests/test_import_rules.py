"""The import rules that keep the layers apart, checked by reading the source.

- `bot/flows/` is the pure flow engine: it imports neither Rasa (nor rasa_sdk,
  nor `bot/rasa/`) nor the API, so it runs in either environment.
- The API never imports `bot/rasa/`: that code runs only inside the Rasa server,
  with other versions of SQLAlchemy and pydantic.
- Custom actions reach the database through services only, never `api.models`.
- No import cycles among the modules of `api`, `bot` and `actions`, counting
  imports inside functions too (a late import only hides a cycle).

Imports under `if TYPE_CHECKING:` are not run and are not counted.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("api", "bot", "actions")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES: dict[str, Path] = {
    module_name(path): path
    for package in PACKAGES
    for path in sorted((ROOT / package).rglob("*.py"))
    if "migrations" not in path.relative_to(ROOT).parts
}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            yield from (n for child in node.orelse for n in _import_nodes_in(child))
            continue
        yield from _import_nodes_in(node)


def _import_nodes_in(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        yield node
        return
    yield from _import_nodes(node)


def imports_of(module: str) -> set[str]:
    """Every module `module` imports, by full dotted name.

    `from package import name` counts as importing `package.name` when that is
    one of our modules, else as importing `package`.
    """
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in _import_nodes(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
            continue
        base = node.module or ""
        if node.level:
            anchor = package.split(".")
            anchor = anchor[: len(anchor) - (node.level - 1)]
            base = ".".join([*anchor, base] if base else anchor)
        for alias in node.names:
            candidate = f"{base}.{alias.name}"
            found.add(candidate if candidate in MODULES else base)
    return found


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_the_scan_sees_every_layer() -> None:
    assert "bot.flows.engine" in MODULES and "bot.rasa.tracker_store" in MODULES
    assert "api.services.diagnosis" in MODULES and "actions.flow_actions" in MODULES
    assert "bot.flows.loader" in imports_of("bot.flows.engine")


@pytest.mark.parametrize("module", sorted(m for m in MODULES if within(m, "bot.flows")))
def test_the_flow_engine_imports_neither_rasa_nor_the_api(module: str) -> None:
    forbidden = ("rasa", "rasa_sdk", "bot.rasa", "api", "actions")
    wrong = sorted(n for n in imports_of(module) if any(within(n, f) for f in forbidden))
    assert not wrong, f"{module} imports {wrong}; bot/flows must stay pure"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if within(m, "api")))
def test_the_api_never_loads_rasa_server_code(module: str) -> None:
    wrong = sorted(n for n in imports_of(module) if within(n, "bot.rasa") or within(n, "rasa"))
    assert not wrong, f"{module} imports {wrong}, which only the Rasa server can load"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if within(m, "actions")))
def test_actions_use_services_not_models(module: str) -> None:
    wrong = sorted(n for n in imports_of(module) if within(n, "api.models"))
    assert not wrong, f"{module} imports {wrong}; call a service in api/services instead"


def import_graph() -> dict[str, list[str]]:
    return {m: sorted(n for n in imports_of(m) if n in MODULES) for m in MODULES}


def import_cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """Every strongly connected group of two or more modules (or a module importing itself)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1 or node in graph[node]:
                groups.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return groups


def test_the_cycle_finder_finds_cycles_and_nothing_else() -> None:
    graph = {"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a", "d"], "e": ["a"]}
    assert sorted(import_cycles(graph)) == [["a", "b", "c"], ["d"]]


def test_no_import_cycles() -> None:
    cycles = import_cycles(import_graph())
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)
