"""Retrieval quality on a slice of the HotpotQA dev distractor corpus (its first 100 questions, ~1.1k
passages): the full corpus (1100 questions, ~11.8k passages, 8 minutes of embedding on 2 cores) is
``benchmarks/retrieval_recall.py``."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentdistill.config import cache_dir
from agentdistill.tools.retrieval.config import IndexConfig
from agentdistill.tools.retrieval.corpus import fingerprint
from agentdistill.tools.retrieval.index import Index, build_index
from agentdistill.tools.retrieval.recall import recall_at_k, supporting_titles

DEV_FILE = "rpt_dev_distractor_300.jsonl"
QUESTIONS = 100

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def dev_slice(shared_data: Path, tmp_path_factory) -> Path:
    """The first 100 questions of the 300-question dev file, as their own corpus file."""
    lines = (shared_data / "hotpotqa" / DEV_FILE).read_text(encoding="utf-8").splitlines(keepends=True)
    path = tmp_path_factory.mktemp("recall") / "hotpotqa_dev_100.jsonl"
    path.write_text("".join(lines[:QUESTIONS]), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def dev_index(dev_slice: Path) -> Index:
    """Built once per machine: cached under the user cache, keyed by the corpus fingerprint."""
    config = IndexConfig(bm25=True, shard_size=1024)
    key = fingerprint([dev_slice], extra={"test": "recall", "embedder": config.embedder.model})[:16]
    out = cache_dir() / "test-indexes" / f"hotpotqa-dev-100-{key}"
    build_index([dev_slice], out, config, overwrite=True)
    return Index.load(out)


# Measured on 2026-12-07 (CPU, packaged all-MiniLM-L6-v2, flat index, default chunking 160/32 words).
MEASURED = {"dense": 77.50, "bm25": 71.00, "hybrid": 81.00}


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_recall_at_5(dev_index: Index, dev_slice: Path, mode: str) -> None:
    """Recall@5 of the gold supporting titles of 100 HotpotQA dev questions (distractor setting).

    The corpus is every question's 10 context paragraphs, deduplicated by title: 1,078 passages after
    chunking. Per question: the share of its (two) gold supporting titles among the titles of the top 5
    passages; averaged over questions, in points. Each must stay within 2 points of its measured figure.
    """
    assert len(dev_index) == 1078
    questions = supporting_titles([dev_slice])
    assert len(questions) == QUESTIONS
    recall = recall_at_k(dev_index, questions, k=5, mode=mode)
    print(f"{mode} recall@5 = {recall:.2f} (measured {MEASURED[mode]})")
    assert recall >= MEASURED[mode] - 2.0
