"""Corpus readers: formats, streaming, deduplication, chunking, and errors that name file and line."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest

from agentdistill.tools.retrieval.config import ChunkConfig
from agentdistill.tools.retrieval.corpus import (
    CorpusError,
    Passage,
    chunk,
    detect_format,
    fingerprint,
    iter_corpus,
    read_source,
)

from .conftest import SMALL_CORPUS, write_jsonl


def test_jsonl_reader_streams_passages(small_corpus: Path) -> None:
    stream = read_source(small_corpus)
    assert inspect.isgenerator(stream)
    first = next(stream)
    assert first == Passage(id="p1", title="Paris", text=SMALL_CORPUS[0]["text"])
    assert len(list(stream)) == len(SMALL_CORPUS) - 1


def test_jsonl_defaults_and_flashrag_contents(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "c.jsonl", [{"text": "no id or title"}, {"id": 7, "contents": '"Title X"\nBody.'}]
    )
    assert list(read_source(path)) == [
        Passage(id="c:1", title="", text="no id or title"),
        Passage(id="7", title="Title X", text="Body."),
    ]


def test_malformed_jsonl_row_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "corpus.jsonl"
    path.write_text('{"id": "a", "text": "ok"}\n\n{"id": "b", "text": broken}\n', encoding="utf-8")
    with pytest.raises(CorpusError, match=r"corpus\.jsonl:3: invalid JSON"):
        list(read_source(path))


def test_missing_text_field_names_file_and_line(tmp_path: Path) -> None:
    rows = [{"id": str(i), "text": f"passage {i}"} for i in range(16)] + [{"id": "x", "title": "no text"}]
    path = write_jsonl(tmp_path / "corpus.jsonl", rows)
    with pytest.raises(CorpusError, match=r"corpus\.jsonl:17: missing field 'text'"):
        list(read_source(path))


def test_non_string_text_and_non_object_rows(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "c.jsonl", [{"text": 3}])
    with pytest.raises(CorpusError, match=r"c\.jsonl:1: field 'text' must be a string"):
        list(read_source(path))
    path.write_text('["a list"]\n', encoding="utf-8")
    with pytest.raises(CorpusError, match=r"c\.jsonl:1: expected a JSON object"):
        list(read_source(path))


def _hotpot_row(qid: str, titles: list[str]) -> dict:
    return {
        "id": qid,
        "question": "q?",
        "answer": "a",
        "context": {"title": titles, "sentences": [[f"{t} is a thing.", f" More on {t}."] for t in titles]},
        "supporting_facts": {"title": titles[:1], "sent_id": [0]},
    }


def test_hotpotqa_paragraphs_deduplicated_by_title_across_files(tmp_path: Path) -> None:
    a = write_jsonl(tmp_path / "a.jsonl", [_hotpot_row("1", ["A", "B"]), _hotpot_row("2", ["B", "C"])])
    b = write_jsonl(tmp_path / "b.jsonl", [_hotpot_row("3", ["C", "D"])])
    assert detect_format(a) == "hotpotqa"
    passages = list(iter_corpus([a, b]))
    assert [p.title for p in passages] == ["A", "B", "C", "D"]
    assert passages[0] == Passage(id="A", title="A", text="A is a thing. More on A.")


def test_hotpotqa_official_json_shape(tmp_path: Path) -> None:
    rows = [{"_id": "1", "question": "q", "context": [["T1", ["s1.", " s2."]], ["T2", ["x."]]]}]
    path = tmp_path / "hotpot_dev.json"
    path.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    assert detect_format(path) == "hotpotqa"
    assert [(p.title, p.text) for p in read_source(path)] == [("T1", "s1. s2."), ("T2", "x.")]


def test_json_list_streamed_with_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "corpus.json"
    path.write_text(
        '[\n  {"title": "A", "text": "alpha"},\n  {"title": "B", "text": "beta"},\n  {"title": "C"}\n]\n',
        encoding="utf-8",
    )
    assert detect_format(path) == "json"
    stream = read_source(path)
    assert inspect.isgenerator(stream)
    assert next(stream) == Passage(id="corpus:2", title="A", text="alpha")
    assert next(stream).title == "B"
    with pytest.raises(CorpusError, match=r"corpus\.json:4: missing field 'text'"):
        next(stream)


def test_json_parser_handles_values_across_read_blocks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agentdistill.tools.retrieval import corpus

    monkeypatch.setattr(corpus, "_READ_CHARS", 7)  # every value straddles several reads
    rows = [{"title": f"T{i}", "text": "word " * (i + 3), "n": 12345 + i} for i in range(20)]
    path = tmp_path / "c.json"
    path.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    titles = [p.title for p in read_source(path)]
    assert titles == [f"T{i}" for i in range(20)]


def test_json_mapping_of_title_to_sentences(tmp_path: Path) -> None:
    path = tmp_path / "corpus.json"
    path.write_text(json.dumps({"A": ["One.", " Two."], "B": "Text."}), encoding="utf-8")
    assert list(read_source(path)) == [Passage("A", "A", "One. Two."), Passage("B", "B", "Text.")]


def test_malformed_json_list_names_line(tmp_path: Path) -> None:
    path = tmp_path / "corpus.json"
    path.write_text('[\n {"title": "A", "text": "a"},\n {"title": "B" "text": "b"}\n]', encoding="utf-8")
    with pytest.raises(CorpusError, match=r"corpus\.json:3: invalid JSON"):
        list(read_source(path))


def test_real_hipporag_corpora_read(shared_data: Path) -> None:
    wiki = list(read_source(shared_data / "wiki_corpus" / "hipporag_2wikimultihopqa_corpus.json"))
    assert len(wiki) == 6119 and wiki[0].title == "Teutberga"
    mapping = list(read_source(shared_data / "hotpotqa" / "hipporag_v1_train_corpus.json"))
    assert len(mapping) == 994 and mapping[0].title == "Demon Dice"


def test_text_directory(tmp_path: Path) -> None:
    (tmp_path / "docs" / "sub").mkdir(parents=True)
    (tmp_path / "docs" / "b_note.txt").write_text("Bee text.", encoding="utf-8")
    (tmp_path / "docs" / "sub" / "a.md").write_text("Ay text.", encoding="utf-8")
    (tmp_path / "docs" / "empty.txt").write_text("  ", encoding="utf-8")
    (tmp_path / "docs" / "image.png").write_bytes(b"\x89PNG")
    assert list(read_source(tmp_path / "docs")) == [
        Passage("b_note.txt", "b note", "Bee text."),
        Passage("sub/a.md", "a", "Ay text."),
    ]


def test_chunking_windows_overlap_and_cover_all_words() -> None:
    words = [f"w{i}" for i in range(25)]
    pieces = list(chunk(Passage("d", "Doc", " ".join(words)), ChunkConfig(words=10, overlap=3)))
    assert [p.id for p in pieces] == ["d#0", "d#1", "d#2", "d#3"]
    assert pieces[0].text.split() == words[0:10]
    assert pieces[1].text.split()[:3] == words[7:10]  # the overlap
    assert pieces[-1].text.split()[-1] == "w24"
    assert all(p.title == "Doc" for p in pieces)
    short = Passage("s", "S", "just five words here ok")
    assert list(chunk(short, ChunkConfig(words=10, overlap=3))) == [short]


def test_bad_chunking_rejected(small_corpus: Path) -> None:
    with pytest.raises(CorpusError, match="overlap < words"):
        list(iter_corpus([small_corpus], chunking=ChunkConfig(words=5, overlap=5)))


def test_missing_source_and_unknown_suffix(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="no such file"):
        list(iter_corpus([tmp_path / "nope.jsonl"]))
    (tmp_path / "x.csv").write_text("a,b", encoding="utf-8")
    with pytest.raises(CorpusError, match="cannot tell the corpus format"):
        list(iter_corpus([tmp_path / "x.csv"]))


def test_fingerprint_tracks_content_and_options(small_corpus: Path, tmp_path: Path) -> None:
    base = fingerprint([small_corpus])
    assert fingerprint([small_corpus]) == base
    assert fingerprint([small_corpus], extra={"chunk": 1}) != base
    copy = tmp_path / "copy.jsonl"
    copy.write_bytes(small_corpus.read_bytes())
    assert fingerprint([copy]) == base  # content, not location
    copy.write_text(copy.read_text() + '{"text": "one more"}\n')
    assert fingerprint([copy]) != base
