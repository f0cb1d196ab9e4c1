"""`agentdistill generate`: resumable sharded runs, recorded failures, real default-model runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from agentdistill.config import load_config
from agentdistill.episodes.generate import generate
from agentdistill.episodes.generate_config import GenerateConfig
from agentdistill.tasks.config import TaskSetConfig
from agentdistill.trajectories import iter_trajectories

REPO = Path(__file__).resolve().parents[2]


def write_tasks(path: Path, n: int) -> Path:
    with path.open("w") as f:
        for i in range(n):
            f.write(
                json.dumps({"id": f"q{i}", "question": f"What is {i} + 42 - {i}?", "answer": "42"}) + "\n"
            )
    return path


def write_config(tmp_path: Path, teacher: str, n_tasks: int, **extra) -> Path:
    cfg = {
        "tasks": [str(write_tasks(tmp_path / "tasks.jsonl", n_tasks))],
        "out": str(tmp_path / "run"),
        "teacher": {"spec": teacher},
        "concurrency": 3,
        "agent": {"max_steps": 2},
        **extra,
    }
    path = tmp_path / "gen.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def run_cli(config: Path, **popen) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "agentdistill.cli", "generate", "--config", str(config), "--no-progress"]
    return subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen
    )


def stored_lines(run: Path) -> int:
    return sum(p.read_bytes().count(b"\n") for p in run.glob("part-*.jsonl"))


def test_sigkill_then_rerun_loses_and_duplicates_nothing(tmp_path, sandbox_config):
    config = write_config(tmp_path, "langchain:tests.generate.fake_models:slow_solver", 24)
    run = tmp_path / "run"
    proc = run_cli(config, start_new_session=True)
    deadline = time.monotonic() + 120
    while stored_lines(run) < 5 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, f"finished before it could be killed:\n{proc.stdout.read()}"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    first = stored_lines(run)
    assert 5 <= first < 24

    proc = run_cli(config)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out
    ids = [t.id for t in iter_trajectories(run)]
    assert sorted(ids) == sorted(f"tasks/q{i}#0" for i in range(24))  # none lost, none duplicated
    assert len(ids) == len(set(ids)) == 24
    manifest = json.loads((run / "manifest.json").read_text())
    assert len(manifest["runs"]) == 2 and manifest["runs"][1]["skipped"] >= first
    assert manifest["runs"][1]["written"] == 24 - manifest["runs"][1]["skipped"]
    assert all(t.final_answer == "42" and t.score == 1.0 for t in iter_trajectories(run))
    assert f"{24 - manifest['runs'][1]['skipped']} episodes written" in out

    # A third run has nothing to do.
    proc = run_cli(config)
    out, _ = proc.communicate(timeout=120)
    assert "0 episodes written (24 already done" in out


def test_failing_teacher_is_recorded_not_fatal(tmp_path, sandbox_config, monkeypatch):
    monkeypatch.setenv("FAKE_TEACHER", "down")
    config = load_config(
        GenerateConfig, write_config(tmp_path, "langchain:tests.generate.fake_models:switchable", 3)
    )
    config.teacher.max_retries = 0
    summary = generate(config, progress=False)
    assert summary.written == 3 and summary.failed == 3 and summary.transient == 3
    trajs = list(iter_trajectories(tmp_path / "run"))
    assert all(t.status == "failed" and "teacher server went away" in t.error for t in trajs)
    assert all(t.failure == "transient" for t in trajs)  # an outage, not a property of the task
    # the same run with the teacher back: the failed episodes are not "done", so they are retried
    monkeypatch.setenv("FAKE_TEACHER", "up")
    again = generate(config, progress=False)
    assert again.written == 3 and again.skipped == 0 and again.failed == 0
    assert all(t.status == "ok" for t in iter_trajectories(tmp_path / "run"))


def test_a_permanent_failure_is_done_unless_retry_failed(tmp_path, sandbox_config, monkeypatch):
    monkeypatch.setenv("FAKE_TEACHER", "buggy")
    spec = "langchain:tests.generate.fake_models:switchable"
    config = load_config(GenerateConfig, write_config(tmp_path, spec, 2))
    assert generate(config, progress=False).failed == 2
    assert all(t.failure == "permanent" for t in iter_trajectories(tmp_path / "run"))
    monkeypatch.setenv("FAKE_TEACHER", "up")
    assert generate(config, progress=False).written == 0  # a bug in the episode is not retried by itself...
    config.retry_failed = True
    assert generate(config, progress=False).written == 2  # ...only when asked


def test_missing_tasks_is_a_clear_error(tmp_path):
    from agentdistill.errors import AgentDistillError

    with pytest.raises(AgentDistillError, match="no tasks given"):
        generate(GenerateConfig(out=str(tmp_path / "r")), progress=False)


@pytest.mark.slow
def test_default_model_with_real_sandbox_and_retrieval(tmp_path, sandbox_config):
    """Mechanics only: the untrained 135M model rarely solves anything."""
    config = GenerateConfig(
        tasks=TaskSetConfig(["gsm8k[:1]", "hotpotqa[:1]"], seed=1), out=str(tmp_path / "run"), concurrency=2
    )
    config.agent.max_steps = 2
    config.agent.max_tokens = 64
    config.agent.final_max_tokens = 32
    summary = generate(config, progress=False)
    assert summary.written == 2 and summary.failed == 0
    by_domain = {t.task.domain: t for t in iter_trajectories(tmp_path / "run")}
    assert set(by_domain) == {"math", "qa"}
    for t in by_domain.values():
        assert t.agent.model == "default" and t.stats.steps >= 1 and t.stats.completion_tokens > 0
        assert t.messages[0].role == "system" and t.messages[1].kind == "task"
        assert any(m.kind in ("observation", "error") for m in t.messages)
        assert t.final_answer is not None and t.score is not None
    assert "web_search" in by_domain["qa"].messages[0].content
    assert "web_search" not in by_domain["math"].messages[0].content.split("Here is an example")[0]


def test_cot_baseline_mode_writes_trainable_cot_trajectories(tmp_path):
    config = load_config(
        GenerateConfig,
        write_config(
            tmp_path, "langchain:tests.generate.fake_models:cot_answerer", 3, mode="cot", samples_per_task=2
        ),
    )
    summary = generate(config, progress=False)
    assert summary.written == 6 and summary.succeeded == 6
    trajs = list(iter_trajectories(tmp_path / "run"))
    assert sorted(t.id for t in trajs) == sorted(f"tasks/q{i}#{k}" for i in range(3) for k in range(2))
    for t in trajs:
        assistant = [m for m in t.messages if m.role == "assistant"]
        assert len(assistant) == 1 and assistant[0].kind == "cot" and assistant[0].train
        assert t.score == 1.0
