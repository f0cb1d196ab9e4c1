"""``agentdistill generate``: a thin wrapper over :func:`agentdistill.episodes.generate.generate`."""

from __future__ import annotations

from typing import Annotated

import typer

from agentdistill.cli_options import ConfigFlags, config_yaml, print_config_option, set_option, task_set_flags
from agentdistill.episodes.generate_config import GenerateConfig
from agentdistill.errors import IncompleteRunError

# flag -> GenerateConfig field; every other field is reachable with --set
GENERATE_FLAGS = ConfigFlags(
    GenerateConfig,
    {
        **task_set_flags("tasks", specs="tasks"),
        "teacher": "teacher.spec",
        "out": "out",
        "mode": "mode",
        "first_thought_prefix": "agent.first_thought_prefix",
        "reflection": "agent.reflection",
        "student": "student.spec",
        "concurrency": "concurrency",
        "samples_per_task": "samples_per_task",
        "max_steps": "agent.max_steps",
        "temperature": "agent.temperature",
        "sandbox": "sandbox.backend",
        "index": "retrieval.index",
        "overwrite": "overwrite",
        "retry_failed": "retry_failed",
    },
)


_opt = GENERATE_FLAGS.option


def generate_command(
    teacher: Annotated[str | None, _opt("teacher")] = None,
    tasks: Annotated[list[str] | None, _opt("tasks", "--tasks", note="Repeatable.")] = None,
    domain: Annotated[str | None, _opt("domain")] = None,
    out: Annotated[str | None, _opt("out")] = None,
    mode: Annotated[str | None, _opt("mode")] = None,
    first_thought_prefix: Annotated[
        bool | None, _opt("first_thought_prefix", "--first-thought-prefix/--no-first-thought-prefix")
    ] = None,
    reflection: Annotated[str | None, _opt("reflection")] = None,
    student: Annotated[str | None, _opt("student", note="(reflection source 'student').")] = None,
    concurrency: Annotated[int | None, _opt("concurrency")] = None,
    samples_per_task: Annotated[int | None, _opt("samples_per_task")] = None,
    max_steps: Annotated[int | None, _opt("max_steps")] = None,
    temperature: Annotated[float | None, _opt("temperature")] = None,
    seed: Annotated[int | None, _opt("seed")] = None,
    sandbox: Annotated[
        str | None, _opt("sandbox", "--sandbox", note="local | docker | unsafe-local.")
    ] = None,
    index: Annotated[str | None, _opt("index", "--index")] = None,
    data_dir: Annotated[str | None, _opt("data_dir")] = None,
    config: Annotated[str | None, typer.Option(help="YAML GenerateConfig; flags override it.")] = None,
    set_: Annotated[list[str] | None, set_option()] = None,
    print_config: Annotated[bool, print_config_option()] = False,
    overwrite: Annotated[bool, _opt("overwrite", "--overwrite")] = False,
    retry_failed: Annotated[bool, _opt("retry_failed", "--retry-failed")] = False,
    strict_data: Annotated[bool, _opt("strict_data", "--strict-data")] = False,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="No progress bar.")] = False,
) -> None:
    """Run a teacher (or student + teacher checks) over tasks and stream trajectories to JSONL shards."""
    from rich.console import Console

    from agentdistill.episodes.generate import generate

    flags = {**locals(), "overwrite": overwrite or None, "retry_failed": retry_failed or None}
    cfg = GENERATE_FLAGS.load(config, {**flags, "strict_data": strict_data or None}, set_)
    if print_config:
        typer.echo(config_yaml(cfg), nl=False)
        return
    summary = generate(cfg, progress=not no_progress)
    replaced = f", {summary.replaced} of other settings replaced" if summary.replaced else ""
    Console().print(
        f"{summary.written} episodes written ({summary.skipped} already done, {summary.failed} failed{replaced}), "
        f"{summary.succeeded} correct, {summary.completion_tokens} tokens in {summary.wall_time_s:.1f}s -> {summary.out}"
    )
    if summary.transient:
        raise IncompleteRunError(
            f"{summary.transient} episodes failed because a server or sandbox was unavailable; they are not "
            "done: rerun the same command to retry them"
        )
