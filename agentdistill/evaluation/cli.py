"""``agentdistill eval`` and ``agentdistill report``: thin wrappers over agentdistill.evaluation."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

console = Console()


def eval_command(
    ctx: typer.Context,
    agent: Annotated[
        str, typer.Option(help="Model spec: default, hf:..., openai:<model>@<url>.")
    ] = "default",
    benchmarks: Annotated[
        str, typer.Option(help="Comma-separated task specs, e.g. hotpotqa[:50],gsm8k[:50],aime:2024.")
    ] = "",
    out: Annotated[Path, typer.Option(help="Run folder (a rerun resumes it).")] = Path("eval-run"),
    mode: Annotated[str, typer.Option(help="agent | cot | cot-rag")] = "agent",
    sag: Annotated[int, typer.Option(help="Self-consistent action candidates per step (agent mode).")] = 1,
    judge: Annotated[str | None, typer.Option(help="Model spec of an LLM judge for QA answers.")] = None,
    judge_cache: Annotated[Path | None, typer.Option(help="SQLite file for cached judge verdicts.")] = None,
    concurrency: Annotated[int, typer.Option(help="Tasks in flight at once.")] = 4,
    data_dir: Annotated[
        Path | None, typer.Option(help="Folder laid out like shared/data (default $AGENTDISTILL_DATA_DIR).")
    ] = None,
    source: Annotated[
        str, typer.Option(help="auto | local | hf (registered benchmarks from the hub).")
    ] = "auto",
    seed: Annotated[int, typer.Option(help="Seed for sampled specs (name:N) and sampling.")] = 0,
    role: Annotated[
        str, typer.Option(help="teacher | student (recorded; agent mode behaviour).")
    ] = "student",
    max_tokens: Annotated[int, typer.Option(help="New tokens per model call.")] = 1024,
    max_steps: Annotated[int, typer.Option(help="Agent steps per episode (agent mode).")] = 5,
    temperature: Annotated[float, typer.Option(help="Sampling temperature (0 = greedy).")] = 0.0,
    top_k: Annotated[int, typer.Option(help="Documents in the prompt (cot-rag).")] = 3,
    index: Annotated[str, typer.Option(help="Retrieval index folder, or 'demo'.")] = "demo",
    name: Annotated[str | None, typer.Option(help="Run name in reports (default: folder name).")] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    config: Annotated[
        Path | None, typer.Option(help="EvalConfig YAML; options given on the command line override it.")
    ] = None,
) -> None:
    """Evaluate a model on benchmarks: predictions.jsonl, metrics.json, results.md and plots/ in --out."""
    from agentdistill.config import load_config
    from agentdistill.evaluation.config import EvalConfig
    from agentdistill.evaluation.pipeline import run_eval

    values = {
        "benchmarks": [s.strip() for s in benchmarks.split(",") if s.strip()],
        "out": str(out),
        "agent": agent,
        "mode": mode,
        "role": role,
        "sag": sag,
        "max_tokens": max_tokens,
        "max_steps": max_steps,
        "temperature": temperature,
        "top_k": top_k,
        "index": index,
        "judge": judge,
        "judge_cache": str(judge_cache) if judge_cache else None,
        "concurrency": concurrency,
        "data_dir": str(data_dir) if data_dir else None,
        "source": source,
        "seed": seed,
        "name": name,
    }
    if config is not None:  # the file, then only what the command line set explicitly
        values = {k: v for k, v in values.items() if _from_command_line(ctx, k)}
    eval_config = load_config(EvalConfig, config, values)
    result = run_eval(eval_config, progress=progress)
    console.print(result.table, highlight=False, markup=False)
    console.print(
        f"{result.solved} solved, {result.skipped} already done; results in {result.out_dir}", highlight=False
    )


def _from_command_line(ctx: typer.Context, name: str) -> bool:
    """Whether an option was set on the command line (not left at its default)."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name == "COMMANDLINE"


def report_command(
    runs: Annotated[list[Path], typer.Argument(help="Evaluation run folders to compare.")],
    out: Annotated[Path, typer.Option(help="Folder for report.md, report.json and the PNG plots.")] = Path(
        "report"
    ),
    metric: Annotated[str, typer.Option(help="score (EM/accuracy) | f1 | judge.")] = "score",
    names: Annotated[
        str | None, typer.Option(help="Comma-separated run names (default: folder names).")
    ] = None,
) -> None:
    """Compare runs in one table (per benchmark, in-domain / out-of-domain / overall averages) with plots."""
    from agentdistill.evaluation.report import write_report

    result = write_report(runs, out, metric=metric, names=names.split(",") if names else None)
    console.print(result.markdown, highlight=False, markup=False)
    console.print(
        f"wrote {result.table}, {result.json} and {len(result.plots)} plots to {out}", highlight=False
    )
