"""Sandboxed Python for agents: a persistent worker per episode, forks for candidate actions, host tools.

Backends: ``local`` (bubblewrap + seccomp + cgroup), ``docker`` (one locked-down container per episode) and
``unsafe-local`` (no isolation, explicit opt-in). See :class:`Sandbox`.
"""

from agentdistill.sandbox.base import (
    BACKENDS,
    Sandbox,
    SandboxError,
    SandboxFork,
    SandboxUnavailable,
    get_backend,
    register_backend,
)
from agentdistill.sandbox.config import SandboxConfig, SandboxLimits

__all__ = [
    "BACKENDS",
    "Sandbox",
    "SandboxConfig",
    "SandboxError",
    "SandboxFork",
    "SandboxLimits",
    "SandboxUnavailable",
    "get_backend",
    "register_backend",
]
