"""Token-exact rollouts: the ids GRPO trains are the ids the policy sampled, spliced between template spans.

Hand-made episodes on the real SmolLM2 tokenizer check the splice itself (fast); the real-run tests in
``test_rl.py`` / ``test_rl_vllm.py`` check the same on rollouts the real model sampled.
"""

from __future__ import annotations

import pytest

from agentdistill.schema import AgentInfo, Message, SampledTokens, Task, Trajectory
from agentdistill.training.rl_config import RLConfig
from agentdistill.training.rollouts import (
    NotTokenExactError,
    RolloutRunner,
    rollout_tokens,
    spliced_sequence,
)


def _turn(tok, text: str, *, finish: str = "stop", eos: bool = False, train: bool = True, kind="action"):
    ids = tok(text, add_special_tokens=False).input_ids + ([tok.eos_token_id] if eos else [])
    lps = [-0.1 * (k + 1) for k in range(len(ids))]
    tokens = SampledTokens(ids=ids, logprobs=lps, finish_reason=finish)
    return Message(role="assistant", content=text, kind=kind, train=train, tokens=tokens)


def _episode(messages: list[Message]) -> Trajectory:
    task = Task(id="t", question="What is 6 * 7?", answer="42", domain="math")
    opening = [
        Message(role="system", content="You solve tasks."),
        Message(role="user", content=task.question),
    ]
    return Trajectory(id="t#0", task=task, agent=AgentInfo(model="m"), messages=opening + messages)


def _trained_spans(tokens) -> list[list[int]]:
    spans, current = [], []
    for t, m in zip(tokens.completion_ids, tokens.env_mask, strict=True):
        if m:
            current.append(t)
        elif current:
            spans.append(current)
            current = []
    return [*spans, current] if current else spans


def test_trained_ids_are_the_sampled_ids_and_the_prompt_is_what_the_policy_saw(chatml_tokenizer):
    tok = chatml_tokenizer
    stopped = _turn(tok, "Thought: multiply.\n```py\nprint(6 * 7)\n```<end_code>")
    ended = _turn(tok, "The product is 42.", eos=True)
    cut = _turn(tok, "Final answer: 4", finish="length", kind="final")
    traj = _episode([stopped, Message(role="user", content="Observation:\n42", kind="observation"), ended,
                     Message(role="user", content="Give your final answer.", kind="prompt"), cut])  # fmt: skip
    tokens = rollout_tokens(tok, traj, max_length=4096)

    # the prompt is exactly what the policy was given for its first turn
    seen = tok.apply_chat_template([m.to_chat() for m in traj.messages[:2]], add_generation_prompt=True,
                                   tokenize=False)  # fmt: skip
    assert tokens.prompt_ids == tok(seen, add_special_tokens=False).input_ids
    # trained spans are the sampled ids, byte for byte; the turn cut by max_tokens is masked
    assert _trained_spans(tokens) == [stopped.tokens.ids, ended.tokens.ids]
    assert tokens.truncated_turns == 1 and not tokens.truncated
    # sampling log-probabilities line up with the sampled ids (trained or not), 0 on template spans
    sampled_lps = [lp for m in (stopped, ended, cut) for lp in m.tokens.logprobs]
    assert [lp for lp in tokens.logprobs if lp != 0.0] == sampled_lps
    assert len(tokens.logprobs) == len(tokens.completion_ids)
    assert all(lp < 0 for lp, m in zip(tokens.logprobs, tokens.env_mask, strict=True) if m)
    # <|im_end|> is trained once, where the policy sampled it; the template's closers are untrained
    end = tok.eos_token_id
    trained_ends = [i for i, (t, m) in enumerate(zip(tokens.completion_ids, tokens.env_mask, strict=True))
                    if t == end and m]  # fmt: skip
    assert len(trained_ends) == 1
    text = tok.decode(tokens.completion_ids)
    assert "<end_code><|im_end|>" in text  # the template closes the stop-string turn (untrained)
    assert "42.<|im_end|>\n<|im_start|>user" in text  # no second <|im_end|> after the sampled one


def test_train_truncated_turns_and_untrained_turns(chatml_tokenizer):
    tok = chatml_tokenizer
    cut = _turn(tok, "```py\nprint(", finish="length")
    masked = _turn(tok, "Final answer: 42", train=False, kind="final")
    traj = _episode([cut, Message(role="user", content="Error", kind="error"), masked])
    assert _trained_spans(rollout_tokens(tok, traj, 4096)) == []
    assert _trained_spans(rollout_tokens(tok, traj, 4096, train_truncated_turns=True)) == [cut.tokens.ids]


def test_an_episode_longer_than_max_length_trains_nothing_and_earns_no_reward(chatml_tokenizer):
    tok = chatml_tokenizer
    traj = _episode([_turn(tok, "word " * 200, eos=True)])
    tokens = rollout_tokens(tok, traj, max_length=64)
    assert tokens.truncated and tokens.num_trained == 0
    assert len(tokens.prompt_ids) + len(tokens.completion_ids) <= max(64, len(tokens.prompt_ids) + 1)
    runner = RolloutRunner(RLConfig(), {}, tok, None)
    assert set(runner._rewards(traj, tokens).values()) == {None}  # left out of the group baseline


def test_a_turn_without_sampled_ids_is_refused(chatml_tokenizer):
    traj = _episode([Message(role="assistant", content="text only", kind="action", train=True)])
    with pytest.raises(NotTokenExactError, match="no sampled token ids"):
        spliced_sequence(chatml_tokenizer, traj.messages)


