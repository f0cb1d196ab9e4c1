"""Options for the retrieval tool: how a corpus is embedded and indexed, and how it is searched.

Each field has a one-line docstring, so recipes and ``--help`` can say what it does. Load them with
:func:`agentdistill.config.load_config` like every other stage config.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from agentdistill.config import FieldError

SearchMode = Literal["dense", "bm25", "hybrid"]


@dataclasses.dataclass
class EmbedderConfig:
    """Which sentence-transformers model turns text into vectors, and how."""

    model: str = "default"
    """``default`` (the packaged all-MiniLM-L6-v2, offline), a local folder, a hub id, or ``hash:<dim>`` (tests)."""
    query_prefix: str = ""
    """Prepended to queries, e.g. ``"query: "`` for e5 models."""
    passage_prefix: str = ""
    """Prepended to passages, e.g. ``"passage: "`` for e5 models."""
    batch_size: int = 64
    """Texts per forward pass."""
    device: str | None = None
    """Torch device (``cpu``, ``cuda``, ``cuda:1``); None lets sentence-transformers pick."""
    max_seq_length: int | None = None
    """Truncate inputs to this many tokens; None keeps the model's own limit."""


@dataclasses.dataclass
class ChunkConfig:
    """How long documents are cut into passages before embedding."""

    words: int = 160
    """Words per passage window; documents this long or shorter stay whole (MiniLM reads ~190 words)."""
    overlap: int = 32
    """Words shared by consecutive windows, so a fact on a boundary is whole in one of them."""


@dataclasses.dataclass
class IndexConfig:
    """How ``agentdistill index build`` turns a corpus into an index directory."""

    index_type: str = "flat"
    """``flat`` (exact inner product), ``ivf_flat``, ``ivf_pq`` (compressed), ``hnsw`` (graph), or a type
    registered in ``agentdistill.tools.retrieval.index_types.INDEX_TYPES``."""
    embedder: EmbedderConfig = dataclasses.field(default_factory=EmbedderConfig)
    """The embedding model; queries must later use the same one."""
    chunk: ChunkConfig = dataclasses.field(default_factory=ChunkConfig)
    """Word-window chunking of long documents."""
    shard_size: int = 4096
    """Passages embedded per shard; a killed build resumes after the last finished shard."""
    nlist: int | None = None
    """IVF lists; None picks about 4*sqrt(count), capped so each list gets at least 39 training points."""
    nprobe: int = 16
    """IVF lists visited per query (stored in the index, can be changed at query time)."""
    pq_m: int | None = None
    """IVF-PQ sub-quantisers (bytes per vector at 8 bits), dividing the dimension; None: dim/8 (8x smaller)."""
    pq_nbits: int = 8
    """Bits per IVF-PQ code."""
    hnsw_m: int = 32
    """HNSW neighbours per node."""
    hnsw_ef_construction: int = 80
    """HNSW build-time beam width."""
    hnsw_ef_search: int = 64
    """HNSW query-time beam width."""
    train_size: int = 100_000
    """Vectors sampled (deterministically) to train IVF centroids and PQ codebooks."""
    bm25: bool = False
    """Also build a BM25 index (``bm25s``) for lexical and hybrid search."""
    seed: int = 0
    """Seed for training samples and k-means, so the same inputs give the same index."""

    def __post_init__(self) -> None:
        from agentdistill.tools.retrieval.index_types import INDEX_TYPES

        if self.index_type not in INDEX_TYPES:  # checked here, before a corpus is embedded
            raise FieldError("index_type", str(INDEX_TYPES.unknown(self.index_type)))
        for name in ("shard_size", "nprobe", "train_size", "hnsw_m", "pq_nbits"):
            if getattr(self, name) < 1:
                raise FieldError(name, f"must be at least 1, got {getattr(self, name)}")


@dataclasses.dataclass
class RetrievalConfig:
    """How an agent's ``web_search`` tool queries an index."""

    index: str = "demo"
    """An index directory, or ``demo`` for the bundled HotpotQA demo corpus (built in the cache on first use)."""
    k: int = 3
    """Documents returned per query."""
    mode: SearchMode = "dense"
    """``dense`` (faiss), ``bm25`` or ``hybrid`` (reciprocal-rank fusion of both; needs ``bm25`` at build)."""
    rrf_k: int = 60
    """Reciprocal-rank-fusion constant: larger flattens the weight of top ranks."""
    max_chars: int | None = 1200
    """Characters of each document shown to the agent; None shows all."""
    nprobe: int | None = None
    """Override the IVF lists visited per query."""
    ef_search: int | None = None
    """Override the HNSW beam width per query."""
