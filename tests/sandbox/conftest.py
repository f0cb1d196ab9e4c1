"""Fixtures for the sandbox tests: each behaviour test runs on both isolating backends.

With AGENTDISTILL_REQUIRE_SERVICES=1 (``make test``) a backend that cannot run here is a failure; without
it, its tests are skipped with the reason printed. The Docker engine is the session's ``docker_engine``
fixture (``tests/docker_engine.py``), shared with the evaluation tests that run agents in containers.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator

import pytest

from agentdistill.sandbox import Sandbox, SandboxConfig, SandboxLimits

REQUIRE = os.environ.get("AGENTDISTILL_REQUIRE_SERVICES") == "1"

# Small limits keep the attack tests fast.
TEST_LIMITS = dict(
    wall_time_s=5.0, cpu_time_s=5.0, memory_mb=512, processes=64, output_bytes=4096, kill_grace_s=1.0
)


def unavailable(reason: str) -> None:
    """Fail under AGENTDISTILL_REQUIRE_SERVICES=1, else skip; either way the reason is printed."""
    if REQUIRE:
        pytest.fail(f"AGENTDISTILL_REQUIRE_SERVICES=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(params=["local", pytest.param("docker", marks=pytest.mark.docker)])
def backend(request: pytest.FixtureRequest) -> str:
    """Each behaviour test runs on both isolating backends."""
    name = request.param
    if name == "local":
        if shutil.which("bwrap") is None:
            unavailable("bubblewrap is not installed (apt-get install bubblewrap)")
    else:
        engine = request.getfixturevalue("docker_engine")
        if not engine.host:
            unavailable(engine.error or "no Docker engine")
        if engine.error:
            unavailable(engine.error)
    return name


@pytest.fixture
def make_config(backend: str) -> Callable[..., SandboxConfig]:
    def make(**limits: object) -> SandboxConfig:
        return SandboxConfig(backend=backend, limits=SandboxLimits(**{**TEST_LIMITS, **limits}))  # type: ignore[arg-type]

    return make


@pytest.fixture
def open_sandbox(make_config: Callable[..., SandboxConfig]) -> Iterator[Callable[..., Sandbox]]:
    """Opens sandboxes on the current backend and closes them after the test."""
    opened: list[Sandbox] = []

    def open_(tools: dict | None = None, **limits: object) -> Sandbox:
        sb = Sandbox.open(make_config(**limits), tools=tools)
        opened.append(sb)
        return sb

    yield open_
    for sb in opened:
        sb.close()


@pytest.fixture
def sandbox(open_sandbox: Callable[..., Sandbox]) -> Sandbox:
    return open_sandbox()
