import pytest

from agentdistill.sandbox import SandboxConfig, get_backend

from ..conftest import skip_or_fail


@pytest.fixture(scope="session")
def sandbox_config():
    """The real local (bubblewrap) sandbox the agents run their code in."""
    ok, why = get_backend("local").check()
    if not ok:
        skip_or_fail(f"local sandbox unavailable: {why}")
    return SandboxConfig(backend="local")
