"""``agentdistill generate``: which teacher solves which tasks, how, and where the trajectories go."""

from __future__ import annotations

import dataclasses

from agentdistill.agents.config import AgentConfig
from agentdistill.config import FieldError
from agentdistill.models.config import ModelConfig
from agentdistill.sandbox.config import SandboxConfig
from agentdistill.tools.retrieval.config import RetrievalConfig


@dataclasses.dataclass
class GenerateConfig:
    """One generation run. Load from YAML with ``load_config(GenerateConfig, path)``; CLI flags override."""

    tasks: list[str] = dataclasses.field(default_factory=list)
    """Task specs: registry names with optional split and slice (``gsm8k[:50]``, ``hotpotqa:train[:1000]``)
    or local JSON/JSONL files."""
    domain: str | None = None
    """Domain (``qa`` or ``math``) of tasks read from local files, which carry none; registry tasks have theirs."""
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
    """Episodes in flight at once."""
    seed: int = 0
    """Seed for sampled task specs (``name:N``); request seeds are ``agent.seed`` (episode k: + k)."""
    data_dir: str | None = None
    """Benchmark data directory laid out like shared/data; None: bundled samples or $AGENTDISTILL_DATA_DIR."""
    overwrite: bool = False
    """Replace the records of ``out`` made with other settings (and those of tasks no longer asked for)
    instead of refusing to run; records of the current settings are kept and the run resumes."""
    retry_failed: bool = False
    """Also retry episodes that failed permanently (the episode itself raised); infrastructure failures
    (a server or sandbox outage) are always retried."""
    strict_data: bool = False
    """Fail instead of warning when a task spec falls back to a bundled sample or asks for more rows than
    its source holds."""

    def __post_init__(self) -> None:
        from agentdistill.agents.solvers import SOLVERS
        from agentdistill.tasks.specs import parse_task_spec

        if self.mode not in SOLVERS:
            raise FieldError("mode", str(SOLVERS.unknown(self.mode)))
        for i, spec in enumerate(self.tasks):
            try:
                parse_task_spec(spec)
            except ValueError as e:
                raise FieldError(f"tasks[{i}]", str(e)) from None
        for name in ("samples_per_task", "concurrency"):
            if getattr(self, name) < 1:
                raise FieldError(name, f"must be at least 1, got {getattr(self, name)}")
        if self.agent.reflection == "student" and self.student is None:
            raise FieldError(
                "student", "agent.reflection 'student' needs a student model (--student SPEC or student.spec)"
            )
