"""``agentdistill generate``: a thin wrapper over :func:`agentdistill.trajectories.runner.generate`."""

from __future__ import annotations

from typing import Annotated

import typer


def generate_command(
    teacher: Annotated[
        str | None, typer.Option(help="Teacher model spec (default: the packaged model).")
    ] = None,
    tasks: Annotated[
        list[str] | None,
        typer.Option("--tasks", help="Task spec, repeatable: gsm8k[:50], hotpotqa:train[:100], file.jsonl"),
    ] = None,
    out: Annotated[str | None, typer.Option(help="Trajectory directory (resumed if it exists).")] = None,
    mode: Annotated[str | None, typer.Option(help="agent, cot or cot-rag.")] = None,
    first_thought_prefix: Annotated[
        bool | None,
        typer.Option(
            "--first-thought-prefix/--no-first-thought-prefix",
            help="Teacher's CoT first paragraph starts the first Thought.",
        ),
    ] = None,
    reflection: Annotated[str | None, typer.Option(help="STeP reflection: off, self or student.")] = None,
    student: Annotated[
        str | None, typer.Option(help="Student model spec (reflection source 'student').")
    ] = None,
    concurrency: Annotated[int | None, typer.Option(help="Episodes in flight.")] = None,
    samples_per_task: Annotated[int | None, typer.Option(help="Episodes per task.")] = None,
    max_steps: Annotated[int | None, typer.Option(help="Agent steps per episode.")] = None,
    temperature: Annotated[float | None, typer.Option(help="Sampling temperature.")] = None,
    seed: Annotated[int | None, typer.Option(help="Sampling and task-sampling seed.")] = None,
    sandbox: Annotated[str | None, typer.Option(help="Sandbox backend: local or docker.")] = None,
    index: Annotated[
        str | None, typer.Option(help="Index directory behind web_search ('demo': bundled).")
    ] = None,
    data_dir: Annotated[
        str | None, typer.Option(help="Benchmark data directory (laid out like shared/data).")
    ] = None,
    config: Annotated[str | None, typer.Option(help="YAML GenerateConfig; flags override it.")] = None,
    overwrite: Annotated[
        bool, typer.Option(help="Start over instead of resuming an existing directory.")
    ] = False,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="No progress bar.")] = False,
) -> None:
    """Run a teacher (or student + teacher checks) over tasks and stream trajectories to JSONL shards."""
    from rich.console import Console

    from agentdistill.config import load_config
    from agentdistill.trajectories.config import GenerateConfig
    from agentdistill.trajectories.runner import generate

    overrides = {
        "teacher.spec": teacher,
        "tasks": tasks or None,
        "out": out,
        "mode": mode,
        "agent.first_thought_prefix": first_thought_prefix,
        "agent.reflection": reflection,
        "student.spec": student,
        "concurrency": concurrency,
        "samples_per_task": samples_per_task,
        "agent.max_steps": max_steps,
        "agent.temperature": temperature,
        "seed": seed,
        "sandbox.backend": sandbox,
        "retrieval.index": index,
        "data_dir": data_dir,
        "overwrite": overwrite or None,
    }
    cfg = load_config(GenerateConfig, config, overrides)
    summary = generate(cfg, progress=not no_progress)
    Console().print(
        f"{summary.written} episodes written ({summary.skipped} already done, {summary.failed} failed), "
        f"{summary.succeeded} correct, {summary.completion_tokens} tokens in {summary.wall_time_s:.1f}s -> {summary.out}"
    )
