"""Sandbox errors (their own module: the config, the backend registry and the backends all raise them)."""

from __future__ import annotations

from agentdistill.errors import TransientError


class SandboxError(TransientError):
    """The sandbox could not do what was asked (worker failed to start, bad fork index...): an
    infrastructure failure, so an episode that hits it is retried rather than counted as done."""


class SandboxUnavailable(SandboxError):
    """A backend cannot run on this host; the message says what to install or start."""
