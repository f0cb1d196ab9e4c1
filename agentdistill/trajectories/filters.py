"""Composable trajectory filters that say what each one dropped.

A filter looks at one trajectory and keeps it (possibly updated, e.g. re-scored) or drops it. A
:class:`FilterPipeline` runs filters in order, so each sees only what the earlier ones kept, and counts
per filter how many it saw, kept and dropped (and which ids it dropped): the numbers a user needs to
judge a training set ("80% of episodes died on parse errors" is a prompt problem, not a data problem).

Correctness is re-scored with the metrics evaluation uses (EM for QA, math-verify for math), because a
stored score may come from another scorer (an LLM judge, an older rule) or be missing; the stored score
is the fallback only when the task has no gold answer or no known metric.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Protocol

from agentdistill.evaluation.decontamination import normalize_question  # evaluation's rule, re-exported
from agentdistill.schema import Trajectory

SUCCESS_THRESHOLD = 0.5
"""A score at or above this counts as a success (the agent loop uses the same rule)."""


class TrajectoryFilter(Protocol):
    """One filter: ``name`` for the report, ``apply`` returns the trajectory to keep or None to drop."""

    name: str

    def apply(self, trajectory: Trajectory) -> Trajectory | None: ...


# -- helpers shared with stats and the viewer -----------------------------------------------------


def char_count(trajectory: Trajectory) -> int:
    """Characters of all messages: what a training example's length scales with."""
    return sum(len(m.content) for m in trajectory.messages)


# -- scoring --------------------------------------------------------------------------------------


def rescore(trajectory: Trajectory) -> float | None:
    """The trajectory's score under evaluation's metrics, or None when it cannot be computed.

    Calls :func:`agentdistill.evaluation.metrics.score`, the entry point evaluation uses (EM for QA,
    math-verify for math, the task's ``metadata["metric"]`` when set). None when the task has no gold
    answer or the evaluation package is not importable: callers then fall back to the stored score.
    """
    try:
        from agentdistill.evaluation.metrics import score
    except ImportError:
        return None
    result = score(trajectory.task, trajectory.final_answer)
    if result.get("no_gold"):
        return None
    return float(result["score"])


# -- filters --------------------------------------------------------------------------------------


@dataclasses.dataclass
class FailedFilter:
    """Drop episodes that crashed (``status == "failed"``): they have no usable ending."""

    name: str = "failed"

    def apply(self, trajectory: Trajectory) -> Trajectory | None:
        return None if trajectory.status == "failed" else trajectory


@dataclasses.dataclass
class StatusFilter:
    """Keep only the given statuses (e.g. drop ``max_steps`` episodes that never called final_answer)."""

    allowed: tuple[str, ...] = ("ok",)
    name: str = "status"

    def apply(self, trajectory: Trajectory) -> Trajectory | None:
        return trajectory if trajectory.status in self.allowed else None


@dataclasses.dataclass
class CorrectnessFilter:
    """Keep episodes whose score is at least ``min_score``, re-scored with evaluation's metrics.

    The kept trajectory carries the recomputed score (the old one, when different, is kept in
    ``metadata["stored_score"]``). Without a computable score the stored one is used; with neither the
    episode is dropped, since its correctness is unknown.
    """

    min_score: float = 1.0
    use_metrics: bool = True
    name: str = "correct"

    def apply(self, trajectory: Trajectory) -> Trajectory | None:
        score = rescore(trajectory) if self.use_metrics else None
        if score is None:
            score = trajectory.score
        if score is None or score < self.min_score:
            return None
        if score != trajectory.score:
            metadata = {**trajectory.metadata, "stored_score": trajectory.score}
            trajectory = trajectory.model_copy(update={"score": score, "metadata": metadata})
        return trajectory


@dataclasses.dataclass
class ParseErrorFilter:
    """Drop episodes with more than ``max_errors`` parse-error observations (0: any parse error)."""

    max_errors: int = 0
    name: str = "parse_errors"

    def apply(self, trajectory: Trajectory) -> Trajectory | None:
        return trajectory if trajectory.parse_errors <= self.max_errors else None


