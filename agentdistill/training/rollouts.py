"""CodeAct episodes as GRPO rollouts: TRL's ``rollout_func`` runs our agent in our sandbox with our tools.

TRL's ``GRPOTrainer`` hands :class:`RolloutRunner` the prompts of a generation batch (each task
``group_size`` times in a row); the runner plays one full episode per prompt through the episode engine
(:mod:`agentdistill.episodes.engine`, the one generation and evaluation use) with the ``agent`` solver of
:func:`~agentdistill.agents.solvers.make_solver` (generating with the policy being trained, in this
process, or through a server kept in sync), scores it with the registered rewards and turns it into token
ids for the loss.

The token ids are **token-exact** (:func:`rollout_tokens`): every assistant turn stores the ids the policy
sampled (``Message.tokens``), and the training sequence splices those ids, unchanged, between the
template-rendered spans the policy did not write (system prompt, task, observations, the max-steps
question, the template's turn markers). Nothing the policy wrote is re-tokenized, so trained ids == sampled
ids; the end-of-turn token is trained only where the policy sampled it (a turn ended by a stop string or
by ``max_tokens`` gets the template's closing token, untrained). The prompt is everything before the first
assistant turn (exactly what the policy saw for it); the completion runs to the end of the last one; its
``env_mask`` (TRL's loss mask inside a completion) is 1 exactly on trained sampled ids and ``logprobs``
holds their sampling log-probabilities (TRL's importance-sampling correction compares them with its own).
"""

from __future__ import annotations

import collections
import dataclasses
import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agentdistill.errors import AgentDistillError
from agentdistill.schema import Message, Task, Trajectory
from agentdistill.training.rewards import compute_rewards

ROLLOUTS_DIR = "rollouts"
_TURN = "\x1eagentdistill-turn-{}\x1e"
"""Stands in for an assistant turn's content when the template renders the spans around it."""


@dataclasses.dataclass
class RolloutTokens:
    """One rollout as GRPO sees it."""

    prompt_ids: list[int]
    completion_ids: list[int]
    env_mask: list[int]
    """1 on tokens the policy sampled and that train, 0 on template spans, observations and masked turns."""
    logprobs: list[float] = dataclasses.field(default_factory=list)
    """Per completion token: the sampling log-probability of a sampled id, 0.0 elsewhere."""
    truncated: bool = False
    """The episode was longer than ``max_length``: its tail was cut and nothing of it trains."""
    truncated_turns: int = 0
    """Assistant turns cut by ``max_tokens`` (finish reason ``length``)."""

    @property
    def num_trained(self) -> int:
        return sum(self.env_mask)


class NotTokenExactError(AgentDistillError):
    """A rollout turn without its sampled token ids (it cannot be trained token-exactly)."""


def _end_of_turn_texts(tokenizer: Any) -> dict[int, str]:
    ids = {
        tokenizer.eos_token_id,
        *(
            getattr(tokenizer, "added_tokens_encoder", {}).get(t)
            for t in ("<|im_end|>", "<|eot_id|>", "<|end|>")
        ),
    }
    return {i: tokenizer.convert_ids_to_tokens(i) for i in ids if i is not None}


def spliced_sequence(
    tokenizer: Any, messages: Sequence[Message], *, train_truncated_turns: bool = False
) -> tuple[list[int], list[int], list[float], list[tuple[int, int]]]:
    """The episode as (ids, mask, logprobs, assistant turn spans): template-rendered text for everything
    but the assistant turns, whose sampled ids are spliced in unchanged. ``mask`` is 1 on the sampled ids of
    trained turns (a turn cut by ``max_tokens`` trains only with ``train_truncated_turns``)."""
    chat = [
        {"role": m.role, "content": _TURN.format(k) if m.role == "assistant" else m.content}
        for k, m in enumerate(messages)
    ]
    rest = tokenizer.apply_chat_template(chat, tokenize=False)
    ends = _end_of_turn_texts(tokenizer)
    ids: list[int] = []
    mask: list[int] = []
    logprobs: list[float] = []
    spans: list[tuple[int, int]] = []
    closed_by = None  # the end-of-turn token the previous turn sampled, if any
    for k, m in enumerate(messages):
        if m.role != "assistant":
            continue
        if m.tokens is None:
            raise NotTokenExactError(
                f"assistant turn {k} has no sampled token ids; RL trains only token-exact rollouts (an "
                "agent with verbatim=True on a backend that returns them: hf: or a vLLM server)"
            )
        before, found, rest = rest.partition(_TURN.format(k))
        if not found:
            raise NotTokenExactError(f"the chat template dropped assistant turn {k}; cannot splice it")
        if closed_by is not None and before.startswith(closed_by):
            before = before[len(closed_by) :]  # the policy sampled the template's end-of-turn token
        piece = tokenizer(before, add_special_tokens=False).input_ids
        ids += piece
        mask += [0] * len(piece)
        logprobs += [0.0] * len(piece)
        sampled = list(m.tokens.ids)
        trained = m.train and (train_truncated_turns or not m.tokens.truncated)
        spans.append((len(ids), len(ids) + len(sampled)))
        ids += sampled
        mask += [int(trained)] * len(sampled)
        lps = m.tokens.logprobs or [0.0] * len(sampled)
        logprobs += [float(x) for x in lps[: len(sampled)]] + [0.0] * (len(sampled) - len(lps))
        closed_by = ends.get(sampled[-1]) if sampled else None
    return ids, mask, logprobs, spans


