"""The bundled HotpotQA demo corpus, indexed into the user cache on first use and reused afterwards.

This is what makes the demo and tests work on a laptop with no network and no setup step.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from agentdistill.config import cache_dir
from agentdistill.jsonl import iter_jsonl_objects
from agentdistill.tools.retrieval.config import EmbedderConfig, IndexConfig
from agentdistill.tools.retrieval.corpus import fingerprint
from agentdistill.tools.retrieval.index import Index, build_index


def demo_corpus_path() -> Path:
    """``hotpotqa_demo_corpus.jsonl``: 400 passages (the paragraphs of the demo questions)."""
    return Path(str(resources.files("agentdistill") / "data" / "hotpotqa_demo_corpus.jsonl"))


def demo_questions_path() -> Path:
    """``hotpotqa_demo.jsonl``: 40 HotpotQA dev questions with answers and supporting titles."""
    return Path(str(resources.files("agentdistill") / "data" / "hotpotqa_demo.jsonl"))


def demo_questions() -> Iterator[dict[str, Any]]:
    """The demo questions, one dict per question."""
    for _, row in iter_jsonl_objects(demo_questions_path()):
        yield row


def demo_index_dir(embedder: EmbedderConfig | None = None) -> Path:
    """Where the demo index for ``embedder`` lives: keyed by corpus and embedder, so either change rebuilds."""
    embedder = embedder or EmbedderConfig()
    key = fingerprint(
        [demo_corpus_path()],
        extra={"embedder": embedder.model, "q": embedder.query_prefix, "p": embedder.passage_prefix},
    )
    return cache_dir() / "indexes" / f"hotpotqa-demo-{key[:16]}"


def demo_index(embedder: EmbedderConfig | None = None, *, progress: bool = False) -> Index:
    """Build the demo index in the cache if it is missing (a few seconds), then load it."""
    config = IndexConfig(embedder=embedder or EmbedderConfig(), bm25=True)
    out = demo_index_dir(config.embedder)
    out.parent.mkdir(parents=True, exist_ok=True)
    # Two processes starting the demo at once must not build into the same folder together.
    with open(out.parent / f"{out.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            # A no-op when the cached index is up to date; rebuilt when the corpus or recipe changed.
            build_index([demo_corpus_path()], out, config, fmt="jsonl", progress=progress, overwrite=True)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return Index.load(out)
