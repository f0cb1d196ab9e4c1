"""Sandboxed Python for agents: a persistent worker per episode, forks for candidate actions, host tools.

Backends: ``local`` (bubblewrap + seccomp + cgroup), ``docker`` (one locked-down container per episode) and
``unsafe-local`` (no isolation, explicit opt-in), by name in :data:`BACKENDS`. See :class:`Sandbox`.
"""

from agentdistill.sandbox.backends import BACKENDS, get_backend, register_backend
from agentdistill.sandbox.base import Backend
from agentdistill.sandbox.config import SandboxConfig, SandboxLimits
from agentdistill.sandbox.errors import SandboxError, SandboxUnavailable
from agentdistill.sandbox.session import Sandbox, SandboxFork, check_backend

__all__ = [
    "BACKENDS",
    "Backend",
    "Sandbox",
    "SandboxConfig",
    "SandboxError",
    "SandboxFork",
    "SandboxLimits",
    "SandboxUnavailable",
    "check_backend",
    "get_backend",
    "register_backend",
]
