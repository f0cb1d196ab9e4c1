"""Metrics by name, the one :func:`score` and the one success rule that every part calls.

Keeping one scoring entry point means a trajectory kept as "correct" for training was judged by exactly
the rule the benchmark tables use. Every metric returns a dict with ``score`` (0..1, the number averaged
in tables), ``correct`` (bool) and ``metric`` (its name), plus its own details. Whether a score counts as
a success (generation's "ok" rate, the agent's reflection trigger, filters) is :func:`is_success`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agentdistill.errors import AgentDistillError
from agentdistill.registry import Registry
from agentdistill.schema import Task
from agentdistill.tasks.math_match import extract_math_answer, math_equal, normalize_expression, parse_number
from agentdistill.tasks.qa_match import normalize_answer, qa_scores

Metric = Callable[[Task, "str | None"], dict[str, Any]]
DOMAIN_METRICS = {"qa": "qa_em_f1", "math": "math_verify"}
SUCCESS_THRESHOLD = 0.5
"""A score at or above this is a success: the one rule for agents, generation counts and filters."""


def is_success(score: float | None) -> bool:
    """Whether a score counts as solved (``score >= SUCCESS_THRESHOLD``); an unknown score does not."""
    return score is not None and score >= SUCCESS_THRESHOLD


def answer_key(prediction: object, domain: str) -> str:
    """What two predictions share when the domain's metric reads them as the same answer.

    Math (and unknown domains): the answer the math metric extracts (last ``\\boxed{}``, else the "final
    answer" line), as a canonical number when it is one (``2.50``, ``$2.5`` and ``\\boxed{2.5}`` agree),
    else as a normalised expression; QA: the SQuAD-normalised text EM compares. Self-consistent action
    generation votes with this key, so a vote never splits answers the score would merge.
    """
    text = "" if prediction is None else str(prediction)
    if domain == "qa":
        return normalize_answer(text)
    extracted = extract_math_answer(text)
    number = parse_number(extracted)
    if number is not None:
        return format(number + 0.0, ".12g")
    return normalize_expression(extracted) if domain == "math" else normalize_answer(extracted)


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


METRICS: Registry[Metric] = Registry(
    "metric",
    {
        "qa_em_f1": qa_em_f1,
        "math_verify": math_verify_metric,
        "exact": exact_metric,
    },
    error=AgentDistillError,
)
"""Metrics by name, usable in ``benchmarks.yaml`` (``metric:``) and :func:`score`."""


def register_metric(name: str, fn: Metric | str) -> None:
    """Add a metric (a callable ``(task, prediction) -> dict``, or a ``"module:attr"`` name)."""
    METRICS.register(name, fn)


def metric_name(task: Task) -> str:
    """The task's metric: ``metadata["metric"]``, else by domain (qa -> EM/F1, math -> math-verify)."""
    return str(task.metadata.get("metric") or DOMAIN_METRICS.get(task.domain, "exact"))


def score(task: Task, prediction: str | None, *, metric: str | None = None) -> dict[str, Any]:
    """Score one prediction (a final answer, or text holding a ``\\boxed{}``) against the task's gold."""
    name = metric or metric_name(task)
    fn = METRICS.get(name)
    if task.answer is None and not task.metadata.get("aliases"):
        return {"score": 0.0, "correct": False, "metric": name, "no_gold": True}
    result = fn(task, prediction)
    result["metric"] = name
    return result
