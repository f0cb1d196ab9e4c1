"""`agentdistill index build|search|info`: thin wiring over :mod:`agentdistill.tools.index`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

index_app = typer.Typer(help="Build, inspect and query retrieval indexes.", no_args_is_help=True)


@index_app.command("build")
def build(
    corpus: Annotated[
        list[Path], typer.Argument(help="Corpus files or directories (jsonl, HotpotQA, json, text).")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Index directory to create (or resume).")],
    embedder: Annotated[
        str | None,
        typer.Option(
            help="'default' (packaged MiniLM), a model folder, a hub id, or hash:<dim>. [default: default]"
        ),
    ] = None,
    index_type: Annotated[
        str | None, typer.Option(help="flat, ivf_flat, ivf_pq or hnsw. [default: flat]")
    ] = None,
    corpus_format: Annotated[
        str, typer.Option("--format", help="auto, jsonl, hotpotqa, json or text (for all corpora).")
    ] = "auto",
    query_prefix: Annotated[
        str | None, typer.Option(help="Prepended to queries, e.g. 'query: ' for e5.")
    ] = None,
    passage_prefix: Annotated[
        str | None, typer.Option(help="Prepended to passages, e.g. 'passage: ' for e5.")
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option(help="Texts per embedding forward pass. [default: 64]")
    ] = None,
    device: Annotated[str | None, typer.Option(help="Torch device for the embedder.")] = None,
    chunk_words: Annotated[
        int | None, typer.Option(help="Words per passage window for long documents. [default: 160]")
    ] = None,
    chunk_overlap: Annotated[
        int | None, typer.Option(help="Words shared by consecutive windows. [default: 32]")
    ] = None,
    shard_size: Annotated[
        int | None, typer.Option(help="Passages per resumable shard. [default: 4096]")
    ] = None,
    nlist: Annotated[int | None, typer.Option(help="IVF lists. [default: about 4*sqrt(count)]")] = None,
    pq_m: Annotated[
        int | None,
        typer.Option(help="IVF-PQ sub-quantisers, must divide the dimension. [default: dimension/8]"),
    ] = None,
    bm25: Annotated[
        bool, typer.Option("--bm25", help="Also build a BM25 index for bm25/hybrid search.")
    ] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace a different index at --out.")
    ] = False,
    config: Annotated[
        Path | None, typer.Option(help="YAML IndexConfig; options given on the command line win.")
    ] = None,
) -> None:
    """Embed corpora into an index directory; rerunning an interrupted build resumes it."""
    from agentdistill.config import load_config
    from agentdistill.tools.config import IndexConfig
    from agentdistill.tools.index import build_index, read_manifest

    overrides = {
        "index_type": index_type,
        "embedder.model": embedder,
        "embedder.query_prefix": query_prefix,
        "embedder.passage_prefix": passage_prefix,
        "embedder.batch_size": batch_size,
        "embedder.device": device,
        "chunk.words": chunk_words,
        "chunk.overlap": chunk_overlap,
        "shard_size": shard_size,
        "nlist": nlist,
        "pq_m": pq_m,
        "bm25": bm25 or None,
    }
    cfg = load_config(IndexConfig, config, overrides)
    path = build_index(corpus, out, cfg, fmt=corpus_format, progress=True, overwrite=overwrite)
    manifest = read_manifest(path)
    typer.echo(f"{path}: {manifest['count']} passages, {manifest['index_type']}, dim {manifest['dim']}")


@index_app.command("search")
def search(
    index_dir: Annotated[Path, typer.Argument(help="An index directory.")],
    query: Annotated[str, typer.Argument(help="What to search for.")],
    k: Annotated[int, typer.Option("-k", help="Number of passages.")] = 5,
    mode: Annotated[str, typer.Option(help="dense, bm25 or hybrid.")] = "dense",
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per hit.")] = False,
    max_chars: Annotated[int, typer.Option(help="Characters of text shown per hit.")] = 300,
) -> None:
    """Print the top-k passages for a query."""
    from agentdistill.tools.index import Index

    index = Index.load(index_dir)
    for hit in index.search(query, k, mode=mode):
        p = hit.passage
        if as_json:
            row = {"rank": hit.rank, "score": hit.score, "id": p.id, "title": p.title, "text": p.text}
            typer.echo(json.dumps(row, ensure_ascii=False))
        else:
            text = p.text if len(p.text) <= max_chars else p.text[:max_chars] + " ..."
            typer.echo(f"{hit.rank}. [{hit.score:.3f}] {p.title} ({p.id})\n   {text}")


@index_app.command("info")
def info(index_dir: Annotated[Path, typer.Argument(help="An index directory.")]) -> None:
    """Print an index's manifest (embedder, dimension, count, fingerprint, metric, type)."""
    from agentdistill.tools.index import read_manifest

    typer.echo(json.dumps(read_manifest(index_dir), indent=2))
