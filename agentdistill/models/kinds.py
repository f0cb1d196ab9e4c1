"""Model kinds: everything that differs between ``default``, ``hf:``, ``openai:`` and ``langchain:`` specs.

A spec's kind (the part before the first ``:``) is looked up in :data:`MODEL_KINDS`; its :class:`ModelKind`
says how the rest of the spec is read, how the backend is loaded (a lazy ``"module:attr"`` loader, so
parsing a spec imports no backend), which constructor options a :class:`~agentdistill.models.config.ModelConfig`
means for it, where its weights are when they are on this machine (so it can be trained, served and
tokenized), and what identifies its outputs in a fingerprint. A user adds a kind with::

    MODEL_KINDS.register("mine", ModelKind(load="my_pkg.models:load"))   # load(spec, **options) -> ChatModel
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from agentdistill.digests import checkpoint_fingerprint
from agentdistill.models.base import ModelSpecError
from agentdistill.registry import Registry, import_object

VALID_FORMS = (
    "default | hf:<local path or hub id> | openai:<model>@<base_url>[,<base_url>...] | "
    "langchain:<module>:<attr>"
)


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """A parsed spec; ``target`` is the path, model name or import path after the prefix."""

    kind: str
    target: str = ""
    base_urls: tuple[str, ...] = ()

    def __str__(self) -> str:
        if not self.target:
            return self.kind
        urls = f"@{','.join(self.base_urls)}" if self.base_urls else ""
        return f"{self.kind}:{self.target}{urls}"

    @property
    def model_kind(self) -> ModelKind:
        """The rules of this spec's kind."""
        return MODEL_KINDS.get(self.kind)

    @property
    def is_local(self) -> bool:
        """Whether the weights are on this machine (they can be served, trained, tokenized)."""
        return self.model_kind.local


def _plain_target(kind: str, rest: str) -> ModelSpec:
    return ModelSpec(kind, rest)


@dataclasses.dataclass(frozen=True)
class ModelKind:
    """What one spec kind means. Only ``load`` is required; the rest default to a remote model."""

    load: str | Callable[..., Any]
    """``load(spec: ModelSpec, **options) -> ChatModel``, or its lazy ``"module:attr"`` name."""
    local: bool = False
    """The weights are on this machine: the spec can be trained, served by vLLM and tokenized."""
    parse: Callable[[str, str], ModelSpec] = _plain_target
    """``(kind, text after "kind:") -> ModelSpec``; raises ModelSpecError on a malformed target."""
    options: Callable[[Any], dict[str, Any]] = lambda config: {}
    """The backend constructor options a ``ModelConfig`` means for this kind."""
    weights: Callable[[ModelSpec], str] | None = None
    """Where a local spec's weights are: a directory or hub id (provisioned first if need be)."""
    identity: Callable[[ModelSpec], dict[str, Any]] = lambda spec: {"spec": str(spec)}
    """What identifies the model's outputs in a fingerprint (beyond the spec: its weights)."""
    takes_target: bool = True
    """Whether the spec has a part after ``kind:`` (``default`` has none)."""

    def loader(self) -> Callable[..., Any]:
        """The loader, imported on first use."""
        if callable(self.load):
            return self.load
        return import_object(self.load, what=f"model loader {self.load}")  # type: ignore[no-any-return]


# -- the built-in kinds --------------------------------------------------------------------------------


def _local_options(config: Any) -> dict[str, Any]:
    return {"max_batch_size": config.max_concurrency}


def _default_weights(spec: ModelSpec) -> str:
    from agentdistill.models.default import provision_default_model

    return str(provision_default_model(quiet=True))


def _default_identity(spec: ModelSpec) -> dict[str, Any]:
    from agentdistill.models.default import DEFAULT_PACKAGE

    try:
        weights = f"{DEFAULT_PACKAGE}=={metadata.version(DEFAULT_PACKAGE.replace('_', '-'))}"
    except metadata.PackageNotFoundError:
        weights = "unknown"
    return {"spec": "default", "weights": weights}


def _hf_identity(spec: ModelSpec) -> dict[str, Any]:
    folder = Path(spec.target).expanduser()
    if folder.is_dir():
        return {"spec": str(spec), "weights": checkpoint_fingerprint(folder)}
    return {"spec": str(spec)}


_OPENAI = re.compile(r"^(?P<model>[^@]+?)(?:@(?P<urls>https?://.+))?$")


def _openai_parse(kind: str, rest: str) -> ModelSpec:
    m = _OPENAI.match(rest)
    if m is None:
        raise ModelSpecError(
            f"{kind}:{rest!r}: expected openai:<model>[@<base_url>]; valid forms: {VALID_FORMS}"
        )
    urls = tuple(u.strip() for u in (m["urls"] or "").split(",") if u.strip())
    return ModelSpec(kind, m["model"], urls)


def _openai_options(config: Any) -> dict[str, Any]:
    from agentdistill.models.openai_compat import RetryPolicy

    return {
        "max_concurrency": config.max_concurrency,
        "timeout_s": config.timeout_s,
        "retry": RetryPolicy(max_retries=config.max_retries),
    }


def _langchain_parse(kind: str, rest: str) -> ModelSpec:
    if ":" not in rest:
        raise ModelSpecError(
            f"{kind}:{rest!r}: expected langchain:<module>:<attr>; valid forms: {VALID_FORMS}"
        )
    return ModelSpec(kind, rest)


MODEL_KINDS: Registry[ModelKind] = Registry(
    "model spec kind",
    {
        "default": ModelKind(
            load="agentdistill.models.default:load_default_model",
            local=True,
            options=_local_options,
            weights=_default_weights,
            identity=_default_identity,
            takes_target=False,
        ),
        "hf": ModelKind(
            load="agentdistill.models.hf:load_hf_model",
            local=True,
            options=_local_options,
            weights=lambda spec: spec.target,
            identity=_hf_identity,
        ),
        "openai": ModelKind(
            load="agentdistill.models.openai_compat:load_openai_model",
            parse=_openai_parse,
            options=_openai_options,
            # the server URL changes between runs; a managed vLLM is fingerprinted by the spec it serves
            identity=lambda spec: {"kind": "openai", "model": spec.target},
        ),
        "langchain": ModelKind(
            load="agentdistill.models.langchain_chat:load_langchain_model", parse=_langchain_parse
        ),
    },
    error=ModelSpecError,
    hint=f"valid forms: {VALID_FORMS}",
)
"""Spec kind -> :class:`ModelKind`."""
