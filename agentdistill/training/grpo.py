"""GRPO on TRL's ``GRPOTrainer`` with CodeAct rollouts (:mod:`agentdistill.training.rollouts`).

The trainer is TRL's own (advantages, clipping, KL, logging, checkpoints, ``accelerate launch``); agentdistill
supplies the three things it does not have: the rollout (``rollout_func``: a full episode of our agent in our
sandbox, token-exact), the rewards (our metrics, :mod:`agentdistill.training.rewards`, each a TRL reward
function so TRL logs them one by one, weight-0 ones as monitors) and the loss mask (``env_mask``: the sampled
ids of trained turns). The rollouts' sampling log-probabilities go to TRL, whose importance-sampling
correction and ``sampling/*`` metrics then measure and correct any gap between the sampler and the trained
policy (:func:`correct_for_the_sampler`). Episodes differ a lot in length, so the policy scores each chunk of
rollouts without the padding all its rows share (:mod:`agentdistill.training.padding`). The saved policy
loads as ``hf:<output_dir>`` everywhere.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from agentdistill.config import ConfigError
from agentdistill.errors import AgentDistillError
from agentdistill.schema import Task
from agentdistill.training import base
from agentdistill.training.rl_config import RLConfig
from agentdistill.training.rollouts import RolloutRunner, RolloutStats

TASKS_EXAMPLE = "gsm8k:train[:200]"


@dataclasses.dataclass
class RLResult(base.TrainingResult):
    """What an RL run did; also written to ``<output_dir>/rl_summary.json``."""

    SUMMARY_FILE: ClassVar[str] = "rl_summary.json"

    tasks: int = 0
    rollouts: RolloutStats = dataclasses.field(default_factory=RolloutStats)
    history: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    """Per logged step (:func:`~agentdistill.training.rl_report.step_history`): TRL's metrics (reward and each
    component's mean and std, ``frac_reward_zero_std``, ``grad_norm``, ``entropy``, clip and importance
    ratios), the step's rollouts (rollouts/s, finish reasons, truncated turns), its time split and the
    process's peak memory so far (``peak_rss_gib``)."""
    plot: str | None = None
    """``rl.png``: the history drawn."""

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "rollouts": self.rollouts.to_dict()}


def load_rl_tasks(cfg: RLConfig) -> list[Task]:
    """The training tasks (duplicates by id dropped); each needs a gold answer and a distinct question
    (the question is how a TRL prompt finds its task again)."""
    tasks = cfg.tasks.load(flag="--tasks", example=TASKS_EXAMPLE, what="training tasks")
    if not tasks:
        raise AgentDistillError(f"rl: the task specs {cfg.tasks.specs} hold no task")
    by_question: dict[str, Task] = {}
    for t in tasks:
        if t.answer is None:
            raise AgentDistillError(f"rl: task {t.id} has no gold answer; rewards need one")
        other = by_question.setdefault(t.question, t)
        if other is not t and other.answer != t.answer:
            raise AgentDistillError(
                f"rl: tasks {other.id} and {t.id} ask the same question with different answers; drop one"
            )
    return tasks


def trl_reward_functions(names: list[str]) -> list[Callable[..., list[float | None]]]:
    """One TRL reward function per reward name, reading what the rollout computed (TRL logs each as
    ``rewards/<name>/mean`` and weights them with ``reward_weights``)."""

    def make(name: str) -> Callable[..., list[float | None]]:
        def reward(prompts: Any, completions: Any, trajectory: list[Any], **_: Any) -> list[float | None]:
            return [t.metadata["rl"]["rewards"][name] for t in trajectory]

        reward.__name__ = name.replace(":", ".")
        return reward

    return [make(n) for n in names]


