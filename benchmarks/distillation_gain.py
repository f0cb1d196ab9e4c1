"""Does distillation make the student better? Runs a pipeline and prints the before/after with its statistics.

    python benchmarks/distillation_gain.py [--config configs/offline-selfdistill.yaml] [--run-dir DIR]
        [--ablation none|no-grounded|no-masking|with-rounds] [--reuse-generation FROM_RUN_DIR] [--summarize]

Runs ``agentdistill pipeline`` (``AGENTDISTILL_DATA_DIR`` defaults to ../shared/data when it exists), then
prints, for every benchmark: n, the base model's and the student's accuracy, their paired difference with
its 95% bootstrap confidence interval and the exact McNemar p-value; the minutes per stage; the rounds; and
whether the target holds (held-out arithmetic >= 45%, >= 20 points above the base model, CI above 0).

Ablations switch one of the efficacy changes off: ``no-grounded`` (no grounded-answer filter),
``no-masking`` (parse errors of masked steps count and the forced max-steps answer is trained, as
before; applied to the same teacher episodes by the filters); ``with-rounds`` switches failure-targeted
rounds on (the shipped config runs one round, which is what fits its budget on 2 cores).
``--reuse-generation`` starts from another run's round-1 teacher episodes and base-model evaluation (same
settings, so the pipeline reuses them) to save their time.
``--summarize`` only prints the numbers of an existing run directory.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET_BENCHMARK = "arithmetic_heldout"
ABLATIONS = {
    "none": [],
    "no-grounded": [
        "filters=[failed, parse_errors, correct, forced_answer, decontaminate, dedup, {name: per_task, k: 2}]"
    ],
    "no-masking": [
        "filters=[failed, {name: parse_errors, trained_only: false}, correct, grounded,"
        " {name: forced_answer, policy: train}, decontaminate, dedup, {name: per_task, k: 2}]",
    ],
    # the shipped config runs one round (its budget on 2 cores); this switches failure-targeted rounds on
    "with-rounds": ["rounds={count: 2, failure_boost: 2, dev_fraction: 0.2}"],
}


def run_pipeline(config: Path, run_dir: Path, sets: list[str]) -> float:
    env = dict(os.environ)
    shared = REPO.parent / "shared" / "data"
    if "AGENTDISTILL_DATA_DIR" not in env and shared.is_dir():
        env["AGENTDISTILL_DATA_DIR"] = str(shared)
    cmd = [sys.executable, "-m", "agentdistill.cli", "pipeline", "--config", str(config), "--run-dir", str(run_dir),
           "--no-progress"]  # fmt: skip
    for s in sets:
        cmd += ["--set", s]
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=REPO, env=env)
    if proc.returncode != 0:
        sys.exit(f"pipeline failed (exit {proc.returncode}); its output is above")
    return time.monotonic() - started


def reuse_generation(source: Path, run_dir: Path) -> None:
    """Copy round 1's teacher episodes (and the base model's evaluation) with their stage marker."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "stages").mkdir(exist_ok=True)
    for folder in ("trajectories", "eval/base"):
        if (source / folder).is_dir() and not (run_dir / folder).exists():
            shutil.copytree(source / folder, run_dir / folder, ignore=shutil.ignore_patterns(".lock"))
    marker = source / "stages" / "generate.json"
    if marker.is_file():
        shutil.copy2(marker, run_dir / "stages" / "generate.json")


def pct(v: float | None) -> str:
    return "   –  " if v is None else f"{100 * v:6.2f}"


def summarize(run_dir: Path, wall_s: float | None) -> int:
    report = json.loads((run_dir / "report" / "report.json").read_text())
    base, student = (
        json.loads((run_dir / "eval" / n / "metrics.json").read_text()) for n in ("base", "student")
    )
    diffs = report.get("differences", {}).get("student", {})
    print(f"\nrun: {run_dir}")
    print(
        f"{'benchmark':24s} {'n':>4s} {'base %':>7s} {'student %':>9s}  difference [95% CI] (points)   McNemar p"
    )
    for label, entry in student["benchmarks"].items():
        d = diffs.get(label) or {}
        b = base["benchmarks"].get(label, {}).get("score")
        ci = (
            f"{100 * d['difference']:+6.2f} [{100 * d['ci_low']:+6.2f}, {100 * d['ci_high']:+6.2f}]"
            if d
            else "–"
        )
        p = f"{d['p_value']:.3g}" if d else "–"
        print(f"{label:24s} {entry['n']:4d} {pct(b):>7s} {pct(entry['score']):>9s}  {ci:28s} {p:>9s}")
    stages = sorted((run_dir / "stages").glob("*.json"))
    minutes = {p.stem: json.loads(p.read_text())["result"].get("seconds", 0) / 60 for p in stages}
    print("minutes per stage: " + ", ".join(f"{k} {v:.1f}" for k, v in minutes.items()))
    if wall_s is not None:
        print(f"wall time of this run: {wall_s / 60:.1f} min")
    if (run_dir / "rounds.json").is_file():
        rounds = json.loads((run_dir / "rounds.json").read_text())
        for e in rounds["rounds"]:
            print(f"round {e['round']}{' (best)' if e['round'] == rounds['best'] else ''}: {e['episodes']} episodes, "
                  f"{e['kept']} kept, pool {pct(e.get('train_accuracy'))}%, dev {pct(e.get('dev_accuracy'))}%")  # fmt: skip
    d = diffs.get(TARGET_BENCHMARK)
    acc = student["benchmarks"].get(TARGET_BENCHMARK, {}).get("score")
    if d is None or acc is None:
        print(f"target: {TARGET_BENCHMARK} not evaluated")
        return 0
    checks = {
        f"accuracy {100 * acc:.2f}% >= 45%": acc >= 0.45,
        f"gain {100 * d['difference']:+.2f} points >= 20": d["difference"] >= 0.20,
        f"95% CI low {100 * d['ci_low']:+.2f} > 0": d["ci_low"] > 0,
    }
    for what, ok in checks.items():
        print(f"target: {what}: {'MET' if ok else 'MISSED'}")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", type=Path, default=REPO / "configs" / "offline-selfdistill.yaml")
    ap.add_argument("--run-dir", type=Path, default=None, help="default: runs/distillation-gain-<ablation>")
    ap.add_argument("--ablation", choices=list(ABLATIONS), default="none")
    ap.add_argument("--reuse-generation", type=Path, default=None)
    ap.add_argument("--summarize", action="store_true", help="only print an existing run's numbers")
    ap.add_argument("--set", dest="sets", action="append", default=[], help="extra pipeline --set overrides")
    args = ap.parse_args()
    run_dir = args.run_dir or REPO / "runs" / f"distillation-gain-{args.ablation}"
    wall = None
    if not args.summarize:
        if args.reuse_generation:
            reuse_generation(args.reuse_generation, run_dir)
        wall = run_pipeline(args.config, run_dir, ABLATIONS[args.ablation] + args.sets)
    return summarize(run_dir, wall)


if __name__ == "__main__":
    raise SystemExit(main())
