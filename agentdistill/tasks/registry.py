"""The benchmark registry: benchmark definitions read from data (``benchmarks.yaml``), looked up by name.

Definitions are data so a user adds a benchmark with a few YAML lines (:func:`load_benchmarks_file`)
instead of a subclass, and so generation (task specs) and evaluation (metrics, paper groups) share them.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml

from agentdistill.errors import AgentDistillError
from agentdistill.registry import Registry
from agentdistill.tasks.transforms import ANSWER_TRANSFORMS

Group = Literal["in_domain", "out_of_domain", "train", "other"]
DATA_DIR_ENV = "AGENTDISTILL_DATA_DIR"
DEFAULT_FIELDS = {"id": "id", "question": "question", "answer": "answer", "aliases": "answer_aliases"}
_ENTRY_KEYS = {
    "domain",
    "metric",
    "group",
    "paper",
    "eval",
    "description",
    "default_split",
    "splits",
    "fields",
    "metadata_fields",
    "answer_transform",
    "hf",
}
_SPLIT_KEYS = {"files", "rows", "eval", "fields", "metadata_fields", "answer_transform"}


class BenchmarkError(AgentDistillError, ValueError):
    """An unknown benchmark or split, or a definition that does not fit the registry's format."""


@dataclasses.dataclass(frozen=True)
class HFSource:
    """Where a benchmark lives on the Hugging Face hub (used only with ``source="hf"``)."""

    id: str
    config: str | None = None
    split: str = "test"
    fields: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Split:
    """One split: its files (relative to a data directory, or ``package:<path>`` for data shipped inside
    agentdistill), full row count, and field mapping."""

    name: str
    files: tuple[str, ...]
    rows: int | None = None
    eval: bool = True
    fields: dict[str, str] = dataclasses.field(default_factory=dict)
    metadata_fields: tuple[str, ...] = ()
    answer_transform: str | None = None

    def paths(self, root: Path) -> list[Path]:
        """The split's files under data directory ``root`` (package files wherever the package is)."""
        return [
            package_data_dir() / f.removeprefix(PACKAGE_PREFIX) if f.startswith(PACKAGE_PREFIX) else root / f
            for f in self.files
        ]


@dataclasses.dataclass(frozen=True)
class Benchmark:
    """A benchmark definition. ``group`` is its column group in the paper's table."""

    name: str
    domain: Literal["qa", "math", "other"]
    metric: str
    group: Group
    splits: dict[str, Split]
    default_split: str
    description: str = ""
    paper: bool = True
    eval: bool = True
    hf: HFSource | None = None

    def split(self, name: str | None = None) -> Split:
        """The named split (default split if None); an unknown name lists the valid ones."""
        key = self.default_split if name is None else name
        if key not in self.splits:
            raise BenchmarkError(
                f"benchmark {self.name!r} has no split {key!r}; splits: {', '.join(self.splits)}"
            )
        return self.splits[key]

    def is_eval_split(self, name: str | None = None) -> bool:
        """Whether a split is an evaluation set (decontamination and averages use only these)."""
        return self.eval and self.split(name).eval

    def label(self, split: str | None = None) -> str:
        """``name`` for the default split, else ``name:split``: the key results are reported under."""
        return self.name if split in (None, self.default_split) else f"{self.name}:{split}"


