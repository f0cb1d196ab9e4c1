"""Evaluation: benchmark registry and task specs, metrics, LLM judge, the eval runner, reports and plots.

>>> from agentdistill.evaluation import load_tasks, score
>>> tasks = load_tasks("gsm8k[:3]")            # bundled sample unless --data-dir / $AGENTDISTILL_DATA_DIR
>>> score(tasks[0], "The answer is \\\\boxed{18}")["correct"]
True

Names are imported lazily so that ``agentdistill --help`` does not pay for math-verify or matplotlib.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Benchmark": "agentdistill.evaluation.registry",
    "get_benchmark": "agentdistill.evaluation.registry",
    "list_benchmarks": "agentdistill.evaluation.registry",
    "register_benchmark": "agentdistill.evaluation.registry",
    "load_benchmarks_file": "agentdistill.evaluation.registry",
    "TaskSpec": "agentdistill.evaluation.tasks",
    "parse_task_spec": "agentdistill.evaluation.tasks",
    "iter_tasks": "agentdistill.evaluation.tasks",
    "load_tasks": "agentdistill.evaluation.tasks",
    "eval_questions": "agentdistill.evaluation.decontamination",
    "is_contaminated": "agentdistill.evaluation.decontamination",
    "normalize_question": "agentdistill.evaluation.decontamination",
    "score": "agentdistill.evaluation.metrics",
    "register_metric": "agentdistill.evaluation.metrics",
    "METRICS": "agentdistill.evaluation.metrics",
    "Judge": "agentdistill.evaluation.judge",
    "load_judge": "agentdistill.evaluation.judge",
    "SolverContext": "agentdistill.evaluation.solvers",
    "register_solver": "agentdistill.evaluation.solvers",
    "make_solver": "agentdistill.evaluation.solvers",
    "SOLVERS": "agentdistill.evaluation.solvers",
    "evaluate": "agentdistill.evaluation.runner",
    "EvalConfig": "agentdistill.evaluation.config",
    "run_eval": "agentdistill.evaluation.pipeline",
    "write_report": "agentdistill.evaluation.report",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'agentdistill.evaluation' has no attribute {name!r}")
