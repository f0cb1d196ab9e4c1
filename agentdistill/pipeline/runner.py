"""``agentdistill pipeline``: generate, filter, train, evaluate and report in one run directory.

Every stage writes into its own folder of ``run_dir`` and records a completion marker
(``run_dir/stages/<stage>.json``, written atomically) holding a digest of its settings *and of the
upstream output it read* (the trajectories, the filtered set, the trained checkpoint). A rerun skips
stages whose marker matches, resumes the ones that were interrupted (generation and evaluation resume
episode by episode, reusing only records of the current settings) and redoes a stage, and everything
after it, when its settings or its input changed; the stage then replaces the stale records of its
folder. One pipeline at a time owns a run directory (a lock), and a stage that ends with episodes to
retry (a server went away) stops the run with a non-zero exit instead of passing partial data on.

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
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agentdistill.config import to_dict
from agentdistill.errors import AgentDistillError, IncompleteRunError
from agentdistill.evaluation.config import EvalConfig
from agentdistill.locking import DirectoryLock
from agentdistill.pipeline.config import STAGES, PipelineConfig
from agentdistill.training.config import TrainConfig
from agentdistill.trajectories.config import GenerateConfig


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _files_digest(folder: Path) -> str | None:
    """A stage folder's state: its record files' names, sizes and modification times (None if absent)."""
    if not folder.is_dir():
        return None
    files = sorted(p for p in folder.rglob("*.jsonl") if p.is_file())
    return _digest([(str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns) for p in files])


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
        """What a stage's result depends on: its settings and the upstream output it reads."""
        from agentdistill.fingerprints import checkpoint_fingerprint

        c = self.config
        if stage == "generate":
            return to_dict(self._generate_config())
        if stage == "filter":
            return {
                "filters": [to_dict(f) for f in c.filters],
                "input": _files_digest(self.run_dir / "trajectories"),
            }
        if stage == "train":
            return {"train": to_dict(c.train), "input": _files_digest(self.run_dir / "filtered")}
        if stage == "eval":
            student = self.run_dir / "student"
            weights = checkpoint_fingerprint(student) if student.is_dir() else None
            return {"eval": to_dict(c.eval), "baseline": c.baseline, "student": weights}
        return {"input": _files_digest(self.run_dir / "eval")}

    def _done(self, stage: str) -> bool:
        marker = self._marker(stage)
        if self._upstream_changed or not marker.exists():
            return False
        return json.loads(marker.read_text()).get("settings") == _digest(self._settings(stage))

    def _finish(self, stage: str, result: dict[str, Any]) -> None:
        marker = self._marker(stage)
        marker.parent.mkdir(parents=True, exist_ok=True)
        tmp = marker.with_suffix(".json.tmp")
        tmp.write_text(
            json.dumps({"settings": _digest(self._settings(stage)), "result": result}, default=str)
        )
        os.replace(tmp, marker)  # a kill never leaves a half-written marker that looks complete
        self.results[stage] = result

    # -- stages ------------------------------------------------------------------------------------

    def _generate_config(self) -> GenerateConfig:
        g = self.config.generate
        return dataclasses.replace(
            g,
            out=str(self.run_dir / "trajectories"),
            overwrite=True,  # the run directory follows its config: records of other settings are replaced
            strict_data=g.strict_data or self.config.strict_data,
        )

    def stage_generate(self) -> dict[str, Any]:
        from agentdistill.trajectories.runner import generate

        summary = generate(self._generate_config(), progress=self.progress)
        if summary.transient:
            raise IncompleteRunError(
                f"generate: {summary.transient} episodes failed because a server or sandbox was unavailable; "
                "rerun the pipeline to retry them (finished episodes are kept)"
            )
        return {k: v for k, v in dataclasses.asdict(summary).items() if k != "out"}

    def stage_filter(self) -> dict[str, Any]:
        from agentdistill.trajectories.filters import FilterPipeline, build_filter_chain
        from agentdistill.trajectories.store import TrajectoryStore, iter_trajectories
        from agentdistill.trajectories.viewer import write_viewer

        out = self.run_dir / "filtered"
        shutil.rmtree(out, ignore_errors=True)
        filters = build_filter_chain(self.config.filters, data_dir=self.config.generate.data_dir)
        pipeline = FilterPipeline(filters)
        with TrajectoryStore(out) as store:
            for t in pipeline.run(iter_trajectories(self.run_dir / "trajectories")):
                store.append(t)
        kept = pipeline.kept
        (out / "filter.json").write_text(json.dumps(pipeline.summary(), indent=2, default=str))
        viewer = self.run_dir / "viewer.html"
        write_viewer(out if kept else self.run_dir / "trajectories", viewer)
        if not kept:
            raise AgentDistillError(
                f"no episode survived the filters (see {out / 'filter.json'} and {viewer}); loosen `filters:` "
                "(e.g. drop `correct`) or generate more samples per task"
            )
        return {"kept": kept, "viewer": str(viewer)}

    def _train_config(self) -> TrainConfig:
        out = self.run_dir / "student"
        return dataclasses.replace(
            self.config.train, data=[str(self.run_dir / "filtered")], output_dir=str(out)
        )

    def stage_train(self) -> dict[str, Any]:
        from agentdistill.training.sft import train

        cfg = self._train_config()
        cfg.validate()
        result = train(cfg)
        return {"student": f"hf:{cfg.output_dir}", "steps": result.steps, "final_loss": result.final_loss,
                "examples": result.data.used}  # fmt: skip

    def _eval_config(self, name: str, spec: str) -> EvalConfig:
        e = self.config.eval
        return dataclasses.replace(
            e,
            out=str(self.run_dir / "eval" / name),
            name=name,
            model=dataclasses.replace(e.model, spec=spec),
            data_dir=e.data_dir or self.config.generate.data_dir,
            overwrite=True,
            strict_data=e.strict_data or self.config.strict_data,
        )

    def stage_eval(self) -> dict[str, Any]:
        from agentdistill.evaluation.run import run_eval

        e = self.config.eval
        runs = {}
        targets = [("student", f"hf:{self.run_dir / 'student'}")]
        if self.config.baseline:
            targets.insert(0, ("base", self.config.train.student))
        for name, spec in targets:
            self.log(f"evaluating {name} ({spec}) on {', '.join(e.benchmarks)}")
            result = run_eval(self._eval_config(name, spec), progress=self.progress)
            if result.transient:
                raise IncompleteRunError(
                    f"eval {name}: {result.transient} tasks failed because a server or sandbox was unavailable; "
                    "rerun the pipeline to retry them"
                )
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

    def run(self) -> dict[str, dict[str, Any]]:
        """Run every stage that is not already complete; returns each stage's result."""
        with DirectoryLock(self.run_dir, "pipeline"):
            (self.run_dir / "pipeline.json").write_text(
                json.dumps(to_dict(self.config), indent=2, default=str)
            )
            return self._run_stages()

    def _run_stages(self) -> dict[str, dict[str, Any]]:
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
