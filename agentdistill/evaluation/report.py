"""``agentdistill report RUN_DIR... --out DIR``: compare evaluation runs as the paper's table does.

One row per run, one column per benchmark (in-domain first), then the in-domain, out-of-domain and
overall averages; written as Markdown and JSON, with PNG plots of scores and of steps and tokens per
episode read from each run's trajectories. With two or more runs, every run is also compared with a
baseline run (the first, or ``baseline=``) task by task: the paired difference with its 95% bootstrap
confidence interval and the exact McNemar p-value per benchmark (``differences.png`` draws them).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agentdistill.errors import AgentDistillError
from agentdistill.evaluation.plots import plot_differences, plot_distribution, plot_scores
from agentdistill.evaluation.runner import METRICS, PREDICTIONS
from agentdistill.evaluation.significance import PairedDifference, format_difference, paired_difference
from agentdistill.evaluation.summary import (
    BEHAVIOUR_METRICS,
    SAMPLE_MARK,
    SAMPLE_NOTE,
    averages,
    benchmark_sort_key,
    headline,
    pct,
)
from agentdistill.trajectories.store import iter_trajectories

AVERAGES = ("in_domain", "out_of_domain", "overall")
AVERAGE_LABELS = {"in_domain": "ID avg", "out_of_domain": "OOD avg", "overall": "avg"}


@dataclasses.dataclass
class Run:
    """One evaluation run folder: its name, metrics, and per-episode steps and tokens."""

    name: str
    path: Path
    metrics: dict[str, Any]
    steps: list[float]
    tokens: list[float]
    scores: dict[str, dict[str, float]] = dataclasses.field(default_factory=dict)
    """Per benchmark label: task id -> score (what the paired comparison pairs)."""


def load_run(path: str | Path, name: str | None = None) -> Run:
    """Read ``metrics.json`` and the episode stats of ``predictions.jsonl`` from a run folder."""
    path = Path(path)
    metrics_path = path / METRICS
    if not metrics_path.is_file():
        raise AgentDistillError(
            f"{path} is not an evaluation run: no {METRICS} (run `agentdistill eval` first)"
        )
    try:
        metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise AgentDistillError(f"{metrics_path}: invalid JSON ({e.msg} at line {e.lineno})") from None
    steps: list[float] = []
    tokens: list[float] = []
    scores: dict[str, dict[str, float]] = {}
    if (path / PREDICTIONS).is_file():
        for t in iter_trajectories(path / PREDICTIONS):
            label = str(t.task.metadata.get("benchmark") or t.task.source or "tasks")
            scores.setdefault(label, {})[t.task.id] = float(t.score or 0.0)
            if t.status != "failed":
                steps.append(t.stats.steps)
                tokens.append(t.stats.completion_tokens)
    run_name = name or metrics.get("run", {}).get("name") or path.name
    return Run(run_name, path, metrics, steps, tokens, scores)


def compare(runs: Sequence[Run], metric: str = "score") -> dict[str, Any]:
    """The comparison: benchmark columns (union over runs, paper order) and each run's values."""
    entries: dict[str, dict[str, Any]] = {}
    for run in runs:
        for label, e in run.metrics["benchmarks"].items():
            entries.setdefault(label, e)
    labels = [k for k, _ in sorted(entries.items(), key=lambda kv: benchmark_sort_key(*kv))]
    table: dict[str, dict[str, float | None]] = {}
    for run in runs:
        bench = run.metrics["benchmarks"]
        row: dict[str, float | None] = {
            label: headline(bench[label], metric) if label in bench else None for label in labels
        }
        row.update(averages(bench, metric))
        table[run.name] = row
    groups = {label: entries[label].get("group", "other") for label in labels}
    return {
        "metric": metric,
        "runs": [r.name for r in runs],
        "benchmarks": labels,
        "groups": groups,
        "data_sources": {label: entries[label].get("data_source", "") for label in labels},
        "table": table,
    }


def render_comparison(comparison: dict[str, Any]) -> str:
    """The comparison as a Markdown table in percent."""
    labels, groups = comparison["benchmarks"], comparison["groups"]
    sources = comparison.get("data_sources", {})
    head = ["run"] + [
        f"{label}{' (ID)' if groups[label] == 'in_domain' else ''}"
        f"{SAMPLE_MARK if sources.get(label) == 'bundled-sample' else ''}"
        for label in labels
    ]
    head += [AVERAGE_LABELS[a] for a in AVERAGES]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for run in comparison["runs"]:
        row = comparison["table"][run]
        lines.append("| " + " | ".join([run] + [pct(row[k]) for k in [*labels, *AVERAGES]]) + " |")
    note = {
        "score": "EM for QA, accuracy for math",
        "judge": "LLM judge for QA, accuracy for math",
        "valid_action_rate": "share of agent steps with a runnable code block",
        "final_answer_rate": "share of episodes that called final_answer themselves",
    }
    lines.append(f"\nMetric: {note.get(comparison['metric'], comparison['metric'])}; (ID) = in-domain.")
    if "bundled-sample" in sources.values():
        lines.append(f"{SAMPLE_NOTE}.")
    return "\n".join(lines) + "\n"


