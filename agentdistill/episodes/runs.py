"""A stored run: episodes played into a folder that a rerun resumes (generation and evaluation alike).

Each finished episode is appended at once by the folder's one writer (:class:`TrajectoryStore`, which holds
its lock), stamped with the fingerprint of the settings and task that made it. A rerun skips the episodes
stored with the current fingerprint, retries those that failed because a server or sandbox went away
(``failure: transient``; ``retry_failed`` retries every failure), and refuses a folder of other settings,
saying what changed, unless ``overwrite`` replaces them. ``manifest.json`` records every run: its config,
the fingerprinted settings, package versions and what it did.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agentdistill.episodes.engine import Episode, EpisodeEngine, Finish, Solver
from agentdistill.episodes.manifest import MANIFEST, record_run, update_last_run
from agentdistill.schema import Trajectory
from agentdistill.trajectories.store import TrajectoryStore

SolverSource = Callable[[], contextlib.AbstractAsyncContextManager[Solver]]
"""Opens what plays the episodes (loads models, starts servers) only when some episode is left to play."""


@dataclasses.dataclass
class RunSummary:
    """What one invocation of a stored run did."""

    out: Path
    episodes: int
    """Episodes the run asks for."""
    skipped: int
    """Already stored from an earlier invocation, with the current settings."""
    written: int
    succeeded: int
    """Written episodes with a correct answer."""
    failed: int
    """Written episodes whose run itself failed (status failed)."""
    completion_tokens: int
    wall_time_s: float
    transient: int = 0
    """Of the failed, failures of the infrastructure (a server or sandbox outage): a rerun retries them."""
    replaced: int = 0
    """Stored records of other settings (or of episodes no longer asked for) removed by ``overwrite``."""


@dataclasses.dataclass
class StoredRun:
    """Where and under which settings a run stores its episodes."""

    out: Path
    settings: dict[str, Any]
    """What decides an episode's content (model, agent, prompts, mode, index, sandbox limits): fingerprinted."""
    config: dict[str, Any]
    """The stage's whole config, recorded in the manifest."""
    purpose: str
    """Who writes (``generate``, ``eval``): named by the lock when a second writer is refused."""
    file: str | None = None
    """One JSONL file (``predictions.jsonl``) instead of shards."""
    overwrite: bool = False
    retry_failed: bool = False
    """Also retry episodes that failed permanently (the episode itself raised)."""

    def fingerprints(self, episodes: list[Episode]) -> dict[str, str]:
        """The fingerprint each episode's record must carry to be reused."""
        from agentdistill.fingerprints import digest, record_fingerprint

        settings_digest = digest(self.settings)
        return {e.id: record_fingerprint(settings_digest, e.task) for e in episodes}

    async def run(
        self,
        episodes: list[Episode],
        solver: SolverSource,
        engine: EpisodeEngine,
        *,
        finish: Finish | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> RunSummary:
        """Play the episodes not stored yet and store them; ``metadata`` is merged into every new record's
        (the pipeline records its round and teacher)."""
        from agentdistill.fingerprints import describe_changes, digest, previous_settings

        expected = self.fingerprints(episodes)
        extra = dict(metadata or {})

        def stamp(episode: Episode, trajectory: Trajectory) -> Trajectory:
            update: dict[str, Any] = {"fingerprint": expected[episode.id]}
            if extra:
                update["metadata"] = {**trajectory.metadata, **extra}
            trajectory = trajectory.model_copy(update=update)
            return finish(episode, trajectory) if finish is not None else trajectory

        started = time.monotonic()
        with TrajectoryStore(self.out, file=self.file, purpose=self.purpose) as store:
            changes = describe_changes(previous_settings(self.out / MANIFEST) or {}, self.settings)
            replaced = store.reconcile(expected, replace=self.overwrite, changes=changes)
            todo = [
                e for e in episodes if not store.is_done(e.id, expected[e.id], retry_failed=self.retry_failed)
            ]
            store.prepare_retry({e.id for e in todo})
            skipped = len(episodes) - len(todo)
            record_run(
                self.out,
                self.config,
                settings=self.settings,
                settings_digest=digest(self.settings),
                episodes=len(episodes),
                skipped=skipped,
                replaced=replaced,
                shard=store.shard.name,
            )
            if todo:
                async with solver() as solve:
                    await engine.play(todo, solve, finish=stamp, on_done=store.append, already=skipped)
            counts = engine.counts
            summary = RunSummary(
                out=self.out,
                episodes=len(episodes),
                skipped=skipped,
                written=counts.written,
                succeeded=counts.succeeded,
                failed=counts.failed,
                transient=counts.transient,
                replaced=replaced,
                completion_tokens=counts.completion_tokens,
                wall_time_s=round(time.monotonic() - started, 2),
            )
            facts = {**dataclasses.asdict(summary), "out": str(self.out)}
            update_last_run(
                self.out, finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"), **facts
            )  # still the writer
        return summary
