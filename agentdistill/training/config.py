"""``TrainConfig``: every setting of ``agentdistill train``, documented field by field.

Recipes under ``configs/paper/`` are YAML files of these fields; the CLI's flags override them. Fields not
listed here can still reach TRL's ``SFTConfig`` through ``trainer_overrides`` (an escape hatch for options
such as ``fsdp`` or ``deepspeed`` that only matter on clusters).
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from agentdistill.config import ConfigError, FieldError
from agentdistill.training.trainer_config import TrainerConfig

TRUNCATION_POLICIES = ("truncate", "drop")


@dataclasses.dataclass
class TrainConfig(TrainerConfig):
    """Supervised fine-tuning of a student on trajectories (agent or CoT) with step-level loss masks; the
    student, LoRA, optimiser and logging fields are the training base's (:class:`TrainerConfig`)."""

    data: list[str] = dataclasses.field(default_factory=list)
    """Training data: trajectory JSONL files, trajectory directories (e.g. a pipeline's ``filtered/``; a
    killed generation run reads fine), or Hugging Face dataset folders saved with ``save_to_disk`` / hub
    ids. Several sources are concatenated."""
    data_split: str = "train"
    """Split to read from Hugging Face datasets that have several."""
    skip_invalid: bool = False
    """Count and skip records that fail schema validation instead of stopping at the first one."""
    chat_template: str | None = None
    """A ``.jinja`` file that replaces the student's chat template (for base models without one)."""

    # -- sequences ---------------------------------------------------------------------------
    truncation: Literal["truncate", "drop"] = "truncate"
    """What happens to examples longer than ``max_length`` (paper: 10240 for agent data, 4096 for CoT):
    ``truncate`` keeps the first ``max_length`` tokens (dropped anyway if no trained token is left),
    ``drop`` leaves them out. Both are counted in the summary."""
    packing: bool = False
    """Pack several examples into one ``max_length`` row (labels travel with their tokens, so masks hold)."""
    packing_strategy: Literal["bfd", "wrapped"] = "bfd"
    """TRL packing strategy: ``bfd`` (best-fit decreasing, no example is split) or ``wrapped``."""

    # -- optimisation ------------------------------------------------------------------------
    epochs: float = 2.0
    """Passes over the data."""
    max_steps: int = -1
    """Stop after this many optimizer steps (overrides ``epochs`` when > 0)."""
    per_device_batch_size: int = 1
    """Examples per device per forward pass."""
    gradient_accumulation_steps: int = 8
    """Forward passes per optimizer step; ignored when ``effective_batch_size`` is set."""
    effective_batch_size: int | None = None
    """Examples per optimizer step over all devices; accumulation is derived from it and the number of processes,
    so a recipe keeps its batch size on 1 or 8 GPUs."""

    # -- evaluation, saving --------------------------------------------------------------------
    eval_data: list[str] = dataclasses.field(default_factory=list)
    """Separate evaluation data (same formats as ``data``)."""
    eval_fraction: float = 0.0
    """Hold out this fraction of the training examples for evaluation (when ``eval_data`` is empty)."""
    eval_steps: int | None = None
    """Evaluate every N steps; ``None`` evaluates once per epoch."""
    save_strategy: Literal["no", "epoch", "steps"] = "no"
    """Intermediate checkpoints: ``no``, ``epoch`` or ``steps`` (the final model is always saved)."""
    save_steps: int = 500
    """Checkpoint interval for ``save_strategy: steps``."""
    dataloader_num_workers: int = 0
    """Worker processes feeding batches."""

    def __post_init__(self) -> None:
        """Settings that would fail deep inside the trainer, caught when the config is made."""
        super().__post_init__()
        if self.student.serve is not None:
            raise FieldError("student", "SFT generates nothing: serve does not apply (drop student.serve)")
        if self.merge and not self.lora:
            raise FieldError("merge", "merge only applies to LoRA training (drop --merge or use --lora)")
        if self.truncation not in TRUNCATION_POLICIES:
            raise FieldError("truncation", f"must be one of {TRUNCATION_POLICIES}, got {self.truncation!r}")
        if not 0.0 <= self.eval_fraction < 1.0:
            raise FieldError("eval_fraction", f"must be in [0, 1), got {self.eval_fraction}")
        if self.effective_batch_size is not None and self.effective_batch_size < 1:
            raise FieldError("effective_batch_size", "must be positive")
        for name in ("per_device_batch_size", "gradient_accumulation_steps"):
            if getattr(self, name) < 1:
                raise FieldError(name, "must be positive")

    def validate(self) -> None:
        """Ready to run: data and an output folder given (the pipeline fills both itself)."""
        if not self.data:
            raise ConfigError("train: no training data; pass --data or set `data` in the config")
        super().validate()
