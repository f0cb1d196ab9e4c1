"""The ChatModel protocol every backend implements.

One call takes a conversation and returns ``n`` samples. Backends differ in how they get there (a local
transformers model, an OpenAI-compatible server, a LangChain chat model) but agents only see this API:

* ``generate`` / ``agenerate``: one conversation, ``n`` samples;
* ``generate_batch`` / ``agenerate_batch``: several conversations at once (batched where the backend can);
* ``continue_final=True``: the last message is a partial assistant message and the model continues it;
  the returned text holds only the continuation (as vLLM's ``continue_final_message`` does);
* ``sampled_tokens=True`` (RL): each sample also carries the token ids the model sampled, their
  log-probabilities and the finish reason, and its text keeps the stop string as sampled, so that training
  can use exactly the sampled tokens (backends with ``supports_sampled_tokens``; others refuse).
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from abc import ABC, abstractmethod
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

from agentdistill.errors import AgentDistillError, TransientError
from agentdistill.schema import Message

T = TypeVar("T")
ChatMessages = Sequence[Message | dict[str, Any]]
ROLES = ("system", "user", "assistant")


class ModelError(AgentDistillError):
    """Base class for chat-model errors."""


class ModelSpecError(ModelError):
    """A model spec string that names no backend."""


class ModelInputError(ModelError, ValueError):
    """Messages or generation settings that a model cannot take."""


class ModelUnavailableError(ModelError, TransientError):
    """A server that could not be reached, or a model that could not be provisioned."""


class ModelRequestError(ModelError):
    """A request the server refused and that retrying will not fix (4xx other than 429)."""


class ContinuationUnsupportedError(ModelError):
    """The backend cannot continue a partial assistant message."""


class SampledTokensUnsupportedError(ModelError):
    """The backend cannot return the token ids it sampled (token-exact RL needs them)."""


@dataclasses.dataclass(frozen=True)
class GenerationParams:
    """Sampling settings for one request; the same for every backend."""

    n: int = 1
    """Samples per conversation (drawn in one request where the backend can)."""
    temperature: float = 0.0
    """0 is greedy."""
    top_p: float = 1.0
    max_tokens: int = 512
    """Maximum new tokens per sample."""
    stop: tuple[str, ...] = ()
    """Stop sequences; generation ends before them and they are not part of the returned text."""
    seed: int | None = None
    """Sampling seed; None leaves sampling unseeded (vLLM's CPU build crashes on per-request seeds)."""
    logprobs: bool = False
    """Ask for token log-probabilities (returned as their mean per sample)."""
    sampled_tokens: bool = False
    """Return each sample's sampled token ids and their log-probabilities (``Completion.token_ids`` /
    ``token_logprobs``), and keep a stop string in the text as it was sampled instead of cutting it."""

    def __post_init__(self) -> None:
        if isinstance(self.stop, str):
            object.__setattr__(self, "stop", (self.stop,))
        else:
            object.__setattr__(self, "stop", tuple(self.stop or ()))
        if not isinstance(self.n, int) or self.n < 1:
            raise ModelInputError(f"n must be a positive integer, got {self.n!r}")
        if self.temperature < 0:
            raise ModelInputError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ModelInputError(f"top_p must be in (0, 1], got {self.top_p}")
        if not isinstance(self.max_tokens, int) or self.max_tokens < 1:
            raise ModelInputError(f"max_tokens must be a positive integer, got {self.max_tokens!r}")
        if any(not isinstance(s, str) or not s for s in self.stop):
            raise ModelInputError(f"stop sequences must be non-empty strings, got {list(self.stop)!r}")

    def replace(self, **changes: Any) -> GenerationParams:
        return dataclasses.replace(self, **changes)


@dataclasses.dataclass
class Completion:
    """One sample."""

    text: str
    finish_reason: str
    """``stop`` (end of turn or a stop sequence), ``length`` (max_tokens reached), or the server's word."""
    tokens: int | None = None
    """Generated tokens for this sample, where the backend reports them."""
    mean_logprob: float | None = None
    """Mean log-probability of the generated tokens, where the backend gives them."""
    token_ids: list[int] | None = None
    """``sampled_tokens``: the ids the model sampled, in order, with the end-of-turn token where it was
    sampled and the stop string's tokens where one ended the sample (``text`` is their decoding)."""
    token_logprobs: list[float] | None = None
    """``sampled_tokens``: the log-probability of each sampled id under the distribution it was drawn from
    after temperature scaling (what a trainer recomputes; top-p truncation is not applied)."""


@dataclasses.dataclass
class ChatResult:
    """The samples for one conversation."""

    completions: list[Completion]
    model: str
    prompt_tokens: int | None = None

    @property
    def texts(self) -> list[str]:
        return [c.text for c in self.completions]

    @property
    def text(self) -> str:
        return self.completions[0].text

    @property
    def completion_tokens(self) -> int | None:
        counts = [c.tokens for c in self.completions]
        return None if any(c is None for c in counts) else sum(counts)  # type: ignore[arg-type]


def normalize_messages(messages: ChatMessages, *, continue_final: bool = False) -> list[dict[str, str]]:
    """Validate messages and return them as plain ``{role, content}`` dicts.

    Raises ModelInputError naming the offending message, so a malformed conversation fails before any
    request is made.
    """
    if isinstance(messages, str | bytes) or not isinstance(messages, Sequence):
        raise ModelInputError(
            "messages must be a list of {'role': 'system'|'user'|'assistant', 'content': str}, "
            f"got {type(messages).__name__}"
        )
    if not messages:
        raise ModelInputError("messages is empty; pass at least one {'role': 'user', 'content': ...} message")
    out = []
    for i, m in enumerate(messages):
        if isinstance(m, Message):
            out.append(m.to_chat())
            continue
        if not isinstance(m, dict):
            raise ModelInputError(f"messages[{i}]: expected a dict with 'role' and 'content', got {m!r:.80}")
        role, content = m.get("role"), m.get("content")
        if role not in ROLES:
            raise ModelInputError(f"messages[{i}]: role must be one of {', '.join(ROLES)}, got {role!r}")
        if not isinstance(content, str):
            raise ModelInputError(f"messages[{i}]: 'content' must be a string, got {type(content).__name__}")
        out.append({"role": role, "content": content})
    if continue_final and out[-1]["role"] != "assistant":
        raise ModelInputError(
            "continue_final=True needs the last message to be the partial assistant message to continue, "
            f"but it is a {out[-1]['role']!r} message"
        )
    return out


def truncate_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """Cut ``text`` before the earliest stop sequence; returns (text, whether one was found)."""
    cut = min((i for s in stop if (i := text.find(s)) >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


class _LoopThread:
    """A private event loop in a daemon thread, so sync calls work even inside a running loop."""

    _instance: _LoopThread | None = None
    _lock = threading.Lock()

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="agentdistill-models", daemon=True).start()

    @classmethod
    def run(cls, coro: Coroutine[Any, Any, T]) -> T:
        with cls._lock:
            if cls._instance is None:
                cls._instance = cls()
        return asyncio.run_coroutine_threadsafe(coro, cls._instance.loop).result()


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from synchronous code."""
    return _LoopThread.run(coro)


class ChatModel(ABC):
    """A chat model that returns ``n`` samples per conversation.

    Subclasses implement :meth:`_agenerate_batch`; everything else derives from it. ``name`` is what
    trajectories record as the model; ``supports_continuation`` says whether ``continue_final`` works.
    """

    name: str = "model"
    supports_continuation: bool = True
    supports_sampled_tokens: bool = False

    @abstractmethod
    async def _agenerate_batch(
        self, conversations: list[list[dict[str, str]]], params: GenerationParams, continue_final: bool
    ) -> list[ChatResult]:
        """Generate for validated conversations."""

    async def agenerate_batch(
        self,
        conversations: Sequence[ChatMessages],
        params: GenerationParams | None = None,
        *,
        continue_final: bool = False,
        **overrides: Any,
    ) -> list[ChatResult]:
        params = _params(params, overrides)
        if continue_final and not self.supports_continuation:
            raise ContinuationUnsupportedError(
                f"{self.name}: this backend cannot continue a partial assistant message"
            )
        if params.sampled_tokens and not self.supports_sampled_tokens:
            raise SampledTokensUnsupportedError(
                f"{self.name}: this backend cannot return the token ids it sampled; token-exact training "
                "(agentdistill rl) needs an hf: model or an openai: vLLM server"
            )
        convs = [normalize_messages(c, continue_final=continue_final) for c in conversations]
        if not convs:
            return []
        return await self._agenerate_batch(convs, params, continue_final)

    async def agenerate(
        self,
        messages: ChatMessages,
        params: GenerationParams | None = None,
        *,
        continue_final: bool = False,
        **overrides: Any,
    ) -> ChatResult:
        (result,) = await self.agenerate_batch([messages], params, continue_final=continue_final, **overrides)
        return result

    def generate(
        self,
        messages: ChatMessages,
        params: GenerationParams | None = None,
        *,
        continue_final: bool = False,
        **overrides: Any,
    ) -> ChatResult:
        """Synchronous :meth:`agenerate`."""
        return run_sync(self.agenerate(messages, params, continue_final=continue_final, **overrides))

    def generate_batch(
        self,
        conversations: Sequence[ChatMessages],
        params: GenerationParams | None = None,
        *,
        continue_final: bool = False,
        **overrides: Any,
    ) -> list[ChatResult]:
        """Synchronous :meth:`agenerate_batch`."""
        return run_sync(
            self.agenerate_batch(conversations, params, continue_final=continue_final, **overrides)
        )

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release clients or weights."""

    def close(self) -> None:
        run_sync(self.aclose())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


def _params(params: GenerationParams | None, overrides: dict[str, Any]) -> GenerationParams:
    base = params or GenerationParams()
    if not overrides:
        return base
    valid = {f.name for f in dataclasses.fields(GenerationParams)}
    if unknown := set(overrides) - valid:
        raise ModelInputError(
            f"unknown generation setting(s) {sorted(unknown)}; valid: {', '.join(sorted(valid))}"
        )
    return base.replace(**overrides)
