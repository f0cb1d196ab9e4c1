"""``agentdistill pipeline``: generate, filter, train, evaluate and report in one run directory.

Every stage writes into its own folder of ``run_dir`` and records a completion marker
(``run_dir/stages/<stage>.json``) holding a hash of the settings it ran with. A rerun skips stages whose
marker matches, resumes the ones that were interrupted (generation and evaluation resume episode by
episode) and redoes a stage, and everything after it, when its settings changed.

    run_dir/
      trajectories/   teacher episodes (JSONL shards + manifest)      generate
      filtered/       the episodes kept for training (+ filter.json)  filter
      viewer.html     the kept episodes, step by step                 filter
      student/        the trained student (loads as hf:run_dir/student) train
      eval/base/      the student before training                     eval
      eval/student/   the student after training                      eval
      report/         report.md, report.json, scores/steps/tokens PNGs report
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agentdistill.config import ModelConfig, ServeConfig, to_dict
from agentdistill.errors import AgentDistillError
from agentdistill.trajectories.config import GenerateConfig

STAGES = ("generate", "filter", "train", "eval", "report")


@dataclasses.dataclass
class FilterStageConfig:
    """Which teacher episodes become training data (see ``agentdistill trajectories filter``)."""

    correct: bool = True
    """Keep only episodes whose final answer is right (re-scored with the evaluation metrics)."""
    min_score: float | None = None
    """Score threshold instead of correct/incorrect (e.g. 0.5 F1 for QA)."""
    no_parse_errors: bool = False
    """Drop episodes with any step whose reply had no code block."""
    drop_unfinished: bool = False
    """Drop episodes that hit max_steps without calling final_answer."""
    max_steps: int | None = None
    """Drop episodes with more agent steps than this."""
    max_chars: int | None = None
    """Drop episodes longer than this many characters."""
    dedup: bool = True
    """Drop episodes identical to an earlier one of the same task."""
    per_task: int | None = None
    """Keep at most this many episodes per task."""
    decontaminate: bool = True
    """Drop tasks whose question appears in a registered evaluation set."""


@dataclasses.dataclass
class EvalStageConfig:
    """How the student is evaluated before and after training."""

    benchmarks: list[str] = dataclasses.field(default_factory=list)
    """Task specs (``gsm8k[:20]``, ``hotpotqa[:20]``); empty skips evaluation."""
    mode: str = "agent"
    """``agent``, ``cot`` or ``cot-rag``."""
    sag: int = 1
    """Self-consistent action candidates per step (agent mode)."""
    max_tokens: int = 512
    """New tokens per model call."""
    max_steps: int = 5
    """Agent steps per episode (agent mode)."""
    concurrency: int = 8
    """Tasks in flight."""
    domain: str | None = None
    """Domain of tasks read from local files (``qa`` or ``math``)."""
    baseline: bool = True
    """Also evaluate the untrained student, for the before/after comparison."""
    index: str = "demo"
    """Retrieval index behind ``web_search`` for QA benchmarks (``demo``: the bundled HotpotQA corpus)."""
    serve: ServeConfig | None = None
    """Serve each evaluated model (base and student) with a managed vLLM for its run, as ``generate.teacher``
    can; a LoRA student must be trained with ``merge: true`` to be served."""


@dataclasses.dataclass
class PipelineConfig:
    """A whole distillation run (``configs/demo.yaml`` is one)."""

    run_dir: str = "runs/pipeline"
    """Where every stage writes; rerunning with the same directory resumes."""
    generate: GenerateConfig = dataclasses.field(default_factory=GenerateConfig)
    """Teacher episodes; ``generate.out`` is ignored (it is ``run_dir/trajectories``)."""
    filter: FilterStageConfig = dataclasses.field(default_factory=FilterStageConfig)
    train: dict[str, Any] = dataclasses.field(default_factory=dict)
    """``TrainConfig`` fields (``student``, ``lora``, ``epochs``, ``max_steps``...); data and output_dir are set
    by the pipeline."""
    eval: EvalStageConfig = dataclasses.field(default_factory=EvalStageConfig)


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


class Pipeline:
    """Runs the stages of a :class:`PipelineConfig`; ``log`` receives one line per stage event."""

    def __init__(self, config: PipelineConfig, *, log: Callable[[str], None] = print, progress: bool = True):
        self.config = config
        self.run_dir = Path(config.run_dir)
        self.log = log
        self.progress = progress
        self.results: dict[str, dict[str, Any]] = {}
        self._upstream_changed = False

    # -- stage bookkeeping -------------------------------------------------------------------------

    def _marker(self, stage: str) -> Path:
        return self.run_dir / "stages" / f"{stage}.json"

    def _settings(self, stage: str) -> Any:
        c = self.config
        return {
            "generate": to_dict(self._generate_config()),
            "filter": to_dict(c.filter),
            "train": c.train,
            "eval": to_dict(c.eval),
            "report": None,
        }[stage]

    def _done(self, stage: str) -> bool:
        marker = self._marker(stage)
        if self._upstream_changed or not marker.exists():
            return False
        return json.loads(marker.read_text()).get("settings") == _digest(self._settings(stage))

    def _finish(self, stage: str, result: dict[str, Any]) -> None:
        marker = self._marker(stage)
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(
            json.dumps({"settings": _digest(self._settings(stage)), "result": result}, default=str)
        )
        self.results[stage] = result

    # -- stages ------------------------------------------------------------------------------------

    def _generate_config(self) -> GenerateConfig:
        return dataclasses.replace(self.config.generate, out=str(self.run_dir / "trajectories"))

    def stage_generate(self) -> dict[str, Any]:
        from agentdistill.trajectories.runner import generate

        summary = generate(self._generate_config(), progress=self.progress)
        return {k: v for k, v in dataclasses.asdict(summary).items() if k != "out"}

    def stage_filter(self) -> dict[str, Any]:
        from agentdistill.trajectories.filters import build_filters, filter_trajectories
        from agentdistill.trajectories.store import TrajectoryStore, iter_trajectories
        from agentdistill.trajectories.viewer import write_viewer

        out = self.run_dir / "filtered"
        shutil.rmtree(out, ignore_errors=True)
        f = self.config.filter
        filters = build_filters(
            correct=f.correct and f.min_score is None, min_score=f.min_score, no_parse_errors=f.no_parse_errors,
            drop_unfinished=f.drop_unfinished, max_steps=f.max_steps, max_chars=f.max_chars, dedup=f.dedup,
            per_task=f.per_task, decontaminate=f.decontaminate, data_dir=self.config.generate.data_dir,
        )  # fmt: skip
        kept, pipeline = filter_trajectories(iter_trajectories(self.run_dir / "trajectories"), filters)
        with TrajectoryStore(out) as store:
            for t in kept:
                store.append(t)
        (out / "filter.json").write_text(json.dumps(pipeline.summary(), indent=2, default=str))
        viewer = self.run_dir / "viewer.html"
        write_viewer(out if kept else self.run_dir / "trajectories", viewer)
        if not kept:
            raise AgentDistillError(
                f"no episode survived the filters (see {out / 'filter.json'} and {viewer}); loosen `filter:` "
                "(e.g. correct: false) or generate more samples per task"
            )
        return {"kept": len(kept), "viewer": str(viewer)}

    def stage_train(self) -> dict[str, Any]:
        from agentdistill.config import from_dict
        from agentdistill.training.config import TrainConfig
        from agentdistill.training.sft import train

        out = self.run_dir / "student"
        fields = {**self.config.train, "data": [str(self.run_dir / "filtered")], "output_dir": str(out)}
        cfg = from_dict(TrainConfig, fields, where="pipeline.train")
        result = train(cfg)
        return {"student": f"hf:{out}", "steps": result.steps, "final_loss": result.final_loss,
                "examples": result.data.used}  # fmt: skip

    def _student_spec(self) -> str:
        return str(self.config.train.get("student", "default"))

    def stage_eval(self) -> dict[str, Any]:
        from agentdistill.evaluation.config import EvalConfig
        from agentdistill.evaluation.pipeline import run_eval
        from agentdistill.models.specs import open_chat_model

        e = self.config.eval
        runs = {}
        targets = [("student", f"hf:{self.run_dir / 'student'}")]
        if e.baseline:
            targets.insert(0, ("base", self._student_spec()))
        for name, spec in targets:
            cfg = EvalConfig(
                benchmarks=list(e.benchmarks), out=str(self.run_dir / "eval" / name), agent=spec, mode=e.mode,
                sag=e.sag, max_tokens=e.max_tokens, max_steps=e.max_steps, concurrency=e.concurrency, seed=self.config.generate.seed,
                data_dir=self.config.generate.data_dir, name=name, domain=e.domain, index=e.index,
            )  # fmt: skip
            self.log(f"evaluating {name} ({spec}) on {', '.join(e.benchmarks)}")
            served = ModelConfig(spec=spec, serve=e.serve, max_concurrency=e.concurrency)
            with open_chat_model(served) as model:
                result = run_eval(cfg, model=model, progress=self.progress)
            runs[name] = str(result.out_dir)
        return {"runs": runs}

    def stage_report(self) -> dict[str, Any]:
        from agentdistill.evaluation.report import write_report

        runs = self.results.get("eval", {}).get("runs") or {}
        if not runs:
            return {}
        report = write_report(list(runs.values()), self.run_dir / "report", names=list(runs))
        return {
            "table": str(report.table),
            "plots": [str(p) for p in report.plots],
            "markdown": report.markdown,
        }

    # -- driver ------------------------------------------------------------------------------------

    def check(self) -> None:
        """Settings that would fail a late stage, caught before the first one runs."""
        from agentdistill.training.config import TrainConfig

        train = self.config.train
        if (
            self.config.eval.serve is not None
            and train.get("lora", TrainConfig.lora)
            and not train.get("merge")
        ):
            raise AgentDistillError(
                "eval.serve needs a servable student: set train.merge: true (or train.lora: false)"
            )

    def run(self) -> dict[str, dict[str, Any]]:
        """Run every stage that is not already complete; returns each stage's result."""
        self.check()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "pipeline.json").write_text(json.dumps(to_dict(self.config), indent=2, default=str))
        for stage in STAGES:
            if stage == "eval" and not self.config.eval.benchmarks:
                continue
            if self._done(stage):
                self.results[stage] = json.loads(self._marker(stage).read_text())["result"]
                self.log(f"[{stage}] complete, skipped")
                continue
            self._upstream_changed = True  # every later stage must rerun on this stage's new output
            self.log(f"[{stage}] running")
            started = time.perf_counter()
            result = getattr(self, f"stage_{stage}")()
            seconds = round(time.perf_counter() - started, 1)
            self.log(f"[{stage}] done in {seconds / 60:.1f} min")
            self._finish(stage, {**result, "seconds": seconds})
        return self.results


def run_pipeline(config: PipelineConfig, **kwargs: Any) -> dict[str, dict[str, Any]]:
    """Run (or resume) a pipeline; see :class:`Pipeline`."""
    return Pipeline(config, **kwargs).run()
