"""The hf: backend on the real packaged model: n samples, stop sequences, continuation, batching."""

from __future__ import annotations

import asyncio

import pytest

from agentdistill.models import GenerationParams

from .conftest import COUNTING

pytestmark = pytest.mark.slow


def test_n_samples_come_back_and_seed_reproduces(default_model):
    params = GenerationParams(n=4, temperature=1.0, max_tokens=24, seed=123)
    r1 = default_model.generate(COUNTING, params)
    assert len(r1.completions) == 4
    assert len(set(r1.texts)) > 1, "sampling at temperature 1 should give different samples"
    assert all(c.finish_reason in ("stop", "length") and c.tokens > 0 for c in r1.completions)
    r2 = default_model.generate(COUNTING, params)
    assert r2.texts == r1.texts  # same seed, same samples
    greedy = default_model.generate(COUNTING, n=3, max_tokens=12)
    assert len(greedy.texts) == 3 and len(set(greedy.texts)) == 1


def test_stop_sequences_are_honoured(default_model):
    full = default_model.generate(COUNTING, max_tokens=40).text
    assert len(full) > 20, full
    stop = full[12:16]  # a stop sequence the greedy answer is known to reach, wherever tokens split
    stopped = default_model.generate(COUNTING, max_tokens=40, stop=(stop, "never-appears"))
    assert stopped.text == full[: full.index(stop)]
    assert stopped.completions[0].finish_reason == "stop"
    assert (
        stopped.completions[0].tokens < default_model.generate(COUNTING, max_tokens=40).completions[0].tokens
    )


def test_length_finish_reason_and_token_counts(default_model):
    r = default_model.generate(COUNTING, max_tokens=3)
    assert r.completions[0].finish_reason == "length" and r.completions[0].tokens == 3
    assert r.prompt_tokens == len(
        default_model.tokenizer(
            default_model.render([{"role": "user", "content": COUNTING[0]["content"]}]),
            add_special_tokens=False,
        ).input_ids
    )


def test_continued_prefix_follows_the_prefix(default_model):
    import torch

    prefix = "Thought: The first ten numbers are 1, 2, 3,"
    convo = [*COUNTING, {"role": "assistant", "content": prefix}]
    rendered = default_model.render(convo, continue_final=True)
    assert rendered.endswith(prefix), "the prompt must end with the partial assistant message, not a new turn"
    cont = default_model.generate(convo, continue_final=True, max_tokens=12)
    assert not cont.text.startswith(prefix)  # only the continuation comes back
    # It is exactly what the model produces after the raw prefix text:
    ids = default_model.tokenizer(rendered, return_tensors="pt", add_special_tokens=False).input_ids
    with torch.inference_mode():
        out = default_model.model.generate(ids, max_new_tokens=12, do_sample=False, top_k=None)
    raw = default_model.tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True)
    assert cont.text == raw
    assert " 4" in cont.text[:6], cont.text  # and it carries the count on


def test_batched_equals_one_by_one(default_model):
    convs = [
        [{"role": "user", "content": "Name a colour."}],
        COUNTING,
        [
            {"role": "system", "content": "Answer in French."},
            {"role": "user", "content": "What is the capital of Italy?"},
        ],
    ]
    batched = default_model.generate_batch(convs, max_tokens=10)
    single = [default_model.generate(c, max_tokens=10).text for c in convs]
    assert [r.text for r in batched] == single


def test_concurrent_requests_share_one_batch(default_model, monkeypatch):
    calls = []
    real = default_model.generate_now

    def spy(convs, params, cont):
        calls.append(len(convs))
        return real(convs, params, cont)

    monkeypatch.setattr(default_model, "generate_now", spy)

    async def many():
        return await asyncio.gather(
            *(
                default_model.agenerate([{"role": "user", "content": f"Say {i}."}], max_tokens=4)
                for i in range(5)
            ),
            default_model.agenerate(COUNTING, max_tokens=6, temperature=0.5),  # other settings: own batch
        )

    results = asyncio.run(many())
    assert len(results) == 6 and all(r.completions for r in results)
    assert sorted(calls) == [1, 5]


def test_logprobs_are_mean_token_logprobs(default_model):
    r = default_model.generate(COUNTING, max_tokens=8, logprobs=True, n=2, temperature=0.8, seed=1)
    for c in r.completions:
        assert c.mean_logprob is not None and -20 < c.mean_logprob <= 0
    greedy = default_model.generate(COUNTING, max_tokens=8, logprobs=True).completions[0]
    assert greedy.mean_logprob > -1.5  # greedy tokens are the likely ones


def test_sampled_tokens_are_the_ids_with_their_logprobs(default_model):
    from .conftest import forward_logprobs

    full = default_model.generate(COUNTING, max_tokens=40).text
    stop = full[12:16]
    r = default_model.generate(COUNTING, max_tokens=40, stop=(stop,), sampled_tokens=True).completions[0]
    tok = default_model.tokenizer
    assert r.finish_reason == "stop" and r.text == tok.decode(r.token_ids, skip_special_tokens=True)
    assert r.text.startswith(full[: full.index(stop)] + stop)  # the stop string is kept as sampled
    assert not tok.decode(r.token_ids[:-1]).count(stop)  # and the sample ends with the token completing it
    assert r.token_logprobs == pytest.approx(forward_logprobs(default_model, COUNTING, r.token_ids), abs=1e-4)
    cut = default_model.generate(COUNTING, max_tokens=3, sampled_tokens=True).completions[0]
    assert cut.finish_reason == "length" and len(cut.token_ids) == len(cut.token_logprobs) == 3
    ask = [{"role": "user", "content": "Reply with just the word OK."}]
    ended = default_model.generate(ask, max_tokens=30, sampled_tokens=True).completions[0]
    assert ended.finish_reason == "stop" and ended.token_ids[-1] == tok.eos_token_id  # end of turn kept
    assert tok.eos_token_id not in ended.token_ids[:-1]


def test_sampled_logprobs_are_those_of_the_temperature_scaled_distribution(default_model):
    from .conftest import forward_logprobs

    params = GenerationParams(n=2, temperature=0.7, max_tokens=12, seed=5, sampled_tokens=True)
    for c in default_model.generate(COUNTING, params).completions:
        expected = forward_logprobs(default_model, COUNTING, c.token_ids, temperature=0.7)
        assert c.token_logprobs == pytest.approx(expected, abs=1e-4)
