"""``agentdistill train`` end to end (CoT baseline data, eval split, summary) and its one-line errors."""

from __future__ import annotations

import json

import pytest

from agentdistill.cli import main

from .fixtures import cot_trajectories


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(["train", *args])
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


@pytest.mark.slow
def test_train_cot_baseline_from_the_command_line(capsys, cot_data, tmp_path):
    """The CoT baseline trains with the same command; the summary accounts for every example."""
    out = tmp_path / "student"
    config = tmp_path / "recipe.yaml"
    config.write_text(
        "lora_r: 8\nlora_alpha: 16\nper_device_batch_size: 2\ngradient_accumulation_steps: 1\n"
        "gradient_checkpointing: false\nlogging_steps: 1\nwarmup_ratio: 0.0\n"
    )
    code, stdout, stderr = run_cli(
        capsys,
        "--student", "default", "--data", str(cot_data), "--out", str(out), "--config", str(config),
        "--lora", "--max-steps", "2", "--lr", "1e-3", "--max-length", "256", "--eval-fraction", "0.34",
        "--merge",
    )  # fmt: skip
    assert code == 0, stderr
    assert "data: 3 used of 3 read, 1 of them held out for evaluation, 0 truncated" in stdout
    assert "examples   3 used (1 held out for evaluation), 0 skipped, 0 truncated (of 3)" in stdout
    assert "final loss" in stdout and "eval loss" in stdout
    assert f"output     {out} (merged model)" in stdout
    assert (out / "model.safetensors").is_file() and (out / "adapter" / "adapter_config.json").is_file()
    summary = json.loads((out / "training_summary.json").read_text())
    assert summary["config"]["max_length"] == 256 and summary["config"]["lora_r"] == 8
    assert summary["result"]["steps"] == 2 and summary["result"]["merged"] is True

    # a second run into the same folder needs --overwrite
    code, _, stderr = run_cli(capsys, "--data", str(cot_data), "--out", str(out), "--max-steps", "1")
    assert code == 2 and "already holds a trained model" in stderr and "--overwrite" in stderr


def test_bad_data_is_a_one_line_error(capsys, tmp_path):
    rec = cot_trajectories()[0].to_dict()
    rec["schema"] = "agentdistill.trajectory/99"
    (tmp_path / "future.jsonl").write_text(json.dumps(rec) + "\n")
    code, _, stderr = run_cli(capsys, "--data", str(tmp_path / "future.jsonl"), "--out", str(tmp_path / "o"))
    assert code == 2
    assert "future.jsonl:1: field 'schema': unknown schema version" in stderr
    assert "Traceback" not in stderr


def test_all_masked_data_is_an_error_not_an_empty_run(capsys, tmp_path):
    rec = cot_trajectories()[0]
    for m in rec.messages:
        m.train = False
    (tmp_path / "masked.jsonl").write_text(rec.to_json() + "\n")
    code, _, stderr = run_cli(capsys, "--data", str(tmp_path / "masked.jsonl"), "--out", str(tmp_path / "o"))
    assert code == 2 and "no usable training example among 1 records" in stderr
    assert not (tmp_path / "o" / "training_summary.json").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "no training data"),
        (["--data", "x.jsonl"], "no output directory"),
        (["--data", "x.jsonl", "--out", "o", "--full", "--merge"], "merge only applies to LoRA"),
        (["--data", "x.jsonl", "--out", "o", "--truncation", "middle"], "truncation must be one of"),
        (["--data", "x.jsonl", "--out", "o", "--student", "openai:gpt-4o"], "only local weights train"),
    ],
)
def test_usage_errors(capsys, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    code, _, stderr = run_cli(capsys, *args)
    assert code == 2 and message in stderr


def test_unknown_recipe_key_names_file_and_key(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("lora_rank: 8\n")
    code, _, stderr = run_cli(capsys, "--config", str(bad), "--data", "x", "--out", "o")
    assert code == 2 and "bad.yaml: unknown key 'lora_rank'" in stderr


@pytest.mark.slow
def test_two_process_data_parallel_launch(cot_data, tmp_path):
    """`accelerate launch` with two processes (CPU/gloo here; GPUs use configs/accelerate/ddp.yaml): the
    effective batch is split over the processes, only the main process prints and writes the student."""
    import subprocess
    import sys

    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        "lora_r: 8\nlora_alpha: 16\ngradient_checkpointing: false\nwarmup_ratio: 0.0\n"
        "per_device_batch_size: 1\neffective_batch_size: 2\n"
    )
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--cpu", "--num_processes", "2",
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
           "-m", "agentdistill.cli", "train", "--config", str(recipe), "--data", str(cot_data),
           "--out", str(out), "--max-steps", "2", "--max-length", "128", "--merge"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert proc.stdout.count("training default") == 1 and proc.stdout.count("done") == 1
    summary = json.loads((out / "training_summary.json").read_text())
    assert summary["result"]["steps"] == 2 and summary["result"]["merged"] is True
    assert (out / "model.safetensors").is_file() and (out / "chat_template.jinja").is_file()
