"""PNG plots of evaluation runs (matplotlib, Agg backend: no display needed).

Scores per benchmark per run show where a student gains or loses; the distributions of steps and tokens
per episode show what the gain costs at inference time.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def plot_scores(
    runs: Sequence[str],
    benchmarks: Sequence[str],
    values: dict[str, dict[str, float | None]],
    path: Path,
    *,
    labels: dict[str, str] | None = None,
) -> Path:
    """Grouped bars: one group per benchmark (plus the averages), one bar per run, in percent."""
    plt = _pyplot()
    width = 0.8 / max(len(runs), 1)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(benchmarks) + 2), 4.5))
    for i, run in enumerate(runs):
        ys = [100 * (values[run].get(b) or 0.0) for b in benchmarks]
        xs = [x + (i - (len(runs) - 1) / 2) * width for x in range(len(benchmarks))]
        ax.bar(xs, ys, width=width, label=run)
    ax.set_xticks(range(len(benchmarks)))
    ax.set_xticklabels([(labels or {}).get(b, b) for b in benchmarks], rotation=30, ha="right")
    ax.set_ylabel("score (%)")
    ax.set_ylim(0, 100)
    ax.set_title("Score per benchmark")
    ax.legend(fontsize="small")
    ax.grid(axis="y", alpha=0.3)
    return _save(plt, fig, path)


def plot_distribution(data: dict[str, list[float]], path: Path, *, title: str, xlabel: str) -> Path:
    """One histogram per run on shared bins, overlaid, so runs are comparable at a glance."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.0))
    every = [v for vs in data.values() for v in vs]
    lo, hi = (min(every), max(every)) if every else (0.0, 1.0)
    bins = 20 if hi > lo else 1
    for run, vs in data.items():
        if vs:
            ax.hist(
                vs, bins=bins, range=(lo, hi if hi > lo else lo + 1), alpha=0.55, label=f"{run} (n={len(vs)})"
            )
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("episodes")
    if data:
        ax.legend(fontsize="small")
    return _save(plt, fig, path)


def plot_differences(
    diffs: dict[str, dict[str, dict[str, Any] | None]], benchmarks: Sequence[str], baseline: str, path: Path
) -> Path:
    """Each run's paired difference from the baseline per benchmark, in points, with 95% CI error bars."""
    plt = _pyplot()
    runs = list(diffs)
    width = 0.8 / max(len(runs), 1)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(benchmarks) + 2), 4.5))
    for i, run in enumerate(runs):
        xs, ys, lows, highs = [], [], [], []
        for j, b in enumerate(benchmarks):
            d = diffs[run].get(b)
            if d is None:
                continue
            xs.append(j + (i - (len(runs) - 1) / 2) * width)
            ys.append(100 * d["difference"])
            lows.append(100 * (d["difference"] - d["ci_low"]))
            highs.append(100 * (d["ci_high"] - d["difference"]))
        ax.bar(xs, ys, width=width, yerr=[lows, highs], capsize=4, label=run)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(benchmarks)))
    ax.set_xticklabels(list(benchmarks), rotation=30, ha="right")
    ax.set_ylabel(f"difference from {baseline} (points)")
    ax.set_title("Paired difference per benchmark (95% bootstrap CI)")
    if runs:
        ax.legend(fontsize="small")
    ax.grid(axis="y", alpha=0.3)
    return _save(plt, fig, path)


def plot_rounds(rounds: Sequence[dict[str, Any]], path: Path) -> Path:
    """Accuracy per distillation round: on the pool's train split (what the next round targets) and on its
    dev split (what decides the stop)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.0))
    xs = [e["round"] for e in rounds]
    for key, label in (("train_accuracy", "pool (train split)"), ("dev_accuracy", "pool (dev split)")):
        ys = [100 * (e.get(key) or 0.0) for e in rounds]
        ax.plot(xs, ys, marker="o", label=label)
    ax.set_xticks(xs)
    ax.set_xlabel("round")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title("Student accuracy per round")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    return _save(plt, fig, path)


def _save(plt: Any, fig: Any, path: Path) -> Path:
    """Lay out, write (creating the folder) and close one figure."""
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
