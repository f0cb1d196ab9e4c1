"""The Sandbox API and the registry of backends.

A :class:`Sandbox` is one episode: a persistent worker whose Python state survives between steps. The
backend (``local``, ``docker``, ``unsafe-local``) only starts and kills *instances* (a worker process tree
or a container); everything else (steps, forks, host tool calls, limits and restarts) is shared here.

    with Sandbox.open(SandboxConfig(backend="local"), tools={"web_search": search}) as sb:
        sb.run("x = 41")
        forks = sb.fork(3)                      # three copies of the current state
        results = sb.run_forks(["x += 1", "x += 2", "1/0"])
        sb.select(0)                            # fork 0's state becomes the state; nothing re-runs
        sb.run("x").value                       # '42'
"""

from __future__ import annotations

import abc
import atexit
import collections
import dataclasses
import json
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from agentdistill.errors import AgentDistillError
from agentdistill.sandbox.config import SandboxConfig, SandboxLimits
from agentdistill.sandbox.protocol import Channel, ChannelClosed
from agentdistill.schema import ExecResult

Tool = Callable[..., Any] | Any  # a plain callable, or a langchain-core BaseTool / BaseRetriever


class SandboxError(AgentDistillError):
    """The sandbox could not do what was asked (worker failed to start, bad fork index...)."""


class SandboxUnavailable(SandboxError):
    """A backend cannot run on this host; the message says what to install or start."""


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
    """Starts instances for one config. Subclasses register themselves by ``name``."""

    name: ClassVar[str]
    startup_timeout_s: ClassVar[float] = 30.0
    _swept: ClassVar[bool] = False

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config

    @abc.abstractmethod
    def launch(self) -> Instance:
        """Start a worker (not yet greeted)."""

    @classmethod
    def check(cls, config: SandboxConfig | None = None) -> tuple[bool, str]:
        """(usable here, why / why not), for ``agentdistill sandbox check``."""
        return True, "ok"

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


BACKENDS: dict[str, type[Backend]] = {}


def register_backend(cls: type[Backend]) -> type[Backend]:
    BACKENDS[cls.name] = cls
    return cls


def get_backend(name: str) -> type[Backend]:
    _load_builtin_backends()
    try:
        return BACKENDS[name]
    except KeyError:
        raise SandboxError(
            f"unknown sandbox backend {name!r}; choose one of {', '.join(sorted(BACKENDS))}"
        ) from None


def _load_builtin_backends() -> None:
    from agentdistill.sandbox import docker_backend, local  # noqa: F401  (register on import)


# ----------------------------------------------------------------------------------------------------------
# Warm pools: started, greeted instances waiting for an episode.


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


def _pool_for(config: SandboxConfig, backend: Backend) -> _Pool | None:
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


# ----------------------------------------------------------------------------------------------------------
# Host-side tools.


def tool_description(tool: Tool) -> str:
    return str(getattr(tool, "description", None) or getattr(tool, "__doc__", None) or "")


