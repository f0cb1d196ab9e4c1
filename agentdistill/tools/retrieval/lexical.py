"""Lexical search (BM25 through ``bm25s``) and reciprocal-rank fusion for hybrid retrieval.

Dense retrievers miss rare names and numbers that BM25 matches exactly; fusing the two rankings by
reciprocal rank needs no score calibration, so it is the cheap, robust way to get both.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from agentdistill.errors import AgentDistillError

VOCAB_FILE = "tokenizer_vocab.json"


class LexicalError(AgentDistillError):
    """BM25 is missing or was not built for an index."""


def build_bm25(out_dir: Path, text_batches: Iterable[Sequence[str]]) -> None:
    """Tokenise batch by batch (English stopwords, no stemming) and save a BM25 index in ``out_dir``."""
    bm25s = _import_bm25s()
    from bm25s.tokenization import Tokenized, Tokenizer

    tokenizer = Tokenizer(stopwords="en")
    ids: list[list[int]] = []
    for batch in text_batches:
        ids.extend(tokenizer.tokenize(list(batch), update_vocab=True, return_as="ids", show_progress=False))
    retriever = bm25s.BM25()
    retriever.index(Tokenized(ids=ids, vocab=tokenizer.get_vocab_dict()), show_progress=False)
    out_dir.mkdir(parents=True, exist_ok=True)
    retriever.save(str(out_dir), show_progress=False)
    tokenizer.save_vocab(str(out_dir), vocab_name=VOCAB_FILE)


class BM25Index:
    """A saved BM25 index plus the tokenizer vocabulary it was built with."""

    def __init__(self, path: Path) -> None:
        bm25s = _import_bm25s()
        from bm25s.tokenization import Tokenizer

        if not (path / VOCAB_FILE).exists():
            raise LexicalError(f"{path}: no BM25 index here; rebuild the index with --bm25")
        self.retriever = bm25s.BM25.load(str(path), mmap=True, show_progress=False)
        self.tokenizer = Tokenizer(stopwords="en")
        self.tokenizer.load_vocab(str(path), vocab_name=VOCAB_FILE)
        self.count = int(self.retriever.scores["num_docs"])

    def search(self, query: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(rows, scores) of the top ``k`` passages; rows with score 0 (no shared term) are dropped."""
        ids = self.tokenizer.tokenize([query], update_vocab=False, return_as="ids", show_progress=False)
        ids = [[i for i in ids[0] if i is not None]]
        if not ids[0]:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        rows, scores = self.retriever.retrieve(ids, k=min(k, self.count), show_progress=False, n_threads=1)
        keep = scores[0] > 0
        return rows[0][keep].astype(np.int64), scores[0][keep].astype(np.float32)


def reciprocal_rank_fusion(rankings: Sequence[Sequence[int]], k: int = 60) -> list[tuple[int, float]]:
    """Fuse rankings (lists of row ids, best first) by ``sum 1 / (k + rank)``; ties keep first-seen order."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, row in enumerate(ranking, 1):
            scores[int(row)] = scores.get(int(row), 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda item: -item[1])


def _import_bm25s():  # type: ignore[no-untyped-def]
    try:
        import bm25s
    except ImportError:
        raise LexicalError("lexical and hybrid search need bm25s: pip install bm25s") from None
    return bm25s
