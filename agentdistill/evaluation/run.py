"""``run_eval``: load tasks, model, solver and judge from an :class:`EvalConfig`, run, report.

The CLI and recipes call this; tests and notebooks may pass their own model, solver or judge instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from agentdistill.agents.solvers import Solver, SolverContext, get_solver_factory
from agentdistill.config import to_dict
from agentdistill.errors import AgentDistillError
from agentdistill.evaluation.config import EvalConfig
from agentdistill.evaluation.runner import EvalResult, evaluate
from agentdistill.models.base import ChatModel
from agentdistill.schema import Task

BENCHMARKS_EXAMPLE = "hotpotqa[:50],gsm8k[:50]"


def load_eval_tasks(config: EvalConfig) -> list[Task]:
    """All tasks of the config's benchmarks, in order; a spec listed twice is read once."""
    return config.benchmarks.load(flag="--benchmarks", example=BENCHMARKS_EXAMPLE, what="benchmarks")


def run_eval(
    config: EvalConfig,
    *,
    model: ChatModel | None = None,
    solver: Solver | None = None,
    judge: Any = None,
    progress: bool = True,
    tasks: list[Task] | None = None,
) -> EvalResult:
    """Run (or resume) one evaluation and write its predictions, metrics, table, manifest and plots.

    ``tasks`` replaces the config's benchmark specs (the pipeline evaluates a student on its training
    pool this way). Stored predictions of other settings (model checkpoint, agent settings, prompts,
    mode...) are never reused: the run refuses, saying what changed, unless ``config.overwrite`` replaces
    them; this is checked before any model loads.
    """
    tasks = load_eval_tasks(config) if tasks is None else tasks
    if config.baseline and not (Path(config.baseline) / "metrics.json").is_file():
        raise AgentDistillError(f"baseline {config.baseline} is not a finished eval run (no metrics.json)")
    if solver is None:
        get_solver_factory(config.mode)  # an unavailable mode fails before a model loads
    with contextlib.ExitStack() as stack:

        def open_judge() -> Any:
            """The judge, loaded once the predictions are there (a stale folder is refused before)."""
            if judge is not None or config.judge is None:
                return judge
            from agentdistill.evaluation.judge import JudgePrompt, load_judge

            prompt = JudgePrompt.load(config.judge_prompt) if config.judge_prompt else None
            loaded = load_judge(config.judge, cache_path=config.judge_cache, prompt=prompt)
            stack.callback(loaded.close)
            return loaded

        return _evaluate(config, tasks, _solver_source(config, model, solver), open_judge, progress)


def _solver_source(config: EvalConfig, model: ChatModel | None, solver: Solver | None) -> Any:
    """Opens the evaluated mode's solver (loading the model, or starting its server) when a task is left."""

    @contextlib.asynccontextmanager
    async def source() -> AsyncIterator[Solver]:
        if solver is not None:
            yield solver
            return
        with contextlib.ExitStack() as stack:
            chosen = model
            if chosen is None:
                from agentdistill.models.loading import open_chat_model

                chosen = await asyncio.to_thread(stack.enter_context, open_chat_model(config.model))
            yield get_solver_factory(config.mode)(solver_context(config, chosen))

    return source


def solver_context(config: EvalConfig, model: ChatModel) -> SolverContext:
    """What the evaluated mode's solver is built from: the config's agent, sandbox and retrieval."""
    return SolverContext(
        model=model,
        model_spec=config.model.spec,
        role=config.role,
        agent=config.agent,
        sandbox=config.sandbox,
        retrieval=config.retrieval,
    )


def eval_settings(config: EvalConfig) -> dict[str, Any]:
    """What decides a prediction (fingerprinted; kept in ``manifest.json`` to say what changed)."""
    from agentdistill.fingerprints import episode_settings, model_identity

    return {
        "model": model_identity(config.model.spec),
        "role": config.role,
        **episode_settings(config.mode, config.agent, config.retrieval, config.sandbox),
    }


def _evaluate(
    config: EvalConfig, tasks: list[Task], source: Any, open_judge: Callable[[], Any], progress: bool
) -> EvalResult:
    out = Path(config.out)
    info = {
        "name": config.name or out.name,
        "agent": config.model.spec,
        "mode": config.mode,
        "sag": config.agent.n_candidates,
    }
    if config.judge is not None:
        info["judge"] = config.judge.spec
    result = asyncio.run(
        evaluate(
            tasks,
            None,
            out,
            open_solver=source,
            concurrency=config.concurrency,
            executor=config.executor,
            open_judge=open_judge,
            run_info=info,
            progress=progress,
            model_name=config.model.spec,
            settings=eval_settings(config),
            config=to_dict(config),
            replace=config.overwrite,
        )
    )
    if config.baseline:
        result = _compare_with_baseline(result, Path(config.baseline), info["name"])
    if config.plots:
        from agentdistill.evaluation.report import write_report

        write_report([out], out / "plots", names=[info["name"]])
    return result


def _compare_with_baseline(result: EvalResult, baseline: Path, name: str) -> EvalResult:
    """Add the paired comparison with a baseline run to the result's metrics.json and table."""
    from agentdistill.evaluation.report import differences, load_run, render_differences
    from agentdistill.evaluation.runner import METRICS, TABLE

    base, this = load_run(baseline), load_run(result.out_dir, name)
    if base.name == this.name:
        base.name = f"{base.name} (baseline)"
    diffs = differences([base, this], base)
    labels = list(result.metrics["benchmarks"])
    table = result.table + render_differences(diffs, base.name, labels)
    metrics = {**result.metrics, "baseline": str(baseline), "differences": diffs[this.name]}
    (result.out_dir / METRICS).write_text(
        json.dumps(metrics, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (result.out_dir / TABLE).write_text(table, encoding="utf-8")
    return dataclasses.replace(result, metrics=metrics, table=table)
