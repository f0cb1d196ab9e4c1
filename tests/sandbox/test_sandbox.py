"""Behaviour of the Sandbox API on both isolating backends: state, output, forks, tools, limits."""

from __future__ import annotations

import time

import pytest

from agentdistill.sandbox import Sandbox, SandboxError


def test_state_persists_across_steps(sandbox: Sandbox) -> None:
    assert sandbox.run("x = 40\ndef inc(v):\n    return v + 1").ok
    r = sandbox.run("x = inc(x) + 1\nprint('x is', x)\nx")
    assert r.error is None
    assert r.stdout == "x is 42\n"
    assert r.value == "42"
    assert sandbox.run("import math\ny = math.sqrt(x - 33)").ok
    assert sandbox.run("y").value == "3.0"


def test_output_value_and_errors(sandbox: Sandbox) -> None:
    r = sandbox.run("import sys\nprint('out')\nprint('err', file=sys.stderr)\nNone")
    assert r.stdout == "out\nerr\n" and r.value is None
    r = sandbox.run("a = 1\nb = 0\na / b")
    assert r.error is not None and "ZeroDivisionError: division by zero" in r.error
    assert 'File "<step' in r.error and "worker.py" not in r.error  # model frames only
    assert r.limit is None and not r.restarted
    r = sandbox.run("def f(:\n  pass")
    assert r.error is not None and "SyntaxError" in r.error
    assert sandbox.run("a + 1").value == "2"  # state survived the failures


def test_final_answer_ends_the_step(sandbox: Sandbox) -> None:
    r = sandbox.run("import numpy as np\nprint('before')\nfinal_answer(np.int64(7) * 6)\nprint('after')")
    assert r.is_final and r.final_answer == 42
    assert r.stdout == "before\n"
    r = sandbox.run("try:\n    final_answer({'a': [1, 2]})\nexcept Exception:\n    print('caught')")
    assert r.is_final and r.final_answer == {"a": [1, 2]} and "caught" not in r.stdout


def test_numpy_and_sympy_are_importable(sandbox: Sandbox) -> None:
    r = sandbox.run(
        "import numpy as np, sympy as sp\nx = sp.symbols('x')\n"
        "print(sp.solve(x**2 - 4, x))\nfloat(np.linalg.det(np.array([[2.0, 0], [0, 3.0]])))"
    )
    assert r.error is None, r.error
    assert r.stdout == "[-2, 2]\n" and r.value == "6.0"


def test_forks_are_isolated_and_select_keeps_the_chosen_state(sandbox: Sandbox) -> None:
    assert sandbox.run("counter = 10\nlog = []").ok
    forks = sandbox.fork(3)
    assert len(forks) == 3
    results = sandbox.run_forks(
        [
            "counter += 1\nlog.append('a')\ncounter",
            "counter += 2\nlog.append('b')\ncounter",
            "counter = -1\n1/0",
        ]
    )
    assert [r.value for r in results] == ["11", "12", None]
    assert results[2].error and "ZeroDivisionError" in results[2].error
    # Each fork sees only its own change.
    assert forks[0].run("log").value == "['a']"
    assert forks[1].run("log").value == "['b']"
    assert forks[2].run("counter").value == "-1"
    # The main state is untouched until select.
    assert sandbox.run("counter, log").value == "(10, [])"
    # The chosen fork's state becomes the state without re-running its code.
    sandbox.select(1)
    assert sandbox.run("counter, log").value == "(12, ['b'])"
    # Forks are gone after select.
    with pytest.raises(SandboxError):
        sandbox.run_forks(["1"])


def test_forks_run_in_parallel(sandbox: Sandbox) -> None:
    sandbox.fork(4)
    t0 = time.monotonic()
    results = sandbox.run_forks(["import time\ntime.sleep(1.0)\n'done'"] * 4)
    elapsed = time.monotonic() - t0
    assert all(r is not None and r.value == "'done'" for r in results)
    assert elapsed < 2.5, f"4 x 1 s sleeps took {elapsed:.1f} s: forks did not run in parallel"
    sandbox.discard_forks()
    assert sandbox.run("1 + 1").value == "2"


