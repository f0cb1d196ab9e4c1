"""The program that runs model-written code inside the sandbox.

Standard library only, and no imports from agentdistill: the same file runs on the host's Python (local
backend) and on the Docker image's ``python3``. The host talks to it over fd 0/1 with length-prefixed JSON
frames (4-byte big-endian length, then UTF-8 JSON).

Processes inside the sandbox:

* the **supervisor** (this file's ``main``) owns the host channel and never runs model code. It is a child
  subreaper, so every descendant is reparented to it, reaped, and swept (killed) between steps;
* the **state process** (target ``"main"``) holds the episode's globals and runs steps;
* **forks** (targets ``0..k-1``) are copies of the state process for candidate actions (``os.fork``:
  copy-on-write); ``select`` makes one of them the state process, so the chosen candidate never runs twice.

The supervisor routes host messages to a target's socket and tags what comes back with the target.
"""

from __future__ import annotations

import _ast
import builtins
import errno
import gc
import io
import json
import os
import resource
import selectors
import signal
import socket
import struct
import sys
import time

# Imports are kept to what every step needs (ast, traceback and linecache load lazily): they are most
# of the worker's start-up time.
PyCF_ONLY_AST = 0x400
HEADER = struct.Struct(">I")
MAX_FRAME = 64 * 2**20
WORKER_FILE = os.path.abspath(__file__) if "__file__" in globals() else "<string>"  # "<string>": python -c


class suppress:
    """contextlib.suppress without importing contextlib (start-up time)."""

    def __init__(self, *exceptions) -> None:
        self.exceptions = exceptions

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, tb) -> bool:
        return exc_type is not None and issubclass(exc_type, self.exceptions)


SOURCES: dict = {}  # step filename -> code, registered with linecache when a traceback is formatted


def encode(msg: dict) -> bytes:
    data = json.dumps(msg, default=str).encode("utf-8")
    return HEADER.pack(len(data)) + data


class Decoder:
    """Reassembles frames from a byte stream."""

    def __init__(self) -> None:
        self.buf = bytearray()

    def feed(self, data: bytes) -> None:
        self.buf += data

    def pop(self):
        if len(self.buf) < HEADER.size:
            return None
        (n,) = HEADER.unpack_from(self.buf)
        if n > MAX_FRAME:
            raise ValueError(f"frame of {n} bytes is over the {MAX_FRAME} limit")
        if len(self.buf) < HEADER.size + n:
            return None
        msg = json.loads(bytes(self.buf[HEADER.size : HEADER.size + n]))
        del self.buf[: HEADER.size + n]
        return msg


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


# ----------------------------------------------------------------------------------------------------------
# The state process: runs model code.


class FinalAnswer(BaseException):
    """Raised by ``final_answer(x)``; a BaseException so that ``except Exception`` in model code misses it."""

    def __init__(self, value):
        super().__init__(value)
        self.value = value


class WallTimeLimit(BaseException):
    pass


class CpuTimeLimit(BaseException):
    pass


class ToolError(RuntimeError):
    """A host-side tool failed; the message is the tool's error."""


