"""Composable trajectory filters that say what each one dropped.

A filter looks at one trajectory and keeps it (possibly updated, e.g. re-scored) or drops it. A
:class:`FilterPipeline` runs filters in order, so each sees only what the earlier ones kept, and counts
per filter how many it saw, kept and dropped (and which ids it dropped): the numbers a user needs to
judge a training set ("80% of episodes died on parse errors" is a prompt problem, not a data problem).

Correctness is re-scored with the metrics evaluation uses (EM for QA, math-verify for math), because a
stored score may come from another scorer (an LLM judge, an older rule) or be missing; the stored score
is the fallback only when the task has no gold answer or no known metric.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol

from agentdistill.config import ConfigError, FieldError, from_dict
from agentdistill.errors import AgentDistillError
from agentdistill.registry import Registry
from agentdistill.schema import Trajectory
from agentdistill.tasks.decontamination import eval_questions, normalize_question
from agentdistill.tasks.metrics import score
from agentdistill.tasks.registry import list_benchmarks, resolve_data_dir
from agentdistill.trajectories.grounding import grounding


class TrajectoryFilter(Protocol):
    """One filter: ``name`` for the report, ``apply`` returns the trajectory to keep or None to drop."""

    name: str

    def apply(self, trajectory: Trajectory) -> Trajectory | None: ...


# -- helpers shared with stats and the viewer -----------------------------------------------------


def char_count(trajectory: Trajectory) -> int:
    """Characters of all messages: what a training example's length scales with."""
    return sum(len(m.content) for m in trajectory.messages)


# -- scoring --------------------------------------------------------------------------------------


def rescore(trajectory: Trajectory) -> float | None:
    """The trajectory's score under evaluation's metrics, or None when it cannot be computed.

    Calls :func:`agentdistill.tasks.metrics.score`, the entry point evaluation uses (EM for QA,
    math-verify for math, the task's ``metadata["metric"]`` when set). None when the task has no gold
    answer: callers then fall back to the stored score.
    """
    result = score(trajectory.task, trajectory.final_answer)
    if result.get("no_gold"):
        return None
    return float(result["score"])


# -- filters --------------------------------------------------------------------------------------


@dataclasses.dataclass
class FailedFilter:
    """Drop episodes that crashed (``status == "failed"``): they have no usable ending."""

    name: ClassVar[str] = "failed"

    def apply(self, trajectory: Trajectory) -> Trajectory | None:
        return None if trajectory.status == "failed" else trajectory


@dataclasses.dataclass
class StatusFilter:
    """Keep only the given statuses (e.g. drop ``max_steps`` episodes that never called final_answer)."""

    allowed: tuple[str, ...] = ("ok",)
    """Statuses kept: ``ok`` (called final_answer), ``max_steps``, ``failed``."""
    name: ClassVar[str] = "status"

    def apply(self, trajectory: Trajectory) -> Trajectory | None:
        return trajectory if trajectory.status in self.allowed else None


@dataclasses.dataclass
class CorrectnessFilter:
    """Keep episodes whose score is at least ``min_score``, re-scored with evaluation's metrics.

    The kept trajectory carries the recomputed score (the old one, when different, is kept in
    ``metadata["stored_score"]``). Without a computable score the stored one is used; with neither the
    episode is dropped, since its correctness is unknown.
    """

    min_score: float = 1.0
    """Lowest score kept (1.0: exactly right; e.g. 0.5 for F1-scored QA)."""
    use_metrics: bool = True
    """Re-score with evaluation's metrics (False: trust the stored score)."""
    name: ClassVar[str] = "correct"

    def apply(self, trajectory: Trajectory) -> Trajectory | None:
        score = rescore(trajectory) if self.use_metrics else None
        if score is None:
            score = trajectory.score
        if score is None or score < self.min_score:
            return None
        if score != trajectory.score:
            metadata = {**trajectory.metadata, "stored_score": trajectory.score}
            trajectory = trajectory.model_copy(update={"score": score, "metadata": metadata})
        return trajectory


@dataclasses.dataclass
class ParseErrorFilter:
    """Drop episodes with more than ``max_errors`` parse errors in *trained* steps (0: any).

    A step masked out of training (``train: false``, e.g. a failed step before a reflection) does not
    count: the student never learns it, and recovering from it is what self-reflection is for.
    """

    max_errors: int = 0
    """Parse errors of trained steps allowed per episode."""
    trained_only: bool = True
    """Count only trained steps (False counts masked ones too, which drops self-reflection recoveries:
    kept for ablations)."""
    name: ClassVar[str] = "parse_errors"

    def apply(self, trajectory: Trajectory) -> Trajectory | None:
        errors = trajectory.trained_parse_errors if self.trained_only else trajectory.parse_errors
        return trajectory if errors <= self.max_errors else None


