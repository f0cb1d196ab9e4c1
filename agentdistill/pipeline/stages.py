"""The pipeline's stages as data: what each reads, what it writes, and the typed result it records.

Each stage's result is a dataclass (:class:`StageResult` and its subclasses). The runner stores it in the
stage's completion marker (``run_dir/stages/<key>.json``), in ``pipeline.json`` (the config and every stage
that ran, with its inputs and outputs) and in the run summary; the report lists every stage. A result also
reads as a mapping (``result["kept"]``), the form the markers store it in.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any


@dataclasses.dataclass
class StageResult(Mapping[str, Any]):
    """What a stage did."""

    seconds: float = 0.0
    """Wall time of the stage when it last ran."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StageResult:
        """The result of a marker or a stand-in's mapping (keys it does not know are ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def summary(self) -> str:
        """One line for the run summary and the report."""
        return ""

    # a read-only mapping of the fields
    def __getitem__(self, key: str) -> Any:
        if key not in self._names():
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    def _names(self) -> list[str]:
        return [f.name for f in dataclasses.fields(self)]


@dataclasses.dataclass
class GenerateStageResult(StageResult):
    episodes: int = 0
    skipped: int = 0
    written: int = 0
    succeeded: int = 0
    failed: int = 0
    completion_tokens: int = 0
    wall_time_s: float = 0.0
    transient: int = 0
    replaced: int = 0
    note: str | None = None

    def summary(self) -> str:
        return self.note or f"{self.episodes} episodes ({self.succeeded} correct in the last run)"


@dataclasses.dataclass
class FilterStageResult(StageResult):
    kept: int = 0
    viewer: str = ""
    filters: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    def summary(self) -> str:
        return f"{self.kept} kept for training; viewer {self.viewer}"


@dataclasses.dataclass
class TrainStageResult(StageResult):
    student: str = ""
    steps: int = 0
    final_loss: float | None = None
    examples: int | None = None

    def summary(self) -> str:
        return f"{self.student} ({self.steps} steps, final loss {self.final_loss})"


@dataclasses.dataclass
class PoolEvalStageResult(StageResult):
    train_accuracy: float | None = None
    dev_accuracy: float | None = None
    failed_ids: list[str] = dataclasses.field(default_factory=list)

    def summary(self) -> str:
        return f"dev accuracy {_pct(self.dev_accuracy)}, {len(self.failed_ids)} train tasks failed"


@dataclasses.dataclass
class RLStageResult(StageResult):
    policy: str = ""
    steps: int = 0
    rollouts: dict[str, Any] = dataclasses.field(default_factory=dict)
    history: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    def summary(self) -> str:
        rewards = [r.get("reward") for r in self.history]
        change = f"; reward {rewards[0]:.3f} -> {rewards[-1]:.3f}" if rewards and None not in rewards else ""
        return f"{self.policy} ({self.steps} steps, {self.rollouts.get('rollouts', 0)} rollouts{change})"


@dataclasses.dataclass
class EvalStageResult(StageResult):
    runs: dict[str, str] = dataclasses.field(default_factory=dict)

    def summary(self) -> str:
        return ", ".join(f"{name}: {path}" for name, path in self.runs.items())


@dataclasses.dataclass
class ReportStageResult(StageResult):
    table: str | None = None
    plots: list[str] = dataclasses.field(default_factory=list)
    markdown: str | None = None

    def summary(self) -> str:
        return f"{self.table}" if self.table else "no evaluation to report"


@dataclasses.dataclass
class RoundsResult(StageResult):
    """Not a stage: what the rounds came to (each round's counts and accuracies, and the best round)."""

    rounds: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    best: int = 1


@dataclasses.dataclass(frozen=True)
class Stage:
    """One stage: the folders of the run it reads and writes (``<round>`` stands for the round's own
    folder: ``run_dir`` in round 1, ``run_dir/rounds/<r>`` after), and its result type."""

    name: str
    reads: tuple[str, ...]
    writes: tuple[str, ...]
    result: type[StageResult]


STAGES: dict[str, Stage] = {
    s.name: s
    for s in (
        Stage("generate", ("generate.tasks",), ("<round>/trajectories",), GenerateStageResult),
        Stage(
            "filter", ("<rounds 1..r>/trajectories",), ("<round>/filtered", "viewer.html"), FilterStageResult
        ),
        Stage("train", ("<round>/filtered",), ("<round>/student",), TrainStageResult),
        Stage(
            "pool_eval", ("<round>/student", "generate.tasks"), ("rounds/<r>/pool_eval",), PoolEvalStageResult
        ),
        Stage("rl", ("<best round>/student", "rl.tasks"), ("rl",), RLStageResult),
        Stage(
            "eval",
            ("train.student", "<best round>/student or rl", "eval.benchmarks"),
            ("eval",),
            EvalStageResult,
        ),
        Stage("report", ("eval",), ("report",), ReportStageResult),
    )
}
"""The stages in the order they run (generate, filter, train and pool_eval repeat per round)."""


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"
