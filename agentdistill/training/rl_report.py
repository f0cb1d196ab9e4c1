"""What an RL run shows per step: TRL's own metrics, the rollouts' shape and where the time went.

:func:`step_history` joins, per optimizer step, the metrics TRL logged (reward and each reward component's
mean and std, ``frac_reward_zero_std``, ``grad_norm``, ``entropy``, the clipped and importance-sampling
ratios, ``sampling/*``) with the rollouts of that step (rollouts/s, finish reasons, truncated turns) and the
time split (generation, sandbox, weight sync, training). It is ``history`` in ``rl_summary.json``;
:func:`plot_history` draws it as ``rl.png``.
"""

from __future__ import annotations

import resource
import time
from pathlib import Path
from typing import Any

from agentdistill.training.rollouts import RolloutStats

PLOT_FILE = "rl.png"
_SKIPPED = ("epoch", "total_flos", "train_runtime", "train_samples_per_second", "train_steps_per_second")


def step_timer() -> Any:
    """A ``TrainerCallback`` whose ``seconds`` maps each optimizer step to its wall time (rollouts included)
    and ``peak_rss_gib`` to the training process's peak resident memory so far (GiB)."""
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        def __init__(self) -> None:
            self.seconds: dict[int, float] = {}
            self.peak_rss_gib: dict[int, float] = {}
            self._began = 0.0

        def on_step_begin(self, args: Any, state: Any, control: Any, **_: Any) -> None:
            self._began = time.perf_counter()

        def on_step_end(self, args: Any, state: Any, control: Any, **_: Any) -> None:
            self.seconds[int(state.global_step)] = time.perf_counter() - self._began
            peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
            self.peak_rss_gib[int(state.global_step)] = round(peak_kib / 2**20, 2)

    return StepTimer()


def time_split(stats: RolloutStats, step_seconds: float | None) -> dict[str, float]:
    """Seconds of a step spent generating, in the sandbox, syncing weights and training. Episodes overlap,
    so the rollout wall time is split between generation and sandbox by their summed episode-seconds."""
    busy = stats.model_seconds + stats.sandbox_seconds
    share = stats.model_seconds / busy if busy else 1.0
    split = {
        "generation_s": stats.seconds * share,
        "sandbox_s": stats.seconds * (1 - share),
        "sync_s": stats.sync_seconds,
    }
    if step_seconds is not None:
        split["training_s"] = max(0.0, step_seconds - stats.seconds - stats.sync_seconds)
    return {k: round(v, 3) for k, v in split.items()}


def step_history(
    log_history: list[dict[str, Any]],
    rollouts: dict[int, RolloutStats],
    step_seconds: dict[int, float],
    peak_rss_gib: dict[int, float] | None = None,
) -> list[dict[str, Any]]:
    """One row per logged step: TRL's numbers, the step's rollouts, its time split and the process's peak
    memory so far."""
    rows = []
    for entry in log_history:
        if "reward" not in entry:
            continue
        step = int(entry.get("step", 0))
        row: dict[str, Any] = {"step": step}
        row.update({k: v for k, v in entry.items() if k not in _SKIPPED and isinstance(v, int | float)})
        if (stats := rollouts.get(step)) is not None:
            row.update(
                rollouts=stats.rollouts,
                rollouts_per_s=round(stats.rollouts_per_s, 4),
                finish_reasons=dict(stats.finish_reasons),
                truncated_turns=stats.truncated_turns,
                truncated_rollouts=stats.truncated,
                **time_split(stats, step_seconds.get(step)),
            )
        if peak_rss_gib and step in peak_rss_gib:
            row["peak_rss_gib"] = peak_rss_gib[step]
        rows.append(row)
    return rows


_PANELS = (
    ("reward", ("reward", "rewards/correct/mean"), "mean reward"),
    ("spread", ("reward_std", "frac_reward_zero_std"), "within-group spread"),
    ("optimisation", ("grad_norm", "entropy"), ""),
    ("ratios", ("clip_ratio/region_mean", "sampling/importance_sampling_ratio/mean"), "policy ratios"),
    ("time", ("generation_s", "sandbox_s", "sync_s", "training_s"), "seconds per step"),
)


def plot_history(history: list[dict[str, Any]], path: Path) -> Path | None:
    """``rl.png``: reward, its spread, grad norm and entropy, ratios, and the time split, per step."""
    if not history:
        return None
    from agentdistill.evaluation.plots import _pyplot

    plt = _pyplot()
    fig, axes = plt.subplots(1, len(_PANELS), figsize=(4.2 * len(_PANELS), 3.6))
    steps = [row["step"] for row in history]
    for ax, (title, keys, ylabel) in zip(axes, _PANELS, strict=True):
        for key in keys:
            values = [row.get(key) for row in history]
            if any(v is not None for v in values):
                ax.plot(steps, [float("nan") if v is None else v for v in values], marker="o", label=key)
        ax.set_title(title)
        ax.set_xlabel("step")
        if ylabel:
            ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
