"""The LangChain retriever, the ``web_search`` tool (formatting, k, per-episode cache) and the demo index."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.tools import BaseTool

from agentdistill.tools.retrieval.config import RetrievalConfig
from agentdistill.tools.retrieval.index import Index
from agentdistill.tools.retrieval.retriever import IndexRetriever
from agentdistill.tools.web_search import WebSearchTool, format_documents, make_web_search


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Index:
    """The bundled demo index, built with the default embedder into a private cache."""
    from agentdistill.tools.retrieval import demo as demo_module

    cache = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AGENTDISTILL_CACHE", str(cache))
        index = demo_module.demo_index()
        assert index.path.is_relative_to(cache / "indexes")
        calls: list[object] = []
        mp.setattr("agentdistill.tools.retrieval.index._embed_shards", lambda *a, **k: calls.append(a))
        again = demo_module.demo_index()  # second use: loaded from the cache, nothing embedded
        assert calls == [] and again.path == index.path
        assert len(again) == len(index) == 443
    return index


class KeywordRetriever(BaseRetriever):
    """A user's own retriever: documents whose text contains a query word; counts its calls."""

    docs: list[Document]
    calls: int = 0

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        self.calls += 1
        words = query.lower().split()
        return [d for d in self.docs if any(w in d.page_content.lower() for w in words)]


DOCS = [
    Document(page_content="Paris is the capital of France.", metadata={"title": "Paris"}),
    Document(page_content="Lyon is a city in France.", metadata={"title": "Lyon"}),
    Document(page_content="Rome is the capital of Italy.", metadata={"title": "Rome"}),
]


def test_demo_questions_answerable_from_bundled_corpus() -> None:
    from agentdistill.tools.retrieval.corpus import read_source
    from agentdistill.tools.retrieval.demo import demo_corpus_path, demo_questions

    questions = list(demo_questions())
    titles = {p.title for p in read_source(demo_corpus_path())}
    assert len(questions) == 40 and len(titles) == 400
    for q in questions:
        assert q["question"] and q["answer"]
        assert set(q["supporting_titles"]) <= titles


def test_demo_index_finds_supporting_paragraphs(demo: Index) -> None:
    from agentdistill.tools.retrieval.demo import demo_questions

    questions = list(demo_questions())
    results = demo.search_batch([q["question"] for q in questions], k=5)
    found = [
        len(set(q["supporting_titles"]) & {h.passage.title for h in hits}) / len(q["supporting_titles"])
        for q, hits in zip(questions, results, strict=True)
    ]
    # Measured 0.800 with the packaged MiniLM (bm25 0.763, hybrid 0.788); a broken embedder or index gives ~0.
    assert sum(found) / len(found) >= 0.75


def test_index_retriever_returns_documents(demo: Index) -> None:
    retriever = IndexRetriever(index=demo, k=3)
    assert isinstance(retriever, BaseRetriever)
    docs = retriever.invoke("Tinted Windows debut album supergroup")
    assert len(docs) == 3
    assert docs[0].metadata["title"].startswith("Tinted Windows")
    assert [d.metadata["rank"] for d in docs] == [1, 2, 3]
    scores = [d.metadata["score"] for d in docs]
    assert scores == sorted(scores, reverse=True)
    assert docs[0].id == docs[0].metadata["id"]
    assert len(retriever.invoke("Tinted Windows", k=1)) == 1


def test_retriever_from_config_hybrid(demo: Index) -> None:
    config = RetrievalConfig(index=str(demo.path), k=2, mode="hybrid")
    retriever = IndexRetriever.from_config(config)
    docs = retriever.invoke("Tinted Windows band")
    assert len(docs) == 2 and all(d.metadata["title"].startswith("Tinted Windows") for d in docs)


