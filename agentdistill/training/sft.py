"""Supervised fine-tuning with TRL's ``SFTTrainer`` on pre-tokenized, step-masked data.

The dataset reaching TRL already has ``input_ids`` and ``labels`` (-100 outside trained messages). TRL 1.x
uses a ``labels`` column as is (it only builds labels from ``assistant_masks``/``completion_mask`` when there
is none), its collator pads labels with -100, and its loss averages over labelled tokens only; packing
carries the labels with their tokens. So the masks computed by :mod:`agentdistill.training.masking` are
exactly what the loss sees (tests/training/test_sft.py checks the loss against a hand computation).

What every trainer shares (the student, TRL arguments, LoRA, saving and merging, the result) is the
training base, :mod:`agentdistill.training.base`; this module adds SFT's data and trainer.
"""

from __future__ import annotations

import dataclasses
import math
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agentdistill.config import ConfigError
from agentdistill.training.base import (
    TrainingError,
    TrainingResult,
    fit_and_save,
    load_tokenizer,
    lora_config,
    resolve_student,
    trl_config,
    world_size,
    write_summary,
)
from agentdistill.training.config import TrainConfig
from agentdistill.training.dataset import DataStats, build_dataset

__all__ = [
    "TrainResult",
    "TrainingError",
    "build_trainer",
    "prepare_data",
    "sft_config",
    "train",
]


@dataclasses.dataclass
class TrainResult(TrainingResult):
    """What an SFT run did; also written to ``<output_dir>/training_summary.json``."""

    data: DataStats | None = None
    eval_data: DataStats | None = None
    final_loss: float | None = None
    """The last logged training loss."""
    mean_loss: float | None = None
    """The training loss averaged over the whole run (as transformers reports it)."""
    eval_loss: float | None = None
    tokens_seen: int = 0
    """Non-padding tokens processed (all epochs, all processes)."""

    @property
    def tokens_per_s(self) -> float:
        return self.tokens_seen / self.train_runtime_s if self.train_runtime_s > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "tokens_per_s": self.tokens_per_s}


def accumulation_steps(cfg: TrainConfig, processes: int | None = None) -> int:
    """Gradient accumulation that yields ``effective_batch_size`` over all processes, if one is set."""
    if cfg.effective_batch_size is None:
        return cfg.gradient_accumulation_steps
    per_step = cfg.per_device_batch_size * (processes or world_size())
    if cfg.effective_batch_size % per_step:
        raise ConfigError(
            f"train: effective_batch_size {cfg.effective_batch_size} is not a multiple of "
            f"per_device_batch_size x processes = {per_step}"
        )
    return cfg.effective_batch_size // per_step


def sft_config(cfg: TrainConfig, *, has_eval: bool) -> Any:
    """The ``trl.SFTConfig`` for ``cfg``; ``trainer_overrides`` are applied last."""
    from trl import SFTConfig

    specific: dict[str, Any] = {
        "num_train_epochs": cfg.epochs,
        "max_steps": cfg.max_steps,
        "per_device_train_batch_size": cfg.per_device_batch_size,
        "per_device_eval_batch_size": cfg.per_device_batch_size,
        "gradient_accumulation_steps": accumulation_steps(cfg),
        "save_strategy": cfg.save_strategy,
        "save_steps": cfg.save_steps,
        "dataloader_num_workers": cfg.dataloader_num_workers,
        "max_length": cfg.max_length,
        "packing": cfg.packing,
        "packing_strategy": cfg.packing_strategy,
    }
    if has_eval:
        specific["eval_strategy"] = "steps" if cfg.eval_steps else "epoch"
        if cfg.eval_steps:
            specific["eval_steps"] = cfg.eval_steps
    return trl_config(SFTConfig, cfg, specific)


def build_trainer(
    cfg: TrainConfig,
    train_dataset: Any,
    tokenizer: Any,
    model: Any,
    *,
    eval_dataset: Any = None,
    callbacks: list[Any] | None = None,
) -> Any:
    """An ``SFTTrainer`` over pre-tokenized data; ``model`` is a path (preferred) or a loaded model."""
    from trl import SFTTrainer

    return SFTTrainer(
        model=model,
        args=sft_config(cfg, has_eval=eval_dataset is not None),
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        processing_class=tokenizer,
        peft_config=lora_config(cfg),
        callbacks=callbacks,
    )


