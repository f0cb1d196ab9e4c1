"""Retrieval behind ``web_search``: corpora, sentence-transformers embedders, faiss (and BM25) indexes,
and the index as a langchain-core retriever. Built with ``agentdistill index build``."""
