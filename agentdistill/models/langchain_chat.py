"""``langchain:<module>:<attr>`` backend: any langchain-core ``BaseChatModel``.

``attr`` is a chat-model instance, or a class or zero-argument factory that returns one. Sampling settings
are applied to the model's own fields where it has them (``temperature``, ``top_p``, ``max_tokens``,
``seed``); stop sequences are passed to every call and also enforced on the returned text. ``n`` samples
are ``n`` concurrent calls. LangChain has no portable way to continue a partial assistant message, so
continuation is reported as unsupported.
"""

from __future__ import annotations

import asyncio
import importlib
from typing import Any

from agentdistill.models.base import (
    ChatModel,
    ChatResult,
    Completion,
    GenerationParams,
    ModelSpecError,
    truncate_at_stop,
)

_FIELDS = {"temperature": "temperature", "top_p": "top_p", "max_tokens": "max_tokens", "seed": "seed"}


def import_chat_model(target: str) -> Any:
    """Resolve ``module:attr`` to a BaseChatModel instance."""
    from langchain_core.language_models import BaseChatModel

    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise ModelSpecError(f"langchain spec must be langchain:<module>:<attr>, got langchain:{target}")
    try:
        obj = importlib.import_module(module_name)
    except ImportError as e:
        raise ModelSpecError(f"langchain:{target}: cannot import module {module_name!r} ({e})") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ModelSpecError(f"langchain:{target}: {module_name} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if isinstance(obj, type) or (callable(obj) and not isinstance(obj, BaseChatModel)):
        obj = obj()
    if not isinstance(obj, BaseChatModel):
        raise ModelSpecError(
            f"langchain:{target} is a {type(obj).__name__}, not a langchain_core BaseChatModel"
        )
    return obj


class LangChainChatModel(ChatModel):
    """Wraps a langchain-core chat model so agents can use it like any other backend."""

    supports_continuation = False

    def __init__(self, model: Any, *, name: str | None = None) -> None:
        self.model = model
        self.name = name or f"langchain:{type(model).__module__}:{type(model).__name__}"

    def _configured(self, params: GenerationParams) -> Any:
        fields = getattr(type(self.model), "model_fields", {})
        update = {
            field: getattr(params, key)
            for key, field in _FIELDS.items()
            if field in fields and getattr(params, key) is not None
        }
        return self.model.model_copy(update=update) if update else self.model

    async def _agenerate_batch(
        self, conversations: list[list[dict[str, str]]], params: GenerationParams, continue_final: bool
    ) -> list[ChatResult]:
        model = self._configured(params)
        stop = list(params.stop) or None
        calls = [model.ainvoke(_to_langchain(c), stop=stop) for c in conversations for _ in range(params.n)]
        replies = await asyncio.gather(*calls)
        results = []
        for i in range(len(conversations)):
            chunk = replies[i * params.n : (i + 1) * params.n]
            results.append(
                ChatResult(
                    [self._completion(r, params) for r in chunk],
                    model=self.name,
                    prompt_tokens=_usage(chunk[0], "input_tokens"),
                )
            )
        return results

    @staticmethod
    def _completion(reply: Any, params: GenerationParams) -> Completion:
        text = reply.text if isinstance(getattr(reply, "text", None), str) else str(reply.content)
        text, hit = truncate_at_stop(text, params.stop)
        meta = getattr(reply, "response_metadata", None) or {}
        finish = meta.get("finish_reason") or meta.get("stop_reason") or "stop"
        mean_lp = None
        lp = meta.get("logprobs")
        if isinstance(lp, dict) and lp.get("content"):
            values = [t["logprob"] for t in lp["content"]]
            mean_lp = sum(values) / len(values)
        return Completion(
            text, "stop" if hit else finish, tokens=_usage(reply, "output_tokens"), mean_logprob=mean_lp
        )


def _usage(reply: Any, key: str) -> int | None:
    usage = getattr(reply, "usage_metadata", None)
    return usage.get(key) if usage else None


def _to_langchain(conversation: list[dict[str, str]]) -> list[Any]:
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

    kinds = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}
    return [kinds[m["role"]](content=m["content"]) for m in conversation]


def load_langchain_model(spec: Any, **options: Any) -> LangChainChatModel:
    """Loader of spec kind ``langchain``: ``langchain:<module>:<attr>`` (a BaseChatModel or a factory)."""
    return LangChainChatModel(import_chat_model(spec.target), name=str(spec), **options)