def invoke_tool(tool: Tool, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
    """Call a plain callable, or a langchain ``BaseTool``/``Runnable`` through ``invoke``."""
    if hasattr(tool, "invoke") and not isinstance(tool, type):
        names = list(getattr(tool, "args", None) or {})
        if not kwargs and len(args) == 1 and len(names) <= 1:
            payload: Any = {names[0]: args[0]} if names else args[0]
        else:
            if len(args) > len(names):
                raise TypeError(
                    f"takes {len(names)} positional arguments ({', '.join(names)}), got {len(args)}"
                )
            payload = {**dict(zip(names, args, strict=False)), **kwargs}
        return tool.invoke(payload)
    return tool(*args, **kwargs)


def tool_output(value: Any) -> Any:
    """What the sandbox receives: JSON data as is; messages, documents and other objects as text."""
    content = getattr(value, "content", None)
    if isinstance(content, str) and not isinstance(value, str | bytes):
        return content
    if isinstance(value, list) and value and all(hasattr(v, "page_content") for v in value):
        return "\n\n".join(v.page_content for v in value)
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return str(value)


# ----------------------------------------------------------------------------------------------------------
# The episode.

_SIGNALS = {int(s): s.name for s in signal.Signals}


class Sandbox:
    """One episode's persistent Python worker, on the backend ``config.backend``.

    Steps run one at a time; candidate steps run in parallel in forks. Limits come from
    ``config.limits``; a step that breaks one returns an :class:`ExecResult` with ``error`` and ``limit``
    set, and if the worker had to be killed its state is gone (``restarted=True``) but the sandbox goes on.
    """

    def __init__(self, config: SandboxConfig | None = None, tools: Mapping[str, Tool] | None = None) -> None:
        self.config = config or SandboxConfig()
        self.tools: dict[str, Tool] = dict(tools or {})
        self.backend = get_backend(self.config.backend)(self.config)
        self._inst: Instance | None = None
        self._forks = 0
        self._dead_forks: set[int] = set()
        self._main_lost = False
        self._step_id = 0
        self.restarts = 0

    # --- lifecycle
    @classmethod
    def open(
        cls, config: SandboxConfig | None = None, tools: Mapping[str, Tool] | None = None, **limits: Any
    ) -> Sandbox:
        """Start a sandbox (``limits`` override fields of ``config.limits``). Use as a context manager."""
        if limits:
            config = dataclasses.replace(config or SandboxConfig())
            config.limits = dataclasses.replace(config.limits, **limits)
        sb = cls(config, tools)
        sb.start()
        return sb

    def start(self) -> None:
        if self._inst is not None:
            return
        pool = _pool_for(self.config, self.backend)
        inst = pool.take() if pool else None
        self._inst = inst or self.backend.start()
        self._forks, self._dead_forks = 0, set()
        if self.tools:
            self._inst.channel.send(
                {"op": "tools", "tools": {name: tool_description(t) for name, t in self.tools.items()}}
            )

    def close(self) -> None:
        """Kill every process of the sandbox and remove its files, cgroups or container."""
        inst, self._inst = self._inst, None
        if inst is not None:
            inst.terminate()

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def limits(self) -> SandboxLimits:
        return self.config.limits

    def _channel(self) -> Channel:
        if self._inst is None:
            raise SandboxError("the sandbox is closed (use it inside `with Sandbox.open(...)`)")
        return self._inst.channel

    def _restart(self) -> None:
        """Replace a wedged or dead instance by a fresh one: the state is lost."""
        self.close()
        self.restarts += 1
        self.start()

    # --- steps
    def run(self, code: str, *, timeout: float | None = None) -> ExecResult:
        """Run one step in the current state; ``timeout`` overrides the wall time limit for this step."""
        result = self._run_targets({"main": code}, timeout)["main"]
        if self._main_lost:
            self._main_lost = False
            result.restarted = True
        return result

    def fork(self, k: int) -> list[SandboxFork]:
        """Make ``k`` isolated copies of the current state (replacing any earlier forks)."""
        if k < 1:
            raise ValueError("fork(k) needs k >= 1")
        msg = self._request({"op": "fork", "k": k}, "forked", timeout=10.0 + k)
        pids = msg.get("pids") or []
        self._forks, self._dead_forks = len(pids), set()
        if len(pids) < k:
            self.discard_forks()
            raise SandboxError(
                f"could only fork {len(pids)} of {k} copies: {msg.get('error') or 'unknown error'}"
            )
        return [SandboxFork(self, i) for i in range(k)]

    def run_forks(
        self, codes: Sequence[str | None], *, timeout: float | None = None
    ) -> list[ExecResult | None]:
        """Run ``codes[i]`` in fork ``i``, all in parallel (None: leave that fork alone)."""
        if len(codes) > self._forks:
            raise SandboxError(f"{len(codes)} candidates but {self._forks} forks: call fork(k) first")
        todo = {i: c for i, c in enumerate(codes) if c is not None}
        for i in todo:
            if i in self._dead_forks:
                raise SandboxError(f"fork {i} was killed; its state is gone")
        results = self._run_targets(todo, timeout)
        return [results.get(i) for i in range(len(codes))]

    def select(self, index: int) -> None:
        """Keep fork ``index``'s state as the sandbox state (without re-running it); drop the other forks.

        Selecting a fork that was killed (its result said ``restarted``) leaves a fresh, empty state, as a
        killed step does outside forks.
        """
        if not 0 <= index < self._forks:
            raise SandboxError(f"cannot select fork {index}: there are {self._forks} forks")
        if index in self._dead_forks:
            self.discard_forks()
            self._request({"op": "reset"}, "reset", timeout=10.0)
            return
        msg = self._request({"op": "select", "index": index}, "selected", timeout=10.0)
        self._forks, self._dead_forks = 0, set()
        self._main_lost = False  # whatever happened to the old state, the chosen copy replaces it
        if msg.get("error"):
            raise SandboxError(msg["error"])

    def discard_forks(self) -> None:
        """Kill all forks; the state stays as it was before ``fork``."""
        if self._forks:
            self._request({"op": "discard"}, "discarded", timeout=10.0)
        self._forks, self._dead_forks = 0, set()

    def ping(self) -> float:
        """Round-trip time to the worker in seconds (a health check)."""
        t0 = time.perf_counter()
        self._request({"op": "ping"}, "pong", timeout=5.0)
        return time.perf_counter() - t0

    # --- protocol plumbing
    def _request(self, msg: dict[str, Any], reply_op: str, timeout: float) -> dict[str, Any]:
        """Send a control message and wait for its reply; a dead or silent worker is restarted."""
        try:
            ch = self._channel()
            ch.send(msg)
            deadline = time.monotonic() + timeout
            while True:
                reply = ch.recv(max(0.0, deadline - time.monotonic()))
                if reply is None:
                    break
                if reply.get("op") == reply_op:
                    return reply
                if reply.get("op") == "died" and reply.get("target") == "main":
                    self._main_lost = True
        except ChannelClosed:
            pass
        self._restart()
        self._main_lost = True
        raise SandboxError(
            f"the sandbox worker did not answer {msg['op']!r}; it was restarted and its state is lost"
        )

    def _run_targets(self, codes: Mapping[Any, str], timeout: float | None) -> dict[Any, ExecResult]:
        ch = self._channel()
        lim = self.config.limits
        wall = float(timeout if timeout is not None else lim.wall_time_s)
        overrides = {"wall_time_s": wall} if timeout is not None else {}
        self._step_id += 1
        step_id = self._step_id  # results of an earlier, abandoned call (e.g. Ctrl-C) are ignored
        start = time.monotonic()
        deadline: dict[Any, float] = {}
        try:
            for target, code in codes.items():
                ch.send({"op": "run", "target": target, "code": code, "limits": overrides, "id": step_id})
                deadline[target] = start + wall + lim.kill_grace_s
        except ChannelClosed:
            return self._lost(codes, start, None, "the sandbox worker died")
        results: dict[Any, ExecResult] = {}
        killed: dict[Any, float] = {}
        oom_before = self._inst.oom_kills() if self._inst else 0
        while len(results) < len(codes):
            now = time.monotonic()
            waiting = [t for t in codes if t not in results]
            # Past the deadline: ask the supervisor to kill the step; if it does not answer, kill it all.
            for t in waiting:
                if t not in killed and now >= deadline[t]:
                    killed[t] = now
                    try:
                        ch.send({"op": "kill", "target": t, "reason": "wall_time", "id": step_id})
                    except ChannelClosed:
                        return {
                            **results,
                            **self._lost(waiting, start, "wall_time", "the sandbox worker died"),
                        }
            if any(now >= k + 3.0 for k in killed.values()):
                return {**results, **self._lost(waiting, start, "wall_time", "the step did not stop in time")}
            nxt = min([deadline[t] for t in waiting if t not in killed] + [k + 3.0 for k in killed.values()])
            try:
                msg = ch.recv(max(0.0, nxt - now) + 0.001)
            except ChannelClosed as e:
                oom = self._inst is not None and self._inst.oom_kills() > oom_before
                return {**results, **self._lost(waiting, start, "memory" if oom else None, str(e))}
            if msg is None:
                continue
            op, target = msg.get("op"), msg.get("target")
            if op == "result" and target in codes and target not in results and msg.get("id") == step_id:
                results[target] = _result(msg, time.monotonic() - start)
            elif op == "tool":
                t0 = time.monotonic()
                reply = self._call_tool(msg)
                reply.update(op="tool_result", target=target)
                try:
                    ch.send(reply)
                except ChannelClosed:
                    continue  # noticed by the next recv
                if target in deadline:
                    deadline[target] += time.monotonic() - t0  # host tool time does not count
            elif op == "died":
                # A process that died between steps (e.g. killed for an earlier step) loses its state;
                # only a death during this step is this step's result.
                ours = target in codes and target not in results and msg.get("id") == step_id
                if target == "main" and not ours:
                    self._main_lost = True
                if target != "main" and target is not None:
                    self._dead_forks.add(target)
                if ours:
                    oom = self._inst is not None and self._inst.oom_kills() > oom_before
                    results[target] = _died_result(msg, time.monotonic() - start, oom)
        return results

    def _lost(self, targets, start: float, limit: str | None, why: str) -> dict[Any, ExecResult]:
        """The whole instance is gone or wedged: kill it, start a fresh one, report the steps as failed."""
        self._restart()
        self._main_lost = "main" not in targets
        text = f"SandboxRestarted: {why}; the worker was killed and restarted, its state is lost"
        if limit:
            text += f" ({limit} limit)"
        dur = time.monotonic() - start
        return {t: ExecResult(error=text, limit=limit, restarted=True, duration_s=dur) for t in targets}

    def _call_tool(self, msg: dict[str, Any]) -> dict[str, Any]:
        name = msg.get("name")
        tool = self.tools.get(name) if isinstance(name, str) else None
        if tool is None:
            return {"ok": False, "error": f"unknown tool {name!r}"}
        args, kwargs = msg.get("args") or [], msg.get("kwargs") or {}
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            return {"ok": False, "error": "malformed tool call"}
        try:
            return {"ok": True, "value": tool_output(invoke_tool(tool, args, kwargs))}
        except Exception as e:
            return {"ok": False, "error": f"{name}: {type(e).__name__}: {e}"}


class SandboxFork:
    """One copy of a sandbox's state, made by :meth:`Sandbox.fork`."""

    def __init__(self, sandbox: Sandbox, index: int) -> None:
        self.sandbox, self.index = sandbox, index

    def run(self, code: str, *, timeout: float | None = None) -> ExecResult:
        codes: list[str | None] = [None] * (self.index + 1)
        codes[self.index] = code
        result = self.sandbox.run_forks(codes, timeout=timeout)[self.index]
        assert result is not None
        return result

    def select(self) -> None:
        self.sandbox.select(self.index)


def _result(msg: dict[str, Any], elapsed: float) -> ExecResult:
    fields = {k: msg.get(k) for k in ("stdout", "error", "final_answer", "value", "limit")}
    return ExecResult(
        stdout=str(fields["stdout"] or ""),
        error=None if fields["error"] is None else str(fields["error"]),
        final_answer=fields["final_answer"],
        value=None if fields["value"] is None else str(fields["value"]),
        is_final=bool(msg.get("is_final")),
        truncated=bool(msg.get("truncated")),
        limit=fields["limit"] if isinstance(fields["limit"], str) else None,
        duration_s=float(msg.get("duration_s") or elapsed),
    )


def _died_result(msg: dict[str, Any], elapsed: float, oom: bool) -> ExecResult:
    sig = msg.get("signal")
    reason = msg.get("reason")
    name = _SIGNALS.get(sig, f"signal {sig}") if isinstance(sig, int) else None
    if reason == "wall_time":
        limit = "wall_time"
    elif name == "SIGXCPU":
        limit = "cpu_time"
    elif oom or (name == "SIGKILL" and reason is None):
        limit = "memory" if oom else None
    else:
        limit = None
    how = f"killed by {name}" if name else f"exited with status {msg.get('exit_code')}"
    text = f"SandboxProcessDied: the step's process was {how}"
    if limit:
        text += f" ({limit} limit)"
    text += "; its state is lost" + (" and a fresh state was started" if msg.get("respawned") else "")
    return ExecResult(error=text, limit=limit, restarted=True, duration_s=elapsed)
