"""The CodeAct agent as an evaluation solver (mode ``agent``), registered lazily by name.

``agentdistill eval --mode agent --sag N`` builds one :class:`CodeActAgent` per run from the
:class:`~agentdistill.evaluation.solvers.SolverContext`: the model, sampling settings, the retriever behind
``web_search`` (the demo index when none is given), self-consistent candidates (``sag``), and options
``max_steps``, ``prompts``, ``sandbox`` (backend name), ``observation_max_chars``.
"""

from __future__ import annotations

from typing import Any

from agentdistill.agents.codeact import CodeActAgent
from agentdistill.agents.config import AgentConfig
from agentdistill.schema import Task, Trajectory


def make_agent_solver(ctx: Any) -> Any:
    """Solver ``(task) -> Trajectory`` running the CodeAct agent with the context's model."""
    from agentdistill.sandbox import SandboxConfig

    opts = dict(ctx.options or {})
    config = AgentConfig(
        max_steps=int(opts.pop("max_steps", AgentConfig.max_steps)),
        max_tokens=ctx.params.max_tokens,
        temperature=ctx.params.temperature,
        top_p=ctx.params.top_p,
        n_candidates=max(1, int(ctx.sag)),
        seed=ctx.seed,
        prompts=opts.pop("prompts", None),
        observation_max_chars=int(opts.pop("observation_max_chars", AgentConfig.observation_max_chars)),
    )
    sandbox = SandboxConfig(backend=str(opts.pop("sandbox", "local")))
    index = str(opts.pop("index", "demo"))
    retriever = ctx.retriever
    tools: dict[str, Any] = {}

    def search_tool() -> Any:
        nonlocal retriever
        if "web_search" not in tools:
            from agentdistill.tools.config import RetrievalConfig
            from agentdistill.tools.retriever import IndexRetriever
            from agentdistill.tools.search_tool import make_web_search

            retriever = retriever or IndexRetriever.from_config(RetrievalConfig(index=index, k=ctx.top_k))
            tools["web_search"] = make_web_search(retriever, k=ctx.top_k)
        return tools["web_search"]

    agent: CodeActAgent | None = None

    async def solve(task: Task) -> Trajectory:
        nonlocal agent
        if agent is None:
            agent = CodeActAgent(ctx.model, config, sandbox=sandbox, role=ctx.role)
        if task.domain == "qa" and "web_search" not in agent.tools:
            agent.tools["web_search"] = search_tool()  # opened on the first QA task only
        return await agent.arun(task)

    return solve
