"""Unit tests of the pieces: framing, output capping, error text, seccomp program, tools, config, fail-closed."""

from __future__ import annotations

import errno
import io
import struct

import pytest

from agentdistill.config import load_config
from agentdistill.sandbox import (
    Sandbox,
    SandboxConfig,
    SandboxError,
    SandboxUnavailable,
    check_backend,
    seccomp,
    worker,
)
from agentdistill.sandbox.owner import new_name, owner_alive, owner_tag
from agentdistill.tools.host import invoke_tool, tool_output


def test_frames_roundtrip_and_are_size_capped() -> None:
    dec = worker.Decoder()
    data = worker.encode({"op": "run", "code": "x = 'é'"}) + worker.encode({"op": "ping"})
    for i in range(0, len(data), 3):  # arbitrary chunking
        dec.feed(data[i : i + 3])
    assert dec.pop() == {"op": "run", "code": "x = 'é'"}
    assert dec.pop() == {"op": "ping"}
    assert dec.pop() is None
    dec.feed(struct.pack(">I", worker.MAX_FRAME + 1))
    with pytest.raises(ValueError):
        dec.pop()


def test_capped_writer_keeps_the_head() -> None:
    w = worker.CappedWriter(10)
    print("héllo", file=w)  # 'é' is 2 bytes
    print("world and more", file=w)
    assert len(w.getvalue().encode()) <= 10 and w.getvalue().startswith("héllo\n")
    assert w.truncated
    assert not worker.CappedWriter(10).truncated


def test_jsonable() -> None:
    import numpy as np

    assert worker.jsonable({"a": [1, "b"]}) == {"a": [1, "b"]}
    assert worker.jsonable(np.float64(1.5)) == 1.5
    assert worker.jsonable(np.arange(3)) == [0, 1, 2]
    assert worker.jsonable(object()).startswith("<object")


def test_describe_error_names_limits() -> None:
    def raise_(e: BaseException) -> BaseException:
        try:
            raise e
        except BaseException as caught:
            return caught

    assert worker.describe_error(raise_(MemoryError()), {})[1] == "memory"
    assert worker.describe_error(raise_(OSError(errno.EFBIG, "File too large")), {})[1] == "file_size"
    assert worker.describe_error(raise_(worker.WallTimeLimit()), {"wall_time_s": 3})[1] == "wall_time"
    text, limit = worker.describe_error(raise_(KeyError("k")), {})
    assert limit is None and "KeyError: 'k'" in text


def _run_bpf(prog: bytes, arch: int, nr: int, args: tuple[int, ...] = (0,) * 6) -> int:
    """A tiny classic-BPF interpreter for the opcodes the generator uses."""
    args = (*args, *(0,) * (6 - len(args)))
    data = struct.pack("<iIQ6Q", nr, arch, 0, *args)
    insns = [struct.unpack_from("=HBBI", prog, i) for i in range(0, len(prog), 8)]
    pc, acc = 0, 0
    while True:
        code, jt, jf, k = insns[pc]
        if code == 0x20:
            acc = struct.unpack_from("<I", data, k)[0]
            pc += 1
        elif code in (0x15, 0x35, 0x45):
            hit = {0x15: acc == k, 0x35: acc >= k, 0x45: bool(acc & k)}[code]
            pc += 1 + (jt if hit else jf)
        elif code == 0x06:
            return k
        else:
            raise AssertionError(f"unexpected opcode {code:#x}")


def test_seccomp_program_decisions() -> None:
    prog = seccomp.build_filter("x86_64")
    arch, nr = seccomp.ARCHES["x86_64"]
    eperm = seccomp.RET_ERRNO | errno.EPERM
    assert len(prog) % 8 == 0
    assert _run_bpf(prog, arch, 0) == seccomp.RET_ALLOW  # read
    assert _run_bpf(prog, arch, 57) == seccomp.RET_ALLOW  # fork
    for name in ("mount", "ptrace", "bpf", "unshare", "setns", "keyctl", "io_uring_setup", "init_module"):
        assert _run_bpf(prog, arch, nr[name]) == eperm, name
    assert (
        _run_bpf(prog, arch, nr["clone"], (0x11 | 0x01000000,)) == seccomp.RET_ALLOW
    )  # a plain fork-style clone
    assert _run_bpf(prog, arch, nr["clone"], (0x10000000,)) == eperm  # CLONE_NEWUSER
    assert _run_bpf(prog, arch, nr["clone3"]) == seccomp.RET_ERRNO | errno.ENOSYS
    assert _run_bpf(prog, arch, nr["ioctl"], (1, seccomp.TIOCSTI)) == eperm
    assert _run_bpf(prog, arch, nr["ioctl"], (1, 0x5401)) == seccomp.RET_ALLOW  # TCGETS
    assert _run_bpf(prog, arch, 0x40000000 + 2) == eperm  # x32 ABI
    assert _run_bpf(prog, 0x40000003, 0) == seccomp.RET_KILL_PROCESS  # i386 ABI
    assert seccomp.build_filter("aarch64")
    with pytest.raises(ValueError):
        seccomp.build_filter("sparc")


