"""Where GRPO rollouts generate fastest: rollouts/s of each way of keeping a sampler on the policy.

    python benchmarks/rl_throughput.py [--config configs/rl-offline.yaml] [--episodes 32] [--steps 2]
                                       [--in-process-episodes 4] [--only base,reload,lora,in-process]

Plays the same rollouts (the config's first tasks, ``--episodes`` per step, the config's agent, token-exact,
through :class:`~agentdistill.training.rollouts.RolloutRunner` exactly as ``agentdistill rl`` does) with the
policy a zero-initialised LoRA adapter on the starting model, ``--steps`` times after one warm-up round
that is not counted, each step first syncing the sampler to the policy as a training step would:

* ``base``: a vLLM server of the starting model that is never synced (the ceiling: what the server does);
* ``reload``: ``weight_sync: reload`` (the policy merged, written, ``reload_weights`` + prefix cache reset);
* ``lora``: ``weight_sync: lora`` (a server with ``--enable-lora``, the adapter saved and hot-loaded);
* ``in-process``: the policy itself through the ``hf:`` backend (no server; ``--in-process-episodes``).

Prints per variant the median over steps of rollouts/s (sync included), generated tokens/s, sync seconds,
the model's and the sandbox's share of episode time, and the ratio to ``base`` (target for the default
path: >= 0.5). Sampling is random, so the variants' episodes differ in length: compare tokens/s too.
Not part of the test run; every server is the managed vLLM CPU build (``agentdistill serve --setup``).
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

REPO = Path(__file__).resolve().parents[1]
VARIANTS = ("base", "reload", "lora", "in-process")


class PolicyHolder(SimpleNamespace):
    """The parts of a GRPO trainer the samplers read: ``state.global_step``, ``model``, ``accelerator``,
    ``processing_class``."""


def make_holder(model: Any, tokenizer: Any = None) -> PolicyHolder:
    from accelerate import Accelerator

    return PolicyHolder(
        state=SimpleNamespace(global_step=0),
        model=model,
        model_wrapped=model,
        accelerator=Accelerator(),
        processing_class=tokenizer,
    )


@contextlib.contextmanager
def sampler(variant: str, cfg: Any, model_path: str, holder: PolicyHolder, work: Path) -> Iterator[Any]:
    """The factory ``trainer -> context manager yielding a ChatModel`` of ``variant``."""
    from agentdistill.models.config import ServeConfig
    from agentdistill.models.openai_compat import OpenAIChatModel
    from agentdistill.models.serve import VLLMServer
    from agentdistill.training import rl_generation

    if variant == "in-process":
        cache: dict[int, Any] = {}
        yield lambda trainer: rl_generation.in_process_policy(trainer, cache, max_batch_size=cfg.concurrency)
        return
    if variant == "base":
        serve = cfg.student.serve or ServeConfig()
        server = VLLMServer(
            model_path,
            served_name="base",
            max_model_len=serve.max_model_len,
            extra_args=rl_generation._SERVER_ARGS,
        )

        @contextlib.contextmanager
        def plain(trainer: Any) -> Iterator[Any]:
            yield OpenAIChatModel("base", server.base_url, max_concurrency=cfg.concurrency)

        server.start()
        try:
            yield plain
        finally:
            server.stop()
        return
    policy = rl_generation.SERVED_POLICIES[variant](model_path, cfg, work)
    policy.start()
    try:
        yield policy
    finally:
        policy.stop()


def measure(variant: str, cfg: Any, args: argparse.Namespace, work: Path) -> list[dict[str, float]]:
    import transformers
    from peft import get_peft_model

    from agentdistill.training import base
    from agentdistill.training.grpo import load_rl_tasks
    from agentdistill.training.rollouts import RolloutRunner

    model_path = base.resolve_student(cfg.student)
    tokenizer = base.load_tokenizer(model_path)
    policy = get_peft_model(
        transformers.AutoModelForCausalLM.from_pretrained(model_path), base.lora_config(cfg)
    )
    holder = make_holder(policy, tokenizer)
    n = args.in_process_episodes if variant == "in-process" else args.episodes
    tasks = load_rl_tasks(cfg)
    chosen = [tasks[i % len(tasks)] for i in range(n)]
    rows = []
    with sampler(variant, cfg, model_path, holder, work / variant) as factory:
        runner = RolloutRunner(cfg, {t.question: t for t in tasks}, tokenizer, factory)
        try:
            for step in range(args.steps + 1):  # step 0 warms the server up and is not counted
                holder.state.global_step = step  # a new step: the served policies sync before sampling
                started = time.perf_counter()
                runner([[{"role": "user", "content": t.question}] for t in chosen], holder)
                wall = time.perf_counter() - started
                if step == 0:
                    continue
                s = runner.per_step[step + 1]
                episode_time = max(s.model_seconds + s.sandbox_seconds, 1e-9)
                rows.append(
                    {
                        "rollouts_per_s": s.rollouts / wall,
                        "tokens_per_s": s.completion_tokens / wall,
                        "sync_s": s.sync_seconds,
                        "model_share": s.model_seconds / episode_time,
                        "sandbox_share": s.sandbox_seconds / episode_time,
                        "tokens": s.completion_tokens,
                        "wall_s": wall,
                    }
                )
                print(f"  {variant} step {step}: {rows[-1]['rollouts_per_s']:.3f} rollouts/s, "
                      f"{rows[-1]['tokens_per_s']:.1f} tok/s, sync {s.sync_seconds:.1f} s", flush=True)  # fmt: skip
        finally:
            runner.close()
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", type=Path, default=REPO / "configs" / "rl-offline.yaml")
    ap.add_argument("--episodes", type=int, default=32, help="rollouts per step on a server")
    ap.add_argument("--in-process-episodes", type=int, default=4, help="rollouts per step in process")
    ap.add_argument("--steps", type=int, default=2, help="sync + rollouts, repeated (median reported)")
    ap.add_argument("--only", default=",".join(VARIANTS), help=f"comma-separated subset of {VARIANTS}")
    args = ap.parse_args()
    wanted = [v.strip() for v in args.only.split(",") if v.strip()]
    if bad := [v for v in wanted if v not in VARIANTS]:
        sys.exit(f"--only: unknown variant(s) {bad}; valid: {', '.join(VARIANTS)}")
    if min(args.episodes, args.in_process_episodes, args.steps) < 1:
        sys.exit("--episodes, --in-process-episodes and --steps must be >= 1")

    from agentdistill.config import load_config
    from agentdistill.training.rl_config import RLConfig

    cfg = load_config(RLConfig, args.config, sets=["save_rollouts=false", "output_dir=unused"])
    cfg.validate()
    if cfg.student.serve is None and wanted != ["in-process"]:
        sys.exit(f"{args.config}: set student.serve (the server variants start a managed vLLM from it)")
    work = Path(tempfile.mkdtemp(prefix="rl-throughput-"))
    results: dict[str, list[dict[str, float]]] = {}
    try:
        for variant in wanted:
            print(f"{variant}: ...", flush=True)
            results[variant] = measure(variant, cfg, args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def med(rows: list[dict[str, float]], key: str) -> float:
        return statistics.median(r[key] for r in rows)

    print(f"\n{'variant':11s} {'rollouts/s':>10s} {'tok/s':>7s} {'sync s':>7s} {'model %':>8s} {'sandbox %':>9s} "
          f"{'vs base':>8s}   (median of {args.steps} steps; concurrency {cfg.concurrency})")  # fmt: skip
    ref = med(results["base"], "rollouts_per_s") if "base" in results else None
    for variant, rows in results.items():
        ratio = f"{med(rows, 'rollouts_per_s') / ref:8.2f}" if ref else "       –"
        print(
            f"{variant:11s} {med(rows, 'rollouts_per_s'):10.3f} {med(rows, 'tokens_per_s'):7.1f} "
            f"{med(rows, 'sync_s'):7.2f} {100 * med(rows, 'model_share'):8.1f} {100 * med(rows, 'sandbox_share'):9.1f} "
            f"{ratio}"
        )
    if ref and "reload" in results:
        ratio = med(results["reload"], "rollouts_per_s") / ref
        print(f"target: reload (the default) at >= 50% of base rollouts/s: {ratio:.2f} -> "
              f"{'MET' if ratio >= 0.5 else 'MISSED'}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
