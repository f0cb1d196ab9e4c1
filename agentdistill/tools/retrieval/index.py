"""Index directories: build (in resumable shards), save, load (memory-mapped) and search.

Layout of an index directory::

    manifest.json     what was built and how (embedder, dim, count, corpus fingerprint, metric, type)
    index.faiss       the faiss index (row i is passage i)
    passages.arrow    id/title/text as an Arrow IPC file, memory-mapped on load
    bm25/             optional BM25 index for lexical and hybrid search
    build/            only while building: embedded shards and progress.json (removed when done)
    .lock             held while a build writes here, so two builds never interleave

The manifest is written last, so a directory with a manifest is complete. A build embeds the corpus
shard by shard; each finished shard is recorded in ``build/progress.json``, so a killed build resumes
after the last finished shard instead of re-embedding everything. With the same inputs the same rows,
vectors and index come out (IVF training uses a seeded sample; HNSW inserts on one thread).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import itertools
import json
import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from agentdistill.errors import AgentDistillError
from agentdistill.tools.retrieval.config import EmbedderConfig, IndexConfig
from agentdistill.tools.retrieval.corpus import Passage, iter_corpus
from agentdistill.tools.retrieval.corpus import fingerprint as corpus_fingerprint
from agentdistill.tools.retrieval.embedders import Embedder, config_from_identity, load_embedder
from agentdistill.tools.retrieval.errors import EmbedderMismatchError, IndexBuildError, IndexLoadError
from agentdistill.tools.retrieval.index_types import INDEX_TYPES

SCHEMA = "agentdistill.index/1"
MANIFEST = "manifest.json"
INDEX_FILE = "index.faiss"
PASSAGES_FILE = "passages.arrow"
BM25_DIR = "bm25"
BUILD_DIR = "build"
PROGRESS = "progress.json"
LOCK = ".lock"
METRIC = "inner_product"
# Bump when the way passages become vectors changes (the text fed to the embedder, chunking code), so
# cached indexes built the old way are rebuilt instead of silently reused.
RECIPE = 1
SMALL_BATCH = 20


@dataclasses.dataclass(frozen=True)
class SearchHit:
    """One retrieved passage: ``row`` in the index, ``score`` (cosine for dense, fused for hybrid)."""

    passage: Passage
    score: float
    rank: int
    row: int


# ----------------------------------------------------------------------------- build


def build_index(
    sources: Sequence[str | Path],
    out: str | Path,
    config: IndexConfig | None = None,
    *,
    fmt: str = "auto",
    embedder: Embedder | None = None,
    progress: bool = False,
    overwrite: bool = False,
) -> Path:
    """Embed ``sources`` into an index directory ``out``; resume a partial build; no-op when up to date.

    A lock file in ``out`` serialises concurrent builds of one directory: the second waits, then finds
    the index up to date.
    """
    config = config or IndexConfig()
    out = Path(out)
    if out.is_dir() and not overwrite and not (out / MANIFEST).exists() and _foreign_files(out):
        raise IndexBuildError(f"{out} exists and is not an agentdistill index; choose an empty or new --out")
    out.mkdir(parents=True, exist_ok=True)
    with (out / LOCK).open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return _build_locked(sources, out, config, fmt, embedder, progress, overwrite)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _build_locked(
    sources: Sequence[str | Path],
    out: Path,
    config: IndexConfig,
    fmt: str,
    embedder: Embedder | None,
    progress: bool,
    overwrite: bool,
) -> Path:
    if not sources:
        raise IndexBuildError("no corpus given: pass at least one file or directory")
    if config.shard_size < 1:
        raise IndexBuildError(f"shard_size must be at least 1, got {config.shard_size}")
    chunking = dataclasses.asdict(config.chunk)
    corpus_fp = corpus_fingerprint(sources, fmt, extra={"chunk": chunking})
    embedder = embedder or load_embedder(config.embedder, progress=False)
    identity = embedder.identity()
    wanted = {
        "recipe": RECIPE,
        "corpus_fingerprint": corpus_fp,
        "embedder": identity,
        "index_type": config.index_type,
        "index_params": INDEX_TYPES.get(config.index_type).params(config),
        "bm25": config.bm25,
    }
    if (out / MANIFEST).exists():
        current = _read_json(out / MANIFEST)
        if all(current.get(key) == value for key, value in wanted.items()):
            return out
        if not overwrite:
            raise IndexBuildError(
                f"{out} already holds a different index (corpus, embedder or options changed); "
                "pass --overwrite to replace it or choose another --out"
            )
        for name in (MANIFEST, INDEX_FILE, PASSAGES_FILE):
            (out / name).unlink(missing_ok=True)
        shutil.rmtree(out / BM25_DIR, ignore_errors=True)
    elif _foreign_files(out) and not overwrite:
        raise IndexBuildError(f"{out} exists and is not an agentdistill index; choose an empty or new --out")

    embed_key = _digest(
        {"recipe": RECIPE, "corpus": corpus_fp, "embedder": identity, "shard_size": config.shard_size}
    )
    build_dir = out / BUILD_DIR
    state = _load_progress(build_dir, embed_key)
    passages = iter_corpus(sources, fmt, config.chunk)
    _embed_shards(passages, embedder, build_dir, state, config.shard_size, progress)

    shards = state["shards"]
    count = sum(s["count"] for s in shards)
    if count == 0:
        raise IndexBuildError(f"the corpus {', '.join(map(str, sources))} holds no passages")
    _write_passages(build_dir, shards, out / PASSAGES_FILE)
    index = _build_faiss(build_dir, shards, embedder.dim, count, config)
    _write_faiss(index, out / INDEX_FILE)
    if config.bm25:
        from agentdistill.tools.retrieval.lexical import build_bm25

        shutil.rmtree(out / BM25_DIR, ignore_errors=True)
        build_bm25(out / BM25_DIR, (_shard_texts(build_dir, s) for s in shards))
    manifest = {
        "schema": SCHEMA,
        **wanted,
        "dim": embedder.dim,
        "count": count,
        "metric": METRIC,
        "sources": [str(s) for s in sources],
        "format": fmt,
        "chunk": chunking,
        "index_bytes": (out / INDEX_FILE).stat().st_size,
    }
    _atomic_write_bytes(out / MANIFEST, json.dumps(manifest, indent=2).encode())
    shutil.rmtree(build_dir, ignore_errors=True)
    return out


def _foreign_files(out: Path) -> bool:
    """Whether ``out`` holds anything besides a partial build (so building there could clobber it)."""
    return any(p.name not in (BUILD_DIR, LOCK) for p in out.iterdir())


def _load_progress(build_dir: Path, embed_key: str) -> dict[str, Any]:
    """The record of finished shards, or a fresh one (discarding shards of different inputs)."""
    path = build_dir / PROGRESS
    if path.exists():
        state = _read_json(path)
        if state.get("embed_key") == embed_key:
            return state
        shutil.rmtree(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    return {"embed_key": embed_key, "shards": []}


def _embed_shards(
    passages: Iterator[Passage],
    embedder: Embedder,
    build_dir: Path,
    state: dict[str, Any],
    shard_size: int,
    progress: bool,
) -> None:
    """Embed what the progress record does not cover yet, one shard at a time."""
    import pyarrow as pa

    done = sum(s["count"] for s in state["shards"])
    remaining = itertools.islice(passages, done, None)
    with _Progress(progress, done) as bar:
        for number in itertools.count(len(state["shards"])):
            batch = list(itertools.islice(remaining, shard_size))
            if not batch:
                return
            vectors = embedder.embed_passages([_embed_text(p) for p in batch])
            if vectors.shape != (len(batch), embedder.dim):
                raise IndexBuildError(f"embedder returned shape {vectors.shape} for {len(batch)} passages")
            name = f"{number:05d}"
            vec_path, psg_path = build_dir / f"vectors-{name}.npy", build_dir / f"passages-{name}.arrow"
            tmp = vec_path.with_suffix(".tmp")
            with tmp.open("wb") as f:
                np.save(f, np.ascontiguousarray(vectors, dtype=np.float32))
            os.replace(tmp, vec_path)
            table = pa.table(
                {
                    "id": [p.id for p in batch],
                    "title": [p.title for p in batch],
                    "text": [p.text for p in batch],
                }
            )
            tmp = psg_path.with_suffix(".tmp")
            with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
                writer.write_table(table)
            os.replace(tmp, psg_path)
            state["shards"].append({"vectors": vec_path.name, "passages": psg_path.name, "count": len(batch)})
            _atomic_write_bytes(build_dir / PROGRESS, json.dumps(state, indent=1).encode())
            bar.advance(len(batch))


def _embed_text(passage: Passage) -> str:
    """Titles carry much of a Wikipedia paragraph's meaning, so they are embedded with the text."""
    return f"{passage.title}\n{passage.text}" if passage.title else passage.text