def test_invoke_tool_shapes() -> None:
    from langchain_core.documents import Document
    from langchain_core.tools import tool

    @tool
    def one(q: str) -> str:
        """One argument."""
        return q.upper()

    @tool
    def two(a: int, b: int = 1) -> int:
        """Two arguments."""
        return a + b

    assert invoke_tool(one, ["x"], {}) == "X"
    assert invoke_tool(two, [1, 2], {}) == 3
    assert invoke_tool(two, [1], {"b": 5}) == 6
    assert invoke_tool(lambda *a, **k: (a, k), [1], {"z": 2}) == ((1,), {"z": 2})
    with pytest.raises(TypeError):
        invoke_tool(two, [1, 2, 3], {})
    assert tool_output([Document(page_content="a"), Document(page_content="b")]) == "a\n\nb"
    assert tool_output({"k": [1]}) == {"k": [1]}
    assert tool_output(object()).startswith("<object")


def test_owner_tags() -> None:
    assert owner_alive(owner_tag())
    assert owner_alive(f"adsbx_{new_name()}-x")
    assert not owner_alive("999999999.1-abc")
    assert owner_alive("not-ours")  # never touch what we did not name


def test_config_from_yaml(tmp_path) -> None:
    path = tmp_path / "sb.yaml"
    path.write_text("backend: docker\nlimits:\n  wall_time_s: 3\n  memory_mb: 256\npreload: [numpy]\n")
    cfg = load_config(SandboxConfig, path)
    assert cfg.backend == "docker" and cfg.limits.wall_time_s == 3.0 and cfg.limits.memory_mb == 256
    assert cfg.preload == ["numpy"] and cfg.limits.processes == 64


def test_missing_bubblewrap_fails_closed(monkeypatch) -> None:
    from agentdistill.sandbox import local

    monkeypatch.setattr(local.shutil, "which", lambda name: None)
    with pytest.raises(SandboxUnavailable, match="apt-get install bubblewrap") as info:
        Sandbox.open(SandboxConfig(backend="local"))
    assert "unsafe-local" in str(info.value)
    ok, why = check_backend("local")
    assert not ok and "bubblewrap" in why


def test_unknown_backend() -> None:
    with pytest.raises(SandboxError, match="unknown sandbox backend"):
        Sandbox(SandboxConfig(backend="chroot"))


def test_unsafe_local_is_explicit_and_works() -> None:
    assert "NO isolation" in check_backend("unsafe-local")[1]
    with (
        pytest.warns(RuntimeWarning, match="WITHOUT isolation"),
        Sandbox.open(SandboxConfig(backend="unsafe-local"), tools={"double": lambda x: 2 * x}) as sb,
    ):
        assert sb.run("y = double(21)").ok
        assert sb.run("y").value == "42"


def test_local_without_cgroups_falls_back_to_rlimits(monkeypatch) -> None:
    import shutil

    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed")
    from agentdistill.sandbox import cgroups

    monkeypatch.setattr(cgroups, "create", lambda *a, **k: None)
    with Sandbox.open(SandboxConfig(backend="local"), processes=20, memory_mb=512) as sb:
        assert sb._inst.cgroup is None  # type: ignore[union-attr]
        r = sb.run(
            "import os, time\nn = 0\ntry:\n    for _ in range(500):\n        if os.fork() == 0:\n"
            "            time.sleep(20)\n            os._exit(0)\n        n += 1\nexcept OSError:\n    pass\nn"
        )
        assert r.error is None and 0 < int(r.value or 0) < 20, r
        assert sb.run("b = bytearray(2**30)").limit == "memory"


def test_io_stream_api_is_text() -> None:
    assert isinstance(worker.CappedWriter(1), io.TextIOBase)


def test_cgroup_v2_layout(tmp_path, monkeypatch) -> None:
    """The v2 code path against a fake hierarchy (this CI host has v1): limits written, sweep by owner."""
    from agentdistill.sandbox import cgroups

    root = tmp_path / "cgroup"
    (root / "agentdistill").mkdir(parents=True)
    (root / "cgroup.controllers").write_text("cpu memory pids\n")
    monkeypatch.setattr(cgroups, "ROOT", root)
    monkeypatch.setattr(cgroups, "_own_path", lambda controller: "/")
    name = new_name()
    cg = cgroups.create(name, memory_bytes=2**29, processes=32, cpus=0.5)
    assert cg is not None and cg.version == 2
    d = root / "agentdistill" / name
    assert (d / "memory.max").read_text() == str(2**29)
    assert (d / "pids.max").read_text() == "32"
    assert (d / "cpu.max").read_text() == "50000 100000"
    assert cg.procs_files == [str(d / "cgroup.procs")]
    (d / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 2\n")
    assert cg.oom_kills() == 2
    dead = root / "agentdistill" / "999999999.1-dead"
    dead.mkdir()
    monkeypatch.setattr(
        cgroups.Cgroup,
        "remove",
        lambda self: [p.rename(p.with_name(p.name + ".gone")) for p in self.dirs.values()],
    )
    assert cgroups.sweep() == ["999999999.1-dead"]
    assert d.exists()  # our own (live owner) cgroup is left alone
