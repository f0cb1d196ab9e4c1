"""Sandbox limits and backend settings, as documented dataclasses (loadable with ``config.load_config``)."""

from __future__ import annotations

import dataclasses
from typing import Any

from agentdistill.config import FieldError


@dataclasses.dataclass
class SandboxLimits:
    """What one step (and one episode) may use. Breaking a limit gives an error result naming it."""

    wall_time_s: float = 30.0
    """Wall-clock seconds per step; the code is interrupted (state kept), or killed after a grace period."""
    cpu_time_s: float = 30.0
    """CPU seconds per step of the step's own process (interrupted like wall time)."""
    memory_mb: int = 1024
    """Memory for the whole sandbox (cgroup / container) and address space per process (allocations fail)."""
    processes: int = 64
    """Processes and threads in the sandbox at once (cgroup pids, container pids_limit, else RLIMIT_NPROC)."""
    output_bytes: int = 65536
    """Captured stdout+stderr kept per step; the rest is dropped and the result is marked truncated."""
    file_size_mb: int = 64
    """Largest file model code may write (RLIMIT_FSIZE); writing more fails with an error."""
    scratch_mb: int = 256
    """Size of the private tmpfs mounted at /tmp and of the scratch dir (the working directory)."""
    cpus: float = 1.0
    """CPU quota in cores for the whole sandbox (cgroup cpu / docker nano_cpus)."""
    kill_grace_s: float = 2.0
    """After the wall time, how long to wait for the interrupted code before killing its process."""

    def to_worker(self) -> dict[str, Any]:
        """The subset the in-sandbox worker enforces itself (sent in the hello message)."""
        return {
            "wall_time_s": self.wall_time_s,
            "cpu_time_s": self.cpu_time_s,
            "memory_bytes": self.memory_mb * 2**20,
            "output_bytes": self.output_bytes,
            "file_size_bytes": self.file_size_mb * 2**20,
        }


@dataclasses.dataclass
class SandboxConfig:
    """Which backend runs model code, with which limits (``agentdistill sandbox exec`` and the agents use it)."""

    backend: str = "local"
    """``local`` (bubblewrap), ``docker``, or ``unsafe-local`` (NO isolation: only for trusted code)."""
    limits: SandboxLimits = dataclasses.field(default_factory=SandboxLimits)
    """Per-step and per-sandbox resource limits."""
    preload: list[str] = dataclasses.field(default_factory=list)
    """Modules imported once before the state process starts (e.g. ``["numpy"]``): faster first steps."""
    python: str | None = None
    """Python for the ``local`` backend (needs numpy and sympy); None: the interpreter running agentdistill."""
    docker_image: str | None = None
    """Image for the ``docker`` backend; None: the one ``agentdistill sandbox build-image`` builds."""
    docker_host: str | None = None
    """Docker engine URL; None: ``$DOCKER_HOST`` or the default socket."""
    warm_pool: int = 0
    """Sandboxes kept started in the background so ``open`` returns at once (per backend and config)."""

    def __post_init__(self) -> None:
        from agentdistill.sandbox.backends import BACKENDS, UnknownBackendError

        if self.backend not in BACKENDS:  # a typo fails when the config loads, not at the first episode
            raise UnknownBackendError("backend", str(BACKENDS.unknown(self.backend)))
        if self.warm_pool < 0:
            raise FieldError("warm_pool", f"must be >= 0, got {self.warm_pool}")