def _write_passages(build_dir: Path, shards: list[dict[str, Any]], out: Path) -> None:
    """Concatenate the shards' passages into one Arrow IPC file, batch by batch."""
    import pyarrow as pa

    tmp = out.with_suffix(".tmp")
    schema = pa.schema([("id", pa.string()), ("title", pa.string()), ("text", pa.string())])
    with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, schema) as writer:
        for shard in shards:
            with pa.memory_map(str(build_dir / shard["passages"]), "r") as source:
                writer.write_table(pa.ipc.open_file(source).read_all())
    os.replace(tmp, out)


def _shard_texts(build_dir: Path, shard: dict[str, Any]) -> list[str]:
    import pyarrow as pa

    with pa.memory_map(str(build_dir / shard["passages"]), "r") as source:
        table = pa.ipc.open_file(source).read_all()
    return [f"{t} {x}" for t, x in zip(table["title"].to_pylist(), table["text"].to_pylist(), strict=True)]


def _shard_vectors(build_dir: Path, shards: list[dict[str, Any]]) -> Iterator[np.ndarray]:
    for shard in shards:
        yield np.load(build_dir / shard["vectors"], mmap_mode="r")


def _build_faiss(
    build_dir: Path, shards: list[dict[str, Any]], dim: int, count: int, config: IndexConfig
) -> Any:
    """Create, train (IVF) and fill the faiss index from the shards, never holding all vectors twice."""
    index = make_faiss_index(config, dim, count)
    if not index.is_trained:
        index.train(_training_sample(build_dir, shards, count, config))
    single_thread = INDEX_TYPES.get(config.index_type).single_thread_add
    with _faiss_threads(1 if single_thread else None):
        for vectors in _shard_vectors(build_dir, shards):
            index.add(np.ascontiguousarray(vectors))
    return index


