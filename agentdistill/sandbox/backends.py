"""Sandbox backends by name. Built-ins are lazy ``"module:attr"`` names, so naming a backend (or listing
the valid ones in an error) imports neither bubblewrap helpers nor the docker SDK.

    from agentdistill.sandbox.backends import BACKENDS
    BACKENDS.register("firecracker", "my_pkg.sandbox:FirecrackerBackend")   # a Backend subclass
"""

from __future__ import annotations

from typing import Any

from agentdistill.config import FieldError
from agentdistill.registry import Registry
from agentdistill.sandbox.errors import SandboxError


class UnknownBackendError(FieldError, SandboxError):
    """``SandboxConfig.backend`` names no registered backend (a config error and a sandbox error)."""


BACKENDS: Registry[Any] = Registry(  # Backend subclasses (base.py imports this module's config)
    "sandbox backend",
    {
        "local": "agentdistill.sandbox.local:LocalBackend",
        "docker": "agentdistill.sandbox.docker_backend:DockerBackend",
        "unsafe-local": "agentdistill.sandbox.local:UnsafeLocalBackend",
    },
    error=SandboxError,
)


def register_backend(cls: Any) -> Any:
    """Register a :class:`~agentdistill.sandbox.base.Backend` subclass under its ``name`` (a decorator)."""
    BACKENDS.register(cls.name, cls)
    return cls


def get_backend(name: str) -> Any:
    """The :class:`~agentdistill.sandbox.base.Backend` subclass for ``name``; an unknown name suggests the
    closest and lists the valid ones."""
    return BACKENDS.get(name)
