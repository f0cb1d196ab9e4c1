"""Paired statistics against values computed by hand (McNemar) and by the normal approximation (bootstrap)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from agentdistill.evaluation.significance import (
    bootstrap_ci,
    format_difference,
    mcnemar_exact,
    paired_difference,
)


def test_exact_mcnemar_by_hand():
    # 7 discordant pairs one way, 1 the other: p = 2 * P(X <= 1 | n=8, 1/2) = 2 * (1 + 8) / 256
    assert mcnemar_exact(1, 7) == pytest.approx(18 / 256)
    assert mcnemar_exact(7, 1) == pytest.approx(18 / 256)
    assert mcnemar_exact(5, 5) == pytest.approx(1.0)
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(10, 0) == pytest.approx(2 / 2**10)


def test_bootstrap_interval_matches_the_normal_approximation():
    rng = np.random.default_rng(1)
    diffs = rng.choice([-1.0, 0.0, 0.0, 1.0, 1.0], size=400)
    low, high = bootstrap_ci(diffs, resamples=5000, seed=3)
    half = 1.96 * diffs.std(ddof=1) / math.sqrt(len(diffs))
    assert low == pytest.approx(diffs.mean() - half, abs=0.01)
    assert high == pytest.approx(diffs.mean() + half, abs=0.01)
    assert bootstrap_ci(np.zeros(10)) == (0.0, 0.0)  # no spread: a point, not NaN


def test_paired_difference_pairs_by_task_id():
    base = {"a": 0.0, "b": 0.0, "c": 1.0, "d": 0.0}
    cand = {"a": 1.0, "b": 1.0, "c": 1.0, "d": 0.0, "unpaired": 1.0}
    d = paired_difference(base, cand, resamples=2000)
    assert (d.n, d.baseline, d.candidate, d.difference) == (4, 0.25, 0.75, 0.5)
    assert (d.only_candidate, d.only_baseline) == (2, 0) and d.p_value == pytest.approx(0.5)
    assert d.ci_low <= 0.5 <= d.ci_high and d.ci_high <= 1.0
    assert format_difference(d).startswith("+50.00 [") and "p=0.5" in format_difference(d)
    assert paired_difference({"x": 1.0}, {"y": 1.0}) is None and format_difference(None) == "–"
