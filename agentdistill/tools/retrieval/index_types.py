"""faiss index types by name (``IndexConfig.index_type``): how each is made and which options shape it.

All are inner-product indexes over normalised embeddings (cosine similarity). ``flat`` is exact;
``ivf_flat`` and ``ivf_pq`` (compressed) are trained on a sample and probe ``nprobe`` lists per query;
``hnsw`` is a graph. Add one with ``INDEX_TYPES.register("name", IndexType(make=..., params=...))``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

from agentdistill.registry import Registry
from agentdistill.tools.retrieval.errors import IndexBuildError

IndexConfig = Any  # an agentdistill.tools.retrieval.config.IndexConfig (which imports this registry)


@dataclasses.dataclass(frozen=True)
class IndexType:
    """One kind of faiss index."""

    make: Callable[[IndexConfig, int, int], Any]
    """``(config, dim, count) -> an empty (untrained for IVF) faiss index``."""
    params: Callable[[IndexConfig], dict[str, Any]]
    """The config options that shape it (recorded in the manifest)."""
    single_thread_add: bool = False
    """Add vectors with one faiss thread (HNSW's parallel insertion is not deterministic)."""


def _flat(config: IndexConfig, dim: int, count: int) -> Any:
    import faiss

    return faiss.IndexFlatIP(dim)


def _hnsw(config: IndexConfig, dim: int, count: int) -> Any:
    import faiss

    index = faiss.IndexHNSWFlat(dim, config.hnsw_m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = config.hnsw_ef_construction
    index.hnsw.efSearch = config.hnsw_ef_search
    return index


def _nlist(config: IndexConfig, count: int) -> int:
    train = min(count, config.train_size)
    nlist = config.nlist or max(1, min(int(4 * math.sqrt(count)), train // 39))
    if nlist > train:
        raise IndexBuildError(
            f"{config.index_type}: nlist={nlist} needs at least that many passages, the corpus has {count}"
        )
    return nlist


def _finish_ivf(index: Any, config: IndexConfig, nlist: int) -> Any:
    index.cp.seed = config.seed
    index.nprobe = min(config.nprobe, nlist)
    return index


def _ivf_flat(config: IndexConfig, dim: int, count: int) -> Any:
    import faiss

    nlist = _nlist(config, count)
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
    return _finish_ivf(index, config, nlist)


def _ivf_pq(config: IndexConfig, dim: int, count: int) -> Any:
    import faiss

    nlist = _nlist(config, count)
    pq_m = config.pq_m or max(m for m in range(1, max(1, dim // 8) + 1) if dim % m == 0)
    if dim % pq_m:
        raise IndexBuildError(f"ivf_pq: pq_m={pq_m} must divide the embedding dimension {dim}")
    if min(count, config.train_size) < 2**config.pq_nbits:
        raise IndexBuildError(
            f"ivf_pq: training {2**config.pq_nbits} codes per sub-quantiser (pq_nbits={config.pq_nbits}) "
            f"needs at least that many passages, the corpus has {count}; use flat or a smaller pq_nbits"
        )
    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFPQ(quantizer, dim, nlist, pq_m, config.pq_nbits, faiss.METRIC_INNER_PRODUCT)
    index.pq.cp.seed = config.seed
    return _finish_ivf(index, config, nlist)


def _ivf_params(config: IndexConfig) -> dict[str, Any]:
    params: dict[str, Any] = {"nlist": config.nlist, "nprobe": config.nprobe, "train_size": config.train_size}
    params["seed"] = config.seed
    if config.index_type == "ivf_pq":
        params.update(pq_m=config.pq_m, pq_nbits=config.pq_nbits)
    return params


def _hnsw_params(config: IndexConfig) -> dict[str, Any]:
    return {
        "m": config.hnsw_m,
        "ef_construction": config.hnsw_ef_construction,
        "ef_search": config.hnsw_ef_search,
    }


INDEX_TYPES: Registry[IndexType] = Registry(
    "index type",
    {
        "flat": IndexType(_flat, lambda config: {}),
        "ivf_flat": IndexType(_ivf_flat, _ivf_params),
        "ivf_pq": IndexType(_ivf_pq, _ivf_params),
        "hnsw": IndexType(_hnsw, _hnsw_params, single_thread_add=True),
    },
    error=IndexBuildError,
)
