"""``openai:<model>@<base_url>[,<base_url>...]`` backend: any OpenAI-compatible chat server.

vLLM (GPU or CPU build), llama.cpp's server and hosted APIs all speak this protocol. Requests go through
the official ``openai`` SDK (async). Several base URLs (e.g. vLLM data-parallel replicas) share the load:
each request goes to the endpoint with the fewest requests in flight. Concurrency is bounded per
endpoint; 429, 5xx, timeouts and connection errors are retried with exponential backoff and full jitter
(honouring ``Retry-After``); other errors are raised at once with the server's message.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import random
import time
import weakref
from typing import Any

from agentdistill.models.base import (
    ChatModel,
    ChatResult,
    Completion,
    ContinuationUnsupportedError,
    GenerationParams,
    ModelRequestError,
    ModelUnavailableError,
    truncate_at_stop,
)

DEFAULT_BASE_URL = "https://api.openai.com/v1"


@dataclasses.dataclass
class RetryPolicy:
    """How failed requests are retried: delay = uniform(0, min(max_delay, base * 2**attempt))."""

    max_retries: int = 6
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0

    def ceiling(self, attempt: int) -> float:
        return min(self.max_delay_s, self.base_delay_s * 2**attempt)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_delay_s)
        return random.uniform(0, self.ceiling(attempt))


class _Endpoint:
    def __init__(self, base_url: str, max_concurrency: int) -> None:
        self.base_url = base_url
        self.max_concurrency = max_concurrency
        self.in_flight = 0
        self.failures = 0  # consecutive failed attempts
        self.down_until = 0.0  # monotonic time before which other replicas are preferred
        # SDK clients and semaphores are bound to an event loop: keep one set per loop.
        self._per_loop: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, tuple[Any, asyncio.Semaphore]
        ] = weakref.WeakKeyDictionary()

    def client(self, api_key: str, timeout_s: float) -> tuple[Any, asyncio.Semaphore]:
        loop = asyncio.get_running_loop()
        if loop not in self._per_loop:
            from openai import AsyncOpenAI

            client = AsyncOpenAI(base_url=self.base_url, api_key=api_key, max_retries=0, timeout=timeout_s)
            self._per_loop[loop] = (client, asyncio.Semaphore(self.max_concurrency))
        return self._per_loop[loop]

    async def aclose(self) -> None:
        loop = asyncio.get_running_loop()
        if loop in self._per_loop:
            await self._per_loop.pop(loop)[0].close()


class OpenAIChatModel(ChatModel):
    """A model behind one or several OpenAI-compatible endpoints.

    ``vllm_extras``: send vLLM's ``continue_final_message``/``add_generation_prompt`` when continuing a
    partial assistant message (vLLM and SGLang support them; hosted APIs do not, so set it False there
    and continuation is reported as unsupported).
    """

    def __init__(
        self,
        model: str,
        base_urls: str | list[str] | None = None,
        *,
        api_key: str | None = None,
        max_concurrency: int = 16,
        timeout_s: float = 600.0,
        retry: RetryPolicy | None = None,
        vllm_extras: bool | None = None,
    ) -> None:
        urls = base_urls or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
        urls = [u.strip().rstrip("/") for u in (urls.split(",") if isinstance(urls, str) else urls)]
        self.model = model
        self.base_urls = [u for u in urls if u]
        self.endpoints = [_Endpoint(u, max_concurrency) for u in self.base_urls]
        self.api_key = api_key or os.environ.get("OPENAI_API_KEY") or "EMPTY"
        self.timeout_s = timeout_s
        self.retry = retry or RetryPolicy()
        hosted = any("api.openai.com" in u for u in self.base_urls)
        self.vllm_extras = (not hosted) if vllm_extras is None else vllm_extras
        self.supports_continuation = self.vllm_extras
        self.supports_sampled_tokens = self.vllm_extras  # vLLM's return_token_ids
        self.name = f"openai:{model}@{','.join(self.base_urls)}"

    async def _agenerate_batch(
        self, conversations: list[list[dict[str, str]]], params: GenerationParams, continue_final: bool
    ) -> list[ChatResult]:
        return list(await asyncio.gather(*(self._one(c, params, continue_final) for c in conversations)))

    async def _one(self, messages: list[dict[str, str]], params: GenerationParams, cont: bool) -> ChatResult:
        completions: list[Completion] = []
        prompt_tokens = None
        # Some servers (e.g. llama.cpp) return fewer choices than n: ask again for the rest.
        for _ in range(params.n):
            missing = params.n - len(completions)
            if missing <= 0:
                break
            response = await self._request(messages, params.replace(n=missing), cont)
            prompt_tokens = getattr(response.usage, "prompt_tokens", None) if response.usage else None
            completions += [self._completion(ch, params, response, missing) for ch in response.choices]
        return ChatResult(completions[: params.n], model=self.name, prompt_tokens=prompt_tokens)

    def _completion(self, choice: Any, params: GenerationParams, response: Any, n: int) -> Completion:
        if params.sampled_tokens:
            return self._sampled_completion(choice)
        text, _ = truncate_at_stop(choice.message.content or "", params.stop)
        tokens = mean_lp = None
        content_lp = getattr(getattr(choice, "logprobs", None), "content", None)
        if content_lp:
            tokens = len(content_lp)
            mean_lp = sum(t.logprob for t in content_lp) / tokens
        elif n == 1 and response.usage is not None:
            tokens = response.usage.completion_tokens
        return Completion(text, choice.finish_reason or "stop", tokens=tokens, mean_logprob=mean_lp)

    def _sampled_completion(self, choice: Any) -> Completion:
        """The sample with vLLM's ``token_ids`` (the end-of-turn token included where it was sampled) and
        per-token log-probabilities; the stop string stays in the text (``include_stop_str_in_output``)."""
        ids = getattr(choice, "token_ids", None)
        if ids is None and getattr(choice, "model_extra", None):
            ids = choice.model_extra.get("token_ids")
        content_lp = getattr(getattr(choice, "logprobs", None), "content", None)
        if ids is None or content_lp is None:
            raise ModelRequestError(
                f"{self.name}: the server returned no sampled token ids or log-probabilities; token-exact "
                "training needs vLLM's OpenAI server (return_token_ids, vLLM >= 0.10.2)"
            )
        lps = [float(t.logprob) for t in content_lp]
        if len(lps) != len(ids):
            raise ModelRequestError(
                f"{self.name}: {len(ids)} sampled token ids but {len(lps)} log-probabilities in one choice"
            )
        return Completion(
            choice.message.content or "",
            choice.finish_reason or "stop",
            tokens=len(ids),
            mean_logprob=sum(lps) / len(lps) if lps else None,
            token_ids=[int(i) for i in ids],
            token_logprobs=lps,
        )

    def _pick_endpoint(self) -> _Endpoint:
        """The healthy endpoint with the fewest requests in flight (else the one back up soonest)."""
        now = time.monotonic()
        up = [e for e in self.endpoints if e.down_until <= now]
        if up:
            return min(up, key=lambda e: e.in_flight)
        return min(self.endpoints, key=lambda e: e.down_until)

    async def _request(self, messages: list[dict[str, str]], params: GenerationParams, cont: bool) -> Any:
        import openai

        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "n": params.n,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "max_tokens": params.max_tokens,
        }
        if params.stop:
            body["stop"] = list(params.stop)
        if params.seed is not None:
            body["seed"] = params.seed
        if params.logprobs or params.sampled_tokens:
            body["logprobs"] = True
        extra: dict[str, Any] = {}
        if cont:
            extra.update(continue_final_message=True, add_generation_prompt=False)
        if params.sampled_tokens:
            extra.update(return_token_ids=True, include_stop_str_in_output=True)
        if extra:
            body["extra_body"] = extra

        endpoint = self._pick_endpoint()
        last_error: Exception | None = None
        for attempt in range(self.retry.max_retries + 1):
            client, sem = endpoint.client(self.api_key, self.timeout_s)
            retry_after = None
            endpoint.in_flight += 1
            try:
                async with sem:
                    response = await client.chat.completions.create(**body)
                endpoint.failures, endpoint.down_until = 0, 0.0
                return response
            except (openai.APITimeoutError, openai.APIConnectionError) as e:
                last_error = e
            except openai.APIStatusError as e:
                if e.status_code != 429 and e.status_code < 500:
                    if cont and e.status_code == 400 and "continue_final_message" in str(e):
                        raise ContinuationUnsupportedError(
                            f"{endpoint.base_url} does not support continue_final_message "
                            "(a vLLM feature); use a vLLM server or disable the first-thought prefix"
                        ) from None
                    raise ModelRequestError(
                        f"{endpoint.base_url} refused the request ({e.status_code}): {_server_message(e)}"
                    ) from None
                last_error = e
                retry_after = _retry_after(e)
            finally:
                endpoint.in_flight -= 1
            endpoint.failures += 1
            # down for the longest backoff this attempt can sleep, so a retry goes to another replica
            endpoint.down_until = time.monotonic() + self.retry.ceiling(attempt) + 0.01
            if attempt < self.retry.max_retries:
                await asyncio.sleep(self.retry.delay(attempt, retry_after))
                if len(self.endpoints) > 1:  # try another replica next
                    endpoint = self._pick_endpoint()
        raise ModelUnavailableError(
            f"could not get a reply from {endpoint.base_url} (model {self.model!r}) after "
            f"{self.retry.max_retries + 1} attempts: {_describe(last_error)}; is the server running?"
        )

    async def aclose(self) -> None:
        for e in self.endpoints:
            await e.aclose()


def _retry_after(e: Any) -> float | None:
    try:
        value = e.response.headers.get("retry-after")
        return float(value) if value is not None else None
    except (AttributeError, ValueError):
        return None


def _server_message(e: Any) -> str:
    body = getattr(e, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
        if body.get("message"):
            return str(body["message"])
    return str(getattr(e, "message", e))


def _describe(e: Exception | None) -> str:
    if e is None:
        return "no attempt made"
    status = getattr(e, "status_code", None)
    return f"HTTP {status}" if status else f"{type(e).__name__}: {e}"


def load_openai_model(spec: Any, **options: Any) -> OpenAIChatModel:
    """Loader of spec kind ``openai``: ``openai:<model>@<base_url>[,<base_url>...]``."""
    return OpenAIChatModel(spec.target, list(spec.base_urls) or None, **options)
