"""``agentdistill pipeline``: generate, filter, train, evaluate and report in one run directory.

Every stage writes into its own folder of ``run_dir`` and records a completion marker
(``run_dir/stages/<stage>.json``, written atomically) holding a digest of its settings *and of the
upstream output it read* (the trajectories, the filtered set, the trained checkpoint). A rerun skips
stages whose marker matches, resumes the ones that were interrupted (generation and evaluation resume
episode by episode, reusing only records of the current settings) and redoes a stage, and everything
after it, when its settings or its input changed; the stage then replaces the stale records of its
folder. One pipeline at a time owns a run directory (a lock), and a stage that ends with episodes to
retry (a server went away) stops the run with a non-zero exit instead of passing partial data on.

With ``rounds`` above 1 the first three stages repeat (failure-targeted distillation): after round r
the student is evaluated on the training pool, the pool tasks it fails get ``failure_boost`` more
episodes in round r+1 (from the teacher, or from that student), a dev split carved from the pool decides
when to stop, and the best round's student is the one evaluated on the benchmarks.

Each stage returns its typed result (:mod:`agentdistill.pipeline.stages`), stored in its marker and in
``pipeline.json``, which also records the config and, per stage, what it read and wrote.

    run_dir/
      pipeline.json   the config and every stage: what it read and wrote, its result
      trajectories/   teacher episodes (JSONL shards + manifest)        generate (round 1)
      filtered/       the episodes kept (+ filter.json, filters.yaml)   filter
      viewer.html     the kept episodes, step by step                   filter
      student/        the trained student (loads as hf:run_dir/student)  train
      rl/             the RL policy (GRPO from the student) + rollouts/  rl (with ``rl:``)
      rounds/<r>/     rounds 2.. (trajectories/, filtered/, student/) and every round's pool_eval/
      rounds.json     per round: episodes, kept, pool and dev accuracy, the best round
      eval/base/      the student before training                       eval
      eval/student/   the (best) student after training                 eval
      report/         report.md (the paired comparison, the stages), report.json, PNG plots
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from agentdistill.config import to_dict
from agentdistill.episodes.generate_config import GenerateConfig
from agentdistill.errors import AgentDistillError, IncompleteRunError
from agentdistill.evaluation.config import EvalConfig
from agentdistill.locking import DirectoryLock
from agentdistill.pipeline.config import PipelineConfig
from agentdistill.pipeline.stages import (
    STAGES,
    EvalStageResult,
    FilterStageResult,
    GenerateStageResult,
    PoolEvalStageResult,
    ReportStageResult,
    RLStageResult,
    RoundsResult,
    StageResult,
    TrainStageResult,
)
from agentdistill.schema import Task
from agentdistill.tasks.metrics import is_success
from agentdistill.training.config import TrainConfig
from agentdistill.training.rl_config import RLConfig

PIPELINE_RECORD = "pipeline.json"
"""The run's config and every stage that ran: its inputs, outputs and result."""


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _files_digest(folder: Path) -> str | None:
    """A stage folder's state: its record files' names, sizes and modification times (None if absent)."""
    if not folder.is_dir():
        return None
    files = sorted(p for p in folder.rglob("*.jsonl") if p.is_file())
    return _digest([(str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns) for p in files])


def _weights(folder: Path) -> str | None:
    """A checkpoint folder's fingerprint (None if it is not there yet)."""
    from agentdistill.fingerprints import checkpoint_fingerprint

    return checkpoint_fingerprint(folder) if folder.is_dir() else None


def in_dev_split(task_id: str, fraction: float, seed: int) -> bool:
    """A stable, seeded assignment of a pool task to the dev split (independent of the pool's order)."""
    h = int(hashlib.sha256(f"{seed}:{task_id}".encode()).hexdigest()[:8], 16)
    return h / 0xFFFFFFFF < fraction


