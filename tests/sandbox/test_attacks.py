"""Each attack from model code is contained, on both isolating backends.

Every test states what the attack would achieve without the sandbox and asserts it did not happen (on
the host side where possible, not only from the sandbox's own report).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import threading
import time
from pathlib import Path

import pytest

from agentdistill.sandbox import Sandbox


def _host_processes_with(marker: str) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if marker.encode() in Path(f"/proc/{name}/cmdline").read_bytes():
                    found.append(int(name))
            except OSError:
                pass
    return found


def test_cannot_connect_to_a_host_listener(sandbox: Sandbox) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    server.settimeout(0.2)
    port = server.getsockname()[1]
    accepted: list[object] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            with contextlib.suppress(OSError):
                accepted.append(server.accept())

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        # Sanity: the listener works from the host.
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        time.sleep(0.3)
        assert len(accepted) == 1
        host_ip = _host_ip()
        code = (
            "import socket\nout = []\n"
            f"for addr in [('127.0.0.1', {port}), ('{host_ip}', {port})]:\n"
            "    try:\n"
            "        socket.create_connection(addr, timeout=2).close()\n"
            "        out.append('connected')\n"
            "    except OSError as e:\n"
            "        out.append(type(e).__name__)\n"
            "out"
        )
        r = sandbox.run(code)
        assert r.error is None, r.error
        assert "connected" not in (r.value or ""), r.value
        time.sleep(0.3)
        assert len(accepted) == 1, "the sandbox reached the host listener"
    finally:
        stop.set()
        server.close()
        t.join(2)


def _host_ip() -> str:
    """A non-loopback address of this host (falls back to loopback when there is none)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))
            return s.getsockname()[0]
    except OSError:
        return "127.0.0.1"


def test_no_dns(sandbox: Sandbox) -> None:
    r = sandbox.run(
        "import socket\ntry:\n    socket.getaddrinfo('deb.debian.org', 80)\n    res = 'resolved'\n"
        "except OSError as e:\n    res = type(e).__name__\nres"
    )
    assert r.error is None and r.value != "'resolved'", r


def test_cannot_read_host_canaries_or_secrets(backend: str, open_sandbox, monkeypatch) -> None:
    secret = secrets.token_hex(16)
    canaries = [
        Path("/tmp") / f"agentdistill-canary-{secret[:8]}",
        Path.home() / f"agentdistill-canary-{secret[:8]}",
    ]
    for c in canaries:
        c.write_text(secret)
        c.chmod(0o644)  # even world-readable host files must not be reachable
    monkeypatch.setenv("AGENTDISTILL_TEST_SECRET", secret)
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    try:
        sb = open_sandbox()
        code = (
            "import os\nfound = []\n"
            f"for p in {[str(c) for c in canaries]!r} + ['/proc/1/environ', '/proc/self/environ']:\n"
            "    try:\n"
            "        with open(p, 'rb') as f:\n"
            "            found.append(f.read().decode(errors='replace'))\n"
            "    except OSError as e:\n"
            "        found.append(type(e).__name__)\n"
            "print(found)\nprint(dict(os.environ))\nprint(os.listdir('/tmp'), os.path.exists(os.path.expanduser('~root')))"
        )
        r = sandbox_run_ok(sb, code)
        assert secret not in r.stdout
        assert "FileNotFoundError" in r.stdout or "PermissionError" in r.stdout
        assert "AGENTDISTILL_TEST_SECRET" not in r.stdout and "OPENAI_API_KEY" not in r.stdout
        assert canaries[0].name not in r.stdout
    finally:
        for c in canaries:
            c.unlink(missing_ok=True)


def sandbox_run_ok(sb: Sandbox, code: str):
    r = sb.run(code)
    assert r.error is None, r.error
    return r


def test_cannot_write_outside_scratch(sandbox: Sandbox) -> None:
    repo_file = Path(__file__).resolve().parent / f"written-by-sandbox-{secrets.token_hex(4)}"
    targets = [
        "/usr/evil",
        "/etc/evil",
        "/evil",
        "/root/evil",
        "/opt/evil",
        str(repo_file),
        "/proc/sys/kernel/evil",
    ]
    code = (
        "res = {}\n"
        f"for p in {targets!r} + ['/scratch/ok', '/tmp/ok']:\n"
        "    try:\n"
        "        with open(p, 'w') as f:\n"
        "            f.write('x')\n"
        "        res[p] = 'written'\n"
        "    except OSError as e:\n"
        "        res[p] = type(e).__name__\n"
        "res"
    )
    r = sandbox_run_ok(sandbox, code)
    res = eval(r.value or "{}")
    assert res.pop("/scratch/ok") == "written" and res.pop("/tmp/ok") == "written"
    assert all(v != "written" for v in res.values()), res
    assert not repo_file.exists()
    assert not Path("/evil").exists() and not Path("/usr/evil").exists()


def test_privileged_syscalls_are_refused(sandbox: Sandbox) -> None:
    code = (
        "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\nres = {}\n"
        "res['unshare_user'] = libc.unshare(0x10000000)\n"
        "res['mount'] = libc.mount(b'none', b'/tmp', b'tmpfs', 0, None)\n"
        "res['ptrace'] = libc.ptrace(0, 0, None, None)\n"
        "res['uid'] = os.getuid()\n"
        "res['caps'] = [l for l in open('/proc/self/status') if l.startswith('CapEff')][0].split()[1]\n"
        "res"
    )
    r = sandbox_run_ok(sandbox, code)
    res = eval(r.value or "{}")
    assert res["unshare_user"] == -1 and res["mount"] == -1
    assert res["uid"] == 65534 and int(res["caps"], 16) == 0


