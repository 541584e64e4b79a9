"""The house rules of docs/architecture.md that import-linter's contracts do not express:
no import circle between modules, no library module importing the Celery app, and a registry
that is what the generic code uses."""

from __future__ import annotations

import pathlib

import grimp
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("connector", "tasks", "web", "sandbox",
                             exclude_type_checking_imports=True)


def _cycles(graph: grimp.ImportGraph, package: str) -> list[list[str]]:
    """Every strongly connected set of modules (Tarjan) with more than one member."""
    modules = sorted(m for m in graph.modules if m == package or m.startswith(package + "."))
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.find_modules_directly_imported_by(node)):
            if not nxt.startswith(package):
                continue
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            members = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                members.append(top)
                if top == node:
                    break
            if len(members) > 1:
                found.append(sorted(members))

    for module in modules:
        if module not in index:
            visit(module)
    return found


@pytest.mark.parametrize("package", ["connector", "sandbox", "tasks", "web"])
def test_no_import_circle(graph: grimp.ImportGraph, package: str) -> None:
    # Package __init__ modules that only re-export are part of the graph too; a circle through
    # them is a circle all the same.
    assert _cycles(graph, package) == []


def test_no_library_module_imports_tasks_by_text() -> None:
    """Belt and braces for the import contract: not even a string import of the Celery app."""
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "connector").rglob("*.py")
                 if "import tasks" in p.read_text() or "from tasks" in p.read_text()
                 or "import_module(\"tasks" in p.read_text()]
    assert offenders == []


def test_generic_code_finds_stores_through_the_registry() -> None:
    from connector.stores.registry import all_stores, get_store, systems

    assert set(systems()) >= {"woocommerce", "bigcommerce"}
    for plugin in all_stores():
        assert plugin is get_store(plugin.system)
        assert plugin.streams and plugin.planners
        assert plugin.id_prefix and plugin.webhook_path
        assert plugin.fetch_one is not None
    # The webhook endpoints, fetch, transform and the CLI all go through the registry.
    for module in ("connector/pipeline/fetch.py", "connector/pipeline/transform.py",
                   "connector/pipeline/webhooks.py", "connector/pipeline/dispatch.py",
                   "connector/operations/admin.py", "connector/cli/main.py"):
        assert "connector.stores.registry" in (ROOT / module).read_text(), module


def test_import_contracts_hold() -> None:
    """`lint-imports` (the contracts in pyproject.toml) passes; `make test` runs it too, this
    makes a plain `pytest` run check it as well."""
    import subprocess
    import sys

    exe = pathlib.Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(exe), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


def test_unknown_system_is_a_clear_error() -> None:
    from connector.stores.registry import UnknownStore, get_store

    with pytest.raises(UnknownStore) as info:
        get_store("shopify")
    assert "shopify" in str(info.value) and "woocommerce" in str(info.value)
