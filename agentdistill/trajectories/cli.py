"""``agentdistill trajectories``: stats, filter, export, view and import (thin wrappers over the library)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from agentdistill.cli_options import print_config_option
from agentdistill.errors import AgentDistillError

trajectories_app = typer.Typer(
    help="Inspect, filter, export, view and import trajectory sets.", no_args_is_help=True
)


def _console() -> Console:
    return Console(soft_wrap=False)


@trajectories_app.command("stats")
def stats_command(
    path: Annotated[
        str, typer.Argument(help="Trajectory directory (part-*.jsonl shards) or one JSONL file.")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the statistics as JSON.")] = False,
) -> None:
    """Counts, success rate, statuses, and step/token/tool-call/error distributions, per source and domain."""
    from agentdistill.trajectories.stats import compute_stats, render_stats
    from agentdistill.trajectories.store import iter_trajectories

    stats = compute_stats(iter_trajectories(path))
    if as_json:
        typer.echo(json.dumps(stats.to_dict(), indent=2))
        return
    console = _console()
    for table in render_stats(stats, title=Path(path).name or path):
        console.print(table)


def _filter_help() -> str:
    """The ``--filter`` help: every registered filter with its arguments and defaults (from the registry)."""
    from agentdistill.trajectories.filters import describe_filters

    shown = []
    for name, _, args in describe_filters():
        given = ", ".join(f"{a}={d!r}" if d != "required" else f"{a} (required)" for a, _, d in args)
        shown.append(f"{name}({given})" if given else name)
    return (
        "A filter, applied in the order given (repeatable): NAME or NAME:ARG=VALUE,... (values are YAML), e.g. "
        "--filter correct --filter per_task:k=2. Filters and their arguments: " + "; ".join(shown) + "."
    )


@trajectories_app.command("filter")
def filter_command(
    paths: Annotated[
        list[str], typer.Argument(help="Input trajectory directories or JSONL files (read in order).")
    ],
    out: Annotated[
        str, typer.Option("--out", "-o", help="Output trajectory directory (must be new or empty).")
    ],
    filter_: Annotated[list[str] | None, typer.Option("--filter", "-f", help=_filter_help())] = None,
    config: Annotated[
        str | None,
        typer.Option(
            "--config",
            help="A filter chain: a YAML list of filters or {filters: [...], data_dir: ...}, e.g. the "
            "filters.yaml of a pipeline's filtered/ folder (--filter flags are appended to it). With neither "
            "--config nor --filter: the pipeline's default chain.",
        ),
    ] = None,
    data_dir: Annotated[
        str | None,
        typer.Option("--data-dir", help="Benchmark data for decontaminate (default $AGENTDISTILL_DATA_DIR)."),
    ] = None,
    print_config: Annotated[bool, print_config_option()] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")] = False,
) -> None:
    """Write the episodes that pass every filter to OUT and print what each filter dropped."""
    from agentdistill.config import load_config
    from agentdistill.trajectories import filters as F
    from agentdistill.trajectories.store import shard_paths

    cfg = load_config(F.FilterConfig, config, {"data_dir": data_dir})
    flags = [F.FilterSpec.parse(text) for text in filter_ or []]
    if flags:
        cfg.filters = [*(cfg.filters if config else []), *flags]
    if print_config:
        typer.echo(cfg.to_yaml(), nl=False)
        return
    out_dir = Path(out)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise AgentDistillError(f"{out_dir} exists and is not an empty directory; choose a new --out")
    if any(Path(p).resolve() == out_dir.resolve() for p in paths):
        raise AgentDistillError("--out must differ from the input")
    for path in paths:
        shard_paths(path)  # a clear error for a missing input before anything is created
    console = _console()
    if any(spec.name == "decontaminate" for spec in cfg.filters):
        found = F.evaluation_questions(cfg.data_dir)
        if found.missing:
            console.print(
                f"[yellow]warning:[/] evaluation sets not found in the data dir: {', '.join(found.missing)}"
            )
        if found.bundled:
            console.print(
                "[yellow]warning:[/] decontaminating against the bundled samples only (a few rows per set); "
                "pass --data-dir pointing at full benchmark data"
            )
    pipeline = F.run_filters(paths, out_dir, cfg)
    if as_json:
        typer.echo(json.dumps({**pipeline.summary(), "out": str(out_dir)}, indent=2))
        return
    table = Table(title=f"filter {', '.join(paths)} -> {out}")
    for col in ("filter", "seen", "kept", "dropped"):
        table.add_column(col, justify="left" if col == "filter" else "right")
    for c in pipeline.counts:
        why = f" ({', '.join(f'{k} {v}' for k, v in sorted(c.reasons.items()))})" if c.reasons else ""
        table.add_row(c.name, str(c.seen), str(c.kept), f"{c.dropped}{why}")
    table.add_section()
    table.add_row(
        "[bold]total[/]",
        str(pipeline.total),
        f"[bold]{pipeline.kept}[/]",
        str(pipeline.total - pipeline.kept),
    )
    console.print(table)


@trajectories_app.command("export")
def export_command(
    path: Annotated[str, typer.Argument(help="Trajectory directory or JSONL file.")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="hf, openai, sharegpt or agent-distillation.")],
    out: Annotated[str, typer.Option("--out", "-o", help="Directory (hf) or JSONL file (the others).")],
    push: Annotated[
        str | None, typer.Option("--push", help="Also push the HF dataset to this hub repo (online).")
    ] = None,
    private: Annotated[bool, typer.Option("--private", help="Make the pushed dataset private.")] = False,
) -> None:
    """Export for trainers: a Hugging Face dataset, or OpenAI / ShareGPT chat JSONL with per-message weights."""
    from agentdistill.trajectories.formats import export_trajectories
    from agentdistill.trajectories.store import iter_trajectories

    n = export_trajectories(iter_trajectories(path), out, fmt, push=push, private=private)
    where = f"{out} and {push}" if push else out
    typer.echo(f"exported {n} trajectories ({fmt}) to {where}")


@trajectories_app.command("view")
def view_command(
    path: Annotated[str, typer.Argument(help="Trajectory directory or JSONL file.")],
    out: Annotated[str, typer.Option("--out", "-o", help="HTML file to write.")] = "trajectories.html",
    limit: Annotated[
        int | None, typer.Option("--limit", "-n", help="Show only the first N episodes.")
    ] = None,
) -> None:
    """Write one self-contained HTML page showing each episode's steps, trained/masked messages, reflections."""
    from agentdistill.trajectories.viewer import write_viewer

    n = write_viewer(path, out, limit=limit)
    typer.echo(f"wrote {out} ({n} episodes)")


