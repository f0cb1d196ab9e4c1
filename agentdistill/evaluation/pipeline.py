"""``run_eval``: load tasks, model, solver and judge from an :class:`EvalConfig`, run, report.

The CLI and recipes call this; tests and notebooks may pass their own model, solver or judge instead.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import platform
from pathlib import Path
from typing import Any

from agentdistill.errors import AgentDistillError
from agentdistill.evaluation.config import EvalConfig
from agentdistill.evaluation.runner import EvalResult, evaluate
from agentdistill.evaluation.solvers import Solver, SolverContext, get_solver_factory
from agentdistill.evaluation.tasks import load_tasks
from agentdistill.models.base import ChatModel, GenerationParams
from agentdistill.schema import Task


def load_eval_tasks(config: EvalConfig) -> list[Task]:
    """All tasks of the config's specs, in order; a spec listed twice is read once."""
    if not config.benchmarks:
        raise AgentDistillError("no benchmarks given (e.g. --benchmarks hotpotqa[:50],gsm8k[:50])")
    tasks: list[Task] = []
    for spec in dict.fromkeys(config.benchmarks):
        tasks += load_tasks(
            spec, data_dir=config.data_dir, seed=config.seed, source=config.source, domain=config.domain
        )
    return tasks


def run_eval(
    config: EvalConfig,
    *,
    model: ChatModel | None = None,
    solver: Solver | None = None,
    judge: Any = None,
    progress: bool = True,
) -> EvalResult:
    """Run (or resume) one evaluation and write its predictions, metrics, table, manifest and plots."""
    tasks = load_eval_tasks(config)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    _write_manifest(out, config)
    own_model = own_judge = False
    if solver is None:
        factory = get_solver_factory(config.mode)  # an unavailable mode fails before a model loads
        if model is None:
            from agentdistill.models import load_chat_model

            model, own_model = load_chat_model(config.agent), True
        context = SolverContext(
            model=model,
            model_spec=config.agent,
            role=config.role,
            params=GenerationParams(
                max_tokens=config.max_tokens,
                temperature=config.temperature,
                # greedy decoding needs no seed, and vLLM's CPU build crashes on per-request seeds
                seed=config.seed if config.temperature > 0 else None,
            ),
            sag=config.sag,
            top_k=config.top_k,
            seed=config.seed,
            options={"index": config.index, "max_steps": config.max_steps},
        )
        solver = factory(context)
    if judge is None and config.judge:
        from agentdistill.evaluation.judge import load_judge

        judge, own_judge = load_judge(config.judge, cache_path=config.judge_cache), True
    info = {"name": config.name or out.name, "agent": config.agent, "mode": config.mode, "sag": config.sag}
    if config.judge:
        info["judge"] = config.judge
    try:
        result = asyncio.run(
            evaluate(
                tasks,
                solver,
                out,
                concurrency=config.concurrency,
                judge=judge,
                run_info=info,
                progress=progress,
                model_name=config.agent,
            )
        )
    finally:
        if own_judge:
            judge.close()
        if own_model and model is not None:
            model.close()
    if config.plots:
        from agentdistill.evaluation.report import write_report

        write_report([out], out / "plots", names=[info["name"]])
    return result


def _write_manifest(out: Path, config: EvalConfig) -> None:
    """``run.json``: the config and versions, so a result can be traced to what produced it."""
    from agentdistill import __version__

    manifest = {
        "config": dataclasses.asdict(config),
        "agentdistill": __version__,
        "python": platform.python_version(),
    }
    (out / "run.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
