"""``agentdistill generate``: many episodes in flight, streamed to shards, resumable.

Episodes run as asyncio tasks (``concurrency`` at once) against one model object, so an ``openai:``
teacher gets that many concurrent requests (spread over its replicas) and an ``hf:`` teacher batches
them. Each finished episode is appended to the run's shard at once; a rerun skips the ids already
stored. An episode that fails is stored with ``status: failed`` and its error; the run goes on.
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
from agentdistill.errors import AgentDistillError
from agentdistill.schema import Task, Trajectory
from agentdistill.trajectories.config import GenerateConfig
from agentdistill.trajectories.manifest import record_run, update_last_run
from agentdistill.trajectories.store import SHARD_GLOB, TrajectoryStore

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
    """Written episodes with a correct answer (score >= 0.5)."""
    failed: int
    """Written episodes whose run itself failed (status failed)."""
    completion_tokens: int
    wall_time_s: float


def load_task_list(config: GenerateConfig) -> list[Task]:
    """The tasks of all specs, in order, with duplicate ids (same task named twice) dropped."""
    from agentdistill.evaluation.tasks import load_tasks

    if not config.tasks:
        raise AgentDistillError("no tasks given: pass --tasks SPEC (e.g. gsm8k[:20] or hotpotqa:train[:100])")
    seen: set[str] = set()
    tasks = []
    for spec in config.tasks:
        for task in load_tasks(spec, data_dir=config.data_dir, seed=config.seed, domain=config.domain):
            if task.id not in seen:
                seen.add(task.id)
                tasks.append(task)
    return tasks


def web_search_tool(config: GenerateConfig) -> Any:
    """The ``web_search`` tool over the configured index (built on first use for ``demo``)."""
    from agentdistill.tools.retriever import IndexRetriever
    from agentdistill.tools.search_tool import make_web_search

    retriever = IndexRetriever.from_config(config.retrieval)
    return make_web_search(retriever, k=config.retrieval.k, max_chars=config.retrieval.max_chars)


@contextlib.asynccontextmanager
async def _models(config: GenerateConfig):
    """The teacher (and student) models, served by vLLM for the run if the config asks."""
    from agentdistill.models.specs import open_chat_model

    with contextlib.ExitStack() as stack:
        teacher = await asyncio.to_thread(stack.enter_context, open_chat_model(config.teacher))
        student = None
        if config.student is not None:
            student = await asyncio.to_thread(stack.enter_context, open_chat_model(config.student))
        yield teacher, student


def build_solver(config: GenerateConfig, teacher: Any, student: Any, tasks: list[Task]) -> Solver:
    """The function that turns a task into a trajectory for the configured mode."""
    needs_search = any(t.domain == "qa" for t in tasks)
    if config.mode == "agent":
        from agentdistill.agents.codeact import CodeActAgent

        tools = {"web_search": web_search_tool(config)} if needs_search else {}
        if config.agent.reflection == "student":
            if student is None:
                raise AgentDistillError(
                    "--reflection student needs --student SPEC (the model whose rollouts are checked)"
                )
            agent = CodeActAgent(
                student, config.agent, sandbox=config.sandbox, tools=tools, teacher=teacher, role="student"
            )
        else:
            agent = CodeActAgent(teacher, config.agent, sandbox=config.sandbox, tools=tools, role="teacher")
        return lambda task, k: agent.arun(task, sample=k)
    from agentdistill.evaluation.solvers import SolverContext, make_solver
    from agentdistill.models.base import GenerationParams

    retriever = None
    if config.mode == "cot-rag":
        from agentdistill.tools.retriever import IndexRetriever

        retriever = IndexRetriever.from_config(config.retrieval)
    cfg = config.agent
    context = SolverContext(
        model=teacher,
        model_spec=config.teacher.spec,
        role="teacher",
        params=GenerationParams(max_tokens=cfg.max_tokens, temperature=cfg.temperature, top_p=cfg.top_p),
        retriever=retriever,
        top_k=config.retrieval.k,
    )
    per_sample: dict[int, Any] = {}

    async def solve(task: Task, k: int) -> Trajectory:
        if k not in per_sample:  # sample k draws with its own seed
            per_sample[k] = make_solver(config.mode, dataclasses.replace(context, seed=config.seed + k))
        traj = await per_sample[k](task)
        score = traj.score
        if score is None and traj.final_answer is not None and task.answer is not None:
            from agentdistill.evaluation.metrics import score as score_fn

            score = float(score_fn(task, traj.final_answer)["score"])
        return traj.model_copy(update={"id": f"{task.id}#{k}", "score": score})

    return solve


async def agenerate(config: GenerateConfig, *, progress: bool = True) -> GenerateSummary:
    """Run (or resume) a generation run; see the module docstring."""
    out = Path(config.out)
    if config.overwrite and out.exists():
        for shard in out.glob(SHARD_GLOB):
            shard.unlink()
    tasks = load_task_list(config)
    episodes = [(t, k) for t in tasks for k in range(config.samples_per_task)]
    started = time.monotonic()
    with TrajectoryStore(out) as store:
        todo = [(t, k) for t, k in episodes if f"{t.id}#{k}" not in store.done]
        record_run(out, to_dict(config), episodes=len(episodes), skipped=len(episodes) - len(todo),
                   shard=store.shard.name)  # fmt: skip
        counts = {"written": 0, "ok": 0, "failed": 0, "tokens": 0}
        if todo:
            async with _models(config) as (teacher, student):
                solve = build_solver(config, teacher, student, tasks)
                await _run_all(
                    todo, solve, store, config.concurrency, counts, progress, len(episodes) - len(todo)
                )
    summary = GenerateSummary(
        out=out,
        episodes=len(episodes),
        skipped=len(episodes) - len(todo),
        written=counts["written"],
        succeeded=counts["ok"],
        failed=counts["failed"],
        completion_tokens=counts["tokens"],
        wall_time_s=round(time.monotonic() - started, 2),
    )
    facts = {**dataclasses.asdict(summary), "out": str(out)}
    update_last_run(out, finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"), **facts)
    return summary


def generate(config: GenerateConfig, *, progress: bool = True) -> GenerateSummary:
    """Synchronous :func:`agenerate`."""
    return asyncio.run(agenerate(config, progress=progress))


async def _run_all(
    todo: list[tuple[Task, int]],
    solve: Solver,
    store: TrajectoryStore,
    concurrency: int,
    counts: dict[str, int],
    show: bool,
    already: int,
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
            store.append(traj)
            counts["written"] += 1
            counts["ok"] += int((traj.score or 0) >= 0.5)
            counts["failed"] += int(traj.status == "failed")
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
    )