class CappedWriter(io.TextIOBase):
    """stdout/stderr replacement that keeps the first ``limit`` bytes and counts the rest."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self.parts: list[str] = []
        self.truncated = False

    def write(self, s) -> int:
        if not isinstance(s, str):
            raise TypeError(f"write() argument must be str, not {type(s).__name__}")
        n = len(s)
        room = self.limit - self.size
        if room <= 0:
            self.truncated = self.truncated or n > 0
            return n
        piece = s if n <= room else s[:room]
        data = piece.encode("utf-8", "replace")
        if len(data) > room:
            data = data[:room]
            piece = data.decode("utf-8", "ignore")
        self.parts.append(piece)
        self.size += len(data)
        if len(piece) < n:
            self.truncated = True
        return n

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:
        return "utf-8"

    def getvalue(self) -> str:
        return "".join(self.parts)


def capped(text: str, cap: int):
    """(text cut to ``cap`` characters, whether it was cut)."""
    return (text[:cap], True) if len(text) > cap else (text, False)


def jsonable(value):
    """The final answer as JSON data: itself if it serialises, else ``.item()/.tolist()``, else ``str``."""
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        pass
    for attr in ("item", "tolist"):
        try:
            converted = getattr(value, attr)()
            json.dumps(converted)
            return converted
        except Exception:
            continue
    return str(value)


class StateProcess:
    """Holds the episode's globals; executes steps sent by the supervisor."""

    def __init__(self, sock: socket.socket, target, config: dict, tools: dict) -> None:
        self.sock = sock
        self.target = target
        self.config = config
        self.dec = Decoder()
        self.fds: list[int] = []
        self.step = 0
        self.armed = False
        self.in_tool = False
        self.deferred: BaseException | None = None
        self.pid = os.getpid()
        self.globals: dict = {"__name__": "__main__", "__builtins__": builtins}
        self.globals["final_answer"] = _final_answer
        self.define_tools(tools)

    # --- channel
    def send(self, msg: dict) -> None:
        self.sock.sendall(encode(msg))

    def recv(self) -> dict:
        while True:
            msg = self.dec.pop()
            if msg is not None:
                return msg
            data, fds, _flags, _addr = socket.recv_fds(self.sock, 1 << 16, 64)
            self.fds.extend(fds)
            if not data:
                os._exit(0)  # the supervisor is gone
            self.dec.feed(data)

    # --- setup
    def apply_rlimits(self) -> None:
        limits = self.config.get("limits", {})
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG instead
        for res, value in (
            (resource.RLIMIT_AS, limits.get("memory_bytes")),
            (resource.RLIMIT_FSIZE, limits.get("file_size_bytes")),
            (resource.RLIMIT_NPROC, self.config.get("rlimit_nproc")),
            (resource.RLIMIT_CORE, 0),
        ):
            if value is not None:
                with suppress(ValueError, OSError):
                    resource.setrlimit(res, (int(value), int(value)))
        signal.signal(signal.SIGALRM, self._on_timer)
        signal.signal(signal.SIGPROF, self._on_timer)

    def define_tools(self, tools: dict) -> None:
        for name, doc in tools.items():
            self.globals[name] = self._stub(name, doc)

    def _stub(self, name: str, doc: str):
        state = self

        def tool(*args, **kwargs):
            return state.call_tool(name, args, kwargs)

        tool.__name__ = tool.__qualname__ = name
        tool.__doc__ = doc
        return tool

    def call_tool(self, name: str, args, kwargs):
        try:
            json.dumps([args, kwargs])  # strict: encode() would quietly turn objects into strings
            msg = encode({"op": "tool", "name": name, "args": list(args), "kwargs": kwargs})
        except (TypeError, ValueError) as e:
            raise TypeError(
                f"{name}(): arguments must be JSON data (str, numbers, lists, dicts): {e}"
            ) from None
        self.in_tool = True
        try:
            self.sock.sendall(msg)
            while True:
                reply = self.recv()
                if reply.get("op") == "tool_result":
                    break
        finally:
            self.in_tool = False
        if self.deferred is not None:
            exc, self.deferred = self.deferred, None
            raise exc
        if not reply.get("ok"):
            raise ToolError(reply.get("error") or f"tool {name} failed")
        return reply.get("value")

    def _on_timer(self, signum, _frame) -> None:
        if not self.armed:
            return
        self.armed = False
        exc = WallTimeLimit() if signum == signal.SIGALRM else CpuTimeLimit()
        if self.in_tool:
            self.deferred = exc
            return
        raise exc

    # --- main loop
    def loop(self) -> None:
        while True:
            msg = self.recv()
            reap_children()  # processes model code left behind were killed by the supervisor's sweep
            op = msg.get("op")
            if op == "run":
                result = self.execute(msg.get("code", ""), msg.get("limits") or {})
                result["id"] = msg.get("id")
                self.send(result)
            elif op == "tools":
                self.define_tools(msg.get("tools", {}))
            elif op == "fork":
                fds, self.fds = self.fds, []
                if self.fork(fds):
                    continue  # we are now one of the forks
            elif op == "became_main":
                gc.unfreeze()
            elif op == "exit":
                os._exit(0)
            # anything else (e.g. a tool_result that arrived after a timeout) is stale: ignore it

    def fork(self, fds: list[int]) -> bool:
        """Make one copy per fd; return True in the copy (which then serves that fd).

        Copies are this process's children (it reaps them at its next message); when one is selected,
        this process is killed and the copy is reparented to the supervisor, a child subreaper.
        """
        pids, error = [], None
        gc.freeze()  # keep the collector from writing to (and so copying) every shared page in the copies
        try:
            for i, fd in enumerate(fds):
                try:
                    pid = os.fork()
                except OSError as e:
                    error = f"fork failed: {e}"
                    break
                if pid == 0:
                    for j, other in enumerate(fds):
                        if j != i:
                            os.close(other)
                    self.sock.close()
                    self.sock = socket.socket(fileno=fd)
                    self.target, self.dec, self.fds, self.pid = i, Decoder(), [], os.getpid()
                    with suppress(OSError):
                        os.setpgid(0, 0)
                    return True
                with suppress(OSError):
                    os.setpgid(pid, pid)  # also here: the supervisor may kill the group before the copy runs
                pids.append(pid)
        finally:
            if os.getpid() == self.pid:
                gc.unfreeze()
        for fd in fds:
            os.close(fd)
        self.send({"op": "forked", "pids": pids, "error": error})
        return False

    def execute(self, code: str, overrides: dict) -> dict:
        limits = dict(self.config.get("limits", {}))
        limits.update({k: v for k, v in overrides.items() if v is not None})
        self.step += 1
        filename = f"<step {self.step}>"
        SOURCES[filename] = code
        out = CappedWriter(int(limits.get("output_bytes", 65536)))
        saved = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = out
        pid = os.getpid()
        result = {"op": "result", "stdout": "", "error": None, "value": None, "final_answer": None}
        result.update({"is_final": False, "truncated": False, "limit": None})
        cap = int(limits.get("output_bytes", 65536))
        start = time.monotonic()
        try:
            self._arm(limits)
            try:  # repr() and the answer's conversion run under the limits too: they can be slow
                try:
                    value = self._run(code, filename)
                    if value is not None:
                        result["value"], cut = capped(repr(value), cap)
                        result["truncated"] = cut
                except FinalAnswer as fa:
                    answer = jsonable(fa.value)
                    if len(json.dumps(answer)) > cap:
                        answer, result["truncated"] = capped(str(answer), cap)[0], True
                    result["is_final"], result["final_answer"] = True, answer
            finally:
                self._disarm()
        except BaseException as e:
            if os.getpid() != pid:
                os._exit(1)
            result["error"], result["limit"] = describe_error(e, limits)
        finally:
            if os.getpid() != pid:
                os._exit(0)  # a process forked by model code must never talk to the host
            sys.stdout, sys.stderr = saved
        result["stdout"] = out.getvalue()
        result["truncated"] = result["truncated"] or out.truncated
        if out.truncated and result["limit"] is None:
            result["limit"] = "output"
        result["duration_s"] = time.monotonic() - start
        return result

    def _run(self, code: str, filename: str):
        tree = compile(code, filename, "exec", PyCF_ONLY_AST)  # the ast module costs start-up time
        last = None
        if tree.body and isinstance(tree.body[-1], _ast.Expr):
            last = _ast.Expression(tree.body.pop().value)
        exec(compile(tree, filename, "exec"), self.globals)
        if last is not None:
            return eval(compile(last, filename, "eval"), self.globals)
        return None

    def _arm(self, limits: dict) -> None:
        self.deferred = None
        self.armed = True
        wall, cpu = limits.get("wall_time_s"), limits.get("cpu_time_s")
        if wall:
            signal.setitimer(signal.ITIMER_REAL, float(wall))
        if cpu:
            signal.setitimer(signal.ITIMER_PROF, float(cpu))
            # Backstop if model code swallows the exception: SIGXCPU kills the process a second later.
            used = resource.getrusage(resource.RUSAGE_SELF)
            soft = int(used.ru_utime + used.ru_stime + float(cpu) + 2)
            _soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
            if hard != resource.RLIM_INFINITY:
                soft = min(soft, hard)
            with suppress(ValueError, OSError):
                resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))

    def _disarm(self) -> None:
        self.armed = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.setitimer(signal.ITIMER_PROF, 0)


