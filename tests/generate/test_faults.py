"""Faults injected into real runs, end to end: a teacher server that dies mid-run, two writers on one folder,
``kill -9`` at random moments, a rerun with other settings, training on a killed run's folder.

The teacher is a real OpenAI-compatible HTTP server on loopback (``tests/fake_openai_server.py``) whose
every reply is one CodeAct step that runs in the real local sandbox.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

from agentdistill.trajectories.store import iter_trajectories

from ..fake_openai_server import FakeTeacher

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def teacher():
    server = FakeTeacher()
    yield server
    server.stop()


def write_config(tmp_path: Path, spec: str, n_tasks: int, **extra) -> Path:
    tasks = tmp_path / "tasks.jsonl"
    with tasks.open("w") as f:
        for i in range(n_tasks):
            f.write(
                json.dumps({"id": f"q{i}", "question": f"What is 6 * 7 (case {i})?", "answer": "42"}) + "\n"
            )
    cfg = {
        "tasks": {"specs": [str(tasks)], "domain": "math"},
        "out": str(tmp_path / "run"),
        "teacher": {"spec": spec, "max_retries": 1, "timeout_s": 10},
        "concurrency": 2,
        "agent": {"max_steps": 1},
        **extra,
    }
    path = tmp_path / "gen.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def generate(config: Path, *extra: str, **popen) -> subprocess.Popen:
    cmd = [
        sys.executable,
        "-m",
        "agentdistill.cli",
        "generate",
        "--config",
        str(config),
        "--no-progress",
        *extra,
    ]
    return subprocess.Popen(
        cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen
    )


def finish(proc: subprocess.Popen, timeout: float = 600) -> tuple[int, str]:
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, out


def raw_records(run: Path) -> list[dict]:
    rows = []
    for shard in sorted(run.glob("part-*.jsonl")):
        for line in shard.read_text().split("\n"):
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # blank, or torn by a kill
    return rows


@pytest.mark.slow
def test_teacher_server_dies_mid_run_then_the_rerun_completes_everything(tmp_path, teacher, sandbox_config):
    config = write_config(tmp_path, teacher.spec, 12)
    teacher.start(delay=0.05, die_after=4)
    code, out = finish(generate(config))
    assert code == 2, out
    assert "failed because a server or sandbox was unavailable" in out and "rerun the same command" in out
    first = {t.id: t for t in iter_trajectories(tmp_path / "run")}
    down = [t for t in first.values() if t.status == "failed"]
    assert down and all(t.failure == "transient" and "ModelUnavailableError" in t.error for t in down)
    ok_before = {t.id for t in first.values() if t.status == "ok"}

    teacher.stop()
    teacher.start(delay=0.0)
    code, out = finish(generate(config))
    assert code == 0, out
    assert f"{len(down)} episodes written ({12 - len(down)} already done" in out
    latest = list(iter_trajectories(tmp_path / "run"))
    assert sorted(t.id for t in latest) == sorted(f"tasks/q{i}#0" for i in range(12))
    assert all(t.status == "ok" and t.final_answer == "42" and t.score == 1.0 for t in latest)
    ok_rows = Counter(r["id"] for r in raw_records(tmp_path / "run") if r["status"] == "ok")
    assert set(ok_rows) == {t.id for t in latest} and max(ok_rows.values()) == 1  # none duplicated
    assert ok_before <= set(ok_rows)  # none lost


@pytest.mark.slow
def test_a_second_writer_on_the_same_folder_is_refused(tmp_path, teacher, sandbox_config):
    config = write_config(tmp_path, teacher.spec, 40)
    teacher.start(delay=0.3)
    first = generate(config, start_new_session=True)
    lock = tmp_path / "run" / ".lock"
    deadline = time.monotonic() + 60
    while not (lock.exists() and lock.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.05)
    code, out = finish(generate(config), timeout=120)
    assert code == 2 and f"is being written by pid {first.pid}" in out and "(generate, since" in out
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()


@pytest.mark.slow
def test_kill_9_at_random_moments_loses_and_duplicates_nothing(tmp_path, teacher, sandbox_config):
    n = 60
    config = write_config(tmp_path, teacher.spec, n, concurrency=3)
    teacher.start(delay=0.5)  # slow enough that the kills land mid-run on a fast machine too
    run = tmp_path / "run"
    rng = random.Random(7)
    kept: set[str] = set()
    kills = 0
    for _ in range(8):  # each kill lands at a random moment; 5 of them mid-run show the property
        proc = generate(config, start_new_session=True)
        time.sleep(rng.uniform(1.5, 5.0))  # start-up, model requests, sandbox steps, shard writes
        if proc.poll() is not None:
            break  # finished before this kill: the run is complete
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        kills += 1
        latest = [t.id for t in iter_trajectories(run)] if run.exists() and any(run.glob("part-*")) else []
        assert len(latest) == len(set(latest))
        assert kept <= set(latest), "a kill lost an episode stored before it"
        kept = set(latest)
    code, out = finish(generate(config))
    assert code == 0, out
    latest = list(iter_trajectories(run))
    assert sorted(t.id for t in latest) == sorted(f"tasks/q{i}#0" for i in range(n))  # 0 lost
    assert all(t.status == "ok" and t.final_answer == "42" for t in latest)
    ok_rows = Counter(r["id"] for r in raw_records(run) if r["status"] == "ok")
    assert len(ok_rows) == n and max(ok_rows.values()) == 1  # 0 duplicated
    assert kills >= 5, f"only {kills} kills landed mid-run"

    # training reads a killed run's folder as it is: a torn last line is not a record
    shard = sorted(run.glob("part-*.jsonl"))[-1]
    with shard.open("a") as f:
        f.write(latest[0].to_json()[:80])
    cmd = [sys.executable, "-m", "agentdistill.cli", "train", "--data", str(run), "--out", str(tmp_path / "student"),
           "--max-steps", "1", "--max-length", "1024", "--set", "gradient_checkpointing=false"]  # fmt: skip
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert f"{n} used" in proc.stdout


@pytest.mark.slow
def test_a_rerun_with_other_settings_is_refused_by_name_then_replaced(tmp_path, teacher, sandbox_config):
    config = write_config(tmp_path, teacher.spec, 3)
    teacher.start()
    assert finish(generate(config))[0] == 0
    before = {t.id: t.fingerprint for t in iter_trajectories(tmp_path / "run")}
    code, out = finish(generate(config, "--max-steps", "2"))
    assert code == 2 and "holds 3 records made with other settings (agent.max_steps: 1 -> 2)" in out, out
    assert "--overwrite" in out
    code, out = finish(generate(config, "--max-steps", "2", "--overwrite"))
    assert code == 0 and "3 episodes written" in out and "3 of other settings replaced" in out, out
    after = {t.id: t for t in iter_trajectories(tmp_path / "run")}
    assert set(after) == set(before) and all(after[i].fingerprint != before[i] for i in before)
    assert all(t.agent.generation["max_steps"] == 2 for t in after.values())
    assert len(raw_records(tmp_path / "run")) == 3  # the old records are gone, not shadowed


@pytest.mark.slow
def test_eval_rerun_with_other_settings_never_shows_old_predictions(tmp_path, teacher, sandbox_config):
    teacher.start()
    out_dir = tmp_path / "eval"
    base = [sys.executable, "-m", "agentdistill.cli", "eval", "--model", teacher.spec, "--benchmarks",
            "gsm8k[:2]", "--out", str(out_dir), "--no-progress"]  # fmt: skip
    first = subprocess.run([*base, "--max-steps", "1"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "warning:" in first.stderr and "bundled" in first.stderr  # said loudly at the start
    again = subprocess.run([*base, "--max-steps", "2"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert again.returncode == 2 and "agent.max_steps: 1 -> 2" in again.stderr, again.stderr
    replaced = subprocess.run(
        [*base, "--max-steps", "2", "--overwrite"], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert replaced.returncode == 0, replaced.stderr
    assert "2 solved, 0 already done" in replaced.stdout
    rows = [json.loads(x) for x in (out_dir / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and all(r["agent"]["generation"]["max_steps"] == 2 for r in rows)
    strict = subprocess.run([*base, "--strict-data"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert strict.returncode == 2 and "strict data is on" in strict.stderr
