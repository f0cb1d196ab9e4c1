"""``TaskSetConfig``: which tasks a stage runs a model on, declared once for generation, evaluation and RL.

Every stage that runs a model over tasks composes it (``generate.tasks``, ``eval.benchmarks``, ``rl.tasks``)
and loads its tasks with :meth:`TaskSetConfig.load`, so specs are validated in one place and read one way.
In YAML a bare list of specs is the short form::

    tasks: ["gsm8k:train[:200]", data/extra.jsonl]
    tasks: {specs: ["gsm8k:train:200"], seed: 3, data_dir: ../shared/data, strict_data: true}
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar, Literal

from agentdistill.config import FieldError
from agentdistill.errors import AgentDistillError
from agentdistill.schema import Task


@dataclasses.dataclass
class TaskSetConfig:
    """A set of tasks: specs and how to read them."""

    SHORTHAND: ClassVar[str] = "specs"

    specs: list[str] = dataclasses.field(default_factory=list)
    """Task specs: registry names with optional split, slice or seeded sample (``gsm8k[:50]``,
    ``hotpotqa:train[:1000]``, ``math500:100``), local JSON/JSONL files, or ``hf:<dataset id>``."""
    domain: str | None = None
    """Domain (``qa`` or ``math``) of tasks read from local files, which carry none; registry tasks have theirs."""
    data_dir: str | None = None
    """Benchmark data directory laid out like shared/data; None: ``$AGENTDISTILL_DATA_DIR``, else the bundled
    samples."""
    seed: int = 0
    """Seed of sampled specs (``name:N``)."""
    strict_data: bool = False
    """Fail instead of warning when a spec falls back to a bundled sample or asks for more rows than its
    source holds."""
    source: Literal["auto", "local", "hf"] = "auto"
    """Where registered benchmarks are read from: ``auto`` (the data directory, else the bundled sample),
    ``local``, or ``hf`` (the Hugging Face hub, online)."""

    def __post_init__(self) -> None:
        from agentdistill.tasks.specs import parse_task_spec

        for i, spec in enumerate(self.specs):
            try:
                parse_task_spec(spec)
            except ValueError as e:
                raise FieldError(f"specs[{i}]", str(e)) from None

    def load(self, *, flag: str = "--tasks", example: str = "gsm8k[:20]", what: str = "tasks") -> list[Task]:
        """Every task of the specs, in order; a spec listed twice is read once and a task id met twice (the
        same task named by two specs) is kept once. No spec at all is an error naming ``flag``."""
        from agentdistill.tasks.specs import check_distinct_files, load_tasks

        if not self.specs:
            raise AgentDistillError(f"no {what} given: pass {flag} SPEC (e.g. {example})")
        check_distinct_files(self.specs)
        tasks: dict[str, Task] = {}
        for spec in dict.fromkeys(self.specs):
            for task in load_tasks(
                spec,
                strict=self.strict_data,
                data_dir=self.data_dir,
                seed=self.seed,
                domain=self.domain,
                source=self.source,
            ):
                tasks.setdefault(task.id, task)
        return list(tasks.values())

    def with_defaults(self, other: TaskSetConfig) -> TaskSetConfig:
        """This set, reading with ``other``'s domain, data directory and strictness where it names none
        (the pipeline's RL stage reuses the generation pool's)."""
        return dataclasses.replace(
            self,
            specs=self.specs or list(other.specs),
            domain=self.domain or other.domain,
            data_dir=self.data_dir or other.data_dir,
            strict_data=self.strict_data or other.strict_data,
        )
