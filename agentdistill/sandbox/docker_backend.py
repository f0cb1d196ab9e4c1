"""The ``docker`` backend: one container per episode, from the offline image, locked down.

Each container: no network (``network_mode="none"``), read-only root filesystem with tmpfs /tmp and
/scratch, memory (no swap), pids and CPU limits, every capability dropped, ``no-new-privileges``, an init
process, uid 65534. The worker talks over the container's attached stdin/stdout. A step that overruns is
killed by the in-container supervisor; if that does not answer, ``container.kill()`` (killing the client
alone would leave the code running). Containers carry labels naming their owner process, so the ones a
dead host left behind are removed by the next start.
"""

from __future__ import annotations

import contextlib
import glob
from pathlib import Path

from agentdistill.sandbox.base import Backend, Instance
from agentdistill.sandbox.config import SandboxConfig
from agentdistill.sandbox.docker_engine import docker_client
from agentdistill.sandbox.errors import SandboxError, SandboxUnavailable
from agentdistill.sandbox.local import SANDBOX_ENV, WORKER_SOURCE
from agentdistill.sandbox.owner import boot_id, new_name, owner_alive, owner_tag
from agentdistill.sandbox.protocol import DockerAttachChannel

LABEL = "agentdistill.sandbox"
NOBODY = "65534:65534"


class DockerInstance(Instance):
    def __init__(self, container, sock) -> None:
        self.container = container
        self.channel = DockerAttachChannel(sock)
        self._done = False
        self._oom_file: Path | None = None

    def terminate(self) -> None:
        if self._done:
            return
        self._done = True
        self.channel.close()
        with contextlib.suppress(Exception):
            self.container.kill()
        with contextlib.suppress(Exception):
            self.container.remove(force=True)

    def oom_kills(self) -> int:
        """From the container's memory cgroup, when the engine runs on this machine (v1 or v2)."""
        if self._oom_file is None:
            cid = self.container.id
            found = glob.glob(f"/sys/fs/cgroup/memory/docker/{cid}/memory.oom_control") or glob.glob(
                f"/sys/fs/cgroup/system.slice/docker-{cid}.scope/memory.events"
            )
            self._oom_file = Path(found[0]) if found else Path("/nonexistent")
        with contextlib.suppress(OSError, ValueError):
            for line in self._oom_file.read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        return 0

    def diagnostics(self) -> str:
        with contextlib.suppress(Exception):
            return self.container.logs(stdout=False, stderr=True).decode(errors="replace")[-4000:]
        return ""


class DockerBackend(Backend):
    name = "docker"
    startup_timeout_s = 60.0

    def __init__(self, config: SandboxConfig) -> None:
        super().__init__(config)
        self._client = None

    @property
    def client(self):
        if self._client is None:
            self._client = docker_client(self.config.docker_host)
        return self._client

    def sweep_leftovers(self) -> list[str]:
        return self.sweep(self.config.docker_host)

    def image(self) -> str:
        from agentdistill.sandbox.image import default_image, image_exists

        tag = self.config.docker_image or default_image()
        if not image_exists(self.client, tag):
            raise SandboxUnavailable(
                f"the sandbox image {tag} is not in the Docker engine: run `agentdistill sandbox build-image`"
            )
        return tag

    def launch(self) -> Instance:
        lim = self.config.limits
        tmpfs_opts = f"size={lim.scratch_mb}m,mode=1777,uid=65534,gid=65534,nosuid,nodev"
        name = new_name()
        container = self.client.containers.create(
            self.image(),
            command=["python3", "-I", "-B", "-c", WORKER_SOURCE.read_text()],
            name=f"agentdistill-sbx-{name.replace('.', '-')}",
            hostname="sandbox",
            user=NOBODY,
            working_dir="/scratch",
            environment=SANDBOX_ENV,
            stdin_open=True,
            network_mode="none",
            read_only=True,
            tmpfs={"/tmp": tmpfs_opts, "/scratch": tmpfs_opts},
            mem_limit=lim.memory_mb * 2**20,
            memswap_limit=lim.memory_mb * 2**20,
            pids_limit=lim.processes,
            nano_cpus=int(lim.cpus * 1e9),
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            init=True,
            labels={LABEL: "1", f"{LABEL}.owner": owner_tag(), f"{LABEL}.boot": boot_id()},
            detach=False,  # with stdin_open this sets StdinOnce: the worker sees EOF when the host goes away
        )
        try:
            sock = self.client.api.attach_socket(container.id, params={"stdin": 1, "stdout": 1, "stream": 1})
            container.start()
        except Exception as e:
            with contextlib.suppress(Exception):
                container.remove(force=True)
            raise SandboxError(f"cannot start the sandbox container: {e}") from None
        return DockerInstance(container, getattr(sock, "_sock", sock))

    @classmethod
    def preflight(cls, config: SandboxConfig) -> str | None:
        try:
            cls(config).image()
        except SandboxError as e:
            return str(e)
        return None

    @classmethod
    def describe(cls, config: SandboxConfig) -> str:
        from agentdistill.sandbox.image import default_image

        return f"Docker engine reachable, image {config.docker_image or default_image()}"

    @classmethod
    def sweep(cls, docker_host: str | None = None) -> list[str]:
        """Remove labelled containers whose owner process is gone (or that come from an earlier boot)."""
        try:
            client = docker_client(docker_host)
        except SandboxUnavailable:
            return []
        removed = []
        for c in client.containers.list(all=True, filters={"label": f"{LABEL}=1"}):
            labels = c.labels or {}
            mine = labels.get(f"{LABEL}.boot") == boot_id()
            if mine and owner_alive(labels.get(f"{LABEL}.owner", "")):
                continue
            with contextlib.suppress(Exception):
                c.remove(force=True)
                removed.append(c.name)
        return removed
