"""``RLConfig``: every setting of ``agentdistill rl`` (GRPO with CodeAct rollouts), documented field by field.

The YAML file of ``--config`` holds these fields; the CLI's flags override them. Fields not listed here can
still reach TRL's ``GRPOConfig`` through ``trainer_overrides``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

from agentdistill.agents.config import AgentConfig
from agentdistill.config import ConfigError, FieldError
from agentdistill.models.config import ServeConfig
from agentdistill.sandbox.config import SandboxConfig
from agentdistill.tools.retrieval.config import RetrievalConfig

LOSS_TYPES = ("grpo", "dr_grpo", "dapo", "bnpo")


def _rl_agent() -> AgentConfig:
    return AgentConfig(max_steps=2, max_tokens=128, final_max_tokens=24, use_examples=False)


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
}


@dataclasses.dataclass
class RLConfig:
    """Reinforcement learning of a (distilled) agent with GRPO on TRL: each rollout is a CodeAct episode of
    the agent in the sandbox with its tools, rewarded by the task's metric; only model-written tokens train."""

    model: str = "default"
    """Policy to start from: ``default`` (the packaged SmolLM2-135M-Instruct), ``hf:<dir>`` (e.g. a student of
    ``agentdistill train``) or a plain path."""
    tasks: list[str] = dataclasses.field(default_factory=list)
    """Training tasks with gold answers: registry specs with split and slice (``gsm8k:train[:500]``) or local
    JSON/JSONL files (never a test set)."""
    domain: str | None = None
    """Domain (``qa`` or ``math``) of tasks read from local files, which carry none."""
    data_dir: str | None = None
    """Benchmark data directory laid out like shared/data; None: bundled samples or $AGENTDISTILL_DATA_DIR."""
    strict_data: bool = False
    """Fail instead of warning when a task spec falls back to a bundled sample."""
    output_dir: str = ""
    """Where the trained policy goes (loads as ``hf:<output_dir>``), with ``rollouts/`` (every rollout as a
    trajectory record with its rewards) and ``rl_summary.json``."""

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
    learning_rate: float = 1e-5
    """Peak learning rate."""
    lr_scheduler_type: str = "constant"
    """Learning-rate schedule (any transformers scheduler name)."""
    warmup_ratio: float = 0.0
    """Fraction of steps spent warming up the learning rate."""
    max_grad_norm: float = 1.0
    """Gradient clipping."""
    epsilon: float = 0.2
    """Clipping range of the policy ratio."""
    loss_type: Literal["grpo", "dr_grpo", "dapo", "bnpo"] = "dapo"
    """TRL's loss aggregation: ``dapo`` (token-level, TRL's default), ``grpo``, ``dr_grpo`` or ``bnpo``."""
    scale_rewards: Literal["group", "batch", "none"] = "group"
    """Divide advantages by the reward standard deviation of the group, the batch, or not at all."""
    temperature: float = 1.0
    """Sampling temperature of the rollouts."""
    top_p: float = 1.0
    """Nucleus sampling of the rollouts."""

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
    """The CodeAct loop of a rollout (``max_steps`` per episode, ``max_tokens`` per step, prompts). Its
    sampling comes from ``temperature``/``top_p`` above; teacher-only methods (prefixes, hints, reflection)
    and self-consistent candidates are refused: the trained tokens must be the ones the policy sampled."""
    sandbox: SandboxConfig = dataclasses.field(default_factory=SandboxConfig)
    """Where rollout code runs (``backend: local`` or ``docker``, limits)."""
    retrieval: RetrievalConfig = dataclasses.field(default_factory=RetrievalConfig)
    """The index behind ``web_search`` for QA tasks."""
    concurrency: int = 16
    """Rollouts in flight at once (their model calls are batched)."""
    serve: ServeConfig | None = None
    """Generate the rollouts with a managed vLLM server of the starting model (``agentdistill serve``; the CPU
    build works) into which the trained LoRA adapter is hot-loaded before every step. Needs ``lora: true``.
    None (and no ``vllm_server``): the policy generates in this process with transformers."""
    vllm_server: str | None = None
    """Base URL of a ``trl vllm-serve`` server (``http://host:8000``): rollouts generate there through its
    OpenAI-compatible API and TRL pushes the new weights to it before every step. None: the policy
    generates in this process with transformers (CPU, or one GPU)."""
    vllm_model: str | None = None
    """Model name the server serves (``--model`` of ``trl vllm-serve``); None: asked from its ``/v1/models``."""

    # -- what is trained and how ---------------------------------------------------------------
    lora: bool = False
    """Train a LoRA adapter (PEFT) instead of every weight."""
    lora_r: int = 16
    """LoRA rank."""
    lora_alpha: int = 32
    """LoRA scaling numerator (the update is scaled by alpha / r)."""
    lora_dropout: float = 0.0
    """Dropout on the LoRA input."""
    lora_target_modules: list[str] | str = "all-linear"
    """Modules that get adapters: ``all-linear`` or a list of names."""
    merge: bool = True
    """LoRA: fold the adapter into the weights of the saved policy (so it serves like any model)."""
    max_length: int = 2048
    """Longest rollout (prompt + completion) in tokens; longer ones are cut and the cut part is not trained."""
    gradient_checkpointing: bool = False
    """Recompute activations in the backward pass (less memory for long episodes, slower)."""
    bf16: bool | None = None
    """bfloat16 mixed precision; ``None`` turns it on where the hardware has it."""
    seed: int = 42
    """Seed for task order and sampling."""

    # -- logging and saving --------------------------------------------------------------------
    logging_steps: int = 1
    """Log rewards and the loss every N steps."""
    save_steps: int = 0
    """Save a checkpoint every N steps (0: only the final policy)."""
    save_rollouts: bool = True
    """Write every rollout to ``output_dir/rollouts`` (``agentdistill trajectories view/stats`` read it)."""
    report_to: list[str] = dataclasses.field(default_factory=lambda: ["none"])
    """Experiment trackers (``wandb``, ``tensorboard``, ...; ``none`` for none)."""
    run_name: str | None = None
    """Run name shown by the trackers."""
    trainer_overrides: dict[str, Any] = dataclasses.field(default_factory=dict)
    """Further ``trl.GRPOConfig`` arguments, applied last."""

    def __post_init__(self) -> None:
        for name in (
            "steps",
            "group_size",
            "tasks_per_step",
            "concurrency",
            "length_budget_tokens",
            "lora_r",
        ):
            if getattr(self, name) < 1:
                raise FieldError(name, f"must be at least 1, got {getattr(self, name)}")
        if self.group_size < 2:
            raise FieldError("group_size", "GRPO compares rollouts within a group: it needs at least 2")
        if self.kl_coef < 0:
            raise FieldError("kl_coef", f"must be >= 0, got {self.kl_coef}")
        if self.learning_rate <= 0:
            raise FieldError("learning_rate", f"must be positive, got {self.learning_rate}")
        if self.temperature <= 0:
            raise FieldError(
                "temperature", "rollouts must sample (a group of greedy rollouts has no variance)"
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
        from agentdistill.tasks.specs import parse_task_spec

        for i, spec in enumerate(self.tasks):
            try:
                parse_task_spec(spec)
            except ValueError as e:
                raise FieldError(f"tasks[{i}]", str(e)) from None
        if ":" in self.model and not self.model.startswith(("hf:", "/", ".")):
            from agentdistill.models.specs import parse_model_spec

            try:
                local = parse_model_spec(self.model).is_local
            except ValueError as e:
                raise FieldError("model", str(e)) from None
            if not local:
                raise FieldError(
                    "model",
                    f"cannot train {self.model!r}: only local weights train (`default`, `hf:<dir>`, a path)",
                )
        if self.serve is not None and not self.lora:
            raise FieldError(
                "serve", "the managed server hot-loads LoRA adapters: set lora: true (or use vllm_server)"
            )
        if self.serve is not None and self.vllm_server is not None:
            raise FieldError(
                "serve", "set serve (a managed vLLM) or vllm_server (a trl vllm-serve), not both"
            )
        if self.vllm_server is not None and not self.vllm_server.startswith(("http://", "https://")):
            raise FieldError("vllm_server", f"expected http(s)://host:port, got {self.vllm_server!r}")

    def validate(self) -> None:
        """Ready to run: tasks and an output folder given (the pipeline fills both itself)."""
        if not self.tasks:
            raise ConfigError("rl: no training tasks; pass --tasks SPEC (e.g. gsm8k:train[:200])")
        if not self.output_dir:
            raise ConfigError("rl: no output directory; pass --out or set `output_dir`")
