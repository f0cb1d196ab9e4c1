"""Step-level loss masks from per-message ``train`` flags, for any chat template.

Stock chat templates have no ``{% generation %}`` markers, so TRL's assistant masks do not work for most
students, and masking by "assistant role" would train failed steps too. Instead the conversation is
rendered once with the student's template, each message's characters are located in the rendered text,
and the tokenizer's offsets map them to tokens. Labels are the token ids inside messages flagged
``train: true`` plus the end-of-turn token the template writes after them (so the student learns to stop);
every other token is ``-100``.

Locating messages: the template is first rendered with a unique placeholder per message, which yields the
exact template text between messages (including role headers, injected system prompts, merged turns). The
real rendering is then walked piece by piece, accepting each message's content as is or whitespace-trimmed
(Llama 3 templates ``trim`` contents). A template that rewrites contents in other ways falls back to
searching each content in order after the previous one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from agentdistill.errors import AgentDistillError
from agentdistill.schema import Message

IGNORE_INDEX = -100
_PLACEHOLDER = "@@AGENTDISTILL-MESSAGE-{}@@"


class MaskingError(AgentDistillError, ValueError):
    """A conversation whose trained messages cannot be found in the rendered chat template."""


@dataclasses.dataclass
class MaskedExample:
    """One tokenized conversation: ``labels[i]`` is ``input_ids[i]`` where trained, else -100."""

    input_ids: list[int]
    labels: list[int]
    text: str
    """The rendered conversation (what was tokenized)."""
    trained_spans: list[tuple[int, int]]
    """Character spans of ``text`` that are trained (message content + end-of-turn token)."""

    @property
    def num_trained(self) -> int:
        return sum(1 for x in self.labels if x != IGNORE_INDEX)


def render(tokenizer: Any, messages: Sequence[dict[str, str]], chat_template: str | None = None) -> str:
    """The full conversation as the student sees it in training (no generation prompt)."""
    try:
        return tokenizer.apply_chat_template(
            list(messages), tokenize=False, add_generation_prompt=False, chat_template=chat_template
        )
    except Exception as e:  # jinja errors from templates (e.g. "roles must alternate") are data problems
        raise MaskingError(f"the chat template refused this conversation: {e}") from None


def locate_messages(
    tokenizer: Any, messages: Sequence[Message], text: str, chat_template: str | None = None
) -> list[tuple[int, int] | None]:
    """Character span of each message's content in ``text``; None for a message the template left out."""
    spans = _walk_with_placeholders(tokenizer, messages, text, chat_template)
    return spans if spans is not None else _search_in_order(messages, text)


def _walk_with_placeholders(
    tokenizer: Any, messages: Sequence[Message], text: str, chat_template: str | None
) -> list[tuple[int, int] | None] | None:
    marks = [_PLACEHOLDER.format(i) for i in range(len(messages))]
    try:
        skeleton = tokenizer.apply_chat_template(
            [{"role": m.role, "content": mark} for m, mark in zip(messages, marks, strict=True)],
            tokenize=False,
            add_generation_prompt=False,
            chat_template=chat_template,
        )
    except Exception:
        return None
    # The skeleton's pieces: template text, then a placeholder, then template text, ...
    found = sorted((skeleton.find(mark), i) for i, mark in enumerate(marks) if mark in skeleton)
    spans: list[tuple[int, int] | None] = [None] * len(messages)
    pos = 0  # in text
    cut = 0  # in skeleton
    for at, i in found:
        glue = skeleton[cut:at]
        if not text.startswith(glue, pos):
            return None
        pos += len(glue)
        content = messages[i].content
        for candidate in (content, content.strip()):
            if text.startswith(candidate, pos):
                spans[i] = (pos, pos + len(candidate))
                pos += len(candidate)
                break
        else:
            return None
        cut = at + len(marks[i])
    if text[pos:] != skeleton[cut:]:
        return None
    return spans


