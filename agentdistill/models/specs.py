"""Model specs: one string names a chat model everywhere (CLI, configs, trajectories).

* ``default``: the packaged offline SmolLM2-135M-Instruct (provisioned into the cache on first use);
* ``hf:<local path or hub id>``: a transformers model run in this process;
* ``openai:<model>@<base_url>[,<base_url>...]``: an OpenAI-compatible server (vLLM, llama.cpp, hosted);
  ``openai:<model>`` alone uses ``$OPENAI_BASE_URL`` or api.openai.com; the key comes from ``$OPENAI_API_KEY``;
* ``langchain:<module>:<attr>``: a langchain-core BaseChatModel.

The part before the first ``:`` is a *kind*, looked up in :data:`~agentdistill.models.kinds.MODEL_KINDS`,
whose entry holds everything that differs between kinds (how the target is read, the lazy loader, backend
options, where local weights are, what a fingerprint counts).
"""

from __future__ import annotations

from typing import Any

from agentdistill.models.base import ModelSpecError
from agentdistill.models.kinds import MODEL_KINDS, VALID_FORMS, ModelKind, ModelSpec

__all__ = ["MODEL_KINDS", "VALID_FORMS", "ModelKind", "ModelSpec", "loader_for", "parse_model_spec"]


def parse_model_spec(spec: str | ModelSpec) -> ModelSpec:
    """Parse a spec string; raises ModelSpecError listing the valid forms."""
    if isinstance(spec, ModelSpec):
        return spec
    if not isinstance(spec, str) or not spec.strip():
        raise ModelSpecError(f"empty model spec; valid forms: {VALID_FORMS}")
    spec = spec.strip()
    prefix, sep, rest = spec.partition(":")
    if prefix in MODEL_KINDS and not MODEL_KINDS.get(prefix).takes_target:
        if sep:
            raise ModelSpecError(f"{spec!r}: {prefix} takes nothing after it; valid forms: {VALID_FORMS}")
        return ModelSpec(prefix)
    if not sep:
        raise ModelSpecError(f"unknown model spec {spec!r}; valid forms: {VALID_FORMS}")
    kind = MODEL_KINDS.get(prefix)
    if not rest:
        raise ModelSpecError(f"{spec!r}: nothing after {prefix}:; valid forms: {VALID_FORMS}")
    return kind.parse(prefix, rest)


def loader_for(spec: ModelSpec) -> Any:
    """The registered loader of a parsed spec's kind."""
    return spec.model_kind.loader()