@dataclasses.dataclass
class ForcedAnswerFilter:
    """What becomes of the answer forced out of an episode after ``max_steps`` (its ``final`` message):
    ``mask`` it (``train: false``, the default: returning without finishing is not a behaviour to learn),
    ``drop`` the episode (as the agent-distillation filter does), or ``train`` it."""

    policy: Literal["mask", "drop", "train"] = "mask"
    """``mask``, ``drop`` or ``train``."""
    name: ClassVar[str] = "forced_answer"

    def apply(self, trajectory: Trajectory) -> Trajectory | None:
        finals = {i for i, m in enumerate(trajectory.messages) if m.role == "assistant" and m.kind == "final"}
        if not finals:
            return trajectory
        if self.policy == "drop":
            return None
        train = self.policy == "train"
        messages = [
            m.model_copy(update={"train": train}) if i in finals else m
            for i, m in enumerate(trajectory.messages)
        ]
        return trajectory.model_copy(update={"messages": messages})


@dataclasses.dataclass
class GroundedFilter:
    """Keep an episode only when its final answer was produced by executed code
    (:mod:`agentdistill.trajectories.grounding`): a computed ``final_answer`` argument, or a value an
    earlier observation showed. Also drops episodes whose trained messages state the gold answer before
    any observation did (a reference hint leaking into the data). ``reasons`` counts the drops by rule."""

    domains: list[str] = dataclasses.field(default_factory=lambda: ["math"])
    """Task domains the rule applies to (others pass): math by default, where a guessed number is easy."""
    hint_leaks: bool = True
    """Also drop episodes that state the gold answer unearned (``hint_leak``)."""
    name: ClassVar[str] = "grounded"
    reasons: Counter[str] = dataclasses.field(default_factory=Counter, repr=False, init=False)

    def apply(self, trajectory: Trajectory) -> Trajectory | None:
        if trajectory.task.domain not in self.domains:
            return trajectory
        g = grounding(trajectory)
        if not g.grounded:
            self.reasons[g.rule] += 1
            return None
        if self.hint_leaks and g.hint_leak:
            self.reasons["hint_leak"] += 1
            return None
        return trajectory


@dataclasses.dataclass
class MaxStepsFilter:
    """Drop episodes that took more than ``max_steps`` agent steps."""

    max_steps: int
    """Most agent steps kept."""
    name: ClassVar[str] = "max_steps"

    def apply(self, trajectory: Trajectory) -> Trajectory | None:
        return trajectory if trajectory.agent_steps <= self.max_steps else None


@dataclasses.dataclass
class LengthFilter:
    """Drop episodes longer than ``max_chars`` characters and/or ``max_tokens`` tokens.

    Tokens are counted with ``count_tokens`` (e.g. the student's tokenizer) over all message contents,
    which is what bounds the training sequence length.
    """

    max_chars: int | None = None
    """Most characters over all messages."""
    max_tokens: int | None = None
    """Most tokens over all messages (needs ``tokenizer``, or ``count_tokens`` from Python)."""
    tokenizer: str | None = None
    """Tokenizer counting ``max_tokens``: a path, a hub id, or ``default`` (loaded on first use)."""
    count_tokens: Callable[[str], int] | None = None
    name: ClassVar[str] = "length"

    def __post_init__(self) -> None:
        if self.max_tokens is not None and self.count_tokens is None and self.tokenizer is None:
            raise FieldError(
                "max_tokens",
                "needs a tokenizer to count with: set tokenizer (a path, hub id or `default`), e.g. "
                "--filter length:max_tokens=1024,tokenizer=default (from Python: count_tokens=...)",
            )

    def apply(self, trajectory: Trajectory) -> Trajectory | None:
        if self.max_chars is not None and char_count(trajectory) > self.max_chars:
            return None
        if self.max_tokens is not None and self.count_tokens is None and self.tokenizer is not None:
            self.count_tokens = tokenizer_counter(self.tokenizer)
        if self.max_tokens is not None and self.count_tokens is not None:
            tokens = sum(self.count_tokens(m.content) for m in trajectory.messages)
            if tokens > self.max_tokens:
                return None
        return trajectory


