"""Per-benchmark aggregates of scored trajectories, and their Markdown table (one run).

Scores are fractions in ``metrics.json`` and percentages in tables. Averages follow the paper's table:
the mean of per-benchmark scores over in-domain benchmarks, over out-of-domain ones, and over all
(training pools never count). With a judge, QA benchmarks also get ``judge`` (the judge's accuracy) and
``judge_agreement`` (share of tasks where judge and EM agree), and ``averages_judge`` uses the judge for
QA and accuracy for math, as the paper reports.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from agentdistill.evaluation.judge import agreement
from agentdistill.schema import Trajectory

GROUP_ORDER = {"in_domain": 0, "out_of_domain": 1, "other": 2, "train": 3}
DOMAIN_ORDER = {"qa": 0, "math": 1, "other": 2}


def _mean(values: Iterable[float]) -> float | None:
    values = list(values)
    return sum(values) / len(values) if values else None


def aggregate(
    trajectories: Sequence[Trajectory], judge: dict[str, dict[str, Any]] | None = None
) -> dict[str, Any]:
    """``{"benchmarks": {label: {...}}, "averages": {...}}`` for a run's scored trajectories."""
    by_label: dict[str, list[Trajectory]] = defaultdict(list)
    for t in trajectories:
        by_label[str(t.task.metadata.get("benchmark") or t.task.source or "tasks")].append(t)
    benchmarks: dict[str, dict[str, Any]] = {}
    for label, items in by_label.items():
        first = items[0].task
        m = [t.metadata.get("metrics") or {} for t in items]
        entry: dict[str, Any] = {
            "domain": first.domain,
            "group": first.metadata.get("group", "other"),
            "metric": next((x["metric"] for x in m if x.get("metric")), first.metadata.get("metric", "")),
            "n": len(items),
            "score": _mean(float(t.score or 0.0) for t in items),
            "failed": sum(t.status == "failed" for t in items),
            "data_source": first.metadata.get("data_source", ""),
            "mean_steps": _mean(t.stats.steps for t in items),
            "mean_completion_tokens": _mean(t.stats.completion_tokens for t in items),
        }
        entry.update(agent_behaviour(items))
        if first.domain == "qa":
            entry["em"] = _mean(x.get("em", 0.0) for x in m)
            entry["f1"] = _mean(x.get("f1", 0.0) for x in m)
        else:
            entry["accuracy"] = entry["score"]
        if judge is not None and first.domain == "qa":
            rows = [judge[t.task.id] for t in items if t.task.id in judge]
            if rows:
                verdicts = [r["correct"] for r in rows]
                entry["judge"] = _mean(float(bool(v)) for v in verdicts)
                entry["judge_agreement"] = agreement(verdicts, [r["em"] for r in rows])
                entry["judge_unparsed"] = sum(v is None for v in verdicts)
        benchmarks[label] = entry
    ordered = dict(sorted(benchmarks.items(), key=lambda kv: benchmark_sort_key(kv[0], kv[1])))
    out: dict[str, Any] = {"benchmarks": ordered, "averages": averages(ordered, "score")}
    if judge is not None:
        out["averages_judge"] = averages(ordered, "judge")
    return out


def agent_behaviour(trajectories: Sequence[Trajectory]) -> dict[str, float]:
    """How well an agent follows the CodeAct format, for runs with agent steps (empty for CoT runs).

    ``valid_action_rate``: the share of all agent steps whose reply held a runnable code block;
    ``final_answer_rate``: the share of episodes that ended by calling ``final_answer`` themselves (not by
    running out of steps, nor by crashing).
    """
    agentic = [t for t in trajectories if t.agent_steps > 0 or t.status == "max_steps"]
    steps = sum(t.agent_steps for t in agentic)
    if not agentic or not steps:
        return {}
    return {
        "valid_action_rate": 1 - sum(t.parse_errors for t in agentic) / steps,
        "final_answer_rate": sum(t.status == "ok" for t in agentic) / len(trajectories),
    }


