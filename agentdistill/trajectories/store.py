"""A trajectory directory: JSONL shards written one episode per line, safe to kill at any moment.

Every run (and every resumed run) appends to a shard of its own (``part-00000.jsonl``, ...), writing
each finished episode as one line, flushed and fsynced. A kill can only cut the line being written; the
reader drops such a torn last line (and :meth:`TrajectoryStore.repair` truncates it away), so a resumed
run loses at most the episodes in flight and never duplicates one: it skips the ids already stored.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from agentdistill.errors import AgentDistillError
from agentdistill.schema import SchemaError, Trajectory

SHARD_GLOB = "part-*.jsonl"
_SHARD = re.compile(r"part-(\d+)\.jsonl$")


class TrajectoryDirError(AgentDistillError):
    """A path that is not a readable trajectory directory or file."""


def shard_paths(path: str | Path) -> list[Path]:
    """The JSONL files of a trajectory directory (or the file itself), in order."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise TrajectoryDirError(f"{path}: no such trajectory directory or JSONL file")
    shards = sorted(path.glob(SHARD_GLOB))
    return shards or sorted(p for p in path.glob("*.jsonl") if p.name != "manifest.jsonl")


def iter_trajectories(path: str | Path, *, strict: bool = True) -> Iterator[Trajectory]:
    """Stream every trajectory of a directory of shards or of one JSONL file.

    A torn final line (a run killed mid-write) is skipped; any other bad line raises a SchemaError with
    file and line, unless ``strict`` is False (then it is skipped too).
    """
    for shard in shard_paths(path):
        lines = shard.read_bytes().split(b"\n")
        for lineno, raw in enumerate(lines, 1):
            if not raw.strip():
                continue
            torn = lineno == len(lines)  # no newline after it: the writer was killed mid-line
            try:
                yield Trajectory.from_json(raw.decode("utf-8", "replace"), source=str(shard), line=lineno)
            except SchemaError:
                if torn or not strict:
                    continue
                raise


class TrajectoryStore:
    """Appends finished episodes to a new shard of ``directory`` and knows which ids are done."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.repair()
        self.done: set[str] = {t.id for t in iter_trajectories(self.directory, strict=False)}
        numbers = [int(m.group(1)) for p in self.directory.glob(SHARD_GLOB) if (m := _SHARD.search(p.name))]
        self.shard = self.directory / f"part-{max(numbers, default=-1) + 1:05d}.jsonl"
        self._file = None

    def repair(self) -> int:
        """Cut torn last lines off existing shards; returns how many were cut."""
        cut = 0
        for shard in self.directory.glob(SHARD_GLOB):
            data = shard.read_bytes()
            if data and not data.endswith(b"\n"):
                keep = data.rfind(b"\n") + 1
                with shard.open("r+b") as f:
                    f.truncate(keep)
                cut += 1
        return cut

    def append(self, trajectory: Trajectory) -> None:
        """Write one finished episode durably (one line, flushed and fsynced)."""
        if self._file is None:
            self._file = self.shard.open("ab")
        self._file.write((trajectory.to_json() + "\n").encode("utf-8"))
        self._file.flush()
        os.fsync(self._file.fileno())
        self.done.add(trajectory.id)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self.shard.exists() and self.shard.stat().st_size == 0:
            self.shard.unlink()

    def __enter__(self) -> TrajectoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_jsonl(path: str | Path, records: Iterable[dict]) -> int:
    """Write plain dict records as JSONL (exports); returns the count."""
    n = 0
    with Path(path).open("w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
            n += 1
    return n
