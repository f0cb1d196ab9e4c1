"""``RLConfig``: every setting of ``agentdistill rl`` (GRPO with CodeAct rollouts), documented field by field.

The YAML file of ``--config`` holds these fields; the CLI's flags override them. Fields not listed here can
still reach TRL's ``GRPOConfig`` through ``trainer_overrides``.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar, Literal

from agentdistill.agents.config import AgentConfig
from agentdistill.config import FieldError
from agentdistill.episodes.executors import ExecutorConfig
from agentdistill.sandbox.config import SandboxConfig
from agentdistill.tasks.config import TaskSetConfig
from agentdistill.tools.retrieval.config import RetrievalConfig
from agentdistill.training.trainer_config import TrainerConfig

LOSS_TYPES = ("grpo", "dr_grpo", "dapo", "bnpo")


def _rl_agent() -> AgentConfig:
    return AgentConfig(max_steps=2, max_tokens=128, final_max_tokens=24, use_examples=False, temperature=1.0)


# Agent switches that put text the policy did not write into its turns, or steer it with the gold answer:
# fine for a teacher, wrong for on-policy RL (the trained tokens must be the sampled ones).
_TEACHER_ONLY = {
    "first_thought_prefix": False,
    "reference_hint": False,
    "answer_found_prefix": False,
    "code_prefix": False,
    "reflection": "off",
    "n_candidates": 1,
    "train_forced_answer": False,
    "seed": None,
}

OWNED_TRL_ARGUMENTS = (
    "temperature",
    "top_p",
    "num_generations",
    "generation_batch_size",
    "steps_per_generation",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "max_completion_length",
    "reward_weights",
    "output_dir",
)
"""``GRPOConfig`` arguments that RLConfig's own fields decide: ``trainer_overrides`` may not set them a
second time behind the rollouts' back."""


