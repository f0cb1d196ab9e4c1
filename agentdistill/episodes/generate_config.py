"""``agentdistill generate``: which teacher solves which tasks, how, and where the trajectories go."""

from __future__ import annotations

import dataclasses

from agentdistill.agents.config import AgentConfig
from agentdistill.config import FieldError, accept_shorthands
from agentdistill.episodes.executors import ExecutorConfig
from agentdistill.models.config import ModelConfig
from agentdistill.sandbox.config import SandboxConfig
from agentdistill.tasks.config import TaskSetConfig
from agentdistill.tools.retrieval.config import RetrievalConfig


@dataclasses.dataclass
class GenerateConfig:
    """One generation run. Load from YAML with ``load_config(GenerateConfig, path)``; CLI flags override."""

    tasks: TaskSetConfig = dataclasses.field(default_factory=TaskSetConfig)
    """The tasks the teacher solves (``specs``: registry names with optional split and slice, e.g.
    ``gsm8k[:50]``, ``hotpotqa:train[:1000]``, or local JSON/JSONL files; ``domain`` of file tasks,
    ``data_dir``, ``seed`` of sampled specs, ``strict_data``). A bare list of specs is the short form."""
    out: str = "runs/generate"
    """The trajectory directory (JSONL shards + manifest.json); an existing one is resumed."""
    teacher: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    """The model that solves the tasks (``serve`` starts a vLLM for a local one)."""
    student: ModelConfig | None = None
    """Reflection source ``student``: the model whose rollouts the teacher checks and corrects."""
    mode: str = "agent"
    """``agent`` (CodeAct trajectories), the baselines ``cot`` / ``cot-rag`` (plain answers), or a registered
    mode (``agentdistill.agents.solvers.SOLVERS``)."""
    agent: AgentConfig = dataclasses.field(default_factory=AgentConfig)
    """The agent loop: steps, sampling, first-thought prefix, reflection, self-consistency."""
    sandbox: SandboxConfig = dataclasses.field(default_factory=SandboxConfig)
    """Where model-written code runs."""
    retrieval: RetrievalConfig = dataclasses.field(default_factory=RetrievalConfig)
    """The index behind ``web_search`` (``demo``: the bundled HotpotQA corpus)."""
    samples_per_task: int = 1
    """Episodes per task (ids ``<task id>#<k>``); > 1 with temperature > 0 for best-of-K."""
    concurrency: int = 8
    """Episodes in flight at once (request seeds are ``agent.seed``, + k for episode k)."""
    executor: ExecutorConfig = dataclasses.field(default_factory=ExecutorConfig)
    """Where the episodes run (``local``: asyncio tasks in this process)."""
    overwrite: bool = False
    """Replace the records of ``out`` made with other settings (and those of tasks no longer asked for)
    instead of refusing to run; records of the current settings are kept and the run resumes."""
    retry_failed: bool = False
    """Also retry episodes that failed permanently (the episode itself raised); infrastructure failures
    (a server or sandbox outage) are always retried."""

    def __post_init__(self) -> None:
        from agentdistill.agents.solvers import SOLVERS

        accept_shorthands(self)

        if self.mode not in SOLVERS:
            raise FieldError("mode", str(SOLVERS.unknown(self.mode)))
        for name in ("samples_per_task", "concurrency"):
            if getattr(self, name) < 1:
                raise FieldError(name, f"must be at least 1, got {getattr(self, name)}")
        if self.agent.reflection == "student" and self.student is None:
            raise FieldError(
                "student", "agent.reflection 'student' needs a student model (--student SPEC or student.spec)"
            )
