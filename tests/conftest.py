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
