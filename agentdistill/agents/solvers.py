"""Solvers by mode name: what turns one Task into one Trajectory, for generation and evaluation alike.

A solver is an async callable ``(task, sample=0) -> Trajectory`` (``sample`` numbers the episodes of one
task: its seed offset, and ``#<sample>`` in agent trajectory ids). A *factory* builds it from a typed
:class:`SolverContext`: the model, the agent settings, the sandbox, the retrieval index, the role. Built-in
modes are lazy ``"module:attr"`` names, so naming a mode imports neither torch nor sandboxes::

    from agentdistill.agents.solvers import register_solver
    register_solver("my-mode", make_my_solver)     # make_my_solver(ctx: SolverContext) -> Solver
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from agentdistill.agents.config import AgentConfig
from agentdistill.errors import AgentDistillError
from agentdistill.models.base import ChatModel, GenerationParams
from agentdistill.registry import Registry
from agentdistill.sandbox.config import SandboxConfig
from agentdistill.schema import Task, Trajectory
from agentdistill.tools.retrieval.config import RetrievalConfig

Solver = Callable[..., Awaitable[Trajectory]]
"""``async (task, sample=0) -> Trajectory`` (the episode engine passes ``sample`` only when it is not 0)."""


@dataclasses.dataclass
class SolverContext:
    """Everything a solver factory may need; modes ignore what they do not use."""

    model: ChatModel
    """The model that acts (the teacher in generation; the evaluated model in evaluation)."""
    model_spec: str = ""
    """The spec the model was loaded from, recorded in trajectories."""
    role: Literal["teacher", "student"] = "student"
    """Recorded in trajectories; ``teacher`` enables the teacher-only agent methods."""
    agent: AgentConfig = dataclasses.field(default_factory=AgentConfig)
    """Steps, sampling (``max_tokens``, ``temperature``, ``top_p`` also drive the CoT modes), methods."""
    sandbox: SandboxConfig = dataclasses.field(default_factory=SandboxConfig)
    """Where the agent's code runs (backend, limits)."""
    retrieval: RetrievalConfig = dataclasses.field(default_factory=RetrievalConfig)
    """The index behind ``web_search`` (agent) and the documents put in the prompt (cot-rag)."""
    retriever: Any = None
    """A ready langchain-core ``BaseRetriever`` to use instead of opening ``retrieval.index``."""
    teacher: ChatModel | None = None
    """Reflection source ``student``: the teacher that checks and corrects ``model``'s steps."""
    tools: dict[str, Any] = dataclasses.field(default_factory=dict)
    """Host tools given as objects (override registry tools of the same name)."""
    cache_dir: str | None = None
    """A folder for caches that should outlive the process (generation: its output folder, where the
    first-thought prefix keeps the teacher's CoT answers); None keeps them in memory."""
    verbatim: bool = False
    """Store each reply exactly as the model wrote it (RL: the trained tokens are the sampled ones)."""

    def sample_seed(self, sample: int = 0) -> int | None:
        """The request seed of episode ``sample``: ``agent.seed + sample``, None when unseeded."""
        return None if self.agent.seed is None else self.agent.seed + sample

    def generation_params(self, sample: int = 0) -> GenerationParams:
        """One-call sampling settings (the CoT modes): the agent's, seeded only when sampling."""
        from agentdistill.agents.cot import cot_generation_params

        return cot_generation_params(self.agent, self.sample_seed(sample))

    def open_retriever(self) -> Any:
        """``retriever``, else the index of ``retrieval`` (``demo`` is built on first use)."""
        if self.retriever is None:
            from agentdistill.tools.retrieval.retriever import IndexRetriever

            self.retriever = IndexRetriever.from_config(self.retrieval)
        return self.retriever


