"""How much of a generation run is the toolkit itself, and how throughput scales with concurrency.

    python benchmarks/generation_overhead.py [--episodes 16] [--levels 1,4,16] [--openai-spec SPEC]

Runs the same CodeAct episodes (bundled GSM8K sample tasks, repeated to --episodes) against a real local
OpenAI-compatible server (vLLM CPU build serving the default model, started here unless --openai-spec is
given), with the real local sandbox, at each concurrency level. For each level it prints:

* wall time and episodes/s, and throughput relative to concurrency 1;
* the toolkit's own share of wall time: CPU seconds spent in this process (agent loop, prompt
  rendering, parsing, JSON, the HTTP client, shard writes) over wall seconds. The model server and the
  sandbox workers are other processes, so their work is not counted. Target: <= 5%.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from agentdistill.episodes.generate import agenerate
from agentdistill.episodes.generate_config import GenerateConfig
from agentdistill.models.config import ModelConfig, ServeConfig
from agentdistill.tasks.config import TaskSetConfig


async def run_level(spec: str, concurrency: int, episodes: int, out: Path) -> dict[str, float]:
    config = GenerateConfig(
        tasks=TaskSetConfig(["gsm8k"], seed=0),
        out=str(out),
        teacher=ModelConfig(spec=spec, max_concurrency=64),
        concurrency=concurrency,
        samples_per_task=max(1, -(-episodes // 5)),
        overwrite=True,
    )
    config.agent.max_steps = 2
    config.agent.max_tokens = 96
    config.agent.final_max_tokens = 32
    config.agent.temperature = 0.7
    cpu0, wall0 = time.process_time(), time.perf_counter()
    summary = await agenerate(config, progress=False)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return {"episodes": summary.written, "wall": wall, "cpu": cpu, "eps": summary.written / wall}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--episodes", type=int, default=16, help="episodes per level (bundled tasks x samples)")
    ap.add_argument("--levels", default="1,4,16")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--openai-spec", help="use this server instead of starting a local vLLM")
    args = ap.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="genbench-"))

    def bench(spec: str) -> None:
        rows = {}
        for level in levels:
            runs = [
                asyncio.run(run_level(spec, level, args.episodes, tmp / f"c{level}"))
                for _ in range(args.repeats)
            ]
            rows[level] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        base = rows[levels[0]]["eps"]
        print(
            f"{'concurrency':>11} {'episodes':>8} {'wall s':>8} {'episodes/s':>10} {'vs c=1':>7} {'toolkit share':>13}"
        )
        for level, r in rows.items():
            share = r["cpu"] / r["wall"]
            flag = "ok" if share <= 0.05 else "OVER 5%"
            print(f"{level:>11} {r['episodes']:>8.0f} {r['wall']:>8.1f} {r['eps']:>10.3f} {r['eps'] / base:>6.2f}x "
                  f"{share:>12.1%} {flag}")  # fmt: skip

    try:
        if args.openai_spec:
            bench(args.openai_spec)
        else:
            from agentdistill.models.serve import VLLMServer

            with VLLMServer.for_spec("default", ServeConfig(max_model_len=4096)) as server:
                bench(server.spec)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
