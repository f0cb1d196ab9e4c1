"""Training data -> tokenized ``datasets.Dataset`` with step-level labels, and an account of what was left out.

Sources: trajectory JSONL files (``agentdistill.trajectory/1`` and ``/2``, agent or CoT), trajectory
directories as :mod:`agentdistill.trajectories.store` defines them (shards, torn last lines skipped, the
newest record per id), and Hugging Face datasets (a ``save_to_disk`` folder or a hub id) whose rows are either
trajectory records or plain ``{"messages": [...]}`` chats. In a plain chat without ``train`` flags every
assistant message is trained. Every example that is not used is counted with its reason, and a run with no
usable example is an error, so bad data never turns into a silent empty run.
"""

from __future__ import annotations

import collections
import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from agentdistill.errors import AgentDistillError
from agentdistill.schema import Message, SchemaError, Trajectory
from agentdistill.training.masking import MaskingError, apply_length_policy, mask_conversation
from agentdistill.trajectories import store as trajectory_store
from agentdistill.trajectories.store import TrajectoryDirError, iter_trajectories, shard_paths


class TrainingDataError(AgentDistillError, ValueError):
    """Training data that cannot be used: missing, unreadable, or with no trainable example."""


@dataclasses.dataclass
class DataStats:
    """What happened to the examples of one dataset (reported in the training summary)."""

    read: int = 0
    used: int = 0
    truncated: int = 0
    held_out: int = 0
    """Used examples set aside as the evaluation split (``eval_fraction``)."""
    skipped: dict[str, int] = dataclasses.field(default_factory=dict)
    tokens: int = 0
    trained_tokens: int = 0
    sources: list[str] = dataclasses.field(default_factory=list)

    @property
    def num_skipped(self) -> int:
        return sum(self.skipped.values())

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def describe(self) -> str:
        parts = [f"{self.used} used of {self.read} read", f"{self.truncated} truncated"]
        if self.held_out:
            parts.insert(1, f"{self.held_out} of them held out for evaluation")
        parts += [f"{n} skipped: {why}" for why, n in sorted(self.skipped.items())]
        return ", ".join(parts)


@dataclasses.dataclass
class _Record:
    """One conversation from any source, with where it came from for error messages."""

    messages: list[Message] | None
    where: str
    problem: str | None = None


def iter_records(source: str, *, split: str = "train", skip_invalid: bool = False) -> Iterator[_Record]:
    """Conversations from one source. Invalid records raise (naming file, line and field) unless
    ``skip_invalid``, when they come back with ``problem`` set so they can be counted."""
    path = Path(source).expanduser()
    if path.is_file():
        if path.suffix not in (".jsonl", ".json"):
            raise TrainingDataError(f"{path}: expected a .jsonl trajectory file")
        yield from _iter_trajectory_set(path, skip_invalid)
    elif path.is_dir() and _is_hf_dataset_dir(path):
        yield from _iter_hf(_load_hf_from_disk(path, split), str(path), skip_invalid)
    elif path.is_dir():
        try:
            shard_paths(path)  # what a trajectory directory is: decided in one place, for every reader
        except TrajectoryDirError as e:
            raise TrainingDataError(f"{e} (and not a saved Hugging Face dataset)") from None
        yield from _iter_trajectory_set(path, skip_invalid)
    elif path.exists():
        raise TrainingDataError(f"{path}: not a file or folder")
    elif "/" in source and not source.startswith((".", "/", "~")):
        yield from _iter_hf(_load_hf_hub(source, split), source, skip_invalid)
    else:
        raise TrainingDataError(f"{source}: no such file or folder")


def _iter_trajectory_set(path: Path, skip_invalid: bool) -> Iterator[_Record]:
    """Records of a trajectory file or directory through the one reader: the newest record per id, a
    torn last line (a killed writer) skipped; other invalid lines raise, or with ``skip_invalid`` are
    counted."""
    if not skip_invalid:
        for n, traj in enumerate(iter_trajectories(path), 1):
            yield _Record(traj.messages, f"{path} record {n} ({traj.id})")
        return
    for traj, where, error in trajectory_store.iter_records(path):
        if error is not None:
            yield _Record(None, where, problem=f"invalid record: {_short(error)}")
        else:
            yield _Record(traj.messages, f"{where} ({traj.id})")


def _short(err: Exception) -> str:
    """The schema problem without the file:line prefix, so equal problems count together."""
    text = str(err)
    return text.split(": ", 1)[1] if ": field" in text or ": missing" in text else text


def _is_hf_dataset_dir(path: Path) -> bool:
    return (path / "dataset_info.json").is_file() or (path / "dataset_dict.json").is_file()


def _load_hf_from_disk(path: Path, split: str) -> Any:
    import datasets

    ds = datasets.load_from_disk(str(path))
    if isinstance(ds, datasets.DatasetDict):
        if split not in ds:
            raise TrainingDataError(f"{path}: no split {split!r} (has {', '.join(ds)})")
        ds = ds[split]
    return ds


def _load_hf_hub(name: str, split: str) -> Any:
    import datasets

    try:
        return datasets.load_dataset(name, split=split)
    except Exception as e:
        raise TrainingDataError(
            f"{name}: not a local path, and loading it as a Hugging Face dataset failed: {e}"
        ) from None


def _iter_hf(ds: Any, name: str, skip_invalid: bool) -> Iterator[_Record]:
    for i, row in enumerate(ds):
        where = f"{name} row {i}"
        try:
            yield _Record(_row_messages(row, where), where)
        except SchemaError as e:
            if not skip_invalid:
                raise
            yield _Record(None, where, problem=f"invalid record: {_short(e)}")


