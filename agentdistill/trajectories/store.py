"""What a trajectory directory is, and the one reader and the one writer of it.

**Layout.** A trajectory directory holds JSONL shards (``part-00000.jsonl``, ...) and a ``manifest.json``;
every run (and every resumed run) appends to a shard of its own. An evaluation folder holds one
``predictions.jsonl`` instead. Everything else reads through :func:`shard_paths`: a JSONL file is itself; a
directory with shards is its shards; one with other ``*.jsonl`` files (an eval folder) is those; a folder
of such directories is all of them; a pipeline run folder is refused with the stage folder to use
(``filtered/`` for training data, ``trajectories/`` for every episode), so training never picks up
evaluation predictions by accident.

**Reading.** A kill can only cut the line being written; readers skip such a torn last line (they never
modify a file, so they cannot cut a live writer's record). A record may be stored more than once (a
failed episode retried, a compaction interrupted): readers take the newest record per id (id =
``<task id>#<sample>``).

**Writing.** :class:`TrajectoryStore` is the only writer: it holds the directory's lock (one writer, a
clear error naming the other), cuts torn lines, appends each finished episode as one fsynced line, and
compacts (rewrites only the records to keep) when a rerun replaces results of other settings.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from agentdistill.errors import AgentDistillError
from agentdistill.locking import DirectoryLock
from agentdistill.schema import SchemaError, Trajectory

SHARD_GLOB = "part-*.jsonl"
_SHARD = re.compile(r"part-(\d+)\.jsonl$")
_LEADING_ID = re.compile(r'^\{"schema": "[^"\\]*", "id": ("(?:[^"\\]|\\.)*")')
NOT_RECORDS = {"manifest.jsonl", "judgements.jsonl"}
"""JSONL files in a run folder that are not trajectory records."""


class TrajectoryDirError(AgentDistillError):
    """A path that is not a readable trajectory directory or file."""


class StaleResultsError(AgentDistillError):
    """A folder holding records made with other settings, rerun without permission to replace them."""


def _shard_number(path: Path) -> int:
    m = _SHARD.search(path.name)
    return int(m.group(1)) if m else -1


def is_pipeline_run(path: Path) -> bool:
    """A ``agentdistill pipeline`` run folder (stage markers and the stage folders inside)."""
    return (path / "stages").is_dir() or (path / "pipeline.json").is_file()


def shard_paths(path: str | Path) -> list[Path]:
    """The JSONL files holding a trajectory set, in reading order (see the module docstring)."""
    path = Path(path).expanduser()
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise TrajectoryDirError(f"{path}: no such trajectory directory or JSONL file")
    if shards := sorted(path.glob(SHARD_GLOB), key=_shard_number):
        return shards
    if files := sorted(p for p in path.glob("*.jsonl") if p.name not in NOT_RECORDS):
        return files
    if is_pipeline_run(path):
        stages = [f"{path / d}" for d in ("filtered", "trajectories") if (path / d).is_dir()]
        raise TrajectoryDirError(
            f"{path} is a pipeline run folder, not a trajectory set; use one of its stage folders "
            f"({', '.join(stages) or 'filtered/, trajectories/'}): filtered/ holds the training data"
        )
    nested = [p for p in sorted(path.iterdir()) if p.is_dir() and not p.name.startswith(".")]
    found: list[Path] = []
    for sub in nested:
        try:
            found += shard_paths(sub)
        except TrajectoryDirError:
            continue
    if not found:
        raise TrajectoryDirError(f"{path}: no trajectory records (no part-*.jsonl or *.jsonl files)")
    return found


@dataclasses.dataclass(frozen=True)
class _Line:
    shard: Path
    lineno: int
    text: str
    torn: bool


@dataclasses.dataclass(frozen=True)
class StoredRecord:
    """What a writer needs to know about a stored record to decide whether it is done."""

    id: str
    fingerprint: str | None
    status: str
    failure: str | None


_NO_RECORD = StoredRecord("", None, "", None)


def _summary(text: str) -> StoredRecord | None:
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict) or "id" not in data:
        return None
    return StoredRecord(
        str(data["id"]), data.get("fingerprint"), str(data.get("status", "ok")), data.get("failure")
    )


def _iter_lines(shard: Path) -> Iterator[_Line]:
    data = shard.read_bytes()
    lines = data.split(b"\n")
    for lineno, raw in enumerate(lines, 1):
        if raw.strip():
            # no newline after the last line: its writer was killed mid-line
            yield _Line(shard, lineno, raw.decode("utf-8", "replace"), torn=lineno == len(lines))


def _record_id(text: str) -> str | None:
    """The record's top-level id, without parsing the whole record when the writer was ours."""
    if m := _LEADING_ID.match(text):
        return str(json.loads(m.group(1)))
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return None
    return str(data["id"]) if isinstance(data, dict) and "id" in data else None


