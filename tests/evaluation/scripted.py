"""Scripted chat models for evaluation tests: fixed replies, counted calls."""

from __future__ import annotations

from collections.abc import Callable

from agentdistill.models.base import ChatModel, ChatResult, Completion, GenerationParams


class ScriptedChatModel(ChatModel):
    """Replies ``reply(conversation)``; counts requests (one per conversation) in ``calls``."""

    def __init__(self, reply: Callable[[list[dict[str, str]]], str], name: str = "scripted"):
        self.reply = reply
        self.name = name
        self.calls = 0

    async def _agenerate_batch(
        self, conversations: list[list[dict[str, str]]], params: GenerationParams, continue_final: bool
    ) -> list[ChatResult]:
        self.calls += len(conversations)
        out = []
        for conv in conversations:
            text = self.reply(conv)
            out.append(ChatResult([Completion(text, "stop", tokens=len(text.split()))], self.name, 10))
        return out


class CountingModel(ChatModel):
    """Wraps a real model and counts the conversations sent to it."""

    def __init__(self, inner: ChatModel):
        self.inner = inner
        self.name = inner.name
        self.calls = 0

    async def _agenerate_batch(
        self, conversations: list[list[dict[str, str]]], params: GenerationParams, continue_final: bool
    ) -> list[ChatResult]:
        self.calls += len(conversations)
        return await self.inner._agenerate_batch(conversations, params, continue_final)
