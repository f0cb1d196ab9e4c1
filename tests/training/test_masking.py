"""Step-level loss masks: exactly the trained messages (plus their end-of-turn token) are labelled.

Checked for four real chat templates: ChatML (the default model's own), Llama 3.2 (real tokenizer and
template), Gemma 3 (real template; system merged into the user turn, ``model`` role, content trimmed) and
Qwen2.5 (real template; injects a default system prompt).
"""

from __future__ import annotations

import pytest

from agentdistill.schema import Message
from agentdistill.training.masking import (
    IGNORE_INDEX,
    MaskingError,
    apply_length_policy,
    mask_conversation,
)

from .fixtures import codeact_messages, cot_messages

TEMPLATES = [
    ("chatml_tokenizer", "<|im_end|>"),
    ("llama3_tokenizer", "<|eot_id|>"),
    ("gemma3_tokenizer", "<end_of_turn>"),
    ("qwen25_tokenizer", "<|im_end|>"),
]

# Text that occurs only in untrained messages of the CodeAct fixture: system prompt, task, observations,
# the failed step (train: false) and the error it caused.
UNTRAINED_MARKERS = [
    "expert assistant",
    "New task",
    "Observation:",
    "Execution logs",
    "final_answer(smallest_base)",
    "The smallest valid base is 4.",
    "NameError",
]


def labelled_ids(ex) -> list[int]:
    return [t for t in ex.labels if t != IGNORE_INDEX]


def expected_text(messages: list[Message], eot: str) -> str:
    return "".join(m.content.strip() + eot for m in messages if m.train)


@pytest.mark.parametrize(("tokenizer_fixture", "eot"), TEMPLATES)
def test_labelled_tokens_decode_to_exactly_the_trained_messages(request, tokenizer_fixture, eot):
    tok = request.getfixturevalue(tokenizer_fixture)
    messages = codeact_messages()
    ex = mask_conversation(tok, messages)

    assert len(ex.labels) == len(ex.input_ids)
    assert all(lab in (IGNORE_INDEX, tid) for lab, tid in zip(ex.labels, ex.input_ids, strict=True))
    decoded = tok.decode(labelled_ids(ex))
    assert decoded == expected_text(messages, eot)
    for marker in UNTRAINED_MARKERS:
        assert marker in ex.text  # the context is there ...
        assert marker not in decoded  # ... but never labelled
    eot_id = tok.convert_tokens_to_ids(eot)
    assert labelled_ids(ex).count(eot_id) == sum(m.train for m in messages)


@pytest.mark.parametrize(("tokenizer_fixture", "eot"), TEMPLATES)
def test_no_token_outside_trained_spans_is_labelled(request, tokenizer_fixture, eot):
    """Token by token: a labelled token's characters lie inside a trained message or its end-of-turn token,
    located independently by searching the rendered text."""
    tok = request.getfixturevalue(tokenizer_fixture)
    messages = codeact_messages()
    ex = mask_conversation(tok, messages)
    allowed = []
    for m in messages:
        if m.train:
            start = ex.text.index(m.content.strip())
            end = ex.text.index(eot, start + len(m.content.strip())) + len(eot)
            allowed.append((start, end))
    enc = tok(ex.text, add_special_tokens=False, return_offsets_mapping=True)
    assert enc["input_ids"] == ex.input_ids
    for (s, e), lab in zip(enc["offset_mapping"], ex.labels, strict=True):
        inside = any(a <= s and e <= b for a, b in allowed)
        assert (lab != IGNORE_INDEX) == inside, ex.text[s:e]


@pytest.mark.parametrize(("tokenizer_fixture", "eot"), TEMPLATES)
def test_cot_baseline_trajectory_trains_only_the_answer(request, tokenizer_fixture, eot):
    tok = request.getfixturevalue(tokenizer_fixture)
    messages = cot_messages("What is the sum of all positive integer divisors of 77?", "96")
    ex = mask_conversation(tok, messages)
    assert tok.decode(labelled_ids(ex)) == messages[-1].content + eot


