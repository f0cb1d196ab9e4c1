"""``TrainerConfig``: the settings every trainer shares, declared once (the training base).

SFT (:class:`~agentdistill.training.config.TrainConfig`) and GRPO
(:class:`~agentdistill.training.rl_config.RLConfig`) are peers built on it, as TRL's ``SFTConfig`` and
``GRPOConfig`` are both ``TrainingArguments``: the student to train (a
:class:`~agentdistill.models.config.ModelConfig` whose weights must be on this machine), where the result
goes, LoRA, the optimiser, precision, logging and the escape hatch to TRL. A trainer re-declares a field
only to give it another default (GRPO's learning rate is not SFT's); its documentation and checks stay here.
A third trainer is a new subclass and a new file, not a third copy.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from agentdistill.config import ConfigError, FieldError, accept_shorthands
from agentdistill.models.config import ModelConfig

SCHEDULERS = (
    "linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup", "inverse_sqrt",
    "reduce_lr_on_plateau", "cosine_with_min_lr", "cosine_warmup_with_min_lr", "warmup_stable_decay", "greedy",
)  # fmt: skip
"""transformers' ``SchedulerType`` values (checked against it by a test; importing transformers here would
cost seconds on every config)."""
IGNORES_WARMUP = ("constant", "reduce_lr_on_plateau")
"""Schedules that ignore ``warmup_ratio`` in transformers (``constant_with_warmup`` honours it)."""


@dataclasses.dataclass
class TrainerConfig:
    """What every trainer needs; subclasses add their own data and algorithm."""

    COMMAND: ClassVar[str] = "train"
    """The command that runs it (in error messages)."""

    student: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    """The model to train: ``default`` (the packaged SmolLM2-135M-Instruct), ``hf:<dir or hub id>`` or a plain
    path (a model spec, or ``{spec: ..., serve: ...}``; only local weights train)."""
    output_dir: str = ""
    """Where the trained model goes (model or LoRA adapter, tokenizer, chat template, summary); it loads as
    ``hf:<output_dir>``."""

    # -- what is trained ---------------------------------------------------------------------
    lora: bool = True
    """Train a LoRA adapter (PEFT) instead of every weight."""
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
    max_length: int = 4096
    """Longest tokenized example, in tokens."""

    # -- optimisation ------------------------------------------------------------------------
    learning_rate: float = 2e-4
    """Peak learning rate."""
    lr_scheduler_type: str = "cosine"
    """Learning-rate schedule (any transformers scheduler name: ``cosine``, ``linear``, ``constant``,
    ``constant_with_warmup``, ...)."""
    warmup_ratio: float = 0.03
    """Fraction of steps spent warming up the learning rate (linearly from 0; the first step's rate is 0, its
    gradient still primes the optimiser's moments). ``constant`` ignores it: use ``constant_with_warmup``."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    max_grad_norm: float = 1.0
    """Gradient clipping."""
    gradient_checkpointing: bool = True
    """Recompute activations in the backward pass: much less memory for long agent traces, ~30% slower."""
    bf16: bool | None = None
    """Mixed precision in bfloat16; ``None`` turns it on where the hardware has it (recent NVIDIA GPUs)."""
    seed: int = 42
    """Seed for data order, sampling, dropout and LoRA initialisation."""

    # -- logging ------------------------------------------------------------------------------
    logging_steps: int = 10
    """Log the loss (and the trainer's metrics) every N optimizer steps."""
    report_to: list[str] = dataclasses.field(default_factory=lambda: ["none"])
    """Experiment trackers, passed to transformers (``wandb``, ``tensorboard``, ...; ``none`` for none)."""
    run_name: str | None = None
    """Run name shown by the trackers."""
    trainer_overrides: dict[str, Any] = dataclasses.field(default_factory=dict)
    """Further arguments of the TRL config (``SFTConfig``, ``GRPOConfig``), applied last (e.g.
    ``{"optim": "adamw_torch_fused"}``)."""

    def __post_init__(self) -> None:
        """Settings that would fail deep inside the trainer, caught when the config is made."""
        accept_shorthands(self)
        if not self.student.is_local:
            raise FieldError(
                "student",
                f"cannot train {self.student.spec!r}: only local weights train (use `default`, `hf:<dir>` or a "
                "path)",
            )
        for name in ("lora_r", "logging_steps"):
            if getattr(self, name) < 1:
                raise FieldError(name, f"must be at least 1, got {getattr(self, name)}")
        if self.max_length < 16:
            raise FieldError("max_length", f"{self.max_length} is too small")
        if self.learning_rate <= 0:
            raise FieldError("learning_rate", f"must be positive, got {self.learning_rate}")
        if self.lora_alpha <= 0:
            raise FieldError("lora_alpha", f"must be positive, got {self.lora_alpha}")
        for name in ("lora_dropout", "warmup_ratio"):
            if not 0 <= getattr(self, name) < 1:
                raise FieldError(name, f"must be in [0, 1), got {getattr(self, name)}")
        if self.lr_scheduler_type not in SCHEDULERS:
            raise FieldError(
                "lr_scheduler_type",
                f"unknown schedule {self.lr_scheduler_type!r}; one of {', '.join(SCHEDULERS)}",
            )
        if self.warmup_ratio > 0 and self.lr_scheduler_type in IGNORES_WARMUP:
            raise FieldError(
                "warmup_ratio",
                f"{self.lr_scheduler_type!r} ignores warmup (transformers); use lr_scheduler_type: constant_with_warmup, or "
                "warmup_ratio: 0",
            )
        if self.weight_decay < 0:
            raise FieldError("weight_decay", f"must be >= 0, got {self.weight_decay}")
        if self.max_grad_norm <= 0:
            raise FieldError("max_grad_norm", f"must be positive, got {self.max_grad_norm}")

    def validate(self) -> None:
        """Ready to run: an output folder given (the pipeline fills it itself)."""
        if not self.output_dir:
            raise ConfigError(f"{self.COMMAND}: no output directory; pass --out or set `output_dir`")