@dataclasses.dataclass
class RLConfig(TrainerConfig):
    """Reinforcement learning of a (distilled) agent with GRPO on TRL: each rollout is a CodeAct episode of
    the agent in the sandbox with its tools, rewarded by the task's metric; only model-written tokens train.
    The student, LoRA, optimiser and logging fields are the training base's (:class:`TrainerConfig`)."""

    COMMAND: ClassVar[str] = "rl"
    RENAMED: ClassVar[dict[str, str]] = {
        "model": "student",
        "serve": "student.serve",
        "temperature": "agent.temperature",
        "top_p": "agent.top_p",
    }

    # the training base's fields with GRPO's defaults
    lora: bool = False
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.0
    merge: bool = True
    max_length: int = 2048
    learning_rate: float = 1e-5
    lr_scheduler_type: str = "constant"
    warmup_ratio: float = 0.0
    gradient_checkpointing: bool = False
    logging_steps: int = 1

    tasks: TaskSetConfig = dataclasses.field(default_factory=TaskSetConfig)
    """Training tasks with gold answers (``specs``: registry specs with split and slice, e.g.
    ``gsm8k:train[:500]``, or local JSON/JSONL files, never a test set; ``domain``, ``data_dir``...). A bare
    list of specs is the short form."""

    # -- GRPO ----------------------------------------------------------------------------------
    steps: int = 20
    """Optimizer steps; each draws ``tasks_per_step`` tasks and runs ``group_size`` rollouts of each."""
    group_size: int = 8
    """Rollouts per task (GRPO's group): advantages are rewards relative to the group's mean."""
    tasks_per_step: int = 2
    """Tasks (groups) per optimizer step, over all processes."""
    micro_batch_size: int = 2
    """Rollouts per forward/backward pass (memory); a step accumulates ``group_size * tasks_per_step`` of them."""
    kl_coef: float = 0.0
    """KL penalty against the starting policy (TRL ``beta``); 0 needs no reference model."""
    epsilon: float = 0.2
    """Clipping range of the policy ratio."""
    loss_type: Literal["grpo", "dr_grpo", "dapo", "bnpo"] = "dapo"
    """TRL's loss aggregation: ``dapo`` (token-level, TRL's default), ``grpo``, ``dr_grpo`` or ``bnpo``."""
    scale_rewards: Literal["group", "batch", "none"] = "group"
    """Divide advantages by the reward standard deviation of the group, the batch, or not at all."""

    # -- rewards -------------------------------------------------------------------------------
    rewards: dict[str, float] = dataclasses.field(default_factory=lambda: {"correct": 1.0})
    """Reward functions and their weights: names of ``agentdistill.training.rewards.REWARDS`` (``correct``,
    ``f1``, ``format``, ``final_answer``, ``grounded``, ``length``) or ``module:function`` import paths of
    your own ``fn(trajectory, config) -> float | None``; the reward is their weighted sum."""
    length_budget_tokens: int = 256
    """``length`` reward: completion tokens an episode may use before the penalty starts (it reaches -1
    at twice the budget)."""

    # -- the agent and its environment ---------------------------------------------------------
    agent: AgentConfig = dataclasses.field(default_factory=_rl_agent)
    """The CodeAct loop of a rollout (``max_steps`` per episode, ``max_tokens`` per step, prompts) and its
    sampling (``temperature``, 1.0 here, and ``top_p``: they are TRL's too). Teacher-only methods (prefixes,
    hints, reflection), self-consistent candidates and a fixed ``seed`` are refused: the trained tokens must
    be the ones the policy sampled, freshly at every step."""
    sandbox: SandboxConfig = dataclasses.field(default_factory=SandboxConfig)
    """Where rollout code runs (``backend: local`` or ``docker``, limits)."""
    retrieval: RetrievalConfig = dataclasses.field(default_factory=RetrievalConfig)
    """The index behind ``web_search`` for QA tasks."""
    concurrency: int = 16
    """Rollouts in flight at once (their model calls are batched)."""
    executor: ExecutorConfig = dataclasses.field(default_factory=ExecutorConfig)
    """Where the rollout episodes run (``local``: asyncio tasks in this process)."""
    vllm_server: str | None = None
    """Base URL of a ``trl vllm-serve`` server (``http://host:8000``): rollouts generate there through its
    OpenAI-compatible API and TRL pushes the new weights to it before every step. None: the policy
    generates in this process with transformers (CPU, or one GPU), or, with ``student.serve``, in a managed
    vLLM server of the starting model into which the trained LoRA adapter is hot-loaded before every step
    (``agentdistill serve``; the CPU build works; needs ``lora: true``)."""
    vllm_model: str | None = None
    """Model name the server serves (``--model`` of ``trl vllm-serve``); None: asked from its ``/v1/models``."""

    # -- saving --------------------------------------------------------------------------------
    save_steps: int = 0
    """Save a checkpoint every N steps (0: only the final policy)."""
    save_rollouts: bool = True
    """Write every rollout to ``output_dir/rollouts`` (``agentdistill trajectories view/stats`` read it)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        positive = ("steps", "group_size", "tasks_per_step", "micro_batch_size", "concurrency")
        for name in (*positive, "length_budget_tokens"):
            if getattr(self, name) < 1:
                raise FieldError(name, f"must be at least 1, got {getattr(self, name)}")
        if self.group_size < 2:
            raise FieldError("group_size", "GRPO compares rollouts within a group: it needs at least 2")
        if self.kl_coef < 0:
            raise FieldError("kl_coef", f"must be >= 0, got {self.kl_coef}")
        if self.agent.temperature <= 0:
            raise FieldError(
                "agent.temperature", "rollouts must sample (a group of greedy rollouts has no variance)"
            )
        if self.loss_type not in LOSS_TYPES:
            raise FieldError("loss_type", f"must be one of {LOSS_TYPES}, got {self.loss_type!r}")
        if self.scale_rewards not in ("group", "batch", "none"):
            raise FieldError("scale_rewards", f"must be group, batch or none, got {self.scale_rewards!r}")
        if self.max_length < 64:
            raise FieldError("max_length", f"{self.max_length} is too small")
        if not self.rewards:
            raise FieldError("rewards", "name at least one reward, e.g. {correct: 1.0}")
        from agentdistill.training.rewards import check_reward_name

        for name in self.rewards:
            try:
                check_reward_name(name)
            except Exception as e:
                raise FieldError("rewards", str(e)) from None
        for name, wanted in _TEACHER_ONLY.items():
            if getattr(self.agent, name) != wanted:
                raise FieldError(
                    f"agent.{name}",
                    f"must be {wanted!r} for RL: rollouts train on exactly what the policy sampled",
                )
        if owned := sorted(set(self.trainer_overrides) & set(OWNED_TRL_ARGUMENTS)):
            raise FieldError(
                "trainer_overrides",
                f"{', '.join(owned)} {'is' if len(owned) == 1 else 'are'} set by RLConfig's own fields (the "
                "rollouts follow them); set those instead (agent.temperature, agent.top_p, group_size, ...)",
            )
        if self.student.serve is not None and not self.lora:
            raise FieldError(
                "student.serve",
                "the managed server hot-loads LoRA adapters: set lora: true (or use vllm_server)",
            )
        if self.student.serve is not None and self.vllm_server is not None:
            raise FieldError(
                "vllm_server",
                "set student.serve (a managed vLLM) or vllm_server (a trl vllm-serve), not both",
            )
        if self.vllm_server is not None and not self.vllm_server.startswith(("http://", "https://")):
            raise FieldError("vllm_server", f"expected http(s)://host:port, got {self.vllm_server!r}")

    def validate(self) -> None:
        """Ready to run: tasks and an output folder given (the pipeline fills both itself)."""
        if not self.tasks.specs:
            from agentdistill.config import ConfigError

            raise ConfigError("rl: no training tasks; pass --tasks SPEC (e.g. gsm8k:train[:200])")
        super().validate()