def _row_messages(row: dict[str, Any], where: str) -> list[Message]:
    """Messages of a dataset row: a trajectory record, or a plain chat (assistant turns trained)."""
    if row.get("schema") is not None:
        return Trajectory.from_dict(_drop_nulls(row), source=where).messages
    messages = row.get("messages")
    if isinstance(messages, str):
        messages = json.loads(messages)
    if not isinstance(messages, list):
        raise SchemaError("missing field 'messages' (a list of {role, content[, train]})", source=where)
    flagged = any(isinstance(m, dict) and m.get("train") is not None for m in messages)
    out = []
    for j, m in enumerate(messages):
        if not isinstance(m, dict):
            raise SchemaError(f"field 'messages.{j}': expected an object", source=where)
        m = {k: v for k, v in m.items() if v is not None}
        if not flagged:
            m["train"] = m.get("role") == "assistant"
        try:
            out.append(Message.model_validate(m))
        except ValidationError as e:
            first = e.errors()[0]
            loc = ".".join(str(p) for p in first["loc"])
            raise SchemaError(f"field 'messages.{j}.{loc}': {first['msg']}", source=where) from None
    return out


def _drop_nulls(value: Any) -> Any:
    """Arrow fills absent struct fields with None; drop them so the strict schema applies its defaults."""
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def build_dataset(
    tokenizer: Any,
    sources: list[str],
    *,
    max_length: int,
    truncation: str = "truncate",
    chat_template: str | None = None,
    split: str = "train",
    skip_invalid: bool = False,
    cache_file: str | Path | None = None,
) -> tuple[Any, DataStats]:
    """Tokenize and label every conversation; return a ``datasets.Dataset`` (``input_ids``, ``labels``) and
    its :class:`DataStats`. Raises :class:`TrainingDataError` when nothing is left to train on.

    With ``cache_file``, rows are streamed to that Arrow file in batches and the dataset is memory-mapped from
    it (as ``datasets`` does with its own cache): memory stays flat however large the data, and processes
    that map the same file share its pages. Without it, the rows are held in memory.
    """
    stats = DataStats(sources=list(sources))
    with _RowSink(Path(cache_file) if cache_file is not None else None) as rows:
        first_problem: dict[str, str] = {}
        for source in sources:
            for rec in iter_records(source, split=split, skip_invalid=skip_invalid):
                stats.read += 1
                if rec.messages is None:
                    reason = rec.problem or "invalid record"
                    stats.skip(reason)
                    first_problem.setdefault(reason, rec.where)
                    continue
                if not any(m.train for m in rec.messages):
                    reason = "no trained tokens (every message is masked)" if rec.messages else "no messages"
                    stats.skip(reason)
                    first_problem.setdefault(reason, rec.where)
                    continue
                try:
                    masked = mask_conversation(tokenizer, rec.messages, chat_template=chat_template)
                except MaskingError as e:
                    reason = str(e)
                    stats.skip(reason)
                    first_problem.setdefault(reason, rec.where)
                    continue
                outcome = apply_length_policy(masked, max_length, truncation)
                stats.truncated += outcome.truncated
                if outcome.example is None:
                    stats.skip(outcome.reason or "dropped")
                    first_problem.setdefault(outcome.reason or "dropped", rec.where)
                    continue
                ex = outcome.example
                rows.add(ex.input_ids, ex.labels)
                stats.used += 1
                stats.tokens += len(ex.input_ids)
                stats.trained_tokens += ex.num_trained
        if stats.read == 0:
            raise TrainingDataError(f"no records in {', '.join(sources)}")
        if stats.used == 0:
            detail = "; ".join(
                f"{n}x {why} (first: {first_problem[why]})" for why, n in stats.skipped.items()
            )
            raise TrainingDataError(f"no usable training example among {stats.read} records: {detail}")
        return rows.dataset(), stats


class _RowSink:
    """Tokenized rows kept in lists, or streamed to an Arrow file in batches of ``batch_rows``."""

    def __init__(self, path: Path | None, batch_rows: int = 1024):
        self.path = path
        self.batch_rows = batch_rows
        self.pending: dict[str, list[list[int]]] = {"input_ids": [], "labels": []}
        self.writer: Any = None

    def add(self, input_ids: list[int], labels: list[int]) -> None:
        self.pending["input_ids"].append(input_ids)
        self.pending["labels"].append(labels)
        if self.path is not None and len(self.pending["input_ids"]) >= self.batch_rows:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa

        column = pa.list_(pa.int64())
        schema = pa.schema([("input_ids", column), ("labels", column)])
        if self.writer is None:
            assert self.path is not None
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.writer = pa.ipc.new_stream(str(self.path), schema)
        self.writer.write_batch(pa.RecordBatch.from_pydict(self.pending, schema=schema))
        self.pending = {"input_ids": [], "labels": []}

    def dataset(self) -> Any:
        import datasets

        if self.path is None:
            return datasets.Dataset.from_dict(self.pending)
        if self.pending["input_ids"] or self.writer is None:
            self._flush()
        self.close()
        return datasets.Dataset.from_file(str(self.path))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def __enter__(self) -> _RowSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def summarise_skips(stats: DataStats) -> list[str]:
    """Skip reasons as lines, most frequent first."""
    return [f"{n} x {why}" for why, n in collections.Counter(stats.skipped).most_common()]
