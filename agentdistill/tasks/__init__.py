"""Tasks: the vocabulary every stage shares, from which tasks come to whether an answer is right.

* benchmark registry (``benchmarks.yaml``, :func:`get_benchmark`) and task specs (:func:`load_tasks`);
* metrics and matchers (:func:`score`, :func:`is_success`, EM/F1, math-verify);
* decontamination (the normalised questions of every evaluation set).

Generation, filters, agents and evaluation all import from here; nothing here imports them.

>>> from agentdistill.tasks import load_tasks, score
>>> tasks = load_tasks("gsm8k[:3]")            # bundled sample unless --data-dir / $AGENTDISTILL_DATA_DIR
>>> score(tasks[0], "The answer is \\\\boxed{18}")["correct"]
True
"""

from __future__ import annotations

from agentdistill.lazy import lazy_getattr

_EXPORTS = {
    "Benchmark": "agentdistill.tasks.registry",
    "BenchmarkError": "agentdistill.tasks.registry",
    "get_benchmark": "agentdistill.tasks.registry",
    "list_benchmarks": "agentdistill.tasks.registry",
    "register_benchmark": "agentdistill.tasks.registry",
    "load_benchmarks_file": "agentdistill.tasks.registry",
    "TaskSpec": "agentdistill.tasks.specs",
    "parse_task_spec": "agentdistill.tasks.specs",
    "iter_tasks": "agentdistill.tasks.specs",
    "load_tasks": "agentdistill.tasks.specs",
    "ANSWER_TRANSFORMS": "agentdistill.tasks.transforms",
    "eval_questions": "agentdistill.tasks.decontamination",
    "is_contaminated": "agentdistill.tasks.decontamination",
    "normalize_question": "agentdistill.tasks.decontamination",
    "METRICS": "agentdistill.tasks.metrics",
    "SUCCESS_THRESHOLD": "agentdistill.tasks.metrics",
    "is_success": "agentdistill.tasks.metrics",
    "register_metric": "agentdistill.tasks.metrics",
    "score": "agentdistill.tasks.metrics",
}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_getattr(__name__, _EXPORTS)