def reap_children() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _final_answer(answer):
    """Ends the episode with ``answer`` as the final answer."""
    raise FinalAnswer(answer)


def describe_error(e: BaseException, limits: dict):
    """(error text, broken limit or None); tracebacks keep model code frames and hide the worker's."""
    if isinstance(e, WallTimeLimit):
        wall = limits.get("wall_time_s")
        return f"WallTimeLimitExceeded: the step ran past the wall time limit ({wall} s)", "wall_time"
    if isinstance(e, CpuTimeLimit):
        cpu = limits.get("cpu_time_s")
        return f"CpuTimeLimitExceeded: the step used more than its CPU time limit ({cpu} s)", "cpu_time"
    limit = None
    if isinstance(e, MemoryError):
        limit = "memory"
    elif isinstance(e, OSError) and e.errno == errno.EFBIG:
        limit = "file_size"
    elif (
        isinstance(e, OSError) and e.errno == errno.EAGAIN and _in_frames(e, ("fork", "_execute_child"))
    ) or (isinstance(e, RuntimeError) and "can't start new thread" in str(e)):
        limit = "processes"
    import linecache
    import traceback

    for filename, code in SOURCES.items():
        linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    te = traceback.TracebackException(type(e), e, e.__traceback__)
    te.stack = traceback.StackSummary.from_list([f for f in te.stack if f.filename != WORKER_FILE])
    text = "".join(te.format()).rstrip()
    if limit is not None:
        text += f"\n(sandbox {limit} limit reached)"
    return text, limit