def grpo_config(cfg: RLConfig) -> Any:
    """The ``trl.GRPOConfig`` for ``cfg``; ``trainer_overrides`` are applied last."""
    from trl import GRPOConfig

    processes = base.world_size()
    rollouts = cfg.group_size * cfg.tasks_per_step
    if rollouts % (cfg.micro_batch_size * processes):
        raise ConfigError(
            f"rl: group_size x tasks_per_step = {rollouts} rollouts per step is not a multiple of "
            f"micro_batch_size x processes = {cfg.micro_batch_size} x {processes}"
        )
    specific: dict[str, Any] = {
        "max_steps": cfg.steps,
        # a step generates all its groups at once and accumulates them in micro-batches
        "per_device_train_batch_size": cfg.micro_batch_size,
        "gradient_accumulation_steps": rollouts // (cfg.micro_batch_size * processes),
        "num_generations": cfg.group_size,
        "beta": cfg.kl_coef,
        "epsilon": cfg.epsilon,
        "loss_type": cfg.loss_type,
        "scale_rewards": cfg.scale_rewards,
        "temperature": cfg.agent.temperature,
        "top_p": cfg.agent.top_p,
        "max_completion_length": cfg.max_length,
        "reward_weights": [float(w) for w in cfg.rewards.values()],
        "save_strategy": "steps" if cfg.save_steps else "no",
        "save_steps": cfg.save_steps or 500,
        "remove_unused_columns": False,
        "vllm_importance_sampling_correction": True,  # rollouts return their sampling logprobs
        "mask_truncated_completions": False,  # the rollouts mask cut turns and cut episodes themselves
    }
    if cfg.vllm_server is not None:
        specific.update(use_vllm=True, vllm_mode="server", vllm_server_base_url=cfg.vllm_server.rstrip("/"))
    return base.trl_config(GRPOConfig, cfg, specific)


def _policy_source(
    cfg: RLConfig, model_path: str, out: Path, stack: contextlib.ExitStack, log: Callable[[str], None] | None
) -> Callable[[Any], Any]:
    """The rollouts' model factory (:mod:`agentdistill.training.rl_generation`); a managed server is
    stopped when ``stack`` closes."""
    from agentdistill.training import rl_generation

    if cfg.vllm_server is not None:
        return rl_generation.trl_server_policy(cfg)
    if cfg.student.serve is not None:
        if base.world_size() > 1:
            raise ConfigError(
                "rl: `student.serve` runs one managed server for one process; on several use vllm_server"
            )
        how = "weights reloaded" if cfg.weight_sync == "reload" else "LoRA adapter hot-loaded"
        if log:
            log(f"starting a managed vLLM server for the rollouts ({how} every step)")
        policy_cls = rl_generation.SERVED_POLICIES[cfg.weight_sync]
        served = policy_cls(model_path, cfg, out)
        stack.callback(served.stop)
        return served.start()
    cache: dict[int, Any] = {}
    return lambda trainer: rl_generation.in_process_policy(trainer, cache, max_batch_size=cfg.concurrency)


