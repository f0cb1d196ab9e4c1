"""Index build, save/load, resume, determinism, index types, embedder checks, lexical and hybrid search."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from agentdistill.tools.retrieval.config import EmbedderConfig, IndexConfig
from agentdistill.tools.retrieval.corpus import iter_corpus
from agentdistill.tools.retrieval.embedders import HashingEmbedder
from agentdistill.tools.retrieval.index import (
    BUILD_DIR,
    PROGRESS,
    EmbedderMismatchError,
    Index,
    IndexBuildError,
    IndexLoadError,
    build_index,
)
from agentdistill.tools.retrieval.lexical import LexicalError

from .conftest import SMALL_CORPUS, write_jsonl

HASH = IndexConfig(embedder=EmbedderConfig(model="hash:64"))


class CountingEmbedder(HashingEmbedder):
    """The hash embedder, counting embedded passages and optionally failing on the n-th call."""

    def __init__(self, dim: int = 64, fail_on_call: int | None = None) -> None:
        super().__init__(dim)
        self.embedded = 0
        self.calls = 0
        self.fail_on_call = fail_on_call

    def embed_passages(self, texts):  # type: ignore[no-untyped-def]
        self.calls += 1
        if self.calls == self.fail_on_call:
            raise KeyboardInterrupt("simulated interruption")
        self.embedded += len(texts)
        return super().embed_passages(texts)


def _count(source: Path) -> int:
    """Passages after default chunking (long paragraphs become several)."""
    return sum(1 for _ in iter_corpus([source]))


@pytest.fixture(scope="module")
def wiki_subset(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    """600 real Wikipedia paragraphs (2WikiMultihopQA corpus) as JSONL: enough to train IVF-PQ."""
    rows = json.loads((shared_data / "wiki_corpus" / "hipporag_2wikimultihopqa_corpus.json").read_text())[
        :600
    ]
    out = tmp_path_factory.mktemp("wiki") / "wiki600.jsonl"
    return write_jsonl(out, [{"id": f"w{i}", **r} for i, r in enumerate(rows)])


def test_round_trip_with_default_embedder(small_corpus: Path, tmp_path: Path, minilm) -> None:
    out = build_index([small_corpus], tmp_path / "idx", embedder=minilm)
    assert sorted(p.name for p in out.iterdir()) == [
        ".lock",
        "index.faiss",
        "manifest.json",
        "passages.arrow",
    ]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["count"] == len(SMALL_CORPUS)
    assert manifest["dim"] == 384
    assert manifest["metric"] == "inner_product"
    assert manifest["index_type"] == "flat"
    assert manifest["embedder"]["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert len(manifest["corpus_fingerprint"]) == 64

    index = Index.load(out, embedder=minilm)
    hits = index.search("What is the capital of Germany?", k=3)
    assert [h.rank for h in hits] == [1, 2, 3]
    assert hits[0].passage.title == "Berlin"
    assert hits[0].score > hits[1].score
    assert index.search("who created the Python programming language", k=1)[0].passage.id == "p3"

    again = Index.load(out, embedder=minilm).search("What is the capital of Germany?", k=3)
    assert [(h.passage, h.score) for h in again] == [(h.passage, h.score) for h in hits]
    assert len(index.search("moon", k=50)) == len(SMALL_CORPUS)  # k capped at the corpus size


def test_single_queries_leave_faiss_threads_alone(small_corpus: Path, tmp_path: Path) -> None:
    import faiss

    index = Index.load(build_index([small_corpus], tmp_path / "idx", HASH))
    before = faiss.omp_get_max_threads()
    assert index.search("capital of France", k=1)[0].passage.id == "p1"
    assert faiss.omp_get_max_threads() == before


def test_same_inputs_same_index(wiki_subset: Path, tmp_path: Path) -> None:
    for kind in ("flat", "ivf_pq", "hnsw"):
        config = IndexConfig(
            index_type=kind, embedder=EmbedderConfig(model="hash:64"), pq_nbits=6, shard_size=128
        )  # pq_m left to its default: dimension / 8
        a = build_index([wiki_subset], tmp_path / f"{kind}-a", config)
        b = build_index([wiki_subset], tmp_path / f"{kind}-b", config)
        for name in ("index.faiss", "passages.arrow", "manifest.json"):
            assert (a / name).read_bytes() == (b / name).read_bytes(), (kind, name)
        if kind == "ivf_pq":
            assert Index.load(a).faiss_index.pq.M == 64 // 8


@pytest.mark.parametrize("kind", ["flat", "ivf_flat", "ivf_pq", "hnsw"])
def test_index_types_find_the_passage_itself(kind: str, wiki_subset: Path, tmp_path: Path) -> None:
    config = IndexConfig(
        index_type=kind, embedder=EmbedderConfig(model="hash:256"), pq_m=16, pq_nbits=6, nprobe=8
    )
    index = Index.load(build_index([wiki_subset], tmp_path / kind, config))
    assert (
        type(index.faiss_index).__name__
        == {
            "flat": "IndexFlatIP",
            "ivf_flat": "IndexIVFFlat",
            "ivf_pq": "IndexIVFPQ",
            "hnsw": "IndexHNSWFlat",
        }[kind]
    )
    rows = list(range(0, 600, 20))
    texts = [f"{p.title}\n{p.text}" for p in index.passages_at(rows)]
    vectors = index.embedder.embed_passages(texts)
    _, found = index.search_vectors(vectors, 5)
    hit_rate = np.mean([row in top for row, top in zip(rows, found, strict=True)])
    assert hit_rate >= (1.0 if kind in ("flat", "hnsw") else 0.9), hit_rate


def test_interrupted_build_resumes_without_reembedding(wiki_subset: Path, tmp_path: Path) -> None:
    config = IndexConfig(embedder=EmbedderConfig(model="hash:64"), shard_size=100)
    out = tmp_path / "idx"
    failing = CountingEmbedder(fail_on_call=4)
    with pytest.raises(KeyboardInterrupt):
        build_index([wiki_subset], out, config, embedder=failing)
    progress = json.loads((out / BUILD_DIR / PROGRESS).read_text())
    assert [s["count"] for s in progress["shards"]] == [100, 100, 100]
    with pytest.raises(IndexLoadError, match="interrupted"):
        Index.load(out)

    resumed = CountingEmbedder()
    build_index([wiki_subset], out, config, embedder=resumed)
    assert resumed.embedded == _count(wiki_subset) - 300
    assert not (out / BUILD_DIR).exists()

    clean = build_index([wiki_subset], tmp_path / "clean", config)
    assert (out / "index.faiss").read_bytes() == (clean / "index.faiss").read_bytes()
    assert (out / "passages.arrow").read_bytes() == (clean / "passages.arrow").read_bytes()


def test_killed_build_process_resumes(wiki_subset: Path, tmp_path: Path) -> None:
    """SIGKILL a real build process mid-way (no cleanup runs), then finish the build here."""
    out = tmp_path / "idx"
    script = f"""
