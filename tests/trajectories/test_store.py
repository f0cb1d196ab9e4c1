"""The one reader and the one writer of trajectory directories: torn lines, newest-wins, locks, compaction."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from agentdistill.locking import DirectoryBusyError, DirectoryLock
from agentdistill.schema import AgentInfo, Message, Task, Trajectory
from agentdistill.trajectories.store import (
    StaleResultsError,
    TrajectoryDirError,
    TrajectoryStore,
    iter_trajectories,
    shard_paths,
)

REPO = Path(__file__).resolve().parents[2]


def record(rid: str, *, status: str = "ok", failure: str | None = None, fp: str = "f1", answer: str = "1"):
    task = Task(id=rid.split("#")[0], question=f"q {rid}", answer="1", domain="math")
    return Trajectory(
        id=rid,
        task=task,
        agent=AgentInfo(model="m"),
        messages=[Message(role="assistant", content=f"a {rid}", kind="cot", train=True)],
        final_answer=answer,
        status=status,  # type: ignore[arg-type]
        failure=failure,  # type: ignore[arg-type]
        fingerprint=fp,
    )


def test_readers_skip_a_torn_line_without_touching_the_file_and_take_the_newest(tmp_path):
    with TrajectoryStore(tmp_path) as store:
        store.append(record("a#0", status="failed", failure="transient", answer=""))
        store.append(record("b#0"))
    with TrajectoryStore(tmp_path) as store:  # a retry, in a shard of its own
        store.append(record("a#0", answer="7"))
    shard = sorted(tmp_path.glob("part-*.jsonl"))[-1]
    torn = record("c#0").to_json()[:50]
    with shard.open("a") as f:
        f.write(torn)  # a kill mid-write
    before = shard.read_bytes()
    got = {t.id: t for t in iter_trajectories(tmp_path)}
    assert set(got) == {"a#0", "b#0"} and got["a#0"].final_answer == "7" and got["a#0"].status == "ok"
    assert shard.read_bytes() == before  # readers never cut a (possibly live) writer's line
    assert len(list(iter_trajectories(tmp_path, latest=False))) == 3
    with TrajectoryStore(tmp_path) as store:  # the writer does
        assert set(store.records) == {"a#0", "b#0"}
    assert shard.read_bytes().endswith(b"\n") and torn.encode() not in shard.read_bytes()


def test_one_writer_per_directory_and_a_dead_writers_lock_is_taken_over(tmp_path):
    store = TrajectoryStore(tmp_path, purpose="generate")
    with pytest.raises(DirectoryBusyError, match=rf"pid {os.getpid()} on .* \(generate, since "):
        TrajectoryStore(tmp_path)
    store.close()
    TrajectoryStore(tmp_path).close()
    # a writer killed with SIGKILL leaves its lock file behind, but the kernel released the lock
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from agentdistill.locking import DirectoryLock;"
         "DirectoryLock(sys.argv[1], 'generate').acquire(); print('locked', flush=True); time.sleep(60)",
         str(tmp_path)],
        cwd=REPO, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout.readline().strip() == "locked"
    with pytest.raises(DirectoryBusyError, match=f"pid {holder.pid}"):
        DirectoryLock(tmp_path, "generate").acquire()
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert '"pid"' in (tmp_path / ".lock").read_text()  # stale contents...
    with DirectoryLock(tmp_path, "generate"):  # ...taken over safely
        assert str(os.getpid()) in (tmp_path / ".lock").read_text()


def test_reconcile_refuses_other_settings_by_name_or_replaces_them(tmp_path):
    with TrajectoryStore(tmp_path) as store:
        for rid in ("a#0", "b#0", "gone#0"):
            store.append(record(rid, fp="old"))
    expected = {"a#0": "new", "b#0": "new", "c#0": "new"}
    with TrajectoryStore(tmp_path) as store:
        with pytest.raises(
            StaleResultsError, match=r"2 records made with other settings \(agent.max_steps: 3 -> 5\)"
        ):
            store.reconcile(expected, replace=False, changes=["agent.max_steps: 3 -> 5"])
        assert store.reconcile(expected, replace=True, changes=[]) == 3
        assert store.records == {}
        store.append(record("a#0", fp="new"))
    assert [t.id for t in iter_trajectories(tmp_path)] == ["a#0"]
    with TrajectoryStore(tmp_path) as store:
        assert store.is_done("a#0", "new") and not store.is_done("b#0", "new")


def test_done_means_current_fingerprint_and_not_a_failure_to_retry(tmp_path):
    with TrajectoryStore(tmp_path) as store:
        store.append(record("ok#0"))
        store.append(record("down#0", status="failed", failure="transient"))
        store.append(record("bug#0", status="failed", failure="permanent"))
        assert store.is_done("ok#0", "f1") and not store.is_done("ok#0", "f2")
        assert not store.is_done("down#0", "f1")  # an outage: always retried
        assert store.is_done("bug#0", "f1") and not store.is_done("bug#0", "f1", retry_failed=True)


def test_compaction_interrupted_leaves_every_kept_record_readable(tmp_path):
    with TrajectoryStore(tmp_path) as store:
        for i in range(5):
            store.append(record(f"t{i}#0"))
    # a kill after the compacted shard was renamed into place but before the old one was removed
    first = next(tmp_path.glob("part-*.jsonl"))
    (tmp_path / "part-00009.jsonl").write_bytes(first.read_bytes())
    assert sorted(t.id for t in iter_trajectories(tmp_path)) == [f"t{i}#0" for i in range(5)]
    with TrajectoryStore(tmp_path) as store:
        assert store.compact(lambda r: r.id != "t0#0") == 1
    assert sorted(t.id for t in iter_trajectories(tmp_path)) == [f"t{i}#0" for i in range(1, 5)]
    assert len(list(tmp_path.glob("part-*.jsonl"))) == 1


def test_what_a_trajectory_directory_is(tmp_path):
    run = tmp_path / "run"
    for stage in ("trajectories", "filtered"):
        with TrajectoryStore(run / stage) as store:
            store.append(record(f"{stage}#0"))
    (run / "eval" / "base").mkdir(parents=True)
    (run / "eval" / "base" / "predictions.jsonl").write_text(record("pred#0").to_json() + "\n")
    (run / "stages").mkdir()
    with pytest.raises(TrajectoryDirError, match=r"pipeline run folder.*filtered/ holds the training data"):
        shard_paths(run)
    assert [t.id for t in iter_trajectories(run / "filtered")] == ["filtered#0"]
    assert [t.id for t in iter_trajectories(run / "eval" / "base")] == ["pred#0"]  # an eval folder
    datasets = tmp_path / "datasets"
    for name in ("qa", "math"):
        with TrajectoryStore(datasets / name) as store:
            store.append(record(f"{name}#0"))
    assert sorted(t.id for t in iter_trajectories(datasets)) == ["math#0", "qa#0"]  # a folder of sets
    with pytest.raises(TrajectoryDirError, match="no trajectory records"):
        shard_paths(tmp_path / "run" / "stages")


def test_v1_records_still_read():
    line = record("old#0").to_json().replace("agentdistill.trajectory/3", "agentdistill.trajectory/1")
    line = line.replace(', "failure": null', "").replace(', "fingerprint": "f1"', "")
    t = Trajectory.from_json(line)
    assert t.id == "old#0" and t.fingerprint is None


def test_sibling_sets_read_through_a_parent_keep_their_own_records(tmp_path):
    for teacher in ("teacherA", "teacherB"):
        with TrajectoryStore(tmp_path / "runs" / teacher) as store:
            store.append(record("t1#0", answer=teacher))
    got = sorted(t.final_answer for t in iter_trajectories(tmp_path / "runs"))
    assert got == ["teacherA", "teacherB"]  # same id, different sets: both are episodes


def test_repair_keeps_a_whole_last_line_that_only_lacks_its_newline(tmp_path):
    shard = tmp_path / "part-00000.jsonl"
    shard.write_text(record("a#0").to_json() + "\n" + record("b#0").to_json())  # edited by hand: no final \n
    assert [t.id for t in iter_trajectories(tmp_path)] == ["a#0", "b#0"]
    with TrajectoryStore(tmp_path) as store:
        assert set(store.records) == {"a#0", "b#0"}
    assert shard.read_text().endswith("}\n") and [t.id for t in iter_trajectories(tmp_path)] == ["a#0", "b#0"]
