"""``TrainConfig``: every setting of ``agentdistill train``, documented field by field.

Recipes under ``configs/paper/`` are YAML files of these fields; the CLI's flags override them. Fields not
listed here can still reach TRL's ``SFTConfig`` through ``trainer_overrides`` (an escape hatch for options
such as ``fsdp`` or ``deepspeed`` that only matter on clusters).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

from agentdistill.config import ConfigError, FieldError

TRUNCATION_POLICIES = ("truncate", "drop")


@dataclasses.dataclass
class TrainConfig:
    """Supervised fine-tuning of a student on trajectories (agent or CoT) with step-level loss masks."""

    student: str = "default"
    """Model to train: ``default`` (the packaged SmolLM2-135M-Instruct), ``hf:<dir or hub id>`` or a plain path."""
    data: list[str] = dataclasses.field(default_factory=list)
    """Training data: trajectory JSONL files, trajectory directories (e.g. a pipeline's ``filtered/``; a
    killed generation run reads fine), or Hugging Face dataset folders saved with ``save_to_disk`` / hub
    ids. Several sources are concatenated."""
    output_dir: str = ""
    """Where the trained student goes (model or LoRA adapter, tokenizer, chat template, summary)."""
    data_split: str = "train"
    """Split to read from Hugging Face datasets that have several."""
    skip_invalid: bool = False
    """Count and skip records that fail schema validation instead of stopping at the first one."""

    # -- what is trained ---------------------------------------------------------------------
    lora: bool = True
    """Train a LoRA adapter (PEFT) instead of every weight; the paper's recipe."""
    lora_r: int = 64
    """LoRA rank."""
    lora_alpha: int = 128
    """LoRA scaling numerator (the update is scaled by alpha / r)."""
    lora_dropout: float = 0.05
    """Dropout on the LoRA input."""
    lora_target_modules: list[str] | str = "all-linear"
    """Modules that get adapters: ``all-linear`` (every linear layer but the output head) or a list of names."""
    merge: bool = False
    """Fold the LoRA adapter into the base weights after training, so the output serves like any model
    (vLLM without ``--enable-lora``). Without it the output holds only the adapter (it still loads as ``hf:``)."""
    chat_template: str | None = None
    """A ``.jinja`` file that replaces the student's chat template (for base models without one)."""

    # -- sequences ---------------------------------------------------------------------------
    max_length: int = 4096
    """Longest tokenized example, in tokens (paper: 10240 for agent data, 4096 for CoT)."""
    truncation: Literal["truncate", "drop"] = "truncate"
    """What happens to longer examples: ``truncate`` keeps the first ``max_length`` tokens (dropped anyway if no
    trained token is left), ``drop`` leaves them out. Both are counted in the summary."""
    packing: bool = False
    """Pack several examples into one ``max_length`` row (labels travel with their tokens, so masks hold)."""
    packing_strategy: Literal["bfd", "wrapped"] = "bfd"
    """TRL packing strategy: ``bfd`` (best-fit decreasing, no example is split) or ``wrapped``."""

    # -- optimisation ------------------------------------------------------------------------
    epochs: float = 2.0
    """Passes over the data."""
    max_steps: int = -1
    """Stop after this many optimizer steps (overrides ``epochs`` when > 0)."""
    learning_rate: float = 2e-4
    """Peak learning rate (paper: 2e-4 for LoRA)."""
    lr_scheduler_type: str = "cosine"
    """Learning-rate schedule (any transformers scheduler name)."""
    warmup_ratio: float = 0.03
    """Fraction of steps spent warming up the learning rate."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    max_grad_norm: float = 1.0
    """Gradient clipping."""
    per_device_batch_size: int = 1
    """Examples per device per forward pass."""
    gradient_accumulation_steps: int = 8
    """Forward passes per optimizer step; ignored when ``effective_batch_size`` is set."""
    effective_batch_size: int | None = None
    """Examples per optimizer step over all devices; accumulation is derived from it and the number of processes,
    so a recipe keeps its batch size on 1 or 8 GPUs."""
    gradient_checkpointing: bool = True
    """Recompute activations in the backward pass: much less memory for long agent traces, ~30% slower."""
    bf16: bool | None = None
    """Mixed precision in bfloat16; ``None`` turns it on where the hardware has it (recent NVIDIA GPUs)."""
    seed: int = 42
    """Seed for data order, dropout and LoRA initialisation."""

    # -- evaluation, logging, saving ---------------------------------------------------------
    eval_data: list[str] = dataclasses.field(default_factory=list)
    """Separate evaluation data (same formats as ``data``)."""
    eval_fraction: float = 0.0
    """Hold out this fraction of the training examples for evaluation (when ``eval_data`` is empty)."""
    eval_steps: int | None = None
    """Evaluate every N steps; ``None`` evaluates once per epoch."""
    logging_steps: int = 10
    """Log the loss every N optimizer steps."""
    save_strategy: Literal["no", "epoch", "steps"] = "no"
    """Intermediate checkpoints: ``no``, ``epoch`` or ``steps`` (the final model is always saved)."""
    save_steps: int = 500
    """Checkpoint interval for ``save_strategy: steps``."""
    report_to: list[str] = dataclasses.field(default_factory=lambda: ["none"])
    """Experiment trackers, passed to transformers (``wandb``, ``tensorboard``, ...; ``none`` for none)."""
    run_name: str | None = None
    """Run name shown by the trackers."""
    dataloader_num_workers: int = 0
    """Worker processes feeding batches."""
    trainer_overrides: dict[str, Any] = dataclasses.field(default_factory=dict)
    """Further ``trl.SFTConfig`` arguments, applied last (e.g. ``{"optim": "adamw_torch_fused"}``)."""

    def __post_init__(self) -> None:
        """Settings that would fail deep inside the trainer, caught when the config is made."""
        if self.truncation not in TRUNCATION_POLICIES:
            raise FieldError("truncation", f"must be one of {TRUNCATION_POLICIES}, got {self.truncation!r}")
        if self.max_length < 16:
            raise FieldError("max_length", f"{self.max_length} is too small")
        if not 0.0 <= self.eval_fraction < 1.0:
            raise FieldError("eval_fraction", f"must be in [0, 1), got {self.eval_fraction}")
        if self.merge and not self.lora:
            raise FieldError("merge", "merge only applies to LoRA training (drop --merge or use --lora)")
        if self.effective_batch_size is not None and self.effective_batch_size < 1:
            raise FieldError("effective_batch_size", "must be positive")
        for name in ("per_device_batch_size", "gradient_accumulation_steps", "lora_r"):
            if getattr(self, name) < 1:
                raise FieldError(name, "must be positive")
        if ":" in self.student and not self.student.startswith(("hf:", "/", ".")):
            from agentdistill.models.specs import parse_model_spec

            try:
                local = parse_model_spec(self.student).is_local
            except ValueError as e:
                raise FieldError("student", str(e)) from None
            if not local:
                raise FieldError(
                    "student",
                    f"cannot train {self.student!r}: only local weights train (use `default`, `hf:<dir>` or a path)",
                )
        if self.learning_rate <= 0:
            raise FieldError("learning_rate", f"must be positive, got {self.learning_rate}")

    def validate(self) -> None:
        """Ready to run: data and an output folder given (the pipeline fills both itself)."""
        if not self.data:
            raise ConfigError("train: no training data; pass --data or set `data` in the config")
        if not self.output_dir:
            raise ConfigError("train: no output directory; pass --out or set `output_dir`")