SolverFactory = Callable[[SolverContext], Solver]
SOLVERS: Registry[SolverFactory] = Registry(
    "mode",
    {
        "agent": "agentdistill.agents.solvers:make_agent_solver",
        "cot": "agentdistill.agents.solvers:make_cot_solver",
        "cot-rag": "agentdistill.agents.solvers:make_cot_rag_solver",
    },
    error=AgentDistillError,
)
"""Mode name -> solver factory (``agent``: CodeAct; ``cot`` / ``cot-rag``: the paper's baselines)."""


def register_solver(name: str, factory: SolverFactory | str) -> None:
    """Register (or replace) a mode: a factory, or a ``"module:attr"`` string imported on first use."""
    SOLVERS.register(name, factory)


def get_solver_factory(mode: str) -> SolverFactory:
    """The factory for a mode; a mode whose module is not installed says so in one line."""
    return SOLVERS.get(mode)


def make_solver(mode: str, context: SolverContext) -> Solver:
    """Build the solver for ``mode`` (``agent``, ``cot``, ``cot-rag`` or a registered one)."""
    return get_solver_factory(mode)(context)


def make_agent_solver(ctx: SolverContext) -> Solver:
    """Mode ``agent``: the CodeAct agent with the context's model, settings, sandbox and host tools.

    Host tools (``ctx.agent.tools``, from the registry) are built the first time a task's domain needs
    them, so a math-only run never opens a retrieval index.
    """
    from agentdistill.agents.codeact import CodeActAgent

    config = ctx.agent
    first_thoughts = None
    if config.first_thought_prefix:
        from agentdistill.agents.first_thought import FirstThoughts

        first_thoughts = FirstThoughts.for_agent(
            config, ctx.model, ctx.teacher, model_spec=ctx.model_spec, cache_dir=ctx.cache_dir
        )
    agent = CodeActAgent(
        ctx.model,
        config,
        sandbox=ctx.sandbox,
        tools=dict(ctx.tools),
        teacher=ctx.teacher,
        role=ctx.role,
        first_thoughts=first_thoughts,
        verbatim=ctx.verbatim,
    )
    building = asyncio.Lock()

    def build(name: str) -> Any:
        if name == "web_search" and ctx.retriever is not None:
            from agentdistill.tools.web_search import make_web_search

            return make_web_search(ctx.retriever, k=ctx.retrieval.k, max_chars=ctx.retrieval.max_chars)
        from agentdistill.tools.registry import make_host_tool

        return make_host_tool(name, ctx.retrieval)

    async def solve(task: Task, sample: int = 0) -> Trajectory:
        wanted = config.domain_tools.get(task.domain, config.tools)
        if missing := [n for n in wanted if n not in agent.tools]:
            async with building:
                for name in missing:
                    if name not in agent.tools:
                        agent.tools[name] = await asyncio.to_thread(build, name)
        return await agent.arun(task, sample=sample)

    return solve


def _from_context(ctx: SolverContext, retriever: Any) -> Solver:
    from agentdistill.agents.cot import CoTSolver, load_cot_prompts

    per_sample: dict[int, CoTSolver] = {}

    async def solve(task: Task, sample: int = 0) -> Trajectory:
        if sample not in per_sample:  # sample k draws with its own seed
            per_sample[sample] = CoTSolver(
                ctx.model,
                params=ctx.generation_params(sample),
                role=ctx.role,
                model_spec=ctx.model_spec,
                retriever=retriever,
                top_k=ctx.retrieval.k,
                max_doc_chars=ctx.retrieval.max_chars,
                prompts=load_cot_prompts(ctx.agent.cot_prompts) if ctx.agent.cot_prompts else None,
                seed=ctx.sample_seed(sample),
            )
        return await per_sample[sample](task)

    return solve


def make_cot_solver(ctx: SolverContext) -> Solver:
    """Factory for mode ``cot``."""
    return _from_context(ctx, None)


def make_cot_rag_solver(ctx: SolverContext) -> Solver:
    """Factory for mode ``cot-rag``: ``ctx.retriever``, else ``ctx.retrieval.index`` (``demo`` is built on
    first use)."""
    return _from_context(ctx, ctx.open_retriever())
