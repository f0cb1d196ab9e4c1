"""The training base: what SFT, GRPO and any further trainer share, implemented once.

* the student's weights (one local-weights check) and tokenizer (:func:`resolve_student`, :func:`load_tokenizer`);
* the TRL arguments every trainer maps the same way from :class:`TrainerConfig` (:func:`trl_config`);
* LoRA (:func:`lora_config`), fitting and saving with an optional merge (:func:`fit_and_save`,
  :func:`merge_adapter`), and the result every trainer reports (:class:`TrainingResult`), written beside
  the model as its summary.

Runs the same under ``python -m agentdistill.cli ...`` and ``accelerate launch`` (DDP, FSDP, DeepSpeed): the
model is handed to TRL as a path so distributed back-ends can shard it while loading, and only the main
process writes the output.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from agentdistill.config import ConfigError, to_dict
from agentdistill.errors import AgentDistillError
from agentdistill.training.trainer_config import TrainerConfig


class TrainingError(AgentDistillError, RuntimeError):
    """A training run that cannot start or finish (bad student spec, no chat template, ...)."""


@dataclasses.dataclass
class TrainingResult:
    """What a training run did, for every trainer; written to ``<output_dir>/<SUMMARY_FILE>`` with its config.
    Each trainer's result adds its own facts (SFT: data and losses; GRPO: rollouts and rewards)."""

    SUMMARY_FILE: ClassVar[str] = "training_summary.json"

    output_dir: str
    steps: int
    train_runtime_s: float
    trainable_params: int
    total_params: int
    lora: bool
    merged: bool
    cuda_peak_mib: float | None = None
    """Peak GPU memory allocated by this process (None on CPU)."""

    @property
    def steps_per_s(self) -> float:
        return self.steps / self.train_runtime_s if self.train_runtime_s else 0.0

    @property
    def output_kind(self) -> str:
        """What ``output_dir`` holds: a merged model, a LoRA adapter, or a model."""
        return "merged model" if self.merged else ("LoRA adapter" if self.lora else "model")

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "steps_per_s": self.steps_per_s}


# -- the student ---------------------------------------------------------------------------------------


def resolve_student(spec: Any) -> str:
    """A model spec (or ``ModelConfig``) -> a path or hub id transformers can load; remote models cannot train."""
    from agentdistill.models.base import ModelSpecError
    from agentdistill.models.weights import local_model_path

    spec = getattr(spec, "spec", spec)
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


# -- the TRL arguments ------------------------------------------------------------------------------


def world_size() -> int:
    """Processes in this run (accelerate/torchrun set WORLD_SIZE)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def use_bf16(cfg: TrainerConfig) -> bool:
    import torch

    available = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if cfg.bf16 and not available:
        raise ConfigError(
            f"{cfg.COMMAND}: bf16 requested but this hardware has no bfloat16 support (set bf16: null)"
        )
    return available if cfg.bf16 is None else cfg.bf16


def _checkpointing_key(config_cls: Any) -> str:
    """transformers renamed ``gradient_checkpointing`` to ``activation_checkpointing`` (the old name warns)."""
    names = {f.name for f in dataclasses.fields(config_cls)}
    return "activation_checkpointing" if "activation_checkpointing" in names else "gradient_checkpointing"


def trl_config(config_cls: Any, cfg: TrainerConfig, specific: dict[str, Any]) -> Any:
    """``config_cls`` (``trl.SFTConfig``, ``trl.GRPOConfig``...) from the training base's fields, the
    trainer's ``specific`` arguments, then ``cfg.trainer_overrides`` (applied last)."""
    import torch

    bf16 = use_bf16(cfg)
    kwargs: dict[str, Any] = {
        "output_dir": cfg.output_dir,
        "learning_rate": cfg.learning_rate,
        "lr_scheduler_type": cfg.lr_scheduler_type,
        "warmup_steps": cfg.warmup_ratio,  # a float in [0, 1) is a ratio in transformers 5
        "weight_decay": cfg.weight_decay,
        "max_grad_norm": cfg.max_grad_norm,
        _checkpointing_key(config_cls): cfg.gradient_checkpointing,
        "bf16": bf16,
        "seed": cfg.seed,
        "data_seed": cfg.seed,
        "logging_steps": cfg.logging_steps,
        "logging_first_step": True,
        "report_to": cfg.report_to,
        "run_name": cfg.run_name,
        "dataloader_pin_memory": torch.cuda.is_available(),
        "model_init_kwargs": {"dtype": "bfloat16" if (bf16 and cfg.lora) else "float32"},
        **specific,
        **cfg.trainer_overrides,
    }
    try:
        return config_cls(**kwargs)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{cfg.COMMAND}: invalid trainer setting: {e}") from None


def lora_config(cfg: TrainerConfig) -> Any:
    """The PEFT adapter of ``cfg`` (None: every weight trains)."""
    if not cfg.lora:
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=cfg.lora_target_modules,
        task_type="CAUSAL_LM",
    )


# -- fitting and saving -----------------------------------------------------------------------------


@dataclasses.dataclass
class Fitted:
    """What :func:`fit_and_save` measured, the common part of every trainer's result."""

    output: Any
    """``trainer.train()``'s own return value."""
    common: dict[str, Any]
    """The :class:`TrainingResult` fields."""


def fit_and_save(
    trainer: Any,
    cfg: TrainerConfig,
    tokenizer: Any,
    model_path: str,
    *,
    before_save: Callable[[], None] | None = None,
) -> Fitted:
    """Train, then save into ``cfg.output_dir`` (the model, the adapter, or with ``merge`` the merged
    model); ``before_save`` runs in between (SFT's final evaluation)."""
    trainable, total = count_parameters(trainer.model)
    started = time.perf_counter()
    output = trainer.train()
    runtime = time.perf_counter() - started
    if before_save is not None:
        before_save()
    out = Path(cfg.output_dir)
    merged = save_trained(trainer, tokenizer, model_path, out, merge=cfg.lora and cfg.merge)
    common = {
        "output_dir": str(out),
        "steps": int(trainer.state.global_step),
        "train_runtime_s": runtime,
        "trainable_params": trainable,
        "total_params": total,
        "lora": cfg.lora,
        "merged": merged,
        "cuda_peak_mib": cuda_peak_mib(),
    }
    return Fitted(output, common)


def write_summary(trainer: Any, tokenizer: Any, cfg: TrainerConfig, result: TrainingResult) -> None:
    """Tokenizer, chat template and the run's summary (config and result) beside the weights, once."""
    if not trainer.accelerator.is_main_process:
        return
    out = Path(cfg.output_dir)
    save_student_files(tokenizer, out)
    summary = {"config": to_dict(cfg), "result": result.to_dict()}
    (out / result.SUMMARY_FILE).write_text(json.dumps(summary, indent=2, default=str))


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
    """Refuse to write over a previous model unless asked to (then remove it first)."""
    if not path.exists():
        return
    if not path.is_dir():
        raise TrainingError(f"output {path} exists and is not a folder")
    previous = [f for f in ("config.json", "adapter_config.json") if (path / f).exists()]
    previous += sorted(p.name for p in path.glob("*_summary.json"))  # a trainer's summary
    if previous and not overwrite:
        raise TrainingError(f"{path} already holds a trained model ({', '.join(previous)}); pass --overwrite")
    if previous and is_main_process():  # one process cleans up under accelerate
        shutil.rmtree(path, ignore_errors=True)