def rollout_tokens(
    tokenizer: Any, trajectory: Trajectory, max_length: int, *, train_truncated_turns: bool = False
) -> RolloutTokens:
    """Token ids, loss mask and sampling log-probabilities of one rollout (see the module docstring). An
    episode with no policy turn (its sandbox failed before the first step) becomes a one-token completion
    that trains nothing; an episode longer than ``max_length`` is cut and trains nothing."""
    messages = trajectory.messages
    if not any(m.role == "assistant" for m in messages):
        chat = [m.to_chat() for m in messages[:2] or messages]
        prompt = tokenizer.apply_chat_template(chat, tokenize=True, add_generation_prompt=True)
        prompt = list(prompt["input_ids"] if isinstance(prompt, dict) else prompt)
        return RolloutTokens(prompt, [tokenizer.eos_token_id], [0], [0.0])
    ids, mask, logprobs, spans = spliced_sequence(
        tokenizer, messages, train_truncated_turns=train_truncated_turns
    )
    first, last = spans[0][0], spans[-1][1]
    prompt, completion = ids[:first], ids[first:last]
    mask, logprobs = mask[first:last], logprobs[first:last]
    cut = sum(1 for m in messages if m.tokens is not None and m.tokens.truncated)
    room = max(max_length - len(prompt), 1)
    if len(completion) > room:  # the answer may be in the cut tail: train none of it
        return RolloutTokens(prompt, completion[:room], [0] * room, logprobs[:room], True, cut)
    return RolloutTokens(prompt, completion, mask, logprobs, False, cut)


@dataclasses.dataclass
class RolloutStats:
    """Throughput and shape of the rollouts so far (``rl_summary.json`` and the benchmark print them)."""

    rollouts: int = 0
    failed: int = 0
    """Rollouts whose episode itself failed (no reward; GRPO leaves them out of the baseline)."""
    truncated: int = 0
    """Rollouts longer than ``max_length`` (cut; trained on nothing, rewarded with nothing)."""
    truncated_turns: int = 0
    """Assistant turns cut by ``max_tokens``."""
    completion_tokens: int = 0
    """Tokens the policy generated (all steps of all rollouts)."""
    trained_tokens: int = 0
    seconds: float = 0.0
    """Wall time spent playing rollouts (generation, sandbox, tools)."""
    sync_seconds: float = 0.0
    """Wall time spent bringing the rollout model up to the policy's weights (a served policy)."""
    model_seconds: float = 0.0
    """Episode-seconds waiting for the model (summed over concurrent episodes)."""
    sandbox_seconds: float = 0.0
    """Episode-seconds running code in the sandbox (summed over concurrent episodes)."""
    finish_reasons: dict[str, int] = dataclasses.field(default_factory=dict)
    """Assistant turns by finish reason (``stop``: end of turn or stop string; ``length``: ``max_tokens``)."""

    @property
    def rollouts_per_s(self) -> float:
        return self.rollouts / self.seconds if self.seconds else 0.0

    @property
    def tokens_per_s(self) -> float:
        return self.completion_tokens / self.seconds if self.seconds else 0.0

    def add(self, other: RolloutStats) -> None:
        for f in dataclasses.fields(self):
            if f.name == "finish_reasons":
                for k, v in other.finish_reasons.items():
                    self.finish_reasons[k] = self.finish_reasons.get(k, 0) + v
            else:
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def to_dict(self) -> dict[str, Any]:
        return {
            **dataclasses.asdict(self),
            "rollouts_per_s": self.rollouts_per_s,
            "tokens_per_s": self.tokens_per_s,
        }