def test_fork_bomb_is_bounded(sandbox: Sandbox) -> None:
    # Count how many processes can be made: bounded by the processes limit (64 in the tests).
    count = (
        "import os, time\nn = 0\nerr = None\n"
        "try:\n"
        "    for _ in range(5000):\n"
        "        pid = os.fork()\n"
        "        if pid == 0:\n"
        "            time.sleep(30)\n"
        "            os._exit(0)\n"
        "        n += 1\n"
        "except OSError as e:\n"
        "    err = type(e).__name__\n"
        "(n, err)"
    )
    r = sandbox.run(count)
    assert r.error is None, r.error
    n, err = eval(r.value or "(0, None)")
    assert err is not None and 0 < n < 64, (n, err)
    # A real exponential bomb: the step fails, the host stays fine, nothing of it survives the step.
    t0 = time.monotonic()
    r = sandbox.run("import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass")
    assert r.error is not None and r.limit in ("wall_time", "processes")
    assert time.monotonic() - t0 < 20
    live = (
        "import os\nstates = []\nfor p in os.listdir('/proc'):\n    try:\n"
        "        states.append(open(f'/proc/{p}/stat').read().rsplit(')', 1)[1].split()[0])\n"
        "    except (OSError, IndexError):\n        pass\nsum(1 for s in states if s != 'Z')"
    )
    r = sandbox.run(live)
    assert r.error is None, r.error
    assert int(r.value or 99) <= 5, f"{r.value} live processes left in the sandbox after the bomb"


def test_allocating_4gb_fails(sandbox: Sandbox) -> None:
    assert sandbox.run("kept = 1").ok
    r = sandbox.run("big = bytearray(4 * 2**30)")
    assert r.limit == "memory" and "MemoryError" in (r.error or "")
    r = sandbox.run("chunks = [b'x' * (100 * 2**20) for _ in range(40)]")
    assert r.limit == "memory", r
    assert sandbox.run("kept").value == "1"


def test_memory_is_bounded_across_processes(sandbox: Sandbox) -> None:
    """Per-process limits are not enough: 4 children touching 300 MB each must not all fit in 512 MB."""
    code = (
        "import os, time\npids = []\n"
        "for i in range(4):\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n"
        "        try:\n"
        "            data = b'x' * (300 * 2**20)\n"
        "            time.sleep(2)\n"
        "            os._exit(0)\n"
        "        except MemoryError:\n"
        "            os._exit(3)\n"
        "    pids.append(pid)\n"
        "ok = sum(1 for p in pids if os.waitpid(p, 0)[1] == 0)\n"
        "ok"
    )
    r = sandbox.run(code, timeout=20)
    if r.restarted:  # the kernel may pick the state process itself
        assert r.limit in ("memory", None)
    else:
        assert r.error is None, r.error
        assert int(r.value or 4) <= 1, f"{r.value} children held 300 MB each under a 512 MB limit"
    assert sandbox.run("1 + 1").value == "2"


def test_infinite_loop_is_stopped(sandbox: Sandbox) -> None:
    t0 = time.monotonic()
    r = sandbox.run("while True:\n    pass")
    assert r.limit == "wall_time"
    assert 4.5 < time.monotonic() - t0 < 9


def test_printing_100mb_is_truncated(sandbox: Sandbox) -> None:
    r = sandbox.run("print('x' * 100_000_000)\nfor i in range(200_000):\n    print('y' * 100)\n'done'")
    assert r.error is None, r.error
    assert r.truncated and r.limit == "output"
    assert len(r.stdout.encode()) <= 4096 and r.stdout.startswith("xxxx")
    assert r.value == "'done'"
    r = sandbox.run("'z' * 10_000_000")
    assert r.truncated and len(r.value or "") <= 4096


def test_daemonised_orphan_is_gone_after_close(open_sandbox) -> None:
    marker = f"{secrets.randbelow(10**6)}.{secrets.randbelow(10**6)}"
    sb = open_sandbox()
    code = (
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        f"        os.execv('/bin/sleep', ['sleep', '{marker}'])\n"
        "    os._exit(0)\n"
        "time.sleep(0.5)\n"
        f"sum(1 for p in os.listdir('/proc') if p.isdigit() and b'{marker}' in open(f'/proc/{{p}}/cmdline', 'rb').read())"
    )
    r = sb.run(code)
    assert r.value == "1", r  # the daemon was running inside
    sb.close()
    deadline = time.monotonic() + 10
    while _host_processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _host_processes_with(marker)


@pytest.mark.parametrize("attack", ["sleep", "daemon"])
def test_close_kills_running_code(open_sandbox, attack: str) -> None:
    """A step still running in a fork when the episode ends does not outlive ``close``."""
    marker = f"{secrets.randbelow(10**6)}.{secrets.randbelow(10**6)}"
    sb = open_sandbox()
    sb.fork(1)
    code = f"import os\nos.execv('/bin/sleep', ['sleep', '{marker}'])"
    if attack == "daemon":
        code = f"import os\nif os.fork() == 0:\n    os.setsid()\n    {code.splitlines()[1]}\nimport time\ntime.sleep(60)"
    sb._channel().send({"op": "run", "target": 0, "code": code, "limits": {}})
    deadline = time.monotonic() + 10
    while not _host_processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _host_processes_with(marker), "the step did not start"
    sb.close()
    deadline = time.monotonic() + 10
    while _host_processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _host_processes_with(marker)
