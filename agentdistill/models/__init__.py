"""Chat models: one protocol (:class:`ChatModel`), several backends, named by spec strings.

>>> from agentdistill.models import load_chat_model
>>> model = load_chat_model("default")          # packaged SmolLM2-135M-Instruct, offline
>>> model.generate([{"role": "user", "content": "Hi"}], n=2, temperature=0.7).texts
"""

from agentdistill.models.base import (
    ChatModel,
    ChatResult,
    Completion,
    ContinuationUnsupportedError,
    GenerationParams,
    ModelError,
    ModelInputError,
    ModelRequestError,
    ModelSpecError,
    ModelUnavailableError,
    SampledTokensUnsupportedError,
)
from agentdistill.models.config import ModelConfig, ServeConfig
from agentdistill.models.loading import load_chat_model, open_chat_model
from agentdistill.models.specs import MODEL_KINDS, ModelSpec, parse_model_spec

__all__ = [
    "MODEL_KINDS",
    "ChatModel",
    "ChatResult",
    "Completion",
    "ContinuationUnsupportedError",
    "GenerationParams",
    "ModelConfig",
    "ModelError",
    "ModelInputError",
    "ModelRequestError",
    "ModelSpec",
    "ModelSpecError",
    "ModelUnavailableError",
    "SampledTokensUnsupportedError",
    "ServeConfig",
    "load_chat_model",
    "open_chat_model",
    "parse_model_spec",
]
