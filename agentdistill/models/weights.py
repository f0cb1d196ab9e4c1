"""Where a local model's weights are: the one place that turns a spec into a path (serve, train, tokenize)."""

from __future__ import annotations

from agentdistill.models.base import ModelSpecError
from agentdistill.models.specs import ModelSpec, parse_model_spec


def local_model_path(spec: str | ModelSpec, *, purpose: str = "served") -> str:
    """The weights a local spec points at: a directory or a hub id (``default`` is provisioned first).

    A plain path or hub id (no ``kind:`` prefix) is taken as ``hf:<it>``, as transformers would. Remote
    specs (``openai:``, ``langchain:``) have no weights here: the error says which specs can be ``purpose``.
    """
    if isinstance(spec, str) and spec.strip() and spec.strip() != "default" and ":" not in spec:
        return spec.strip()
    parsed = parse_model_spec(spec)
    weights = parsed.model_kind.weights
    if weights is None:
        raise ModelSpecError(
            f"{parsed} is not a local model; only default and hf:<path> specs can be {purpose}"
        )
    return weights(parsed)
