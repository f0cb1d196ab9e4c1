"""Rewards for RL, computed from a finished CodeAct rollout with the project's own metrics.

A reward is a function ``fn(trajectory, config) -> float | None`` (``config`` is the run's
:class:`~agentdistill.training.rl_config.RLConfig`); None means "not applicable to this rollout" (an episode
whose sandbox or server failed), which GRPO leaves out of its group baseline. ``RLConfig.rewards`` maps
reward names to weights; the rollout's reward is the weighted sum. Built-ins:

``correct``       the task metric of the final answer (math-verify / numeric tolerance for math, exact match
                  for QA): 1 or 0.
``f1``            QA token F1 of the final answer (math tasks: the ``correct`` reward).
``final_answer``  1 when the episode ended by calling ``final_answer`` (not by running out of steps).
``runnable_code`` the share of the episode's actions whose code parsed and ran without an error.
``grounded``      1 when the final answer came from executed code (the efficacy filters' rule), else 0.
``format``        the mean of ``runnable_code``, ``final_answer`` and ``grounded``.
``length``        0 up to ``length_budget_tokens`` completion tokens, then falling linearly to -1 at twice it.

Add your own with :func:`register_reward` or name it by import path (``my_pkg.rewards:fn``) in the config.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agentdistill.errors import AgentDistillError
from agentdistill.registry import Registry, import_object, is_lazy_name
from agentdistill.schema import Trajectory

Reward = Callable[[Trajectory, Any], "float | None"]


def _scorable(trajectory: Trajectory) -> bool:
    return trajectory.status != "failed" and trajectory.task.answer is not None


def correct_reward(trajectory: Trajectory, config: Any = None) -> float | None:
    """1.0 when the task metric accepts the final answer, else 0.0 (None: the episode itself failed)."""
    from agentdistill.tasks.metrics import is_success, score

    if not _scorable(trajectory):
        return None
    if trajectory.final_answer is None:
        return 0.0
    return float(is_success(score(trajectory.task, trajectory.final_answer)["score"]))


def f1_reward(trajectory: Trajectory, config: Any = None) -> float | None:
    """QA: token F1 of the final answer against the best gold alias; other domains: :func:`correct_reward`."""
    from agentdistill.tasks.metrics import score

    if trajectory.task.domain != "qa":
        return correct_reward(trajectory, config)
    if not _scorable(trajectory):
        return None
    if trajectory.final_answer is None:
        return 0.0
    return float(score(trajectory.task, trajectory.final_answer).get("f1", 0.0))


def final_answer_reward(trajectory: Trajectory, config: Any = None) -> float | None:
    """1.0 when the code called ``final_answer`` (status ok), 0.0 when the episode ran out of steps."""
    if trajectory.status == "failed":
        return None
    return 1.0 if trajectory.status == "ok" else 0.0


def runnable_code_reward(trajectory: Trajectory, config: Any = None) -> float | None:
    """The share of actions that had a code block that ran without an error (the observation after each)."""
    if trajectory.status == "failed":
        return None
    msgs = trajectory.messages
    steps = [i for i, m in enumerate(msgs) if m.role == "assistant" and m.kind != "final"]
    if not steps:
        return 0.0
    clean = sum(1 for i in steps if i + 1 < len(msgs) and msgs[i + 1].kind == "observation")
    return clean / len(steps)


def grounded_reward(trajectory: Trajectory, config: Any = None) -> float | None:
    """1.0 when the final answer was computed or shown by executed code, 0.0 when guessed or missing."""
    from agentdistill.trajectories.grounding import grounding

    if trajectory.status == "failed":
        return None
    return 1.0 if trajectory.final_answer is not None and grounding(trajectory).grounded else 0.0


def format_reward(trajectory: Trajectory, config: Any = None) -> float | None:
    """The mean of :func:`runnable_code_reward`, :func:`final_answer_reward` and :func:`grounded_reward`."""
    parts = [f(trajectory, config) for f in (runnable_code_reward, final_answer_reward, grounded_reward)]
    return None if any(p is None for p in parts) else sum(parts) / len(parts)  # type: ignore[arg-type]


def length_reward(trajectory: Trajectory, config: Any = None) -> float | None:
    """A penalty for long episodes: 0 within ``config.length_budget_tokens`` completion tokens, then
    linearly down to -1 at twice the budget (and -1 beyond)."""
    if trajectory.status == "failed":
        return None
    budget = getattr(config, "length_budget_tokens", 256)
    over = max(0, trajectory.stats.completion_tokens - budget)
    return -min(1.0, over / budget)


REWARDS: Registry[Reward] = Registry(
    "reward",
    {
        "correct": correct_reward,
        "f1": f1_reward,
        "final_answer": final_answer_reward,
        "runnable_code": runnable_code_reward,
        "grounded": grounded_reward,
        "format": format_reward,
        "length": length_reward,
    },
    error=AgentDistillError,
    hint="or a module:function import path",
)
"""Reward functions by name (see the module docstring)."""


def register_reward(name: str, fn: Reward | str) -> None:
    """Add a reward (a callable ``(trajectory, config) -> float | None`` or a ``"module:attr"`` name)."""
    REWARDS.register(name, fn)


def check_reward_name(name: str) -> str:
    """``name`` if it is a registered reward or looks like an import path (imported when the run starts)."""
    if name in REWARDS or is_lazy_name(name):
        return name
    raise REWARDS.unknown(name)


def get_reward(name: str) -> Reward:
    """The reward function of a registered name or a ``module:function`` path (which must be callable)."""
    fn = REWARDS.get(name) if name in REWARDS else import_object(name, what="reward")
    if not callable(fn):
        raise AgentDistillError(f"reward {name!r} is not callable (got {type(fn).__name__})")
    return fn  # type: ignore[no-any-return]


def compute_rewards(trajectory: Trajectory, names: list[str], config: Any) -> dict[str, float | None]:
    """Every named reward of one rollout (unweighted)."""
    out: dict[str, float | None] = {}
    for name in names:
        value = get_reward(name)(trajectory, config)
        out[name] = None if value is None else float(value)
    return out
