"""One writer per directory: an exclusive ``fcntl`` lock on ``<dir>/.lock`` holding the owner's pid and host.

The kernel drops a ``flock`` when its process dies, however it dies (``kill -9`` included), so a lock left
by a dead process is simply taken over; the file's contents are only for the message that names who holds
a live one. Readers never lock: they skip a torn last line instead of repairing it, so they cannot cut a
live writer's record.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

from agentdistill.errors import AgentDistillError

LOCK_FILE = ".lock"


class DirectoryBusyError(AgentDistillError):
    """Another live process writes the directory."""


class DirectoryLock:
    """``with DirectoryLock(dir, "generate"):`` the caller is the directory's only writer, or it fails at once."""

    def __init__(self, directory: str | Path, purpose: str) -> None:
        self.directory = Path(directory)
        self.purpose = purpose
        self._fd: int | None = None

    @property
    def path(self) -> Path:
        return self.directory / LOCK_FILE

    def acquire(self) -> DirectoryLock:
        if self._fd is not None:
            return self
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _describe(_read_owner(fd))
            os.close(fd)
            raise DirectoryBusyError(
                f"{self.directory} is being written by {holder}; wait for it to finish, stop it, or choose "
                "another output folder"
            ) from None
        owner = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "purpose": self.purpose,
            "since": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "command": " ".join(sys.argv[:4]),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(owner) + "\n").encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __enter__(self) -> DirectoryLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_owner(fd: int) -> dict[str, Any]:
    try:
        return json.loads(os.pread(fd, 4096, 0).decode() or "{}")
    except (OSError, ValueError):
        return {}


def _describe(owner: dict[str, Any]) -> str:
    if not owner:
        return "another process"
    what = f" ({owner['purpose']}, since {owner.get('since', '?')})" if owner.get("purpose") else ""
    return f"pid {owner.get('pid', '?')} on {owner.get('host', '?')}{what}"
