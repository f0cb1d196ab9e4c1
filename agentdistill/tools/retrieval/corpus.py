"""Corpus readers: every format streams :class:`Passage` objects one at a time.

A Wikipedia-size corpus does not fit in a Python list, so readers are generators and JSON files are
parsed incrementally. Bad input names the file and line, so a user can fix row 17 instead of guessing.

Formats (:data:`CORPUS_FORMATS`; ``detect_format`` picks one from the file when not given):

- ``jsonl``: one ``{"id", "title", "text"}`` object per line (``id`` and ``title`` optional; FlashRAG's
  ``{"id", "contents"}`` with the title on the first line of ``contents`` also works).
- ``hotpotqa``: HotpotQA distractor questions (JSONL or the official JSON list), their context
  paragraphs deduplicated by title across all files of one corpus.
- ``json``: a JSON list of ``{"title", "text"}`` objects (HippoRAG), or an object mapping title to text
  or to a list of sentences.
- ``text``: a directory of ``.txt``/``.md`` files (or one such file); the title is the file name.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from agentdistill.errors import AgentDistillError
from agentdistill.jsonl import iter_jsonl
from agentdistill.registry import Registry
from agentdistill.tools.retrieval.config import ChunkConfig

TEXT_SUFFIXES = (".txt", ".md")
_READ_CHARS = 1 << 20


class CorpusError(AgentDistillError, ValueError):
    """A corpus file that cannot be read; the message starts with ``file:line:``."""


@dataclasses.dataclass(frozen=True)
class Passage:
    """One retrievable unit of text. ``id`` is unique within its source; chunks get ``#<n>`` suffixes."""

    id: str
    title: str
    text: str


def detect_format(path: Path) -> str:
    """Guess a source's format from its kind, suffix and first record."""
    if path.is_dir() or path.suffix in TEXT_SUFFIXES:
        return "text"
    if not path.exists():
        raise CorpusError(f"{path}: no such file or directory")
    if path.suffix == ".jsonl":
        for _, row in _iter_jsonl(path):
            return "hotpotqa" if isinstance(row, dict) and "context" in row else "jsonl"
        return "jsonl"
    if path.suffix == ".json":
        for _, key, value in _iter_json_container(path):
            return "hotpotqa" if key is None and isinstance(value, dict) and "context" in value else "json"
        return "json"
    raise CorpusError(f"{path}: cannot tell the corpus format from the suffix; pass a format explicitly")


def read_source(
    path: str | Path, fmt: str = "auto", *, seen_titles: set[str] | None = None
) -> Iterator[Passage]:
    """Stream the passages of one file or directory (before chunking)."""
    path = Path(path)
    if fmt != "auto" and fmt not in CORPUS_FORMATS:
        raise CorpusError(f"{path}: {CORPUS_FORMATS.unknown(fmt)} (or auto)")
    if fmt == "auto":
        fmt = detect_format(path)
    if not path.exists():
        raise CorpusError(f"{path}: no such file or directory")
    return CORPUS_FORMATS.get(fmt)(path, seen_titles=set() if seen_titles is None else seen_titles)


def read_jsonl(path: Path, **_: Any) -> Iterator[Passage]:
    """``{"id", "title", "text"}`` per line; ``id`` defaults to ``<file stem>:<line>``."""
    for lineno, row in _iter_jsonl(path):
        yield _passage_from_row(row, f"{path}:{lineno}", default_id=f"{path.stem}:{lineno}")


def read_hotpotqa(path: Path, *, seen_titles: set[str] | None = None) -> Iterator[Passage]:
    """The context paragraphs of HotpotQA questions; a title already seen is skipped (same paragraph)."""
    seen = set() if seen_titles is None else seen_titles
    rows: Iterable[tuple[int, Any]]
    if path.suffix == ".jsonl":
        rows = _iter_jsonl(path)
    else:
        rows = ((line, value) for line, key, value in _iter_json_container(path) if key is None)
    for lineno, row in rows:
        where = f"{path}:{lineno}"
        for title, sentences in _hotpot_context(row, where):
            if title in seen:
                continue
            seen.add(title)
            yield Passage(id=title, title=title, text="".join(sentences).strip())


