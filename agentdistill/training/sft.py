"""Supervised fine-tuning with TRL's ``SFTTrainer`` on pre-tokenized, step-masked data.

The dataset reaching TRL already has ``input_ids`` and ``labels`` (-100 outside trained messages). TRL 1.x
uses a ``labels`` column as is (it only builds labels from ``assistant_masks``/``completion_mask`` when there
is none), its collator pads labels with -100, and its loss averages over labelled tokens only; packing
carries the labels with their tokens. So the masks computed by :mod:`agentdistill.training.masking` are
exactly what the loss sees (tests/training/test_sft.py checks the loss against a hand computation).

Runs the same under ``python -m agentdistill.cli train`` and ``accelerate launch`` (DDP, FSDP, DeepSpeed):
the model is handed to TRL as a path so distributed back-ends can shard it while loading, and only the
main process writes the output.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agentdistill.config import ConfigError, to_dict
from agentdistill.errors import AgentDistillError
from agentdistill.training.config import TrainConfig
from agentdistill.training.dataset import DataStats, build_dataset

SUMMARY_FILE = "training_summary.json"


class TrainingError(AgentDistillError, RuntimeError):
    """A training run that cannot start or finish (bad student spec, no chat template, ...)."""


@dataclasses.dataclass
class TrainResult:
    """What a training run did; also written to ``<output_dir>/training_summary.json``."""

    output_dir: str
    data: DataStats
    eval_data: DataStats | None
    steps: int
    final_loss: float | None
    """The last logged training loss."""
    mean_loss: float | None
    """The training loss averaged over the whole run (as transformers reports it)."""
    eval_loss: float | None
    train_runtime_s: float
    tokens_seen: int
    """Non-padding tokens processed (all epochs, all processes)."""
    trainable_params: int
    total_params: int
    lora: bool
    merged: bool
    cuda_peak_mib: float | None = None
    """Peak GPU memory allocated by this process (None on CPU)."""

    @property
    def tokens_per_s(self) -> float:
        return self.tokens_seen / self.train_runtime_s if self.train_runtime_s > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["tokens_per_s"] = self.tokens_per_s
        return d


def resolve_student(spec: str) -> str:
    """A model spec -> a path or hub id transformers can load (``openai:`` models cannot be trained)."""
    from agentdistill.models.base import ModelSpecError
    from agentdistill.models.weights import local_model_path

    try:
        return local_model_path(spec, purpose="trained")
    except ModelSpecError as e:
        raise TrainingError(
            f"cannot train {spec!r}: only local weights train (use `default`, `hf:<dir>` or a path): {e}"
        ) from None


def load_tokenizer(model_path: str, chat_template_file: str | None = None) -> Any:
    """The student's tokenizer with a chat template (its own, or the given ``.jinja`` file) and a pad token."""
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(model_path)
    except OSError as e:
        raise TrainingError(f"could not load the tokenizer of {model_path!r}: {e}") from None
    if chat_template_file:
        try:
            tok.chat_template = Path(chat_template_file).read_text(encoding="utf-8")
        except OSError as e:
            raise ConfigError(f"chat_template: cannot read {chat_template_file}: {e}") from None
    if not tok.chat_template:
        raise TrainingError(
            f"{model_path} has no chat template; use an instruct model or pass chat_template: <file.jinja>"
        )
    if not getattr(tok, "is_fast", False):
        raise TrainingError(f"{model_path}: loss masking needs a fast tokenizer (token offsets)")
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def world_size() -> int:
    """Processes in this run (accelerate/torchrun set WORLD_SIZE)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


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


def use_bf16(cfg: TrainConfig) -> bool:
    import torch

    available = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if cfg.bf16 and not available:
        raise ConfigError("train: bf16 requested but this hardware has no bfloat16 support (set bf16: null)")
    return available if cfg.bf16 is None else cfg.bf16


def sft_config(cfg: TrainConfig, *, has_eval: bool) -> Any:
    """The ``trl.SFTConfig`` for ``cfg``; ``trainer_overrides`` are applied last."""
    import torch
    from trl import SFTConfig

    bf16 = use_bf16(cfg)
    kwargs: dict[str, Any] = {
        "output_dir": cfg.output_dir,
        "num_train_epochs": cfg.epochs,
        "max_steps": cfg.max_steps,
        "learning_rate": cfg.learning_rate,
        "lr_scheduler_type": cfg.lr_scheduler_type,
        "warmup_steps": cfg.warmup_ratio,  # a float in [0, 1) is a ratio in transformers 5
        "weight_decay": cfg.weight_decay,
        "max_grad_norm": cfg.max_grad_norm,
        "per_device_train_batch_size": cfg.per_device_batch_size,
        "per_device_eval_batch_size": cfg.per_device_batch_size,
        "gradient_accumulation_steps": accumulation_steps(cfg),
        _checkpointing_key(SFTConfig): cfg.gradient_checkpointing,
        "bf16": bf16,
        "seed": cfg.seed,
        "data_seed": cfg.seed,
        "logging_steps": cfg.logging_steps,
        "logging_first_step": True,
        "save_strategy": cfg.save_strategy,
        "save_steps": cfg.save_steps,
        "report_to": cfg.report_to,
        "run_name": cfg.run_name,
        "dataloader_num_workers": cfg.dataloader_num_workers,
        "dataloader_pin_memory": torch.cuda.is_available(),
        "max_length": cfg.max_length,
        "packing": cfg.packing,
        "packing_strategy": cfg.packing_strategy,
        "model_init_kwargs": {"dtype": "bfloat16" if (bf16 and cfg.lora) else "float32"},
    }
    if has_eval:
        kwargs["eval_strategy"] = "steps" if cfg.eval_steps else "epoch"
        if cfg.eval_steps:
            kwargs["eval_steps"] = cfg.eval_steps
    kwargs.update(cfg.trainer_overrides)
    try:
        return SFTConfig(**kwargs)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"train: invalid trainer setting: {e}") from None


def _checkpointing_key(config_cls: Any) -> str:
    """transformers renamed ``gradient_checkpointing`` to ``activation_checkpointing`` (the old name warns)."""
    names = {f.name for f in dataclasses.fields(config_cls)}
    return "activation_checkpointing" if "activation_checkpointing" in names else "gradient_checkpointing"


def lora_config(cfg: TrainConfig) -> Any:
    from peft import LoraConfig

    return LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=cfg.lora_target_modules,
        task_type="CAUSAL_LM",
    )


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
        peft_config=lora_config(cfg) if cfg.lora else None,
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
    trainable, total = count_parameters(trainer.model)
    started = time.perf_counter()
    output = trainer.train()
    runtime = time.perf_counter() - started
    eval_loss = None
    if eval_ds is not None:
        eval_loss = trainer.evaluate().get("eval_loss")

    out = Path(cfg.output_dir)
    merged = save_trained(trainer, tokenizer, model_path, out, merge=cfg.lora and cfg.merge)

    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    result = TrainResult(
        output_dir=str(out),
        data=stats,
        eval_data=eval_stats,
        steps=int(trainer.state.global_step),
        final_loss=float(losses[-1]) if losses else None,
        mean_loss=float(output.training_loss) if output.training_loss is not None else None,
        eval_loss=float(eval_loss) if eval_loss is not None else None,
        train_runtime_s=runtime,
        tokens_seen=int(getattr(trainer, "_total_train_tokens", 0)),
        trainable_params=trainable,
        total_params=total,
        lora=cfg.lora,
        merged=merged,
        cuda_peak_mib=cuda_peak_mib(),
    )
    if trainer.accelerator.is_main_process:
        save_student_files(tokenizer, out)
        (out / SUMMARY_FILE).write_text(
            json.dumps({"config": to_dict(cfg), "result": result.to_dict()}, indent=2, default=str)
        )
    return result


def save_trained(trainer: Any, tokenizer: Any, model_path: str, out: Path, *, merge: bool) -> bool:
    """Save what ``trainer`` trained into ``out``: the model (or LoRA adapter), or with ``merge`` the adapter
    in ``out/adapter`` folded into the base weights in ``out``; returns whether it merged."""
    if merge:
        adapter_dir = out / "adapter"
        trainer.save_model(str(adapter_dir))
        trainer.accelerator.wait_for_everyone()
        if trainer.accelerator.is_main_process:
            tokenizer.save_pretrained(adapter_dir)
            merge_adapter(model_path, adapter_dir, out, dtype=trainer.model.dtype)
    else:
        trainer.save_model(str(out))
    trainer.accelerator.wait_for_everyone()
    return merge


def cuda_peak_mib() -> float | None:
    import torch

    return torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None


def count_parameters(model: Any) -> tuple[int, int]:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, sum(p.numel() for p in model.parameters())


def save_student_files(tokenizer: Any, out: Path) -> None:
    """Tokenizer and chat template beside the weights, loadable by every transformers 5 and vLLM."""
    out.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(out)
    cfg_path = out / "tokenizer_config.json"
    if cfg_path.is_file():
        data = json.loads(cfg_path.read_text())
        if data.get("tokenizer_class") == "TokenizersBackend":  # transformers 5's generic name
            data["tokenizer_class"] = "PreTrainedTokenizerFast"
            cfg_path.write_text(json.dumps(data, indent=2))


def merge_adapter(base: str | Path, adapter_dir: str | Path, out: str | Path, *, dtype: Any = None) -> Path:
    """Fold a LoRA adapter into its base model and save a plain checkpoint (for vLLM and ``hf:``).

    Reloads both from disk, so it works the same after DDP, FSDP or ZeRO-3 training (whose in-memory weights
    are sharded), and can be run later on a saved adapter.
    """
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = Path(out)
    model = AutoModelForCausalLM.from_pretrained(str(base), dtype=dtype or "auto")
    merged = PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload()
    out.mkdir(parents=True, exist_ok=True)
    for stale in ("adapter_config.json", "adapter_model.safetensors"):
        (out / stale).unlink(missing_ok=True)
    merged.save_pretrained(out)
    tok_dir = Path(adapter_dir) if (Path(adapter_dir) / "tokenizer_config.json").is_file() else Path(base)
    save_student_files(AutoTokenizer.from_pretrained(str(tok_dir)), out)
    return out


def check_output_dir(path: Path, *, overwrite: bool) -> None:
    """Refuse to write over a previous student unless asked to (then remove it first)."""
    if not path.exists():
        return
    if not path.is_dir():
        raise TrainingError(f"output {path} exists and is not a folder")
    previous = [f for f in ("config.json", "adapter_config.json", SUMMARY_FILE) if (path / f).exists()]
    if previous and not overwrite:
        raise TrainingError(f"{path} already holds a trained model ({', '.join(previous)}); pass --overwrite")
    if previous and int(os.environ.get("RANK", "0")) == 0:  # one process cleans up under accelerate
        shutil.rmtree(path, ignore_errors=True)
