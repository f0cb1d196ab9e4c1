"""Model specs: one string names a chat model everywhere (CLI, configs, trajectories).

* ``default``: the packaged offline SmolLM2-135M-Instruct (provisioned into the cache on first use);
* ``hf:<local path or hub id>``: a transformers model run in this process;
* ``openai:<model>@<base_url>[,<base_url>...]``: an OpenAI-compatible server (vLLM, llama.cpp, hosted);
  ``openai:<model>`` alone uses ``$OPENAI_BASE_URL`` or api.openai.com; the key comes from ``$OPENAI_API_KEY``;
* ``langchain:<module>:<attr>``: a langchain-core BaseChatModel.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
from collections.abc import Iterator
from typing import Any, Literal

from agentdistill.config import ModelConfig
from agentdistill.models.base import ChatModel, ModelSpecError

VALID_FORMS = (
    "default | hf:<local path or hub id> | openai:<model>@<base_url>[,<base_url>...] | "
    "langchain:<module>:<attr>"
)
_OPENAI = re.compile(r"^(?P<model>[^@]+?)(?:@(?P<urls>https?://.+))?$")


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """A parsed spec; ``target`` is the path, model name or import path after the prefix."""

    kind: Literal["default", "hf", "openai", "langchain"]
    target: str = ""
    base_urls: tuple[str, ...] = ()

    def __str__(self) -> str:
        if self.kind == "default":
            return "default"
        if self.kind == "openai" and self.base_urls:
            return f"openai:{self.target}@{','.join(self.base_urls)}"
        return f"{self.kind}:{self.target}"


def parse_model_spec(spec: str) -> ModelSpec:
    """Parse a spec string; raises ModelSpecError listing the valid forms."""
    if not isinstance(spec, str) or not spec.strip():
        raise ModelSpecError(f"empty model spec; valid forms: {VALID_FORMS}")
    spec = spec.strip()
    if spec == "default":
        return ModelSpec("default")
    prefix, sep, rest = spec.partition(":")
    if sep and rest:
        if prefix == "hf":
            return ModelSpec("hf", rest)
        if prefix == "langchain":
            if ":" not in rest:
                raise ModelSpecError(
                    f"{spec!r}: expected langchain:<module>:<attr>; valid forms: {VALID_FORMS}"
                )
            return ModelSpec("langchain", rest)
        if prefix == "openai" and (m := _OPENAI.match(rest)):
            urls = tuple(u.strip() for u in (m["urls"] or "").split(",") if u.strip())
            return ModelSpec("openai", m["model"], urls)
    raise ModelSpecError(f"unknown model spec {spec!r}; valid forms: {VALID_FORMS}")


def load_chat_model(spec: str | ModelSpec, **options: Any) -> ChatModel:
    """Build the ChatModel a spec names. ``options`` go to the backend's constructor
    (e.g. ``device``/``dtype``/``max_batch_size`` for hf, ``max_concurrency``/``timeout_s`` for openai)."""
    parsed = spec if isinstance(spec, ModelSpec) else parse_model_spec(spec)
    if parsed.kind in ("default", "hf"):
        from agentdistill.models.hf import HFChatModel

        if parsed.kind == "default":
            from agentdistill.models.default import provision_default_model

            return HFChatModel(provision_default_model(quiet=True), name="default", **options)
        return HFChatModel(parsed.target, **options)
    if parsed.kind == "openai":
        from agentdistill.models.openai_compat import OpenAIChatModel

        return OpenAIChatModel(parsed.target, list(parsed.base_urls) or None, **options)
    from agentdistill.models.langchain_chat import LangChainChatModel, import_chat_model

    return LangChainChatModel(import_chat_model(parsed.target), name=str(parsed), **options)


def local_model_path(spec: str | ModelSpec) -> str:
    """The weights a local spec points at (for serving it): a directory or a hub id."""
    parsed = spec if isinstance(spec, ModelSpec) else parse_model_spec(spec)
    if parsed.kind == "default":
        from agentdistill.models.default import provision_default_model

        return str(provision_default_model(quiet=True))
    if parsed.kind == "hf":
        return parsed.target
    raise ModelSpecError(f"{parsed} is not a local model; only default and hf:<path> specs can be served")


@contextlib.contextmanager
def open_chat_model(config: ModelConfig | str) -> Iterator[ChatModel]:
    """The model a config asks for; with ``serve`` set, behind a managed vLLM server for its lifetime."""
    if isinstance(config, str):
        config = ModelConfig(spec=config)
    if config.serve is None:
        kind = parse_model_spec(config.spec).kind
        options: dict[str, Any] = (
            {"max_batch_size": config.max_concurrency} if kind in ("default", "hf") else {}
        )
        if kind == "openai":
            from agentdistill.models.openai_compat import RetryPolicy

            options = {
                "max_concurrency": config.max_concurrency,
                "timeout_s": config.timeout_s,
                "retry": RetryPolicy(max_retries=config.max_retries),
            }
        model = load_chat_model(config.spec, **options)
        try:
            yield model
        finally:
            model.close()
        return
    from agentdistill.models.serve import VLLMServer

    with VLLMServer.for_spec(config.spec, config.serve) as server:
        model = server.chat_model(max_concurrency=config.max_concurrency, timeout_s=config.timeout_s)
        try:
            yield model
        finally:
            model.close()
