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
FORMAT_REWARDS = ("format", "runnable_code", "final_answer", "grounded")
"""Rewards of the episode's form, not of its answer: a policy can raise them without being right."""


def _rl_agent() -> AgentConfig:
    """The evaluation's agent (:class:`AgentConfig` defaults), sampling at temperature 1."""
    return AgentConfig(temperature=1.0)


def _default_rewards() -> dict[str, float]:
    """The task metric; the format components ride along at weight 0 (logged, not optimised)."""
    return {"correct": 1.0, **dict.fromkeys(FORMAT_REWARDS[1:], 0.0)}


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
    "use_vllm",
    "vllm_mode",
    "vllm_importance_sampling_correction",
    "num_iterations",
    "mask_truncated_completions",
    "beta",
    "epsilon",
    "loss_type",
    "scale_rewards",
    "max_steps",
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

    # the training base's fields with GRPO's defaults: LoRA on every linear layer at ~10x the full
    # fine-tuning rate (TRL's GRPO default is 1e-6 full; "LoRA without regret": 1e-5 to 5e-5 for LoRA)
    lora: bool = True
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.0
    merge: bool = True
    max_length: int = 2048
    learning_rate: float = 2e-5
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
    rewards: dict[str, float] = dataclasses.field(default_factory=_default_rewards)
    """Reward functions and their weights: names of ``agentdistill.training.rewards.REWARDS`` (``correct``,
    ``f1``, ``format``, ``final_answer``, ``runnable_code``, ``grounded``, ``length``) or ``module:function``
    import paths of your own ``fn(trajectory, config) -> float | None``; the reward is their weighted sum,
    and a weight of 0 logs a reward without optimising it. Default: ``correct`` only, with the format
    components as weight-0 monitors. A warning: ``format`` and its components can be gamed (a runnable
    ``final_answer(<anything>)`` scores 1, right or wrong); weighted above 0 they taught the form, not the
    answer, in our offline runs."""
    shuffle_rewards: bool = False
    """The control run: permute each group's rewards over its own rollouts (seeded), so the reward says
    nothing about which rollout earned it, while the same groups stay mixed with the same advantages (an
    update as large as the real run's); a real gain must vanish under it. The true rewards stay in the
    rollout records."""
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
    forced_answer: Literal["sample", "mask"] = "sample"
    """The answer asked for after ``agent.max_steps``: ``sample`` it at the rollout temperature and train it,
    or ``mask`` it (greedy, as the evaluation asks it, and never trained). Never greedy and trained."""
    mask_truncated_turns: bool = True
    """Leave turns cut by ``agent.max_tokens`` (finish reason ``length``) out of the loss."""
    concurrency: int = 16
    """Rollouts in flight at once (their model calls are batched)."""
    executor: ExecutorConfig = dataclasses.field(default_factory=ExecutorConfig)
    """Where the rollout episodes run (``local``: asyncio tasks in this process)."""
    weight_sync: Literal["reload", "lora"] = "reload"
    """With ``student.serve``: how the managed vLLM server follows the policy. ``reload``: the policy's weights
    (LoRA merged in) are written and reloaded in place before each step (vLLM's ``reload_weights``; the
    server runs the plain model at full speed); ``lora``: the adapter is hot-loaded (``--enable-lora``; about
    10x slower on CPU; needs ``lora: true``)."""
    vllm_server: str | None = None
    """Base URL of a ``trl vllm-serve`` server (``http://host:8000``): rollouts generate there through its
    OpenAI-compatible API and TRL pushes the new weights to it before every step. None: the policy
    generates in this process with transformers (CPU, or one GPU), or, with ``student.serve``, in a managed
    vLLM server of the starting model that follows the policy as ``weight_sync`` says (the CPU build
    works)."""
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
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise FieldError(name, f"must be a whole number >= 1, got {value!r}")
        if self.save_steps < 0:
            raise FieldError("save_steps", f"must be >= 0, got {self.save_steps}")
        if not 0 < self.epsilon < 1:
            raise FieldError("epsilon", f"the clipping range must be in (0, 1), got {self.epsilon}")
        if self.forced_answer not in ("sample", "mask"):
            raise FieldError("forced_answer", f"must be sample or mask, got {self.forced_answer!r}")
        if self.weight_sync not in ("reload", "lora"):
            raise FieldError("weight_sync", f"must be reload or lora, got {self.weight_sync!r}")
        for name, weight in self.rewards.items():
            if not isinstance(weight, int | float) or isinstance(weight, bool) or weight != weight:
                raise FieldError("rewards", f"{name}: the weight must be a number, got {weight!r}")
        if not any(w != 0 for w in self.rewards.values()):
            raise FieldError(
                "rewards", "every weight is 0: give at least one reward a weight, e.g. correct: 1.0"
            )
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
        if self.student.serve is not None and self.weight_sync == "lora" and not self.lora:
            raise FieldError(
                "weight_sync",
                "lora hot-loads LoRA adapters: set lora: true, or weight_sync: reload",
            )
        if self.student.serve is not None and self.vllm_server is not None:
            raise FieldError(
                "vllm_server",
                "set student.serve (a managed vLLM) or vllm_server (a trl vllm-serve), not both",
            )
        if self.vllm_server is not None and not self.vllm_server.startswith(("http://", "https://")):
            raise FieldError("vllm_server", f"expected http(s)://host:port, got {self.vllm_server!r}")

    @property
    def rollout_agent(self) -> AgentConfig:
        """The agent the rollouts play: ``agent`` with the forced answer trained (and sampled) or not."""
        return dataclasses.replace(self.agent, train_forced_answer=self.forced_answer == "sample")

    def warnings(self) -> list[str]:
        """What deserves a line before the run starts."""
        gamed = [n for n in FORMAT_REWARDS if self.rewards.get(n, 0) > 0]
        if not gamed:
            return []
        return [
            f"rewards {', '.join(gamed)} weigh above 0: they score the episode's form, not its answer (a "
            "runnable final_answer(<anything>) scores 1), and GRPO can raise them while accuracy falls"
        ]

    def validate(self) -> None:
        """Ready to run: tasks and an output folder given (the pipeline fills both itself)."""
        if not self.tasks.specs:
            from agentdistill.config import ConfigError

            raise ConfigError("rl: no training tasks; pass --tasks SPEC (e.g. gsm8k:train[:200])")
        super().validate()
