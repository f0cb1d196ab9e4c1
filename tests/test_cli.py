"""The console entry point: usage mistakes are one clear message and exit code 2, never a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agentdistill.cli", *args], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [(["filter"], "No such command 'filter'"), (["eval", "--bogus"], "No such option: --bogus")],
)
def test_usage_errors_are_messages_with_exit_code_2(args, message):
    proc = _run(*args)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_a_command_exit_code_is_passed_through(tmp_path):
    """`sandbox exec` ends with typer.Exit(1) when the code fails: the code, not a traceback, reaches the shell."""
    failing = tmp_path / "fails.py"
    failing.write_text("raise ValueError('boom')\n")
    proc = _run("sandbox", "exec", str(failing), "--backend", "unsafe-local")
    assert proc.returncode == 1, proc.stderr
    assert "boom" in proc.stdout and "Traceback (most recent call last)" not in proc.stderr
