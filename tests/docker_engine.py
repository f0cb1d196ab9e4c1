"""A real Docker engine for the test session (the ``docker_engine`` fixture, registered in conftest.py).

An engine that already answers (``$DOCKER_HOST`` or /var/run/docker.sock) is used as is. Otherwise, as
root with ``dockerd`` installed, the session starts a private dockerd with no bridge, no iptables and no IP
forwarding changes (the sandbox uses ``network_mode="none"``, so the host's network is left untouched), its
socket and exec root in a temp dir and its data under ``cache_dir()/dockerd`` (so the imported image
survives between runs), builds the sandbox image, and at the end removes our containers and stops it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentdistill.config import cache_dir


def _docker_ping(host: str) -> bool:
    try:
        import docker

        docker.DockerClient(base_url=host, timeout=5).ping()
        return True
    except Exception:
        return False


class DockerEngine:
    """A reachable engine; ``started`` is True when this session started (and will stop) it."""

    def __init__(self, host: str, started: bool, error: str | None = None) -> None:
        self.host, self.started, self.error = host, started, error
        self.image: str | None = None
        self.proc: subprocess.Popen | None = None
        self.workdir: Path | None = None


def _start_dockerd() -> DockerEngine:
    for host in filter(None, (os.environ.get("DOCKER_HOST"), "unix:///var/run/docker.sock")):
        if _docker_ping(host):
            return DockerEngine(host, started=False)
    dockerd = shutil.which("dockerd")
    if dockerd is None:
        return DockerEngine("", False, "dockerd is not installed (apt-get install docker.io)")
    if os.geteuid() != 0:
        return DockerEngine("", False, "no Docker engine is running and starting one needs root")
    workdir = Path(tempfile.mkdtemp(prefix="agentdistill-dockerd-"))
    host = f"unix://{workdir}/docker.sock"
    data_root = cache_dir() / "dockerd"
    data_root.mkdir(parents=True, exist_ok=True)
    log = open(workdir / "dockerd.log", "wb")  # noqa: SIM115
    argv = [
        dockerd,
        "--host",
        host,
        "--pidfile",
        str(workdir / "docker.pid"),
        "--exec-root",
        str(workdir / "exec"),
    ]
    argv += ["--data-root", str(data_root), "--bridge", "none", "--iptables=false", "--ip6tables=false"]
    argv += ["--ip-masq=false", "--ip-forward=false", "--userland-proxy=false"]
    proc = subprocess.Popen(argv, stdout=log, stderr=log, start_new_session=True)
    engine = DockerEngine(host, True)
    engine.proc, engine.workdir = proc, workdir
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        if _docker_ping(host):
            return engine
        time.sleep(0.3)
    tail = (workdir / "dockerd.log").read_text(errors="replace")[-1500:]
    _stop_dockerd(engine)
    return DockerEngine("", False, f"dockerd did not start: {tail}")


def _stop_dockerd(engine: DockerEngine) -> None:
    if engine.proc is not None:
        with contextlib.suppress(ProcessLookupError):
            engine.proc.send_signal(signal.SIGTERM)
        try:
            engine.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(engine.proc.pid, signal.SIGKILL)
            engine.proc.wait(timeout=10)
        # dockerd's own containerd normally exits with it; make sure nothing of its process group is left.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(engine.proc.pid, signal.SIGKILL)
    if engine.workdir is not None:
        subprocess.run(["umount", "-R", str(engine.workdir / "exec")], capture_output=True)
        shutil.rmtree(engine.workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[DockerEngine]:
    engine = _start_dockerd()
    old_host = os.environ.get("DOCKER_HOST")
    if engine.host:
        os.environ["DOCKER_HOST"] = engine.host
        from agentdistill.sandbox.image import build_image

        try:
            t0 = time.monotonic()
            engine.image = build_image(log=lambda m: print(f"[sandbox image] {m}"))
            print(f"[sandbox image] ready in {time.monotonic() - t0:.1f} s")
        except Exception as e:
            engine.error = f"cannot build the sandbox image: {e}"
    yield engine
    if engine.host:
        from agentdistill.sandbox.docker_backend import LABEL
        from agentdistill.sandbox.docker_engine import docker_client

        with contextlib.suppress(Exception):
            client = docker_client(engine.host)
            for c in client.containers.list(all=True, filters={"label": f"{LABEL}=1"}):
                c.remove(force=True)
    if engine.started:
        _stop_dockerd(engine)
    if old_host is None:
        os.environ.pop("DOCKER_HOST", None)
    else:
        os.environ["DOCKER_HOST"] = old_host
