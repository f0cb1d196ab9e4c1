"""Retrieval quality: recall@k of the gold supporting titles of HotpotQA-style questions.

Used by ``benchmarks/retrieval_recall.py`` (the full HotpotQA dev distractor corpus) and by the test suite
(a slice of it), so a change to chunking, the embedder or the fusion shows up as a number.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from pathlib import Path

from agentdistill.tools.retrieval.index import Index


def supporting_titles(files: Sequence[Path], limit: int | None = None) -> list[tuple[str, set[str]]]:
    """(question, gold supporting titles) of HotpotQA distractor rows, in file order (at most ``limit``)."""
    rows = (json.loads(line) for file in files for line in file.open(encoding="utf-8") if line.strip())
    return [(r["question"], set(r["supporting_facts"]["title"])) for r in itertools.islice(rows, limit)]


def recall_at_k(
    index: Index, questions: Sequence[tuple[str, set[str]]], *, k: int = 5, mode: str = "dense"
) -> float:
    """Per question, the share of its gold titles among the titles of the top ``k`` passages; averaged over
    questions, in points."""
    total = 0.0
    for start in range(0, len(questions), 256):
        batch = questions[start : start + 256]
        results = index.search_batch([q for q, _ in batch], k=k, mode=mode)
        for (_, gold), hits in zip(batch, results, strict=True):
            total += len(gold & {h.passage.title for h in hits}) / len(gold)
    return 100.0 * total / len(questions)