def tokenizer_counter(name: str) -> Callable[[str], int]:
    """Token counting with a Hugging Face tokenizer (path, hub id, or ``default``: the packaged model's)."""
    from agentdistill.models.weights import local_model_path

    try:
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(local_model_path(name, purpose="tokenized"))
    except Exception as e:
        raise AgentDistillError(f"could not load tokenizer {name!r}: {type(e).__name__}: {e}") from None
    return lambda text: len(tok(text, add_special_tokens=False)["input_ids"])


def content_key(trajectory: Trajectory) -> str:
    """Identity of an episode for deduplication: task id plus everything the assistant wrote."""
    h = hashlib.sha256(trajectory.task.id.encode())
    for m in trajectory.messages:
        if m.role == "assistant":
            h.update(b"\x00" + m.content.encode())
    return h.hexdigest()


@dataclasses.dataclass
class DedupFilter:
    """Drop exact repeats: same task id and same assistant messages as an earlier episode."""

    name: ClassVar[str] = "dedup"
    _seen: set[str] = dataclasses.field(default_factory=set, repr=False, init=False)

    def apply(self, trajectory: Trajectory) -> Trajectory | None:
        key = content_key(trajectory)
        if key in self._seen:
            return None
        self._seen.add(key)
        return trajectory


@dataclasses.dataclass
class PerTaskFilter:
    """Keep at most ``k`` episodes per task id (the first ones met), so no task dominates training."""

    k: int
    """Episodes kept per task."""
    name: ClassVar[str] = "per_task"
    _counts: Counter[str] = dataclasses.field(default_factory=Counter, repr=False, init=False)

    def apply(self, trajectory: Trajectory) -> Trajectory | None:
        if self._counts[trajectory.task.id] >= self.k:
            return None
        self._counts[trajectory.task.id] += 1
        return trajectory


@dataclasses.dataclass
class EvaluationQuestions:
    """Normalised questions of the registered evaluation sets, which sets were found, which were not."""

    questions: set[str]
    sources: list[str]
    missing: list[str]
    bundled: bool


def evaluation_questions(data_dir: str | Path | None = None) -> EvaluationQuestions:
    """Normalised questions of every registered evaluation split (``eval: true``) found in ``data_dir``.

    The questions come from evaluation's own list (so generation and this filter agree); ``missing``
    names the evaluation splits whose files are not in ``data_dir``, which are then only covered by the
    bundled samples. ``data_dir`` defaults to ``$AGENTDISTILL_DATA_DIR``, else the bundled samples (a
    few rows per set: fine for a demo, not a real decontamination; use a full copy such as ../shared/data).
    """
    root, bundled = resolve_data_dir(data_dir)
    sources: list[str] = []
    missing: list[str] = []
    for bench in list_benchmarks(include_train=False):
        for name, split in bench.splits.items():
            if bench.is_eval_split(name):
                found = all(p.is_file() for p in split.paths(root))
                (sources if found else missing).append(f"{bench.name}:{name}")
    return EvaluationQuestions(set(eval_questions(data_dir)), sources, missing, bundled)


@dataclasses.dataclass
class DecontaminationFilter:
    """Drop episodes whose task question (normalised) is a question of an evaluation set.

    ``questions`` defaults to every registered evaluation split found in ``data_dir`` (read on first use).
    """

    questions: set[str] | None = None
    data_dir: str | None = None
    """Benchmark data directory (default ``$AGENTDISTILL_DATA_DIR``, else the bundled samples)."""
    name: ClassVar[str] = "decontaminate"

    @classmethod
    def from_registry(cls, data_dir: str | Path | None = None) -> DecontaminationFilter:
        return cls(evaluation_questions(data_dir).questions)

    def apply(self, trajectory: Trajectory) -> Trajectory | None:
        if self.questions is None:
            self.questions = evaluation_questions(self.data_dir).questions
        return None if normalize_question(trajectory.task.question) in self.questions else trajectory


# -- pipeline -------------------------------------------------------------------------------------


@dataclasses.dataclass
class FilterCount:
    """What one filter did: episodes it saw, kept and dropped, and the dropped ids."""

    name: str
    seen: int = 0
    kept: int = 0
    dropped_ids: list[str] = dataclasses.field(default_factory=list)

    @property
    def dropped(self) -> int:
        return self.seen - self.kept

    reasons: dict[str, int] = dataclasses.field(default_factory=dict)
    """Drops by rule, for filters that have several (``grounded``: guessed, unanswered, hint_leak)."""

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "name": self.name,
            "seen": self.seen,
            "kept": self.kept,
            "dropped": self.dropped,
        }
        if self.reasons:
            out["reasons"] = dict(self.reasons)
        return out


