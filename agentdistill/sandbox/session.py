"""The Sandbox API: one episode's persistent worker, on any backend.

A :class:`Sandbox` is one episode: a persistent worker whose Python state survives between steps. The
backend (:mod:`agentdistill.sandbox.backends`) only starts and kills instances; everything else (steps,
forks, host tool calls, limits and restarts) is shared here.

    with Sandbox.open(SandboxConfig(backend="local"), tools={"web_search": search}) as sb:
        sb.run("x = 41")
        forks = sb.fork(3)                      # three copies of the current state
        results = sb.run_forks(["x += 1", "x += 2", "1/0"])
        sb.select(0)                            # fork 0's state becomes the state; nothing re-runs
        sb.run("x").value                       # '42'
"""

from __future__ import annotations

import dataclasses
import signal
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from agentdistill.sandbox.backends import get_backend
from agentdistill.sandbox.base import Instance
from agentdistill.sandbox.config import SandboxConfig, SandboxLimits
from agentdistill.sandbox.errors import SandboxError
from agentdistill.sandbox.pool import pool_for
from agentdistill.sandbox.protocol import Channel, ChannelClosed
from agentdistill.schema import ExecResult
from agentdistill.tools.host import describe_tool, invoke_tool, tool_output

Tool = Callable[..., Any] | Any  # a plain callable, or a langchain-core BaseTool / BaseRetriever

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
        pool = pool_for(self.config, self.backend)
        inst = pool.take() if pool else None
        self._inst = inst or self.backend.start()
        self._forks, self._dead_forks = 0, set()
        if self.tools:
            self._inst.channel.send(
                {"op": "tools", "tools": {name: describe_tool(t) for name, t in self.tools.items()}}
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
        tool_calls: dict[Any, int] = {}
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
                results[target] = _result(msg, time.monotonic() - start, tool_calls.get(target, 0))
            elif op == "tool":
                tool_calls[target] = tool_calls.get(target, 0) + 1
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


def _result(msg: dict[str, Any], elapsed: float, tool_calls: int = 0) -> ExecResult:
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
        tool_calls=tool_calls,
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


SMOKE_TEST = "import numpy, sympy; 1 + 1"


def check_backend(name: str, config: SandboxConfig | None = None) -> tuple[bool, str]:
    """(usable here, why / why not) for ``agentdistill sandbox check``: the backend's own preflight,
    then a real worker that must import numpy and sympy."""
    cls = get_backend(name)
    config = config or SandboxConfig(backend=name)
    if (why := cls.preflight(config)) is not None:
        return False, why
    try:
        with warnings.catch_warnings():  # unsafe-local warns on every start; describe() says it instead
            warnings.simplefilter("ignore", RuntimeWarning)
            with Sandbox.open(config) as sb:
                res = sb.run(SMOKE_TEST)
    except SandboxError as e:
        return False, f"the {name} sandbox does not start: {e}"
    if res.value != "2":
        return False, f"the {name} sandbox starts but cannot import numpy/sympy: {res.error}"
    return True, cls.describe(config)
