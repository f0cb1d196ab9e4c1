"""``agentdistill trajectories ...`` end to end on sample files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import datasets
from typer.testing import CliRunner

from agentdistill.errors import AgentDistillError
from agentdistill.trajectories.cli import trajectories_app
from agentdistill.trajectories.store import TrajectoryStore, iter_trajectories

from .samples import all_samples

AD_SAMPLE = Path(__file__).parent / "data" / "agent_distillation_sample.jsonl"


def make_dir(path: Path) -> Path:
    with TrajectoryStore(path) as store:
        for t in all_samples():
            store.append(t)
    return path


def invoke(*args: str):
    return CliRunner().invoke(trajectories_app, list(args))


def test_filter_writes_kept_and_prints_counts(tmp_path, monkeypatch):
    monkeypatch.delenv("AGENTDISTILL_DATA_DIR", raising=False)
    src = make_dir(tmp_path / "in")
    out = tmp_path / "out"
    r = invoke(
        "filter", str(src), "--out", str(out), "--filter", "failed", "--filter", "parse_errors",
        "--filter", "max_steps:max_steps=5", "--filter", "correct", "--filter", "decontaminate",
        "--filter", "dedup", "--filter", "per_task:k=1",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    # ep-parse-error's parse error is in a masked step: it is kept (only trained steps count)
    assert [t.id for t in iter_trajectories(out)] == ["ep-correct", "ep-parse-error", "ep-reflection"]
    record = json.loads((out / "filter.json").read_text())
    assert record["input"] == str(src) and record["kept"] == 3
    assert [f["name"] for f in record["filters"]][-1] == "per_task"
    for name in (
        "failed",
        "parse_errors",
        "max_steps",
        "correct",
        "decontaminate",
        "dedup",
        "per_task",
        "total",
    ):
        assert name in r.output
    assert "bundled samples only" in r.output  # decontamination warns that it used the small samples


def test_filter_json_and_min_score(tmp_path):
    src = make_dir(tmp_path / "in")
    r = invoke(
        "filter", str(src), "--out", str(tmp_path / "o"), "--filter", "correct:min_score=0.5", "--json"
    )
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["total"] == 8 and data["kept"] == 6
    assert data["filters"] == [{"name": "correct", "seen": 8, "kept": 6, "dropped": 2}]
    r = invoke(
        "filter",
        str(src),
        "--out",
        str(tmp_path / "o2"),
        "--filter",
        "failed",
        "--filter",
        "correct:min_score=0.5,use_metrics=false",
        "--json",
    )
    assert json.loads(r.output)["kept"] == 7  # stored scores: ep-wrong kept, ep-failed dropped as failed


def test_filter_refuses_non_empty_out(tmp_path):
    src = make_dir(tmp_path / "in")
    r = invoke("filter", str(src), "--out", str(src))
    assert isinstance(r.exception, AgentDistillError) and "not an empty directory" in str(r.exception)
    r = invoke("filter", str(src), "--out", str(tmp_path / "x"), "--filter", "length:max_tokens=10")
    assert isinstance(r.exception, AgentDistillError) and "tokenizer=" in str(r.exception)


def test_stats_table_and_json(tmp_path):
    src = make_dir(tmp_path / "in")
    r = invoke("stats", str(src), "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["count"] == 8 and data["status"] == {"ok": 6, "failed": 1, "max_steps": 1}
    r = invoke("stats", str(src))
    assert r.exit_code == 0 and "success rate" in r.output and "per domain" in r.output


def test_export_formats(tmp_path):
    src = make_dir(tmp_path / "in")
    r = invoke("export", str(src), "--format", "hf", "--out", str(tmp_path / "hf"))
    assert r.exit_code == 0, r.output
    assert len(datasets.load_from_disk(str(tmp_path / "hf"))) == 8
    for fmt, key in (("openai", "messages"), ("sharegpt", "conversations")):
        out = tmp_path / f"{fmt}.jsonl"
        r = invoke("export", str(src), "-f", fmt, "-o", str(out))
        assert r.exit_code == 0 and "exported 8" in r.output
        rows = [json.loads(x) for x in out.read_text().splitlines()]
        assert len(rows) == 8 and all(key in row for row in rows)


def test_import_is_idempotent(tmp_path):
    out = tmp_path / "imported"
    r = invoke("import", str(AD_SAMPLE), "--format", "agent-distillation", "--out", str(out))
    assert r.exit_code == 0, r.output
    assert "imported 4 trajectories" in r.output
    r = invoke("import", str(AD_SAMPLE), "--format", "agent-distillation", "--out", str(out))
    assert "imported 0 trajectories" in r.output and "(4 already there)" in r.output
    assert len(list(iter_trajectories(out))) == 4


def test_import_error_is_one_line_with_exit_2(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "q?", "log_data": {"messages": []}}\n{oops\n', encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "agentdistill.cli", "trajectories", "import", str(bad), "-f", "agent-distillation",
         "--out", str(tmp_path / "o")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert f"{bad}:2: invalid JSON" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "o").exists() or not list((tmp_path / "o").iterdir())  # nothing half-written


def test_registered_in_main_cli():
    from agentdistill.cli import app

    r = CliRunner().invoke(app, ["trajectories", "--help"])
    assert r.exit_code == 0, r.output
    for cmd in ("stats", "filter", "export", "view", "import"):
        assert cmd in r.output


def test_filter_max_tokens_with_the_default_models_tokenizer(tmp_path):
    from transformers import AutoTokenizer

    from agentdistill.models.default import provision_default_model

    tok = AutoTokenizer.from_pretrained(provision_default_model(quiet=True))
    samples = all_samples()
    lengths = {
        t.id: sum(len(tok(m.content, add_special_tokens=False)["input_ids"]) for m in t.messages)
        for t in samples
    }
    budget = lengths["ep-correct"]
    src = make_dir(tmp_path / "in")
    r = invoke(
        "filter", str(src), "--out", str(tmp_path / "o"),
        "--filter", f"length:max_tokens={budget},tokenizer=default", "--json",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    kept = [t.id for t in iter_trajectories(tmp_path / "o")]
    assert kept == [t.id for t in samples if lengths[t.id] <= budget]
    assert "ep-correct" in kept and "ep-max-steps" not in kept
