"""Solvers by mode name: what turns one Task into one Trajectory during evaluation.

A solver is an async callable ``(task) -> Trajectory``. A *factory* builds it from a
:class:`SolverContext` (the model, generation settings, retriever, options). Factories are registered by
name, either as objects or as lazy ``"module:attr"`` strings so that importing evaluation does not import
torch, sandboxes or retrieval. The agents package plugs its CodeAct agent in as ``agent``:

    from agentdistill.evaluation.solvers import register_solver
    register_solver("agent", make_agent_solver)     # make_agent_solver(ctx: SolverContext) -> Solver

or simply by defining ``make_agent_solver`` in ``agentdistill/agents/solver.py`` (the lazy default).
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from agentdistill.errors import AgentDistillError
from agentdistill.models.base import ChatModel, GenerationParams
from agentdistill.schema import Task, Trajectory

Solver = Callable[[Task], Awaitable[Trajectory]]


@dataclasses.dataclass
class SolverContext:
    """Everything a solver factory may need; modes ignore what they do not use."""

    model: ChatModel
    model_spec: str = ""
    """The spec the model was loaded from, recorded in trajectories."""
    role: Literal["teacher", "student"] = "student"
    params: GenerationParams = dataclasses.field(default_factory=lambda: GenerationParams(max_tokens=1024))
    sag: int = 1
    """Self-consistent action generation: candidates per step (1 = plain decoding); agent mode only."""
    retriever: Any = None
    """A langchain-core ``BaseRetriever`` (cot-rag, agent); None lets the mode open the demo index."""
    top_k: int = 3
    """Documents put in the prompt (cot-rag)."""
    seed: int | None = None
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    """Mode-specific settings (e.g. ``prompts`` file, ``max_steps``, sandbox options)."""


SolverFactory = Callable[[SolverContext], Solver]
SOLVERS: dict[str, SolverFactory | str] = {
    "cot": "agentdistill.agents.cot:make_cot_solver",
    "cot-rag": "agentdistill.agents.cot:make_cot_rag_solver",
    "agent": "agentdistill.agents.solver:make_agent_solver",
}


def register_solver(name: str, factory: SolverFactory | str) -> None:
    """Register (or replace) a mode: a factory, or a ``"module:attr"`` string imported on first use."""
    SOLVERS[name] = factory


def get_solver_factory(mode: str) -> SolverFactory:
    """The factory for a mode; a mode whose module is not there yet says so in one line."""
    if mode not in SOLVERS:
        raise AgentDistillError(f"unknown mode {mode!r}; available: {', '.join(SOLVERS)}")
    entry = SOLVERS[mode]
    if not isinstance(entry, str):
        return entry
    module_name, _, attr = entry.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name and module_name.startswith(e.name):
            raise AgentDistillError(
                f"mode {mode!r} is not available yet: {module_name} is not in this installation "
                f"(register a solver with agentdistill.evaluation.solvers.register_solver({mode!r}, ...))"
            ) from None
        raise
    factory = getattr(module, attr, None)
    if factory is None:
        raise AgentDistillError(f"mode {mode!r} is not available yet: {module_name} has no {attr}")
    SOLVERS[mode] = factory
    return factory  # type: ignore[no-any-return]


def make_solver(mode: str, context: SolverContext) -> Solver:
    """Build the solver for ``mode`` (``cot``, ``cot-rag``, ``agent`` or a registered one)."""
    return get_solver_factory(mode)(context)