def _newest_positions(shards: list[Path]) -> dict[tuple[Path, int], str]:
    """(shard, line) of the newest record of each id *within its directory* (one trajectory set; sibling
    sets read through a parent folder keep their own records); a torn line counts only if it parses."""
    newest: dict[tuple[Path, str], tuple[Path, int]] = {}
    for shard in shards:
        for line in _iter_lines(shard):
            rid = (_summary(line.text) or _NO_RECORD).id if line.torn else _record_id(line.text)
            if rid:
                newest[(shard.parent, rid)] = (shard, line.lineno)
    return {pos: key[1] for key, pos in newest.items()}


def iter_records(path: str | Path) -> Iterator[tuple[Trajectory | None, str, SchemaError | None]]:
    """(trajectory, where, None) for each newest record, or (None, where, error) for a bad line that is
    not a torn last line: for readers that count invalid records instead of stopping at the first."""
    shards = shard_paths(path)
    keep = _newest_positions(shards)
    for shard in shards:
        for line in _iter_lines(shard):
            if (shard, line.lineno) not in keep and _record_id(line.text) is not None:
                continue  # superseded by a newer record of the same id
            where = f"{shard}:{line.lineno}"
            try:
                yield Trajectory.from_json(line.text, source=str(shard), line=line.lineno), where, None
            except SchemaError as e:
                if not line.torn:
                    yield None, where, e


def iter_trajectories(path: str | Path, *, strict: bool = True, latest: bool = True) -> Iterator[Trajectory]:
    """Stream the trajectories of a directory or file: the newest record per id (``latest=False``: every
    record as stored). A torn last line is skipped; any other bad line raises a SchemaError with file and
    line, unless ``strict`` is False (then it is skipped too)."""
    if latest:
        for trajectory, _, error in iter_records(path):
            if error is not None:
                if strict:
                    raise error
                continue
            yield trajectory  # type: ignore[misc]
        return
    for shard in shard_paths(path):
        for line in _iter_lines(shard):
            try:
                yield Trajectory.from_json(line.text, source=str(shard), line=line.lineno)
            except SchemaError:
                if line.torn or not strict:
                    continue
                raise


