"""Metrics by name, and the one :func:`score` that evaluation and trajectory filtering both call.

Keeping one scoring entry point means a trajectory kept as "correct" for training was judged by exactly
the rule the benchmark tables use. Every metric returns a dict with ``score`` (0..1, the number averaged
in tables), ``correct`` (bool) and ``metric`` (its name), plus its own details.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agentdistill.errors import AgentDistillError
from agentdistill.evaluation.math_match import math_equal
from agentdistill.evaluation.qa_match import normalize_answer, qa_scores
from agentdistill.schema import Task

Metric = Callable[[Task, "str | None"], dict[str, Any]]
DOMAIN_METRICS = {"qa": "qa_em_f1", "math": "math_verify"}


def gold_answers(task: Task) -> list[str]:
    """The gold answer followed by its aliases (``metadata["aliases"]``), without blanks."""
    golds = [task.answer] if task.answer is not None else []
    golds += [str(a) for a in task.metadata.get("aliases") or []]
    return [g for g in golds if str(g).strip()]


def qa_em_f1(task: Task, prediction: str | None) -> dict[str, Any]:
    """HotpotQA exact match (the score) and F1, maximum over gold aliases."""
    s = qa_scores(prediction, gold_answers(task))
    return {"score": s["em"], "correct": s["em"] == 1.0, "em": s["em"], "f1": s["f1"]}


def math_verify_metric(task: Task, prediction: str | None) -> dict[str, Any]:
    """Last ``\\boxed{}`` (or the final answer) against each gold answer: numeric tolerance, then math-verify."""
    extracted = ""
    for gold in gold_answers(task):
        ok, extracted = math_equal(prediction, gold)
        if ok:
            return {"score": 1.0, "correct": True, "extracted": extracted}
    return {"score": 0.0, "correct": False, "extracted": extracted}


def exact_metric(task: Task, prediction: str | None) -> dict[str, Any]:
    """Normalised string equality, for tasks of no known domain."""
    ok = prediction is not None and any(
        normalize_answer(prediction) == normalize_answer(g) for g in gold_answers(task)
    )
    return {"score": float(ok), "correct": ok}


METRICS: dict[str, Metric] = {
    "qa_em_f1": qa_em_f1,
    "math_verify": math_verify_metric,
    "exact": exact_metric,
}


def register_metric(name: str, fn: Metric) -> None:
    """Add a metric usable by name in ``benchmarks.yaml`` and :func:`score`."""
    METRICS[name] = fn


def metric_name(task: Task) -> str:
    """The task's metric: ``metadata["metric"]``, else by domain (qa -> EM/F1, math -> math-verify)."""
    return str(task.metadata.get("metric") or DOMAIN_METRICS.get(task.domain, "exact"))


def score(task: Task, prediction: str | None, *, metric: str | None = None) -> dict[str, Any]:
    """Score one prediction (a final answer, or text holding a ``\\boxed{}``) against the task's gold."""
    name = metric or metric_name(task)
    if name not in METRICS:
        raise AgentDistillError(f"unknown metric {name!r}; registered: {', '.join(sorted(METRICS))}")
    if task.answer is None and not task.metadata.get("aliases"):
        return {"score": 0.0, "correct": False, "metric": name, "no_gold": True}
    result = METRICS[name](task, prediction)
    result["metric"] = name
    return result
