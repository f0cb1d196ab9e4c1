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
    "generate": {
        "tasks": ["math:train[:1]", "hotpotqa:train[:1]"],
        "concurrency": 2,
        "seed": 0,
        "agent": {"max_steps": 1, "max_tokens": 40, "final_max_tokens": 16, "reference_hint": True},
    },
    "filter": {"correct": False},
    "train": {
        "student": "default",
        "lora": True,
        "max_steps": 1,
        "per_device_batch_size": 1,
        "gradient_accumulation_steps": 1,
        "max_length": 1536,
    },
    "eval": {"benchmarks": ["gsm8k[:1]"], "mode": "cot", "max_tokens": 24, "concurrency": 2},
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
