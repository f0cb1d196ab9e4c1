"""Task specs -> :class:`~agentdistill.schema.Task` lists, shared by evaluation and generation.

Spec syntax (one string names a set of tasks):

* ``name`` / ``name:split``: a registered benchmark (default split if none is given);
* ``...[:N]`` the first N rows, ``...[A:B]`` rows A..B-1 (a Python slice, streamed: later rows are not read);
* ``...:N`` a seeded random sample of N rows (``seed`` argument; rows keep their file order). A split
  whose name is a number (``aime:2024``) wins over a count, so ``aime:2024:10`` samples 10 of 2024's problems;
* ``path/to/file.jsonl`` or ``.json`` (a list, or ``{"examples": [...]}``), with ``fields`` mapping
  Task fields to row keys (``{"question": "problem"}``) and ``domain``; the same slices and samples apply;
* ``hf:<dataset id>[:split]`` a Hugging Face dataset (online), with ``fields`` and ``hf_config``.

Task ids are ``<benchmark>:<split>/<row id>`` (the row's own id, else its index), stable across runs so a
resumed run can skip what it finished. ``metadata`` carries ``benchmark`` (the label results are reported
under), ``group``, ``metric``, ``aliases`` and ``data_source``.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import random
import re
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

from agentdistill.errors import AgentDistillWarning
from agentdistill.jsonl import iter_jsonl_objects
from agentdistill.schema import Task
from agentdistill.tasks.registry import (
    DEFAULT_FIELDS,
    PACKAGE_PREFIX,
    Benchmark,
    BenchmarkError,
    Split,
    get_benchmark,
    resolve_data_dir,
)
from agentdistill.tasks.transforms import transform_answer

Source = Literal["auto", "local", "hf"]
_SLICE = re.compile(r"\[(?P<start>-?\d*)(?::(?P<stop>-?\d*))?\]$")
_FILE_SUFFIXES = (".json", ".jsonl")


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    """A parsed spec: what to read (``kind``, ``target``, ``split``) and which rows (slice, sample)."""

    kind: Literal["benchmark", "file", "hf"]
    target: str
    split: str | None = None
    start: int | None = None
    stop: int | None = None
    sample: int | None = None

    @property
    def label(self) -> str:
        """The name results are reported under: ``name`` or ``name:split`` (slices and samples left out)."""
        if self.kind == "benchmark":
            return get_benchmark(self.target).label(self.split)
        if self.kind == "file":
            return Path(self.target).stem
        return f"hf:{self.target}" + (f":{self.split}" if self.split else "")


def parse_task_spec(spec: str) -> TaskSpec:
    """Parse a spec string (see the module docstring); errors say what was expected."""
    text = spec.strip()
    if not text:
        raise BenchmarkError("empty task spec; expected e.g. gsm8k, hotpotqa:train[:1000], data.jsonl")
    start = stop = None
    if m := _SLICE.search(text):
        start = int(m["start"]) if m["start"] else None
        if m["stop"] is None:  # "[N]" alone: a single row makes little sense; read it as "[:N]"
            start, stop = None, start
        else:
            stop = int(m["stop"]) if m["stop"] else None
        text = text[: m.start()]
    if text.startswith("hf:"):
        parts = text[3:].split(":")
        sample = _pop_count(parts)
        return TaskSpec("hf", parts[0], parts[1] if len(parts) > 1 else None, start, stop, sample)
    parts = text.split(":")
    if _is_path(parts[0]) or _is_path(text):
        sample = _pop_count(parts)
        return TaskSpec("file", ":".join(parts), None, start, stop, sample)
    name, rest = parts[0], parts[1:]
    bench = get_benchmark(name)
    split: str | None = None
    sample = None
    for tok in rest:
        if split is None and sample is None and tok in bench.splits:
            split = tok
        elif tok.isdigit() and sample is None:
            sample = int(tok)
        else:
            raise BenchmarkError(
                f"task spec {spec!r}: {tok!r} is neither a split of {name} ({', '.join(bench.splits)}) "
                "nor a sample size; forms: name, name:split, name[:N], name:split[:N], name:N (seeded sample)"
            )
    return TaskSpec("benchmark", name, split, start, stop, sample)


def _pop_count(parts: list[str]) -> int | None:
    if len(parts) > 1 and parts[-1].isdigit():
        return int(parts.pop())
    return None


def _is_path(text: str) -> bool:
    return text.endswith(_FILE_SUFFIXES) or "/" in text or Path(text).is_file()


def iter_tasks(
    spec: str | TaskSpec,
    *,
    data_dir: str | Path | None = None,
    seed: int = 0,
    source: Source = "auto",
    fields: dict[str, str] | None = None,
    domain: str | None = None,
    hf_config: str | None = None,
) -> Iterator[Task]:
    """Stream the tasks a spec names. A seeded sample reads the whole split first; slices stream."""
    parsed = parse_task_spec(spec) if isinstance(spec, str) else spec
    rows = _rows(parsed, data_dir=data_dir, source=source, fields=fields, domain=domain, hf_config=hf_config)
    if parsed.sample is not None:
        everything = list(rows)
        if parsed.sample > len(everything):
            raise BenchmarkError(
                f"task spec asks for a sample of {parsed.sample} but {parsed.label} has {len(everything)} rows"
            )
        keep = sorted(random.Random(seed).sample(range(len(everything)), parsed.sample))
        rows = iter([everything[i] for i in keep])
    if parsed.start is not None or parsed.stop is not None:
        if (parsed.start or 0) < 0 or (parsed.stop or 0) < 0:
            rows = iter(list(rows)[parsed.start : parsed.stop])
        else:
            rows = itertools.islice(rows, parsed.start, parsed.stop)
    yield from rows


def check_distinct_files(specs: list[str]) -> None:
    """Task files name their tasks after the file (``<stem>/<row id>``): two different files with one
    name would give their tasks the same ids, so the second would be taken for the first."""
    seen: dict[str, Path] = {}
    for text in specs:
        spec = parse_task_spec(text)
        if spec.kind != "file":
            continue
        path = Path(spec.target).expanduser().resolve()
        other = seen.setdefault(spec.label, path)
        if other != path:
            raise BenchmarkError(
                f"task files {other} and {path} share the name {spec.label!r}, so their task ids would collide; "
                "rename one of them"
            )


class DataWarning(AgentDistillWarning):
    """Tasks that are not what their spec suggests: a bundled sample, or fewer rows than asked for."""


def data_problems(spec: TaskSpec, tasks: list[Task]) -> list[str]:
    """What is wrong with reading ``spec`` as the benchmark its name says (empty when nothing is)."""
    problems = []
    if tasks and tasks[0].metadata.get("data_source") == "bundled-sample":
        problems.append(
            f"{spec.label}: no data directory is set, so these are the {len(tasks)} rows of the sample bundled "
            "with agentdistill, not the benchmark (point --data-dir or $AGENTDISTILL_DATA_DIR at a full "
            "copy, e.g. ../shared/data)"
        )
    if spec.stop is not None and spec.stop > 0 and (spec.start or 0) >= 0:
        asked = spec.stop - (spec.start or 0)
        if asked > len(tasks):
            problems.append(
                f"{spec.label}: the spec asks for {asked} rows but the source has only {len(tasks)}"
            )
    return problems


def load_tasks(spec: str | TaskSpec, *, strict: bool = False, **options: Any) -> list[Task]:
    """All tasks a spec names, as a list (options as for :func:`iter_tasks`).

    A bundled sample standing in for a benchmark, or fewer rows than the spec asks for, is a
    :class:`DataWarning`, or with ``strict`` a :class:`BenchmarkError`, before any work starts.
    """
    parsed = parse_task_spec(spec) if isinstance(spec, str) else spec
    tasks = list(iter_tasks(parsed, **options))
    for problem in data_problems(parsed, tasks):
        if strict:
            raise BenchmarkError(f"{problem}; strict data is on (--strict-data, the pipeline's default)")
        warnings.warn(problem, DataWarning, stacklevel=2)
    return tasks


# -- reading rows ------------------------------------------------------------------------------------


def _rows(
    spec: TaskSpec,
    *,
    data_dir: str | Path | None,
    source: Source,
    fields: dict[str, str] | None,
    domain: str | None,
    hf_config: str | None,
) -> Iterator[Task]:
    if spec.kind == "file":
        path = Path(spec.target).expanduser()
        if not path.is_file():
            raise BenchmarkError(f"task file {path} not found")
        mapping = {**DEFAULT_FIELDS, **(fields or {})}
        meta = {"benchmark": spec.label, "group": "other", "data_source": "file"}
        yield from _to_tasks(read_rows(path), mapping, spec.label, domain or "other", meta, None, ())
        return
    if spec.kind == "hf":
        mapping = {**DEFAULT_FIELDS, **(fields or {})}
        rows = _hf_rows(spec.target, hf_config, spec.split or "test")
        meta = {"benchmark": spec.label, "group": "other", "data_source": "hf"}
        yield from _to_tasks(rows, mapping, spec.label, domain or "other", meta, None, ())
        return
    bench = get_benchmark(spec.target)
    split = bench.split(spec.split)
    meta = {
        "benchmark": bench.label(spec.split),
        "group": bench.group if split.eval else "train",
        "metric": bench.metric,
    }
    prefix = f"{bench.name}:{split.name}"
    if source == "hf":
        if bench.hf is None:
            raise BenchmarkError(
                f"benchmark {bench.name!r} names no Hugging Face dataset; use a local data dir"
            )
        mapping = {**split.fields, **bench.hf.fields, **(fields or {})}
        rows = _hf_rows(bench.hf.id, bench.hf.config, bench.hf.split)
        meta["data_source"] = f"hf:{bench.hf.id}"
        yield from _to_tasks(
            rows, mapping, prefix, bench.domain, meta, split.answer_transform, split.metadata_fields
        )
        return
    yield from _local_rows(bench, split, prefix, meta, data_dir, fields)


def _local_rows(
    bench: Benchmark,
    split: Split,
    prefix: str,
    meta: dict[str, Any],
    data_dir: str | Path | None,
    fields: dict[str, str] | None,
) -> Iterator[Task]:
    root, bundled = resolve_data_dir(data_dir)
    shipped = all(f.startswith(PACKAGE_PREFIX) for f in split.files)
    meta["data_source"] = "agentdistill-package" if shipped else "bundled-sample" if bundled else str(root)
    paths = split.paths(root)
    if missing := [p for p in paths if not p.is_file()]:
        raise BenchmarkError(
            f"{bench.name}:{split.name}: {missing[0]} not found; point --data-dir (or $AGENTDISTILL_DATA_DIR) "
            "at a folder laid out like shared/data, or use source 'hf' when online"
        )
    rows = itertools.chain.from_iterable(read_rows(p) for p in paths)
    yield from _to_tasks(
        rows,
        {**split.fields, **(fields or {})},
        prefix,
        bench.domain,
        meta,
        split.answer_transform,
        split.metadata_fields,
    )


def read_rows(path: Path) -> Iterator[tuple[str, int, dict[str, Any]]]:
    """(file, line or index, row) for each row of a JSONL file, a JSON list, or ``{"examples": [...]}``."""
    where = str(path)
    if path.suffix == ".jsonl":
        for lineno, row in iter_jsonl_objects(path, BenchmarkError):
            yield where, lineno, row
        return
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise BenchmarkError(f"{where}: invalid JSON ({e.msg} at line {e.lineno})") from None
    if isinstance(data, dict) and isinstance(data.get("examples"), list):
        data = data["examples"]
    if not isinstance(data, list):
        raise BenchmarkError(f"{where}: expected a list of objects or {{'examples': [...]}}")
    for i, row in enumerate(data):
        if not isinstance(row, dict):
            raise BenchmarkError(f"{where}: item {i} is not an object")
        yield where, i, row


def _hf_rows(dataset_id: str, config: str | None, split: str) -> Iterator[tuple[str, int, dict[str, Any]]]:
    """Stream a hub dataset (needs network); errors say how to work offline."""
    try:
        import datasets

        ds = datasets.load_dataset(dataset_id, config, split=split, streaming=True)
    except Exception as e:
        raise BenchmarkError(
            f"could not load Hugging Face dataset {dataset_id!r} (config {config}, split {split}): {e}; "
            "offline, use a data directory (--data-dir) instead"
        ) from None
    for i, row in enumerate(ds):
        yield f"hf:{dataset_id}", i, dict(row)


def _to_tasks(
    rows: Iterable[tuple[str, int, dict[str, Any]]],
    fields: dict[str, str],
    prefix: str,
    domain: str,
    meta: dict[str, Any],
    transform: str | None,
    metadata_fields: tuple[str, ...],
) -> Iterator[Task]:
    seen: set[str] = set()
    for index, (where, line, row) in enumerate(rows):
        question = row.get(fields["question"])
        if not isinstance(question, str) or not question.strip():
            raise BenchmarkError(
                f"{where}:{line}: no question in field {fields['question']!r} (keys: {', '.join(row)}); "
                "map it with fields={'question': ...} / --question-field"
            )
        raw_id = row.get(fields["id"])
        row_id = str(raw_id) if raw_id is not None else str(index)
        task_id = f"{prefix}/{row_id}"
        if task_id in seen:  # two files of one split may reuse ids
            task_id = f"{prefix}/{index}"
        seen.add(task_id)
        aliases = row.get(fields["aliases"]) or []
        aliases = [str(a) for a in aliases] if isinstance(aliases, list) else [str(aliases)]
        answer = row.get(fields["answer"])
        if isinstance(answer, list):  # several gold answers: the first is the answer, the rest aliases
            answer, aliases = (answer[0] if answer else None), [str(a) for a in answer[1:]] + aliases
        metadata = {**meta, "aliases": aliases}
        metadata.update({k: row[k] for k in metadata_fields if k in row})
        yield Task(
            id=task_id,
            question=question,
            answer=transform_answer(answer, transform),
            domain=domain,  # type: ignore[arg-type]
            source=str(meta["benchmark"]),
            metadata=metadata,
        )