def read_json(path: Path, **_: Any) -> Iterator[Passage]:
    """A JSON list of ``{"title", "text"}`` objects, or an object mapping title to text or sentences."""
    for lineno, key, value in _iter_json_container(path):
        where = f"{path}:{lineno}"
        if key is None:
            yield _passage_from_row(value, where, default_id=f"{path.stem}:{lineno}")
            continue
        if isinstance(value, list) and all(isinstance(s, str) for s in value):
            value = "".join(value)
        if not isinstance(value, str):
            raise CorpusError(f"{where}: value of {key!r} must be text or a list of sentences")
        yield Passage(id=key, title=key, text=value.strip())


def read_text(path: Path, **_: Any) -> Iterator[Passage]:
    """Each ``.txt``/``.md`` file under ``path`` (sorted, recursive) is one document titled by its name."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.suffix in TEXT_SUFFIXES)
    for file in files:
        try:
            text = file.read_text(encoding="utf-8").strip()
        except UnicodeDecodeError as e:
            raise CorpusError(f"{file}:1: not UTF-8 text ({e.reason})") from None
        if not text:
            continue
        rel = file.name if path.is_file() else file.relative_to(path).as_posix()
        yield Passage(id=rel, title=file.stem.replace("_", " "), text=text)


CorpusReader = Callable[..., Iterator[Passage]]
"""``reader(path, *, seen_titles) -> passages`` (``seen_titles``: titles already read from the corpus's other
files, for formats whose passages recur across files)."""

CORPUS_FORMATS: Registry[CorpusReader] = Registry(
    "corpus format",
    {"jsonl": read_jsonl, "hotpotqa": read_hotpotqa, "json": read_json, "text": read_text},
    error=CorpusError,
)
"""Corpus format -> reader; ``auto`` picks one with :func:`detect_format`. Add a format with
``CORPUS_FORMATS.register("mine", my_reader)``."""


def chunk(passage: Passage, config: ChunkConfig) -> Iterator[Passage]:
    """Cut a long passage into word windows of ``config.words`` overlapping by ``config.overlap``."""
    words = passage.text.split()
    if len(words) <= config.words:
        yield passage
        return
    step = config.words - config.overlap
    for n, start in enumerate(range(0, len(words), step)):
        window = words[start : start + config.words]
        yield Passage(id=f"{passage.id}#{n}", title=passage.title, text=" ".join(window))
        if start + config.words >= len(words):
            return


def validate_chunking(config: ChunkConfig) -> None:
    """Reject windows that cannot advance."""
    if config.words < 1 or not 0 <= config.overlap < config.words:
        raise CorpusError(f"chunking: need words >= 1 and 0 <= overlap < words, got {config}")


def iter_corpus(
    sources: Sequence[str | Path], fmt: str = "auto", chunking: ChunkConfig | None = None
) -> Iterator[Passage]:
    """All passages of ``sources`` in order, chunked; HotpotQA titles are deduplicated across sources."""
    chunking = chunking or ChunkConfig()
    validate_chunking(chunking)
    seen_titles: set[str] = set()
    for source in sources:
        for passage in read_source(source, fmt, seen_titles=seen_titles):
            if not passage.text:
                continue
            yield from chunk(passage, chunking)


def fingerprint(sources: Sequence[str | Path], fmt: str = "auto", extra: dict[str, Any] | None = None) -> str:
    """A sha256 of the sources' bytes (and file names inside directories), the format and ``extra``.

    It identifies the corpus without reading passages, so a resumed or repeated build can tell whether
    its inputs changed, and caches can be keyed by it.
    """
    h = hashlib.sha256()
    h.update(json.dumps({"format": fmt, "extra": extra or {}}, sort_keys=True).encode())
    for source in sources:
        path = Path(source)
        if not path.exists():
            raise CorpusError(f"{path}: no such file or directory")
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        h.update(b"\0source\0")
        for file in files:
            if path.is_dir():
                h.update(file.relative_to(path).as_posix().encode() + b"\0")
            with file.open("rb") as f:
                while block := f.read(_READ_CHARS):
                    h.update(block)
    return h.hexdigest()


# ----------------------------------------------------------------------------- parsing helpers


def _passage_from_row(row: Any, where: str, *, default_id: str) -> Passage:
    if not isinstance(row, dict):
        raise CorpusError(f"{where}: expected a JSON object, got {type(row).__name__}")
    title = row.get("title", "")
    text = row.get("text")
    if text is None and isinstance(row.get("contents"), str):
        first, _, rest = row["contents"].partition("\n")
        title, text = title or first.strip().strip('"'), rest
    if text is None:
        raise CorpusError(f"{where}: missing field 'text'")
    if not isinstance(text, str):
        raise CorpusError(f"{where}: field 'text' must be a string, got {type(text).__name__}")
    if not isinstance(title, str):
        raise CorpusError(f"{where}: field 'title' must be a string, got {type(title).__name__}")
    pid = row.get("id", default_id)
    return Passage(id=str(pid), title=title.strip(), text=text.strip())


def _hotpot_context(row: Any, where: str) -> Iterator[tuple[str, list[str]]]:
    """(title, sentences) pairs from either context shape: RPT's columns or the official pairs."""
    if not isinstance(row, dict) or "context" not in row:
        raise CorpusError(f"{where}: missing field 'context' (not a HotpotQA question)")
    context = row["context"]
    if isinstance(context, dict) and "title" in context and "sentences" in context:
        pairs = zip(context["title"], context["sentences"], strict=False)
    elif isinstance(context, list):
        pairs = (tuple(pair) for pair in context)  # type: ignore[assignment]
    else:
        raise CorpusError(f"{where}: field 'context' has an unknown shape")
    for pair in pairs:
        if len(pair) != 2 or not isinstance(pair[0], str) or not isinstance(pair[1], list):
            raise CorpusError(f"{where}: context entries must be [title, [sentences]]")
        yield pair[0], pair[1]