def test_fork_that_overruns_is_killed_and_the_others_survive(sandbox: Sandbox) -> None:
    assert sandbox.run("v = 1").ok
    sandbox.fork(2)
    stubborn = "while True:\n    try:\n        while True:\n            pass\n    except BaseException:\n        pass"
    r_ok, r_bad = sandbox.run_forks(["v + 1", stubborn], timeout=1.0)
    assert r_ok is not None and r_ok.value == "2"
    assert r_bad is not None and r_bad.limit == "wall_time" and r_bad.restarted
    sandbox.select(0)
    assert sandbox.run("v").value == "1"
    # Choosing the killed copy anyway gives a fresh state, like a killed step outside forks.
    sandbox.fork(2)
    sandbox.run_forks(["v = 2", stubborn], timeout=1.0)
    sandbox.select(1)
    assert sandbox.run("'v' in globals()").value == "False"
    with pytest.raises(SandboxError):
        sandbox.select(5)


def test_host_tools_callable_and_langchain(open_sandbox) -> None:
    from langchain_core.tools import tool

    calls = []

    def web_search(query: str, k: int = 2) -> list[str]:
        """Search the web."""
        calls.append((query, k))
        return [f"{query} result {i}" for i in range(k)]

    @tool
    def lookup(title: str, section: str = "intro") -> str:
        """Look up a wiki page section."""
        return f"{title}/{section}"

    def broken(x: str) -> str:
        raise ValueError("backend down")

    sb = open_sandbox(tools={"web_search": web_search, "lookup": lookup, "broken": broken})
    r = sb.run("res = web_search('cats', k=3)\nprint(len(res))\nres[0]")
    assert r.error is None, r.error
    assert r.stdout == "3\n" and r.value == "'cats result 0'" and calls == [("cats", 3)]
    assert sb.run("lookup('Paris')").value == "'Paris/intro'"
    assert sb.run("lookup('Paris', section='history')").value == "'Paris/history'"
    assert sb.run("web_search.__doc__").value == "'Search the web.'"
    r = sb.run("try:\n    broken('x')\nexcept RuntimeError as e:\n    print('tool error:', e)")
    assert "tool error: broken: ValueError: backend down" in r.stdout
    r = sb.run("web_search(object())")
    assert r.error and "JSON" in r.error and len(calls) == 1
    # Tools work from forks too (each fork's call is answered on its own channel).
    sb.fork(2)
    results = sb.run_forks(["web_search('a', k=1)[0]", "web_search('b', k=1)[0]"])
    assert [r.value for r in results] == ["'a result 0'", "'b result 0'"]


def test_state_survives_a_soft_timeout(sandbox: Sandbox) -> None:
    assert sandbox.run("kept = 'yes'").ok
    r = sandbox.run("while True:\n    pass", timeout=1.0)
    assert r.limit == "wall_time" and not r.restarted
    assert r.error and "wall time" in r.error
    assert sandbox.run("kept").value == "'yes'"


def test_stubborn_code_is_killed_and_the_sandbox_restarts(sandbox: Sandbox) -> None:
    assert sandbox.run("kept = 'yes'").ok
    t0 = time.monotonic()
    r = sandbox.run(
        "while True:\n    try:\n        while True:\n            pass\n    except BaseException:\n        pass"
    )
    assert time.monotonic() - t0 < 5.0 + 1.0 + 4.0
    assert r.limit == "wall_time" and r.restarted
    r = sandbox.run("'kept' in globals()")
    assert r.value == "False"  # fresh state
    assert sandbox.run("1 + 1").value == "2"


