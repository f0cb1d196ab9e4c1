"""A cgroup per local sandbox: hard memory, process and CPU limits, and a reliable way to kill everything.

cgroup v2 (unified hierarchy with controllers) or v1 (memory, pids, cpu, freezer hierarchies, as on many
VMs and containers). Sandboxes live under ``agentdistill/`` below the host process's own cgroup, so they
stay inside whatever limits the host itself runs under. Directory names carry the owner process
(``<pid>.<start time>-<random>``) so that leftovers of a killed host are found and removed by ``sweep``.
When no writable cgroup is available, ``create`` returns None and the caller falls back to rlimits.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from agentdistill.sandbox.owner import owner_alive

ROOT = Path("/sys/fs/cgroup")
V1_CONTROLLERS = ("memory", "pids", "cpu", "freezer")
GROUP = "agentdistill"


def _own_path(controller: str | None) -> str:
    """This process's cgroup path in a v1 controller's hierarchy (None: the v2 unified one)."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return "/"
    for line in lines:
        _, ctrls, path = line.split(":", 2)
        if (controller is None and ctrls == "") or (
            controller is not None and controller in ctrls.split(",")
        ):
            return path
    return "/"


def version() -> int | None:
    """2 or 1 if a usable hierarchy is mounted, else None."""
    if (ROOT / "cgroup.controllers").exists():
        return 2
    if all((ROOT / c).is_dir() for c in ("memory", "pids")):
        return 1
    return None


def parents() -> dict[str, Path]:
    """Where this host's sandboxes' cgroups go, per controller (``""`` for v2)."""
    v = version()
    if v == 2:
        return {"": ROOT / _own_path(None).lstrip("/") / GROUP}
    if v == 1:
        return {c: ROOT / c / _own_path(c).lstrip("/") / GROUP for c in V1_CONTROLLERS if (ROOT / c).is_dir()}
    return {}


@dataclass
class Cgroup:
    """One sandbox's cgroup (one directory per v1 controller, or one v2 directory)."""

    version: int
    dirs: dict[str, Path]

    @property
    def procs_files(self) -> list[str]:
        """Files to write a pid into to move it into this cgroup (done in the child before exec)."""
        return [str(d / "cgroup.procs") for d in self.dirs.values()]

    def pids(self) -> set[int]:
        out: set[int] = set()
        for d in self.dirs.values():
            with contextlib.suppress(OSError, ValueError):
                out.update(int(x) for x in (d / "cgroup.procs").read_text().split())
        return out

    def oom_kills(self) -> int:
        """How many processes the kernel killed for going over the memory limit."""
        f = self.dirs.get("memory", self.dirs.get(""))
        if f is None:
            return 0
        name = "memory.oom_control" if self.version == 1 else "memory.events"
        with contextlib.suppress(OSError, ValueError):
            for line in (f / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        return 0

    def kill(self, timeout: float = 5.0) -> None:
        """SIGKILL every process in the cgroup, including ones forking as fast as they can."""
        if self.version == 2 and (self.dirs[""] / "cgroup.kill").exists():
            with contextlib.suppress(OSError):
                (self.dirs[""] / "cgroup.kill").write_text("1")
        freezer = self.dirs.get("freezer")
        deadline = time.monotonic() + timeout
        while (pids := self.pids()) and time.monotonic() < deadline:
            if freezer is not None:
                _write(freezer / "freezer.state", "FROZEN")
            for pid in pids:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            if freezer is not None:
                _write(freezer / "freezer.state", "THAWED")
            time.sleep(0.002)

    def remove(self, timeout: float = 5.0) -> None:
        """rmdir each directory; the kernel refuses (EBUSY) until killed processes have fully exited."""
        deadline = time.monotonic() + timeout
        for d in self.dirs.values():
            delay = 0.002
            while True:
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        break  # left for the next start's sweep
                    time.sleep(delay)
                    delay = min(delay * 2, 0.1)


def _write(path: Path, value: str) -> None:
    with contextlib.suppress(OSError):
        path.write_text(value)


def create(name: str, *, memory_bytes: int, processes: int, cpus: float) -> Cgroup | None:
    """Make the cgroup with its limits; None when this host does not let us (caller uses rlimits)."""
    v = version()
    if v is None or (os.geteuid() != 0 and not os.access(ROOT, os.W_OK)):
        return None
    dirs: dict[str, Path] = {}
    try:
        for ctrl, parent in parents().items():
            if v == 2:
                _enable_v2_controllers(parent)
            d = parent / name
            d.mkdir(parents=True, exist_ok=True)
            dirs[ctrl] = d
        cg = Cgroup(v, dirs)
        if v == 1:
            (dirs["memory"] / "memory.limit_in_bytes").write_text(str(memory_bytes))
            _write(dirs["memory"] / "memory.memsw.limit_in_bytes", str(memory_bytes))
            (dirs["pids"] / "pids.max").write_text(str(processes))
            if "cpu" in dirs:
                _write(dirs["cpu"] / "cpu.cfs_period_us", "100000")
                _write(dirs["cpu"] / "cpu.cfs_quota_us", str(max(1000, int(cpus * 100000))))
        else:
            d = dirs[""]
            (d / "memory.max").write_text(str(memory_bytes))
            _write(d / "memory.swap.max", "0")
            (d / "pids.max").write_text(str(processes))
            _write(d / "cpu.max", f"{max(1000, int(cpus * 100000))} 100000")
        return cg
    except OSError:
        Cgroup(v, dirs).remove()
        return None


def _enable_v2_controllers(group: Path) -> None:
    """v2: the group's parent must delegate memory/pids/cpu, and the group itself must hold no process."""
    group.mkdir(parents=True, exist_ok=True)
    for d in (group.parent, group):
        with contextlib.suppress(OSError):
            (d / "cgroup.subtree_control").write_text("+memory +pids +cpu")


def sweep() -> list[str]:
    """Kill and remove the cgroups of sandboxes whose host process is gone; returns their names."""
    removed: list[str] = []
    v = version()
    if v is None:
        return removed
    by_name: dict[str, dict[str, Path]] = {}
    for ctrl, parent in parents().items():
        with contextlib.suppress(OSError):
            for d in parent.iterdir():
                if d.is_dir() and not owner_alive(d.name):
                    by_name.setdefault(d.name, {})[ctrl] = d
    for name, dirs in by_name.items():
        cg = Cgroup(v, dirs)
        cg.kill()
        cg.remove()
        removed.append(name)
    return removed
