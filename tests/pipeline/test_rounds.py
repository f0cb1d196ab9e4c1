"""Failure-targeted rounds: who gets more samples, the provenance of every record, the stop, resuming.

Generation is real (a scripted LangChain teacher, the real sandbox); training and the pool evaluation are
replaced by stand-ins here, so the scheduler's decisions can be checked exactly. The slow test in
test_pipeline.py runs two rounds with the default model end to end.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentdistill.config import from_dict
from agentdistill.errors import AgentDistillError
from agentdistill.pipeline import PipelineConfig
from agentdistill.pipeline.runner import Pipeline, in_dev_split
from agentdistill.trajectories.store import iter_trajectories

TEACHER = "langchain:tests.generate.fake_models:switchable"


def pool_file(tmp_path: Path, n: int) -> Path:
    path = tmp_path / "pool.jsonl"
    path.write_text(
        "".join(
            json.dumps({"id": f"p{i}", "question": f"What is 6 * 7 ({i})?", "answer": "42"}) + "\n"
            for i in range(n)
        )
    )
    return path


def config(tmp_path: Path, **rounds) -> PipelineConfig:
    return from_dict(
        PipelineConfig,
        {
            "run_dir": str(tmp_path / "run"),
            "generate": {"tasks": {"specs": [str(pool_file(tmp_path, 12))], "domain": "math"}, "teacher": {"spec": TEACHER},
                         "agent": {"max_steps": 1}, "concurrency": 4},
            "filters": ["failed", "correct"],
            "rounds": {"count": 3, "failure_boost": 3, "dev_fraction": 0.25, **rounds},
        },
    )  # fmt: skip


class StandIns:
    """Training writes a marker file as the 'student'; the pool eval fails a chosen set of tasks."""

    def __init__(self, pipeline: Pipeline, failures: dict[int, set[str]], dev_accuracy: dict[int, float]):
        self.failures, self.dev = failures, dev_accuracy
        self.trained: list[int] = []
        pipeline.stage_train = self.train  # type: ignore[method-assign]
        pipeline.stage_pool_eval = self.pool_eval  # type: ignore[method-assign]
        self.pipeline = pipeline

    def train(self, r: int = 1) -> dict:
        out = self.pipeline.round_dir(r, "student")
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps({"round": r}))
        self.trained.append(r)
        return {"student": f"hf:{out}", "steps": 1, "final_loss": 0.0, "examples": 1}

    def pool_eval(self, r: int) -> dict:
        train, _ = self.pipeline.split()
        failed = sorted(t.id for t in train if t.id.rsplit("/", 1)[1] in self.failures.get(r, set()))
        return {
            "train_accuracy": 1 - len(failed) / len(train),
            "dev_accuracy": self.dev[r],
            "failed_ids": failed,
        }


def test_failed_tasks_get_more_samples_with_provenance_and_the_best_round_wins(tmp_path, sandbox_config):
    pipeline = Pipeline(config(tmp_path), log=lambda line: None, progress=False)
    train, dev = pipeline.split()
    assert len(train) + len(dev) == 12 and dev and not {t.id for t in train} & {t.id for t in dev}
    assert all(in_dev_split(t.id, 0.25, 0) for t in dev)
    first_two = {t.id.rsplit("/", 1)[1] for t in train[:2]}
    stand = StandIns(
        pipeline, failures={1: first_two, 2: {next(iter(first_two))}}, dev_accuracy={1: 0.5, 2: 0.75, 3: 0.5}
    )
    results = pipeline.run()
    run = tmp_path / "run"
    round1 = list(iter_trajectories(run / "trajectories"))
    assert sorted(t.task.id for t in round1) == sorted(
        t.id for t in train
    )  # the dev split is never generated on
    assert all(t.metadata["round"] == 1 and t.metadata["teacher"] == TEACHER for t in round1)
    round2 = list(iter_trajectories(run / "rounds" / "2" / "trajectories"))
    assert sorted({t.task.id for t in round2}) == sorted(t.id for t in train[:2])
    assert len(round2) == 2 * 3 and all(t.metadata["round"] == 2 for t in round2)  # failure_boost each
    assert sorted(t.id.split("#")[1] for t in round2) == ["1", "1", "2", "2", "3", "3"]  # new samples
    round3 = list(iter_trajectories(run / "rounds" / "3" / "trajectories"))
    assert len(round3) == 3 and all(t.metadata["round"] == 3 for t in round3)
    # data accumulates: round 3 trains on rounds 1-3
    assert len(list(iter_trajectories(run / "rounds" / "3" / "filtered"))) == len(round1) + 6 + 3
    # round 3's dev accuracy (0.5) is below round 2's (0.75): stop there; round 2's student is the one
    assert stand.trained == [1, 2, 3] and results["rounds"]["best"] == 2
    assert json.loads((run / "rounds.json").read_text())["best"] == 2
    assert [e["dev_accuracy"] for e in results["rounds"]["rounds"]] == [0.5, 0.75, 0.5]


def test_no_gain_stops_early_and_a_killed_round_resumes(tmp_path, sandbox_config, monkeypatch):
    pipeline = Pipeline(config(tmp_path), log=lambda line: None, progress=False)
    train, _ = pipeline.split()
    fail = {train[0].id.rsplit("/", 1)[1]}
    stand = StandIns(pipeline, failures={1: fail, 2: fail}, dev_accuracy={1: 0.5, 2: 0.5, 3: 1.0})
    calls = {"n": 0}
    original = Pipeline.stage_filter

    def crashing_filter(self, r=1):
        calls["n"] += 1
        if r == 2 and calls["n"] == 2:
            raise KeyboardInterrupt  # killed in the middle of round 2
        return original(self, r)

    monkeypatch.setattr(Pipeline, "stage_filter", crashing_filter)
    with pytest.raises(KeyboardInterrupt):
        pipeline.run()
    log: list[str] = []
    again = Pipeline(config(tmp_path), log=log.append, progress=False)
    stand2 = StandIns(again, failures={1: fail, 2: fail}, dev_accuracy={1: 0.5, 2: 0.5, 3: 1.0})
    results = again.run()
    assert "[generate] complete, skipped" in log and "[round-2-generate] complete, skipped" in log
    assert "[round-2-filter] running" in log
    assert stand.trained == [1] and stand2.trained == [2]  # nothing done twice
    # round 2 did not beat round 1 on dev: no third round, round 1's student is evaluated
    assert [e["round"] for e in results["rounds"]["rounds"]] == [1, 2] and results["rounds"]["best"] == 1
    assert not (tmp_path / "run" / "rounds" / "3").exists()


def test_rounds_config_accepts_a_count_or_a_mapping():
    assert from_dict(PipelineConfig, {"rounds": 3}).rounds.count == 3
    cfg = from_dict(PipelineConfig, {"rounds": {"count": 2, "teacher": "student"}})
    assert (cfg.rounds.count, cfg.rounds.teacher, cfg.rounds.failure_boost) == (2, "student", 2)
    from agentdistill.config import ConfigError

    with pytest.raises(ConfigError, match=r"rounds\.teacher must be one of 'teacher', 'student'"):
        from_dict(PipelineConfig, {"rounds": {"count": 2, "teacher": "self"}}, where="p.yaml")


def test_raising_the_round_count_only_adds_rounds(tmp_path, sandbox_config):
    first = Pipeline(config(tmp_path, count=2), log=lambda line: None, progress=False)
    train, _ = first.split()
    fail = {train[0].id.rsplit("/", 1)[1]}
    StandIns(first, failures={1: fail, 2: fail, 3: fail}, dev_accuracy={1: 0.25, 2: 0.5, 3: 0.75})
    first.run()
    log: list[str] = []
    more = Pipeline(config(tmp_path, count=3), log=log.append, progress=False)
    stand = StandIns(more, failures={1: fail, 2: fail, 3: fail}, dev_accuracy={1: 0.25, 2: 0.5, 3: 0.75})
    results = more.run()
    assert "[round-2-pool_eval] complete, skipped" in log and "[round-3-generate] running" in log
    assert stand.trained == [3] and results["rounds"]["best"] == 3


def test_an_empty_dev_split_is_refused(tmp_path):
    pipeline = Pipeline(config(tmp_path, dev_fraction=0.01), log=lambda line: None, progress=False)
    with pytest.raises(AgentDistillError, match="the dev split of the 12-task pool is empty"):
        pipeline.split()