class RolloutRunner:
    """TRL's ``rollout_func``: ``runner(prompts, trainer) -> {prompt_ids, completion_ids, logprobs, env_mask,
    trajectory}``. ``tasks_by_question`` maps each prompt's text back to its task; ``chat_model(trainer)``
    gives the ChatModel to act with (the in-process policy, or the synced vLLM server). ``per_step`` keeps
    each generation batch's :class:`RolloutStats` by optimizer step."""

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
        self.per_step: dict[int, RolloutStats] = {}
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
        stats = RolloutStats()
        started = time.perf_counter()
        with self.chat_model(trainer) as model:
            synced = time.perf_counter()
            if not getattr(model, "supports_sampled_tokens", False):
                from agentdistill.models.base import SampledTokensUnsupportedError

                raise SampledTokensUnsupportedError(
                    f"rl: {model.name} cannot return the token ids it samples; rollouts must be token-exact "
                    "(use an hf: policy, a managed vLLM server or a trl vllm-serve)"
                )
            trajectories = self.play(model, [self.task_of(p) for p in prompts])
        stats.seconds = time.perf_counter() - synced
        stats.sync_seconds = synced - started
        scored = [(traj, rollout_tokens(self.tokenizer, traj, self.config.max_length,
                                        train_truncated_turns=not self.config.mask_truncated_turns))
                  for traj in trajectories]  # fmt: skip
        rewards = [self._rewards(traj, tokens) for traj, tokens in scored]
        shown = self._shuffled(rewards, step) if self.config.shuffle_rewards else rewards
        out: dict[str, list[Any]] = {
            "prompt_ids": [], "completion_ids": [], "env_mask": [], "logprobs": [], "trajectory": []
        }  # fmt: skip
        for k, ((traj, tokens), true, given) in enumerate(zip(scored, rewards, shown, strict=True)):
            group = k // self.config.group_size
            rl = {"step": step, "group": group, "rewards": given, "truncated": tokens.truncated}
            if self.config.shuffle_rewards:
                rl["true_rewards"] = true
            traj = traj.model_copy(
                update={
                    "id": f"{traj.task.id}#s{step}-g{group}-{k % self.config.group_size}",
                    "metadata": {**traj.metadata, "rl": rl},
                }
            )
            self._count(stats, traj, tokens)
            if self._store is not None:
                self._store.append(traj)
            out["prompt_ids"].append(tokens.prompt_ids)
            out["completion_ids"].append(tokens.completion_ids)
            out["env_mask"].append(tokens.env_mask)
            out["logprobs"].append(tokens.logprobs)
            out["trajectory"].append(traj)
        self.stats.add(stats)
        self.per_step.setdefault(step + 1, RolloutStats()).add(stats)  # TRL logs it as step + 1
        self._calls += 1
        return out

    def _rewards(self, traj: Trajectory, tokens: RolloutTokens) -> dict[str, float | None]:
        """The rollout's rewards; none for an episode cut at ``max_length`` (its answer may be cut away)."""
        if tokens.truncated:
            return dict.fromkeys(self.reward_names)
        return compute_rewards(traj, self.reward_names, self.config)

    def _shuffled(self, rewards: list[dict[str, float | None]], step: int) -> list[dict[str, float | None]]:
        """The control: each group's rewards permuted over its own rollouts (seeded), so they say nothing
        about which rollout earned them, while every group keeps its rewards: the same groups are mixed,
        with the same advantages, as in the real run, and the update is as large (a permutation over the
        whole step would mix groups that had none to learn from and train more than the real run does)."""
        rng = random.Random(f"{self.config.seed}-{step}")
        size = self.config.group_size
        shown: list[dict[str, float | None]] = []
        for start in range(0, len(rewards), size):
            group = rewards[start : start + size]
            shown.extend(rng.sample(group, len(group)))
        return shown

    @staticmethod
    def _count(stats: RolloutStats, traj: Trajectory, tokens: RolloutTokens) -> None:
        stats.rollouts += 1
        stats.failed += traj.status == "failed"
        stats.truncated += tokens.truncated
        stats.truncated_turns += tokens.truncated_turns
        stats.completion_tokens += traj.stats.completion_tokens
        stats.trained_tokens += tokens.num_trained
        stats.model_seconds += traj.stats.model_time_s
        stats.sandbox_seconds += traj.stats.sandbox_time_s
        reasons = collections.Counter(m.tokens.finish_reason for m in traj.messages if m.tokens is not None)
        for reason, count in reasons.items():
            stats.finish_reasons[reason] = stats.finish_reasons.get(reason, 0) + count

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
            agent=self.config.rollout_agent,
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