class FilterPipeline:
    """Filters applied in order; ``counts`` says what each did, ``total``/``kept`` the overall result."""

    def __init__(self, filters: Iterable[TrajectoryFilter]) -> None:
        self.filters = list(filters)
        self.counts = [FilterCount(f.name) for f in self.filters]
        self.total = 0
        self.kept = 0

    def run(self, trajectories: Iterable[Trajectory]) -> Iterator[Trajectory]:
        """Yield the trajectories every filter keeps (lazily: counts are final once exhausted)."""
        for t in trajectories:
            self.total += 1
            current = t
            for f, count in zip(self.filters, self.counts, strict=True):
                count.seen += 1
                result = f.apply(current)
                if result is None:
                    count.dropped_ids.append(t.id)
                    break
                count.kept += 1
                current = result
            else:
                self.kept += 1
                yield current

    def summary(self) -> dict[str, object]:
        """JSON-ready counts (for ``--json`` and for a run's record of how its data was made)."""
        for f, count in zip(self.filters, self.counts, strict=True):
            if reasons := getattr(f, "reasons", None):
                count.reasons = dict(reasons)
        return {"total": self.total, "kept": self.kept, "filters": [c.to_dict() for c in self.counts]}


FILTERS: Registry[type] = Registry(
    "filter",
    {
        "failed": FailedFilter,
        "status": StatusFilter,
        "parse_errors": ParseErrorFilter,
        "max_steps": MaxStepsFilter,
        "length": LengthFilter,
        "correct": CorrectnessFilter,
        "grounded": GroundedFilter,
        "forced_answer": ForcedAnswerFilter,
        "decontaminate": DecontaminationFilter,
        "dedup": DedupFilter,
        "per_task": PerTaskFilter,
    },
    error=ConfigError,
)
"""Filters by name; each is a dataclass whose fields are its arguments (``apply(trajectory)`` keeps or drops)."""


@dataclasses.dataclass
class FilterSpec:
    """One step of a filter pipeline as data, like lm-evaluation-harness's ``filter_list``: a registered
    filter's name and its arguments. In YAML a bare name (``- dedup``) or a mapping
    (``- {name: per_task, k: 2}``); the arguments are checked against the filter's fields when the config
    loads, before any stage runs."""

    name: str
    """A name in :data:`FILTERS` (``failed``, ``correct``, ``parse_errors``, ``dedup``, ...)."""
    args: dict[str, Any] = dataclasses.field(default_factory=dict)
    """The filter's own fields (``min_score``, ``max_errors``, ``k``, ...)."""

    def __post_init__(self) -> None:
        if self.name not in FILTERS:
            raise FieldError("name", str(FILTERS.unknown(self.name)))

    @classmethod
    def parse(cls, text: str, where: str = "--filter") -> FilterSpec:
        """``"dedup"`` or ``"per_task:k=2"`` / ``"correct:min_score=0.5,use_metrics=false"`` (values are YAML),
        the command-line form of a spec."""
        import yaml

        name, _, rest = text.partition(":")
        args: dict[str, Any] = {}
        for item in filter(None, (part.strip() for part in rest.split(","))):
            key, sep, raw = item.partition("=")
            if not sep or not key.strip():
                raise ConfigError(
                    f"{where} {text!r}: expected NAME or NAME:ARG=VALUE,... (e.g. per_task:k=2)"
                )
            try:
                args[key.strip()] = yaml.safe_load(raw) if raw.strip() else ""
            except yaml.YAMLError:
                args[key.strip()] = raw
        return cls.from_config_value({"name": name.strip(), **args}, f"{where} {text!r}")

    @classmethod
    def from_config_value(cls, value: Any, where: str) -> FilterSpec:
        """Read ``"dedup"`` or ``{"name": "per_task", "k": 2}`` and check the arguments."""
        if isinstance(value, str):
            name, args = value, {}
        elif isinstance(value, dict) and isinstance(value.get("name"), str):
            args = {k: v for k, v in value.items() if k != "name"}
            if set(args) == {"args"} and isinstance(args["args"], dict):  # the dumped form {name, args}
                args = dict(args["args"])
            name = value["name"]
        else:
            raise ConfigError(
                f"{where}: expected a filter name or a mapping with 'name' (e.g. {{name: per_task, k: 2}}), "
                f"got {value!r}"
            )
        if name not in FILTERS:
            raise ConfigError(f"{where}: {FILTERS.unknown(name)}")
        spec = cls(name, args)
        spec.build(where=where)  # validates the arguments; filters defer their expensive setup to use
        return spec

    def build(self, *, where: str = "filter", **context: Any) -> TrajectoryFilter:
        """A fresh filter; ``context`` (e.g. ``data_dir``) fills fields the arguments leave unset."""
        filter_cls = FILTERS.get(self.name)
        fields = {f.name for f in dataclasses.fields(filter_cls) if f.init}
        defaults = {k: v for k, v in context.items() if k in fields and k not in self.args and v is not None}
        return from_dict(filter_cls, {**defaults, **self.args}, where=f"{where}.{self.name}")


