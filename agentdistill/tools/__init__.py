"""Retrieval tool: corpora, embedders, faiss indexes, and the LangChain retriever and ``web_search`` tool.

Names are imported lazily so that ``agentdistill --help`` does not pay for numpy, faiss or LangChain.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "IndexConfig": "agentdistill.tools.config",
    "EmbedderConfig": "agentdistill.tools.config",
    "ChunkConfig": "agentdistill.tools.config",
    "RetrievalConfig": "agentdistill.tools.config",
    "Passage": "agentdistill.tools.corpus",
    "iter_corpus": "agentdistill.tools.corpus",
    "load_embedder": "agentdistill.tools.embedders",
    "Index": "agentdistill.tools.index",
    "build_index": "agentdistill.tools.index",
    "IndexRetriever": "agentdistill.tools.retriever",
    "WebSearchTool": "agentdistill.tools.search_tool",
    "make_web_search": "agentdistill.tools.search_tool",
    "demo_index": "agentdistill.tools.demo",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'agentdistill.tools' has no attribute {name!r}")
