"""GRPO on TRL's ``GRPOTrainer`` with CodeAct rollouts (:mod:`agentdistill.training.rollouts`).

The trainer is TRL's own (advantages, clipping, KL, logging, checkpoints, ``accelerate launch``); agentdistill
supplies the three things it does not have: the rollout (``rollout_func``: a full episode of our agent in our
sandbox), the rewards (our metrics, :mod:`agentdistill.training.rewards`, each a TRL reward function so TRL
logs them one by one) and the loss mask (SFT's offset masking, passed as ``env_mask``). The saved policy loads
as ``hf:<output_dir>`` everywhere (``eval --sag``, ``serve``, ``pipeline``).
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
    reward_history: list[dict[str, float]] = dataclasses.field(default_factory=list)
    """Per logged step: the mean reward, its std within groups, and each reward's mean."""

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
        "vllm_importance_sampling_correction": False,  # rollouts return no per-token sampling logprobs
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
        if log:
            log("starting a managed vLLM server for the rollouts (LoRA hot-loaded every step)")
        served = rl_generation.ServedLoRAPolicy(model_path, cfg, out)
        stack.callback(served.stop)
        return served.start()
    cache: dict[int, Any] = {}
    return lambda trainer: rl_generation.in_process_policy(trainer, cache, max_batch_size=cfg.concurrency)


def train_rl(
    cfg: RLConfig, *, callbacks: list[Any] | None = None, log: Callable[[str], None] | None = None
) -> RLResult:
    """Run GRPO from ``cfg.student`` on ``cfg.tasks`` and write the policy to ``cfg.output_dir``."""
    import datasets
    from trl import GRPOTrainer

    cfg.validate()
    tasks = load_rl_tasks(cfg)
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
        trainer = GRPOTrainer(
            model=model_path,
            reward_funcs=trl_reward_functions(list(cfg.rewards)),
            args=grpo_config(cfg),
            train_dataset=dataset,
            processing_class=tokenizer,
            peft_config=base.lora_config(cfg),
            callbacks=callbacks,
            rollout_func=runner,
        )
        fitted = base.fit_and_save(trainer, cfg, tokenizer, model_path)

    result = RLResult(
        **fitted.common,
        tasks=len(tasks),
        rollouts=runner.stats,
        reward_history=reward_history(trainer.state.log_history, list(cfg.rewards)),
    )
    tokenizer.padding_side = "right"
    base.write_summary(trainer, tokenizer, cfg, result)
    return result


def reward_history(log_history: list[dict[str, Any]], names: list[str]) -> list[dict[str, float]]:
    """The logged reward statistics per step, from TRL's log history."""
    rows = []
    for h in log_history:
        if "reward" not in h:
            continue
        row = {"step": h.get("step"), "reward": h["reward"], "reward_std": h.get("reward_std")}
        for n in names:
            key = f"rewards/{n.replace(':', '.')}/mean"
            if key in h:
                row[n] = h[key]
        rows.append(row)
    return rows