@dataclasses.dataclass
class MaxStepsFilter:
    """Drop episodes that took more than ``max_steps`` agent steps."""

    max_steps: int
    name: str = "max_steps"

    def apply(self, trajectory: Trajectory) -> Trajectory | None:
        return trajectory if trajectory.agent_steps <= self.max_steps else None


@dataclasses.dataclass
class LengthFilter:
    """Drop episodes longer than ``max_chars`` characters and/or ``max_tokens`` tokens.

    Tokens are counted with ``count_tokens`` (e.g. the student's tokenizer) over all message contents,
    which is what bounds the training sequence length.
    """

    max_chars: int | None = None
    max_tokens: int | None = None
    count_tokens: Callable[[str], int] | None = None
    name: str = "length"

    def __post_init__(self) -> None:
        if self.max_tokens is not None and self.count_tokens is None:
            raise ValueError("LengthFilter(max_tokens=...) needs count_tokens (a tokenizer)")

    def apply(self, trajectory: Trajectory) -> Trajectory | None:
        if self.max_chars is not None and char_count(trajectory) > self.max_chars:
            return None
        if self.max_tokens is not None and self.count_tokens is not None:
            tokens = sum(self.count_tokens(m.content) for m in trajectory.messages)
            if tokens > self.max_tokens:
                return None
        return trajectory


def content_key(trajectory: Trajectory) -> str:
    """Identity of an episode for deduplication: task id plus everything the assistant wrote."""
    h = hashlib.sha256(trajectory.task.id.encode())
    for m in trajectory.messages:
        if m.role == "assistant":
            h.update(b"\x00" + m.content.encode())
    return h.hexdigest()


@dataclasses.dataclass
class DedupFilter:
    """Drop exact repeats: same task id and same assistant messages as an earlier episode."""

    name: str = "dedup"
    _seen: set[str] = dataclasses.field(default_factory=set, repr=False)

    def apply(self, trajectory: Trajectory) -> Trajectory | None:
        key = content_key(trajectory)
        if key in self._seen:
            return None
        self._seen.add(key)
        return trajectory


@dataclasses.dataclass
class PerTaskFilter:
    """Keep at most ``k`` episodes per task id (the first ones met), so no task dominates training."""

    k: int
    name: str = "per_task"
    _counts: Counter[str] = dataclasses.field(default_factory=Counter, repr=False)

    def apply(self, trajectory: Trajectory) -> Trajectory | None:
        if self._counts[trajectory.task.id] >= self.k:
            return None
        self._counts[trajectory.task.id] += 1
        return trajectory


@dataclasses.dataclass
class EvaluationQuestions:
    """Normalised questions of the registered evaluation sets, which sets were found, which were not."""

    questions: set[str]
    sources: list[str]
    missing: list[str]
    bundled: bool


def evaluation_questions(data_dir: str | Path | None = None) -> EvaluationQuestions:
    """Normalised questions of every registered evaluation split (``eval: true``) found in ``data_dir``.

    The questions come from evaluation's own list (so generation and this filter agree); ``missing``
    names the evaluation splits whose files are not in ``data_dir``, which are then only covered by the
    bundled samples. ``data_dir`` defaults to ``$AGENTDISTILL_DATA_DIR``, else the bundled samples (a
    few rows per set: fine for a demo, not a real decontamination; use a full copy such as ../shared/data).
    """
    from agentdistill.evaluation.decontamination import eval_questions
    from agentdistill.evaluation.registry import list_benchmarks, resolve_data_dir

    root, bundled = resolve_data_dir(data_dir)
    sources: list[str] = []
    missing: list[str] = []
    for bench in list_benchmarks(include_train=False):
        for name, split in bench.splits.items():
            if bench.is_eval_split(name):
                found = all(p.is_file() for p in split.paths(root))
                (sources if found else missing).append(f"{bench.name}:{name}")
    return EvaluationQuestions(set(eval_questions(data_dir)), sources, missing, bundled)


