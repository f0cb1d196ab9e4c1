"""Nothing is left behind: not after close, not after the host process is SIGKILLed (swept at next start)."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from agentdistill.sandbox import Sandbox, SandboxConfig, get_backend
from agentdistill.sandbox.docker_backend import LABEL

from .test_attacks import _host_processes_with

HOST_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from agentdistill.sandbox import Sandbox, SandboxConfig
    backend, marker = sys.argv[1], sys.argv[2]
    sb = Sandbox.open(SandboxConfig(backend=backend))
    inst = sb._inst
    cg = getattr(inst, "cgroup", None)
    info = {
        "tmpdir": str(getattr(inst, "tmpdir", "") or ""),
        "cgroups": [str(d) for d in cg.dirs.values()] if cg else [],
        "container": getattr(getattr(inst, "container", None), "id", None),
    }
    print(json.dumps(info), flush=True)
    sb.fork(1)
    sb._channel().send({"op": "run", "target": 0, "code": "import time; time.sleep(600)", "limits": {}})
    sb.run(f"import subprocess, time\\nsubprocess.Popen(['sleep', '{marker}'])\\ntime.sleep(600)", timeout=600)
    """
)


def _containers(client, cid: str) -> list:
    return [c for c in client.containers.list(all=True, filters={"label": f"{LABEL}=1"}) if c.id == cid]


def test_sigkill_of_the_host_leaves_nothing_behind(backend: str) -> None:
    marker = f"{secrets.randbelow(10**6)}.{secrets.randbelow(10**6)}"
    host = subprocess.Popen(
        [sys.executable, "-c", HOST_SCRIPT, backend, marker],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    try:
        line = host.stdout.readline()  # type: ignore[union-attr]
        assert line, host.stderr.read()  # type: ignore[union-attr]
        info = json.loads(line)
        deadline = time.monotonic() + 20
        while not _host_processes_with(marker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _host_processes_with(marker), "the sandboxed step did not start"
        if backend == "local":
            assert Path(info["tmpdir"]).is_dir() and info["cgroups"]
            assert all(Path(d).is_dir() for d in info["cgroups"])
        host.send_signal(signal.SIGKILL)
        host.wait(10)
    finally:
        if host.poll() is None:
            host.kill()
    # Processes die with the host (bubblewrap --die-with-parent; the container's worker sees stdin close).
    deadline = time.monotonic() + 20
    while _host_processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _host_processes_with(marker), "sandboxed processes outlived the SIGKILLed host"
    # What is left on disk / in the engine is removed by the next start's sweep.
    if backend == "docker":
        from agentdistill.sandbox.docker_engine import docker_client

        assert _containers(docker_client(None), info["container"]), "expected the dead host's container"
    cls = get_backend(backend)
    removed = cls.sweep()
    if backend == "local":
        assert not Path(info["tmpdir"]).exists()
        assert not any(Path(d).exists() for d in info["cgroups"])
        assert Path(info["tmpdir"]).name in removed
    else:
        assert not _containers(docker_client(None), info["container"])


def test_close_leaves_nothing_behind(backend: str) -> None:
    sb = Sandbox.open(SandboxConfig(backend=backend))
    assert sb.run("import subprocess\np = subprocess.Popen(['sleep', '100'])\nx = 1").ok
    sb.fork(2)
    inst = sb._inst
    sb.close()
    if backend == "local":
        assert not inst.tmpdir.exists()  # type: ignore[union-attr]
        assert inst.cgroup is None or not any(d.exists() for d in inst.cgroup.dirs.values())  # type: ignore[union-attr]
        assert inst.proc.poll() is not None  # type: ignore[union-attr]
    else:
        from agentdistill.sandbox.docker_engine import docker_client

        assert not _containers(docker_client(None), inst.container.id)  # type: ignore[union-attr]


@pytest.mark.filterwarnings("ignore:sandbox backend 'unsafe-local'")
def test_first_start_sweeps(monkeypatch) -> None:
    """A backend sweeps leftovers once per process, before its first start."""
    from agentdistill.sandbox.local import UnsafeLocalBackend

    calls = []
    monkeypatch.setattr(UnsafeLocalBackend, "_swept", False)
    monkeypatch.setattr(UnsafeLocalBackend, "sweep", classmethod(lambda cls: calls.append(cls.name) or []))
    for _ in range(2):
        with Sandbox.open(SandboxConfig(backend="unsafe-local")) as sb:
            assert sb.run("1").value == "1"
    assert calls == ["unsafe-local"]