class Pipeline:
    """Runs the stages of a :class:`PipelineConfig`; ``log`` receives one line per stage event."""

    def __init__(self, config: PipelineConfig, *, log: Callable[[str], None] = print, progress: bool = True):
        self.config = config
        self.run_dir = Path(config.run_dir)
        self.log = log
        self.progress = progress
        self.results: dict[str, StageResult] = {}
        self.ran: dict[str, dict[str, Any]] = {}
        """Per stage key: the stage, what it read and wrote, and whether it ran now (for pipeline.json)."""
        self._upstream_changed = False
        self._pool: list[Task] | None = None

    # -- layout ------------------------------------------------------------------------------------

    @property
    def multi_round(self) -> bool:
        return self.config.rounds.count > 1

    def round_dir(self, r: int, what: str) -> Path:
        """Round 1's trajectories/filtered/student are the classic top-level folders; later rounds'
        live in ``rounds/<r>/``, and every round's pool evaluation in ``rounds/<r>/pool_eval``."""
        if r == 1 and what in ("trajectories", "filtered", "student"):
            return self.run_dir / what
        return self.run_dir / "rounds" / str(r) / what

    def _key(self, stage: str, r: int) -> str:
        return stage if r == 1 else f"round-{r}-{stage}"

    # -- stage bookkeeping -------------------------------------------------------------------------

    def _marker(self, key: str) -> Path:
        return self.run_dir / "stages" / f"{key}.json"

    def _step(
        self,
        name: str,
        settings: Any,
        run: Callable[[], Mapping[str, Any]],
        *,
        r: int = 1,
        reads: Sequence[Path] = (),
        writes: Sequence[Path] = (),
    ) -> StageResult:
        """Run stage ``name`` (of round ``r``) unless its marker holds these settings (and nothing upstream
        ran this time); the result is the stage's own type (:data:`~agentdistill.pipeline.stages.STAGES`)."""
        stage, key = STAGES[name], self._key(name, r)
        marker = self._marker(key)
        digest = _digest(settings)
        record = {"stage": stage.name, "reads": [str(p) for p in reads], "writes": [str(p) for p in writes]}
        if not self._upstream_changed and marker.exists():
            stored = json.loads(marker.read_text())
            if stored.get("settings") == digest:
                self.results[key] = stage.result.from_dict(stored["result"])
                self.ran[key] = {**record, "ran": False, "result": self.results[key].to_dict()}
                self.log(f"[{key}] complete, skipped")
                return self.results[key]
        self._upstream_changed = True  # every later stage must rerun on this stage's new output
        self.log(f"[{key}] running")
        started = time.perf_counter()
        outcome = run()
        seconds = round(time.perf_counter() - started, 1)
        self.log(f"[{key}] done in {seconds / 60:.1f} min")
        result = stage.result.from_dict({**dict(outcome), "seconds": seconds})
        marker.parent.mkdir(parents=True, exist_ok=True)
        tmp = marker.with_suffix(".json.tmp")
        tmp.write_text(json.dumps({"settings": digest, "result": result.to_dict()}, default=str))
        os.replace(tmp, marker)  # a kill never leaves a half-written marker that looks complete
        self.results[key] = result
        self.ran[key] = {**record, "ran": True, "result": result.to_dict()}
        self._write_record()
        return result

    def _write_record(self) -> None:
        """``pipeline.json``: the config and every stage so far (atomically, after each stage)."""
        path = self.run_dir / PIPELINE_RECORD
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(
            json.dumps({"config": to_dict(self.config), "stages": self.ran}, indent=2, default=str)
        )
        os.replace(tmp, path)

    # -- generate ----------------------------------------------------------------------------------

    def _generate_config(self, r: int = 1) -> GenerateConfig:
        g = self.config.generate
        teacher = g.teacher
        if r > 1 and self.config.rounds.teacher == "student":
            teacher = dataclasses.replace(g.teacher, spec=f"hf:{self.round_dir(r - 1, 'student')}")
        return dataclasses.replace(
            g,
            out=str(self.round_dir(r, "trajectories")),
            teacher=teacher,
            overwrite=True,  # the run directory follows its config: records of other settings are replaced
            tasks=dataclasses.replace(g.tasks, strict_data=g.tasks.strict_data or self.config.strict_data),
        )

    def pool(self) -> list[Task]:
        """The training pool: every task of ``generate.tasks`` (loaded once)."""
        if self._pool is None:
            from agentdistill.episodes.generate import load_task_list

            self._pool = load_task_list(self._generate_config())
        return self._pool

    def split(self) -> tuple[list[Task], list[Task]]:
        """(train, dev) parts of the pool; no dev split with one round."""
        if not self.multi_round:
            return self.pool(), []
        rc = self.config.rounds
        dev = [t for t in self.pool() if in_dev_split(t.id, rc.dev_fraction, rc.seed)]
        ids = {t.id for t in dev}
        train = [t for t in self.pool() if t.id not in ids]
        if not dev or not train:
            raise AgentDistillError(
                f"rounds: the dev split of the {len(self.pool())}-task pool is {'empty' if not dev else 'everything'} "
                f"(rounds.dev_fraction {rc.dev_fraction}, seed {rc.seed}); use a larger pool or another dev_fraction"
            )
        return train, dev

    def _failed_ids(self, r: int) -> list[str]:
        return list(self.results[self._key("pool_eval", r)]["failed_ids"])

    def _round_work(self, r: int) -> tuple[list[Task], dict[str, int], dict[str, int]]:
        """Round r's tasks, their episode counts and the number of their first episode: the train split
        in round 1; afterwards the train tasks the previous round's student failed on the pool,
        ``failure_boost`` new episodes each, numbered after the ones earlier rounds drew."""
        train, _ = self.split()
        if r == 1:
            return train, {}, {}
        boost = self.config.rounds.failure_boost
        drawn = {t.id: self.config.generate.samples_per_task for t in train}
        for earlier in range(2, r):
            for tid in self._failed_ids(earlier - 1):
                drawn[tid] = drawn.get(tid, 0) + boost
        failed = set(self._failed_ids(r - 1))
        tasks = [t for t in train if t.id in failed]
        return tasks, {t.id: boost for t in tasks}, {t.id: drawn[t.id] for t in tasks}

    def stage_generate(self, r: int = 1) -> GenerateStageResult:
        from agentdistill.episodes.generate import generate

        cfg = self._generate_config(r)
        tasks, samples, first = self._round_work(r)
        if not tasks:
            return GenerateStageResult(note="no failed task left to sample")
        provenance = {"round": r, "teacher": cfg.teacher.spec} if self.multi_round else None
        summary = generate(
            cfg,
            progress=self.progress,
            tasks=tasks,
            samples=samples,
            first_sample=first,
            provenance=provenance,
        )
        if summary.transient:
            raise IncompleteRunError(
                f"generate: {summary.transient} episodes failed because a server or sandbox was unavailable; "
                "rerun the pipeline to retry them (finished episodes are kept)"
            )
        facts = {k: v for k, v in dataclasses.asdict(summary).items() if k != "out"}
        return GenerateStageResult.from_dict(facts)  # type: ignore[return-value]

    # -- filter and train --------------------------------------------------------------------------

    def _round_inputs(self, r: int) -> list[Path]:
        return [
            self.round_dir(i, "trajectories")
            for i in range(1, r + 1)
            if self.round_dir(i, "trajectories").is_dir()
        ]

    def filter_config(self) -> Any:
        """The filter chain of the filter stage, as ``trajectories filter --config`` reads it: the config's
        filters, decontaminating against the data of the evaluation sets."""
        from agentdistill.trajectories.filters import FilterConfig

        data_dir = self.config.eval.benchmarks.data_dir or self.config.generate.tasks.data_dir
        return FilterConfig(filters=list(self.config.filters), data_dir=data_dir)

    def stage_filter(self, r: int = 1) -> FilterStageResult:
        from agentdistill.trajectories.filters import run_filters
        from agentdistill.trajectories.viewer import write_viewer

        out = self.round_dir(r, "filtered")
        shutil.rmtree(out, ignore_errors=True)
        pipeline = run_filters(self._round_inputs(r), out, self.filter_config())
        kept = pipeline.kept
        viewer = self.run_dir / "viewer.html"
        write_viewer(out if kept else self.round_dir(r, "trajectories"), viewer)
        if not kept:
            raise AgentDistillError(
                f"no episode survived the filters (see {out / 'filter.json'} and {viewer}); loosen `filters:` "
                "(e.g. drop `correct`) or generate more samples per task"
            )
        return FilterStageResult(kept=kept, viewer=str(viewer), filters=pipeline.summary()["filters"])  # type: ignore[arg-type]

    def _train_config(self, r: int = 1) -> TrainConfig:
        return dataclasses.replace(
            self.config.train,
            data=[str(self.round_dir(r, "filtered"))],
            output_dir=str(self.round_dir(r, "student")),
        )

    def stage_train(self, r: int = 1) -> TrainStageResult:
        from agentdistill.training.sft import train

        cfg = self._train_config(r)
        cfg.validate()
        result = train(cfg)
        examples = result.data.used if result.data is not None else None
        student = f"hf:{cfg.output_dir}"
        return TrainStageResult(
            student=student, steps=result.steps, final_loss=result.final_loss, examples=examples
        )

    # -- pool evaluation and the stop rule ---------------------------------------------------------

    def stage_pool_eval(self, r: int) -> PoolEvalStageResult:
        """The round's student on the whole pool: its failures on the train split drive the next round,
        its accuracy on the dev split the stop."""
        from agentdistill.evaluation.run import run_eval
        from agentdistill.evaluation.runner import read_predictions

        train, dev = self.split()
        cfg = dataclasses.replace(
            self._eval_config("pool", f"hf:{self.round_dir(r, 'student')}"),
            out=str(self.round_dir(r, "pool_eval")),
            name=f"round {r}",
            baseline=None,
            plots=False,
        )
        result = run_eval(cfg, progress=self.progress, tasks=[*train, *dev])
        if result.transient:
            raise IncompleteRunError(f"pool eval of round {r}: {result.transient} tasks hit an outage; rerun")
        preds = read_predictions(Path(cfg.out) / "predictions.jsonl")
        solved = {i: is_success(preds[i].score) for i in preds}
        dev_ids = {t.id for t in dev}
        return PoolEvalStageResult(
            train_accuracy=_mean(solved[t.id] for t in train),
            dev_accuracy=_mean(solved[t.id] for t in dev),
            failed_ids=sorted(i for i, ok in solved.items() if not ok and i not in dev_ids),
        )

    def _dev_accuracy(self, r: int) -> float:
        return self.results[self._key("pool_eval", r)]["dev_accuracy"] or 0.0

    def _best_round(self, done: int) -> int:
        return -max((self._dev_accuracy(r), -r) for r in range(1, done + 1))[1]

    def _should_stop(self, r: int) -> bool:
        if r == 1:
            return False
        best_before = max(self._dev_accuracy(i) for i in range(1, r))
        return self._dev_accuracy(r) <= best_before + self.config.rounds.min_gain

    # -- rl, eval and report -----------------------------------------------------------------------

    def _eval_config(self, name: str, spec: str) -> EvalConfig:
        e = self.config.eval
        benchmarks = dataclasses.replace(
            e.benchmarks,
            data_dir=e.benchmarks.data_dir or self.config.generate.tasks.data_dir,
            strict_data=e.benchmarks.strict_data or self.config.strict_data,
        )
        return dataclasses.replace(
            e,
            out=str(self.run_dir / "eval" / name),
            name=name,
            model=dataclasses.replace(e.model, spec=spec),
            benchmarks=benchmarks,
            overwrite=True,
        )

    def _rl_config(self, student: Path) -> RLConfig:
        rl = self.config.rl
        assert rl is not None
        return dataclasses.replace(
            rl,
            student=dataclasses.replace(rl.student, spec=f"hf:{student}"),
            output_dir=str(self.run_dir / "rl"),
            tasks=rl.tasks.with_defaults(self.config.generate.tasks),
        )

    def stage_rl(self, student: Path) -> RLStageResult:
        from agentdistill.training.base import check_output_dir
        from agentdistill.training.grpo import train_rl

        cfg = self._rl_config(student)
        check_output_dir(Path(cfg.output_dir), overwrite=True)  # this stage owns run_dir/rl
        result = train_rl(cfg, log=self.log, eval_agent=self.config.eval.agent)
        return RLStageResult(
            policy=f"hf:{cfg.output_dir}",
            steps=result.steps,
            rollouts=result.rollouts.to_dict(),
            history=result.history,
        )

    def stage_eval(self, student: Path) -> EvalStageResult:
        from agentdistill.evaluation.run import run_eval

        e = self.config.eval
        runs = {}
        targets = [("student", f"hf:{student}")]
        if self.config.baseline:
            targets.insert(0, ("base", self.config.train.student.spec))
        for name, spec in targets:
            self.log(f"evaluating {name} ({spec}) on {', '.join(e.benchmarks.specs)}")
            result = run_eval(self._eval_config(name, spec), progress=self.progress)
            if result.transient:
                raise IncompleteRunError(
                    f"eval {name}: {result.transient} tasks failed because a server or sandbox was unavailable; "
                    "rerun the pipeline to retry them"
                )
            runs[name] = str(result.out_dir)
        return EvalStageResult(runs=runs)

    def stage_report(self) -> ReportStageResult:
        from agentdistill.evaluation.report import write_report

        runs = self.results["eval"]["runs"] if "eval" in self.results else {}
        if not runs:
            return ReportStageResult()
        report = write_report(list(runs.values()), self.run_dir / "report", names=list(runs))
        plots = [str(p) for p in report.plots]
        markdown = report.markdown
        rounds = self.results.get("rounds")
        if rounds and len(rounds["rounds"]) > 1:
            from agentdistill.evaluation.plots import plot_rounds

            plots.append(str(plot_rounds(rounds["rounds"], self.run_dir / "report" / "rounds.png")))
            markdown += render_rounds(rounds)
        markdown += render_stages(self.results)
        (self.run_dir / "report" / "report.md").write_text(markdown, encoding="utf-8")
        return ReportStageResult(table=str(report.table), plots=plots, markdown=markdown)

    # -- driver ------------------------------------------------------------------------------------

    def run(self) -> dict[str, StageResult]:
        """Run every stage that is not already complete; returns each stage's result."""
        with DirectoryLock(self.run_dir, "pipeline"):
            self._write_record()
            results = self._run_stages()
            self._write_record()
            return results

    def _run_stages(self) -> dict[str, StageResult]:
        c = self.config
        student = self._run_rounds()
        if c.rl is not None:
            settings = {"rl": to_dict(self._rl_config(student)), "weights": _weights(student)}
            self._step(
                "rl", settings, lambda: self.stage_rl(student), reads=[student], writes=[self.run_dir / "rl"]
            )
            student = self.run_dir / "rl"
        if c.eval.benchmarks.specs:
            settings = {
                "eval": to_dict(c.eval),
                "baseline": c.baseline,
                "student": str(student),
                "weights": _weights(student),
            }
            self._step(
                "eval",
                settings,
                lambda: self.stage_eval(student),
                reads=[student],
                writes=[self.run_dir / "eval"],
            )
        rounds = self.results["rounds"].to_dict() if "rounds" in self.results else None
        report_settings = {"input": _files_digest(self.run_dir / "eval"), "rounds": rounds}
        self._step(
            "report",
            report_settings,
            self.stage_report,
            reads=[self.run_dir / "eval"],
            writes=[self.run_dir / "report"],
        )
        return self.results

    def _run_round(self, r: int) -> dict[str, Any]:
        """Generate, filter, train (and, with several rounds, evaluate on the pool) for round r; returns the
        round's entry of ``rounds.json``."""
        c = self.config
        boost = self._failed_ids(r - 1) if r > 1 else None
        trajectories, filtered, student = (
            self.round_dir(r, w) for w in ("trajectories", "filtered", "student")
        )
        gen_settings = {
            "generate": to_dict(self._generate_config(r)),
            "split": self._split_settings(),
            "boost": boost,
            "rounds": self._round_settings(r),
            "teacher_weights": self._teacher_weights(r),
        }
        gen = self._step("generate", gen_settings, lambda: self.stage_generate(r), r=r, writes=[trajectories])
        inputs = self._round_inputs(r)
        filter_settings = {
            "filters": [to_dict(f) for f in c.filters],
            "input": [_files_digest(self.round_dir(i, "trajectories")) for i in range(1, r + 1)],
        }
        filt = self._step(
            "filter",
            filter_settings,
            lambda: self.stage_filter(r),
            r=r,
            reads=inputs,
            writes=[filtered],
        )
        train_settings = {"train": to_dict(c.train), "input": _files_digest(filtered)}
        tr = self._step(
            "train",
            train_settings,
            lambda: self.stage_train(r),
            r=r,
            reads=[filtered],
            writes=[student],
        )
        entry = {"round": r, "episodes": gen["episodes"], "kept": filt["kept"], "examples": tr["examples"]}
        if self.multi_round:
            pool_settings = {
                "eval": to_dict(c.eval),
                "split": self._split_settings(),
                "weights": _weights(student),
            }
            pool = self._step(
                "pool_eval",
                pool_settings,
                lambda: self.stage_pool_eval(r),
                r=r,
                reads=[student],
                writes=[self.round_dir(r, "pool_eval")],
            )
            entry.update(
                train_accuracy=pool["train_accuracy"],
                dev_accuracy=pool["dev_accuracy"],
                failed=len(pool["failed_ids"]),
            )
        return entry

    def _run_rounds(self) -> Path:
        """Rounds 1..R of generate, filter, train (and pool eval); returns the student to evaluate."""
        log: list[dict[str, Any]] = []
        last = 1
        for r in range(1, self.config.rounds.count + 1):
            last = r
            log.append(self._run_round(r))
            if self.multi_round and (self._should_stop(r) or not self._failed_ids(r)):
                break
        best = self._best_round(last) if self.multi_round else 1
        self.results["rounds"] = RoundsResult(rounds=log, best=best)
        if self.multi_round:
            (self.run_dir / "rounds.json").write_text(
                json.dumps({"rounds": log, "best": best}, indent=2) + "\n"
            )
            self.log(f"rounds: best dev accuracy in round {best} of {last}")
        return self.round_dir(best, "student")

    def _split_settings(self) -> dict[str, Any] | None:
        """What decides the train/dev split (and so every round's work): nothing with one round."""
        rc = self.config.rounds
        return {"dev_fraction": rc.dev_fraction, "seed": rc.seed} if self.multi_round else None

    def _round_settings(self, r: int) -> dict[str, Any] | None:
        """What decides a later round's episodes besides the split: the boost and who generates. The
        number of rounds and the stop rule are left out, so raising ``count`` only adds rounds."""
        rc = self.config.rounds
        return {"failure_boost": rc.failure_boost, "teacher": rc.teacher} if r > 1 else None

    def _teacher_weights(self, r: int) -> str | None:
        """The generating student's checkpoint in a self-improvement round (its retraining reruns it)."""
        if r == 1 or self.config.rounds.teacher != "student":
            return None
        return _weights(self.round_dir(r - 1, "student"))


