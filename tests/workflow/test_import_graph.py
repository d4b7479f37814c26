"""No import circles between the workflow modules.

import-linter's contracts (pyproject.toml) say who may import whom; this test covers what
they do not: a circle anywhere in workflow (a lazy import inside a function counts, it is a
circle all the same). The graph comes from grimp, import-linter's own dependency.
"""

from __future__ import annotations

import grimp


def import_cycles(package: str) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm), plus any
    module that imports itself, each sorted."""
    graph = grimp.build_graph(package, exclude_type_checking_imports=True)
    modules = sorted(m for m in graph.modules if m == package or m.startswith(package + "."))
    inside = set(modules)
    edges = {
        m: sorted(i for i in graph.find_modules_directly_imported_by(m) if i in inside)
        for m in modules
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(start: str) -> None:
        # Iterative, so that a deep chain of imports cannot hit the recursion limit.
        work = [(start, iter(edges[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1 or node in edges[node]:
                    found.append(sorted(group))

    for module in modules:
        if module not in index:
            visit(module)
    return sorted(found)


def test_no_import_cycles_in_workflow() -> None:
    assert import_cycles("workflow") == []


def test_the_cycle_finder_finds_a_circle(tmp_path, monkeypatch) -> None:
    # The check must be able to fail: a tiny package whose two modules import each other
    # (one of them lazily, as the old workflow.cli and workflow.tasks.commands did).
    pkg = tmp_path / "circled"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from circled import b\n")
    (pkg / "b.py").write_text("def f():\n    from circled import a\n")
    (pkg / "c.py").write_text("from circled import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert import_cycles("circled") == [["circled.a", "circled.b"]]


def test_only_the_app_factory_imports_routes() -> None:
    # The contract in pyproject.toml lists the kinds of module; this catches a new one too.
    # (The factory imports the routes by name through importlib, which grimp cannot see.)
    graph = grimp.build_graph("workflow", exclude_type_checking_imports=True)
    routes = sorted(m for m in graph.modules if m.endswith(".routes"))
    assert routes, "no routes modules found: the check would pass vacuously"
    importers = {m: graph.find_modules_that_directly_import(m) - {"workflow"} for m in routes}
    assert {m: sorted(found) for m, found in importers.items() if found} == {}


def test_models_import_no_feature() -> None:
    # The contract in pyproject.toml names the features one by one; this catches a feature
    # added later too. Models may use each other and the plumbing below them only.
    graph = grimp.build_graph("workflow", exclude_type_checking_imports=True)
    allowed = ("workflow.models", "workflow.machine", "workflow.core.extensions",
               "workflow.core.database", "workflow.core.crypto")  # fmt: skip
    models = sorted(m for m in graph.modules if m.startswith("workflow.models"))
    assert len(models) > 5, "no models found: the check would pass vacuously"
    above = {
        m: sorted(
            i
            for i in graph.find_modules_directly_imported_by(m)
            if i.startswith("workflow") and not i.startswith(allowed)
        )
        for m in models
    }
    assert {m: found for m, found in above.items() if found} == {}
