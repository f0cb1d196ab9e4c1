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

from agentdistill.config import FieldError
from agentdistill.evaluation.config import EvalConfig
from agentdistill.training.config import TrainConfig
from agentdistill.trajectories.config import GenerateConfig
from agentdistill.trajectories.filters import FilterSpec, default_filter_specs

STAGES = ("generate", "filter", "train", "eval", "report")


def _pipeline_eval() -> EvalConfig:
    return EvalConfig(concurrency=8)


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
    baseline: bool = True
    """Also evaluate the untrained student (``train.student``), for the before/after comparison."""
    strict_data: bool = True
    """Fail before the first stage when a task spec falls back to a bundled sample or asks for more rows
    than its source holds (set false to run on the bundled samples, as the offline demo does)."""

    def __post_init__(self) -> None:
        if self.eval.model.serve is not None and self.train.lora and not self.train.merge:
            raise FieldError(
                "eval.model.serve",
                "needs a servable student: set train.merge: true (or train.lora: false)",
            )
        if self.eval.model.spec not in ("default", self.train.student):
            raise FieldError(
                "eval.model.spec",
                "is set by the pipeline (train.student before training, the trained student after); "
                "leave it out",
            )