def _iter_jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, value) for each non-blank line."""
    return iter_jsonl(path, CorpusError)


def _iter_json_container(path: Path) -> Iterator[tuple[int, str | None, Any]]:
    """Stream a top-level JSON array or object: (line, key or None, value) per element.

    Only one element is held in memory at a time, so a multi-GB corpus file never becomes one list.
    """
    decoder = json.JSONDecoder()
    with path.open(encoding="utf-8") as f:
        reader = _Buffer(f, path)
        opener = reader.next_char()
        if opener not in "[{":
            raise reader.error("expected a JSON list or object at the top level")
        closer = "]" if opener == "[" else "}"
        reader.pos += 1
        if reader.next_char() == closer:
            return
        while True:
            key = None
            reader.next_char()
            if opener == "{":
                key = reader.decode(decoder)
                if not isinstance(key, str):
                    raise reader.error("expected a string key")
                if reader.next_char() != ":":
                    raise reader.error("expected ':' after the key")
                reader.pos += 1
            reader.next_char()
            line = reader.line_at()
            yield line, key, reader.decode(decoder)
            sep = reader.next_char()
            reader.pos += 1
            if sep == closer:
                return
            if sep != ",":
                raise reader.error(f"expected ',' or {closer!r}", back=1)


class _Buffer:
    """A growing text window over a file, with line numbers for error messages."""

    def __init__(self, f: Any, path: Path) -> None:
        self.f, self.path = f, path
        self.buf, self.pos, self.lines_before = "", 0, 1
        self.eof = False

    def _more(self) -> bool:
        if self.eof:
            return False
        block = self.f.read(_READ_CHARS)
        if not block:
            self.eof = True
            return False
        # Drop what has been consumed, keeping the line count.
        self.lines_before += self.buf.count("\n", 0, self.pos)
        self.buf, self.pos = self.buf[self.pos :] + block, 0
        return True

    def next_char(self) -> str:
        """Skip whitespace; the next character (``""`` at end of file)."""
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in " \t\r\n":
                self.pos += 1
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self._more():
                return ""

    def decode(self, decoder: json.JSONDecoder) -> Any:
        while True:
            try:
                value, end = decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as e:
                if self._more():  # maybe just cut off at the end of the window
                    continue
                raise CorpusError(
                    f"{self.path}:{self.lines_before + self.buf.count(chr(10), 0, e.pos)}: invalid JSON ({e.msg})"
                ) from None
            if end >= len(self.buf) and not self.eof and self._more():
                continue  # a number may continue in the next block
            self.pos = end
            return value

    def line_at(self) -> int:
        return self.lines_before + self.buf.count("\n", 0, self.pos)

    def error(self, what: str, back: int = 0) -> CorpusError:
        self.pos -= back
        return CorpusError(f"{self.path}:{self.line_at()}: invalid JSON ({what})")