def test_llama3_trims_contents_and_the_mask_follows(llama3_tokenizer):
    """Llama 3 templates ``trim`` message contents: the trained span is the trimmed text."""
    messages = [
        Message(role="user", content="  Question with spaces  ", kind="task"),
        Message(
            role="assistant",
            content="\n  Thought: trimmed.\nCode:\n```py\nfinal_answer(1)\n```<end_code>\n\n",
            train=True,
        ),
    ]
    ex = mask_conversation(llama3_tokenizer, messages)
    assert llama3_tokenizer.decode(labelled_ids(ex)) == messages[1].content.strip() + "<|eot_id|>"


def test_qwen25_injected_system_prompt_is_not_trained(qwen25_tokenizer):
    messages = cot_messages("Simplify $(2-3z) - (3+4z)$.", "-1-7z")[1:]  # no system message
    ex = mask_conversation(qwen25_tokenizer, messages)
    assert "You are Qwen" in ex.text
    assert qwen25_tokenizer.decode(labelled_ids(ex)) == messages[-1].content + "<|im_end|>"


def test_trained_text_repeated_in_context_is_labelled_once(chatml_tokenizer):
    """An answer that also appears earlier (in an observation) is labelled only where the assistant says it."""
    messages = [
        Message(role="user", content="Repeat after me: 42", kind="task"),
        Message(role="assistant", content="42", train=True, kind="final"),
    ]
    ex = mask_conversation(chatml_tokenizer, messages)
    assert chatml_tokenizer.decode(labelled_ids(ex)) == "42<|im_end|>"
    first = ex.text.index("42")
    assert ex.trained_spans[0][0] > first


def test_train_flag_on_a_user_message_is_refused(chatml_tokenizer):
    messages = [
        Message(role="user", content="Observation:\n4", kind="observation", train=True),
        Message(role="assistant", content="done", train=True),
    ]
    with pytest.raises(MaskingError, match="user message flagged train"):
        mask_conversation(chatml_tokenizer, messages)


def test_template_that_drops_a_trained_message_is_an_error(chatml_tokenizer):
    drop_assistant = (
        "{% for m in messages %}{% if m['role'] != 'assistant' %}{{ m['role'] + ': ' + m['content'] + '\n' }}"
        "{% endif %}{% endfor %}"
    )
    messages = [Message(role="user", content="hi"), Message(role="assistant", content="hello", train=True)]
    with pytest.raises(MaskingError, match="not found in the rendered chat template"):
        mask_conversation(chatml_tokenizer, messages, chat_template=drop_assistant)


def test_template_errors_become_masking_errors(gemma3_tokenizer):
    messages = [Message(role="assistant", content="no user turn first", train=True)]
    with pytest.raises(MaskingError, match="refused"):
        mask_conversation(gemma3_tokenizer, messages)


def test_length_policy(chatml_tokenizer):
    ex = mask_conversation(chatml_tokenizer, codeact_messages())
    n = len(ex.input_ids)

    kept = apply_length_policy(ex, n, "drop")
    assert kept.example is ex and not kept.truncated

    dropped = apply_length_policy(ex, n - 1, "drop")
    assert dropped.example is None and "longer than max_length" in dropped.reason

    first_trained = next(i for i, t in enumerate(ex.labels) if t != IGNORE_INDEX)
    cut = apply_length_policy(ex, first_trained + 5, "truncate")
    assert cut.truncated and len(cut.example.input_ids) == first_trained + 5
    assert cut.example.labels == ex.labels[: first_trained + 5]

    nothing_left = apply_length_policy(ex, first_trained, "truncate")
    assert nothing_left.example is None and nothing_left.truncated
    assert "no trained tokens left" in nothing_left.reason


def test_all_masked_conversation_is_rejected_by_the_length_policy(chatml_tokenizer):
    messages = [Message(role="user", content="q"), Message(role="assistant", content="a", train=False)]
    out = apply_length_policy(mask_conversation(chatml_tokenizer, messages), 100, "truncate")
    assert out.example is None and "every message is masked" in out.reason
