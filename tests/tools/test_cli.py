"""`agentdistill index build|search|info` through the real entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentdistill.cli import app, main

runner = CliRunner()


def test_index_group_registered() -> None:
    result = runner.invoke(app, ["index", "--help"])
    assert result.exit_code == 0
    for command in ("build", "search", "info"):
        assert command in result.output


def test_build_info_search(small_corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "idx"
    args = ["index", "build", str(small_corpus), "--out", str(out), "--embedder", "hash:64", "--bm25"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "8 passages, flat, dim 64" in result.output

    info = runner.invoke(app, ["index", "info", str(out)])
    assert info.exit_code == 0
    manifest = json.loads(info.output)
    assert manifest["count"] == 8 and manifest["embedder"]["model"] == "hash:64" and manifest["bm25"] is True

    found = runner.invoke(app, ["index", "search", str(out), "capital of France", "-k", "2"])
    assert found.exit_code == 0
    assert found.output.startswith("1. [")
    assert "Paris (p1)" in found.output.splitlines()[0]
    assert "2. [" in found.output and "3. [" not in found.output

    hybrid = runner.invoke(
        app, ["index", "search", str(out), "Guido van Rossum", "--mode", "hybrid", "--json", "-k", "5"]
    )
    rows = [json.loads(line) for line in hybrid.output.splitlines()]
    assert rows[0]["id"] == "p3" and len(rows) == 5


def test_build_with_index_type_and_config_file(small_corpus: Path, tmp_path: Path) -> None:
    config = tmp_path / "index.yaml"
    config.write_text("index_type: hnsw\nembedder:\n  model: hash:32\nhnsw_m: 8\n")
    out = tmp_path / "idx"
    result = runner.invoke(
        app, ["index", "build", str(small_corpus), "-o", str(out), "--config", str(config)]
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest["index_type"], manifest["dim"], manifest["index_params"]["m"]) == ("hnsw", 32, 8)
    out2 = tmp_path / "idx2"
    args = [
        "index",
        "build",
        str(small_corpus),
        "-o",
        str(out2),
        "--config",
        str(config),
        "--index-type",
        "flat",
    ]
    assert runner.invoke(app, args).exit_code == 0
    assert json.loads((out2 / "manifest.json").read_text())["index_type"] == "flat"  # the flag wins


def test_bad_corpus_is_one_line_error_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "text": "fine"}\n{"id": "b", "title": "no text"}\n')
    with pytest.raises(SystemExit) as exit_info:
        main(["index", "build", str(bad), "--out", str(tmp_path / "idx"), "--embedder", "hash:64"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "bad.jsonl:2: missing field 'text'" in err and "Traceback" not in err


def test_search_missing_index_exit_2(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "agentdistill.cli", "index", "search", str(tmp_path), "x"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "not an agentdistill index" in proc.stderr and "Traceback" not in proc.stderr
