"""``agentdistill train``: parse flags into a :class:`TrainConfig`, run it, print a summary.

Works under ``accelerate launch ... -m agentdistill.cli train ...``; only the main process prints.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

console = Console(soft_wrap=True, highlight=False)


def _main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def train_command(
    student: Annotated[
        str | None, typer.Option(help="Model to train: default, hf:<dir or hub id>, or a path.")
    ] = None,
    data: Annotated[
        list[str] | None,
        typer.Option(help="Trajectory JSONL file or folder, or a Hugging Face dataset (repeatable)."),
    ] = None,
    out: Annotated[str | None, typer.Option(help="Output folder for the trained student.")] = None,
    lora: Annotated[
        bool | None, typer.Option("--lora/--full", help="LoRA adapter (default) or full fine-tuning.")
    ] = None,
    epochs: Annotated[float | None, typer.Option(help="Passes over the data.")] = None,
    lr: Annotated[float | None, typer.Option(help="Peak learning rate.")] = None,
    max_length: Annotated[int | None, typer.Option(help="Longest example in tokens.")] = None,
    config: Annotated[
        Path | None, typer.Option(help="YAML recipe (TrainConfig fields); flags override it.")
    ] = None,
    merge: Annotated[
        bool | None, typer.Option("--merge/--no-merge", help="Fold the LoRA adapter into the base weights.")
    ] = None,
    max_steps: Annotated[int | None, typer.Option(help="Stop after N optimizer steps.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Examples per device per step.")] = None,
    grad_accum: Annotated[int | None, typer.Option(help="Gradient accumulation steps.")] = None,
    truncation: Annotated[str | None, typer.Option(help="Over-long examples: truncate or drop.")] = None,
    packing: Annotated[bool | None, typer.Option("--packing/--no-packing", help="Pack examples.")] = None,
    eval_fraction: Annotated[
        float | None, typer.Option(help="Hold out this fraction for evaluation.")
    ] = None,
    report_to: Annotated[
        list[str] | None,
        typer.Option(help="Tracker for transformers (wandb, tensorboard, none); repeatable."),
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace a model already in --out.")] = False,
) -> None:
    """Fine-tune a student on trajectories (agent or CoT) with step-level loss masks (TRL SFT)."""
    from agentdistill.config import load_config
    from agentdistill.training.config import TrainConfig
    from agentdistill.training.sft import check_output_dir, train

    overrides = {
        "student": student,
        "data": data or None,
        "output_dir": out,
        "lora": lora,
        "epochs": epochs,
        "learning_rate": lr,
        "max_length": max_length,
        "merge": merge,
        "max_steps": max_steps,
        "per_device_batch_size": batch_size,
        "gradient_accumulation_steps": grad_accum,
        "truncation": truncation,
        "packing": packing,
        "eval_fraction": eval_fraction,
        "report_to": report_to or None,
    }
    cfg = load_config(TrainConfig, config, overrides)
    cfg.validate()
    check_output_dir(Path(cfg.output_dir), overwrite=overwrite)
    say = console.print if _main_process() else (lambda *a, **k: None)
    mode = "full fine-tuning" if not cfg.lora else f"LoRA r={cfg.lora_r} alpha={cfg.lora_alpha}"
    say(f"training {cfg.student} ({mode}) on {', '.join(cfg.data)}")

    def show_data(stats, eval_stats) -> None:
        say(f"data: {stats.describe()}; {stats.tokens} tokens, {stats.trained_tokens} trained")
        if eval_stats is not None:
            say(f"eval data: {eval_stats.describe()}")

    result = train(cfg, on_data=show_data)
    d = result.data
    say("[bold]done[/]")
    held = f" ({d.held_out} held out for evaluation)" if d.held_out else ""
    say(f"  examples   {d.used} used{held}, {d.num_skipped} skipped, {d.truncated} truncated (of {d.read})")
    for why, n in sorted(d.skipped.items(), key=lambda kv: -kv[1]):
        say(f"    skipped {n} x {why}")
    say(f"  tokens     {d.tokens} ({d.trained_tokens} trained); {result.tokens_per_s:.0f} tokens/s")
    loss = f"{result.final_loss:.4f}" if result.final_loss is not None else "n/a"
    say(f"  steps      {result.steps}; final loss {loss}")
    if result.eval_loss is not None:
        say(f"  eval loss  {result.eval_loss:.4f}")
    kind = "merged model" if result.merged else ("LoRA adapter" if result.lora else "model")
    say(f"  output     {result.output_dir} ({kind}); load it as hf:{result.output_dir}")