def _mean(values: Any) -> float | None:
    values = [float(v) for v in values]
    return sum(values) / len(values) if values else None


def render_rounds(rounds: Mapping[str, Any]) -> str:
    """The per-round table for report.md."""
    lines = [
        "\n## Rounds\n",
        "| round | episodes | kept | examples | pool accuracy (train split) | dev accuracy | failed |",
        "|---|---|---|---|---|---|---|",
    ]
    for e in rounds["rounds"]:
        pct = lambda v: "–" if v is None else f"{100 * v:.2f}"  # noqa: E731
        mark = " (best)" if e["round"] == rounds["best"] else ""
        lines.append(
            f"| {e['round']}{mark} | {e['episodes']} | {e['kept']} | {e['examples']} | "
            f"{pct(e.get('train_accuracy'))} | {pct(e.get('dev_accuracy'))} | {e.get('failed', '–')} |"
        )
    return "\n".join(lines) + "\n"


def render_stages(results: Mapping[str, StageResult]) -> str:
    """Every stage that ran, with what it came to and its wall time, for report.md."""
    lines = ["\n## Stages\n", "| stage | result | minutes |", "|---|---|---|"]
    for key, result in results.items():
        if isinstance(result, RoundsResult):
            continue
        lines.append(f"| {key} | {result.summary().replace('|', '/')} | {result.seconds / 60:.1f} |")
    return "\n".join(lines) + "\n"


def run_pipeline(config: PipelineConfig, **kwargs: Any) -> dict[str, StageResult]:
    """Run (or resume) a pipeline; see :class:`Pipeline`."""
    return Pipeline(config, **kwargs).run()
