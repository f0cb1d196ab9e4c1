"""Errors of index building and loading (one module, so the index types and the index share them)."""

from __future__ import annotations

from agentdistill.errors import AgentDistillError


class IndexBuildError(AgentDistillError):
    """A build that cannot start or finish (bad options, an output folder holding something else)."""


class IndexLoadError(AgentDistillError):
    """A folder that is not a complete index, or one written by an unknown schema version."""


class EmbedderMismatchError(AgentDistillError):
    """Querying an index with a different embedder than the one it was built with."""
