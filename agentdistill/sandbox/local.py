"""The ``local`` backend: the worker under bubblewrap, a seccomp deny-list and a cgroup (rlimits otherwise).

What model code sees: a new user, pid, network, ipc, uts and cgroup namespace (no network at all, not
even the host's loopback); read-only /usr and the Python install; private tmpfs /tmp and /scratch (the
working directory); no host home, no host /tmp, an empty environment (API keys never get in); uid 65534.
When agentdistill runs as root, bubblewrap runs without a user namespace (a user namespace would map the
sandbox's uid to host root) and the worker switches to host uid 65534 before it reads any message, with
no capabilities and no_new_privs; unprivileged users get a user namespace with uid 65534 inside.

``unsafe-local`` runs the same worker as a plain subprocess: no isolation, for trusted code only.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

from agentdistill.sandbox import cgroups, seccomp
from agentdistill.sandbox.base import Backend, Instance
from agentdistill.sandbox.config import SandboxConfig
from agentdistill.sandbox.errors import SandboxError, SandboxUnavailable
from agentdistill.sandbox.owner import new_name, owner_alive
from agentdistill.sandbox.protocol import PipeChannel

WORKER_SOURCE = Path(__file__).with_name("worker.py")
WORKER_PATH = "/opt/agentdistill/worker.py"
NOBODY = 65534
TMP_PREFIX = "adsbx_"
SANDBOX_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "HOME": "/scratch",
    "TMPDIR": "/tmp",
    "LANG": "C.UTF-8",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONUNBUFFERED": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "MPLBACKEND": "Agg",
}
INSTALL_HINT = (
    "bubblewrap (bwrap) is not installed, so the local sandbox cannot isolate model code: "
    "install it (Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install bubblewrap), "
    "or use --backend docker. Running code without isolation needs the explicit backend 'unsafe-local'."
)


_LAYOUT = (
    "import json, site, sys\n"
    "print(json.dumps([[sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix], site.getsitepackages()]))"
)


@functools.lru_cache(maxsize=8)
def python_layout(python: str | None) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """(interpreter, install directories it needs, its site-packages), for the given or the current one.

    The worker runs with ``python -S`` and gets the site-packages on its command line: processing a venv's
    ``.pth`` files (editable installs) costs more than the rest of the worker's start.
    """
    exe = sys.executable if python is None else (shutil.which(python) or python)
    try:
        out = subprocess.run(
            [exe, "-I", "-c", _LAYOUT], capture_output=True, text=True, timeout=30, check=True
        )
    except (OSError, subprocess.SubprocessError) as e:
        raise SandboxError(f"cannot run the sandbox python {exe!r}: {e}") from None
    prefixes, site_dirs = json.loads(out.stdout)
    dirs = set(prefixes)
    real = {os.path.realpath(d) for d in dirs} | dirs
    # /usr is bound anyway; keep the outermost of nested directories.
    keep = sorted(d for d in real if not d.startswith("/usr/") and d != "/usr")
    keep = [d for d in keep if not any(d != o and d.startswith(o.rstrip("/") + "/") for o in keep)]
    return exe, tuple(keep), tuple(d for d in site_dirs if os.path.isdir(d))


@functools.lru_cache(maxsize=1)
def seccomp_program() -> bytes:
    return seccomp.build_filter()


def _pipe_with(data: bytes) -> int:
    """A pipe's read end already holding ``data`` (bubblewrap reads such fds at startup)."""
    r, w = os.pipe()
    try:
        os.write(w, data)  # both payloads are far below the pipe buffer size
    finally:
        os.close(w)
    return r


