"""Spec -> ChatModel: :func:`load_chat_model` for a spec string, :func:`open_chat_model` for a
:class:`~agentdistill.models.config.ModelConfig` (which may ask for a managed vLLM server)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from agentdistill.models.base import ChatModel
from agentdistill.models.config import ModelConfig
from agentdistill.models.specs import ModelSpec, loader_for, parse_model_spec


def load_chat_model(spec: str | ModelSpec, **options: Any) -> ChatModel:
    """Build the ChatModel a spec names. ``options`` go to the backend's constructor
    (e.g. ``device``/``dtype``/``max_batch_size`` for hf, ``max_concurrency``/``timeout_s`` for openai)."""
    parsed = parse_model_spec(spec)
    return loader_for(parsed)(parsed, **options)  # type: ignore[no-any-return]


def backend_options(config: ModelConfig) -> dict[str, Any]:
    """The constructor options a config's settings mean for its spec's backend (its kind's rule)."""
    return parse_model_spec(config.spec).model_kind.options(config)


@contextlib.contextmanager
def open_chat_model(config: ModelConfig | str) -> Iterator[ChatModel]:
    """The model a config asks for; with ``serve`` set, behind a managed vLLM server for its lifetime."""
    if isinstance(config, str):
        parse_model_spec(config)  # a bad spec is the spec's error, not a config field's
        config = ModelConfig(spec=config)
    with contextlib.ExitStack() as stack:
        if config.serve is None:
            model = load_chat_model(config.spec, **backend_options(config))
        else:
            from agentdistill.models.serve import VLLMServer

            server = stack.enter_context(VLLMServer.for_spec(config.spec, config.serve))
            model = server.chat_model(max_concurrency=config.max_concurrency, timeout_s=config.timeout_s)
        try:
            yield model
        finally:
            model.close()