def _parse_entry(name: str, raw: dict[str, Any], where: str) -> Benchmark:
    if not isinstance(raw, dict):
        raise BenchmarkError(f"{where}: benchmark {name!r} must be a mapping")
    if unknown := set(raw) - _ENTRY_KEYS:
        raise BenchmarkError(f"{where}: benchmark {name!r}: unknown key(s) {sorted(unknown)}")
    for key in ("domain", "metric", "splits"):
        if key not in raw:
            raise BenchmarkError(f"{where}: benchmark {name!r} needs {key!r}")
    from agentdistill.tasks.metrics import METRICS  # metrics import schema only; checked here, not at scoring

    if raw["metric"] not in METRICS:
        raise BenchmarkError(f"{where}: benchmark {name!r}: {METRICS.unknown(raw['metric'])}")
    fields = {**DEFAULT_FIELDS, **(raw.get("fields") or {})}
    meta = tuple(raw.get("metadata_fields") or ())
    splits: dict[str, Split] = {}
    for split_name, s in raw["splits"].items():
        split_name = str(split_name)
        if not isinstance(s, dict) or not s.get("files"):
            raise BenchmarkError(f"{where}: {name}:{split_name} needs a list of 'files'")
        if unknown := set(s) - _SPLIT_KEYS:
            raise BenchmarkError(f"{where}: {name}:{split_name}: unknown key(s) {sorted(unknown)}")
        transform = s.get("answer_transform", raw.get("answer_transform"))
        if transform is not None and transform not in ANSWER_TRANSFORMS:
            raise BenchmarkError(f"{where}: {name}:{split_name}: {ANSWER_TRANSFORMS.unknown(transform)}")
        splits[split_name] = Split(
            name=split_name,
            files=tuple(s["files"]),
            rows=s.get("rows"),
            eval=bool(s.get("eval", True)),
            fields={**fields, **(s.get("fields") or {})},
            metadata_fields=tuple(s.get("metadata_fields", meta)),
            answer_transform=transform,
        )
    default_split = str(raw.get("default_split", next(iter(splits))))
    if default_split not in splits:
        raise BenchmarkError(f"{where}: {name}: default_split {default_split!r} is not one of its splits")
    hf = raw.get("hf")
    return Benchmark(
        name=name,
        domain=raw["domain"],
        metric=raw["metric"],
        group=raw.get("group", "other"),
        splits=splits,
        default_split=default_split,
        description=raw.get("description", ""),
        paper=bool(raw.get("paper", True)),
        eval=bool(raw.get("eval", True)),
        hf=HFSource(**hf) if hf else None,
    )


def parse_benchmarks(text: str, where: str) -> dict[str, Benchmark]:
    """Benchmark definitions from YAML text (the ``benchmarks.yaml`` format)."""
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        raise BenchmarkError(f"{where}: invalid YAML: {e}") from None
    entries = data.get("benchmarks") if isinstance(data, dict) else None
    if not isinstance(entries, dict):
        raise BenchmarkError(f"{where}: expected a top-level 'benchmarks:' mapping")
    return {str(n): _parse_entry(str(n), e, where) for n, e in entries.items()}


BENCHMARK_HINT = "or give a .json/.jsonl file path, or hf:<dataset id>"


@functools.cache
def benchmark_registry() -> Registry[Benchmark]:
    """The registered benchmarks: ``tasks/benchmarks.yaml``, then any added with :func:`register_benchmark`."""
    path = resources.files("agentdistill.tasks") / "benchmarks.yaml"
    found = parse_benchmarks(path.read_text(encoding="utf-8"), "agentdistill/tasks/benchmarks.yaml")
    return Registry("benchmark", dict(found), error=BenchmarkError, hint=BENCHMARK_HINT)


def load_benchmarks_file(path: str | Path) -> list[Benchmark]:
    """Register the benchmarks of a user YAML file (same format as ``benchmarks.yaml``)."""
    path = Path(path)
    found = parse_benchmarks(path.read_text(encoding="utf-8"), str(path))
    for b in found.values():
        register_benchmark(b)
    return list(found.values())


def register_benchmark(benchmark: Benchmark) -> None:
    """Add or replace a benchmark definition for this process."""
    benchmark_registry().register(benchmark.name, benchmark)


def get_benchmark(name: str) -> Benchmark:
    """A benchmark by name; an unknown name suggests the closest and lists the registered ones."""
    return benchmark_registry().get(name)


def list_benchmarks(*, include_train: bool = True) -> list[Benchmark]:
    """All registered benchmarks in definition order; ``include_train=False`` keeps evaluation sets only."""
    return [b for _, b in benchmark_registry().items() if include_train or b.eval]


PACKAGE_PREFIX = "package:"


def package_data_dir() -> Path:
    """``agentdistill/data``: files shipped inside the package (the demo corpus and its questions)."""
    return Path(str(resources.files("agentdistill") / "data"))


def bundled_data_dir() -> Path:
    """The small samples shipped in the package, laid out like ../shared/data."""
    return package_data_dir() / "benchmarks"


def resolve_data_dir(data_dir: str | Path | None = None) -> tuple[Path, bool]:
    """(directory, is_bundled): ``data_dir``, else ``$AGENTDISTILL_DATA_DIR``, else the bundled samples."""
    chosen = data_dir or os.environ.get(DATA_DIR_ENV)
    if chosen:
        path = Path(chosen).expanduser()
        if not path.is_dir():
            raise BenchmarkError(f"data directory {path} does not exist (from --data-dir or ${DATA_DIR_ENV})")
        return path, False
    return bundled_data_dir(), True
