"""Errors a user can act on. The CLI prints them as one line (no traceback) and exits with status 2."""

from __future__ import annotations


class AgentDistillError(Exception):
    """Base class: the message says what went wrong and what to do."""


class AgentDistillWarning(UserWarning):
    """Something a user must know before trusting a result (the CLI prints it as one highlighted line)."""


class TransientError(AgentDistillError):
    """A failure of the infrastructure (a model server or a sandbox went away), not of the task itself:
    the same work can succeed when retried, so an episode that hit it is not done."""


class IncompleteRunError(AgentDistillError):
    """A run that finished its work list with episodes still to retry; rerunning the command retries them."""


def is_transient(error: BaseException) -> bool:
    """Whether an exception is an outage (retry later) rather than a property of the task or a bug."""
    return isinstance(error, TransientError | ConnectionError | TimeoutError)


def failure_kind(error: BaseException) -> str:
    """``transient`` or ``permanent``: what a stored failed record says about its exception."""
    return "transient" if is_transient(error) else "permanent"
