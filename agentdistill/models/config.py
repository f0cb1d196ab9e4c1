"""Which chat model a stage uses (``ModelConfig``) and how agentdistill serves a local one (``ServeConfig``)."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from agentdistill.config import ConfigError, FieldError
from agentdistill.models.base import ModelSpecError
from agentdistill.models.specs import parse_model_spec


@dataclasses.dataclass
class ServeConfig:
    """Run a local model behind a managed vLLM OpenAI-compatible server (``agentdistill serve``)."""

    host: str = "127.0.0.1"
    """Address the server binds (loopback by default)."""
    port: int | None = None
    """Port to bind; None picks a free one."""
    served_model_name: str | None = None
    """Name clients use as ``<model>`` in ``openai:<model>@<url>``; None: ``default``, or the model folder's
    name."""
    max_model_len: int = 4096
    """Context length the server allocates KV cache for."""
    extra_args: list[str] = dataclasses.field(default_factory=list)
    """Further ``vllm`` command-line arguments, e.g. ``["--tensor-parallel-size", "2"]``."""
    startup_timeout_s: float = 600.0
    """How long to wait for the server to become healthy."""


@dataclasses.dataclass
class ModelConfig:
    """Which chat model a stage uses, and whether agentdistill should serve it itself. In YAML the spec
    alone is the short form (``teacher: default`` is ``teacher: {spec: default}``)."""

    SHORTHAND: ClassVar[str] = "spec"

    spec: str = "default"
    """``default``, ``hf:<path or hub id>``, ``openai:<model>@<base_url>`` or ``langchain:<module>:<attr>``;
    a plain path to a model folder is read as ``hf:<path>``."""
    serve: ServeConfig | None = None
    """When set (and ``spec`` is local), start vLLM for it and talk to it through ``openai:``."""
    max_concurrency: int = 16
    """Requests in flight at once (``openai:``) or the batch size cap (``hf:``)."""
    timeout_s: float = 600.0
    """Per-request timeout for API backends."""
    max_retries: int = 6
    """Retries on 429, 5xx, timeouts and connection errors, with exponential backoff and jitter."""

    def __post_init__(self) -> None:
        if _is_plain_path(self.spec):
            self.spec = f"hf:{self.spec.strip()}"
        try:  # a malformed spec fails when the config loads, not when a stage starts
            parse_model_spec(self.spec)
        except ModelSpecError as e:
            raise FieldError("spec", str(e)) from None
        if self.max_concurrency < 1:
            raise ConfigError(f"max_concurrency must be at least 1, got {self.max_concurrency}")

    @property
    def is_local(self) -> bool:
        """Whether the weights are on this machine (``default``, ``hf:``): they can be trained and served."""
        return parse_model_spec(self.spec).is_local


def _is_plain_path(spec: str) -> bool:
    """A folder path or hub id without a ``kind:`` prefix (``./student``, ``/models/x``, ``org/model``):
    transformers reads it as weights to load, and so do we (as ``hf:``)."""
    text = spec.strip() if isinstance(spec, str) else ""
    return ":" not in text and (text.startswith((".", "~")) or "/" in text)