TOKENIZED_DIR = ".tokenized"
"""Folder of ``output_dir`` holding the tokenized data during a run (removed when it ends)."""


def prepare_data(
    cfg: TrainConfig, tokenizer: Any, cache_dir: Path | None = None
) -> tuple[Any, Any, DataStats, DataStats | None]:
    """Tokenized train (and eval) datasets with their statistics; memory-mapped from Arrow files in
    ``cache_dir`` when given (one set per process under accelerate), else held in memory."""
    common = {
        "max_length": cfg.max_length,
        "truncation": cfg.truncation,
        "split": cfg.data_split,
        "skip_invalid": cfg.skip_invalid,
    }

    def cache_file(name: str) -> Path | None:
        rank = os.environ.get("RANK", "0")
        return None if cache_dir is None else cache_dir / f"{name}-rank{rank}.arrow"

    train_ds, stats = build_dataset(tokenizer, cfg.data, cache_file=cache_file("train"), **common)
    eval_ds, eval_stats = None, None
    if cfg.eval_data:
        eval_ds, eval_stats = build_dataset(tokenizer, cfg.eval_data, cache_file=cache_file("eval"), **common)
    elif cfg.eval_fraction > 0:
        n_eval = max(1, math.floor(len(train_ds) * cfg.eval_fraction))
        if n_eval >= len(train_ds):
            raise ConfigError(f"train: eval_fraction {cfg.eval_fraction} leaves no training example")
        split = train_ds.train_test_split(test_size=n_eval, seed=cfg.seed)
        train_ds, eval_ds = split["train"], split["test"]
        stats.held_out = n_eval
        eval_stats = DataStats(read=n_eval, used=n_eval, sources=["held out from the training data"])
    return train_ds, eval_ds, stats, eval_stats


def train(
    cfg: TrainConfig,
    *,
    callbacks: list[Any] | None = None,
    on_data: Callable[[DataStats, DataStats | None], None] | None = None,
) -> TrainResult:
    """Train ``cfg.student`` on ``cfg.data`` and write the student to ``cfg.output_dir``.

    ``on_data`` sees the data statistics before training starts (the CLI prints them), so a user learns
    about skipped examples without waiting for the run.
    """
    cfg.validate()
    model_path = resolve_student(cfg.student)
    tokenizer = load_tokenizer(model_path, cfg.chat_template)
    tokenized = Path(cfg.output_dir) / TOKENIZED_DIR
    try:
        return _train(cfg, model_path, tokenizer, tokenized, callbacks, on_data)
    finally:
        shutil.rmtree(tokenized, ignore_errors=True)


def _train(
    cfg: TrainConfig,
    model_path: str,
    tokenizer: Any,
    tokenized: Path,
    callbacks: list[Any] | None,
    on_data: Callable[[DataStats, DataStats | None], None] | None,
) -> TrainResult:
    train_ds, eval_ds, stats, eval_stats = prepare_data(cfg, tokenizer, cache_dir=tokenized)
    if on_data is not None:
        on_data(stats, eval_stats)

    trainer = build_trainer(cfg, train_ds, tokenizer, model_path, eval_dataset=eval_ds, callbacks=callbacks)
    eval_loss: list[float] = []

    def evaluate() -> None:
        if eval_ds is not None and (loss := trainer.evaluate().get("eval_loss")) is not None:
            eval_loss.append(float(loss))

    fitted = fit_and_save(trainer, cfg, tokenizer, model_path, before_save=evaluate)
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    mean = fitted.output.training_loss
    result = TrainResult(
        **fitted.common,
        data=stats,
        eval_data=eval_stats,
        final_loss=float(losses[-1]) if losses else None,
        mean_loss=float(mean) if mean is not None else None,
        eval_loss=eval_loss[0] if eval_loss else None,
        tokens_seen=int(getattr(trainer, "_total_train_tokens", 0)),
    )
    write_summary(trainer, tokenizer, cfg, result)
    return result
