"""``PipelineConfig``: a whole distillation run, every stage typed, validated whole when it loads.

Each stage is the part's own config: ``generate`` a :class:`GenerateConfig`, ``filters`` a list of named
filters with arguments (lm-evaluation-harness's ``filter_list`` pattern), ``train`` a :class:`TrainConfig`,
``eval`` an :class:`EvalConfig`. A misspelt key or an invalid value anywhere fails at load time, with file,
key path and valid values, before a model is loaded or an episode runs.

The pipeline fills the fields that connect the stages: ``generate.out`` (``run_dir/trajectories``),
``train.data`` and ``train.output_dir``, and each evaluation's ``out``, ``name`` and ``model.spec``
(``train.student`` before training, the trained student after).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar, Literal

from agentdistill.config import FieldError, accept_shorthands
from agentdistill.episodes.generate_config import GenerateConfig
from agentdistill.evaluation.config import EvalConfig
from agentdistill.training.config import TrainConfig
from agentdistill.training.rl_config import RLConfig
from agentdistill.trajectories.filters import FilterSpec, default_filter_specs


def _pipeline_eval() -> EvalConfig:
    return EvalConfig(concurrency=8)


@dataclasses.dataclass
class RoundsConfig:
    """Failure-targeted iterative distillation (LLM2LLM / expert iteration): after each round the student is
    evaluated on the training pool (never on a test set), and the tasks it still fails get more teacher
    samples in the next round. Data accumulates over rounds; every round trains a fresh student (from
    ``train.student``) on all data so far. In YAML ``rounds: 3`` or a mapping of these fields."""

    SHORTHAND: ClassVar[str] = "count"

    count: int = 1
    """Rounds at most (1: plain distillation, no pool evaluation)."""
    failure_boost: int = 2
    """Episodes per pool task the previous round's student failed, in the next round."""
    teacher: Literal["teacher", "student"] = "teacher"
    """Who generates rounds 2 and later: ``teacher`` (``generate.teacher``), or ``student``, the previous
    round's student (self-improvement when no stronger teacher exists)."""
    dev_fraction: float = 0.2
    """Share of the pool held out as a dev split (never trained on); its accuracy decides when to stop."""
    min_gain: float = 0.0
    """Stop after a round whose dev accuracy does not beat the best round so far by more than this; the
    best round's student is the one evaluated on the benchmarks."""
    seed: int = 0
    """Seed of the dev split (a stable hash of each task id)."""

    def __post_init__(self) -> None:
        if self.count < 1:
            raise FieldError("count", f"must be at least 1, got {self.count}")
        if self.failure_boost < 1:
            raise FieldError("failure_boost", f"must be at least 1, got {self.failure_boost}")
        if not 0.0 < self.dev_fraction < 1.0:
            raise FieldError("dev_fraction", f"must be in (0, 1), got {self.dev_fraction}")


@dataclasses.dataclass
class PipelineConfig:
    """A whole distillation run (``configs/demo.yaml`` is one)."""

    run_dir: str = "runs/pipeline"
    """Where every stage writes; rerunning with the same directory resumes."""
    generate: GenerateConfig = dataclasses.field(default_factory=GenerateConfig)
    """Teacher episodes; ``generate.out`` is set by the pipeline (``run_dir/trajectories``)."""
    filters: list[FilterSpec] = dataclasses.field(default_factory=default_filter_specs)
    """Which episodes become training data: filters applied in order, each a name or ``{name: ..., <its
    arguments>}`` (``failed``, ``status``, ``parse_errors``, ``max_steps``, ``length``, ``correct``,
    ``decontaminate``, ``dedup``, ``per_task``). Default: failed, correct, decontaminate, dedup."""
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    """Fine-tuning of the student (``student``, ``lora``, ``epochs``, ...); ``data`` and ``output_dir`` are
    set by the pipeline."""
    eval: EvalConfig = dataclasses.field(default_factory=_pipeline_eval)
    """Evaluation before and after training (``benchmarks`` empty skips it); ``out``, ``name`` and
    ``model.spec`` are set by the pipeline, ``model.serve`` serves each evaluated model with vLLM."""
    rl: RLConfig | None = None
    """Reinforcement learning after ``train`` (GRPO with CodeAct rollouts, ``agentdistill rl``): the trained
    student is the starting policy and the RL policy is the one evaluated. ``student.spec`` and ``output_dir``
    are set by the pipeline; ``tasks`` default to ``generate.tasks`` (the training pool). None: no RL stage."""
    rounds: RoundsConfig = dataclasses.field(default_factory=RoundsConfig)
    """Iterative, failure-targeted distillation over several rounds (``rounds: 3``); 1 by default."""
    baseline: bool = True
    """Also evaluate the untrained student (``train.student``), for the before/after comparison."""
    strict_data: bool = True
    """Fail before the first stage when a task spec falls back to a bundled sample or asks for more rows
    than its source holds (set false to run on the bundled samples, as the offline demo does)."""

    def __post_init__(self) -> None:
        accept_shorthands(self)
        if self.eval.model.serve is not None and self.train.lora and not self.train.merge:
            raise FieldError(
                "eval.model.serve",
                "needs a servable student: set train.merge: true (or train.lora: false)",
            )
        if (
            self.rounds.count > 1
            and self.rounds.teacher == "student"
            and self.generate.teacher.serve is not None
            and self.train.lora
            and not self.train.merge
        ):
            raise FieldError(
                "rounds.teacher",
                "a served student teacher (generate.teacher.serve) needs train.merge: true (or train.lora: false)",
            )
        if self.rl is not None and self.train.lora and not self.train.merge:
            raise FieldError(
                "rl", "RL starts from the trained student: set train.merge: true (or train.lora: false)"
            )
        if self.rl is not None and self.eval.model.serve is not None and self.rl.lora and not self.rl.merge:
            raise FieldError(
                "eval.model.serve", "needs a servable RL policy: set rl.merge: true (or rl.lora: false)"
            )
        if self.eval.model.spec not in ("default", self.train.student.spec):
            raise FieldError(
                "eval.model.spec",
                "is set by the pipeline (train.student before training, the trained student after); "
                "leave it out",
            )