@dataclasses.dataclass
class ReportResult:
    """Paths the report wrote."""

    table: Path
    json: Path
    plots: list[Path]
    markdown: str


def differences(runs: Sequence[Run], baseline: Run) -> dict[str, dict[str, dict[str, Any] | None]]:
    """run name -> benchmark label -> the paired difference against ``baseline`` (JSON-ready)."""
    out: dict[str, dict[str, dict[str, Any] | None]] = {}
    for run in runs:
        if run is baseline:
            continue
        row = {}
        for label, scores in run.scores.items():
            d = paired_difference(baseline.scores.get(label, {}), scores)
            row[label] = d.to_dict() if d is not None else None
        out[run.name] = row
    return out


def render_differences(
    diffs: dict[str, dict[str, dict[str, Any] | None]], baseline: str, labels: list[str]
) -> str:
    """The paired comparison as Markdown: difference in points, 95% CI, McNemar p, n."""
    lines = [
        f"\n## Against the baseline ({baseline})\n",
        "Paired by task: difference in percentage points [95% bootstrap CI], exact McNemar p; n tasks.\n",
        "| run | " + " | ".join(labels) + " |",
        "|" + "---|" * (len(labels) + 1),
    ]
    for run, row in diffs.items():
        cells = []
        for label in labels:
            d = row.get(label)
            cells.append(
                "–" if d is None else f"{format_difference(PairedDifference(**_fields(d)))}; n={d['n']}"
            )
        lines.append(f"| {run} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _fields(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k != "significant"}


def write_report(
    run_dirs: Sequence[str | Path],
    out_dir: str | Path,
    *,
    metric: str = "score",
    names: Sequence[str] | None = None,
    baseline: str | None = None,
) -> ReportResult:
    """Compare runs into ``out_dir``: ``report.md``, ``report.json``, ``scores.png``, ``steps.png``, ``tokens.png``."""
    if not run_dirs:
        raise AgentDistillError("report needs at least one run directory")
    if names is not None and len(names) != len(run_dirs):
        raise AgentDistillError(f"got {len(names)} names for {len(run_dirs)} runs")
    runs = [load_run(p, names[i] if names else None) for i, p in enumerate(run_dirs)]
    seen: dict[str, int] = {}
    for run in runs:  # two folders with the same name must stay two rows
        if run.name in seen:
            run.name = f"{run.name} ({run.path})"
        seen[run.name] = 1
    comparison = compare(runs, metric)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    markdown = render_comparison(comparison)
    behaviour = {
        m: compare(runs, m)
        for m in BEHAVIOUR_METRICS
        if any(m in e for r in runs for e in r.metrics["benchmarks"].values())
    }
    if len(runs) > 1:
        base = _pick_baseline(runs, baseline)
        diffs = differences(runs, base)
        markdown += render_differences(diffs, base.name, comparison["benchmarks"])
        comparison = {**comparison, "baseline": base.name, "differences": diffs}
    if behaviour:
        markdown += "\n## Agent behaviour\n"
        for table in behaviour.values():
            markdown += "\n" + render_comparison(table)
        comparison = {**comparison, "behaviour": behaviour}
    (out / "report.md").write_text(markdown, encoding="utf-8")
    (out / "report.json").write_text(json.dumps(comparison, indent=2) + "\n", encoding="utf-8")
    columns = [*comparison["benchmarks"], *AVERAGES]
    plots = [
        plot_scores(
            comparison["runs"], columns, comparison["table"], out / "scores.png", labels=AVERAGE_LABELS
        ),
        plot_distribution(
            {r.name: r.steps for r in runs}, out / "steps.png", title="Steps per episode", xlabel="steps"
        ),
        plot_distribution(
            {r.name: r.tokens for r in runs},
            out / "tokens.png",
            title="Generated tokens per episode",
            xlabel="completion tokens",
        ),
    ]
    if "differences" in comparison:
        plots.append(
            plot_differences(
                comparison["differences"],
                comparison["benchmarks"],
                comparison["baseline"],
                out / "differences.png",
            )
        )
    return ReportResult(out / "report.md", out / "report.json", plots, markdown)


def _pick_baseline(runs: Sequence[Run], baseline: str | None) -> Run:
    if baseline is None:
        return runs[0]
    for run in runs:
        if baseline == run.name or Path(baseline).resolve() == run.path.resolve():
            return run
    raise AgentDistillError(f"baseline {baseline!r} is none of the runs ({', '.join(r.name for r in runs)})")
