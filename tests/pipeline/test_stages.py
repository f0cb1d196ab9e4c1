"""Typed pipeline stages (every stage that ran reaches pipeline.json, the summary and the report, RL
included) and one filter vocabulary (``trajectories filter --config`` reruns the pipeline's filter stage)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentdistill.config import from_dict
from agentdistill.pipeline import PipelineConfig
from agentdistill.pipeline.runner import Pipeline
from agentdistill.pipeline.stages import STAGES, RLStageResult, TrainStageResult
from agentdistill.trajectories.cli import trajectories_app
from agentdistill.trajectories.store import TrajectoryStore

from ..evaluation.scripted import ScriptedChatModel
from ..trajectories.samples import all_samples

TEACHER = "langchain:tests.generate.fake_models:switchable"


@pytest.mark.parametrize(
    "filters",
    [
        None,  # the pipeline's default chain, and the CLI's when given neither --config nor --filter
        ["failed", "parse_errors", {"name": "max_steps", "max_steps": 5}, "correct", "grounded",
         {"name": "forced_answer", "policy": "train"}, "decontaminate", "dedup", {"name": "per_task", "k": 1}],
    ],
    ids=["default-chain", "every-filter"],
)  # fmt: skip
def test_trajectories_filter_config_reproduces_the_pipelines_filter_stage(tmp_path, monkeypatch, filters):
    monkeypatch.delenv("AGENTDISTILL_DATA_DIR", raising=False)
    data = {"run_dir": str(tmp_path / "run"), **({"filters": filters} if filters else {})}
    pipeline = Pipeline(from_dict(PipelineConfig, data), log=lambda line: None, progress=False)
    with TrajectoryStore(tmp_path / "run" / "trajectories") as store:
        for t in all_samples():
            store.append(t)
    result = pipeline.stage_filter(1)
    assert result.kept > 0
    filtered = tmp_path / "run" / "filtered"

    args = ["filter", str(tmp_path / "run" / "trajectories"), "--out", str(tmp_path / "by-hand")]
    if filters:
        args += ["--config", str(filtered / "filters.yaml")]
    r = CliRunner().invoke(trajectories_app, args)
    assert r.exit_code == 0, r.output
    by_hand = tmp_path / "by-hand"
    assert (by_hand / "part-00000.jsonl").read_bytes() == (filtered / "part-00000.jsonl").read_bytes()
    assert (by_hand / "filter.json").read_bytes() == (filtered / "filter.json").read_bytes()
    assert (by_hand / "filters.yaml").read_bytes() == (filtered / "filters.yaml").read_bytes()


def test_every_stage_that_ran_reaches_pipeline_json_the_summary_and_the_report(tmp_path, sandbox_config):
    from agentdistill.evaluation.run import run_eval
    from agentdistill.pipeline.cli import summary_lines

    pool = tmp_path / "pool.jsonl"
    rows = [{"id": f"q{i}", "question": f"What is 6 * 7 ({i})?", "answer": "42"} for i in range(3)]
    pool.write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = from_dict(
        PipelineConfig,
        {
            "run_dir": str(tmp_path / "run"),
            "generate": {"tasks": {"specs": [str(pool)], "domain": "math"}, "teacher": TEACHER,
                         "agent": {"max_steps": 1}},
            "filters": ["failed", "correct"],
            "train": {"lora": False},
            "rl": {"steps": 1},
            "eval": {"benchmarks": {"specs": [str(pool)], "domain": "math"}, "mode": "cot", "plots": False},
        },
    )  # fmt: skip

    def with_stand_ins(log: list[str]) -> Pipeline:
        """Real generation, filtering, evaluation and report; training and RL write stand-in models."""
        p = Pipeline(config, log=log.append, progress=False)

        def train(r: int = 1) -> dict:
            out = p.round_dir(r, "student")
            out.mkdir(parents=True, exist_ok=True)
            (out / "config.json").write_text("{}")
            return {"student": f"hf:{out}", "steps": 3, "final_loss": 0.5, "examples": 3}

        def rl(student: Path) -> RLStageResult:
            (p.run_dir / "rl").mkdir(exist_ok=True)
            (p.run_dir / "rl" / "config.json").write_text("{}")
            history = [{"step": 1, "reward": 0.25}, {"step": 2, "reward": 0.75}]
            return RLStageResult(policy=f"hf:{p.run_dir / 'rl'}", steps=2, rollouts={"rollouts": 8},
                                 history=history)  # fmt: skip

        def evaluate(student: Path) -> dict:
            reply = ScriptedChatModel(lambda conv: "so \\boxed{42}")
            runs = {}
            for name in ("base", "student"):
                result = run_eval(p._eval_config(name, "default"), model=reply, progress=False)
                runs[name] = str(result.out_dir)
            return {"runs": runs}

        p.stage_train, p.stage_rl, p.stage_eval = train, rl, evaluate  # type: ignore[method-assign]
        return p

    log: list[str] = []
    results = with_stand_ins(log).run()
    assert list(results) == ["generate", "filter", "train", "rounds", "rl", "eval", "report"]
    assert isinstance(results["train"], TrainStageResult) and isinstance(results["rl"], RLStageResult)
    assert results["generate"]["succeeded"] == 3 and results["filter"].kept == 3 and results["rl"].steps == 2

    record = json.loads((tmp_path / "run" / "pipeline.json").read_text())
    assert record["config"]["rl"]["steps"] == 1
    stages = record["stages"]
    assert list(stages) == ["generate", "filter", "train", "rl", "eval", "report"]
    assert all(s["ran"] for s in stages.values())
    assert stages["rl"]["result"]["history"][-1]["reward"] == 0.75
    assert stages["rl"]["reads"] == [str(tmp_path / "run" / "student")]
    assert stages["rl"]["writes"] == [str(tmp_path / "run" / "rl")] == stages["eval"]["reads"]
    assert {s["stage"] for s in stages.values()} <= set(STAGES)

    report = (tmp_path / "run" / "report" / "report.md").read_text()
    assert "## Stages" in report and "| rl | hf:" in report and "reward 0.250 -> 0.750" in report
    summary = summary_lines(results)
    assert any(line.startswith("rl: hf:") and "8 rollouts" in line for line in summary)
    assert any(line.startswith("train: hf:") for line in summary)

    # a rerun skips every stage and reads the same typed results back from the markers
    again_log: list[str] = []
    again = with_stand_ins(again_log).run()
    assert sum("complete, skipped" in line for line in again_log) == 6
    assert again["rl"] == results["rl"] and isinstance(again["rl"], RLStageResult)
    stages = json.loads((tmp_path / "run" / "pipeline.json").read_text())["stages"]
    assert not any(s["ran"] for s in stages.values())
