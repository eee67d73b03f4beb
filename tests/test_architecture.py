"""The import graph of ``mbc_rules`` is the pipeline: modules import downward, never in a circle."""

from __future__ import annotations

import ast
from pathlib import Path

from .conftest import ROOT

PACKAGE = ROOT / "src" / "mbc_rules"


def module_name(path: Path) -> str:
    name = ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
    return name.removesuffix(".__init__") if name != "__init__" else "__init__"


def imports_of(path: Path, known: set[str]) -> set[str]:
    """Every module of the package that ``path`` imports, also under TYPE_CHECKING or lazily."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mbc_rules"):
            base = node.module.removeprefix("mbc_rules").removeprefix(".")
            names = [base] + [f"{base}.{a.name}".lstrip(".") for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name.removeprefix("mbc_rules.") for a in node.names]
        found.update(n for n in names if n in known)
    return found


# The one sanctioned upward reach: a value shows itself. ``Evaluation.__str__``,
# ``to_markdown`` and ``_repr_html_`` import the views (functions of the result alone) when
# first shown; nothing below the views is imported by them through the result.
SHOWS_ITSELF = {"result": {"report", "display"}}


def import_graph() -> dict[str, set[str]]:
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    known = set(paths) - {"__init__", ""}
    return {
        name: imports_of(path, known) - {name} - SHOWS_ITSELF.get(name, set())
        for name, path in paths.items()
    }


def test_the_result_imports_the_views_only_inside_its_showing_methods() -> None:
    tree = ast.parse((PACKAGE / "result.py").read_text(encoding="utf-8"))
    top = {node.module for node in tree.body if isinstance(node, ast.ImportFrom) and node.module}
    assert not top & {"mbc_rules.report", "mbc_rules.display"}
    evaluation = next(
        node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == "Evaluation"
    )
    showing = {
        node.name: {n.module for n in ast.walk(node) if isinstance(n, ast.ImportFrom)}
        for node in evaluation.body
        if isinstance(node, ast.FunctionDef)
        and node.name in ("__str__", "to_markdown", "_repr_html_")
    }
    assert showing == {
        "__str__": {"mbc_rules.report"},
        "to_markdown": {"mbc_rules.report"},
        "_repr_html_": {"mbc_rules.display"},
    }


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_the_import_graph_has_no_circle() -> None:
    graph = import_graph()
    assert "rulebase" in graph["cli"]  # the graph is read at all
    assert circles(graph) == []


def test_a_circle_would_be_found() -> None:
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_only_the_durable_module_imports_durable_rules() -> None:
    importers = [
        module_name(path)
        for path in PACKAGE.rglob("*.py")
        if "durable_rules_engine" in path.read_text(encoding="utf-8")
        or "import durable" in path.read_text(encoding="utf-8")
    ]
    assert importers == ["engine.durable"]


def test_results_hold_no_reference_to_the_rulebase() -> None:
    assert import_graph()["result"] <= {"profile", "vocabulary"}
