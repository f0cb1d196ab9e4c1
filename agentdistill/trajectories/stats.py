"""Statistics of a trajectory set: what a user checks before training on it.

Counts, success rate, how episodes ended, and distributions (mean, median, p90, max) of steps, tokens,
tool calls and errors, overall and per task source and domain. A teacher whose episodes mostly hit
max_steps or whose parse-error rate is high needs a better prompt before more generation.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from agentdistill.schema import Trajectory
from agentdistill.tasks.metrics import SUCCESS_THRESHOLD, is_success
from agentdistill.trajectories.filters import char_count

DISTRIBUTION_FIELDS = (
    "steps",
    "prompt_tokens",
    "completion_tokens",
    "tool_calls",
    "errors",
    "parse_errors",
    "chars",
    "wall_time_s",
)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation (numpy's default), 0.0 for no values."""
    if not values:
        return 0.0
    s = sorted(values)
    pos = (len(s) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


@dataclasses.dataclass
class Distribution:
    """Summary of one per-episode number."""

    mean: float = 0.0
    median: float = 0.0
    p90: float = 0.0
    max: float = 0.0
    total: float = 0.0

    @classmethod
    def of(cls, values: list[float]) -> Distribution:
        if not values:
            return cls()
        return cls(
            mean=statistics.fmean(values),
            median=statistics.median(values),
            p90=percentile(values, 90),
            max=max(values),
            total=sum(values),
        )


@dataclasses.dataclass
class GroupStats:
    """Per source or domain: how many episodes, how many scored, success rate, mean steps."""

    count: int = 0
    scored: int = 0
    successes: int = 0
    mean_steps: float = 0.0

    @property
    def success_rate(self) -> float | None:
        return self.successes / self.scored if self.scored else None


@dataclasses.dataclass
class TrajectorySetStats:
    """Everything ``agentdistill trajectories stats`` reports (``to_dict`` for ``--json``)."""

    count: int = 0
    tasks: int = 0
    scored: int = 0
    successes: int = 0
    mean_score: float | None = None
    status: dict[str, int] = dataclasses.field(default_factory=dict)
    with_parse_errors: int = 0
    with_reflection: int = 0
    trained_messages: int = 0
    masked_assistant_messages: int = 0
    distributions: dict[str, Distribution] = dataclasses.field(default_factory=dict)
    by_source: dict[str, GroupStats] = dataclasses.field(default_factory=dict)
    by_domain: dict[str, GroupStats] = dataclasses.field(default_factory=dict)

    @property
    def success_rate(self) -> float | None:
        """Share of scored episodes with score >= 0.5 (None when none is scored)."""
        return self.successes / self.scored if self.scored else None

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["success_rate"] = self.success_rate
        for key in ("by_source", "by_domain"):
            for name, group in getattr(self, key).items():
                out[key][name]["success_rate"] = group.success_rate
        return out


def compute_stats(trajectories: Iterable[Trajectory]) -> TrajectorySetStats:
    """One pass over the trajectories (a generator is fine)."""
    out = TrajectorySetStats()
    values: dict[str, list[float]] = defaultdict(list)
    status: Counter[str] = Counter()
    task_ids: set[str] = set()
    scores: list[float] = []
    groups: dict[str, dict[str, GroupStats]] = {
        "source": defaultdict(GroupStats),
        "domain": defaultdict(GroupStats),
    }
    steps_sum: dict[tuple[str, str], int] = defaultdict(int)
    for t in trajectories:
        out.count += 1
        task_ids.add(t.task.id)
        status[t.status] += 1
        steps = t.agent_steps
        parse_errors = t.parse_errors
        per_episode = {
            "steps": steps,
            "prompt_tokens": t.stats.prompt_tokens,
            "completion_tokens": t.stats.completion_tokens,
            "tool_calls": t.stats.tool_calls,
            "errors": t.stats.errors or sum(1 for m in t.messages if m.kind == "error"),
            "parse_errors": parse_errors,
            "chars": char_count(t),
            "wall_time_s": t.stats.wall_time_s,
        }
        for key, v in per_episode.items():
            values[key].append(float(v))
        out.with_parse_errors += parse_errors > 0
        out.with_reflection += any(m.kind == "reflection" for m in t.messages)
        out.trained_messages += sum(m.train for m in t.messages)
        out.masked_assistant_messages += sum(m.role == "assistant" and not m.train for m in t.messages)
        success = is_success(t.score)
        if t.score is not None:
            out.scored += 1
            out.successes += success
            scores.append(t.score)
        for kind, name in (("source", t.task.source or "(none)"), ("domain", t.task.domain)):
            g = groups[kind][name]
            g.count += 1
            g.scored += t.score is not None
            g.successes += success
            steps_sum[(kind, name)] += steps
    out.tasks = len(task_ids)
    out.mean_score = statistics.fmean(scores) if scores else None
    out.status = dict(status.most_common())
    out.distributions = {key: Distribution.of(values[key]) for key in DISTRIBUTION_FIELDS}
    for kind, target in (("source", out.by_source), ("domain", out.by_domain)):
        for name in sorted(groups[kind]):
            g = groups[kind][name]
            g.mean_steps = steps_sum[(kind, name)] / g.count
            target[name] = g
    return out


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _num(x: float) -> str:
    return f"{x:.0f}" if float(x).is_integer() else f"{x:.2f}"


def render_stats(stats: TrajectorySetStats, title: str = "trajectories") -> list[Any]:
    """rich renderables (summary, distributions, per source, per domain) for a console to print."""
    from rich.table import Table

    summary = Table(title=f"{title}: summary", show_header=False)
    summary.add_column("what")
    summary.add_column("value", justify="right")
    rows = [
        ("episodes", str(stats.count)),
        ("tasks", str(stats.tasks)),
        ("scored", str(stats.scored)),
        (f"success rate (score >= {SUCCESS_THRESHOLD})", _pct(stats.success_rate)),
        ("mean score", "-" if stats.mean_score is None else f"{stats.mean_score:.3f}"),
        *((f"status {k}", str(v)) for k, v in stats.status.items()),
        ("episodes with parse errors", str(stats.with_parse_errors)),
        ("episodes with reflection", str(stats.with_reflection)),
        ("trained messages", str(stats.trained_messages)),
        ("masked assistant messages", str(stats.masked_assistant_messages)),
    ]
    for row in rows:
        summary.add_row(*row)

    dist = Table(title="per episode")
    for col in ("field", "mean", "median", "p90", "max", "total"):
        dist.add_column(col, justify="left" if col == "field" else "right")
    for key, d in stats.distributions.items():
        dist.add_row(key, f"{d.mean:.2f}", _num(d.median), _num(d.p90), _num(d.max), _num(d.total))

    tables: list[Any] = [summary, dist]
    for label, groups in (("source", stats.by_source), ("domain", stats.by_domain)):
        t = Table(title=f"per {label}")
        for col in (label, "episodes", "scored", "success", "mean steps"):
            t.add_column(col, justify="left" if col == label else "right")
        for name, g in groups.items():
            t.add_row(name, str(g.count), str(g.scored), _pct(g.success_rate), f"{g.mean_steps:.2f}")
        tables.append(t)
    return tables
