"""A real kill: SIGKILL an evaluating subprocess mid-run, rerun it, and check no task is lost or duplicated."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

SCRIPT = textwrap.dedent(
    """
    import asyncio, sys, time
    from agentdistill.evaluation.runner import evaluate
    from agentdistill.tasks.specs import load_tasks
    from agentdistill.schema import AgentInfo, Message, Trajectory

    async def solver(task):
        await asyncio.sleep(0.3)  # slow enough that the kill lands mid-run on a loaded machine too
        return Trajectory(id=task.id, task=task, agent=AgentInfo(model="scripted"),
                          messages=[Message(role="assistant", content="x", kind="cot", train=True)],
                          final_answer=task.answer)

    tasks = load_tasks("gsm8k[:40]", data_dir=sys.argv[2])
    asyncio.run(evaluate(tasks, solver, sys.argv[1], concurrency=3, progress=False))
    """
)


def _ids(path):
    return [json.loads(line)["task"]["id"] for line in path.read_text().splitlines() if line.strip()]


def test_sigkill_then_resume(tmp_path, shared_data):
    script = tmp_path / "run_eval.py"
    script.write_text(SCRIPT)
    out = tmp_path / "run"
    pred = out / "predictions.jsonl"
    cmd = [sys.executable, str(script), str(out), str(shared_data)]
    proc = subprocess.Popen(cmd, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if pred.exists() and len(pred.read_text().splitlines()) >= 8:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    complete = pred.read_text().split("\n")[:-1]  # a line torn by the kill has no newline yet
    partial = [json.loads(line)["task"]["id"] for line in complete]
    assert 8 <= len(partial) < 40, "the kill must land mid-run"
    assert not (out / "metrics.json").exists()
    subprocess.run(cmd, check=True, timeout=300)
    ids = _ids(pred)
    assert len(ids) == len(set(ids)) == 40
    assert set(partial) <= set(ids)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["benchmarks"]["gsm8k"]["n"] == 40 and metrics["benchmarks"]["gsm8k"]["score"] == 1.0
    assert metrics["run"]["solved_this_invocation"] == 40 - len(partial)
