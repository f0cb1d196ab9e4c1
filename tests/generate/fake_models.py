"""LangChain chat models used as `langchain:tests.generate.fake_models:<name>` specs in generation tests."""

from __future__ import annotations

import os

from langchain_core.language_models.fake_chat_models import FakeListChatModel

SOLVE = 'Thought: I know it.\nCode:\n```py\nfinal_answer("42")\n```<end_code>'


def slow_solver() -> FakeListChatModel:
    """Answers every step with final_answer("42"), taking 0.3 s per call (so a run can be killed midway)."""
    return FakeListChatModel(responses=[SOLVE], sleep=0.3)


class _Switchable(FakeListChatModel):
    """Solves like ``slow_solver`` (no delay), unless ``$FAKE_TEACHER`` says it is ``down`` (a connection
    error: an outage) or ``buggy`` (a ValueError: a bug); the same spec, so the same fingerprint."""

    def _call(self, *args, **kwargs):
        state = os.environ.get("FAKE_TEACHER", "up")
        if state == "down":
            raise ConnectionError("teacher server went away")
        if state == "buggy":
            raise ValueError("a bug in the model wrapper")
        return super()._call(*args, **kwargs)


def switchable() -> FakeListChatModel:
    return _Switchable(responses=[SOLVE])


class _Broken(FakeListChatModel):
    def _call(self, *args, **kwargs):
        raise ConnectionError("teacher server went away")


def broken() -> FakeListChatModel:
    return _Broken(responses=["unused"])


def cot_answerer() -> FakeListChatModel:
    """A CoT teacher: reasons in one line, then boxes 42."""
    return FakeListChatModel(responses=["6 times 7 is 42.\nFinal answer: 42"])
