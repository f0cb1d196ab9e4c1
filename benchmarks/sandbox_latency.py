"""Sandbox latency: per-step p50/p90 for the local worker, fork(8)+select, docker, and smolagents.

    .venv/bin/python benchmarks/sandbox_latency.py [--reps 100] [--docker-host unix:///...]

All executors run the same snippets (typical small agent steps). smolagents' ``LocalPythonExecutor``
(an in-process AST interpreter, no isolation) is the reference: install it with ``pip install -e .[bench]``.
Targets: local step p50 <= smolagents p50; cold start <= 100 ms; fork(8)+select <= 20 ms. The docker
numbers need a running engine with the sandbox image (``agentdistill sandbox build-image``).
"""

from __future__ import annotations

import argparse
import contextlib
import time
import warnings
from collections.abc import Callable

from agentdistill.sandbox import Sandbox, SandboxConfig, SandboxError

SNIPPETS = [
    "x = 21 * 2",
    "import math\nr = math.sqrt(x) + math.pi\nprint(round(r, 3))",
    "nums = [i * i for i in range(200)]\ntotal = sum(nums)\ntotal",
    "def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\nfib(30)",
    "words = 'the quick brown fox jumps over the lazy dog'.split()\ncounts = {w: len(w) for w in words}\nmax(counts, key=counts.get)",
    "s = 0\nfor i in range(1000):\n    if i % 3 == 0 or i % 5 == 0:\n        s += i\nprint(s)",
]


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))]


def step_times(runners: dict[str, Callable[[str], object]], reps: int) -> dict[str, list[float]]:
    """Per-step times, interleaved (snippet by snippet, executor by executor) so that every executor
    sees the same machine load."""
    for run in runners.values():
        for s in SNIPPETS:  # warm-up (imports, first-call costs)
            run(s)
    out: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(reps):
        for s in SNIPPETS:
            for name, run in runners.items():
                t0 = time.perf_counter()
                run(s)
                out[name].append(time.perf_counter() - t0)
    return out


def sandbox_run(sb: Sandbox) -> Callable[[str], object]:
    def run(code: str) -> object:
        r = sb.run(code)
        if r.error:
            raise RuntimeError(r.error)
        return r

    return run


def fork_select_times(sb: Sandbox, reps: int, k: int = 8) -> tuple[list[float], list[float]]:
    """(fork(k) + run one snippet in each fork in parallel + select, fork(k) + select alone)."""
    sb.run(SNIPPETS[0])
    full, bare = [], []
    for i in range(reps):
        code = SNIPPETS[i % len(SNIPPETS)]
        t0 = time.perf_counter()
        sb.fork(k)
        results = sb.run_forks([code] * k)
        sb.select(0)
        full.append(time.perf_counter() - t0)
        assert all(r is not None and r.ok for r in results)
        t0 = time.perf_counter()
        sb.fork(k)
        sb.select(0)
        bare.append(time.perf_counter() - t0)
    return full, bare


def cold_starts(config: SandboxConfig, reps: int) -> list[float]:
    """Time to the first step's result from nothing (close, i.e. cleanup, is not counted)."""
    out = []
    for i in range(reps + 1):
        t0 = time.perf_counter()
        sb = Sandbox.open(config)
        sb.run("1")
        if i:  # the first one warms caches (python layout, image lookup)
            out.append(time.perf_counter() - t0)
        sb.close()
    return out


def pooled_starts(config: SandboxConfig, reps: int) -> list[float]:
    """open()+first step when a warm pool keeps a started worker ready (the pool refills in between)."""
    from agentdistill.sandbox.pool import close_pools

    out = []
    with Sandbox.open(config) as sb:  # creates the pool
        sb.run("1")
    for _ in range(reps):
        time.sleep(0.3)  # let the pool refill, as it would between episodes
        t0 = time.perf_counter()
        with Sandbox.open(config) as sb:
            sb.run("1")
            out.append(time.perf_counter() - t0)
    close_pools()
    return out


def smolagents_runner() -> Callable[[str], object] | None:
    try:
        from smolagents.local_python_executor import LocalPythonExecutor
    except ImportError:
        return None
    ex = LocalPythonExecutor(additional_authorized_imports=["math"])
    ex.send_tools({})
    return lambda code: ex(code)