def test_index_retriever_refuses_bad_settings_when_built_and_finds_nothing_quietly(
    demo: Index, tmp_path: Path
) -> None:
    from pydantic import ValidationError

    from agentdistill.tools.retrieval.config import EmbedderConfig, IndexConfig
    from agentdistill.tools.retrieval.index import build_index
    from agentdistill.tools.retrieval.lexical import LexicalError

    from .conftest import SMALL_CORPUS, write_jsonl

    for bad in ({"k": 0}, {"mode": "sparse"}, {"rrf_k": 0}):
        with pytest.raises(ValidationError, match=next(iter(bad))):
            IndexRetriever(index=demo, **bad)
    corpus = write_jsonl(tmp_path / "small.jsonl", SMALL_CORPUS)
    plain = Index.load(
        build_index([corpus], tmp_path / "plain", IndexConfig(embedder=EmbedderConfig(model="hash:64")))
    )
    with pytest.raises(LexicalError, match="--bm25"):
        IndexRetriever(index=plain, mode="hybrid")
    retriever = IndexRetriever(index=demo, k=3, mode="bm25")
    assert retriever.invoke("the of and") == []  # stopwords only: no hits, no pyarrow error
    assert make_web_search(retriever).invoke({"query": "Zxqvbnm"}) == "No documents found."


def test_retrieval_config_demo_uses_the_cached_demo_index(
    demo: Index, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTDISTILL_CACHE", str(demo.path.parent.parent))
    monkeypatch.setattr(
        "agentdistill.tools.retrieval.index._embed_shards", lambda *a, **k: pytest.fail("rebuilt")
    )
    retriever = IndexRetriever.from_config(RetrievalConfig(index="demo", k=2))
    assert retriever.index.path == demo.path
    assert len(retriever.invoke("Tinted Windows")) == 2


def test_web_search_tool_over_index(demo: Index) -> None:
    tool = make_web_search(IndexRetriever(index=demo), k=2)
    assert isinstance(tool, BaseTool)
    assert tool.name == "web_search"
    assert set(tool.args) == {"query"}
    out = tool.invoke({"query": "Tinted Windows debut album"})
    assert out.startswith("Document 1 (Title: Tinted Windows")
    assert "Document 2 (Title: " in out and "Document 3" not in out


def test_web_search_from_config(demo: Index) -> None:
    config = RetrievalConfig(index=str(demo.path), k=1, max_chars=40)
    tool = WebSearchTool.from_config(config)
    out = tool.invoke("Tinted Windows debut album")
    assert out.startswith("Document 1 (Title: Tinted Windows") and out.endswith(" ...")
    assert "Document 2" not in out and len(out.splitlines()[1]) <= 44


def test_web_search_calls_are_cached_per_episode() -> None:
    from agentdistill.tools.cache import EpisodeToolCache

    retriever = KeywordRetriever(docs=DOCS)
    tool = make_web_search(retriever, k=5)
    episode = EpisodeToolCache({"web_search": tool}).tools["web_search"]
    first = episode("capital")
    assert episode("capital") == first == episode(query="capital")  # positional or keyword: one call
    assert retriever.calls == 1 and episode.cache.hits == 2
    episode("Lyon")
    assert retriever.calls == 2
    episode2 = EpisodeToolCache({"web_search": tool}).tools["web_search"]
    assert episode2("capital") == first
    assert retriever.calls == 3 and episode2.cache.hits == 0  # a fresh episode retrieves again


def test_web_search_with_any_retriever_formats_k_and_truncates() -> None:
    tool = WebSearchTool(retriever=KeywordRetriever(docs=DOCS), k=2, max_chars=10)
    out = tool.invoke("France")
    assert out == "Document 1 (Title: Paris)\nParis is t ...\n\nDocument 2 (Title: Lyon)\nLyon is a ..."
    assert tool.invoke("Berlin") == "No documents found."
    assert tool.invoke("   ").startswith("Error:")


def test_format_documents_without_titles() -> None:
    assert format_documents([Document(page_content="x")]) == "Document 1 (Title: Document 1)\nx"


def test_demo_dir_keyed_by_embedder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from agentdistill.tools.retrieval.config import EmbedderConfig
    from agentdistill.tools.retrieval.demo import demo_index_dir

    monkeypatch.setenv("AGENTDISTILL_CACHE", str(tmp_path))
    default, other = demo_index_dir(), demo_index_dir(EmbedderConfig(model="hash:64"))
    assert default.parent == other.parent == tmp_path / "indexes" and default != other
