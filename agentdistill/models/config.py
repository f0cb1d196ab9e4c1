"""Which chat model a stage uses (``ModelConfig``) and how agentdistill serves a local one (``ServeConfig``)."""

from __future__ import annotations

import dataclasses

from agentdistill.config import ConfigError, FieldError
from agentdistill.models.base import ModelSpecError
from agentdistill.models.specs import parse_model_spec


@dataclasses.dataclass
class ServeConfig:
    """Run a local model behind a managed vLLM OpenAI-compatible server (``agentdistill serve``)."""

    port: int | None = None
    """Port on 127.0.0.1; None picks a free one."""
    max_model_len: int = 4096
    """Context length the server allocates KV cache for."""
    extra_args: list[str] = dataclasses.field(default_factory=list)
    """Further ``vllm`` command-line arguments, e.g. ``["--tensor-parallel-size", "2"]``."""
    startup_timeout_s: float = 600.0
    """How long to wait for the server to become healthy."""


@dataclasses.dataclass
class ModelConfig:
    """Which chat model a stage uses, and whether agentdistill should serve it itself."""

    spec: str = "default"
    """``default``, ``hf:<path or hub id>``, ``openai:<model>@<base_url>`` or ``langchain:<module>:<attr>``."""
    serve: ServeConfig | None = None
    """When set (and ``spec`` is local), start vLLM for it and talk to it through ``openai:``."""
    max_concurrency: int = 16
    """Requests in flight at once (``openai:``) or the batch size cap (``hf:``)."""
    timeout_s: float = 600.0
    """Per-request timeout for API backends."""
    max_retries: int = 6
    """Retries on 429, 5xx, timeouts and connection errors, with exponential backoff and jitter."""

    def __post_init__(self) -> None:
        try:  # a malformed spec fails when the config loads, not when a stage starts
            parse_model_spec(self.spec)
        except ModelSpecError as e:
            raise FieldError("spec", str(e)) from None
        if self.max_concurrency < 1:
            raise ConfigError(f"max_concurrency must be at least 1, got {self.max_concurrency}")