def _in_frames(e: BaseException, names) -> bool:
    import traceback

    return any(any(n in f.name for n in names) for f in traceback.extract_tb(e.__traceback__))


# ----------------------------------------------------------------------------------------------------------
# The supervisor: owns the host channel, routes messages, reaps and sweeps processes.


class Proc:
    def __init__(self, pid: int, sock: socket.socket, target) -> None:
        self.pid, self.sock, self.target = pid, sock, target
        self.dec = Decoder()
        self.reason: str | None = None
        self.step = None  # id of the step in flight


class Supervisor:
    def __init__(self, rfd: int, wfd: int) -> None:
        self.rfd, self.wfd = rfd, wfd
        self.dec = Decoder()
        self.sel = selectors.DefaultSelector()
        self.procs: dict = {}  # target -> Proc
        self.config: dict = {}
        self.tools: dict = {}
        self.busy: set = set()  # targets with a step in flight
        self.forking: list | None = None  # the copies' sockets while main is forking
        self.status: dict[int, int] = {}  # pid -> wait status, for reaped processes
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self.sel.register(self.rfd, selectors.EVENT_READ, "host")
        self.sel.register(self.wake_r, selectors.EVENT_READ, "wake")
        with suppress(Exception):
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER

    def to_host(self, msg: dict) -> None:
        write_all(self.wfd, encode(msg))

    def serve(self) -> None:
        while True:
            for key, _ in self.sel.select():
                if key.data == "host":
                    data = os.read(self.rfd, 1 << 16)
                    if not data:
                        self.shutdown()
                    self.dec.feed(data)
                    while (msg := self.dec.pop()) is not None:
                        self.from_host(msg)
                elif key.data == "wake":
                    with suppress(BlockingIOError):
                        os.read(self.wake_r, 4096)
                    self.reap()
                else:
                    self.from_proc(key.data)

    # --- host -> supervisor
    def from_host(self, msg: dict) -> None:
        op, target = msg.get("op"), msg.get("target", "main")
        if op == "hello":
            self.config = msg.get("config", {})
            self.tools = msg.get("tools", {})
            failed = {}
            for mod in self.config.get("preload", []):
                try:
                    __import__(mod)
                except Exception as e:
                    failed[mod] = repr(e)
            self.spawn_main()
            self.to_host(
                {
                    "op": "ready",
                    "pid": os.getpid(),
                    "python": sys.version.split()[0],
                    "preload_failed": failed,
                }
            )
        elif op == "tools":
            self.tools.update(msg.get("tools", {}))
            self.forward("main", msg)
        elif op == "tool_result":
            self.forward(target, msg)
        elif op == "run":
            self.run(target, msg)
        elif op == "fork":
            self.fork(int(msg["k"]))
        elif op == "select":
            self.select(int(msg["index"]))
        elif op == "discard":
            self.discard_forks()
            self.sweep()
            self.to_host({"op": "discarded"})
        elif op == "kill":
            proc = self.procs.get(target)
            running = proc is not None and proc.step is not None and proc.step == msg.get("id")
            if running:  # a step that already finished is left alone
                proc.reason = msg.get("reason") or "killed"
                self.kill(proc)
        elif op == "reset":  # a fresh state process (the chosen state was lost)
            main = self.procs.get("main")
            if main is not None:
                self.drop_proc(main)
                self.kill(main)
                self.wait_status(main.pid)
            self.spawn_main()
            self.sweep()
            self.to_host({"op": "reset"})
        elif op == "ping":
            self.to_host({"op": "pong"})
        elif op == "exit":
            self.shutdown()

    def run(self, target, msg: dict) -> None:
        """Hand a step to its process; if that process is found dead, report it (respawning main) first."""
        self.reap()
        for _ in range(2):
            proc = self.procs.get(target)
            if proc is None:
                break
            if self.forward(target, msg):
                proc.step = msg.get("id")
                self.busy.add(target)
                return
            self.on_death(proc)  # reported with the id of its last step (or None)
            if target != "main":
                break
        died = {"op": "died", "target": target, "signal": None, "exit_code": None, "reason": "gone"}
        self.to_host({**died, "id": msg.get("id")})

    def forward(self, target, msg: dict, fds=()) -> bool:
        proc = self.procs.get(target)
        if proc is None:
            return False
        try:
            if fds:
                data = encode(msg)
                socket.send_fds(proc.sock, [data[:1]], list(fds))
                proc.sock.sendall(data[1:])
            else:
                proc.sock.sendall(encode(msg))
        except OSError:
            return False
        return True

    # --- process management
    def spawn_main(self) -> None:
        parent, child = socket.socketpair()
        pid = os.fork()
        if pid == 0:
            try:
                parent.close()
                self._close_in_child()
                os.setpgid(0, 0)
                devnull = os.open(os.devnull, os.O_RDWR)
                os.dup2(devnull, 2)
                os.close(devnull)
                state = StateProcess(child, "main", self.config, self.tools)
                state.apply_rlimits()
                state.loop()
            except BaseException:
                import traceback

                traceback.print_exc()
            finally:
                os._exit(0)
        child.close()
        self.add_proc(Proc(pid, parent, "main"))

    def _close_in_child(self) -> None:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        self.sel.close()
        for proc in self.procs.values():
            proc.sock.close()
        for fd in (self.rfd, self.wfd, self.wake_r, self.wake_w):
            os.close(fd)

    def add_proc(self, proc: Proc) -> None:
        self.procs[proc.target] = proc
        self.sel.register(proc.sock, selectors.EVENT_READ, proc)

    def drop_proc(self, proc: Proc, close: bool = True) -> None:
        if self.procs.get(proc.target) is proc:
            del self.procs[proc.target]
        with suppress(KeyError, ValueError):
            self.sel.unregister(proc.sock)
        if close:
            proc.sock.close()

    def kill(self, proc: Proc) -> None:
        for fn, arg in ((os.killpg, proc.pid), (os.kill, proc.pid)):
            with suppress(OSError):
                fn(arg, signal.SIGKILL)

    def wait_status(self, pid: int):
        if pid in self.status:
            return self.status.pop(pid)
        try:
            _, st = os.waitpid(pid, 0)
            return st
        except ChildProcessError:
            return None

    def reap(self) -> None:
        while True:
            try:
                pid, st = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if any(p.pid == pid for p in self.procs.values()):
                self.status[pid] = st

    def fork(self, k: int) -> None:
        self.discard_forks()
        if "main" not in self.procs:
            self.to_host({"op": "forked", "pids": [], "error": "no state process"})
            return
        pairs = [socket.socketpair() for _ in range(k)]
        self.forking = [Proc(-1, parent, i) for i, (parent, _) in enumerate(pairs)]
        ok = self.forward("main", {"op": "fork", "k": k}, fds=[c.fileno() for _, c in pairs])
        for _, child in pairs:
            child.close()
        if not ok:
            self.end_forking([], "the state process is gone")

    def end_forking(self, pids: list, error) -> None:
        """Main reported its copies: register them as targets 0..n-1 and tell the host."""
        procs, self.forking = self.forking or [], None
        for proc, pid in zip(procs, pids):  # noqa: B905 (stdlib-only file, runs on 3.9+)
            proc.pid = int(pid)
            self.add_proc(proc)
        for proc in procs[len(pids) :]:
            proc.sock.close()
        self.to_host({"op": "forked", "pids": list(pids), "error": error})

    def discard_forks(self, wait: bool = True) -> list:
        """Kill all forks (they are main's children: main reaps them)."""
        forks = [self.procs[t] for t in self.procs if t != "main"]
        for proc in forks:
            self.drop_proc(proc)
            self.kill(proc)
            self.busy.discard(proc.target)
        if forks:
            self.forward("main", {"op": "reap"})
            if wait:
                self.wait_dead([p.pid for p in forks])
        return forks

    def select(self, index: int) -> None:
        chosen = self.procs.get(index)
        if chosen is None:
            self.to_host({"op": "selected", "error": f"fork {index} does not exist (or was killed)"})
            return
        old = self.procs.get("main")
        self.drop_proc(chosen, close=False)
        dead = [p.pid for p in self.discard_forks(wait=False)]
        if old is not None:
            self.drop_proc(old)
            self.kill(old)
            dead.append(old.pid)
        chosen.target = "main"
        self.add_proc(chosen)
        self.forward("main", {"op": "became_main"})
        self.to_host({"op": "selected", "pid": chosen.pid})
        # Cleanup after the answer: the host is busy with the next model call meanwhile.
        self.wait_dead(dead)
        self.sweep()

    def wait_dead(self, pids: list, timeout: float = 1.0) -> None:
        """Until the processes are dead (zombies or gone), reaping our own children as they go."""
        deadline = time.monotonic() + timeout
        while True:
            self.reap()
            pids = [pid for pid in pids if process_state(pid) not in (None, "Z", "X")]
            if not pids or time.monotonic() > deadline:
                return
            time.sleep(0.0005)

    def from_proc(self, proc: Proc) -> None:
        if self.procs.get(proc.target) is not proc:
            return  # dropped earlier in this round of events (select, discard)
        try:
            data = proc.sock.recv(1 << 16)
        except OSError:
            data = b""
        if not data:
            self.on_death(proc)
            return
        proc.dec.feed(data)
        try:
            while (msg := proc.dec.pop()) is not None:
                self.on_proc_msg(proc, msg)
        except ValueError:
            proc.reason = "protocol"
            self.kill(proc)

    def on_proc_msg(self, proc: Proc, msg: dict) -> None:
        op = msg.get("op")
        if op == "forked" and proc.target == "main" and self.forking is not None:
            self.end_forking(msg.get("pids") or [], msg.get("error"))
            return
        msg["target"] = proc.target
        self.to_host(msg)
        if op == "result":
            proc.step = None
            self.busy.discard(proc.target)
            if not self.busy:
                self.sweep()

    def on_death(self, proc: Proc) -> None:
        self.drop_proc(proc)
        st = None
        if proc.pid > 0:
            self.kill(proc)  # it may only have closed its socket
            st = self.wait_status(proc.pid)
        sig = os.WTERMSIG(st) if st is not None and os.WIFSIGNALED(st) else None
        code = os.WEXITSTATUS(st) if st is not None and os.WIFEXITED(st) else None
        self.busy.discard(proc.target)
        msg = {"op": "died", "target": proc.target, "signal": sig, "exit_code": code, "reason": proc.reason}
        msg["id"] = proc.step  # the step it was running, None if it was idle
        if proc.target == "main":
            self.spawn_main()
            msg["respawned"] = True
        if proc.target == "main" and self.forking is not None:
            self.end_forking([], "the state process died while forking")
        self.to_host(msg)
        if not self.busy:
            self.sweep()

    def sweep(self) -> None:
        """Kill every descendant that is not a state process (orphans, daemons, leftovers of a step)."""
        keep = {p.pid for p in self.procs.values()}
        killed = []
        for _ in range(20):  # repeat: a fork bomb makes new processes while we kill
            found = [pid for pid in descendants(os.getpid()) if pid not in keep and pid not in killed]
            if not found:
                break
            for pid in found:
                with suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            killed += found
        self.wait_dead(killed)  # dead (zombies or gone) before the next step runs

    def shutdown(self) -> None:
        for proc in list(self.procs.values()):
            self.kill(proc)
        self.sweep()
        os._exit(0)


