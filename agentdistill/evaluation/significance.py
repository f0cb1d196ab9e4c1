"""Is a difference between two runs real? Paired statistics over the tasks both runs solved.

Two evaluations of the same benchmark are paired by task id. The difference in mean score gets a 95%
bootstrap confidence interval (``scipy.stats.bootstrap`` over the per-task differences, percentile
method), and the correct/incorrect outcomes an exact McNemar test (a two-sided binomial test on the
discordant pairs: tasks only one of the two runs got right). With a 135M model the numbers are small;
the interval says how small is still noise.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from agentdistill.tasks.metrics import is_success


@dataclasses.dataclass(frozen=True)
class PairedDifference:
    """``candidate - baseline`` on the ``n`` tasks both runs have, with its uncertainty."""

    n: int
    baseline: float
    candidate: float
    difference: float
    ci_low: float
    ci_high: float
    confidence: float
    p_value: float
    """Exact McNemar p-value (two-sided) of the correct/incorrect outcomes."""
    only_candidate: int
    """Tasks the candidate got right and the baseline did not."""
    only_baseline: int
    """Tasks the baseline got right and the candidate did not."""

    @property
    def significant(self) -> bool:
        """Whether the confidence interval excludes zero."""
        return bool(self.ci_low > 0 or self.ci_high < 0)

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "significant": self.significant}


def mcnemar_exact(only_candidate: int, only_baseline: int) -> float:
    """Two-sided exact McNemar p-value from the two discordant counts (1.0 when there are none)."""
    from scipy.stats import binomtest

    discordant = only_candidate + only_baseline
    if discordant == 0:
        return 1.0
    return float(binomtest(min(only_candidate, only_baseline), discordant, 0.5).pvalue)


def bootstrap_ci(
    differences: np.ndarray, *, confidence: float = 0.95, resamples: int = 10_000, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of per-task differences (a point when they are constant)."""
    from scipy.stats import bootstrap

    if len(differences) < 2 or np.all(differences == differences[0]):
        value = float(differences.mean()) if len(differences) else 0.0
        return value, value
    result = bootstrap(
        (differences,),
        np.mean,
        confidence_level=confidence,
        n_resamples=resamples,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def paired_difference(
    baseline: Mapping[str, float],
    candidate: Mapping[str, float],
    *,
    confidence: float = 0.95,
    resamples: int = 10_000,
    seed: int = 0,
) -> PairedDifference | None:
    """The paired comparison of two runs' per-task scores (task id -> score); None with no common task."""
    ids = sorted(set(baseline) & set(candidate))
    if not ids:
        return None
    base = np.array([float(baseline[i]) for i in ids])
    cand = np.array([float(candidate[i]) for i in ids])
    low, high = bootstrap_ci(cand - base, confidence=confidence, resamples=resamples, seed=seed)
    base_ok = [is_success(float(x)) for x in base]
    cand_ok = [is_success(float(x)) for x in cand]
    only_c = int(sum(c and not b for b, c in zip(base_ok, cand_ok, strict=True)))
    only_b = int(sum(b and not c for b, c in zip(base_ok, cand_ok, strict=True)))
    return PairedDifference(
        n=len(ids),
        baseline=float(base.mean()),
        candidate=float(cand.mean()),
        difference=float((cand - base).mean()),
        ci_low=low,
        ci_high=high,
        confidence=confidence,
        p_value=mcnemar_exact(only_c, only_b),
        only_candidate=only_c,
        only_baseline=only_b,
    )


def format_difference(d: PairedDifference | None) -> str:
    """``+23.33 [+10.00, +36.67] p=0.002`` in percentage points (or an en dash)."""
    if d is None:
        return "–"
    return f"{100 * d.difference:+.2f} [{100 * d.ci_low:+.2f}, {100 * d.ci_high:+.2f}] p={d.p_value:.3g}"
