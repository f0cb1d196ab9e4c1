"""Fixtures for the retrieval tests: shared data location, small corpora, the embedders."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``$AGENTDISTILL_SHARED_DATA`` or ``<repo>/../shared/data``; tests that need it skip without it."""
    path = Path(os.environ.get("AGENTDISTILL_SHARED_DATA") or REPO.parent / "shared" / "data")
    if not (path / "hotpotqa").is_dir():
        pytest.skip(f"shared data not found at {path} (set AGENTDISTILL_SHARED_DATA to its folder)")
    return path


@pytest.fixture(scope="session")
def minilm():
    """The packaged default embedder, loaded once per session (about 5 s)."""
    from agentdistill.tools.retrieval.embedders import load_embedder

    return load_embedder("default")


SMALL_CORPUS = [
    {"id": "p1", "title": "Paris", "text": "Paris is the capital and largest city of France, on the Seine."},
    {"id": "p2", "title": "Berlin", "text": "Berlin is the capital of Germany and its most populous city."},
    {
        "id": "p3",
        "title": "Python (language)",
        "text": "Python is a programming language created by Guido van Rossum.",
    },
    {
        "id": "p4",
        "title": "Python (snake)",
        "text": "Pythons are large nonvenomous snakes found in Africa and Asia.",
    },
    {
        "id": "p5",
        "title": "Mount Everest",
        "text": "Mount Everest is Earth's highest mountain above sea level.",
    },
    {
        "id": "p6",
        "title": "Photosynthesis",
        "text": "Photosynthesis converts light energy into chemical energy in plants.",
    },
    {
        "id": "p7",
        "title": "Jazz",
        "text": "Jazz is a music genre that originated in New Orleans in the 1910s.",
    },
    {
        "id": "p8",
        "title": "Moon",
        "text": "The Moon is Earth's only natural satellite, orbiting at 384,400 km.",
    },
]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def small_corpus(tmp_path: Path) -> Path:
    """Eight one-sentence passages with distinct topics, as JSONL."""
    return write_jsonl(tmp_path / "small.jsonl", SMALL_CORPUS)
