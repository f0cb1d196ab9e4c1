"""``agentdistill pipeline``: a thin wrapper over :func:`agentdistill.pipeline.run_pipeline`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from agentdistill.cli_options import config_option, config_yaml, print_config_option, set_option
from agentdistill.pipeline.config import PipelineConfig


def pipeline_command(
    config: Annotated[str, typer.Option(help="Pipeline YAML (e.g. configs/demo.yaml).")],
    run_dir: Annotated[str | None, config_option(PipelineConfig, "run_dir")] = None,
    set_: Annotated[list[str] | None, set_option()] = None,
    print_config: Annotated[bool, print_config_option()] = False,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="No progress bars.")] = False,
) -> None:
    """Generate, filter, train, evaluate and report in one run directory (resumable, stage by stage)."""
    from rich.console import Console
    from rich.markdown import Markdown
    from rich.markup import escape

    from agentdistill.config import load_config
    from agentdistill.pipeline.runner import run_pipeline

    console = Console()
    cfg = load_config(PipelineConfig, config, {"run_dir": run_dir}, sets=set_ or ())
    if print_config:
        typer.echo(config_yaml(cfg), nl=False)
        return
    results = run_pipeline(
        cfg,
        log=lambda line: console.print(f"[bold cyan]pipeline[/] {escape(line)}"),
        progress=not no_progress,
    )
    console.rule("summary")
    report = results.get("report")
    if report is not None and report["markdown"]:
        console.print(Markdown(report["markdown"]))
    for line in summary_lines(results):
        console.print(line, highlight=False, markup=False)


def summary_lines(results: dict[str, Any]) -> list[str]:
    """The run summary: one line per stage that ran (what it came to), the rounds, the plots, the minutes."""
    lines = [f"{key}: {line}" for key, result in results.items() if (line := result.summary())]
    rounds = results["rounds"]["rounds"] if "rounds" in results else []
    if len(rounds) > 1:
        best = results["rounds"]["best"]
        for e in rounds:
            dev, pool = e.get("dev_accuracy"), e.get("train_accuracy")
            lines.append(
                f"round {e['round']}{' (best)' if e['round'] == best else ''}: {e['episodes']} episodes, "
                f"{e['kept']} kept; pool accuracy {_pct(pool)}, dev accuracy {_pct(dev)}"
            )
    if "report" in results:
        lines += [f"plot:   {plot}" for plot in results["report"]["plots"]]
    timed = [f"{stage} {r['seconds'] / 60:.1f}" for stage, r in results.items() if r["seconds"]]
    if timed:
        lines.append(f"minutes per stage (when it last ran): {', '.join(timed)}")
    return lines


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"