def make_faiss_index(config: IndexConfig, dim: int, count: int) -> Any:
    """An empty (untrained for IVF) inner-product faiss index of ``config.index_type``."""
    return INDEX_TYPES.get(config.index_type).make(config, dim, count)


def _training_sample(
    build_dir: Path, shards: list[dict[str, Any]], count: int, config: IndexConfig
) -> np.ndarray:
    """A seeded sample of rows, gathered shard by shard (the same inputs give the same centroids)."""
    if count <= config.train_size:
        wanted = np.arange(count)
    else:
        wanted = np.sort(np.random.default_rng(config.seed).choice(count, config.train_size, replace=False))
    parts, start = [], 0
    for vectors in _shard_vectors(build_dir, shards):
        end = start + len(vectors)
        lo, hi = np.searchsorted(wanted, [start, end])
        parts.append(np.asarray(vectors[wanted[lo:hi] - start]))
        start = end
    return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)


# ----------------------------------------------------------------------------- load and search


class Index:
    """A loaded index directory. Text queries need the embedder the index was built with."""

    def __init__(self, path: Path, manifest: dict[str, Any], faiss_index: Any, passages: Any) -> None:
        self.path = path
        self.manifest = manifest
        self.faiss_index = faiss_index
        self.passages = passages
        self._embedder: Embedder | None = None
        self._bm25: Any = None

    @classmethod
    def load(cls, path: str | Path, embedder: Embedder | EmbedderConfig | str | None = None) -> Index:
        """Open ``path`` memory-mapped; ``embedder`` (optional) is checked against the manifest."""
        path = Path(path)
        manifest = read_manifest(path)
        faiss_index = _read_faiss(path / INDEX_FILE)
        passages = _read_passages(path / PASSAGES_FILE)
        if faiss_index.ntotal != manifest["count"] or passages.num_rows != manifest["count"]:
            raise IndexLoadError(f"{path}: index files disagree with the manifest count {manifest['count']}")
        index = cls(path, manifest, faiss_index, passages)
        if embedder is not None:
            index.set_embedder(embedder)
        return index

    def __len__(self) -> int:
        return int(self.manifest["count"])

    @property
    def embedder(self) -> Embedder:
        """The index's own embedder, loaded on first text query."""
        if self._embedder is None:
            self._embedder = load_embedder(config_from_identity(self.manifest["embedder"]))
            self._check(self._embedder)
        return self._embedder

    def set_embedder(self, embedder: Embedder | EmbedderConfig | str) -> None:
        """Use ``embedder`` for queries; refuse one whose vectors are not comparable with the index's."""
        if not hasattr(embedder, "embed_queries"):
            embedder = load_embedder(embedder)  # type: ignore[arg-type]
        self._check(embedder)  # type: ignore[arg-type]
        self._embedder = embedder  # type: ignore[assignment]

    def _check(self, embedder: Embedder) -> None:
        built, given = self.manifest["embedder"], embedder.identity()
        if built != given:
            diff = ", ".join(
                f"{key} {built.get(key)!r} vs {given.get(key)!r}"
                for key in sorted(set(built) | set(given))
                if built.get(key) != given.get(key)
            )
            raise EmbedderMismatchError(
                f"{self.path} was built with embedder {built['model']!r} but queried with {given['model']!r} "
                f"({diff}); query with the same embedder or rebuild the index with --embedder"
            )

    def configure(self, *, nprobe: int | None = None, ef_search: int | None = None) -> None:
        """Trade speed for recall at query time (IVF lists visited, HNSW beam width)."""
        import faiss

        if nprobe is not None and hasattr(self.faiss_index, "nprobe"):
            self.faiss_index.nprobe = nprobe
        if ef_search is not None and isinstance(self.faiss_index, faiss.IndexHNSW):
            self.faiss_index.hnsw.efSearch = ef_search

    def passage(self, row: int) -> Passage:
        return self.passages_at([row])[0]

    def passages_at(self, rows: Sequence[int]) -> list[Passage]:
        """Passages by row, read from the memory-mapped Arrow file (none for no rows: a query that matched
        nothing, e.g. only stopwords or unknown words under BM25)."""
        import pyarrow as pa

        taken = self.passages.take(pa.array(list(rows), type=pa.int64())).to_pylist()
        return [Passage(id=r["id"], title=r["title"], text=r["text"]) for r in taken]

    def search_vectors(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """faiss search: (scores, rows), each ``(len(vectors), k)``; missing results have row -1."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        # A few queries run on one thread: a parallel region costs more than it saves for them, and on
        # a busy machine it waits for descheduled threads. Concurrent episodes supply the parallelism.
        with _faiss_threads(1 if len(vectors) < SMALL_BATCH else None):
            return self.faiss_index.search(vectors, min(k, len(self)))  # type: ignore[no-any-return]

    def search(self, query: str, k: int = 5, *, mode: str = "dense", rrf_k: int = 60) -> list[SearchHit]:
        """The top ``k`` passages for one query (``dense``, ``bm25`` or ``hybrid``)."""
        return self.search_batch([query], k, mode=mode, rrf_k=rrf_k)[0]

    def search_batch(
        self, queries: Sequence[str], k: int = 5, *, mode: str = "dense", rrf_k: int = 60
    ) -> list[list[SearchHit]]:
        """Top ``k`` per query; queries are embedded in one batch."""
        if k < 1:
            raise AgentDistillError(f"k must be at least 1, got {k}")
        if mode not in ("dense", "bm25", "hybrid"):
            raise AgentDistillError(f"unknown search mode {mode!r}; choose dense, bm25 or hybrid")
        results: list[list[tuple[int, float]]] = [[] for _ in queries]
        if mode in ("dense", "hybrid"):
            depth = k if mode == "dense" else max(k, 50)
            scores, rows = self.search_vectors(self.embedder.embed_queries(list(queries)), depth)
            results = [
                [(int(r), float(s)) for r, s in zip(row, score, strict=True) if r >= 0]
                for row, score in zip(rows, scores, strict=True)
            ]
        if mode in ("bm25", "hybrid"):
            from agentdistill.tools.retrieval.lexical import reciprocal_rank_fusion

            for i, query in enumerate(queries):
                lex_rows, lex_scores = self.bm25.search(query, k if mode == "bm25" else max(k, 50))
                lexical = list(zip(lex_rows.tolist(), lex_scores.tolist(), strict=True))
                if mode == "bm25":
                    results[i] = lexical
                else:
                    dense_rank = [r for r, _ in results[i]]
                    results[i] = reciprocal_rank_fusion([dense_rank, [r for r, _ in lexical]], k=rrf_k)
        return [self._hits(found[:k]) for found in results]

    @property
    def bm25(self) -> Any:
        if self._bm25 is None:
            from agentdistill.tools.retrieval.lexical import BM25Index, LexicalError

            if not self.manifest.get("bm25"):
                raise LexicalError(
                    f"{self.path} has no BM25 index; rebuild it with --bm25 for bm25/hybrid search"
                )
            self._bm25 = BM25Index(self.path / BM25_DIR)
        return self._bm25

    def _hits(self, found: list[tuple[int, float]]) -> list[SearchHit]:
        passages = self.passages_at([r for r, _ in found])
        return [
            SearchHit(passage=p, score=s, rank=i, row=r)
            for i, (p, (r, s)) in enumerate(zip(passages, found, strict=True), 1)
        ]


def read_manifest(path: str | Path) -> dict[str, Any]:
    """The manifest of a complete index directory, or a clear error."""
    path = Path(path)
    file = path / MANIFEST
    if not file.exists():
        partial = (
            " (a build was interrupted: rerun the same build to resume)"
            if (path / BUILD_DIR).exists()
            else ""
        )
        raise IndexLoadError(f"{path}: not an agentdistill index (no {MANIFEST}){partial}")
    manifest = _read_json(file)
    if manifest.get("schema") != SCHEMA:
        raise IndexLoadError(
            f"{file}: unknown index schema {manifest.get('schema')!r}; this version reads {SCHEMA}"
        )
    return manifest


def _read_faiss(path: Path) -> Any:
    """Memory-map the vectors where faiss supports it (flat and HNSW storage), else read into memory."""
    import faiss

    try:
        return faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY)
    except RuntimeError:
        return faiss.read_index(str(path))


def _read_passages(path: Path) -> Any:
    import pyarrow as pa

    return pa.ipc.open_file(pa.memory_map(str(path), "r")).read_all()


# ----------------------------------------------------------------------------- small helpers


class _Progress:
    """A rich progress bar over passages embedded, or nothing when ``enabled`` is false."""

    def __init__(self, enabled: bool, done: int) -> None:
        self.enabled, self.done = enabled, done
        self.progress: Any = None

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                MofNCompleteColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
            )

            self.progress = Progress(
                SpinnerColumn(),
                TextColumn("embedding passages"),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
            )
            self.progress.start()
            self.task = self.progress.add_task("embed", total=None, completed=self.done)
        return self

    def advance(self, n: int) -> None:
        if self.progress is not None:
            self.progress.advance(self.task, n)

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()


@contextlib.contextmanager
def _faiss_threads(n: int | None) -> Iterator[None]:
    """Temporarily pin faiss's OpenMP threads (HNSW inserts on one thread to be deterministic)."""
    import faiss

    before = faiss.omp_get_max_threads()
    if n is not None:
        faiss.omp_set_num_threads(n)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def _write_faiss(index: Any, path: Path) -> None:
    import faiss

    tmp = path.with_name(path.name + ".tmp")
    faiss.write_index(index, str(tmp))
    os.replace(tmp, path)


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise IndexLoadError(f"{path}:{e.lineno}: malformed JSON ({e.msg})") from None
    if not isinstance(data, dict):
        raise IndexLoadError(f"{path}: expected a JSON object")
    return data


def _digest(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