@trajectories_app.command("import")
def import_command(
    file: Annotated[str, typer.Argument(help="Foreign trajectory file (JSONL).")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="agent-distillation or r1-searcher.")],
    out: Annotated[str, typer.Option("--out", "-o", help="Trajectory directory to write (appended to).")],
    domain: Annotated[
        str, typer.Option("--domain", help="qa, math or auto (agent-distillation only).")
    ] = "auto",
    mask_failed_steps: Annotated[
        bool,
        typer.Option("--mask-failed-steps", help="Set train=false on steps whose observation is an error."),
    ] = False,
) -> None:
    """Import foreign rollouts as agentdistill trajectories (re-importing the same file adds nothing)."""
    from agentdistill.trajectories.formats import import_trajectories
    from agentdistill.trajectories.store import TrajectoryStore

    kwargs: dict[str, object] = {}
    if fmt == "agent-distillation":
        if domain not in ("qa", "math", "auto"):
            raise AgentDistillError(f"--domain must be qa, math or auto, not {domain!r}")
        kwargs = {"domain": domain, "mask_failed_steps": mask_failed_steps}
    records = list(import_trajectories(file, fmt, **kwargs))  # validate the whole file before writing
    added = 0
    with TrajectoryStore(out) as store:
        for t in records:
            if t.id not in store.done:
                store.append(t)
                added += 1
    typer.echo(f"imported {added} trajectories from {file} into {out} ({len(records) - added} already there)")
