"""`agentdistill index build|search|info`: thin wiring over :mod:`agentdistill.tools.retrieval.index`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from agentdistill.cli_options import ConfigFlags, set_option
from agentdistill.tools.retrieval.config import IndexConfig, RetrievalConfig

index_app = typer.Typer(help="Build, inspect and query retrieval indexes.", no_args_is_help=True)


# flag -> IndexConfig field; every other field is reachable with --set
INDEX_FLAGS = ConfigFlags(
    IndexConfig,
    {
        "index_type": "index_type",
        "embedder": "embedder.model",
        "query_prefix": "embedder.query_prefix",
        "passage_prefix": "embedder.passage_prefix",
        "batch_size": "embedder.batch_size",
        "device": "embedder.device",
        "chunk_words": "chunk.words",
        "chunk_overlap": "chunk.overlap",
        "shard_size": "shard_size",
        "nlist": "nlist",
        "pq_m": "pq_m",
        "bm25": "bm25",
    },
)


_opt = INDEX_FLAGS.option


@index_app.command("build")
def build(
    corpus: Annotated[
        list[Path], typer.Argument(help="Corpus files or directories (jsonl, HotpotQA, json, text).")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Index directory to create (or resume).")],
    embedder: Annotated[str | None, _opt("embedder", "--embedder")] = None,
    index_type: Annotated[str | None, _opt("index_type")] = None,
    corpus_format: Annotated[
        str, typer.Option("--format", help="auto, jsonl, hotpotqa, json or text (for all corpora).")
    ] = "auto",
    query_prefix: Annotated[str | None, _opt("query_prefix")] = None,
    passage_prefix: Annotated[str | None, _opt("passage_prefix")] = None,
    batch_size: Annotated[int | None, _opt("batch_size")] = None,
    device: Annotated[str | None, _opt("device")] = None,
    chunk_words: Annotated[int | None, _opt("chunk_words")] = None,
    chunk_overlap: Annotated[int | None, _opt("chunk_overlap")] = None,
    shard_size: Annotated[int | None, _opt("shard_size")] = None,
    nlist: Annotated[int | None, _opt("nlist")] = None,
    pq_m: Annotated[int | None, _opt("pq_m")] = None,
    bm25: Annotated[bool, _opt("bm25", "--bm25")] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace a different index at --out.")
    ] = False,
    config: Annotated[
        Path | None, typer.Option(help="YAML IndexConfig; options given on the command line win.")
    ] = None,
    set_: Annotated[list[str] | None, set_option()] = None,
) -> None:
    """Embed corpora into an index directory; rerunning an interrupted build resumes it."""
    from agentdistill.tools.retrieval.index import build_index, read_manifest

    cfg = INDEX_FLAGS.load(config, {**locals(), "bm25": bm25 or None}, set_)
    path = build_index(corpus, out, cfg, fmt=corpus_format, progress=True, overwrite=overwrite)
    manifest = read_manifest(path)
    typer.echo(f"{path}: {manifest['count']} passages, {manifest['index_type']}, dim {manifest['dim']}")


# flag -> RetrievalConfig field (the agent's web_search settings, so a search here shows what it would see)
SEARCH_FLAGS = ConfigFlags(
    RetrievalConfig, {"k": "k", "mode": "mode", "max_chars": "max_chars", "nprobe": "nprobe"}
)
_search = SEARCH_FLAGS.option


@index_app.command("search")
def search(
    index_dir: Annotated[Path, typer.Argument(help="An index directory.")],
    query: Annotated[str, typer.Argument(help="What to search for.")],
    k: Annotated[int | None, _search("k", "-k")] = None,
    mode: Annotated[str | None, _search("mode")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per hit.")] = False,
    max_chars: Annotated[int | None, _search("max_chars")] = None,
    nprobe: Annotated[int | None, _search("nprobe")] = None,
    config: Annotated[Path | None, typer.Option(help="YAML RetrievalConfig; flags override it.")] = None,
    set_: Annotated[list[str] | None, set_option()] = None,
) -> None:
    """Print the top-k passages for a query, as the agent's ``web_search`` would retrieve them."""
    from agentdistill.tools.retrieval.retriever import IndexRetriever

    cfg = SEARCH_FLAGS.load(config, locals(), set_)
    cfg.index = str(index_dir)
    retriever = IndexRetriever.from_config(cfg)
    for hit in retriever.index.search(query, cfg.k, mode=cfg.mode, rrf_k=cfg.rrf_k):
        p = hit.passage
        if as_json:
            row = {"rank": hit.rank, "score": hit.score, "id": p.id, "title": p.title, "text": p.text}
            typer.echo(json.dumps(row, ensure_ascii=False))
        else:
            shown = cfg.max_chars
            text = p.text if shown is None or len(p.text) <= shown else p.text[:shown] + " ..."
            typer.echo(f"{hit.rank}. [{hit.score:.3f}] {p.title} ({p.id})\n   {text}")


@index_app.command("info")
def info(index_dir: Annotated[Path, typer.Argument(help="An index directory.")]) -> None:
    """Print an index's manifest (embedder, dimension, count, fingerprint, metric, type)."""
    from agentdistill.tools.retrieval.index import read_manifest

    typer.echo(json.dumps(read_manifest(index_dir), indent=2))
