"""``agentdistill generate``: many episodes in flight, streamed to shards, resumable.

Episodes run as asyncio tasks (``concurrency`` at once) against one model object, so an ``openai:``
teacher gets that many concurrent requests (spread over its replicas) and an ``hf:`` teacher batches
them. Each finished episode is appended to the run's shard at once, stamped with the fingerprint of the
settings and task that made it. A rerun skips the episodes stored with the current fingerprint, retries
those that failed because a server or sandbox went away (``failure: transient``; ``retry_failed`` retries
every failure), and refuses a folder of other settings unless ``overwrite`` replaces them. An episode
that fails is stored with ``status: failed`` and its error; the run goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from agentdistill.config import to_dict
from agentdistill.errors import AgentDistillError, failure_kind
from agentdistill.schema import Task, Trajectory
from agentdistill.tasks.metrics import is_success
from agentdistill.tasks.specs import check_distinct_files, load_tasks
from agentdistill.trajectories.config import GenerateConfig
from agentdistill.trajectories.manifest import record_run, update_last_run
from agentdistill.trajectories.store import TrajectoryStore

Solver = Callable[[Task, int], Awaitable[Trajectory]]


@dataclasses.dataclass
class GenerateSummary:
    """What a run did."""

    out: Path
    episodes: int
    """Episodes the task set asks for (tasks x samples)."""
    skipped: int
    """Already stored from an earlier run."""
    written: int
    succeeded: int
    """Written episodes with a correct answer (:func:`~agentdistill.tasks.metrics.is_success`)."""
    failed: int
    """Written episodes whose run itself failed (status failed)."""
    completion_tokens: int
    wall_time_s: float
    transient: int = 0
    """Of the failed, failures of the infrastructure (a server or sandbox outage): a rerun retries them."""
    replaced: int = 0
    """Stored records of other settings (or of tasks no longer asked for) removed by ``overwrite``."""


def load_task_list(config: GenerateConfig) -> list[Task]:
    """The tasks of all specs, in order, with duplicate ids (same task named twice) dropped."""
    if not config.tasks:
        raise AgentDistillError("no tasks given: pass --tasks SPEC (e.g. gsm8k[:20] or hotpotqa:train[:100])")
    check_distinct_files(config.tasks)
    seen: set[str] = set()
    tasks = []
    for spec in config.tasks:
        options = {"data_dir": config.data_dir, "seed": config.seed, "domain": config.domain}
        for task in load_tasks(spec, strict=config.strict_data, **options):
            if task.id not in seen:
                seen.add(task.id)
                tasks.append(task)
    return tasks


@contextlib.asynccontextmanager
async def _models(config: GenerateConfig):
    """The teacher (and student) models, served by vLLM for the run if the config asks."""
    from agentdistill.models.loading import open_chat_model

    with contextlib.ExitStack() as stack:
        teacher = await asyncio.to_thread(stack.enter_context, open_chat_model(config.teacher))
        student = None
        if config.student is not None:
            student = await asyncio.to_thread(stack.enter_context, open_chat_model(config.student))
        yield teacher, student


def build_solver(config: GenerateConfig, teacher: Any, student: Any) -> Solver:
    """The registered solver of ``config.mode`` that turns (task, sample k) into episode ``<task id>#<k>``.

    With reflection source ``student`` the student acts and the teacher checks it; otherwise the teacher
    acts. Host tools are built when a task first needs them.
    """
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
    solver = make_solver(config.mode, context)

    async def solve(task: Task, k: int) -> Trajectory:
        traj = await solver(task, sample=k)
        score = traj.score
        if score is None and traj.final_answer is not None and task.answer is not None:
            from agentdistill.tasks.metrics import score as score_fn

            score = float(score_fn(task, traj.final_answer)["score"])
        return traj.model_copy(update={"id": f"{task.id}#{k}", "score": score})

    return solve


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


async def agenerate(
    config: GenerateConfig,
    *,
    progress: bool = True,
    tasks: list[Task] | None = None,
    samples: dict[str, int] | None = None,
    first_sample: dict[str, int] | None = None,
    provenance: dict[str, Any] | None = None,
) -> GenerateSummary:
    """Run (or resume) a generation run; see the module docstring.

    Records of the current settings are reused; failures of the infrastructure (``failure: transient``)
    are retried; records made with other settings are refused unless ``config.overwrite`` replaces them.
    ``tasks`` replaces the config's task specs, ``samples`` gives some tasks another number of episodes
    than ``samples_per_task`` (the pipeline's failure boost), ``first_sample`` numbers a task's episodes
    from there on (so a later round's episodes are new samples, with their own ids and seeds), and
    ``provenance`` is merged into every new record's metadata (the pipeline records ``round`` and
    ``teacher``).
    """
    from agentdistill.fingerprints import describe_changes, digest, previous_settings, record_fingerprint

    out = Path(config.out)
    tasks = load_task_list(config) if tasks is None else tasks
    counts_per_task = {t.id: (samples or {}).get(t.id, config.samples_per_task) for t in tasks}
    start = first_sample or {}
    episodes = [
        (t, k) for t in tasks for k in range(start.get(t.id, 0), start.get(t.id, 0) + counts_per_task[t.id])
    ]
    settings = generation_settings(config)
    settings_digest = digest(settings)
    expected = {f"{t.id}#{k}": record_fingerprint(settings_digest, t) for t, k in episodes}
    started = time.monotonic()
    with TrajectoryStore(out, purpose="generate") as store:
        changes = describe_changes(previous_settings(out / "manifest.json") or {}, settings)
        replaced = store.reconcile(expected, replace=config.overwrite, changes=changes)
        todo = [
            (t, k)
            for t, k in episodes
            if not store.is_done(f"{t.id}#{k}", expected[f"{t.id}#{k}"], retry_failed=config.retry_failed)
        ]
        record_run(out, to_dict(config), settings=settings, settings_digest=settings_digest,
                   episodes=len(episodes), skipped=len(episodes) - len(todo), replaced=replaced,
                   shard=store.shard.name)  # fmt: skip
        counts = {"written": 0, "ok": 0, "failed": 0, "transient": 0, "tokens": 0}
        if todo:
            async with _models(config) as (teacher, student):
                solve = build_solver(config, teacher, student)
                extra = dict(provenance or {})

                def stamp(traj: Trajectory) -> Trajectory:
                    metadata = {**traj.metadata, **extra}
                    return traj.model_copy(update={"fingerprint": expected[traj.id], "metadata": metadata})

                await _run_all(
                    todo, solve, store, config.concurrency, counts, progress, len(episodes) - len(todo), stamp
                )
        summary = GenerateSummary(
            out=out,
            episodes=len(episodes),
            skipped=len(episodes) - len(todo),
            written=counts["written"],
            succeeded=counts["ok"],
            failed=counts["failed"],
            transient=counts["transient"],
            replaced=replaced,
            completion_tokens=counts["tokens"],
            wall_time_s=round(time.monotonic() - started, 2),
        )
        facts = {**dataclasses.asdict(summary), "out": str(out)}
        update_last_run(out, finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"), **facts)  # still the writer
    return summary


def generate(config: GenerateConfig, *, progress: bool = True, **options: Any) -> GenerateSummary:
    """Synchronous :func:`agenerate`."""
    return asyncio.run(agenerate(config, progress=progress, **options))


async def _run_all(
    todo: list[tuple[Task, int]],
    solve: Solver,
    store: TrajectoryStore,
    concurrency: int,
    counts: dict[str, int],
    show: bool,
    already: int,
    stamp: Callable[[Trajectory], Trajectory] = lambda t: t,
) -> None:
    sem = asyncio.Semaphore(max(1, concurrency))
    columns = (
        TextColumn("[bold]generate"), BarColumn(), MofNCompleteColumn(),
        TextColumn("ok {task.fields[ok_rate]}"), TextColumn("{task.fields[tps]} tok/s"),
        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
    )  # fmt: skip
    start = time.monotonic()
    with Progress(*columns, disable=not show, transient=False) as bar:
        job = bar.add_task("episodes", total=len(todo) + already, completed=already, ok_rate="-", tps="-")

        async def one(task: Task, k: int) -> None:
            async with sem:
                try:
                    traj = await solve(task, k)
                except Exception as e:  # a solver bug must not sink the run: record it
                    traj = _failed(task, k, e)
            traj = stamp(traj)
            store.append(traj)
            counts["written"] += 1
            counts["ok"] += int(is_success(traj.score))
            counts["failed"] += int(traj.status == "failed")
            counts["transient"] += int(traj.failure == "transient")
            counts["tokens"] += traj.stats.completion_tokens
            elapsed = max(time.monotonic() - start, 1e-6)
            bar.update(job, advance=1, ok_rate=f"{counts['ok'] / counts['written']:.0%}",
                       tps=f"{counts['tokens'] / elapsed:.0f}")  # fmt: skip

        await asyncio.gather(*(one(t, k) for t, k in todo))


def _failed(task: Task, k: int, error: Exception) -> Trajectory:
    from agentdistill.schema import AgentInfo

    return Trajectory(
        id=f"{task.id}#{k}",
        task=task,
        agent=AgentInfo(model="unknown"),
        messages=[],
        status="failed",
        error=f"{type(error).__name__}: {error}",
        failure=failure_kind(error),  # type: ignore[arg-type]
    )