@dataclasses.dataclass
class DecontaminationFilter:
    """Drop episodes whose task question (normalised) is a question of an evaluation set."""

    questions: set[str]
    name: str = "decontaminate"

    @classmethod
    def from_registry(cls, data_dir: str | Path | None = None) -> DecontaminationFilter:
        return cls(evaluation_questions(data_dir).questions)

    def apply(self, trajectory: Trajectory) -> Trajectory | None:
        return None if normalize_question(trajectory.task.question) in self.questions else trajectory


# -- pipeline -------------------------------------------------------------------------------------


@dataclasses.dataclass
class FilterCount:
    """What one filter did: episodes it saw, kept and dropped, and the dropped ids."""

    name: str
    seen: int = 0
    kept: int = 0
    dropped_ids: list[str] = dataclasses.field(default_factory=list)

    @property
    def dropped(self) -> int:
        return self.seen - self.kept

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "seen": self.seen, "kept": self.kept, "dropped": self.dropped}


class FilterPipeline:
    """Filters applied in order; ``counts`` says what each did, ``total``/``kept`` the overall result."""

    def __init__(self, filters: Iterable[TrajectoryFilter]) -> None:
        self.filters = list(filters)
        self.counts = [FilterCount(f.name) for f in self.filters]
        self.total = 0
        self.kept = 0

    def run(self, trajectories: Iterable[Trajectory]) -> Iterator[Trajectory]:
        """Yield the trajectories every filter keeps (lazily: counts are final once exhausted)."""
        for t in trajectories:
            self.total += 1
            current = t
            for f, count in zip(self.filters, self.counts, strict=True):
                count.seen += 1
                result = f.apply(current)
                if result is None:
                    count.dropped_ids.append(t.id)
                    break
                count.kept += 1
                current = result
            else:
                self.kept += 1
                yield current

    def summary(self) -> dict[str, object]:
        """JSON-ready counts (for ``--json`` and for a run's record of how its data was made)."""
        return {"total": self.total, "kept": self.kept, "filters": [c.to_dict() for c in self.counts]}


def build_filters(
    *,
    drop_failed: bool = True,
    drop_unfinished: bool = False,
    no_parse_errors: bool = False,
    max_parse_errors: int | None = None,
    max_steps: int | None = None,
    max_chars: int | None = None,
    max_tokens: int | None = None,
    count_tokens: Callable[[str], int] | None = None,
    correct: bool = False,
    min_score: float | None = None,
    use_metrics: bool = True,
    decontaminate: bool = False,
    data_dir: str | Path | None = None,
    dedup: bool = False,
    per_task: int | None = None,
) -> list[TrajectoryFilter]:
    """The standard filter chain, cheapest and most basic first; per-task caps last so they count
    only episodes that survived everything else."""
    filters: list[TrajectoryFilter] = []
    if drop_failed:
        filters.append(FailedFilter())
    if drop_unfinished:
        filters.append(StatusFilter(("ok",)))
    if no_parse_errors or max_parse_errors is not None:
        filters.append(ParseErrorFilter(0 if max_parse_errors is None else max_parse_errors))
    if max_steps is not None:
        filters.append(MaxStepsFilter(max_steps))
    if max_chars is not None or max_tokens is not None:
        filters.append(LengthFilter(max_chars, max_tokens, count_tokens))
    if correct or min_score is not None:
        filters.append(CorrectnessFilter(1.0 if min_score is None else min_score, use_metrics))
    if decontaminate:
        filters.append(DecontaminationFilter.from_registry(data_dir))
    if dedup:
        filters.append(DedupFilter())
    if per_task is not None:
        filters.append(PerTaskFilter(per_task))
    return filters


def filter_trajectories(
    trajectories: Iterable[Trajectory], filters: Iterable[TrajectoryFilter]
) -> tuple[list[Trajectory], FilterPipeline]:
    """Run filters over trajectories eagerly; returns (kept, pipeline with its counts)."""
    pipeline = FilterPipeline(filters)
    return list(pipeline.run(trajectories)), pipeline