def test_killed_supervisor_means_a_restart(sandbox: Sandbox) -> None:
    """Model code can signal the supervisor (same uid): the host notices and starts a fresh instance."""
    r = sandbox.run(
        "import os, signal\nos.kill(os.getppid(), signal.SIGSTOP)\nwhile True:\n    pass", timeout=1.0
    )
    assert r.limit == "wall_time" and r.restarted
    assert sandbox.run("40 + 2").value == "42"
    r = sandbox.run("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nimport time\ntime.sleep(30)")
    assert r.restarted and r.error
    assert sandbox.run("40 + 2").value == "42"


def test_cpu_time_limit(open_sandbox) -> None:
    sb = open_sandbox(cpu_time_s=1.0, wall_time_s=20.0)
    t0 = time.monotonic()
    r = sb.run("n = 0\nwhile True:\n    n += 1")
    assert r.limit == "cpu_time", r
    assert time.monotonic() - t0 < 10
    assert sb.run("n > 0").value == "True"


def test_file_size_limit(open_sandbox) -> None:
    sb = open_sandbox(file_size_mb=1)
    r = sb.run("with open('/scratch/big', 'wb') as f:\n    f.write(b'x' * (3 * 2**20))")
    assert r.limit == "file_size", r
    assert sb.run("with open('/scratch/small', 'wb') as f:\n    f.write(b'x' * 1000)").ok


def test_open_applies_limit_overrides_and_pings(sandbox: Sandbox) -> None:
    assert sandbox.limits.wall_time_s == 5.0
    assert sandbox.ping() < 1.0


def test_losing_the_main_state_while_forks_run(sandbox: Sandbox) -> None:
    """A fork kills its parent (the state process): the forks and select still work."""
    assert sandbox.run("v = 'original'").ok
    sandbox.fork(2)
    r0, r1 = sandbox.run_forks(
        ["import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nv = 'fork0'", "v = 'fork1'"]
    )
    assert r0 is not None and r0.ok and r1 is not None and r1.ok
    sandbox.select(0)
    r = sandbox.run("v")
    assert r.value == "'fork0'" and not r.restarted
    # Without select, the next step on the state says that the state was lost.
    sandbox.fork(1)
    sandbox.run_forks(["import os, signal\nos.kill(os.getppid(), signal.SIGKILL)"])
    sandbox.discard_forks()
    r = sandbox.run("'v' in globals()")
    assert r.value == "False" and r.restarted


def test_huge_values_and_answers_are_capped(sandbox: Sandbox) -> None:
    r = sandbox.run("list(range(10**6))")
    assert r.truncated and len(r.value or "") <= 4096
    r = sandbox.run("final_answer('a' * 10**6)")
    assert r.is_final and r.truncated and len(r.final_answer) <= 4096


def test_warm_pool_hands_out_started_workers(make_config) -> None:
    import dataclasses

    from agentdistill.sandbox import pool as base

    cfg = dataclasses.replace(make_config(), warm_pool=1)
    try:
        with Sandbox.open(cfg) as sb:
            assert sb.run("x = 1").ok
        pool = next(iter(base._POOLS.values()))
        deadline = time.monotonic() + 60
        while not pool.ready and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pool.ready, "the pool did not refill"
        pooled = pool.ready[0]
        with Sandbox.open(cfg, tools={"t": lambda: "tool ok"}) as sb:
            assert sb._inst is pooled
            assert sb.run("'x' in globals(), t()").value == "(False, 'tool ok')"
    finally:
        base.close_pools()
    assert not base._POOLS
    assert pooled._done  # type: ignore[attr-defined]


def test_results_of_an_abandoned_step_are_ignored(sandbox: Sandbox) -> None:
    """A step whose caller gave up (e.g. Ctrl-C) must not be taken for the next step's result."""
    stale = {
        "op": "run",
        "target": "main",
        "code": "import time\ntime.sleep(0.3)\n'stale'",
        "limits": {},
        "id": -1,
    }
    sandbox._channel().send(stale)
    assert sandbox.run("'fresh'").value == "'fresh'"
