"""The episode engine: a solver played over a list of episodes, for generation, evaluation and RL alike.

:class:`EpisodeEngine` owns what every stage that runs a model on tasks needs: scheduling (through an
executor, :mod:`agentdistill.episodes.executors`), turning an episode that raises into a failed record
(``failure: transient`` for an outage, so a rerun retries it) instead of sinking the run, stamping each
trajectory with its episode's id, counting, and the progress bar. :mod:`agentdistill.episodes.runs` adds
what a stored, resumable run needs on top (fingerprints, the folder's lock and writer, the manifest).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from agentdistill.episodes.executors import Executor, ExecutorConfig
from agentdistill.errors import failure_kind
from agentdistill.schema import AgentInfo, Task, Trajectory
from agentdistill.tasks.metrics import is_success

Solver = Callable[..., Awaitable[Trajectory]]
"""``async (task, sample=0) -> Trajectory`` (:mod:`agentdistill.agents.solvers` builds them by mode); the
engine passes ``sample`` only when it is not 0, so a solver of one sample per task may take the task alone."""


@dataclasses.dataclass(frozen=True)
class Episode:
    """One episode to play: the id its record is stored under, its task, and its sample number (which
    offsets the request seed, so the samples of one task differ)."""

    id: str
    task: Task
    sample: int = 0


@dataclasses.dataclass
class EpisodeCounts:
    """What the episodes played so far came to."""

    written: int = 0
    succeeded: int = 0
    """With a correct answer (:func:`~agentdistill.tasks.metrics.is_success`)."""
    failed: int = 0
    """Whose run itself failed (``status: failed``)."""
    transient: int = 0
    """Of the failed, failures of the infrastructure (a server or sandbox outage): a rerun retries them."""
    completion_tokens: int = 0

    def add(self, trajectory: Trajectory) -> None:
        self.written += 1
        self.succeeded += int(is_success(trajectory.score))
        self.failed += int(trajectory.status == "failed")
        self.transient += int(trajectory.failure == "transient")
        self.completion_tokens += trajectory.stats.completion_tokens


def failed_trajectory(episode: Episode, error: BaseException, model: str = "unknown") -> Trajectory:
    """The record of an episode whose solver raised: kept so the run goes on, retried as its failure says."""
    return Trajectory(
        id=episode.id,
        task=episode.task,
        agent=AgentInfo(model=model),
        messages=[],
        status="failed",
        error=f"{type(error).__name__}: {error}",
        failure=failure_kind(error),  # type: ignore[arg-type]
    )


Finish = Callable[[Episode, Trajectory], Trajectory]
"""A stage's last touch on each trajectory (its score, fingerprint, provenance) before it is handed on."""


class EpisodeEngine:
    """Plays episodes with a solver: ``await engine.play(episodes, solve)`` returns their trajectories in
    the episodes' order; ``on_done`` sees each one as it finishes (a run's writer stores it at once)."""

    def __init__(
        self,
        *,
        concurrency: int = 8,
        executor: ExecutorConfig | Executor | str | None = None,
        progress: bool = False,
        label: str = "episodes",
        model_name: str = "unknown",
    ) -> None:
        if isinstance(executor, str | type(None)):
            executor = ExecutorConfig(executor or "local")
        self.executor: Executor = executor.build() if isinstance(executor, ExecutorConfig) else executor
        self.concurrency = concurrency
        self.progress = progress
        self.label = label
        self.model_name = model_name
        self.counts = EpisodeCounts()

    async def play(
        self,
        episodes: Sequence[Episode],
        solve: Solver,
        *,
        finish: Finish | None = None,
        on_done: Callable[[Trajectory], None] | None = None,
        already: int = 0,
    ) -> list[Trajectory]:
        """Play every episode (``already``: how many the run had finished before, for the progress bar)."""
        results: dict[str, Trajectory] = {}

        async def play_one(episode: Episode) -> Trajectory:
            try:
                if episode.sample:
                    trajectory = await solve(episode.task, sample=episode.sample)
                else:
                    trajectory = await solve(episode.task)
            except Exception as e:  # one episode's failure is recorded, never fatal to the run
                trajectory = failed_trajectory(episode, e, self.model_name)
            trajectory = trajectory.model_copy(update={"id": episode.id, "task": episode.task})
            return finish(episode, trajectory) if finish is not None else trajectory

        with _Progress(self.progress, self.label, len(episodes) + already, already) as bar:

            def done(episode: Episode, trajectory: Trajectory) -> None:
                results[episode.id] = trajectory
                if on_done is not None:
                    on_done(trajectory)
                self.counts.add(trajectory)
                bar.advance(self.counts)

            await self.executor.run(episodes, play_one, done, concurrency=self.concurrency)
        return [results[e.id] for e in episodes]


class _Progress:
    """A rich progress bar over episodes (ok rate, generated tokens/s, ETA), or nothing."""

    def __init__(self, enabled: bool, label: str, total: int, completed: int) -> None:
        self.enabled = enabled and total > completed
        self.label, self.total, self.completed = label, total, completed
        self.bar: Any = None
        self.started = time.monotonic()

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(
                TextColumn(f"[bold]{self.label}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("ok {task.fields[ok_rate]}"),
                TextColumn("{task.fields[tps]} tok/s"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
            )
            self.bar.__enter__()
            self.job = self.bar.add_task(
                self.label, total=self.total, completed=self.completed, ok_rate="-", tps="-"
            )
        return self

    def advance(self, counts: EpisodeCounts) -> None:
        if self.bar is None:
            return
        elapsed = max(time.monotonic() - self.started, 1e-6)
        self.bar.update(
            self.job,
            advance=1,
            ok_rate=f"{counts.succeeded / max(counts.written, 1):.0%}",
            tps=f"{counts.completion_tokens / elapsed:.0f}",
        )

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)
