"""``agentdistill eval`` and ``agentdistill report``: thin wrappers over agentdistill.evaluation."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from agentdistill.cli_options import ConfigFlags, config_yaml, print_config_option, set_option, task_set_flags
from agentdistill.errors import IncompleteRunError
from agentdistill.evaluation.config import EvalConfig

console = Console()

# flag -> EvalConfig field; every other field is reachable with --set
EVAL_FLAGS = ConfigFlags(
    EvalConfig,
    {
        **task_set_flags("benchmarks", specs="benchmarks"),
        "source": "benchmarks.source",
        "model": "model.spec",
        "out": "out",
        "mode": "mode",
        "sag": "agent.n_candidates",
        "max_tokens": "agent.max_tokens",
        "max_steps": "agent.max_steps",
        "temperature": "agent.temperature",
        "sandbox": "sandbox.backend",
        "top_k": "retrieval.k",
        "index": "retrieval.index",
        "judge": "judge.spec",
        "judge_cache": "judge_cache",
        "concurrency": "concurrency",
        "role": "role",
        "name": "name",
        "overwrite": "overwrite",
        "baseline": "baseline",
    },
)


_opt = EVAL_FLAGS.option


def eval_command(
    model: Annotated[str | None, _opt("model", "--model", "--agent")] = None,
    benchmarks: Annotated[str | None, _opt("benchmarks", note="Comma-separated.")] = None,
    domain: Annotated[str | None, _opt("domain")] = None,
    out: Annotated[Path | None, _opt("out")] = None,
    mode: Annotated[str | None, _opt("mode")] = None,
    sag: Annotated[int | None, _opt("sag", "--sag")] = None,
    max_tokens: Annotated[int | None, _opt("max_tokens")] = None,
    max_steps: Annotated[int | None, _opt("max_steps")] = None,
    temperature: Annotated[float | None, _opt("temperature")] = None,
    sandbox: Annotated[
        str | None, _opt("sandbox", "--sandbox", note="local | docker | unsafe-local.")
    ] = None,
    top_k: Annotated[int | None, _opt("top_k", "--top-k")] = None,
    index: Annotated[str | None, _opt("index", "--index")] = None,
    judge: Annotated[str | None, _opt("judge")] = None,
    judge_cache: Annotated[Path | None, _opt("judge_cache")] = None,
    concurrency: Annotated[int | None, _opt("concurrency")] = None,
    data_dir: Annotated[Path | None, _opt("data_dir")] = None,
    source: Annotated[str | None, _opt("source")] = None,
    seed: Annotated[int | None, _opt("seed")] = None,
    role: Annotated[str | None, _opt("role")] = None,
    name: Annotated[str | None, _opt("name")] = None,
    baseline: Annotated[Path | None, _opt("baseline")] = None,
    overwrite: Annotated[bool, _opt("overwrite", "--overwrite")] = False,
    strict_data: Annotated[bool, _opt("strict_data", "--strict-data")] = False,
    set_: Annotated[list[str] | None, set_option()] = None,
    config: Annotated[
        Path | None, typer.Option(help="EvalConfig YAML; the command line's options override it.")
    ] = None,
    print_config: Annotated[bool, print_config_option()] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Evaluate a model on benchmarks: predictions.jsonl, metrics.json, results.md and plots/ in --out."""
    from agentdistill.evaluation.run import run_eval

    specs = [s.strip() for s in benchmarks.split(",") if s.strip()] if benchmarks is not None else None
    flags = {**locals(), "benchmarks": specs, "overwrite": overwrite or None}
    eval_config = EVAL_FLAGS.load(config, {**flags, "strict_data": strict_data or None}, set_)
    if print_config:
        typer.echo(config_yaml(eval_config), nl=False)
        return
    result = run_eval(eval_config, progress=progress)
    console.print(result.table, highlight=False, markup=False)
    console.print(
        f"{result.solved} solved, {result.skipped} already done; results in {result.out_dir}", highlight=False
    )
    if result.transient:
        raise IncompleteRunError(
            f"{result.transient} tasks failed because a server or sandbox was unavailable; their rows count "
            "as wrong until you rerun the same command, which retries them"
        )


def report_command(
    runs: Annotated[list[Path], typer.Argument(help="Evaluation run folders to compare.")],
    out: Annotated[Path, typer.Option(help="Folder for report.md, report.json and the PNG plots.")] = Path(
        "report"
    ),
    metric: Annotated[str, typer.Option(help="score (EM/accuracy) | f1 | judge.")] = "score",
    names: Annotated[
        str | None, typer.Option(help="Comma-separated run names (default: folder names).")
    ] = None,
    baseline: Annotated[
        str | None,
        typer.Option(
            help="Run (name or folder) the others are compared with, task by task (default: the first)."
        ),
    ] = None,
) -> None:
    """Compare runs in one table (per benchmark, in-domain / out-of-domain / overall averages) with plots,
    and each run against a baseline: paired difference, 95% bootstrap CI, exact McNemar p."""
    from agentdistill.evaluation.report import write_report

    result = write_report(
        runs, out, metric=metric, names=names.split(",") if names else None, baseline=baseline
    )
    console.print(result.markdown, highlight=False, markup=False)
    console.print(
        f"wrote {result.table}, {result.json} and {len(result.plots)} plots to {out}", highlight=False
    )
