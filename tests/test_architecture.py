"""The import graph of ``mbc_rules`` is the pipeline: modules import downward, never in a circle."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from .conftest import ROOT

PACKAGE = ROOT / "src" / "mbc_rules"


def module_name(path: Path) -> str:
    name = ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
    return name.removesuffix(".__init__") if name != "__init__" else "__init__"


@dataclass(frozen=True)
class Import:
    """One import of a module of the package by another."""

    importer: str
    imported: str
    line: int
    lazy: bool  # inside a function: runs when the function is first called


def imports_in(text: str, importer: str, known: set[str]) -> list[Import]:
    """Every import of a module of the package in ``text`` (the source of ``importer``), at
    module level, under TYPE_CHECKING or inside a function.
    """
    found: list[Import] = []

    def visit(node: ast.AST, lazy: bool) -> None:
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mbc_rules"):
            base = node.module.removeprefix("mbc_rules").removeprefix(".")
            subs = [f"{base}.{a.name}".lstrip(".") for a in node.names]
            # ``from mbc_rules import Rulebase`` imports the package itself.
            names = [base or "__init__", *(n for n in subs if n in known)]
        elif isinstance(node, ast.Import):
            names = [
                "__init__" if a.name == "mbc_rules" else a.name.removeprefix("mbc_rules.")
                for a in node.names
                if a.name == "mbc_rules" or a.name.startswith("mbc_rules.")
            ]
        found.extend(
            Import(importer, name, getattr(node, "lineno", 0), lazy)
            for name in dict.fromkeys(names)
            if (name in known or name == "__init__") and name != importer
        )
        inner = lazy or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    visit(ast.parse(text), lazy=False)
    return found


def all_imports() -> list[Import]:
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    known = set(paths) - {"__init__", ""}
    return [
        found
        for name, path in sorted(paths.items())
        for found in imports_in(path.read_text(encoding="utf-8"), name, known)
    ]


def import_graph(*, upward: bool = False) -> dict[str, set[str]]:
    """Which modules each module imports; without the documented imports up the layers
    (``UPWARD``, inside functions) unless ``upward``: those close a circle on purpose.
    """
    graph: dict[str, set[str]] = {module_name(p): set() for p in PACKAGE.rglob("*.py")}
    for i in all_imports():
        if i.imported != "__init__" and (
            upward or not (i.lazy and (i.importer, i.imported) in UPWARD)
        ):
            graph[i.importer].add(i.imported)
    return graph


def test_no_circle_even_through_imports_inside_functions() -> None:
    # A value shows itself without a circle: the values (result) are read by the views
    # (report, display), which the showing value (evaluation) imports when first shown.
    assert circles(import_graph(upward=True)) == []
    graph = import_graph(upward=True)
    assert not graph["result"] & {"report", "display", "evaluation"}
    assert {"report", "display"} <= graph["evaluation"]
    tree = ast.parse((PACKAGE / "evaluation.py").read_text(encoding="utf-8"))
    shown = next(
        node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == "Evaluation"
    )
    showing = {
        node.name: {n.module for n in ast.walk(node) if isinstance(n, ast.ImportFrom)}
        for node in shown.body
        if isinstance(node, ast.FunctionDef)
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
    at_load = {i.imported for i in all_imports() if i.importer == "result" and not i.lazy}
    assert at_load <= {"profile", "vocabulary"}
    # Not even through a view a value shows itself with (see UPWARD).
    graph, todo = import_graph(upward=True), ["result"]
    reached: set[str] = set()
    while todo:
        for other in graph[todo.pop()] - reached:
            reached.add(other)
            todo.append(other)
    assert "profile" in reached
    assert not reached & {"rulebase", "engine", "cohort", "service", "cli"}


# The layers of the package, lowest first: a module imports only from modules of lower layers,
# whether at module level, under TYPE_CHECKING or inside a function (a lazy import is a
# dependency all the same, paid when the function is first called). Modules of one layer are
# peers and import none of each other. Declared from the code as it stands; a new module needs
# a layer here, and an import that would point up needs the design changed or an entry in
# UPWARD with its reason.
LAYERS: tuple[tuple[str, ...], ...] = (
    # Leaves: the error tree, the version, the on-disk cache, fixed code tables.
    ("errors", "_version", "cache", "cohort.codes", "cohort.collection", "fhir.codes"),
    # Closed vocabularies; YAML with line marks.
    ("vocabulary", "load", "extras"),
    # The shipped vocabulary and rules, read.
    ("bundled",),
    ("profile",),
    # Facts derived from a profile; results are values about a profile; input read in pieces.
    ("facts", "result", "fhir.records", "fhir.values", "fhir.drugs", "fhir.reading"),
    # A FHIR record read in steps: what its resources gave, read resource by resource
    # (staging is shared by observations and conditions), settled, then assembled.
    ("schema", "fhir.gathered", "cohort.arrow", "cohort.histories"),
    ("conditions", "cohort.reading", "ruleset", "fhir.stages", "fhir.medications", "fhir.settle"),
    ("validate", "compile", "wording", "fhir.markers", "fhir.disease", "fhir.history"),
    # Ranking in steps: what each fired rule still names, the ranks across categories, the
    # answer as a person reads it, then the steps taken unmemoised (the oracle) or remembered.
    ("rank.standing", "rank.citations", "rank.contributions"),
    ("rank.arrange",),
    ("rank.present",),
    ("rank.reference", "rank.memo"),
    ("engine.compiled", "engine.durable", "engine.python", "rank", "fhir.read"),
    ("engine", "cohort_summary", "report", "whatif"),
    ("display",),
    ("explain",),
    # The result as programs hold it: the values of ``result``, showing themselves through
    # the views above (imported when first shown).
    ("evaluation",),
    ("schemas",),
    # A rule set with its matcher and memo; every view of it is a function it delegates to.
    ("rulebase",),
    # Built on a rulebase: cohorts, FHIR records, generated documents, the service.
    ("cohort.columnar", "cohort.rows", "fhir.api", "docs", "service.contract"),
    # A cohort's input, its tables and its durable-rules check, around the chunk loop.
    ("cohort.frame_input", "cohort.tables", "cohort.verify"),
    ("cohort.frames", "fhir", "service.hooks", "service.auth"),
    (
        "cohort.tracing",
        "cohort.partitions",
        "cohort.fhir_given",
        "service.record",
        "service.fhir_server",
    ),
    ("cohort.concordance", "service.cards"),
    ("cohort.diff", "service.app"),
    ("cohort", "service"),
    ("cli",),
    ("__init__", "__main__"),
)

# Imports allowed to point up, and only inside a function, each with its reason.
# None: a value shows itself through ``evaluation.Evaluation``, which sits above the views, so
# the values of ``result`` never import them.
UPWARD: dict[tuple[str, str], str] = {}
# What the test of the mechanism allows (an example, not the package's).
_EXAMPLE_UPWARD = {("result", "report"): "a view imported inside a function, as an example"}


def pointing_up(
    imports: list[Import],
    layers: tuple[tuple[str, ...], ...],
    allowed: dict[tuple[str, str], str],
) -> list[str]:
    """Each import of ``imports`` that does not point down ``layers``, in words."""
    layer = {module: i for i, members in enumerate(layers) for module in members}
    return [
        f"{i.importer}:{i.line} imports {i.imported}{' (in a function)' if i.lazy else ''}: "
        f"layer {layer[i.imported]} is not below layer {layer[i.importer]}"
        for i in imports
        if layer[i.imported] >= layer[i.importer]
        and not (i.lazy and (i.importer, i.imported) in allowed)
    ]


def test_every_module_has_one_layer() -> None:
    declared = [module for members in LAYERS for module in members]
    assert len(declared) == len(set(declared))
    assert set(declared) == {module_name(p) for p in PACKAGE.rglob("*.py")}


def test_every_import_points_down_the_layers() -> None:
    imports = all_imports()
    assert any(i.lazy for i in imports)  # imports inside functions are read too
    assert pointing_up(imports, LAYERS, UPWARD) == []


def private_imports(text: str, of: str) -> list[str]:
    """The private names (``_name``, not dunders) that ``text`` imports from the package ``of``
    or its modules.
    """
    return [
        f"{node.module}.{alias.name}"
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.ImportFrom)
        and node.module is not None
        and (node.module == of or node.module.startswith(f"{of}."))
        for alias in node.names
        if alias.name.startswith("_") and not alias.name.startswith("__")
    ]


def test_no_module_imports_a_private_name_of_the_ranking() -> None:
    # The ranking's steps are modules of one package: what one needs of another has a public
    # name there, so each module's private helpers can change without reading the others.
    found = [
        f"{module_name(path)}: {name}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for name in private_imports(path.read_text(encoding="utf-8"), "mbc_rules.rank")
    ]
    assert found == []
    assert private_imports(
        "from mbc_rules.rank.arrange import _LISTING, Placed\n", "mbc_rules.rank"
    ) == ["mbc_rules.rank.arrange._LISTING"]
    assert private_imports("from mbc_rules.ranking import _x\n", "mbc_rules.rank") == []


def test_an_import_up_the_layers_would_be_found() -> None:
    known = {"result", "report", "rulebase", "profile"}
    source = (
        "from mbc_rules.profile import PatientProfile\n"
        "from mbc_rules import rulebase\n"
        "def show(self):\n"
        "    from mbc_rules.report import evaluation_text\n"
        "    import mbc_rules.rulebase\n"
    )
    imports = imports_in(source, "result", known)
    assert [(i.imported, i.line, i.lazy) for i in imports] == [
        ("profile", 1, False),
        ("__init__", 2, False),
        ("rulebase", 2, False),
        ("report", 4, True),
        ("rulebase", 5, True),
    ]
    layers = (("profile",), ("result",), ("report",), ("rulebase",), ("__init__",))
    assert pointing_up(imports, layers, _EXAMPLE_UPWARD) == [
        "result:2 imports __init__: layer 4 is not below layer 1",
        "result:2 imports rulebase: layer 3 is not below layer 1",
        "result:5 imports rulebase (in a function): layer 3 is not below layer 1",
    ]
    # The view layer is allowed inside a function only, never at module level.
    at_load = imports_in("from mbc_rules.report import evaluation_text\n", "result", known)
    assert pointing_up(at_load, layers, _EXAMPLE_UPWARD) == [
        "result:1 imports report: layer 2 is not below layer 1"
    ]
    # Peers import none of each other.
    assert pointing_up(imports[:1], (("profile", "result"),), {}) == [
        "result:1 imports profile: layer 0 is not below layer 0"
    ]


def rulebase_private_names() -> set[str]:
    """The private attributes a Rulebase sets on itself (``self._name = ...``)."""
    tree = ast.parse((PACKAGE / "rulebase.py").read_text(encoding="utf-8"))
    return {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
        and node.attr.startswith("_")
        and not node.attr.startswith("__")
    }


def test_no_module_reaches_into_the_rulebase_private_state() -> None:
    # The cohort engine once read _compiled and _ranker, sharing their memory unseen; it
    # uses Rulebase.compiled, .ranker, .rules_by_id and .with_engine() now.
    private = rulebase_private_names()
    assert {"_compiled", "_ranker", "_by_id", "_matcher"} <= private
    reaches = [
        f"{module_name(path)}:{node.lineno} reads .{node.attr}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != PACKAGE / "rulebase.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Attribute)
        and node.attr in private
        and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
    ]
    assert reaches == []