def process_state(pid: int):
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    return stat[stat.rindex(b")") + 2 :].split()[0].decode()


def descendants(root: int) -> list[int]:
    """All descendants of ``root``, from /proc (children of kept processes included: callers filter)."""
    children: dict[int, list[int]] = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return []
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(name))
    out, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def drop_privileges(uid: int) -> None:
    """Become ``uid`` for good (all capabilities go with root), and forbid regaining privileges by exec."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS
    for cap in range(64):
        libc.prctl(24, cap, 0, 0, 0)  # PR_CAPBSET_DROP (needs CAP_SETPCAP; best effort)
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable x 2: all empty
    libc.capset(header, data)
    if os.getuid() != uid or os.geteuid() != uid:
        raise SystemExit("could not drop privileges")
    with open("/proc/self/status") as f:
        caps = {k: v.strip() for k, _, v in (line.partition(":") for line in f)}
    if int(caps.get("CapEff", "0"), 16) or int(caps.get("CapPrm", "0"), 16):
        raise SystemExit("capabilities remain after dropping privileges")


def main(argv: list[str]) -> None:
    """``[--drop-privileges UID] [--sys-path DIR:DIR...]`` (the latter when started with ``python -S``)."""
    opts = dict(zip(argv[::2], argv[1::2]))  # noqa: B905
    if "--drop-privileges" in opts:
        drop_privileges(int(opts["--drop-privileges"]))
    if opts.get("--sys-path"):
        sys.path.extend(p for p in opts["--sys-path"].split(":") if p not in sys.path)
    rfd, wfd = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.close(devnull)
    Supervisor(rfd, wfd).serve()


if __name__ == "__main__":
    main(sys.argv[1:])
