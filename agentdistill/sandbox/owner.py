"""Who owns a sandbox resource (temp dir, cgroup, container), so leftovers of dead hosts can be swept.

An owner tag is ``<pid>.<start time in clock ticks>``: a pid alone can be reused after the host dies.
Resource names start with the tag followed by ``-``.
"""

from __future__ import annotations

import functools
import os
import secrets
from pathlib import Path


def _start_time(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    return stat[stat.rindex(b")") + 2 :].split()[19].decode()


@functools.lru_cache(maxsize=4)
def _tag_for(pid: int) -> str:
    return f"{pid}.{_start_time(pid) or 0}"


def owner_tag() -> str:
    """This process's tag (recomputed after fork, since the pid changes)."""
    return _tag_for(os.getpid())


def new_name() -> str:
    """A unique resource name owned by this process."""
    return f"{owner_tag()}-{secrets.token_hex(4)}"


def boot_id() -> str:
    """Identifies this boot of this machine (container labels are only compared on the same boot)."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "unknown"


def owner_alive(name: str) -> bool:
    """Whether the process that created resource ``name`` (or with tag ``name``) is still running.

    Names that do not look like ours count as alive, so they are never touched.
    """
    tag = name.split("-", 1)[0].rsplit("_", 1)[-1]
    pid_s, _, start = tag.partition(".")
    if not pid_s.isdigit() or not start.isdigit():
        return True
    return _start_time(int(pid_s)) == start
