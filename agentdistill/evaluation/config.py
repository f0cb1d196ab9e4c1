"""``EvalConfig``: what ``agentdistill eval`` runs, documented field by field (loadable from YAML).

It composes the parts' own configs like :class:`~agentdistill.trajectories.config.GenerateConfig` does: the
evaluated model (:class:`ModelConfig`), the agent (:class:`AgentConfig`: steps, sampling, self-consistent
candidates), the sandbox its code runs in (:class:`SandboxConfig`) and the index behind ``web_search``
(:class:`RetrievalConfig`). A YAML file sets any subset::

    benchmarks: ["gsm8k[:50]", "hotpotqa:demo"]
    out: runs/eval/student
    model: {spec: "hf:runs/demo/student"}
    agent: {max_steps: 3, n_candidates: 4}
    sandbox: {backend: docker}
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from agentdistill.agents.config import AgentConfig
from agentdistill.config import FieldError
from agentdistill.models.config import ModelConfig
from agentdistill.sandbox.config import SandboxConfig
from agentdistill.tools.retrieval.config import RetrievalConfig


def _eval_agent() -> AgentConfig:
    return AgentConfig(max_tokens=1024)


@dataclasses.dataclass
class EvalConfig:
    """One evaluation run: a model in a mode on some benchmarks, written to ``out``."""

    benchmarks: list[str] = dataclasses.field(default_factory=list)
    """Task specs: ``hotpotqa``, ``gsm8k[:50]``, ``aime:2024``, ``math500:100`` (seeded sample), files."""
    out: str = "runs/eval"
    """Run folder: predictions.jsonl, metrics.json, results.md, run.json, plots/ (a rerun resumes it)."""
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
    judge: str | None = None
    """Model spec of an LLM judge for QA answers (optional; verdicts cached on disk)."""
    judge_cache: str | None = None
    """SQLite file for judge verdicts; default ``<cache>/judge/verdicts.sqlite``."""
    judge_prompt: str | None = None
    """A YAML file overriding keys of the judge's rubric (``evaluation/prompts/judge.yaml``)."""
    concurrency: int = 4
    """Tasks in flight at once."""
    domain: str | None = None
    """Domain (``qa`` or ``math``) of tasks read from local files, which carry none."""
    data_dir: str | None = None
    """Folder laid out like shared/data; default ``$AGENTDISTILL_DATA_DIR``, else the bundled samples."""
    source: Literal["auto", "local", "hf"] = "auto"
    """``hf`` loads registered benchmarks from the Hugging Face hub (online)."""
    seed: int = 0
    """Seed for sampled specs (``name:N``); request seeds are ``agent.seed``."""
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
    strict_data: bool = False
    """Fail instead of warning when a benchmark falls back to a bundled sample or asks for more rows than
    its source holds."""

    def __post_init__(self) -> None:
        from agentdistill.agents.solvers import SOLVERS
        from agentdistill.tasks.specs import parse_task_spec

        if self.mode not in SOLVERS:
            raise FieldError("mode", str(SOLVERS.unknown(self.mode)))
        if self.concurrency < 1:
            raise FieldError("concurrency", f"must be at least 1, got {self.concurrency}")
        for i, spec in enumerate(self.benchmarks):
            try:
                parse_task_spec(spec)
            except ValueError as e:
                raise FieldError(f"benchmarks[{i}]", str(e)) from None
