"""Shared test fixtures: where the shared data lives, and how tests treat missing services."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.docker_engine import DockerEngine, docker_engine  # noqa: F401 (the session's Docker engine)

REPO = Path(__file__).resolve().parents[1]


def services_required() -> bool:
    """True under `make test` / CI: the setup installed vLLM, Docker etc., so their absence is a failure."""
    return os.environ.get("AGENTDISTILL_REQUIRE_SERVICES") == "1"


def skip_or_fail(reason: str) -> None:
    """Skip with a printed reason on a developer's machine; fail where the services must be there."""
    if services_required():
        pytest.fail(f"required service unavailable: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The repository's shared benchmark data (../shared/data), or $AGENTDISTILL_SHARED_DATA."""
    path = Path(os.environ.get("AGENTDISTILL_SHARED_DATA", REPO.parent / "shared" / "data"))
    if not path.is_dir():
        pytest.skip(f"shared data not found at {path}")
    return path


@pytest.fixture(scope="session")
def sandbox_config():
    """The real local (bubblewrap) sandbox that agents run their code in."""
    from agentdistill.sandbox import SandboxConfig, check_backend

    ok, why = check_backend("local")
    if not ok:
        skip_or_fail(f"local sandbox unavailable: {why}")
    return SandboxConfig(backend="local")


def require_docker(engine: DockerEngine) -> None:
    """Skip (or fail under ``make test``) unless the session's Docker engine and image are ready."""
    if not engine.host or engine.error:
        skip_or_fail(engine.error or "no Docker engine")


class ServeProcess:
    """`agentdistill serve default` running as a real subprocess, as a user would start it."""

    def __init__(self, port: int):
        import subprocess
        import sys

        self.port = port
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "agentdistill.cli", "serve", "default", "--port", str(port),
             "--max-model-len", "2048"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        self.output: list[str] = []
        self.spec: str | None = None

    def wait_ready(self, timeout_s: float = 600) -> str:
        import threading
        import time

        ready = threading.Event()

        def read():
            for line in self.proc.stdout:
                self.output.append(line)
                if line.startswith("use it as:"):
                    self.spec = line.split()[3]
                    ready.set()
            ready.set()

        threading.Thread(target=read, daemon=True).start()
        deadline = time.monotonic() + timeout_s
        while not ready.wait(1) and time.monotonic() < deadline:
            pass
        if self.spec is None:
            self.stop()
            pytest.fail("agentdistill serve did not come up:\n" + "".join(self.output[-20:]))
        return self.spec

    def stop(self, sig=None) -> int:
        import signal
        import subprocess

        if self.proc.poll() is None:
            self.proc.send_signal(sig or signal.SIGINT)
        try:
            return self.proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            # the signal did not stop it: SIGTERM (which also stops its vLLM) so no server outlives the
            # tests, then fail as before
            self.proc.terminate()
            self.proc.wait(timeout=60)
            raise


@pytest.fixture(scope="session")
def served_default():
    """The default model behind a real vLLM (CPU build) server started with `agentdistill serve`: one per
    session, shared by every test that needs a served model it does not manage itself."""
    from agentdistill.models.serve import find_vllm_python, free_port

    if find_vllm_python() is None:
        skip_or_fail("no vLLM environment; run `agentdistill serve --setup` (make test does)")
    server = ServeProcess(free_port())
    server.wait_ready()
    yield server
    server.stop()


def pytest_collection_modifyitems(config, items):
    """Tests marked ``stops_served_default`` stop the session's shared vLLM server: they run last."""
    items.sort(key=lambda item: item.get_closest_marker("stops_served_default") is not None)
