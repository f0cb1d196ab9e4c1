"""Model specs: one string names a chat model everywhere (CLI, configs, trajectories).

* ``default``: the packaged offline SmolLM2-135M-Instruct (provisioned into the cache on first use);
* ``hf:<local path or hub id>``: a transformers model run in this process;
* ``openai:<model>@<base_url>[,<base_url>...]``: an OpenAI-compatible server (vLLM, llama.cpp, hosted);
  ``openai:<model>`` alone uses ``$OPENAI_BASE_URL`` or api.openai.com; the key comes from ``$OPENAI_API_KEY``;
* ``langchain:<module>:<attr>``: a langchain-core BaseChatModel.

The part before the first ``:`` is a *kind*, looked up in :data:`MODEL_KINDS` (a loader per kind, lazy so
parsing a spec imports no backend). A user adds a kind with ``MODEL_KINDS.register("mine", "pkg:load")``
where ``load(spec: ModelSpec, **options) -> ChatModel``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any

from agentdistill.models.base import ChatModel, ModelSpecError
from agentdistill.registry import Registry

VALID_FORMS = (
    "default | hf:<local path or hub id> | openai:<model>@<base_url>[,<base_url>...] | "
    "langchain:<module>:<attr>"
)
_OPENAI = re.compile(r"^(?P<model>[^@]+?)(?:@(?P<urls>https?://.+))?$")

ModelLoader = Callable[..., ChatModel]
MODEL_KINDS: Registry[ModelLoader] = Registry(
    "model spec kind",
    {
        "default": "agentdistill.models.default:load_default_model",
        "hf": "agentdistill.models.hf:load_hf_model",
        "openai": "agentdistill.models.openai_compat:load_openai_model",
        "langchain": "agentdistill.models.langchain_chat:load_langchain_model",
    },
    error=ModelSpecError,
    hint=f"valid forms: {VALID_FORMS}",
)
"""Spec kind -> ``load(spec: ModelSpec, **options) -> ChatModel``."""

LOCAL_KINDS = ("default", "hf")
"""Kinds whose weights are on this machine (they can be served, trained, tokenized)."""


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """A parsed spec; ``target`` is the path, model name or import path after the prefix."""

    kind: str
    target: str = ""
    base_urls: tuple[str, ...] = ()

    def __str__(self) -> str:
        if self.kind == "default":
            return "default"
        if self.kind == "openai" and self.base_urls:
            return f"openai:{self.target}@{','.join(self.base_urls)}"
        return f"{self.kind}:{self.target}"

    @property
    def is_local(self) -> bool:
        """Whether the weights are on this machine (``default``, ``hf:``)."""
        return self.kind in LOCAL_KINDS


def parse_model_spec(spec: str | ModelSpec) -> ModelSpec:
    """Parse a spec string; raises ModelSpecError listing the valid forms."""
    if isinstance(spec, ModelSpec):
        return spec
    if not isinstance(spec, str) or not spec.strip():
        raise ModelSpecError(f"empty model spec; valid forms: {VALID_FORMS}")
    spec = spec.strip()
    if spec == "default":
        return ModelSpec("default")
    prefix, sep, rest = spec.partition(":")
    if not sep:
        raise ModelSpecError(f"unknown model spec {spec!r}; valid forms: {VALID_FORMS}")
    MODEL_KINDS.check(prefix)
    if not rest:
        raise ModelSpecError(f"{spec!r}: nothing after {prefix}:; valid forms: {VALID_FORMS}")
    if prefix == "langchain" and ":" not in rest:
        raise ModelSpecError(f"{spec!r}: expected langchain:<module>:<attr>; valid forms: {VALID_FORMS}")
    if prefix == "openai":
        m = _OPENAI.match(rest)
        if m is None:
            raise ModelSpecError(
                f"{spec!r}: expected openai:<model>[@<base_url>]; valid forms: {VALID_FORMS}"
            )
        urls = tuple(u.strip() for u in (m["urls"] or "").split(",") if u.strip())
        return ModelSpec("openai", m["model"], urls)
    return ModelSpec(prefix, rest)


def loader_for(spec: ModelSpec) -> Any:
    """The registered loader of a parsed spec's kind."""
    return MODEL_KINDS.get(spec.kind)
