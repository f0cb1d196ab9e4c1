"""``agentdistill generate``: teacher episodes over a task set, streamed to shards, resumable.

Episodes run through the episode engine (``concurrency`` in flight, :mod:`agentdistill.episodes.engine`)
against one model object, so an ``openai:`` teacher gets that many concurrent requests and an ``hf:``
teacher batches them; the stored run (:mod:`agentdistill.episodes.runs`) appends each finished episode to
the run's shard at once, stamped with the fingerprint of its settings and task, and a rerun resumes. An
episode that fails is stored with ``status: failed`` and its error; the run goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from agentdistill.config import to_dict
from agentdistill.episodes.engine import Episode, EpisodeEngine, Solver
from agentdistill.episodes.generate_config import GenerateConfig
from agentdistill.episodes.runs import RunSummary, StoredRun
from agentdistill.errors import AgentDistillError
from agentdistill.schema import Task, Trajectory

TASKS_EXAMPLE = "gsm8k[:20] or hotpotqa:train[:100]"


def load_task_list(config: GenerateConfig) -> list[Task]:
    """The tasks of all specs, in order, with duplicate ids (same task named twice) dropped."""
    return config.tasks.load(flag="--tasks", example=TASKS_EXAMPLE)


@contextlib.asynccontextmanager
async def _models(config: GenerateConfig) -> AsyncIterator[tuple[Any, Any]]:
    """The teacher (and student) models, served by vLLM for the run if the config asks."""
    from agentdistill.models.loading import open_chat_model

    with contextlib.ExitStack() as stack:
        teacher = await asyncio.to_thread(stack.enter_context, open_chat_model(config.teacher))
        student = None
        if config.student is not None:
            student = await asyncio.to_thread(stack.enter_context, open_chat_model(config.student))
        yield teacher, student


def build_solver(config: GenerateConfig, teacher: Any, student: Any) -> Solver:
    """The registered solver of ``config.mode``: with reflection source ``student`` the student acts and the
    teacher checks it; otherwise the teacher acts. Host tools are built when a task first needs them."""
    from agentdistill.agents.solvers import SolverContext, make_solver

    acting_student = config.mode == "agent" and config.agent.reflection == "student"
    if acting_student and student is None:
        raise AgentDistillError(
            "--reflection student needs --student SPEC (the model whose rollouts are checked)"
        )
    context = SolverContext(
        model=student if acting_student else teacher,
        model_spec=(config.student.spec if acting_student and config.student else config.teacher.spec),
        role="student" if acting_student else "teacher",
        agent=config.agent,
        sandbox=config.sandbox,
        retrieval=config.retrieval,
        teacher=teacher if acting_student else None,
        cache_dir=str(config.out),
    )
    return make_solver(config.mode, context)


def generation_settings(config: GenerateConfig) -> dict[str, Any]:
    """What decides an episode's content (fingerprinted; kept in the manifest to say what changed)."""
    from agentdistill.fingerprints import episode_settings, model_identity

    agent = config.agent
    student = config.student if agent.reflection == "student" and config.student is not None else None
    return {
        "teacher": model_identity(config.teacher.spec),
        "student": model_identity(student.spec) if student is not None else None,
        **episode_settings(config.mode, agent, config.retrieval, config.sandbox),
    }


def with_score(episode: Episode, trajectory: Trajectory) -> Trajectory:
    """A finished episode scored by the task's metric when its solver left the score out."""
    if trajectory.score is None and trajectory.final_answer is not None and episode.task.answer is not None:
        from agentdistill.tasks.metrics import score

        trajectory = trajectory.model_copy(
            update={"score": float(score(episode.task, trajectory.final_answer)["score"])}
        )
    return trajectory


async def agenerate(
    config: GenerateConfig,
    *,
    progress: bool = True,
    tasks: list[Task] | None = None,
    samples: dict[str, int] | None = None,
    first_sample: dict[str, int] | None = None,
    provenance: dict[str, Any] | None = None,
) -> RunSummary:
    """Run (or resume) a generation run; see the module docstring.

    ``tasks`` replaces the config's task specs, ``samples`` gives some tasks another number of episodes
    than ``samples_per_task`` (the pipeline's failure boost), ``first_sample`` numbers a task's episodes
    from there on (so a later round's episodes are new samples, with their own ids and seeds), and
    ``provenance`` is merged into every new record's metadata (the pipeline records ``round`` and
    ``teacher``).
    """
    tasks = load_task_list(config) if tasks is None else tasks
    start = first_sample or {}
    episodes = [
        Episode(f"{t.id}#{k}", t, k)
        for t in tasks
        for k in range(
            start.get(t.id, 0), start.get(t.id, 0) + (samples or {}).get(t.id, config.samples_per_task)
        )
    ]
    run = StoredRun(
        Path(config.out),
        settings=generation_settings(config),
        config=to_dict(config),
        purpose="generate",
        overwrite=config.overwrite,
        retry_failed=config.retry_failed,
    )

    @contextlib.asynccontextmanager
    async def solver() -> AsyncIterator[Solver]:
        async with _models(config) as (teacher, student):
            yield build_solver(config, teacher, student)

    engine = EpisodeEngine(
        concurrency=config.concurrency, executor=config.executor, progress=progress, label="generate"
    )
    return await run.run(episodes, solver, engine, finish=with_score, metadata=provenance)


def generate(config: GenerateConfig, *, progress: bool = True, **options: Any) -> RunSummary:
    """Synchronous :func:`agenerate`."""
    return asyncio.run(agenerate(config, progress=progress, **options))
