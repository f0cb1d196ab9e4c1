"""`agentdistill pipeline` end to end on a micro config: real default model, sandbox, training, eval."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]

MICRO = {
    "strict_data": False,  # the bundled samples stand in for the benchmarks
    "generate": {
        "tasks": {"specs": ["math:train[:1]", "hotpotqa:train[:1]"], "seed": 0},
        "concurrency": 2,
        # no worked example: a prompt a third as long keeps these tests to minutes on 2 cores
        "agent": {
            "max_steps": 1,
            "max_tokens": 40,
            "final_max_tokens": 16,
            "reference_hint": True,
            "use_examples": False,
        },
    },
    "filters": ["failed", "decontaminate", "dedup"],
    "train": {
        "student": "default",
        "lora": True,
        "max_steps": 1,
        "per_device_batch_size": 1,
        "gradient_accumulation_steps": 1,
        "max_length": 1536,
        "gradient_checkpointing": False,  # a 135M model fits; checkpointing would only cost time
    },
    "eval": {"benchmarks": ["gsm8k[:1]"], "mode": "cot", "agent": {"max_tokens": 24}, "concurrency": 2},
}


@pytest.mark.slow
def test_micro_pipeline_end_to_end_and_resume(tmp_path, sandbox_config):
    config = tmp_path / "micro.yaml"
    config.write_text(yaml.safe_dump({"run_dir": str(tmp_path / "run"), **MICRO}))
    cmd = [sys.executable, "-m", "agentdistill.cli", "pipeline", "--config", str(config), "--no-progress"]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    run = tmp_path / "run"
    for stage in ("generate", "filter", "train", "eval", "report"):
        assert (run / "stages" / f"{stage}.json").is_file(), stage
    assert len(list((run / "trajectories").glob("part-*.jsonl"))) == 1
    assert (run / "viewer.html").stat().st_size > 1000
    assert (run / "student" / "tokenizer.json").is_file() or (
        run / "student" / "tokenizer_config.json"
    ).is_file()
    summary = json.loads((run / "stages" / "train.json").read_text())["result"]
    assert summary["steps"] == 1 and summary["student"] == f"hf:{run / 'student'}"
    assert summary["seconds"] > 0 and "minutes per stage" in proc.stdout
    for name in ("base", "student"):
        assert (run / "eval" / name / "predictions.jsonl").read_text().count("\n") == 1
    report = (run / "report" / "report.md").read_text()
    assert "base" in report and "student" in report
    assert list((run / "report").glob("*.png"))
    assert "report:" in proc.stdout and "viewer" in proc.stdout

    # A rerun skips every finished stage.
    again = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout[-2000:]
    assert again.stdout.count("complete, skipped") == 5


def test_eval_serve_needs_a_servable_student(tmp_path):
    from agentdistill.errors import AgentDistillError
    from agentdistill.evaluation.config import EvalConfig
    from agentdistill.models.config import ModelConfig, ServeConfig
    from agentdistill.pipeline import PipelineConfig
    from agentdistill.training.config import TrainConfig

    with pytest.raises(AgentDistillError, match="merge: true"):
        PipelineConfig(
            run_dir=str(tmp_path / "run"),
            train=TrainConfig(lora=True),
            eval=EvalConfig(benchmarks=["gsm8k[:1]"], model=ModelConfig(serve=ServeConfig())),
        )
    assert not (tmp_path / "run" / "trajectories").exists()  # caught before the first stage


@pytest.mark.slow
def test_micro_pipeline_served_by_vllm(tmp_path, sandbox_config, served_default):
    """Base and student each behind a managed vLLM server (the offline experiment's path), the teacher behind
    the session's shared vLLM (a managed teacher server is the same `open_chat_model` path, checked in
    tests/models/test_openai_vllm.py)."""
    serve = {"max_model_len": 2048}
    config = {
        **MICRO,
        "run_dir": str(tmp_path / "run"),
        "generate": {
            **MICRO["generate"],
            "tasks": ["math:train[:1]"],
            "teacher": {"spec": served_default.spec},
        },
        "train": {**MICRO["train"], "lora": False},
        "eval": {
            **MICRO["eval"],
            "mode": "agent",
            "agent": {"max_tokens": 24, "max_steps": 1, "final_max_tokens": 16, "use_examples": False},
            "model": {"serve": serve},
        },
    }
    path = tmp_path / "served.yaml"
    path.write_text(yaml.safe_dump(config))
    cmd = [sys.executable, "-m", "agentdistill.cli", "pipeline", "--config", str(path), "--no-progress"]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    run = tmp_path / "run"
    teacher = json.loads((run / "trajectories" / "part-00000.jsonl").read_text().splitlines()[0])
    assert teacher["agent"]["model"].startswith("openai:default@http://127.0.0.1:")
    for name, served_as in (("base", "default"), ("student", "student")):
        (line,) = (run / "eval" / name / "predictions.jsonl").read_text().splitlines()
        assert json.loads(line)["agent"]["model"].startswith(f"openai:{served_as}@http://127.0.0.1:")
    report = (run / "report" / "report.md").read_text()
    assert "## Agent behaviour" in report


def _predictions(run: Path, name: str) -> list[dict]:
    return [json.loads(x) for x in (run / "eval" / name / "predictions.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_changed_eval_settings_and_a_retrained_student_never_show_old_predictions(tmp_path, sandbox_config):
    from ..fake_openai_server import FakeTeacher

    teacher = FakeTeacher().start()
    try:
        pool, held_out = tmp_path / "pool.jsonl", tmp_path / "held_out.jsonl"
        for path, n in ((pool, 4), (held_out, 2)):
            rows = [
                {"id": f"q{i}", "question": f"What is 6 * 7 ({path.stem} {i})?", "answer": "42"}
                for i in range(n)
            ]
            path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        config = {
            "run_dir": str(tmp_path / "run"),
            "generate": {
                "tasks": {"specs": [str(pool)], "domain": "math"},
                "teacher": {"spec": teacher.spec, "max_retries": 1},
                "agent": {"max_steps": 1, "use_examples": False},
            },
            "filters": ["failed"],
            "train": {**MICRO["train"], "lora": False, "gradient_checkpointing": False, "max_length": 1024},
            "eval": {
                "benchmarks": {"specs": [str(held_out)], "domain": "math"},
                "mode": "agent",
                "agent": {"max_steps": 1, "max_tokens": 24, "final_max_tokens": 16, "use_examples": False},
                "concurrency": 2,
                "plots": False,
            },
        }
        path = tmp_path / "p.yaml"

        def run_pipeline() -> str:
            path.write_text(yaml.safe_dump(config))
            cmd = [
                sys.executable,
                "-m",
                "agentdistill.cli",
                "pipeline",
                "--config",
                str(path),
                "--no-progress",
            ]
            proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=1500)
            assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
            return proc.stdout

        run_pipeline()
        run = tmp_path / "run"
        first = {name: _predictions(run, name) for name in ("base", "student")}
        assert all(p["agent"]["generation"]["max_steps"] == 1 for rows in first.values() for p in rows)

        # eval.agent.max_steps changes: every prediction is redone, none is shown from the old settings
        config["eval"]["agent"]["max_steps"] = 2
        out = run_pipeline()
        assert out.count("complete, skipped") == 3  # generate, filter, train
        second = {name: _predictions(run, name) for name in ("base", "student")}
        for name in ("base", "student"):
            assert len(second[name]) == 2  # replaced, not shadowed
            assert all(p["agent"]["generation"]["max_steps"] == 2 for p in second[name])
            old = {p["fingerprint"] for p in first[name]}
            assert not old & {p["fingerprint"] for p in second[name]}

        # the student is retrained: its predictions are redone, the base model's are reused
        config["train"]["learning_rate"] = 5e-5
        run_pipeline()
        third = {name: _predictions(run, name) for name in ("base", "student")}
        assert [p["fingerprint"] for p in third["base"]] == [p["fingerprint"] for p in second["base"]]
        assert not {p["fingerprint"] for p in third["student"]} & {
            p["fingerprint"] for p in second["student"]
        }
        student_metrics = json.loads((run / "eval" / "student" / "metrics.json").read_text())
        base_metrics = json.loads((run / "eval" / "base" / "metrics.json").read_text())
        assert student_metrics["run"]["solved_this_invocation"] == 2
        assert base_metrics["run"]["solved_this_invocation"] == 0
    finally:
        teacher.stop()


@pytest.mark.slow
def test_two_rounds_with_the_default_model(tmp_path, sandbox_config):
    pool = tmp_path / "pool.jsonl"
    rows = [{"id": f"q{i}", "question": f"What is {123 + i} * {457 + i}?", "answer": str((123 + i) * (457 + i))}
            for i in range(6)]  # fmt: skip
    pool.write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = {
        "run_dir": str(tmp_path / "run"),
        "generate": {
            "tasks": {"specs": [str(pool)], "domain": "math"},
            "concurrency": 4,
            # no worked example: a prompt a third as long keeps this test to minutes on 2 cores
            "agent": {"max_steps": 1, "max_tokens": 48, "final_max_tokens": 16, "use_examples": False},
        },
        "filters": ["failed"],
        "train": MICRO["train"],
        "eval": {
            "benchmarks": [],
            "mode": "agent",
            "agent": {"max_steps": 1, "max_tokens": 32, "final_max_tokens": 16, "use_examples": False},
            "concurrency": 4,
        },
        "rounds": {"count": 2, "failure_boost": 2, "dev_fraction": 0.34},
    }
    path = tmp_path / "rounds.yaml"
    path.write_text(yaml.safe_dump(config))
    cmd = [sys.executable, "-m", "agentdistill.cli", "pipeline", "--config", str(path), "--no-progress"]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    run = tmp_path / "run"
    summary = json.loads((run / "rounds.json").read_text())
    round1_failed = set(json.loads((run / "stages" / "pool_eval.json").read_text())["result"]["failed_ids"])
    assert round1_failed, "the untrained 135M model should fail some 3-digit products"
    from agentdistill.trajectories.store import iter_trajectories

    round2 = list(iter_trajectories(run / "rounds" / "2" / "trajectories"))
    assert {t.task.id for t in round2} == round1_failed
    assert all(t.metadata["round"] == 2 and t.metadata["teacher"] == "default" for t in round2)
    per_task = {tid: sorted(t.id for t in round2 if t.task.id == tid) for tid in round1_failed}
    assert all(ids == [f"{tid}#1", f"{tid}#2"] for tid, ids in per_task.items())  # 2 more samples each
    assert [e["round"] for e in summary["rounds"]] == [1, 2] and summary["best"] in (1, 2)
    assert all(e["dev_accuracy"] is not None for e in summary["rounds"])
    assert "round 1" in proc.stdout and "dev accuracy" in proc.stdout
