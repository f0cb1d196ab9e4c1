"""CodeAct episodes as GRPO rollouts: TRL's ``rollout_func`` runs our agent in our sandbox with our tools.

TRL's ``GRPOTrainer`` hands :class:`RolloutRunner` the prompts of a generation batch (each task
``group_size`` times in a row); the runner plays one full episode per prompt through the episode engine
(:mod:`agentdistill.episodes.engine`, the one generation and evaluation use) with the ``agent`` solver of
:func:`~agentdistill.agents.solvers.make_solver` (generating with the policy being trained, in this
process, or through a server kept in sync), scores it with the registered rewards and turns it into token
ids for the loss.

Token ids come from :func:`~agentdistill.training.masking.mask_conversation`, the same offset-based masking
as SFT: every message the policy wrote is flagged ``train`` (stored verbatim, exactly as sampled) and every
other one (system prompt, task, observations, tool output, the max-steps question) is not. The prompt is
everything before the first trained token; the completion is the rest up to the last trained token, and
its ``env_mask`` (TRL's name for the loss mask inside a completion) is 1 exactly on trained tokens.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agentdistill.errors import AgentDistillError
from agentdistill.schema import Message, Task, Trajectory
from agentdistill.training.masking import IGNORE_INDEX, mask_conversation
from agentdistill.training.rewards import compute_rewards

ROLLOUTS_DIR = "rollouts"


@dataclasses.dataclass
class RolloutTokens:
    """One rollout as GRPO sees it."""

    prompt_ids: list[int]
    completion_ids: list[int]
    env_mask: list[int]
    """1 on tokens the policy wrote (trained), 0 on observations and other inserted text."""
    truncated: bool = False
    """The episode was longer than ``max_length`` and its tail was cut."""

    @property
    def num_trained(self) -> int:
        return sum(self.env_mask)


def rl_messages(trajectory: Trajectory) -> list[Message]:
    """The episode's messages with ``train`` on exactly the policy-written turns (every assistant message)."""
    return [m.model_copy(update={"train": m.role == "assistant"}) for m in trajectory.messages]


def rollout_tokens(tokenizer: Any, trajectory: Trajectory, max_length: int) -> RolloutTokens:
    """Token ids and loss mask of one rollout (see the module docstring). An episode with no policy turn
    (its sandbox failed before the first step) becomes a one-token completion that trains nothing."""
    messages = rl_messages(trajectory)
    if not any(m.train for m in messages):
        ids = mask_conversation(tokenizer, messages[:2] or messages).input_ids
        return RolloutTokens(ids[:-1] or ids, [tokenizer.eos_token_id], [0])
    ex = mask_conversation(tokenizer, messages)
    trained = [i for i, label in enumerate(ex.labels) if label != IGNORE_INDEX]
    first, last = trained[0], trained[-1]
    prompt = ex.input_ids[:first]
    completion = ex.input_ids[first : last + 1]
    mask = [int(label != IGNORE_INDEX) for label in ex.labels[first : last + 1]]
    room = max_length - len(prompt)
    truncated = len(completion) > room
    if truncated:
        completion, mask = completion[: max(room, 1)], mask[: max(room, 1)]
    return RolloutTokens(prompt, completion, mask, truncated)


@dataclasses.dataclass
class RolloutStats:
    """Throughput of the rollouts so far (``rl_summary.json`` and the benchmark print them)."""

    rollouts: int = 0
    failed: int = 0
    """Rollouts whose episode itself failed (no reward; GRPO leaves them out of the baseline)."""
    truncated: int = 0
    completion_tokens: int = 0
    """Tokens the policy generated (all steps of all rollouts)."""
    trained_tokens: int = 0
    seconds: float = 0.0
    """Wall time spent playing rollouts (generation, sandbox, tools)."""

    @property
    def rollouts_per_s(self) -> float:
        return self.rollouts / self.seconds if self.seconds else 0.0

    @property
    def tokens_per_s(self) -> float:
        return self.completion_tokens / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            **dataclasses.asdict(self),
            "rollouts_per_s": self.rollouts_per_s,
            "tokens_per_s": self.tokens_per_s,
        }


