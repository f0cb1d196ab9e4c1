"""The agent's ``web_search(query)`` tool (the name the paper's prompts use), backed by any retriever.

Repeated queries within an episode are answered by the agent's per-episode cache of every host tool
(:mod:`agentdistill.tools.cache`), not here: the tool itself is stateless and shared by all episodes.
"""

from __future__ import annotations

from typing import Any

from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.tools import BaseTool
from pydantic import BaseModel, ConfigDict, Field

from agentdistill.tools.retrieval.config import RetrievalConfig

DESCRIPTION = (
    "Searches a Wikipedia-style corpus and returns the most relevant documents, each with its title. "
    "Use short, specific queries (names, entities, facts); search again with different words if needed."
)


class WebSearchInput(BaseModel):
    """Arguments of ``web_search``."""

    query: str = Field(description="What to search for.")


class WebSearchTool(BaseTool):
    """``web_search(query) -> str``: the top-``k`` documents of ``retriever``, formatted with titles."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    name: str = "web_search"
    description: str = DESCRIPTION
    args_schema: type[BaseModel] = WebSearchInput
    retriever: BaseRetriever
    k: int = 3
    max_chars: int | None = 1200
    """Characters of each document shown; None shows all."""

    @classmethod
    def from_config(cls, config: RetrievalConfig) -> WebSearchTool:
        """The tool over ``config.index`` (``demo``: the bundled demo index) with ``k`` and ``max_chars``."""
        from agentdistill.tools.retrieval.retriever import IndexRetriever

        return cls(retriever=IndexRetriever.from_config(config), k=config.k, max_chars=config.max_chars)

    def _run(self, query: str, **_: Any) -> str:
        key = " ".join(query.split())
        if not key:
            return "Error: web_search needs a non-empty query."
        return format_documents(self.retriever.invoke(key)[: self.k], self.max_chars)


def format_documents(docs: list[Document], max_chars: int | None = None) -> str:
    """Numbered documents with their titles, the format agent prompts expect."""
    if not docs:
        return "No documents found."
    parts = []
    for i, doc in enumerate(docs, 1):
        title = doc.metadata.get("title") or doc.metadata.get("source") or f"Document {i}"
        text = doc.page_content
        if max_chars is not None and len(text) > max_chars:
            text = text[:max_chars].rstrip() + " ..."
        parts.append(f"Document {i} (Title: {title})\n{text}")
    return "\n\n".join(parts)


def make_web_search(retriever: BaseRetriever, *, k: int = 3, max_chars: int | None = 1200) -> WebSearchTool:
    """The ``web_search`` tool over ``retriever``; an index retriever is asked for exactly ``k``."""
    from agentdistill.tools.retrieval.retriever import IndexRetriever

    if isinstance(retriever, IndexRetriever) and retriever.k != k:
        retriever = retriever.model_copy(update={"k": k})
    return WebSearchTool(retriever=retriever, k=k, max_chars=max_chars)
