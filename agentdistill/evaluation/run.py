"""``run_eval``: load tasks, model, solver and judge from an :class:`EvalConfig`, run, report.

The CLI and recipes call this; tests and notebooks may pass their own model, solver or judge instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import platform
from pathlib import Path
from typing import Any

from agentdistill.agents.solvers import Solver, SolverContext, get_solver_factory
from agentdistill.errors import AgentDistillError
from agentdistill.evaluation.config import EvalConfig
from agentdistill.evaluation.runner import PREDICTIONS, EvalResult, evaluate
from agentdistill.models.base import ChatModel
from agentdistill.schema import Task
from agentdistill.tasks.specs import check_distinct_files, load_tasks


def load_eval_tasks(config: EvalConfig) -> list[Task]:
    """All tasks of the config's specs, in order; a spec listed twice is read once."""
    if not config.benchmarks:
        raise AgentDistillError("no benchmarks given (e.g. --benchmarks hotpotqa[:50],gsm8k[:50])")
    check_distinct_files(config.benchmarks)
    tasks: list[Task] = []
    for spec in dict.fromkeys(config.benchmarks):
        options = {"data_dir": config.data_dir, "seed": config.seed, "source": config.source}
        tasks += load_tasks(spec, strict=config.strict_data, domain=config.domain, **options)
    return tasks


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
    pool this way).

    Stored predictions of other settings (model checkpoint, agent settings, prompts, mode...) are never
    reused: the run refuses, saying what changed, unless ``config.overwrite`` replaces them; this is
    checked before any model loads.
    """
    from agentdistill.fingerprints import describe_changes, digest, previous_settings, record_fingerprint
    from agentdistill.trajectories.store import TrajectoryStore

    tasks = load_eval_tasks(config) if tasks is None else tasks
    out = Path(config.out)
    if config.baseline and not (Path(config.baseline) / "metrics.json").is_file():
        raise AgentDistillError(f"baseline {config.baseline} is not a finished eval run (no metrics.json)")
    settings = eval_settings(config)
    settings_digest = digest(settings)
    fingerprints = {t.id: record_fingerprint(settings_digest, t) for t in tasks}
    changes = describe_changes(previous_settings(out / "run.json") or {}, settings)
    with TrajectoryStore(out, file=PREDICTIONS, purpose="eval") as store:
        store.reconcile(fingerprints, replace=config.overwrite, changes=changes)
    _write_manifest(out, config, settings)
    stack = contextlib.ExitStack()
    with stack:
        if solver is None:
            factory = get_solver_factory(config.mode)  # an unavailable mode fails before a model loads
            if model is None:
                from agentdistill.models.loading import open_chat_model

                model = stack.enter_context(open_chat_model(config.model))
            solver = factory(solver_context(config, model))
        if judge is None and config.judge:
            from agentdistill.evaluation.judge import JudgePrompt, load_judge

            prompt = JudgePrompt.load(config.judge_prompt) if config.judge_prompt else None
            judge = load_judge(config.judge, cache_path=config.judge_cache, prompt=prompt)
            stack.callback(judge.close)
        return _evaluate(config, out, tasks, solver, judge, progress, fingerprints)


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
    """What decides a prediction (fingerprinted; kept in ``run.json`` to say what changed)."""
    from agentdistill.fingerprints import episode_settings, model_identity

    return {
        "model": model_identity(config.model.spec),
        "role": config.role,
        **episode_settings(config.mode, config.agent, config.retrieval, config.sandbox),
    }


def _evaluate(
    config: EvalConfig,
    out: Path,
    tasks: list[Task],
    solver: Solver,
    judge: Any,
    progress: bool,
    fingerprints: dict[str, str],
) -> EvalResult:
    info = {
        "name": config.name or out.name,
        "agent": config.model.spec,
        "mode": config.mode,
        "sag": config.agent.n_candidates,
    }
    if config.judge:
        info["judge"] = config.judge
    result = asyncio.run(
        evaluate(
            tasks,
            solver,
            out,
            concurrency=config.concurrency,
            judge=judge,
            run_info=info,
            progress=progress,
            model_name=config.model.spec,
            fingerprint=lambda task: fingerprints[task.id],
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


def _write_manifest(out: Path, config: EvalConfig, settings: dict[str, Any]) -> None:
    """``run.json``: the config, the fingerprinted settings and versions, so a result can be traced."""
    from agentdistill import __version__

    manifest = {
        "config": dataclasses.asdict(config),
        "settings": settings,
        "agentdistill": __version__,
        "python": platform.python_version(),
    }
    tmp = out / "run.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, out / "run.json")