class TrajectoryStore:
    """The only writer of a trajectory directory (or of one ``file`` in it, e.g. ``predictions.jsonl``).

    Opening it takes the directory's lock and cuts torn last lines; ``records`` then maps each id to its
    newest stored record. ``append`` writes one episode durably; ``compact(keep)`` rewrites the directory
    with only the newest records ``keep`` accepts.
    """

    def __init__(self, directory: str | Path, *, file: str | None = None, purpose: str = "write") -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = DirectoryLock(self.directory, purpose).acquire()
        self.file = file
        self._file: Any = None
        try:
            self.repair()
            self.records: dict[str, StoredRecord] = self._read_records()
        except BaseException:
            self._lock.release()
            raise
        self.shard = self._next_shard()

    # -- reading ---------------------------------------------------------------------------------

    def _files(self) -> list[Path]:
        if self.file is not None:
            path = self.directory / self.file
            return [path] if path.exists() else []
        return sorted(self.directory.glob(SHARD_GLOB), key=_shard_number)

    def _read_records(self) -> dict[str, StoredRecord]:
        records: dict[str, StoredRecord] = {}
        for shard in self._files():
            for line in _iter_lines(shard):
                if (rec := _summary(line.text)) is not None:
                    records.pop(rec.id, None)  # newest last, in insertion order
                    records[rec.id] = rec
        return records

    @property
    def done(self) -> set[str]:
        """Ids with a stored record (of any fingerprint and status)."""
        return set(self.records)

    def _next_shard(self) -> Path:
        if self.file is not None:
            return self.directory / self.file
        numbers = [_shard_number(p) for p in self.directory.glob(SHARD_GLOB)]
        return self.directory / f"part-{max(numbers, default=-1) + 1:05d}.jsonl"

    # -- writing ---------------------------------------------------------------------------------

    def repair(self) -> int:
        """Cut torn last lines off existing shards (under the lock); returns how many were cut. A last
        line that parses whole only lacks its newline (an edited or foreign file): it gets one."""
        cut = 0
        for shard in self._files():
            data = shard.read_bytes()
            if data and not data.endswith(b"\n"):
                keep = data.rfind(b"\n") + 1
                whole = _summary(data[keep:].decode("utf-8", "replace")) is not None
                with shard.open("r+b") as f:
                    if whole:
                        f.seek(0, os.SEEK_END)
                        f.write(b"\n")
                    else:
                        f.truncate(keep)
                        cut += 1
                    f.flush()
                    os.fsync(f.fileno())
        return cut

    def append(self, trajectory: Trajectory) -> None:
        """Write one finished episode durably (one line, flushed and fsynced)."""
        if self._file is None:
            self._file = self.shard.open("ab")
        self._file.write((trajectory.to_json() + "\n").encode("utf-8"))
        self._file.flush()
        os.fsync(self._file.fileno())
        self.records.pop(trajectory.id, None)
        self.records[trajectory.id] = StoredRecord(
            trajectory.id, trajectory.fingerprint, trajectory.status, trajectory.failure
        )

    def compact(self, keep: Callable[[StoredRecord], bool]) -> int:
        """Rewrite the directory with only the newest records ``keep`` accepts; returns how many went.

        The kept records go to a new file first (fsynced, then renamed into place) and the old files are
        removed after, so a kill at any moment leaves every kept record readable (at worst twice, and
        readers take the newest).
        """
        self._close_file()
        files = self._files()
        if not files:
            return 0
        newest = {pos: rid for pos, rid in _newest_positions(files).items()}
        target = (
            files[0]
            if self.file is not None
            else self.directory / f"part-{_shard_number(files[-1]) + 1:05d}.jsonl"
        )
        tmp = target.with_name(target.name + ".tmp")
        kept: dict[str, StoredRecord] = {}
        with tmp.open("wb") as out:
            for shard in files:
                for line in _iter_lines(shard):
                    rid = newest.get((shard, line.lineno))
                    rec = _summary(line.text) if rid is not None else None
                    if rec is not None and keep(rec):
                        out.write((line.text + "\n").encode("utf-8"))
                        kept[rec.id] = rec
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
        for shard in files:
            if shard != target:
                shard.unlink()
        dropped = len(self.records) - len(kept)
        self.records = kept
        self.shard = self._next_shard()
        return dropped

    def is_done(self, rid: str, fingerprint: str, *, retry_failed: bool = False) -> bool:
        """Whether ``rid`` has a usable record: the current fingerprint, and not a failure to retry
        (a transient one always is; a permanent one with ``retry_failed``)."""
        rec = self.records.get(rid)
        if rec is None or rec.fingerprint != fingerprint:
            return False
        if rec.status != "failed":
            return True
        return rec.failure != "transient" and not retry_failed

    def prepare_retry(self, ids: set[str]) -> int:
        """Before records of ``ids`` are written again: a single-file store (``predictions.jsonl``) drops
        their old records, so the file keeps one record per id; shards keep them (readers take the newest).
        Returns how many went."""
        if self.file is None or not ids & set(self.records):
            return 0
        return self.compact(lambda r: r.id not in ids)

    def reconcile(self, expected: dict[str, str], *, replace: bool, changes: list[str]) -> int:
        """Make the folder hold only records of the current settings before a rerun adds to it.

        ``expected`` maps every id the run asks for to its current fingerprint. Records of those ids with
        another fingerprint are refused (``StaleResultsError`` saying what changed) unless ``replace``;
        with ``replace`` they, and records of ids no longer asked for, are removed. Returns how many went.
        """
        stale = [r for r in self.records.values() if r.id in expected and r.fingerprint != expected[r.id]]
        if stale and not replace:
            what = "; ".join(changes) if changes else "the settings fingerprint differs"
            raise StaleResultsError(
                f"{self.directory} holds {len(stale)} records made with other settings ({what}); rerun with "
                "--overwrite to replace them, or choose another output folder"
            )
        if not replace or not any(expected.get(r.id) != r.fingerprint for r in self.records.values()):
            return 0
        return self.compact(lambda r: expected.get(r.id) == r.fingerprint)

    def _close_file(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def close(self) -> None:
        self._close_file()
        if self.file is None and self.shard.exists() and self.shard.stat().st_size == 0:
            self.shard.unlink()
        self._lock.release()

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