def default_filter_specs() -> list[FilterSpec]:
    """The pipeline's default chain: drop crashed episodes, keep correct ones whose (math) answers were
    computed, mask forced max-steps answers, decontaminate, deduplicate."""
    return [
        FilterSpec(n) for n in ("failed", "correct", "grounded", "forced_answer", "decontaminate", "dedup")
    ]


def build_filter_chain(specs: Iterable[FilterSpec], **context: Any) -> list[TrajectoryFilter]:
    """Fresh filters for a list of specs, in order (``context`` as for :meth:`FilterSpec.build`)."""
    return [spec.build(**context) for spec in specs]


def describe_filters() -> list[tuple[str, str, list[tuple[str, str, Any]]]]:
    """Every registered filter as (name, docstring, [(argument, doc, default)]): the ``--filter`` reference
    (arguments only Python can give, such as ``count_tokens``, are left out)."""
    from agentdistill.config import field_docs

    rows = []
    for name in FILTERS.names():
        cls = FILTERS.get(name)
        docs = field_docs(cls)
        args = [
            (f.name, docs.get(f.name, ""), _default_of(f))
            for f in dataclasses.fields(cls)
            if f.init and f.name not in ("count_tokens", "questions")
        ]
        rows.append((name, " ".join((cls.__doc__ or "").split()), args))
    return rows


def _default_of(field: dataclasses.Field) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return "required"


@dataclasses.dataclass
class FilterConfig:
    """A filter chain as data, rerunnable: the filters in order and the benchmark data decontamination
    compares against. ``agentdistill trajectories filter --config FILE`` reads it; every filtered folder
    holds the one that made it (``filters.yaml``). In YAML a bare list of filters is the short form."""

    SHORTHAND: ClassVar[str] = "filters"

    filters: list[FilterSpec] = dataclasses.field(default_factory=default_filter_specs)
    """Filters applied in order, each a name or ``{name: ..., <its arguments>}``."""
    data_dir: str | None = None
    """Benchmark data the ``decontaminate`` filter reads the evaluation questions from (default
    ``$AGENTDISTILL_DATA_DIR``, else the bundled samples)."""

    def build(self) -> list[TrajectoryFilter]:
        """Fresh filters for this chain."""
        return build_filter_chain(self.filters, data_dir=self.data_dir)

    def to_yaml(self) -> str:
        import yaml

        chain = [{"name": s.name, **s.args} if s.args else s.name for s in self.filters]
        return yaml.safe_dump({"filters": chain, "data_dir": self.data_dir}, sort_keys=False)


FILTER_RECORD = "filter.json"
"""What a filtered folder's filters did (counts per filter), beside its records."""
FILTER_CONFIG = "filters.yaml"
"""The :class:`FilterConfig` that made a filtered folder (``trajectories filter --config`` reruns it)."""


def run_filters(inputs: Sequence[str | Path], out: str | Path, config: FilterConfig) -> FilterPipeline:
    """Filter the trajectories of ``inputs`` (read in order) into the trajectory folder ``out``, with its
    :data:`FILTER_RECORD` and :data:`FILTER_CONFIG`: the one implementation behind ``trajectories filter``
    and the pipeline's filter stage, so the two give the same folder for the same input and chain."""
    import json

    from agentdistill.trajectories.store import TrajectoryStore, iter_trajectories

    out = Path(out)
    pipeline = FilterPipeline(config.build())
    episodes = (t for path in inputs for t in iter_trajectories(path))
    with TrajectoryStore(out) as store:
        for t in pipeline.run(episodes):
            store.append(t)
    source: Any = [str(p) for p in inputs]
    record = {"input": source[0] if len(source) == 1 else source, **pipeline.summary()}
    (out / FILTER_RECORD).write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")
    (out / FILTER_CONFIG).write_text(config.to_yaml(), encoding="utf-8")
    return pipeline


def filter_trajectories(
    trajectories: Iterable[Trajectory], filters: Iterable[TrajectoryFilter]
) -> tuple[list[Trajectory], FilterPipeline]:
    """Run filters over trajectories eagerly; returns (kept, pipeline with its counts)."""
    pipeline = FilterPipeline(filters)
    return list(pipeline.run(trajectories)), pipeline
