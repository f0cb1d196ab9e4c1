"""The import structure: no circles between modules or between parts, and tasks on its own floor.

Edges are every ``import`` of an ``agentdistill`` module, at module level or inside a function (a lazy
import is still a dependency). Between *parts* (``agents``, ``evaluation``, ``sandbox``...) the lazy
``"agentdistill.x.y:attr"`` names registries hold count too: a circle between parts can hide in strings.
Within a part they do not: a registry naming its own implementations is the point of lazy names, and the
import happens where an entry is looked up, not where it is listed. Imports under ``if TYPE_CHECKING:``
are left out: they never run.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import agentdistill

PACKAGE = Path(agentdistill.__file__).parent
LAZY_NAME = re.compile(r"^(agentdistill(?:\.\w+)+):[\w.]+$")
# parts below which nothing of the higher parts may be imported (lower floors first)
FOUNDATION = {"errors", "registry", "lazy", "jsonl", "config", "schema", "prompts"}


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def _resolve(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(module: str, *, lazy_names: bool = True) -> set[str]:
    """The agentdistill modules ``module`` imports (and, with ``lazy_names``, names as lazy entries)."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    is_package = MODULES[module].name == "__init__.py"
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("agentdistill"):
                    found.add(_resolve(alias.name) or alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module if is_package else module.rpartition(".")[0]
                for _ in range(node.level - 1):
                    anchor = anchor.rpartition(".")[0]
                base = f"{anchor}.{base}" if base else anchor
            if base.startswith("agentdistill"):
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    found.add(sub if sub in MODULES else (_resolve(base) or base))
        elif (
            lazy_names
            and isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and (m := LAZY_NAME.match(node.value))
            and (target := _resolve(m.group(1)))
        ):
            found.add(target)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    found.discard(module)
    return {m for m in found if m in MODULES}


GRAPH = {m: imports_of(m) for m in MODULES}
IMPORTS = {m: imports_of(m, lazy_names=False) for m in MODULES}


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm: the components with more than one node (the circles)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []
    counter = 0

    def connect(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return circles


def part_of(module: str) -> str:
    """``agentdistill.sandbox.local`` -> ``sandbox``; top-level modules are parts of their own."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "agentdistill"


def part_graph() -> dict[str, set[str]]:
    parts: dict[str, set[str]] = defaultdict(set)
    for module, targets in GRAPH.items():
        if module == "agentdistill":  # the package's face re-exports the schema only
            continue
        for target in targets:
            if target != "agentdistill" and part_of(target) != part_of(module):
                parts[part_of(module)].add(part_of(target))
    return dict(parts)


def test_the_graph_sees_real_edges():
    # a check that reads nothing would pass trivially: these edges exist (module, function-level, string)
    assert "agentdistill.tasks.metrics" in IMPORTS["agentdistill.agents.codeact"]
    assert "agentdistill.sandbox.local" in GRAPH["agentdistill.sandbox.backends"]  # a lazy registry name
    assert "agentdistill.sandbox.local" not in IMPORTS["agentdistill.sandbox.backends"]
    assert "agentdistill.models.serve" in IMPORTS["agentdistill.models.loading"]  # a function-level import
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_circles():
    assert strongly_connected(IMPORTS) == []


def test_no_circles_between_parts():
    assert strongly_connected(part_graph()) == []


def test_tasks_sit_below_agents_evaluation_and_generation():
    used = part_graph().get("tasks", set())
    assert used <= FOUNDATION, f"tasks imports {sorted(used - FOUNDATION)}"
    for part in ("agents", "evaluation", "trajectories"):
        assert "tasks" in part_graph()[part]


def test_foundation_imports_no_part_above_it():
    for part in FOUNDATION:
        used = part_graph().get(part, set())
        assert used <= FOUNDATION, f"{part} imports {sorted(used - FOUNDATION)}"
