"""The evaluation runner: tasks x solver -> predictions (trajectories), metrics, a Markdown table.

Trajectories are appended to ``predictions.jsonl`` as each task finishes (by the folder's one writer, which
holds its lock), stamped with the fingerprint of the settings and task that made them, so a killed run
loses only the tasks in flight. A rerun skips tasks whose prediction has the current fingerprint and
retries failed ones, so nothing is duplicated and a finished run makes no model calls at all; predictions
of other settings are refused, or replaced when allowed, never reused. Metrics are recomputed from the
file, never kept in memory only.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from agentdistill.agents.solvers import Solver
from agentdistill.errors import AgentDistillError, failure_kind
from agentdistill.evaluation.summary import aggregate, render_run_table
from agentdistill.schema import AgentInfo, Task, Trajectory
from agentdistill.tasks.metrics import score
from agentdistill.trajectories.store import TrajectoryStore, iter_trajectories

PREDICTIONS = "predictions.jsonl"
METRICS = "metrics.json"
TABLE = "results.md"
JUDGEMENTS = "judgements.jsonl"


@dataclasses.dataclass
class EvalResult:
    """What a run produced: its folder, the metrics dict, and counts for this invocation."""

    out_dir: Path
    metrics: dict[str, Any]
    table: str
    solved: int
    """Tasks solved in this invocation (0 on a rerun of a finished run)."""
    skipped: int
    """Tasks already in ``predictions.jsonl``."""
    transient: int = 0
    """Tasks of this invocation that failed because a server or sandbox was unavailable (retried by a rerun)."""


def read_predictions(path: Path) -> dict[str, Trajectory]:
    """The newest prediction per task id (a torn last line, from a kill mid-write, is skipped)."""
    if not path.exists():
        return {}
    return {t.task.id: t for t in iter_trajectories(path)}


def failed_trajectory(task: Task, error: BaseException, model: str = "") -> Trajectory:
    """The record of a task whose solver raised: kept so the run goes on, retried on resume."""
    return Trajectory(
        id=task.id,
        task=task,
        agent=AgentInfo(model=model),
        messages=[],
        status="failed",
        error=f"{type(error).__name__}: {error}",
        failure=failure_kind(error),  # type: ignore[arg-type]
    )


def scored(traj: Trajectory) -> Trajectory:
    """Set ``score`` and ``metadata["metrics"]`` with the same :func:`score` filtering uses."""
    result = (
        score(traj.task, traj.final_answer) if traj.status != "failed" else {"score": 0.0, "correct": False}
    )
    traj.score = float(result["score"])
    traj.metadata = {**traj.metadata, "metrics": result}
    return traj


async def evaluate(
    tasks: Sequence[Task],
    solver: Solver,
    out_dir: str | Path,
    *,
    concurrency: int = 4,
    judge: Any = None,
    run_info: dict[str, Any] | None = None,
    progress: bool = True,
    model_name: str = "",
    fingerprint: Callable[[Task], str] | None = None,
    replace: bool = False,
    changes: Sequence[str] = (),
) -> EvalResult:
    """Solve every task not yet in ``out_dir``, then write metrics and the table for all of them.

    ``fingerprint(task)`` is stamped on each prediction and decides which stored ones are reused; stored
    predictions of other fingerprints raise a ``StaleResultsError`` (naming ``changes``) unless
    ``replace``. Failed predictions are always retried.
    """
    if concurrency < 1:
        raise AgentDistillError(f"concurrency must be at least 1, got {concurrency}")
    out = Path(out_dir)
    unique = list({t.id: t for t in tasks}.values())
    stamp = fingerprint or (lambda task: None)
    expected = {t.id: stamp(t) for t in unique}
    started = time.perf_counter()
    with TrajectoryStore(out, file=PREDICTIONS, purpose="eval") as store:
        store.reconcile(expected, replace=replace, changes=list(changes))  # type: ignore[arg-type]
        if any(r.status == "failed" for r in store.records.values()):
            store.compact(lambda r: r.status != "failed")  # retried below; the file keeps one record each
        todo = [t for t in unique if not store.is_done(t.id, expected[t.id])]  # type: ignore[arg-type]
        skipped = len(unique) - len(todo)
        new: list[Trajectory] = []
        lock = asyncio.Lock()
        semaphore = asyncio.Semaphore(concurrency)

        with _progress(progress, len(todo)) as (bar, bar_task):

            async def run_one(task: Task) -> None:
                async with semaphore:
                    try:
                        traj = await solver(task)
                    except Exception as e:  # one task's failure is recorded, never fatal to the run
                        traj = failed_trajectory(task, e, model_name)
                traj = scored(
                    traj.model_copy(update={"id": task.id, "task": task, "fingerprint": expected[task.id]})
                )
                async with lock:
                    store.append(traj)
                    new.append(traj)
                    if bar is not None:
                        bar.advance(bar_task)

            await asyncio.gather(*(run_one(t) for t in todo))

    done = read_predictions(out / PREDICTIONS)
    trajectories = [done[t.id] for t in unique]
    judge_results = await _judge(trajectories, judge, out) if judge is not None else None
    metrics = aggregate(trajectories, judge_results)
    metrics["run"] = {
        **(run_info or {}),
        "tasks": len(unique),
        "solved_this_invocation": len(todo),
        "wall_time_s": round(time.perf_counter() - started, 3),
    }
    table = render_run_table(metrics)
    (out / METRICS).write_text(json.dumps(metrics, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (out / TABLE).write_text(table, encoding="utf-8")
    if new and len(new) == len(unique) and all(t.status == "failed" for t in new):  # a server that is down
        raise AgentDistillError(
            f"all {len(new)} tasks failed (recorded in {out / PREDICTIONS}; a rerun retries them); first error: "
            f"{new[0].error}"
        )
    transient = sum(t.failure == "transient" for t in new)
    return EvalResult(out, metrics, table, solved=len(todo), skipped=skipped, transient=transient)


async def _judge(trajectories: Sequence[Trajectory], judge: Any, out: Path) -> dict[str, dict[str, Any]]:
    """Judge verdicts for QA trajectories (math is scored by math-verify), by task id."""
    qa = [t for t in trajectories if t.task.domain == "qa" and t.task.answer is not None]
    verdicts = await judge.ajudge_many([(t.task.question, t.task.answer, t.final_answer) for t in qa])
    results = {
        t.task.id: {
            "correct": v.correct,
            "cached": v.cached,
            "em": (t.metadata.get("metrics") or {}).get("em", 0.0),
        }
        for t, v in zip(qa, verdicts, strict=True)
    }
    with (out / JUDGEMENTS).open("w", encoding="utf-8") as f:
        for t, v in zip(qa, verdicts, strict=True):
            row = {"id": t.task.id, "prediction": t.final_answer, "gold": t.task.answer, "correct": v.correct}
            f.write(json.dumps({**row, "raw": v.raw}, ensure_ascii=False) + "\n")
    return results


@contextlib.contextmanager
def _progress(enabled: bool, total: int) -> Any:
    if not enabled or total == 0:
        yield None, None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn("eval"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), transient=False
    ) as bar:
        yield bar, bar.add_task("eval", total=total)