import time
from agentdistill.tools.retrieval.config import EmbedderConfig, IndexConfig
from agentdistill.tools.retrieval.corpus import iter_corpus
from agentdistill.tools.retrieval.embedders import HashingEmbedder
from agentdistill.tools.retrieval.index import build_index

class Slow(HashingEmbedder):
    def embed_passages(self, texts):
        time.sleep(0.3)
        return super().embed_passages(texts)

build_index([{str(wiki_subset)!r}], {str(out)!r}, IndexConfig(shard_size=50), embedder=Slow(64))
"""
    proc = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    progress = out / BUILD_DIR / PROGRESS
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            if progress.exists() and len(json.loads(progress.read_text())["shards"]) >= 2:
                break
            assert proc.poll() is None, "the build finished before it could be killed"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    done = sum(s["count"] for s in json.loads(progress.read_text())["shards"])
    total = _count(wiki_subset)
    assert 100 <= done < total
    assert not (out / "manifest.json").exists()

    resumed = CountingEmbedder()
    build_index([wiki_subset], out, IndexConfig(shard_size=50), embedder=resumed)
    assert resumed.embedded == total - done
    assert len(Index.load(out)) == total


def test_changed_inputs_discard_stale_shards(wiki_subset: Path, small_corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "idx"
    config = IndexConfig(embedder=EmbedderConfig(model="hash:64"), shard_size=100)
    with pytest.raises(KeyboardInterrupt):
        build_index([wiki_subset], out, config, embedder=CountingEmbedder(fail_on_call=2))
    assert (out / BUILD_DIR / PROGRESS).exists()
    counting = CountingEmbedder()
    build_index([small_corpus], out, config, embedder=counting)
    assert counting.embedded == len(SMALL_CORPUS)
    assert len(Index.load(out)) == len(SMALL_CORPUS)


def test_rebuild_is_a_noop_and_different_index_needs_overwrite(small_corpus: Path, tmp_path: Path) -> None:
    out = build_index([small_corpus], tmp_path / "idx", HASH)
    counting = CountingEmbedder()
    build_index([small_corpus], out, HASH, embedder=counting)
    assert counting.calls == 0
    hnsw = IndexConfig(index_type="hnsw", embedder=EmbedderConfig(model="hash:64"))
    with pytest.raises(IndexBuildError, match="--overwrite"):
        build_index([small_corpus], out, hnsw)
    build_index([small_corpus], out, hnsw, overwrite=True)
    assert Index.load(out).manifest["index_type"] == "hnsw"

    other = tmp_path / "not-an-index"
    other.mkdir()
    (other / "precious.txt").write_text("keep me")
    with pytest.raises(IndexBuildError, match="not an agentdistill index"):
        build_index([small_corpus], other, HASH)


def test_embedder_mismatch_is_a_clear_error(small_corpus: Path, tmp_path: Path, minilm) -> None:
    out = build_index([small_corpus], tmp_path / "idx", HASH)
    assert Index.load(out).search("capital of France", k=1)[0].passage.id == "p1"  # own embedder
    with pytest.raises(
        EmbedderMismatchError, match=r"built with embedder 'hash:64' but queried with 'hash:128'"
    ):
        Index.load(out, embedder="hash:128")
    with pytest.raises(EmbedderMismatchError, match="query_prefix"):
        Index.load(out, embedder=EmbedderConfig(model="hash:64", query_prefix="query: "))
    with pytest.raises(EmbedderMismatchError, match="all-MiniLM-L6-v2"):
        Index.load(out).set_embedder(minilm)


def test_bad_build_options(small_corpus: Path, tmp_path: Path) -> None:
    empty = write_jsonl(tmp_path / "empty.jsonl", [])
    with pytest.raises(IndexBuildError, match="no passages"):
        build_index([empty], tmp_path / "e", HASH)
    with pytest.raises(IndexBuildError, match="must divide"):
        build_index(
            [small_corpus], tmp_path / "pq", IndexConfig(index_type="ivf_pq", pq_m=5, embedder=HASH.embedder)
        )
    with pytest.raises(IndexBuildError, match="pq_nbits"):
        build_index(
            [small_corpus], tmp_path / "pq2", IndexConfig(index_type="ivf_pq", pq_m=8, embedder=HASH.embedder)
        )
    with pytest.raises(IndexLoadError, match="not an agentdistill index"):
        Index.load(tmp_path)


def test_bm25_and_hybrid_search(small_corpus: Path, tmp_path: Path) -> None:
    config = IndexConfig(embedder=EmbedderConfig(model="hash:64"), bm25=True)
    index = Index.load(build_index([small_corpus], tmp_path / "idx", config))
    lexical = index.search("Guido van Rossum", k=3, mode="bm25")
    assert [h.passage.id for h in lexical] == ["p3"]  # only passages sharing a term
    hybrid = index.search("Guido van Rossum", k=3, mode="hybrid")
    assert hybrid[0].passage.id == "p3" and len(hybrid) == 3
    plain = Index.load(build_index([small_corpus], tmp_path / "plain", HASH))
    with pytest.raises(LexicalError, match="--bm25"):
        plain.search("x", mode="hybrid")


def test_reciprocal_rank_fusion() -> None:
    from agentdistill.tools.retrieval.lexical import reciprocal_rank_fusion

    fused = reciprocal_rank_fusion([[1, 2, 3], [3, 1]], k=60)
    assert [row for row, _ in fused] == [1, 3, 2]
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 62)


@pytest.fixture(scope="module")
def bm25_index(tmp_path_factory: pytest.TempPathFactory) -> Index:
    folder = tmp_path_factory.mktemp("bm25")
    corpus = write_jsonl(folder / "small.jsonl", SMALL_CORPUS)
    return Index.load(build_index([corpus], folder / "idx", IndexConfig(embedder=HASH.embedder, bm25=True)))


@pytest.mark.parametrize("query", ["the of and", "Guidoo", "Zxqvbnm Plorth", ""])
def test_a_query_matching_nothing_finds_nothing_in_every_mode(query: str, bm25_index: Index) -> None:
    """Stopwords only, a misspelling, an unknown name: no BM25 hits (not a pyarrow error); dense and hybrid
    still rank by vectors."""
    assert bm25_index.search(query, k=3, mode="bm25") == []
    assert len(bm25_index.search(query, k=3, mode="dense")) == 3
    assert len(bm25_index.search(query, k=3, mode="hybrid")) == 3
    assert bm25_index.passages_at([]) == []
