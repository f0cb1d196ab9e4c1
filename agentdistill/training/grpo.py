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
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agentdistill.config import ConfigError, to_dict
from agentdistill.errors import AgentDistillError
from agentdistill.schema import Task
from agentdistill.training.rl_config import RLConfig
from agentdistill.training.rollouts import RolloutRunner, RolloutStats

SUMMARY_FILE = "rl_summary.json"


@dataclasses.dataclass
class RLResult:
    """What an RL run did; also written to ``<output_dir>/rl_summary.json``."""

    output_dir: str
    steps: int
    tasks: int
    rollouts: RolloutStats
    reward_history: list[dict[str, float]]
    """Per logged step: the mean reward, its std within groups, and each reward's mean."""
    train_runtime_s: float
    trainable_params: int
    total_params: int
    lora: bool
    merged: bool
    cuda_peak_mib: float | None = None

    @property
    def steps_per_s(self) -> float:
        return self.steps / self.train_runtime_s if self.train_runtime_s else 0.0

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["rollouts"] = self.rollouts.to_dict()
        d["steps_per_s"] = self.steps_per_s
        return d


def load_rl_tasks(cfg: RLConfig) -> list[Task]:
    """The training tasks (duplicates by id dropped); each needs a gold answer and a distinct question
    (the question is how a TRL prompt finds its task again)."""
    from agentdistill.tasks.specs import check_distinct_files, load_tasks

    check_distinct_files(cfg.tasks)
    tasks: dict[str, Task] = {}
    for spec in cfg.tasks:
        for t in load_tasks(
            spec, strict=cfg.strict_data, data_dir=cfg.data_dir, seed=cfg.seed, domain=cfg.domain
        ):
            tasks.setdefault(t.id, t)
    if not tasks:
        raise AgentDistillError(f"rl: the task specs {cfg.tasks} hold no task")
    by_question: dict[str, Task] = {}
    for t in tasks.values():
        if t.answer is None:
            raise AgentDistillError(f"rl: task {t.id} has no gold answer; rewards need one")
        other = by_question.setdefault(t.question, t)
        if other is not t and other.answer != t.answer:
            raise AgentDistillError(
                f"rl: tasks {other.id} and {t.id} ask the same question with different answers; drop one"
            )
    return list(tasks.values())


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
    import torch
    from trl import GRPOConfig

    from agentdistill.training.sft import _checkpointing_key, use_bf16, world_size

    processes = world_size()
    rollouts = cfg.group_size * cfg.tasks_per_step
    if rollouts % (cfg.micro_batch_size * processes):
        raise ConfigError(
            f"rl: group_size x tasks_per_step = {rollouts} rollouts per step is not a multiple of "
            f"micro_batch_size x processes = {cfg.micro_batch_size} x {processes}"
        )
    bf16 = use_bf16(cfg)
    kwargs: dict[str, Any] = {
        "output_dir": cfg.output_dir,
        "max_steps": cfg.steps,
        "learning_rate": cfg.learning_rate,
        "lr_scheduler_type": cfg.lr_scheduler_type,
        "warmup_steps": cfg.warmup_ratio,
        "max_grad_norm": cfg.max_grad_norm,
        # a step generates all its groups at once and accumulates them in micro-batches
        "per_device_train_batch_size": cfg.micro_batch_size,
        "gradient_accumulation_steps": rollouts // (cfg.micro_batch_size * processes),
        "num_generations": cfg.group_size,
        "beta": cfg.kl_coef,
        "epsilon": cfg.epsilon,
        "loss_type": cfg.loss_type,
        "scale_rewards": cfg.scale_rewards,
        "temperature": cfg.temperature,
        "top_p": cfg.top_p,
        "max_completion_length": cfg.max_length,
        "reward_weights": [float(w) for w in cfg.rewards.values()],
        _checkpointing_key(GRPOConfig): cfg.gradient_checkpointing,
        "bf16": bf16,
        "seed": cfg.seed,
        "data_seed": cfg.seed,
        "logging_steps": cfg.logging_steps,
        "logging_first_step": True,
        "save_strategy": "steps" if cfg.save_steps else "no",
        "save_steps": cfg.save_steps or 500,
        "report_to": cfg.report_to,
        "run_name": cfg.run_name,
        "dataloader_pin_memory": torch.cuda.is_available(),
        "model_init_kwargs": {"dtype": "bfloat16" if (bf16 and cfg.lora) else "float32"},
        "remove_unused_columns": False,
        "vllm_importance_sampling_correction": False,  # rollouts return no per-token sampling logprobs
    }
    if cfg.vllm_server is not None:
        kwargs.update(use_vllm=True, vllm_mode="server", vllm_server_base_url=cfg.vllm_server.rstrip("/"))
    kwargs.update(cfg.trainer_overrides)
    try:
        return GRPOConfig(**kwargs)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"rl: invalid trainer setting: {e}") from None


def _policy_source(
    cfg: RLConfig, model_path: str, out: Path, stack: contextlib.ExitStack, log: Callable[[str], None] | None
) -> Callable[[Any], Any]:
    """The rollouts' model factory (:mod:`agentdistill.training.rl_generation`); a managed server is
    stopped when ``stack`` closes."""
    from agentdistill.training import rl_generation

    if cfg.vllm_server is not None:
        return rl_generation.trl_server_policy(cfg)
    if cfg.serve is not None:
        from agentdistill.training.sft import world_size

        if world_size() > 1:
            raise ConfigError(
                "rl: `serve` runs one managed server for one process; on several use vllm_server"
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
    """Run GRPO from ``cfg.model`` on ``cfg.tasks`` and write the policy to ``cfg.output_dir``."""
    import datasets
    from trl import GRPOTrainer

    from agentdistill.training.sft import (
        count_parameters,
        cuda_peak_mib,
        load_tokenizer,
        lora_config,
        resolve_student,
        save_student_files,
        save_trained,
    )

    cfg.validate()
    tasks = load_rl_tasks(cfg)
    model_path = resolve_student(cfg.model)
    tokenizer = load_tokenizer(model_path)
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
            peft_config=lora_config(cfg) if cfg.lora else None,
            callbacks=callbacks,
            rollout_func=runner,
        )
        trainable, total = count_parameters(trainer.model)
        started = time.perf_counter()
        trainer.train()
        runtime = time.perf_counter() - started

    merged = save_trained(trainer, tokenizer, model_path, out, merge=cfg.lora and cfg.merge)

    result = RLResult(
        output_dir=str(out),
        steps=int(trainer.state.global_step),
        tasks=len(tasks),
        rollouts=runner.stats,
        reward_history=reward_history(trainer.state.log_history, list(cfg.rewards)),
        train_runtime_s=runtime,
        trainable_params=trainable,
        total_params=total,
        lora=cfg.lora,
        merged=merged,
        cuda_peak_mib=cuda_peak_mib(),
    )
    if trainer.accelerator.is_main_process:
        tokenizer.padding_side = "right"
        save_student_files(tokenizer, out)
        (out / SUMMARY_FILE).write_text(
            json.dumps({"config": to_dict(cfg), "result": result.to_dict()}, indent=2, default=str)
        )
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
