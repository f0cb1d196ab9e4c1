"""``agentdistill sandbox exec|check|build-image`` through the real entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from .conftest import unavailable

CLI = [sys.executable, "-m", "agentdistill.cli", "sandbox"]


def _cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLI, *args], input=stdin, capture_output=True, text=True, timeout=300, env={**os.environ}
    )


def test_exec_prints_the_result_as_json(backend: str, tmp_path) -> None:
    code = tmp_path / "step.py"
    code.write_text("import sympy\nprint(sympy.factor('x**2 - 1'))\n6 * 7\n")
    proc = _cli("exec", str(code), "--backend", backend)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["stdout"] == "(x - 1)*(x + 1)\n" and result["value"] == "42" and result["error"] is None


def test_exec_from_stdin_with_limits(backend: str) -> None:
    proc = _cli(
        "exec",
        "-",
        "--backend",
        backend,
        "--timeout",
        "1",
        "--memory-mb",
        "256",
        stdin="while True:\n    pass\n",
    )
    assert proc.returncode == 1
    result = json.loads(proc.stdout)
    assert result["limit"] == "wall_time"
    proc = _cli("exec", "-", "--backend", backend, "--memory-mb", "256", stdin="x = bytearray(300 * 2**20)")
    assert json.loads(proc.stdout)["limit"] == "memory"


def test_check_reports_each_backend(backend: str) -> None:
    proc = _cli("check")
    lines = {line.split()[0]: line for line in proc.stdout.splitlines() if line.strip()}
    assert set(lines) == {"local", "docker", "unsafe-local"}, proc.stdout
    assert " ok " in lines[backend], lines[backend]
    assert "NO isolation" in lines["unsafe-local"]


@pytest.mark.docker
def test_build_image_is_cached(docker_engine) -> None:
    if not docker_engine.host or docker_engine.error:
        unavailable(docker_engine.error or "no Docker engine")
    proc = _cli("build-image")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().startswith("agentdistill-sandbox:")
    assert "already in the engine" in proc.stderr


def test_unknown_backend_is_a_one_line_error() -> None:
    proc = _cli("exec", "-", "--backend", "chroot", stdin="1")
    assert proc.returncode == 2
    assert "unknown sandbox backend 'chroot'" in proc.stderr and "Traceback" not in proc.stderr
