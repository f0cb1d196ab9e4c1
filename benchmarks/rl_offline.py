"""Does GRPO with CodeAct rollouts make the agent better? Before / RL / after, with the paired statistics.

    python benchmarks/rl_offline.py [--start default|hf:<student dir>] [--config configs/rl-offline.yaml]
        [--run-dir DIR] [--steps N] [--summarize]

1. evaluates the starting policy greedily on the held-out arithmetic tasks (configs/data/arithmetic_heldout.jsonl,
   disjoint from the pool), with the agent settings the offline experiment evaluates with;
2. runs ``agentdistill rl`` (GRPO on TRL, rollouts in the local sandbox) on the arithmetic pool;
3. evaluates the RL policy the same way, and ``agentdistill report`` pairs the two runs task by task.

Prints n, accuracy before and after, the paired difference with its 95% bootstrap CI and the exact McNemar
p-value, rollouts/s and generated tokens/s of the rollouts, minutes per stage and the wall time, and whether
the target holds (a gain whose CI is above 0, in <= 45 minutes). Every model runs behind the managed vLLM CPU
server (``agentdistill serve --setup``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HELDOUT = "configs/data/arithmetic_heldout.jsonl"
EVAL_ARGS = ["--max-steps", "2", "--max-tokens", "128", "--concurrency", "16", "--domain", "math",
             "--set", "agent.use_examples=false", "--set", "model.serve={max_model_len: 4096}",
             "--set", "model.max_concurrency=16", "--no-progress", "--overwrite"]  # fmt: skip
BUDGET_MIN = 45.0


def agentdistill(*args: str) -> float:
    cmd = [sys.executable, "-m", "agentdistill.cli", *args]
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=REPO)
    if proc.returncode != 0:
        sys.exit(
            f"`agentdistill {' '.join(args[:3])} ...` failed (exit {proc.returncode}); its output is above"
        )
    return time.monotonic() - started


def pct(v: float | None) -> str:
    return "   –  " if v is None else f"{100 * v:6.2f}"


def summarize(run_dir: Path, minutes: dict[str, float]) -> int:
    report = json.loads((run_dir / "report" / "report.json").read_text())
    before, after = (
        json.loads((run_dir / "eval" / n / "metrics.json").read_text()) for n in ("before", "after")
    )
    diffs = report.get("differences", {}).get("after", {})
    print(f"\nrun: {run_dir}")
    print(
        f"{'benchmark':24s} {'n':>4s} {'before %':>8s} {'after %':>8s}  difference [95% CI] (points)   McNemar p"
    )
    for label, entry in after["benchmarks"].items():
        d = diffs.get(label) or {}
        b = before["benchmarks"].get(label, {}).get("score")
        ci = (
            f"{100 * d['difference']:+6.2f} [{100 * d['ci_low']:+6.2f}, {100 * d['ci_high']:+6.2f}]"
            if d
            else "–"
        )
        p = f"{d['p_value']:.3g}" if d else "–"
        print(f"{label:24s} {entry['n']:4d} {pct(b):>8s} {pct(entry['score']):>8s}  {ci:28s} {p:>9s}")
    summary = json.loads((run_dir / "rl" / "rl_summary.json").read_text())["result"]
    r = summary["rollouts"]
    print(
        f"rl: {summary['steps']} steps, {r['rollouts']} rollouts ({r['failed']} failed), "
        f"{r['rollouts_per_s']:.3f} rollouts/s, {r['tokens_per_s']:.1f} generated tokens/s, "
        f"{summary['train_runtime_s'] / 60:.1f} min training"
    )
    for row in summary["reward_history"]:
        extra = ", ".join(f"{k} {v:.3f}" for k, v in row.items() if k not in ("step", "reward", "reward_std"))
        print(f"  step {row['step']}: reward {row['reward']:.3f} ({extra})")
    if minutes:
        print("minutes: " + ", ".join(f"{k} {v:.1f}" for k, v in minutes.items()))
    wall = sum(minutes.values())
    d = diffs.get(Path(HELDOUT).stem)
    if d is None:
        print("target: held-out arithmetic not evaluated")
        return 0
    checks = {f"95% CI low {100 * d['ci_low']:+.2f} > 0": d["ci_low"] > 0}
    if minutes:
        checks[f"wall time {wall:.1f} min <= {BUDGET_MIN:.0f}"] = wall <= BUDGET_MIN
    for what, ok in checks.items():
        print(f"target: {what}: {'MET' if ok else 'MISSED'}")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--start", default="default", help="starting policy: default or hf:<SFT student dir>")
    ap.add_argument("--config", type=Path, default=REPO / "configs" / "rl-offline.yaml")
    ap.add_argument("--run-dir", type=Path, default=REPO / "runs" / "rl-offline")
    ap.add_argument("--steps", type=int, default=None, help="override the config's GRPO steps")
    ap.add_argument("--summarize", action="store_true", help="only print an existing run's numbers")
    args = ap.parse_args()
    run = args.run_dir
    minutes: dict[str, float] = {}
    if not args.summarize:
        run.mkdir(parents=True, exist_ok=True)
        before, after = run / "eval" / "before", run / "eval" / "after"
        minutes["eval before"] = agentdistill("eval", "--model", args.start, "--benchmarks", HELDOUT,
                                              "--out", str(before), "--name", "before", *EVAL_ARGS) / 60  # fmt: skip
        shutil.rmtree(run / "rl", ignore_errors=True)
        rl = ["rl", "--config", str(args.config), "--model", args.start, "--out", str(run / "rl")]
        minutes["rl"] = agentdistill(*rl, *(["--steps", str(args.steps)] if args.steps else [])) / 60
        minutes["eval after"] = agentdistill("eval", "--model", f"hf:{run / 'rl'}", "--benchmarks", HELDOUT,
                                             "--out", str(after), "--name", "after", *EVAL_ARGS) / 60  # fmt: skip
        agentdistill("report", str(before), str(after), "--out", str(run / "report"))
    return summarize(run, minutes)


if __name__ == "__main__":
    raise SystemExit(main())