def _search_in_order(messages: Sequence[Message], text: str) -> list[tuple[int, int] | None]:
    spans: list[tuple[int, int] | None] = []
    pos = 0
    for m in messages:
        span = None
        for candidate in (m.content, m.content.strip()):
            at = text.find(candidate, pos)
            if at >= 0:
                span = (at, at + len(candidate))
                pos = span[1]
                break
        spans.append(span)
    return spans


def special_token_strings(tokenizer: Any) -> list[str]:
    """Every special token's text, longest first (so ``<|eot_id|>`` wins over a shorter prefix)."""
    tokens = {t.content for t in getattr(tokenizer, "added_tokens_decoder", {}).values() if t.special}
    tokens.update(getattr(tokenizer, "all_special_tokens", []))
    return sorted((t for t in tokens if t), key=len, reverse=True)


def end_of_turn(text: str, end: int, limit: int, specials: Sequence[str]) -> int:
    """Where the trained span after a message ends: past the first special token the template writes after
    its content (only whitespace in between, before ``limit``); ``end`` if there is none."""
    pos = end
    while pos < limit and text[pos].isspace():
        pos += 1
    for tok in specials:
        if text.startswith(tok, pos) and pos + len(tok) <= limit:
            return pos + len(tok)
    return end


def mask_conversation(
    tokenizer: Any, messages: Sequence[Message], *, chat_template: str | None = None
) -> MaskedExample:
    """Render, tokenize and label one conversation (no truncation here: see :func:`apply_length_policy`)."""
    if not messages:
        raise MaskingError("conversation has no messages")
    for i, m in enumerate(messages):
        if m.train and m.role != "assistant":
            raise MaskingError(
                f"message {i} is a {m.role} message flagged train: true; only assistant turns train"
            )
    text = render(tokenizer, [m.to_chat() for m in messages], chat_template)
    spans = locate_messages(tokenizer, messages, text, chat_template)
    specials = special_token_strings(tokenizer)
    trained: list[tuple[int, int]] = []
    for i, (m, span) in enumerate(zip(messages, spans, strict=True)):
        if not m.train:
            continue
        if span is None:
            raise MaskingError(
                f"trained message {i} ({m.kind or m.role}) was not found in the rendered chat template; "
                "the template rewrites or drops it"
            )
        nxt = next((s[0] for s in spans[i + 1 :] if s is not None), len(text))
        trained.append((span[0], end_of_turn(text, span[1], nxt, specials)))

    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids = list(enc["input_ids"])
    offsets = np.asarray(enc["offset_mapping"], dtype=np.int64).reshape(-1, 2)
    in_span = np.zeros(len(text) + 1, dtype=np.int64)
    for s, e in trained:
        in_span[s:e] = 1
    csum = np.concatenate([[0], np.cumsum(in_span)])
    starts, ends = offsets[:, 0], offsets[:, 1]
    hit = (csum[ends] - csum[starts]) > 0  # token overlaps a trained character
    labels = np.where(hit, np.asarray(ids, dtype=np.int64), IGNORE_INDEX).tolist()
    return MaskedExample(input_ids=ids, labels=labels, text=text, trained_spans=trained)


@dataclasses.dataclass
class LengthOutcome:
    """What the length policy did to one example."""

    example: MaskedExample | None
    truncated: bool = False
    reason: str | None = None
    """Why the example was dropped (None when kept)."""


def apply_length_policy(example: MaskedExample, max_length: int, policy: str) -> LengthOutcome:
    """Enforce ``max_length``: ``truncate`` keeps the head, ``drop`` leaves the example out; an example with
    no trained token left is dropped either way (it would add nothing but a zero loss)."""
    if example.num_trained == 0:
        return LengthOutcome(None, reason="no trained tokens (every message is masked)")
    if len(example.input_ids) <= max_length:
        return LengthOutcome(example)
    if policy == "drop":
        return LengthOutcome(None, reason=f"longer than max_length ({max_length} tokens)")
    cut = dataclasses.replace(
        example, input_ids=example.input_ids[:max_length], labels=example.labels[:max_length]
    )
    if cut.num_trained == 0:
        return LengthOutcome(None, truncated=True, reason="no trained tokens left after truncation")
    return LengthOutcome(cut, truncated=True)
