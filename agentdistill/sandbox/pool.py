"""Warm pools: started, greeted instances waiting for an episode (``SandboxConfig.warm_pool``)."""

from __future__ import annotations

import atexit
import collections
import dataclasses
import json
import threading
import time

from agentdistill.sandbox.base import Backend, Instance
from agentdistill.sandbox.config import SandboxConfig


class _Pool:
    def __init__(self, backend: Backend, size: int) -> None:
        self.backend, self.size = backend, size
        self.ready: collections.deque[Instance] = collections.deque()
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.closed = False
        threading.Thread(target=self._fill, daemon=True, name=f"sandbox-pool-{backend.name}").start()

    def take(self) -> Instance | None:
        with self.lock:
            inst = self.ready.popleft() if self.ready else None
        self.wake.set()
        return inst

    def _fill(self) -> None:
        while not self.closed:
            while len(self.ready) < self.size and not self.closed:
                try:
                    inst = self.backend.start()
                except Exception:
                    time.sleep(1.0)
                    continue
                with self.lock:
                    if self.closed:
                        inst.terminate()
                        return
                    self.ready.append(inst)
            self.wake.wait(1.0)
            self.wake.clear()

    def close(self) -> None:
        self.closed = True
        self.wake.set()
        with self.lock:
            while self.ready:
                self.ready.popleft().terminate()


_POOLS: dict[str, _Pool] = {}
_POOLS_LOCK = threading.Lock()


def pool_for(config: SandboxConfig, backend: Backend) -> _Pool | None:
    if config.warm_pool <= 0:
        return None
    key = json.dumps(dataclasses.asdict(config), sort_keys=True)
    with _POOLS_LOCK:
        if key not in _POOLS:  # the pool's thread gets its own backend object
            _POOLS[key] = _Pool(type(backend)(config), config.warm_pool)
        return _POOLS[key]


@atexit.register
def close_pools() -> None:
    """Terminate pooled instances (also runs at interpreter exit)."""
    with _POOLS_LOCK:
        for pool in _POOLS.values():
            pool.close()
        _POOLS.clear()
