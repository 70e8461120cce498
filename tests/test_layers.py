"""The house: one import name, no import circles (import-linter checks the layer order itself)."""

from __future__ import annotations

import re
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
LAYER_FOLDERS = ("registry", "store", "features", "models", "matching", "training", "api")
BARE_IMPORT = re.compile(rf"^\s*(from|import)\s+({'|'.join(LAYER_FOLDERS)})(\.|\s)", re.M)


def _cycles(graph: grimp.ImportGraph, *, leave_out: set[str] | None = None) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan, iterative), without the
    modules in ``leave_out``."""
    modules = graph.modules - (leave_out or set())
    edges = {m: sorted(graph.find_modules_directly_imported_by(m) & modules)
             for m in sorted(modules)}  # fmt: skip
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in edges:
        if start in index:
            continue
        work = [(start, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            if i < len(edges[node]):
                work.append((node, i + 1))
                nxt = edges[node][i]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    found.append(sorted(group))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return found


def test_cycle_finder_finds_a_planted_circle() -> None:
    graph = grimp.ImportGraph()
    for name in ("a", "a.x", "a.y", "a.z"):
        graph.add_module(name)
    graph.add_import(importer="a.x", imported="a.y")
    graph.add_import(importer="a.y", imported="a.x")
    graph.add_import(importer="a.z", imported="a.x")
    assert _cycles(graph) == [["a.x", "a.y"]]


def test_no_import_circles_among_modules() -> None:
    graph = grimp.build_graph("tenantmatch")
    # a package's __init__ re-exports its modules, which import siblings through it: not a circle
    # of the code, so package roots are left out
    packages = {m for m in graph.modules if graph.find_children(m)}
    assert _cycles(graph, leave_out=packages) == []


def test_code_imports_only_through_the_tenantmatch_name() -> None:
    """A bare ``import features`` would load a second copy of a module beside
    ``tenantmatch.features`` (the folders are also on sys.path in a checkout)."""
    offenders = []
    for folder in (*LAYER_FOLDERS, "tenantmatch", "tests", "benchmarks", "scripts"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.is_relative_to(ROOT / "tenantmatch") and folder != "tenantmatch":
                continue
            if "tenantmatch" in path.relative_to(ROOT).parts[1:]:
                continue  # the links inside tenantmatch/ point at the folders checked already
            if BARE_IMPORT.search(path.read_text(encoding="utf-8")):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
