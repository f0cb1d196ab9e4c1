"""Embedders: the packaged default loads offline, vectors are normalised, prefixes are applied and recorded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agentdistill.tools.retrieval.config import EmbedderConfig
from agentdistill.tools.retrieval.embedders import (
    DEFAULT_MODEL_NAME,
    EmbedderError,
    HashingEmbedder,
    config_from_identity,
    load_embedder,
    packaged_model_path,
)


def test_packaged_model_found_without_network() -> None:
    path = packaged_model_path()
    assert (path / "config.json").exists() and (path / "model.safetensors").exists()


def test_default_embedder_vectors(minilm) -> None:
    texts = ["Paris is the capital of France.", "Berlin is the capital of Germany.", "A recipe for bread."]
    vectors = minilm.embed_passages(texts)
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]  # similar sentences are closer
    np.testing.assert_array_equal(minilm.embed_passages(texts), vectors)  # deterministic
    assert minilm.embed_passages([]).shape == (0, 384)
    assert minilm.identity() == {
        "model": DEFAULT_MODEL_NAME,
        "query_prefix": "",
        "passage_prefix": "",
        "dim": 384,
        "max_seq_length": 256,
    }


def test_e5_style_prefixes_apply_to_their_side_only() -> None:
    plain = HashingEmbedder(64)
    e5 = load_embedder(EmbedderConfig(model="hash:64", query_prefix="query: ", passage_prefix="passage: "))
    text = ["the capital of France"]
    np.testing.assert_array_equal(
        e5.embed_queries(text), plain.embed_passages(["query: the capital of France"])
    )
    np.testing.assert_array_equal(
        e5.embed_passages(text), plain.embed_passages(["passage: the capital of France"])
    )
    assert not np.array_equal(e5.embed_queries(text), plain.embed_queries(text))
    identity = e5.identity()
    assert (identity["query_prefix"], identity["passage_prefix"]) == ("query: ", "passage: ")
    assert config_from_identity(identity) == EmbedderConfig(
        model="hash:64", query_prefix="query: ", passage_prefix="passage: "
    )


def test_identity_round_trips_to_the_default_config(minilm) -> None:
    config = config_from_identity(minilm.identity())
    assert config.model == "default" and config.max_seq_length == 256


def test_unloadable_embedders_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(EmbedderError, match="hash:<dimension>"):
        load_embedder("hash:abc")
    with pytest.raises(EmbedderError, match="at least 8"):
        load_embedder("hash:4")
    with pytest.raises(EmbedderError, match="no such model folder"):
        load_embedder(str(tmp_path / "no-such-model"))
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    with pytest.raises(EmbedderError, match="cannot load embedder"):
        load_embedder(str(broken))
