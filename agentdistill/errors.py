"""Errors a user can act on. The CLI prints them as one line (no traceback) and exits with status 2."""


class AgentDistillError(Exception):
    """Base class: the message says what went wrong and what to do."""
