"""``agentdistill trajectories``: stats, filter, export, view and import (thin wrappers over the library)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from agentdistill.errors import AgentDistillError

trajectories_app = typer.Typer(
    help="Inspect, filter, export, view and import trajectory sets.", no_args_is_help=True
)


FILTER_RECORD = "filter.json"


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


@trajectories_app.command("filter")
def filter_command(
    path: Annotated[str, typer.Argument(help="Input trajectory directory or JSONL file.")],
    out: Annotated[
        str, typer.Option("--out", "-o", help="Output trajectory directory (must be new or empty).")
    ],
    correct: Annotated[
        bool, typer.Option("--correct", help="Keep only correct episodes (score 1.0).")
    ] = False,
    min_score: Annotated[
        float | None,
        typer.Option("--min-score", help="Keep episodes scoring at least this (implies re-scoring)."),
    ] = None,
    stored_score: Annotated[
        bool,
        typer.Option(
            "--stored-score", help="Trust the stored score instead of re-scoring with evaluation metrics."
        ),
    ] = False,
    no_parse_errors: Annotated[
        bool, typer.Option("--no-parse-errors", help="Drop episodes with any parse error.")
    ] = False,
    max_parse_errors: Annotated[
        int | None, typer.Option("--max-parse-errors", help="Drop episodes with more parse errors than this.")
    ] = None,
    max_steps: Annotated[
        int | None, typer.Option("--max-steps", help="Drop episodes with more steps.")
    ] = None,
    drop_unfinished: Annotated[
        bool,
        typer.Option(
            "--drop-unfinished", help="Drop episodes that hit max_steps without calling final_answer."
        ),
    ] = False,
    keep_failed: Annotated[
        bool, typer.Option("--keep-failed", help="Keep crashed episodes (status failed); dropped by default.")
    ] = False,
    max_chars: Annotated[
        int | None, typer.Option("--max-chars", help="Drop episodes longer than this many characters.")
    ] = None,
    max_tokens: Annotated[
        int | None,
        typer.Option("--max-tokens", help="Drop episodes longer than this many tokens (--tokenizer)."),
    ] = None,
    tokenizer: Annotated[
        str | None,
        typer.Option("--tokenizer", help="Tokenizer for --max-tokens: path, hub id, or 'default'."),
    ] = None,
    grounded: Annotated[
        bool,
        typer.Option(
            "--grounded",
            help="Drop math episodes whose final answer was not computed by their code (a guessed literal), "
            "or whose trained messages state the gold answer before an observation did.",
        ),
    ] = False,
    dedup: Annotated[
        bool, typer.Option("--dedup", help="Drop repeats (same task and same assistant messages).")
    ] = False,
    per_task: Annotated[
        int | None, typer.Option("--per-task", help="Keep at most K episodes per task.")
    ] = None,
    decontaminate: Annotated[
        bool,
        typer.Option("--decontaminate", help="Drop tasks whose question is in a registered evaluation set."),
    ] = False,
    data_dir: Annotated[
        str | None,
        typer.Option(
            "--data-dir", help="Benchmark data for --decontaminate (default $AGENTDISTILL_DATA_DIR)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")] = False,
) -> None:
    """Write the episodes that pass every filter to OUT and print what each filter dropped."""
    from agentdistill.trajectories import filters as F
    from agentdistill.trajectories.store import TrajectoryStore, iter_trajectories, shard_paths

    out_dir = Path(out)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise AgentDistillError(f"{out_dir} exists and is not an empty directory; choose a new --out")
    if Path(path).resolve() == out_dir.resolve():
        raise AgentDistillError("--out must differ from the input")
    shard_paths(path)  # a clear error for a missing input before anything is created
    if max_tokens is not None and tokenizer is None:
        raise AgentDistillError("--max-tokens needs --tokenizer (a tokenizer path or hub id)")
    console = _console()
    if decontaminate:
        found = F.evaluation_questions(data_dir)
        if found.missing:
            console.print(
                f"[yellow]warning:[/] evaluation sets not found in the data dir: {', '.join(found.missing)}"
            )
        if found.bundled:
            console.print(
                "[yellow]warning:[/] decontaminating against the bundled samples only (a few rows per set); "
                "pass --data-dir pointing at full benchmark data"
            )
    filters = F.build_filters(
        drop_failed=not keep_failed,
        drop_unfinished=drop_unfinished,
        no_parse_errors=no_parse_errors,
        max_parse_errors=max_parse_errors,
        max_steps=max_steps,
        max_chars=max_chars,
        max_tokens=max_tokens,
        count_tokens=F.tokenizer_counter(tokenizer) if tokenizer else None,
        correct=correct,
        min_score=min_score,
        use_metrics=not stored_score,
        grounded=grounded,
        decontaminate=decontaminate,
        data_dir=data_dir,
        dedup=dedup,
        per_task=per_task,
    )
    pipeline = F.FilterPipeline(filters)
    with TrajectoryStore(out_dir) as store:
        for t in pipeline.run(iter_trajectories(path)):
            store.append(t)
    # how this set was made, next to it (not a .jsonl, so readers of the directory ignore it)
    record = {"input": str(path), **pipeline.summary()}
    (out_dir / FILTER_RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    if as_json:
        typer.echo(json.dumps({**pipeline.summary(), "out": str(out_dir)}, indent=2))
        return
    table = Table(title=f"filter {path} -> {out}")
    for col in ("filter", "seen", "kept", "dropped"):
        table.add_column(col, justify="left" if col == "filter" else "right")
    pipeline.summary()  # fills each count's drop reasons
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
