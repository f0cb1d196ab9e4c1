"""Real models for the backend tests: the packaged default, loaded once per session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def default_model():
    from agentdistill.models import load_chat_model

    return load_chat_model("default")


COUNTING = [{"role": "user", "content": "Count from 1 to 20, separated by commas."}]


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
    """The default model behind a real vLLM (CPU build) server started with `agentdistill serve`."""
    from agentdistill.models.serve import find_vllm_python, free_port

    from ..conftest import skip_or_fail

    if find_vllm_python() is None:
        skip_or_fail("no vLLM environment; run `agentdistill serve --setup` (make test does)")
    server = ServeProcess(free_port())
    server.wait_ready()
    yield server
    server.stop()
