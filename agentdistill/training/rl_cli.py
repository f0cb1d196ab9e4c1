"""``agentdistill rl``: parse flags into an :class:`RLConfig`, run GRPO with CodeAct rollouts, print a summary."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from agentdistill.cli_options import ConfigFlags, config_yaml, print_config_option, set_option
from agentdistill.training.rl_config import RLConfig

console = Console(soft_wrap=True, highlight=False)

# flag -> RLConfig field; every other field is reachable with --set
RL_FLAGS = ConfigFlags(
    RLConfig,
    {
        "model": "model",
        "tasks": "tasks",
        "domain": "domain",
        "out": "output_dir",
        "steps": "steps",
        "group_size": "group_size",
        "tasks_per_step": "tasks_per_step",
        "lr": "learning_rate",
        "kl": "kl_coef",
        "temperature": "temperature",
        "lora": "lora",
        "max_steps_per_episode": "agent.max_steps",
        "vllm_server": "vllm_server",
        "report_to": "report_to",
    },
)
_opt = RL_FLAGS.option


def rl_command(
    model: Annotated[str | None, _opt("model")] = None,
    tasks: Annotated[list[str] | None, _opt("tasks", note="Repeatable.")] = None,
    out: Annotated[str | None, _opt("out", "--out")] = None,
    steps: Annotated[int | None, _opt("steps")] = None,
    config: Annotated[
        Path | None, typer.Option(help="YAML file of RLConfig fields; flags override it.")
    ] = None,
    domain: Annotated[str | None, _opt("domain")] = None,
    group_size: Annotated[int | None, _opt("group_size")] = None,
    tasks_per_step: Annotated[int | None, _opt("tasks_per_step")] = None,
    lr: Annotated[float | None, _opt("lr", "--lr")] = None,
    kl: Annotated[float | None, _opt("kl", "--kl")] = None,
    temperature: Annotated[float | None, _opt("temperature")] = None,
    lora: Annotated[bool | None, _opt("lora", "--lora/--full")] = None,
    max_steps_per_episode: Annotated[int | None, _opt("max_steps_per_episode")] = None,
    vllm_server: Annotated[str | None, _opt("vllm_server")] = None,
    report_to: Annotated[list[str] | None, _opt("report_to", note="Repeatable.")] = None,
    set_: Annotated[list[str] | None, set_option()] = None,
    print_config: Annotated[bool, print_config_option()] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace a policy already in --out.")] = False,
) -> None:
    """Reinforce an agent with GRPO (TRL): CodeAct rollouts in the sandbox, rewards from the task metrics."""
    from agentdistill.training.grpo import train_rl
    from agentdistill.training.sft import check_output_dir

    cfg = RL_FLAGS.load(config, locals(), set_)
    if print_config:
        typer.echo(config_yaml(cfg), nl=False)
        return
    cfg.validate()
    check_output_dir(Path(cfg.output_dir), overwrite=overwrite)
    mode = "full" if not cfg.lora else f"LoRA r={cfg.lora_r}"
    console.print(f"GRPO on {cfg.model} ({mode}): {', '.join(cfg.tasks)}; rewards {cfg.rewards}")
    result = train_rl(cfg, log=console.print)
    r = result.rollouts
    console.print("[bold]done[/]")
    console.print(
        f"  steps      {result.steps} in {result.train_runtime_s / 60:.1f} min ({result.steps_per_s:.3f}/s)"
    )
    console.print(
        f"  rollouts   {r.rollouts} ({r.failed} failed, {r.truncated} truncated); {r.rollouts_per_s:.2f}/s, "
        f"{r.tokens_per_s:.0f} generated tokens/s"
    )
    if result.reward_history:
        first, last = result.reward_history[0], result.reward_history[-1]
        console.print(f"  reward     {first['reward']:.3f} (first step) -> {last['reward']:.3f} (last step)")
    kind = "merged model" if result.merged else ("LoRA adapter" if result.lora else "model")
    console.print(f"  output     {result.output_dir} ({kind}); load it as hf:{result.output_dir}")
    console.print(f"  rollouts   {result.output_dir}/rollouts (agentdistill trajectories view/stats)")