class LocalInstance(Instance):
    """A bubblewrap (or plain) worker process tree, its cgroup and its host temp dir."""

    def __init__(self, proc: subprocess.Popen, tmpdir: Path, cgroup: cgroups.Cgroup | None) -> None:
        assert proc.stdin is not None and proc.stdout is not None
        self.proc, self.tmpdir, self.cgroup = proc, tmpdir, cgroup
        self.channel = PipeChannel(proc.stdin.fileno(), proc.stdout.fileno())
        self._done = False

    def terminate(self) -> None:
        if self._done:
            return
        self._done = True
        with contextlib.suppress(OSError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        if self.cgroup is not None:
            self.cgroup.kill()
        with contextlib.suppress(OSError):
            self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        for f in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                f.close()  # type: ignore[union-attr]
        if self.cgroup is not None:
            self.cgroup.kill()
            self.cgroup.remove()
        shutil.rmtree(self.tmpdir, ignore_errors=True)

    def oom_kills(self) -> int:
        return self.cgroup.oom_kills() if self.cgroup is not None else 0

    def diagnostics(self) -> str:
        try:
            return (self.tmpdir / "stderr.log").read_text(errors="replace")[-4000:]
        except OSError:
            return ""


def _tmp_root() -> Path:
    return Path(tempfile.gettempdir())


def sweep_tmpdirs() -> list[str]:
    """Remove host temp dirs of sandboxes whose host process died."""
    removed = []
    with contextlib.suppress(OSError):
        for d in _tmp_root().iterdir():
            if d.name.startswith(TMP_PREFIX) and not owner_alive(d.name):
                shutil.rmtree(d, ignore_errors=True)
                removed.append(d.name)
    return removed


class UnsafeLocalBackend(Backend):
    """The worker as a plain child process. NO isolation: model code can do anything this user can."""

    name = "unsafe-local"

    def launch(self) -> Instance:
        warnings.warn(
            "sandbox backend 'unsafe-local': model code runs WITHOUT isolation (no namespaces, seccomp or "
            "cgroup); use it only for trusted code",
            RuntimeWarning,
            stacklevel=4,
        )
        exe, _, site_dirs = python_layout(self.config.python)
        tmpdir = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{new_name()}-", dir=_tmp_root()))
        env = {**SANDBOX_ENV, "HOME": str(tmpdir), "TMPDIR": str(tmpdir)}
        argv = [exe, "-I", "-S", "-B", str(WORKER_SOURCE), "--sys-path", ":".join(site_dirs)]
        return self._spawn(argv, tmpdir, None, env=env, cwd=tmpdir)

    def _spawn(self, argv, tmpdir: Path, cgroup, *, env, cwd, pass_fds=(), preexec=None) -> LocalInstance:
        stderr = open(tmpdir / "stderr.log", "wb")  # noqa: SIM115 (handed to the child)
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                env=env,
                cwd=cwd,
                pass_fds=pass_fds,
                preexec_fn=preexec,
                start_new_session=True,
            )
        except OSError as e:
            if cgroup is not None:
                cgroup.remove()
            shutil.rmtree(tmpdir, ignore_errors=True)
            raise SandboxError(f"cannot start the sandbox worker ({argv[0]}): {e}") from None
        finally:
            stderr.close()
        return LocalInstance(proc, tmpdir, cgroup)

    @classmethod
    def describe(cls, config: SandboxConfig) -> str:
        return "always available, but gives NO isolation (trusted code only)"

    @classmethod
    def sweep(cls) -> list[str]:
        return sweep_tmpdirs()


