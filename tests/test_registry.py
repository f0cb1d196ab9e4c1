"""One Registry for every extension point: lazy names, registration, and one error shape everywhere."""

from __future__ import annotations

import re

import pytest

from agentdistill.errors import AgentDistillError
from agentdistill.registry import Registry, RegistryError, suggest, unknown_name_message

SHAPE = re.compile(
    r"^unknown (?P<kind>[\w ]+) '(?P<name>[^']+)'; did you mean '(?P<close>[^']+)'\?; available: "
)


def registries():
    """(registry, a misspelt name, the name it should suggest) for every extension point."""
    from agentdistill.agents.solvers import SOLVERS
    from agentdistill.models.specs import MODEL_KINDS
    from agentdistill.sandbox.backends import BACKENDS
    from agentdistill.tasks.metrics import METRICS
    from agentdistill.tasks.registry import benchmark_registry
    from agentdistill.tasks.transforms import ANSWER_TRANSFORMS
    from agentdistill.tools.registry import HOST_TOOLS
    from agentdistill.tools.retrieval.index_types import INDEX_TYPES
    from agentdistill.trajectories.filters import FILTERS
    from agentdistill.trajectories.formats import EXPORTERS, IMPORTERS

    return [
        (BACKENDS, "dokcer", "docker"),
        (METRICS, "math_verfy", "math_verify"),
        (SOLVERS, "agnet", "agent"),
        (benchmark_registry(), "gsm8", "gsm8k"),
        (IMPORTERS, "agent-distilation", "agent-distillation"),
        (EXPORTERS, "sharegtp", "sharegpt"),
        (MODEL_KINDS, "hff", "hf"),
        (INDEX_TYPES, "hnws", "hnsw"),
        (ANSWER_TRANSFORMS, "numbr", "number"),
        (FILTERS, "dedupe", "dedup"),
        (HOST_TOOLS, "web_serch", "web_search"),
    ]


@pytest.mark.parametrize("index", range(11))
def test_every_registry_answers_an_unknown_name_the_same_way(index):
    registry, typo, close = registries()[index]
    with pytest.raises(AgentDistillError) as info:
        registry.get(typo)
    m = SHAPE.match(str(info.value))
    assert m, str(info.value)
    assert (m["kind"], m["name"], m["close"]) == (registry.kind, typo, close)
    assert isinstance(info.value, registry.error)
    for name in registry.names():
        assert f"{name}" in str(info.value).split("available: ", 1)[1]


def test_every_lazy_entry_imports():
    # a typo in a "module:attr" string would otherwise surface only when someone picks that entry
    for registry, _, _ in registries():
        for name, obj in registry.items():
            assert obj is not None and not isinstance(obj, str), (registry.kind, name)


@pytest.mark.parametrize(
    ("call", "error_type", "kind", "typo"),
    [
        ("sandbox", "SandboxError", "sandbox backend", "dokcer"),
        ("score", "AgentDistillError", "metric", "exakt"),
        ("solver", "AgentDistillError", "mode", "cott"),
        ("benchmark", "BenchmarkError", "benchmark", "hotpotq"),
        ("import", "ImportFormatError", "import format", "r1-searchr"),
        ("export", "ExportError", "export format", "openia"),
        ("model", "ModelSpecError", "model spec kind", "opnai"),
        ("index", "ConfigError", "index type", "ivf_flt"),
        ("filter", "ConfigError", "filter", "per-task"),
        ("tool", "RegistryError", "host tool", "websearch"),
    ],
)
def test_public_entry_points_raise_the_shared_shape(call, error_type, kind, typo, tmp_path):
    """What a user calls (not the registry itself) gives the same message and its own error type."""
    from agentdistill.agents.solvers import SolverContext, make_solver
    from agentdistill.models.specs import parse_model_spec
    from agentdistill.sandbox import Sandbox, SandboxConfig
    from agentdistill.schema import Task
    from agentdistill.tasks import get_benchmark, score
    from agentdistill.tools.registry import make_host_tool
    from agentdistill.tools.retrieval.config import IndexConfig
    from agentdistill.trajectories.filters import FilterSpec
    from agentdistill.trajectories.formats import export_trajectories, import_trajectories

    task = Task(id="t", question="q", answer="a", domain="qa")
    calls = {
        "sandbox": lambda: Sandbox(SandboxConfig(backend=typo)),
        "score": lambda: score(task, "a", metric=typo),
        "solver": lambda: make_solver(typo, SolverContext(model=None)),  # type: ignore[arg-type]
        "benchmark": lambda: get_benchmark(typo),
        "import": lambda: list(import_trajectories(tmp_path / "x.jsonl", typo)),
        "export": lambda: export_trajectories([], tmp_path / "x.jsonl", typo),
        "model": lambda: parse_model_spec(f"{typo}:gpt-4o"),
        "index": lambda: IndexConfig(index_type=typo),
        "filter": lambda: FilterSpec(typo),
        "tool": lambda: make_host_tool(typo),
    }
    with pytest.raises(AgentDistillError) as info:
        calls[call]()
    assert error_type in {c.__name__ for c in type(info.value).__mro__}
    assert f"unknown {kind} {typo!r}; did you mean '" in str(info.value)
    assert "; available: " in str(info.value)


def test_lazy_registration_and_replacement():
    reg: Registry[object] = Registry("widget", {"json": "json:dumps"})
    assert reg.names() == ["json"] and "json" in reg
    import json

    assert reg.get("json") is json.dumps  # imported on first use, then cached
    reg.register("loads", "json:loads")
    assert reg["loads"] is json.loads

    @reg.register("mine")
    def mine() -> int:
        return 1

    assert reg.get("mine") is mine and reg.names() == ["json", "loads", "mine"]
    reg.unregister("mine")
    assert "mine" not in reg and reg.get("mine", None) is None


def test_a_lazy_name_whose_module_is_missing_says_so():
    reg: Registry[object] = Registry(
        "mode", {"agent": "agentdistill.no_such_module:make"}, error=RegistryError
    )
    with pytest.raises(
        RegistryError, match=r"mode 'agent' is not available yet: agentdistill\.no_such_module"
    ):
        reg.get("agent")
    reg2: Registry[object] = Registry("mode", {"x": "json:no_such_attr"})
    with pytest.raises(RegistryError, match="json has no no_such_attr"):
        reg2.get("x")


def test_suggestions():
    assert suggest("dokcer", ["local", "docker"]) == "docker"
    assert suggest("zzz", ["local", "docker"]) is None
    assert unknown_name_message("metric", "zzz", ["a", "b"]) == "unknown metric 'zzz'; available: a, b"
    assert unknown_name_message("x", "y", [], hint="add one").endswith("available: (none) (add one)")
