"""Statistics of the hand-written sample set, checked number by number."""

from __future__ import annotations

import json

import pytest
from rich.console import Console

from agentdistill.trajectories.stats import compute_stats, percentile, render_stats

from .samples import all_samples


def test_percentile_matches_linear_interpolation():
    assert percentile([], 90) == 0.0
    assert percentile([5], 90) == 5
    assert percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90) == pytest.approx(9.1)
    assert percentile([3, 1, 2], 50) == 2


def test_stats_numbers():
    s = compute_stats(iter(all_samples()))  # a generator is enough
    assert s.count == 8
    assert s.tasks == 6  # eiffel twice, 6x7 twice
    assert s.scored == 7 and s.successes == 7  # stored scores; ep-failed is unscored
    assert s.success_rate == 1.0 and s.mean_score == 1.0
    assert s.status == {"ok": 6, "failed": 1, "max_steps": 1}
    assert s.with_parse_errors == 1 and s.with_reflection == 1
    steps = s.distributions["steps"]  # 2,2,2,2,2,1,1,6
    assert steps.mean == pytest.approx(18 / 8)
    assert steps.median == 2
    assert steps.p90 == pytest.approx(2 + 0.3 * 4)  # sorted [1,1,2,2,2,2,2,6], pos 6.3
    assert steps.max == 6 and steps.total == 18
    assert s.distributions["prompt_tokens"].total == 7 * 100 + 400
    assert s.distributions["errors"].total == 2  # parse error + ZeroDivisionError
    assert s.distributions["parse_errors"].total == 1
    # trained messages: every assistant message except the two masked failed steps
    assistant = sum(m.role == "assistant" for t in all_samples() for m in t.messages)
    assert s.masked_assistant_messages == 2
    assert s.trained_messages == assistant - 2
    assert set(s.by_domain) == {"qa", "math"}
    assert s.by_domain["qa"].count == 3 and s.by_domain["math"].count == 5
    assert s.by_domain["math"].scored == 4 and s.by_domain["math"].success_rate == 1.0
    assert s.by_source["math:train"].count == 4
    assert s.by_source["math:train"].mean_steps == pytest.approx((2 + 2 + 1 + 6) / 4)
    assert s.by_source["gsm8k"].count == 1


def test_stats_json_and_tables():
    s = compute_stats(all_samples())
    data = json.loads(json.dumps(s.to_dict()))
    assert data["count"] == 8 and data["success_rate"] == 1.0
    assert data["distributions"]["steps"]["max"] == 6
    assert data["by_domain"]["qa"]["success_rate"] == 1.0
    console = Console(record=True, width=120)
    for table in render_stats(s, title="samples"):
        console.print(table)
    text = console.export_text()
    assert "samples: summary" in text and "per source" in text and "hotpotqa:train" in text
    assert "100.0%" in text


def test_empty_stats():
    s = compute_stats([])
    assert s.count == 0 and s.success_rate is None and s.distributions["steps"].mean == 0.0
