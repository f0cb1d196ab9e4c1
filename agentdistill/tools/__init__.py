"""The agent's host tools: the registry of tools sandboxed code may call, and ``web_search`` over a
retrieval index (:mod:`agentdistill.tools.retrieval`: corpora, embedders, faiss indexes, the retriever).

Names are imported lazily so that ``agentdistill --help`` does not pay for numpy, faiss or LangChain.
"""

from __future__ import annotations

from agentdistill.lazy import lazy_getattr

_EXPORTS = {
    "HOST_TOOLS": "agentdistill.tools.registry",
    "make_host_tool": "agentdistill.tools.registry",
    "make_host_tools": "agentdistill.tools.registry",
    "describe_tool": "agentdistill.tools.host",
    "invoke_tool": "agentdistill.tools.host",
    "WebSearchTool": "agentdistill.tools.web_search",
    "make_web_search": "agentdistill.tools.web_search",
    "format_documents": "agentdistill.tools.web_search",
    "IndexConfig": "agentdistill.tools.retrieval.config",
    "EmbedderConfig": "agentdistill.tools.retrieval.config",
    "ChunkConfig": "agentdistill.tools.retrieval.config",
    "RetrievalConfig": "agentdistill.tools.retrieval.config",
    "Passage": "agentdistill.tools.retrieval.corpus",
    "iter_corpus": "agentdistill.tools.retrieval.corpus",
    "load_embedder": "agentdistill.tools.retrieval.embedders",
    "Index": "agentdistill.tools.retrieval.index",
    "build_index": "agentdistill.tools.retrieval.index",
    "IndexRetriever": "agentdistill.tools.retrieval.retriever",
    "demo_index": "agentdistill.tools.retrieval.demo",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_getattr(__name__, _EXPORTS)
