"""``agentdistill train``: parse flags into a :class:`TrainConfig`, run it, print a summary.

Works under ``accelerate launch ... -m agentdistill.cli train ...``; only the main process prints.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from agentdistill.cli_options import ConfigFlags, config_yaml, print_config_option, set_option
from agentdistill.training.config import TrainConfig

console = Console(soft_wrap=True, highlight=False)


def _main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


# flag -> TrainConfig field; every other field is reachable with --set
TRAIN_FLAGS = ConfigFlags(
    TrainConfig,
    {
        "student": "student",
        "data": "data",
        "out": "output_dir",
        "lora": "lora",
        "epochs": "epochs",
        "lr": "learning_rate",
        "max_length": "max_length",
        "merge": "merge",
        "max_steps": "max_steps",
        "batch_size": "per_device_batch_size",
        "grad_accum": "gradient_accumulation_steps",
        "truncation": "truncation",
        "packing": "packing",
        "eval_fraction": "eval_fraction",
        "report_to": "report_to",
    },
)


_opt = TRAIN_FLAGS.option


def train_command(
    student: Annotated[str | None, _opt("student")] = None,
    data: Annotated[list[str] | None, _opt("data", note="Repeatable.")] = None,
    out: Annotated[str | None, _opt("out", "--out")] = None,
    lora: Annotated[bool | None, _opt("lora", "--lora/--full")] = None,
    epochs: Annotated[float | None, _opt("epochs")] = None,
    lr: Annotated[float | None, _opt("lr", "--lr")] = None,
    max_length: Annotated[int | None, _opt("max_length")] = None,
    config: Annotated[
        Path | None, typer.Option(help="YAML recipe (TrainConfig fields); flags override it.")
    ] = None,
    merge: Annotated[bool | None, _opt("merge", "--merge/--no-merge")] = None,
    max_steps: Annotated[int | None, _opt("max_steps")] = None,
    batch_size: Annotated[int | None, _opt("batch_size", "--batch-size")] = None,
    grad_accum: Annotated[int | None, _opt("grad_accum", "--grad-accum")] = None,
    truncation: Annotated[str | None, _opt("truncation")] = None,
    packing: Annotated[bool | None, _opt("packing", "--packing/--no-packing")] = None,
    eval_fraction: Annotated[float | None, _opt("eval_fraction")] = None,
    report_to: Annotated[list[str] | None, _opt("report_to", note="Repeatable.")] = None,
    set_: Annotated[list[str] | None, set_option()] = None,
    print_config: Annotated[bool, print_config_option()] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace a model already in --out.")] = False,
) -> None:
    """Fine-tune a student on trajectories (agent or CoT) with step-level loss masks (TRL SFT)."""
    from agentdistill.training.sft import check_output_dir, train

    cfg = TRAIN_FLAGS.load(config, locals(), set_)
    if print_config:
        typer.echo(config_yaml(cfg), nl=False)
        return
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
