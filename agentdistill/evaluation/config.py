"""``EvalConfig``: what ``agentdistill eval`` runs, documented field by field (loadable from YAML).

It composes the parts' own configs like :class:`~agentdistill.episodes.generate_config.GenerateConfig` does: the
evaluated model (:class:`ModelConfig`), the agent (:class:`AgentConfig`: steps, sampling, self-consistent
candidates), the sandbox its code runs in (:class:`SandboxConfig`) and the index behind ``web_search``
(:class:`RetrievalConfig`). A YAML file sets any subset::

    benchmarks: ["gsm8k[:50]", "hotpotqa:demo"]     # or {specs: [...], data_dir: ..., seed: ...}
    out: runs/eval/student
    model: {spec: "hf:runs/demo/student"}
    agent: {max_steps: 3, n_candidates: 4}
    sandbox: {backend: docker}
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from agentdistill.agents.config import AgentConfig
from agentdistill.config import FieldError, accept_shorthands
from agentdistill.episodes.executors import ExecutorConfig
from agentdistill.models.config import ModelConfig
from agentdistill.sandbox.config import SandboxConfig
from agentdistill.tasks.config import TaskSetConfig
from agentdistill.tools.retrieval.config import RetrievalConfig


def _eval_agent() -> AgentConfig:
    return AgentConfig(max_tokens=1024)


@dataclasses.dataclass
class EvalConfig:
    """One evaluation run: a model in a mode on some benchmarks, written to ``out``."""

    benchmarks: TaskSetConfig = dataclasses.field(default_factory=TaskSetConfig)
    """What is evaluated (``specs``: ``hotpotqa``, ``gsm8k[:50]``, ``aime:2024``, ``math500:100`` (seeded
    sample), files; ``domain`` of file tasks, ``data_dir``, ``seed``, ``strict_data``, ``source``: ``hf``
    loads registered benchmarks from the Hugging Face hub). A bare list of specs is the short form."""
    out: str = "runs/eval"
    """Run folder: predictions.jsonl, metrics.json, results.md, manifest.json, plots/ (a rerun resumes it)."""
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    """The evaluated model (``spec``: ``default``, ``hf:...``, ``openai:<model>@<url>``; ``serve`` starts vLLM)."""
    mode: str = "agent"
    """``agent`` (CodeAct), ``cot`` (answer directly), ``cot-rag`` (retrieved documents in the prompt), or a
    registered mode."""
    role: Literal["teacher", "student"] = "student"
    """Recorded in trajectories; the agent mode uses it to pick teacher or student behaviour."""
    agent: AgentConfig = dataclasses.field(default_factory=_eval_agent)
    """Steps, sampling (``max_tokens`` 1024 here, ``temperature`` 0 is greedy) and self-consistent action
    generation (``n_candidates``); the CoT modes use its sampling settings."""
    sandbox: SandboxConfig = dataclasses.field(default_factory=SandboxConfig)
    """Where the agent's code runs (``backend: docker`` for containers) and its limits."""
    retrieval: RetrievalConfig = dataclasses.field(default_factory=RetrievalConfig)
    """The index behind ``web_search`` (agent) and the documents in the prompt (``cot-rag``; ``k`` of them)."""
    judge: ModelConfig | None = None
    """An LLM judge for QA answers (optional; verdicts cached on disk): a model spec, or a model config
    (``{spec: ..., serve: ...}``)."""
    judge_cache: str | None = None
    """SQLite file for judge verdicts; default ``<cache>/judge/verdicts.sqlite``."""
    judge_prompt: str | None = None
    """A YAML file overriding keys of the judge's rubric (``evaluation/prompts/judge.yaml``)."""
    concurrency: int = 4
    """Tasks in flight at once (request seeds are ``agent.seed``)."""
    executor: ExecutorConfig = dataclasses.field(default_factory=ExecutorConfig)
    """Where the episodes run (``local``: asyncio tasks in this process)."""
    name: str | None = None
    """Run name in reports; default the folder name."""
    plots: bool = True
    """Write plots/ for this run."""
    baseline: str | None = None
    """A finished eval run folder to compare with task by task: the paired difference per benchmark, its
    95% bootstrap CI and the exact McNemar p-value go into metrics.json and the table."""
    overwrite: bool = False
    """Replace stored predictions made with other settings (another checkpoint, agent settings, mode...)
    instead of refusing to run; predictions of the current settings are kept and the run resumes."""

    def __post_init__(self) -> None:
        from agentdistill.agents.solvers import SOLVERS

        accept_shorthands(self)

        if self.mode not in SOLVERS:
            raise FieldError("mode", str(SOLVERS.unknown(self.mode)))
        if self.concurrency < 1:
            raise FieldError("concurrency", f"must be at least 1, got {self.concurrency}")
