"""Reading JSONL files, with errors that name file and line (one reader for tasks, corpora and imports)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from agentdistill.errors import AgentDistillError


def iter_jsonl(path: str | Path, error: type[Exception] = AgentDistillError) -> Iterator[tuple[int, Any]]:
    """(line number, value) for each non-blank line; a bad line raises ``error`` with ``file:line``."""
    path = Path(path)
    if not path.is_file():
        raise error(f"{path}: no such file")
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield lineno, json.loads(line)
            except json.JSONDecodeError as e:
                raise error(f"{path}:{lineno}: invalid JSON ({e.msg} at column {e.colno})") from None


def iter_jsonl_objects(
    path: str | Path, error: type[Exception] = AgentDistillError
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Like :func:`iter_jsonl`, and every line must be a JSON object."""
    for lineno, row in iter_jsonl(path, error):
        if not isinstance(row, dict):
            raise error(f"{path}:{lineno}: expected a JSON object per line, got {type(row).__name__}")
        yield lineno, row
