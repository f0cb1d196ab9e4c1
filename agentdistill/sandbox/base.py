"""What a sandbox backend implements: start a greeted worker *instance*, kill it, clean up leftovers.

A backend (``local``, ``docker``, ``unsafe-local``: :mod:`agentdistill.sandbox.backends`) only starts and
kills instances (a worker process tree or a container); steps, forks, host tool calls, limits and restarts
are shared by all of them in :mod:`agentdistill.sandbox.session`.
"""

from __future__ import annotations

import abc
import time
from typing import Any, ClassVar

from agentdistill.sandbox.config import SandboxConfig
from agentdistill.sandbox.errors import SandboxError
from agentdistill.sandbox.protocol import Channel, ChannelClosed


class Instance(abc.ABC):
    """One running worker (a bubblewrap process tree, a container) and its channel."""

    channel: Channel

    @abc.abstractmethod
    def terminate(self) -> None:
        """Kill every process of the instance and remove what it created. Idempotent."""

    def oom_kills(self) -> int:
        """Processes the kernel killed for the memory limit so far (0 if unknown)."""
        return 0

    def diagnostics(self) -> str:
        """The worker's stderr or similar, for error messages when it fails to start."""
        return ""


class Backend(abc.ABC):
    """Starts instances for one config; registered by ``name`` in :data:`~agentdistill.sandbox.backends.BACKENDS`."""

    name: ClassVar[str]
    startup_timeout_s: ClassVar[float] = 30.0
    _swept: ClassVar[bool] = False

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config

    @abc.abstractmethod
    def launch(self) -> Instance:
        """Start a worker (not yet greeted)."""

    @classmethod
    def preflight(cls, config: SandboxConfig) -> str | None:
        """Why this backend cannot start here (what to install or start), or None; starts nothing."""
        return None

    @classmethod
    def describe(cls, config: SandboxConfig) -> str:
        """The isolation this backend gives here, for ``agentdistill sandbox check`` once a worker ran."""
        return "ok"

    @classmethod
    def sweep(cls) -> list[str]:
        """Remove leftovers (processes, cgroups, containers, temp dirs) of hosts that died; their names."""
        return []

    def sweep_leftovers(self) -> list[str]:
        """``sweep`` with this config (done once per process, before the first start)."""
        return type(self).sweep()

    def worker_config(self) -> dict[str, Any]:
        """What the worker enforces itself."""
        return {"limits": self.config.limits.to_worker(), "preload": list(self.config.preload)}

    def start(self) -> Instance:
        """Launch and greet a worker: it is ready to run code when this returns."""
        if not type(self)._swept:
            type(self)._swept = True
            self.sweep_leftovers()
        inst = self.launch()
        try:
            inst.channel.send({"op": "hello", "config": self.worker_config()})
            deadline = time.monotonic() + self.startup_timeout_s
            while True:
                msg = inst.channel.recv(max(0.0, deadline - time.monotonic()))
                if msg is None:
                    raise SandboxError(
                        f"the {self.name} sandbox did not start within {self.startup_timeout_s:.0f} s"
                    )
                if msg.get("op") == "ready":
                    return inst
        except ChannelClosed as e:
            diag = inst.diagnostics().strip()
            inst.terminate()
            raise SandboxError(
                f"the {self.name} sandbox worker failed to start ({e})" + (f": {diag}" if diag else "")
            ) from None
        except BaseException:
            inst.terminate()
            raise
