"""Evaluation: the eval runner, the LLM judge, reports and plots. The task vocabulary it scores with
(benchmarks, task specs, metrics) is :mod:`agentdistill.tasks`; the solvers it runs are
:mod:`agentdistill.agents.solvers`.

>>> from agentdistill.evaluation import EvalConfig, run_eval
>>> run_eval(EvalConfig(benchmarks=["gsm8k[:3]"], out="runs/eval", mode="cot"))

Names are imported lazily so that ``agentdistill --help`` does not pay for math-verify or matplotlib.
"""

from __future__ import annotations

from agentdistill.lazy import lazy_getattr

_EXPORTS = {
    "EvalConfig": "agentdistill.evaluation.config",
    "run_eval": "agentdistill.evaluation.run",
    "load_eval_tasks": "agentdistill.evaluation.run",
    "evaluate": "agentdistill.evaluation.runner",
    "EvalResult": "agentdistill.evaluation.runner",
    "Judge": "agentdistill.evaluation.judge",
    "load_judge": "agentdistill.evaluation.judge",
    "write_report": "agentdistill.evaluation.report",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_getattr(__name__, _EXPORTS)