def test_records_with_tokens_round_trip_and_old_records_still_read(chatml_tokenizer):
    traj = _episode([_turn(chatml_tokenizer, "x = 1", finish="length")])
    back = Trajectory.from_json(traj.to_json())
    assert back.messages[-1].tokens == traj.messages[-1].tokens and back.messages[-1].tokens.truncated
    old = traj.to_dict()
    old["schema"] = "agentdistill.trajectory/2"
    del old["messages"][-1]["tokens"]
    del old["stats"]["model_time_s"], old["stats"]["sandbox_time_s"]
    assert Trajectory.from_dict(old).messages[-1].tokens is None


def test_the_shuffled_reward_control_permutes_rewards_within_each_group():
    runner = RolloutRunner(RLConfig(shuffle_rewards=True, group_size=4, tasks_per_step=5), {}, None, None)
    # group 0 all right, group 1 all wrong, groups 2-4 mixed: a permutation over the whole step would
    # hand the uniform groups rewards to learn from; within each group they keep none
    rewards = [
        {"correct": c} for c in [1.0] * 4 + [0.0] * 4 + [1.0, 0.0, 0.0, 0.0] + [1.0, 1.0, 0.0, 0.0] * 2
    ]
    shown = runner._shuffled(rewards, step=3)
    for g in range(5):
        group, given = rewards[4 * g : 4 * g + 4], shown[4 * g : 4 * g + 4]
        assert sorted(r["correct"] for r in given) == sorted(r["correct"] for r in group)
    assert shown != rewards and shown == runner._shuffled(rewards, step=3)  # seeded
    assert any(runner._shuffled(rewards, step=s) != shown for s in range(4, 9))


def test_a_backend_that_cannot_return_sampled_ids_is_refused():
    from agentdistill.models.base import SampledTokensUnsupportedError

    from ..agents.scripted import ScriptedModel

    model = ScriptedModel(["hi"])
    with pytest.raises(SampledTokensUnsupportedError, match="cannot return the token ids"):
        model.generate([{"role": "user", "content": "hi"}], sampled_tokens=True)


@pytest.mark.slow
def test_a_zero_adapter_policy_is_the_base_model(default_model_dir):
    """A fresh LoRA adapter (B = 0) changes nothing: the policy's greedy ids are the base model's, and the
    weights a served policy reloads are the base checkpoint's, name for name and value for value."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from agentdistill.models.hf import HFChatModel
    from agentdistill.training.rl_generation import policy_state_dict

    base = HFChatModel(default_model_dir)
    peft = get_peft_model(
        AutoModelForCausalLM.from_pretrained(default_model_dir, dtype=torch.float32),
        LoraConfig(r=8, lora_alpha=16, target_modules="all-linear"),
    )
    policy = HFChatModel.from_loaded(peft.eval(), base.tokenizer, name="policy")
    for question in ("What is 17 + 25?", "Compute 9 * 8 in Python.", "Name a prime above 50."):
        chat = [{"role": "user", "content": question}]
        ours = policy.generate(chat, max_tokens=20, sampled_tokens=True).completions[0]
        theirs = base.generate(chat, max_tokens=20, sampled_tokens=True).completions[0]
        assert ours.token_ids == theirs.token_ids
    weights = policy_state_dict(peft)
    checkpoint = base.model.state_dict()
    assert set(weights) == set(checkpoint)
    assert all(torch.equal(weights[k], checkpoint[k]) for k in checkpoint)
    assert any("lora_A" in k for k in peft.state_dict())  # the adapter is still there, unmerged


@pytest.mark.slow
def test_the_control_shows_trl_shuffled_rewards_and_changes_nothing_else(default_model_dir, sandbox_config):
    """Plumbing of the shuffled-reward control on real rollouts (the default model in process, the real
    sandbox): TRL gets each group's rewards permuted (same values, same mean), the true ones stay in the
    records, and the trained ids and log-probabilities are the sampled ones as without the control."""
    import contextlib
    from types import SimpleNamespace

    from agentdistill.agents.config import AgentConfig
    from agentdistill.models.hf import HFChatModel

    model = HFChatModel(default_model_dir)
    tasks = [
        Task(id=f"t{k}", question=f"What is {k} + {k}?", answer=str(2 * k), domain="math") for k in (3, 4)
    ]
    cfg = RLConfig(
        shuffle_rewards=True,
        group_size=3,
        tasks_per_step=2,
        rewards={"correct": 1.0, "runnable_code": 1.0},
        agent=AgentConfig(
            max_steps=1, max_tokens=24, final_max_tokens=8, use_examples=False, temperature=1.0
        ),
        sandbox=sandbox_config,
    )

    @contextlib.contextmanager
    def policy(trainer):
        yield model

    runner = RolloutRunner(cfg, {t.question: t for t in tasks}, model.tokenizer, policy)
    prompts = [[{"role": "user", "content": t.question}] for t in tasks for _ in range(3)]
    out = runner(prompts, SimpleNamespace(state=SimpleNamespace(global_step=0)))
    shown = [t.metadata["rl"]["rewards"] for t in out["trajectory"]]
    true = [t.metadata["rl"]["true_rewards"] for t in out["trajectory"]]
    for g in (0, 3):  # a permutation within each group: nothing added, lost or moved between groups
        assert sorted(map(repr, shown[g : g + 3])) == sorted(map(repr, true[g : g + 3]))
    assert runner._shuffled(true, step=0) == shown  # the seeded permutation of this step
    for traj, ids, mask, lps in zip(out["trajectory"], out["completion_ids"], out["env_mask"], out["logprobs"],
                                    strict=True):  # fmt: skip
        sampled = [
            m.tokens for m in traj.messages if m.role == "assistant" and m.train and not m.tokens.truncated
        ]
        assert [t for t, m in zip(ids, mask, strict=True) if m] == [t for s in sampled for t in s.ids]
        assert [p for p, m in zip(lps, mask, strict=True) if m] == [p for s in sampled for p in s.logprobs]
