"""Where episodes run: the executor seam of the episode engine.

An executor takes the episodes of a run and a coroutine that plays one, runs them ``concurrency`` at a time,
and hands each finished trajectory to ``done`` as it arrives (the run's one writer stores it at once). The
engine has already made ``play`` total (an episode that raises becomes a failed record), so an executor
only schedules. Today's executor is ``local``: an asyncio pool in this process, which batches the model
calls of the episodes in flight. A distributed executor registers here under its own name and is chosen
with ``executor: <name>`` in the generate, eval and RL configs::

    from agentdistill.episodes.executors import EXECUTORS
    EXECUTORS.register("mine", "my_pkg.executors:MyExecutor")   # MyExecutor(config: ExecutorConfig)
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ClassVar, Protocol, TypeVar

from agentdistill.config import FieldError
from agentdistill.errors import AgentDistillError
from agentdistill.registry import Registry

E = TypeVar("E")
"""An episode (:class:`~agentdistill.episodes.engine.Episode`): executors only hand it back."""
T = TypeVar("T")
"""What playing one gives (a trajectory)."""


class Executor(Protocol):
    """Runs episodes: ``await executor.run(episodes, play, done, concurrency=n)``."""

    name: str

    async def run(
        self,
        episodes: Sequence[Any],
        play: Callable[[Any], Awaitable[Any]],
        done: Callable[[Any, Any], None],
        *,
        concurrency: int,
    ) -> None: ...


class LocalExecutor:
    """Episodes as asyncio tasks in this process, ``concurrency`` in flight at once."""

    name = "local"

    def __init__(self, config: ExecutorConfig | None = None) -> None:
        self.config = config or ExecutorConfig()

    async def run(
        self,
        episodes: Sequence[E],
        play: Callable[[E], Awaitable[T]],
        done: Callable[[E, T], None],
        *,
        concurrency: int,
    ) -> None:
        gate = asyncio.Semaphore(max(1, concurrency))

        async def one(episode: E) -> None:
            async with gate:
                trajectory = await play(episode)
            done(episode, trajectory)

        await asyncio.gather(*(one(e) for e in episodes))


EXECUTORS: Registry[Callable[[ExecutorConfig], Executor]] = Registry(
    "executor", {"local": LocalExecutor}, error=AgentDistillError
)
"""Executor name -> factory ``(ExecutorConfig) -> Executor``."""


@dataclasses.dataclass
class ExecutorConfig:
    """Where a stage's episodes run. In YAML the name alone is the short form (``executor: local``)."""

    SHORTHAND: ClassVar[str] = "name"

    name: str = "local"
    """A registered executor: ``local`` (asyncio tasks in this process)."""

    def __post_init__(self) -> None:
        if self.name not in EXECUTORS:
            raise FieldError("name", str(EXECUTORS.unknown(self.name)))

    def build(self) -> Executor:
        """A fresh executor of this kind."""
        return EXECUTORS.get(self.name)(self)