def row(name: str, xs: list[float]) -> float:
    p50, p90 = pct(xs, 0.5), pct(xs, 0.9)
    print(f"  {name:44s} p50 {p50 * 1e3:8.3f} ms   p90 {p90 * 1e3:8.3f} ms   (n={len(xs)})")
    return p50


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=100, help="repetitions of the snippet set")
    ap.add_argument("--cold-reps", type=int, default=20)
    ap.add_argument("--docker-host", default=None)
    args = ap.parse_args()
    warnings.filterwarnings("ignore", "sandbox backend 'unsafe-local'")  # it is only the reference here
    med: dict[str, float] = {}

    print(f"per step ({len(SNIPPETS)} snippets x {args.reps}, interleaved):")
    local = SandboxConfig(backend="local")
    docker: SandboxConfig | None = SandboxConfig(backend="docker", docker_host=args.docker_host)
    with contextlib.ExitStack() as stack:
        runners: dict[str, Callable[[str], object]] = {}
        smol = smolagents_runner()
        if smol is not None:
            runners["smolagents LocalPythonExecutor (no isolation)"] = smol
        else:
            print("  smolagents: not installed (pip install -e .[bench])")
        runners["unsafe-local worker (no isolation)"] = sandbox_run(
            stack.enter_context(Sandbox.open(SandboxConfig(backend="unsafe-local")))
        )
        local_sb = stack.enter_context(Sandbox.open(local))
        runners["local (bubblewrap) worker"] = sandbox_run(local_sb)
        docker_sb = None
        try:
            docker_sb = stack.enter_context(Sandbox.open(docker))
            runners["docker worker (attach channel)"] = sandbox_run(docker_sb)
        except SandboxError as e:
            print(f"  docker: skipped ({e})")
            docker = None
        times = step_times(runners, args.reps)
        for name, xs in times.items():
            med[name.split()[0]] = row(name, xs)
        print("  per snippet, p50 in ms (" + ", ".join(n.split()[0] for n in times) + "):")
        for j, snippet in enumerate(SNIPPETS):
            cells = [f"{pct(xs[j :: len(SNIPPETS)], 0.5) * 1e3:7.3f}" for xs in times.values()]
            print(f"    {snippet.splitlines()[0][:40]:40s} " + " ".join(cells))
        full, bare = fork_select_times(local_sb, max(20, args.reps // 2))
        med["fork8"] = row("local fork(8) + 8 candidates + select", full)
        row("local fork(8) + select (no code)", bare)
        if docker_sb is not None:
            full, _ = fork_select_times(docker_sb, max(10, args.reps // 4))
            row("docker fork(8) + 8 candidates + select", full)

    print(f"cold start (open + first step, {args.cold_reps} reps):")
    med["cold_local"] = row("local, fresh bubblewrap worker", cold_starts(local, args.cold_reps))
    pooled = SandboxConfig(backend="local", warm_pool=1)
    med["cold_pool"] = row("local, from a warm pool of 1", pooled_starts(pooled, args.cold_reps))
    if docker is not None:
        row("docker, fresh container", cold_starts(docker, max(3, args.cold_reps // 4)))

    print("targets (medians):")
    if "smolagents" in med:
        ratio = med["local"] / med["smolagents"]
        print(
            f"  local step / smolagents step  = {ratio:6.2f}  (target <= 1)  {'PASS' if ratio <= 1 else 'MISS'}"
        )
    if "docker" in med and "smolagents" in med:
        print(f"  docker step / smolagents step = {med['docker'] / med['smolagents']:6.2f}  (no target)")
    for key, label in (("cold_local", "cold start, fresh"), ("cold_pool", "cold start, warm pool")):
        v = med[key] * 1e3
        print(f"  {label:28s}  = {v:6.1f} ms (target <= 100 ms)  {'PASS' if v <= 100 else 'MISS'}")
    v = med["fork8"] * 1e3
    print(f"  fork(8)+select with code      = {v:6.1f} ms (target <= 20 ms)  {'PASS' if v <= 20 else 'MISS'}")


if __name__ == "__main__":
    main()
