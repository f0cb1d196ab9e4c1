"""``agentdistill train`` and ``agentdistill rl``: parse flags into a trainer config, run it, print a summary.

Both work under ``accelerate launch ... -m agentdistill.cli train|rl ...``; only the main process prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from agentdistill.cli_options import ConfigFlags, config_yaml, print_config_option, set_option
from agentdistill.training.config import TrainConfig
from agentdistill.training.rl_config import RLConfig
from agentdistill.training.trainer_config import TrainerConfig

console = Console(soft_wrap=True, highlight=False)


# flag -> TrainConfig field; every other field is reachable with --set
TRAIN_FLAGS = ConfigFlags(
    TrainConfig,
    {
        "student": "student.spec",
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

# flag -> RLConfig field; every other field is reachable with --set
RL_FLAGS = ConfigFlags(
    RLConfig,
    {
        "model": "student.spec",
        "tasks": "tasks.specs",
        "domain": "tasks.domain",
        "out": "output_dir",
        "steps": "steps",
        "group_size": "group_size",
        "tasks_per_step": "tasks_per_step",
        "lr": "learning_rate",
        "kl": "kl_coef",
        "temperature": "agent.temperature",
        "lora": "lora",
        "max_steps_per_episode": "agent.max_steps",
        "vllm_server": "vllm_server",
        "report_to": "report_to",
    },
)

_train = TRAIN_FLAGS.option
_rl = RL_FLAGS.option
ConfigFile = Annotated[Path | None, typer.Option(help="YAML file of the config's fields; flags override it.")]
Overwrite = Annotated[bool, typer.Option(help="Replace a model already in --out.")]


def _main_process() -> bool:
    from agentdistill.training.base import is_main_process

    return is_main_process()


def _say(*args: Any, **kwargs: Any) -> None:
    if _main_process():
        console.print(*args, **kwargs)


def _prepare(flags: ConfigFlags, values: dict[str, Any]) -> TrainerConfig | None:
    """The config from the file, flags and ``--set``; None after ``--print-config`` printed it. The output
    folder is checked before anything loads."""
    from agentdistill.training.base import check_output_dir

    cfg = flags.load(values["config"], values, values["set_"])
    if values["print_config"]:
        typer.echo(config_yaml(cfg), nl=False)
        return None
    cfg.validate()
    check_output_dir(Path(cfg.output_dir), overwrite=values["overwrite"])
    return cfg  # type: ignore[no-any-return]


def _describe(cfg: TrainerConfig) -> str:
    return "full fine-tuning" if not cfg.lora else f"LoRA r={cfg.lora_r} alpha={cfg.lora_alpha}"


def _report_output(result: Any) -> None:
    """The tail every trainer prints: where the model is and how to load it."""
    _say(f"  output     {result.output_dir} ({result.output_kind}); load it as hf:{result.output_dir}")


def train_command(
    student: Annotated[str | None, _train("student")] = None,
    data: Annotated[list[str] | None, _train("data", note="Repeatable.")] = None,
    out: Annotated[str | None, _train("out", "--out")] = None,
    lora: Annotated[bool | None, _train("lora", "--lora/--full")] = None,
    epochs: Annotated[float | None, _train("epochs")] = None,
    lr: Annotated[float | None, _train("lr", "--lr")] = None,
    max_length: Annotated[int | None, _train("max_length")] = None,
    config: ConfigFile = None,
    merge: Annotated[bool | None, _train("merge", "--merge/--no-merge")] = None,
    max_steps: Annotated[int | None, _train("max_steps")] = None,
    batch_size: Annotated[int | None, _train("batch_size", "--batch-size")] = None,
    grad_accum: Annotated[int | None, _train("grad_accum", "--grad-accum")] = None,
    truncation: Annotated[str | None, _train("truncation")] = None,
    packing: Annotated[bool | None, _train("packing", "--packing/--no-packing")] = None,
    eval_fraction: Annotated[float | None, _train("eval_fraction")] = None,
    report_to: Annotated[list[str] | None, _train("report_to", note="Repeatable.")] = None,
    set_: Annotated[list[str] | None, set_option()] = None,
    print_config: Annotated[bool, print_config_option()] = False,
    overwrite: Overwrite = False,
) -> None:
    """Fine-tune a student on trajectories (agent or CoT) with step-level loss masks (TRL SFT)."""
    from agentdistill.training.sft import train

    cfg = _prepare(TRAIN_FLAGS, locals())
    if not isinstance(cfg, TrainConfig):
        return
    _say(f"training {cfg.student.spec} ({_describe(cfg)}) on {', '.join(cfg.data)}")

    def show_data(stats, eval_stats) -> None:
        _say(f"data: {stats.describe()}; {stats.tokens} tokens, {stats.trained_tokens} trained")
        if eval_stats is not None:
            _say(f"eval data: {eval_stats.describe()}")

    result = train(cfg, on_data=show_data)
    d = result.data
    assert d is not None
    _say("[bold]done[/]")
    held = f" ({d.held_out} held out for evaluation)" if d.held_out else ""
    _say(f"  examples   {d.used} used{held}, {d.num_skipped} skipped, {d.truncated} truncated (of {d.read})")
    for why, n in sorted(d.skipped.items(), key=lambda kv: -kv[1]):
        _say(f"    skipped {n} x {why}")
    _say(f"  tokens     {d.tokens} ({d.trained_tokens} trained); {result.tokens_per_s:.0f} tokens/s")
    loss = f"{result.final_loss:.4f}" if result.final_loss is not None else "n/a"
    _say(f"  steps      {result.steps}; final loss {loss}")
    if result.eval_loss is not None:
        _say(f"  eval loss  {result.eval_loss:.4f}")
    _report_output(result)


def rl_command(
    model: Annotated[str | None, _rl("model", "--model", "--student")] = None,
    tasks: Annotated[list[str] | None, _rl("tasks", note="Repeatable.")] = None,
    out: Annotated[str | None, _rl("out", "--out")] = None,
    steps: Annotated[int | None, _rl("steps")] = None,
    config: ConfigFile = None,
    domain: Annotated[str | None, _rl("domain")] = None,
    group_size: Annotated[int | None, _rl("group_size")] = None,
    tasks_per_step: Annotated[int | None, _rl("tasks_per_step")] = None,
    lr: Annotated[float | None, _rl("lr", "--lr")] = None,
    kl: Annotated[float | None, _rl("kl", "--kl")] = None,
    temperature: Annotated[float | None, _rl("temperature")] = None,
    lora: Annotated[bool | None, _rl("lora", "--lora/--full")] = None,
    max_steps_per_episode: Annotated[int | None, _rl("max_steps_per_episode")] = None,
    vllm_server: Annotated[str | None, _rl("vllm_server")] = None,
    report_to: Annotated[list[str] | None, _rl("report_to", note="Repeatable.")] = None,
    set_: Annotated[list[str] | None, set_option()] = None,
    print_config: Annotated[bool, print_config_option()] = False,
    overwrite: Overwrite = False,
) -> None:
    """Reinforce an agent with GRPO (TRL): CodeAct rollouts in the sandbox, rewards from the task metrics."""
    from agentdistill.training.grpo import train_rl

    cfg = _prepare(RL_FLAGS, locals())
    if not isinstance(cfg, RLConfig):
        return
    _say(
        f"GRPO on {cfg.student.spec} ({_describe(cfg)}): {', '.join(cfg.tasks.specs)}; rewards {cfg.rewards}"
    )
    result = train_rl(cfg, log=_say)
    r = result.rollouts
    _say("[bold]done[/]")
    _say(f"  steps      {result.steps} in {result.train_runtime_s / 60:.1f} min ({result.steps_per_s:.3f}/s)")
    _say(
        f"  rollouts   {r.rollouts} ({r.failed} failed, {r.truncated} truncated); {r.rollouts_per_s:.2f}/s, "
        f"{r.tokens_per_s:.0f} generated tokens/s"
    )
    if result.history:
        first, last = result.history[0], result.history[-1]
        _say(f"  reward     {first['reward']:.3f} (first step) -> {last['reward']:.3f} (last step)")
    if r.finish_reasons:
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(r.finish_reasons.items()))
        _say(f"  turns      {reasons} ({r.truncated_turns} cut by max_tokens, masked)")
    _report_output(result)
    if result.plot:
        _say(f"  plot       {result.plot}")
    _say(f"  rollouts   {result.output_dir}/rollouts (agentdistill trajectories view/stats)")