def train_rl(
    cfg: RLConfig,
    *,
    callbacks: list[Any] | None = None,
    log: Callable[[str], None] | None = None,
    eval_agent: Any = None,
) -> RLResult:
    """Run GRPO from ``cfg.student`` on ``cfg.tasks`` and write the policy to ``cfg.output_dir``.
    ``eval_agent``: the agent the policy will be evaluated with (default: the evaluation's defaults);
    where the rollouts play differently, a note says so."""
    import datasets

    from agentdistill.training import rl_report
    from agentdistill.training.padding import trimmed_trainer

    cfg.validate()
    tasks = load_rl_tasks(cfg)
    for line in [*cfg.warnings(), *_differences_from_evaluation(cfg, eval_agent)]:
        if log:
            log(f"[yellow]note:[/] {line}")
    model_path = base.resolve_student(cfg.student)
    tokenizer = base.load_tokenizer(model_path)
    tokenizer.padding_side = "left"  # what GRPO (and batched generation) expect
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    if log:
        log(f"{len(tasks)} tasks; {cfg.steps} steps x {cfg.tasks_per_step} tasks x {cfg.group_size} rollouts")

    dataset = datasets.Dataset.from_list(
        [{"prompt": [{"role": "user", "content": t.question}]} for t in tasks]
    )
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")  # rollout_func is the documented hook we build on
    with contextlib.ExitStack() as stack:
        policy = _policy_source(cfg, model_path, out, stack, log)
        runner = RolloutRunner(cfg, {t.question: t for t in tasks}, tokenizer, policy, out_dir=out)
        stack.callback(runner.close)
        timer = rl_report.step_timer()
        trainer = trimmed_trainer()(  # TRL's GRPOTrainer, scoring each chunk without its shared padding
            model=model_path,
            reward_funcs=trl_reward_functions(list(cfg.rewards)),
            args=grpo_config(cfg),
            train_dataset=dataset,
            processing_class=tokenizer,
            peft_config=base.lora_config(cfg),
            callbacks=[*(callbacks or []), timer],
            rollout_func=runner,
        )
        correct_for_the_sampler(trainer)
        fitted = base.fit_and_save(trainer, cfg, tokenizer, model_path)

    history = rl_report.step_history(
        trainer.state.log_history, runner.per_step, timer.seconds, timer.peak_rss_gib
    )
    plot = rl_report.plot_history(history, out / rl_report.PLOT_FILE) if base.is_main_process() else None
    result = RLResult(
        **fitted.common,
        tasks=len(tasks),
        rollouts=runner.stats,
        history=history,
        plot=str(plot) if plot else None,
    )
    tokenizer.padding_side = "right"
    base.write_summary(trainer, tokenizer, cfg, result)
    return result


class _RolloutSampler:
    """Stands where TRL keeps its vLLM client, for rollouts that sync their own sampler (:func:`correct_for_the_sampler`)."""

    def sync_weights(self) -> None:
        """The rollout's model factory syncs the sampler itself (in process: nothing to sync)."""


def correct_for_the_sampler(trainer: Any) -> None:
    """Turn on TRL's importance-sampling correction for our rollouts.

    TRL applies it (and logs ``sampling/sampling_logp_difference/*`` and ``sampling/importance_sampling_ratio/*``)
    only when it generates with vLLM itself. Our rollouts return the sampling log-probabilities of every
    trained token whatever generated them (the in-process policy, a managed vLLM, a ``trl vllm-serve``), so
    the trainer is told to use them: it recomputes the policy's log-probabilities of the same ids, and the
    difference (near 0 when sampler and trainer agree) corrects the loss, truncated at TRL's bounds.
    """
    if not trainer.use_vllm:  # a trl vllm-serve already has it; otherwise the sampler syncs itself
        trainer.use_vllm = True
        trainer.vllm_mode = "server"
        trainer.vllm_generation = _RolloutSampler()
        trainer._last_loaded_step = -1
    trainer.vllm_importance_sampling_correction = True


def _differences_from_evaluation(cfg: RLConfig, eval_agent: Any) -> list[str]:
    """A line naming the agent settings where the rollouts differ from the evaluation (temperature aside)."""
    from agentdistill.agents.config import AgentConfig

    other = eval_agent or AgentConfig()
    # standalone, the evaluation is another command whose agent we cannot see: compare with its defaults
    label = "evaluation" if eval_agent is not None else "default"
    ignored = {"temperature", "top_p", "seed", "train_forced_answer", "candidate_temperature", "n_candidates"}
    diffs = [
        f"{f.name} {getattr(cfg.agent, f.name)!r} ({label}: {getattr(other, f.name)!r})"
        for f in dataclasses.fields(AgentConfig)
        if f.name not in ignored and getattr(cfg.agent, f.name) != getattr(other, f.name)
    ]
    if not diffs:
        return []
    if eval_agent is None:
        return [
            "the rollouts differ from `agentdistill eval`'s default agent (evaluate with the same settings): "
            + ", ".join(diffs)
        ]
    return ["the rollouts play a different game than the evaluation: " + ", ".join(diffs)]
