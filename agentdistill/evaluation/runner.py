"""The evaluation runner: tasks x solver -> predictions (trajectories), metrics, a Markdown table.

Tasks are played through the episode engine as a stored run (:mod:`agentdistill.episodes.runs`):
predictions are appended to ``predictions.jsonl`` as each task finishes (by the folder's one writer, which
holds its lock), stamped with the fingerprint of the settings and task that made them, so a killed run
loses only the tasks in flight. A rerun skips tasks whose prediction has the current fingerprint and
retries failed ones, so nothing is duplicated and a finished run makes no model calls at all; predictions
of other settings are refused, or replaced when allowed, never reused. Metrics are recomputed from the
file, never kept in memory only.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from agentdistill.episodes.engine import Episode, EpisodeEngine, Solver
from agentdistill.episodes.executors import ExecutorConfig
from agentdistill.episodes.runs import SolverSource, StoredRun
from agentdistill.errors import AgentDistillError
from agentdistill.evaluation.summary import aggregate, render_run_table
from agentdistill.schema import Task, Trajectory
from agentdistill.tasks.metrics import score
from agentdistill.trajectories.store import iter_trajectories

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
    solver: Solver | None,
    out_dir: str | Path,
    *,
    open_solver: SolverSource | None = None,
    concurrency: int = 4,
    executor: ExecutorConfig | None = None,
    judge: Any = None,
    open_judge: Callable[[], Any] | None = None,
    run_info: dict[str, Any] | None = None,
    progress: bool = True,
    model_name: str = "",
    settings: dict[str, Any] | None = None,
    config: dict[str, Any] | None = None,
    replace: bool = False,
) -> EvalResult:
    """Solve every task not yet in ``out_dir``, then write metrics and the table for all of them.

    ``open_solver`` instead of ``solver`` opens one (loads the model) only when a task is left to solve;
    ``open_judge`` instead of ``judge`` loads the judge once the predictions are stored.
    ``settings`` (what decides a prediction) are fingerprinted on each prediction and decide which stored
    ones are reused; stored predictions of other settings raise a ``StaleResultsError`` saying what changed
    unless ``replace``. Failed predictions are always retried. ``config`` is recorded in the manifest.
    """
    if concurrency < 1:
        raise AgentDistillError(f"concurrency must be at least 1, got {concurrency}")
    out = Path(out_dir)
    unique = list({t.id: t for t in tasks}.values())
    run = StoredRun(
        out,
        settings=settings or {},
        config=config or {},
        purpose="eval",
        file=PREDICTIONS,
        overwrite=replace,
        retry_failed=True,
    )
    engine = EpisodeEngine(
        concurrency=concurrency, executor=executor, progress=progress, label="eval", model_name=model_name
    )
    if open_solver is None:
        if solver is None:
            raise AgentDistillError("evaluate: give a solver or open_solver")
        open_solver = _opened(solver)
    summary = await run.run(
        [Episode(t.id, t) for t in unique], open_solver, engine, finish=lambda e, t: scored(t)
    )

    done = read_predictions(out / PREDICTIONS)
    trajectories = [done[t.id] for t in unique]
    if judge is None and open_judge is not None:
        judge = open_judge()
    judge_results = await _judge(trajectories, judge, out) if judge is not None else None
    metrics = aggregate(trajectories, judge_results)
    metrics["run"] = {
        **(run_info or {}),
        "tasks": len(unique),
        "solved_this_invocation": summary.written,
        "wall_time_s": summary.wall_time_s,
    }
    table = render_run_table(metrics)
    (out / METRICS).write_text(json.dumps(metrics, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (out / TABLE).write_text(table, encoding="utf-8")
    if summary.written and summary.written == len(unique) and summary.failed == summary.written:
        first = next(t for t in trajectories if t.status == "failed")  # a server that is down
        raise AgentDistillError(
            f"all {summary.written} tasks failed (recorded in {out / PREDICTIONS}; a rerun retries them); "
            f"first error: {first.error}"
        )
    return EvalResult(
        out, metrics, table, solved=summary.written, skipped=summary.skipped, transient=summary.transient
    )


def _opened(solver: Solver) -> SolverSource:
    """A ready solver as a source (nothing to open)."""

    @contextlib.asynccontextmanager
    async def source() -> Any:
        yield solver

    return source


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
