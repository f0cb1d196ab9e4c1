"""An index as a langchain-core ``BaseRetriever``, so LangChain chains and our agents share one retriever."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field, model_validator

from agentdistill.tools.retrieval.config import RetrievalConfig, SearchMode
from agentdistill.tools.retrieval.index import Index, SearchHit


class IndexRetriever(BaseRetriever):
    """Top-``k`` passages of an :class:`~agentdistill.tools.retrieval.index.Index` as ``Document`` objects.

    ``metadata`` holds ``id``, ``title``, ``score``, ``rank`` and ``row``, so callers can cite or
    deduplicate without parsing text.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    index: Index
    k: int = Field(default=5, ge=1)
    mode: SearchMode = "dense"
    rrf_k: int = Field(default=60, ge=1)

    @model_validator(mode="after")
    def _index_supports_mode(self) -> IndexRetriever:
        """``bm25``/``hybrid`` need the index's BM25 part: refused here, not on the first query."""
        if self.mode != "dense" and not self.index.manifest.get("bm25"):
            from agentdistill.tools.retrieval.lexical import LexicalError

            raise LexicalError(
                f"{self.index.path} has no BM25 index, needed by mode={self.mode!r}; rebuild it with --bm25 "
                "or use mode='dense'"
            )
        return self

    @classmethod
    def from_config(cls, config: RetrievalConfig, index: Index | None = None) -> IndexRetriever:
        """Open ``config.index`` (``demo`` builds the bundled demo index on first use) and wrap it."""
        if index is None:
            if config.index == "demo":
                from agentdistill.tools.retrieval.demo import demo_index

                index = demo_index()
            else:
                index = Index.load(config.index)
        index.configure(nprobe=config.nprobe, ef_search=config.ef_search)
        return cls(index=index, k=config.k, mode=config.mode, rrf_k=config.rrf_k)

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        k = int(kwargs.get("k", self.k))
        hits = self.index.search(query, k, mode=self.mode, rrf_k=self.rrf_k)
        return [hit_to_document(hit) for hit in hits]


def hit_to_document(hit: SearchHit) -> Document:
    """A search hit as a LangChain document (text as content, the rest as metadata)."""
    p = hit.passage
    return Document(
        page_content=p.text,
        id=p.id,
        metadata={"id": p.id, "title": p.title, "score": hit.score, "rank": hit.rank, "row": hit.row},
    )
