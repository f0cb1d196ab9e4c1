"""Does GRPO with CodeAct rollouts make the agent better? Before / RL / after, beside a shuffled-reward control.

    python benchmarks/distillation_gain.py     # once: leaves the distilled student in runs/offline-selfdistill
    python benchmarks/rl_offline.py [--start hf:<model dir>|default] [--config configs/rl-offline.yaml]
        [--heldout FILE] [--run-dir DIR] [--steps N] [--no-control | --control-only] [--summarize]

The starting policy (``--start``, default the offline experiment's distilled student) must not be at ceiling:
the distilled student solves the plain held-out arithmetic, so RL trains and is scored on the same kind of
sums asked in words (configs/data/arithmetic_phrased_*.jsonl), where its groups have mixed outcomes.

1. evaluates the starting policy greedily on the held-out worded arithmetic (``--heldout``, 100 tasks sharing no
   operands with the pool), with the agent settings the offline experiment evaluates with;
2. runs ``agentdistill rl`` (GRPO on TRL, token-exact rollouts in the local sandbox) on the worded pool;
3. evaluates the RL policy the same way;
4. the control: the same RL run with ``shuffle_rewards: true`` (each group's rewards permuted over its own
   rollouts, so they say nothing about which rollout earned them while the update is as large as the real
   run's), evaluated the same way (``--control-only`` runs just this on a run folder that has the rest);
5. ``agentdistill report`` pairs both runs with the starting policy task by task.

Prints n, accuracy before and after (and after the control), the paired difference with its 95% bootstrap CI
and the exact McNemar p-value, per RL step the reward, ``frac_reward_zero_std`` and rollouts/s, minutes per
stage, and whether the target holds: a gain whose CI is above 0, the RL experiment (eval before, RL, eval
after) in <= 45 minutes, and the control's difference inside noise (its CI covers 0). Every model runs behind
the managed vLLM CPU server (``agentdistill serve --setup``).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HELDOUT = "configs/data/arithmetic_phrased_heldout.jsonl"
DISTILLED = (
    "runs/offline-selfdistill/student"  # where `python benchmarks/distillation_gain.py` leaves its student
)
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


def summarize(run_dir: Path, minutes: dict[str, float], heldout: str = HELDOUT) -> int:
    report = json.loads((run_dir / "report" / "report.json").read_text())
    runs = {n: json.loads((run_dir / "eval" / n / "metrics.json").read_text())
            for n in ("before", "after", "control") if (run_dir / "eval" / n / "metrics.json").is_file()}  # fmt: skip
    diffs = report.get("differences", {})
    print(f"\nrun: {run_dir}")
    print(f"{'run':8s} {'benchmark':22s} {'n':>4s} {'before %':>8s} {'run %':>7s}  difference [95% CI] (points)   "
          "McNemar p")  # fmt: skip
    label = Path(heldout).stem
    for name in ("after", "control"):
        if name not in runs:
            continue
        entry = runs[name]["benchmarks"][label]
        d = diffs.get(name, {}).get(label) or {}
        b = runs["before"]["benchmarks"][label]["score"]
        ci = (
            f"{100 * d['difference']:+6.2f} [{100 * d['ci_low']:+6.2f}, {100 * d['ci_high']:+6.2f}]"
            if d
            else "–"
        )
        p = f"{d['p_value']:.3g}" if d else "–"
        print(
            f"{name:8s} {label:22s} {entry['n']:4d} {pct(b):>8s} {pct(entry['score']):>7s}  {ci:28s} {p:>9s}"
        )
    by_wording(run_dir, list(runs))
    for name in ("rl", "rl-control"):
        path = run_dir / name / "rl_summary.json"
        if not path.is_file():
            continue
        summary = json.loads(path.read_text())["result"]
        r = summary["rollouts"]
        print(
            f"{name}: {summary['steps']} steps, {r['rollouts']} rollouts ({r['failed']} failed, "
            f"{r['truncated_turns']} turns cut), {r['rollouts_per_s']:.3f} rollouts/s, "
            f"{r['tokens_per_s']:.1f} generated tokens/s, {summary['train_runtime_s'] / 60:.1f} min"
        )
        for row in summary["history"]:
            true = row.get("rewards/correct/mean")
            print(
                f"  step {row['step']:2d}: reward {row['reward']:.3f}, correct {true:.3f}, frac_reward_zero_std "
                f"{row.get('frac_reward_zero_std', float('nan')):.2f}, grad_norm {row.get('grad_norm', 0):.3f}, "
                f"{row.get('rollouts_per_s', 0):.2f} rollouts/s, time gen/sandbox/sync/train "
                f"{row.get('generation_s', 0):.0f}/{row.get('sandbox_s', 0):.0f}/{row.get('sync_s', 0):.0f}/"
                f"{row.get('training_s', 0):.0f} s, peak RSS {row.get('peak_rss_gib', float('nan')):.1f} GiB"
            )
    if minutes:
        print("minutes: " + ", ".join(f"{k} {v:.1f}" for k, v in minutes.items()))
    d = diffs.get("after", {}).get(label)
    if d is None:
        print("target: held-out arithmetic not evaluated")
        return 0
    checks = {f"95% CI low {100 * d['ci_low']:+.2f} > 0": d["ci_low"] > 0}
    if {"eval before", "rl", "eval after"} <= minutes.keys():
        wall = sum(v for k, v in minutes.items() if "control" not in k)
        checks[f"RL experiment {wall:.1f} min <= {BUDGET_MIN:.0f}"] = wall <= BUDGET_MIN
    if c := diffs.get("control", {}).get(label):
        checks[f"control inside noise: CI [{100 * c['ci_low']:+.2f}, {100 * c['ci_high']:+.2f}] covers 0"] = (
            c["ci_low"] <= 0 <= c["ci_high"]
        )
    for what, ok in checks.items():
        print(f"target: {what}: {'MET' if ok else 'MISSED'}")
    return 0


def by_wording(run_dir: Path, names: list[str]) -> None:
    """Right answers per question wording (its numbers masked): where a difference comes from. Items of one
    wording succeed or fail together, so a gain confined to one wording is one behaviour, not many."""
    counts: dict[str, dict[str, int]] = {}
    for name in names:
        with (run_dir / "eval" / name / "predictions.jsonl").open() as f:
            for record in map(json.loads, f):
                wording = re.sub(r"\d+", "#", record["task"]["question"])
                row = counts.setdefault(wording, {"n": 0} | dict.fromkeys(names, 0))
                row["n"] += name == names[0]
                row[name] += bool(record.get("score"))
    changed = {w: row for w, row in counts.items() if len({row[n] for n in names}) > 1}
    print(f"by wording ({len(counts)} wordings; {len(counts) - len(changed)} with no change not shown): "
          + "/".join(names))  # fmt: skip
    for wording, row in sorted(changed.items(), key=lambda kv: -kv[1]["n"]):
        print(f"  {'/'.join(str(row[n]) for n in names):>10s} of {row['n']:3d}  {wording[:70]}")


def starting_policy(start: str) -> str:
    """``start`` as a model spec, refused before any work when its folder does not exist."""
    if start == "default":
        return start
    folder = Path(start.removeprefix("hf:"))
    folder = folder if folder.is_absolute() else REPO / folder
    if not (folder / "config.json").is_file():
        hint = (
            "run `python benchmarks/distillation_gain.py` first (it leaves its student there; 20-40 min on 2 cores)"
            if start in (DISTILLED, f"hf:{DISTILLED}")
            else "pass --start hf:<a model folder>"
        )
        sys.exit(f"rl_offline: no model at {folder} (--start {start}): {hint}, or --start default for the "
                 "untrained model")  # fmt: skip
    return f"hf:{folder}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--start", default=DISTILLED, help="starting policy: hf:<model dir> (default: the offline "
                    "experiment's distilled student) or default (the untrained model)")  # fmt: skip
    ap.add_argument("--config", type=Path, default=REPO / "configs" / "rl-offline.yaml")
    ap.add_argument("--heldout", default=HELDOUT, help="held-out task file (disjoint from the config's pool)")
    ap.add_argument("--run-dir", type=Path, default=REPO / "runs" / "rl-offline")
    ap.add_argument("--steps", type=int, default=None, help="override the config's GRPO steps")
    ap.add_argument("--no-control", action="store_true", help="skip the shuffled-reward control run")
    ap.add_argument("--control-only", action="store_true", help="run only the control (and the report) in a "
                    "run folder whose before/after evaluations exist")  # fmt: skip
    ap.add_argument("--summarize", action="store_true", help="only print an existing run's numbers")
    args = ap.parse_args()
    run = args.run_dir
    minutes: dict[str, float] = {}
    if args.no_control and args.control_only:
        ap.error("--no-control and --control-only contradict each other")
    missing = [n for n in ("before", "after") if not (run / "eval" / n / "metrics.json").is_file()]
    if args.control_only and missing:
        sys.exit(f"rl_offline: --control-only needs the evaluations {missing} in {run / 'eval'}: run without it "
                 "first")  # fmt: skip
    if (args.summarize or args.control_only) and (run / "minutes.json").is_file():
        # the minutes of the run that made the folder
        minutes = json.loads((run / "minutes.json").read_text())
    if not args.summarize:
        start = starting_policy(args.start)
        run.mkdir(parents=True, exist_ok=True)
        steps = ["--steps", str(args.steps)] if args.steps else []

        def evaluate(name: str, model: str) -> float:
            return agentdistill("eval", "--model", model, "--benchmarks", args.heldout, "--out",
                                str(run / "eval" / name), "--name", name, *EVAL_ARGS) / 60  # fmt: skip

        def reinforce(name: str, *extra: str) -> float:
            shutil.rmtree(run / name, ignore_errors=True)
            cmd = ["rl", "--config", str(args.config), "--model", start, "--out", str(run / name)]
            return agentdistill(*cmd, *steps, *extra) / 60

        def stage(name: str, minutes_taken: float) -> None:  # kept as they come: a killed run keeps them
            minutes[name] = minutes_taken
            (run / "minutes.json").write_text(json.dumps(minutes, indent=1))

        if not args.control_only:
            stage("eval before", evaluate("before", start))
            stage("rl", reinforce("rl"))
            stage("eval after", evaluate("after", f"hf:{run / 'rl'}"))
        names = [str(run / "eval" / "before"), str(run / "eval" / "after")]
        if not args.no_control:
            stage("rl control", reinforce("rl-control", "--set", "shuffle_rewards=true"))
            stage("eval control", evaluate("control", f"hf:{run / 'rl-control'}"))
            names.append(str(run / "eval" / "control"))
        agentdistill("report", *names, "--out", str(run / "report"))
    return summarize(run, minutes, args.heldout)


if __name__ == "__main__":
    raise SystemExit(main())