def benchmark_sort_key(label: str, entry: dict[str, Any]) -> tuple[int, int, str]:
    """The paper's column order: QA before math, in-domain first within each, then by name."""
    return (DOMAIN_ORDER.get(entry.get("domain"), 2), GROUP_ORDER.get(entry.get("group", "other"), 2), label)


QA_ONLY_METRICS = ("em", "f1", "judge")
"""Metrics math benchmarks do not have: a table of one of them shows math's accuracy instead."""
BEHAVIOUR_METRICS = ("valid_action_rate", "final_answer_rate")
"""Agent-format metrics (see :func:`agent_behaviour`)."""


def headline(entry: dict[str, Any], metric: str = "score") -> float | None:
    """A benchmark's number for ``metric`` (``score``, ``f1``, ``judge``, or a behaviour metric); for a
    QA-only metric, math benchmarks fall back to accuracy."""
    value = entry.get(metric)
    if value is None and metric in QA_ONLY_METRICS and entry.get("domain") != "qa":
        return entry.get("score")
    return value


def averages(benchmarks: dict[str, dict[str, Any]], metric: str = "score") -> dict[str, float | None]:
    """Means of per-benchmark ``metric`` over in-domain, out-of-domain and all evaluation benchmarks."""
    groups: dict[str, list[float]] = {"in_domain": [], "out_of_domain": [], "overall": []}
    for entry in benchmarks.values():
        value = headline(entry, metric)
        if value is None or entry.get("group") == "train":
            continue
        groups["overall"].append(value)
        if entry.get("group") in groups:
            groups[entry["group"]].append(value)
    return {k: _mean(v) for k, v in groups.items()}


SAMPLE_MARK = "†"
SAMPLE_NOTE = (
    f"{SAMPLE_MARK} bundled sample: the few rows shipped with agentdistill, not the benchmark "
    "(point --data-dir at a full copy)"
)


def display_label(label: str, entry: dict[str, Any]) -> str:
    """A benchmark's label in tables, marked when its rows came from the small bundled sample."""
    return f"{label}{SAMPLE_MARK}" if entry.get("data_source") == "bundled-sample" else label


def pct(value: float | None) -> str:
    """A fraction as a percentage with two decimals, or an en dash when absent."""
    return "–" if value is None else f"{100 * value:.2f}"


def render_run_table(metrics: dict[str, Any]) -> str:
    """One run's results as a Markdown table (percentages), with the three averages below it."""
    rows = metrics["benchmarks"]
    judged = any("judge" in e for e in rows.values())
    head = ["benchmark", "domain", "group", "n", "score", "EM", "F1", "accuracy"]
    head += ["judge", "judge/EM agreement"] if judged else []
    agentic = any("valid_action_rate" in e for e in rows.values())
    head += ["valid actions", "final_answer called"] if agentic else []
    failures = any(e.get("failed") for e in rows.values())
    head += ["failed"] if failures else []
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, e in rows.items():
        cells = [display_label(label, e), e["domain"], e["group"], str(e["n"]), pct(e["score"])]
        cells += [pct(e.get("em")), pct(e.get("f1")), pct(e.get("accuracy"))]
        if judged:
            cells += [pct(e.get("judge")), pct(e.get("judge_agreement"))]
        if agentic:
            cells += [pct(e.get("valid_action_rate")), pct(e.get("final_answer_rate"))]
        if failures:
            cells.append(str(e.get("failed", 0)))
        lines.append("| " + " | ".join(cells) + " |")
    avg = metrics["averages"]
    lines += [
        "",
        f"In-domain average: {pct(avg['in_domain'])} · out-of-domain average: {pct(avg['out_of_domain'])}"
        f" · overall average: {pct(avg['overall'])} (score: EM for QA, accuracy for math)",
    ]
    if judged and (aj := metrics.get("averages_judge")):
        lines.append(
            f"With the judge for QA: in-domain {pct(aj['in_domain'])} · out-of-domain "
            f"{pct(aj['out_of_domain'])} · overall {pct(aj['overall'])}"
        )
    sources = {e["data_source"] for e in rows.values()}
    if "bundled-sample" in sources:
        lines.append(f"\n{SAMPLE_NOTE}.")
    return "\n".join(lines) + "\n"