class RolloutRunner:
    """TRL's ``rollout_func``: ``runner(prompts, trainer) -> {prompt_ids, completion_ids, logprobs, env_mask,
    trajectory}``. ``tasks_by_question`` maps each prompt's text back to its task; ``chat_model(trainer)``
    gives the ChatModel to act with (the in-process policy, or the synced vLLM server)."""

    def __init__(
        self,
        config: Any,
        tasks_by_question: dict[str, Task],
        tokenizer: Any,
        chat_model: Any,
        *,
        tools: dict[str, Any] | None = None,
        out_dir: Path | None = None,
    ) -> None:
        self.config = config
        self.tasks = tasks_by_question
        self.tokenizer = tokenizer
        self.chat_model = chat_model
        self.tools = tools
        self.stats = RolloutStats()
        self.reward_names = list(config.rewards)
        self._store = None
        if out_dir is not None and config.save_rollouts:
            from agentdistill.trajectories.store import TrajectoryStore

            self._store = TrajectoryStore(Path(out_dir) / ROLLOUTS_DIR)
        self._calls = 0

    def task_of(self, prompt: Any) -> Task:
        text = prompt[-1]["content"] if isinstance(prompt, list) else str(prompt)
        try:
            return self.tasks[text]
        except KeyError:
            raise AgentDistillError(
                f"rl: a prompt that is none of the training tasks: {text[:80]!r}"
            ) from None

    def __call__(self, prompts: Sequence[Any], trainer: Any) -> dict[str, Any]:
        step = int(getattr(getattr(trainer, "state", None), "global_step", 0))
        started = time.perf_counter()
        with self.chat_model(trainer) as model:
            trajectories = self.play(model, [self.task_of(p) for p in prompts])
        self.stats.seconds += time.perf_counter() - started
        out: dict[str, list[Any]] = {"prompt_ids": [], "completion_ids": [], "env_mask": [], "trajectory": []}
        for k, traj in enumerate(trajectories):
            rewards = compute_rewards(traj, self.reward_names, self.config)
            group = k // self.config.group_size
            traj = traj.model_copy(
                update={
                    "id": f"{traj.task.id}#s{step}-g{group}-{k % self.config.group_size}",
                    "metadata": {**traj.metadata, "rl": {"step": step, "group": group, "rewards": rewards}},
                }
            )
            tokens = rollout_tokens(self.tokenizer, traj, self.config.max_length)
            self.stats.rollouts += 1
            self.stats.failed += traj.status == "failed"
            self.stats.truncated += tokens.truncated
            self.stats.completion_tokens += traj.stats.completion_tokens
            self.stats.trained_tokens += tokens.num_trained
            if self._store is not None:
                self._store.append(traj)
            out["prompt_ids"].append(tokens.prompt_ids)
            out["completion_ids"].append(tokens.completion_ids)
            out["env_mask"].append(tokens.env_mask)
            out["trajectory"].append(traj)
        self._calls += 1
        return {**out, "logprobs": None}

    def play(self, model: Any, tasks: list[Task]) -> list[Trajectory]:
        """One episode per task (duplicates are a group's rollouts), ``concurrency`` at a time."""
        from agentdistill.models.base import run_sync

        return run_sync(self._play(model, tasks))

    async def _play(self, model: Any, tasks: list[Task]) -> list[Trajectory]:
        from agentdistill.agents.solvers import SolverContext, make_solver
        from agentdistill.episodes.engine import Episode, EpisodeEngine

        context = SolverContext(
            model=model,
            model_spec=getattr(model, "name", "policy"),
            role="student",
            agent=self.config.agent,
            sandbox=self.config.sandbox,
            retrieval=self.config.retrieval,
            tools=self._tools(),
            verbatim=True,
        )
        engine = EpisodeEngine(
            concurrency=self.config.concurrency, executor=self.config.executor, label="rollouts"
        )
        episodes = [Episode(f"{t.id}#{k}", t, k) for k, t in enumerate(tasks)]
        return await engine.play(episodes, make_solver("agent", context))

    def _tools(self) -> dict[str, Any]:
        """The agent's host tools, built once (``web_search`` opens the retrieval index only for QA tasks)."""
        if self.tools is None:
            from agentdistill.tools.registry import make_host_tool

            domains = {t.domain for t in self.tasks.values()}
            cfg = self.config.agent
            wanted = {n for d in domains for n in cfg.domain_tools.get(d, cfg.tools)}
            self.tools = {name: make_host_tool(name, self.config.retrieval) for name in sorted(wanted)}
        return self.tools

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