class LocalBackend(UnsafeLocalBackend):
    """bubblewrap + seccomp + cgroup (or rlimits)."""

    name = "local"

    def worker_config(self) -> dict:
        cfg = Backend.worker_config(self)
        if self._cgroup_missing:
            cfg["rlimit_nproc"] = self.config.limits.processes
        return cfg

    def __init__(self, config: SandboxConfig) -> None:
        super().__init__(config)
        self._cgroup_missing = False

    def launch(self) -> Instance:
        bwrap = shutil.which("bwrap")
        if bwrap is None:
            raise SandboxUnavailable(INSTALL_HINT)
        lim = self.config.limits
        name = new_name()
        tmpdir = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{name}-", dir=_tmp_root()))
        cgroup = cgroups.create(
            name, memory_bytes=lim.memory_mb * 2**20, processes=lim.processes, cpus=lim.cpus
        )
        self._cgroup_missing = cgroup is None
        fds: list[int] = []
        try:
            argv = self._argv(bwrap, fds)
            if cgroup is not None:
                # No preexec_fn: subprocess can then vfork, which is 10-30 ms faster from a big host process.
                argv = ["/bin/sh", "-c", _JOIN_CGROUP, "sh", *cgroup.procs_files, "--", *argv]
                preexec = None
            else:
                preexec = _limit_processes(lim.processes)
            return self._spawn(argv, tmpdir, cgroup, env={}, cwd="/", pass_fds=fds, preexec=preexec)
        except BaseException:
            if cgroup is not None:
                cgroup.remove()
            shutil.rmtree(tmpdir, ignore_errors=True)
            raise
        finally:
            for fd in fds:
                with contextlib.suppress(OSError):
                    os.close(fd)

    def _argv(self, bwrap: str, fds: list[int]) -> list[str]:
        lim = self.config.limits
        exe, install_dirs, site_dirs = python_layout(self.config.python)
        scratch = str(lim.scratch_mb * 2**20)
        a = [
            bwrap,
            "--unshare-ipc",
            "--unshare-pid",
            "--unshare-net",
            "--unshare-uts",
            "--unshare-cgroup-try",
        ]
        a += ["--die-with-parent", "--new-session", "--hostname", "sandbox"]
        as_root = os.geteuid() == 0
        if as_root:  # keep only what the worker needs to switch to uid 65534 (it then has no capability)
            a += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
            a += ["--cap-add", "CAP_SETPCAP"]
        else:  # unprivileged bubblewrap: a user namespace maps uid 65534 inside to our uid
            a += ["--unshare-user", "--disable-userns", "--uid", str(NOBODY), "--gid", str(NOBODY)]
        a += ["--ro-bind", "/usr", "/usr"]
        for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
            if os.path.islink(top):
                a += ["--symlink", os.readlink(top), top]
            elif os.path.isdir(top):
                a += ["--ro-bind", top, top]
        for etc in (
            "/etc/ld.so.cache",
            "/etc/ld.so.conf",
            "/etc/ld.so.conf.d",
            "/etc/alternatives",
            "/etc/localtime",
        ):
            if os.path.exists(etc):
                a += ["--ro-bind", etc, etc]
        a += ["--proc", "/proc", "--dev", "/dev"]
        a += ["--perms", "1777", "--size", scratch, "--tmpfs", "/tmp"]
        a += ["--perms", "1777", "--size", scratch, "--tmpfs", "/scratch", "--chdir", "/scratch"]
        made: set[str] = {"/", "/usr", "/tmp", "/scratch", "/proc", "/dev", "/etc"}
        for d in (*install_dirs, WORKER_PATH):
            # bubblewrap would create missing parents as 0700 root: unreadable once the worker is uid 65534
            for parent in reversed(Path(d).parents):
                if str(parent) not in made:
                    made.add(str(parent))
                    a += ["--perms", "0755", "--dir", str(parent)]
        for d in install_dirs:
            fd = os.open(d, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            fds.append(fd)
            a += ["--ro-bind-fd", str(fd), d]
        fds.append(_pipe_with(WORKER_SOURCE.read_bytes()))
        a += ["--ro-bind-data", str(fds[-1]), WORKER_PATH]
        fds.append(_pipe_with(seccomp_program()))
        a += ["--seccomp", str(fds[-1])]
        a += ["--clearenv"]
        for k, v in SANDBOX_ENV.items():
            a += ["--setenv", k, v]
        a += [exe, "-I", "-S", "-B", WORKER_PATH, "--sys-path", ":".join(site_dirs)]
        if as_root:  # root bubblewrap (no user namespace): the worker drops to host uid 65534 first thing
            a += ["--drop-privileges", str(NOBODY)]
        return a

    @classmethod
    def preflight(cls, config: SandboxConfig) -> str | None:
        return INSTALL_HINT if shutil.which("bwrap") is None else None

    @classmethod
    def describe(cls, config: SandboxConfig) -> str:
        cg = cgroups.version()
        probe = cgroups.create(new_name(), memory_bytes=2**30, processes=64, cpus=1.0)
        if probe is not None:
            probe.remove()
            how = f"cgroup v{cg} (memory, pids, cpu limits)"
        else:
            how = "no writable cgroup: rlimits only (per-process memory, process count per uid)"
        return f"bubblewrap + seccomp + {how}"

    @classmethod
    def sweep(cls) -> list[str]:
        return cgroups.sweep() + sweep_tmpdirs()


# Moves the shell into the cgroup (every file named before "--"), then becomes bubblewrap.
_JOIN_CGROUP = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"'


def _limit_processes(nproc: int):
    """Without a cgroup: RLIMIT_NPROC (counted per uid on the host, so only a fallback)."""

    def preexec() -> None:
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))

    return preexec
