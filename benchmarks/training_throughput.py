"""Training throughput of ``agentdistill train`` against a plain TRL ``SFTTrainer`` on the same data.

    python benchmarks/training_throughput.py [--repeats 5] [--steps 8] [--batch-size 2] [--max-length 512]
                                             [--student default] [--full] [--examples 32] [--simultaneous]

Builds CodeAct trajectories (MATH-train-style questions, failed steps and reflections), tokenizes them once
with agentdistill's step masks and saves the tokenized dataset. Then, alternating, in fresh processes:
  * agentdistill: the real command, ``python -m agentdistill.cli train --config ... --data <jsonl>``;
  * trl:          ``trl.SFTTrainer`` built by hand (same model, LoRA/full settings, SFTConfig values) on the
                  saved ``input_ids``/``labels`` dataset.
Each run reports tokens/s (non-padding tokens over the time spent in ``trainer.train()``) and peak memory
(the process's max RSS; on CUDA also ``torch.cuda.max_memory_allocated``). Prints the medians, the
agentdistill / trl ratios (target: within 5%), the ratio of each back-to-back pair, and each side's own
run-to-run spread: both sides run the same TRL training loop, so on a shared machine the spread of plain
TRL against itself is the noise floor any difference must clear. Not part of the test run.

By default the two runs of a pair go back to back on the whole machine. On a shared CPU machine whose speed
drifts by 10-15% from minute to minute, ``--simultaneous`` runs each pair at the same time, each process pinned
to its own half of the CPUs (halves swapped every repeat), so both see the same machine: plain TRL against
itself then agrees within about 2%. It measures half-machine throughput; keep runs long (the default 8 steps
take ~90 s) so that the seconds one process spends starting up alone barely count. It refuses a CUDA
machine (the two would share a GPU).

On CPU, peak RSS under glibc's default allocator moves by a few hundred MiB from run to run (its mmap
threshold grows with what the process freed before, so buffers land on a fragmenting heap).
``--malloc-mmap-threshold KIB`` sets ``MALLOC_MMAP_THRESHOLD_`` for both sides, which makes peak RSS
repeatable to a few MiB and so compares the memory the two actually hold (both run slower with it).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

QUESTIONS = [
    ("Simplify $(2-3z) - (3+4z)$.", "-1-7z"),
    (
        "What is the smallest whole number $b$ such that 62 can be expressed in base $b$ using only three digits?",
        "4",
    ),
    ("What is the sum of all positive integer divisors of 77?", "96"),
    ("Evaluate $\\lceil\\sqrt{140}\\rceil$.", "12"),
]


def make_trajectories(n: int) -> list[Any]:
    """n CodeAct episodes of varied length: action, observation, failed step, error, reflection, final."""
    from agentdistill.schema import AgentInfo, Message, Task, Trajectory

    out = []
    for i in range(n):
        q, a = QUESTIONS[i % len(QUESTIONS)]
        loops = 1 + i % 4  # varied lengths, so padding is realistic
        code = "\n".join(
            f"x{j} = sum(k for k in range({j + 2}))\nprint('step', {j}, x{j})" for j in range(loops * 3)
        )
        logs = "\n".join(f"step {j} {sum(range(j + 2))}" for j in range(loops * 3))
        msgs = [
            Message(role="system", content="You solve tasks with Python code. End code with <end_code>.", kind="prompt"),
            Message(role="user", content=f"New task:\n{q}", kind="task"),
            Message(role="assistant", kind="action", train=True,
                    content=f"Thought: I will explore the problem numerically first.\nCode:\n```py\n{code}\n```<end_code>"),
            Message(role="user", kind="observation", content=f"Observation:\nExecution logs:\n{logs}"),
            Message(role="assistant", kind="action", train=False,
                    content="Thought: Now return it.\nCode:\n```py\nfinal_answer(answer)\n```<end_code>"),
            Message(role="user", kind="error", content="Observation:\nNameError: name 'answer' is not defined"),
            Message(role="assistant", kind="reflection", train=True,
                    content=f"Thought: Reflection: I never defined `answer`. I return the value directly.\nCode:\n```py\nfinal_answer('\\\\boxed{{{a}}}')\n```<end_code>"),
            Message(role="user", kind="observation", content=f"Observation:\n\\boxed{{{a}}}"),
            Message(role="assistant", kind="final", train=True, content=f"The answer is \\boxed{{{a}}}."),
        ]  # fmt: skip
        out.append(
            Trajectory(
                id=f"bench-{i}",
                task=Task(id=f"bench-{i}", question=q, answer=a, domain="math", source="MATH/train"),
                agent=AgentInfo(model="bench"),
                messages=msgs,
            )
        )
    return out


def settings(args: argparse.Namespace) -> dict[str, Any]:
    """The TrainConfig fields both runs share."""
    return {
        "student": args.student,
        "lora": not args.full,
        "lora_r": 64,
        "lora_alpha": 128,
        "lora_dropout": 0.05,
        "max_steps": args.steps,
        "per_device_batch_size": args.batch_size,
        "gradient_accumulation_steps": 1,
        "max_length": args.max_length,
        "learning_rate": 2e-4,
        "lr_scheduler_type": "constant",
        "warmup_ratio": 0.0,
        "gradient_checkpointing": args.gradient_checkpointing,
        "logging_steps": 1000,
        "seed": 0,
        "trainer_overrides": {"disable_tqdm": True},
    }


def peak_cuda() -> float | None:
    import torch

    return torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None


def worker_trl(work: Path, result_path: Path) -> None:
    """A plain TRL run: SFTTrainer built by hand from the same settings, on the saved tokenized data."""
    import datasets
    import torch
    from peft import LoraConfig
    from trl import SFTConfig, SFTTrainer

    from agentdistill.training.base import load_tokenizer, resolve_student, use_bf16
    from agentdistill.training.config import TrainConfig

    cfg = TrainConfig(**json.loads((work / "settings.json").read_text()))
    model_path = resolve_student(cfg.student)
    tok = load_tokenizer(model_path)
    ds = datasets.load_from_disk(str(work / "tokenized"))
    bf16 = use_bf16(cfg)
    args = SFTConfig(
        output_dir=str(work / "trl-out"),
        max_steps=cfg.max_steps,
        per_device_train_batch_size=cfg.per_device_batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        learning_rate=cfg.learning_rate,
        lr_scheduler_type=cfg.lr_scheduler_type,
        warmup_steps=0,
        gradient_checkpointing=cfg.gradient_checkpointing,
        bf16=bf16,
        seed=cfg.seed,
        data_seed=cfg.seed,
        logging_steps=cfg.logging_steps,
        save_strategy="no",
        report_to=["none"],
        max_length=cfg.max_length,
        disable_tqdm=True,
        dataloader_pin_memory=torch.cuda.is_available(),
        model_init_kwargs={"dtype": "bfloat16" if (bf16 and cfg.lora) else "float32"},
    )
    peft = (
        LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                   target_modules="all-linear", task_type="CAUSAL_LM")
        if cfg.lora else None
    )  # fmt: skip
    trainer = SFTTrainer(
        model=model_path, args=args, train_dataset=ds, processing_class=tok, peft_config=peft
    )
    start = time.perf_counter()
    trainer.train()
    runtime = time.perf_counter() - start
    tokens = int(trainer._total_train_tokens)
    result_path.write_text(json.dumps({"tokens": tokens, "runtime_s": runtime, "cuda_peak_mib": peak_cuda()}))


class Child:
    """One benchmark run in its own process; ``finish`` waits for it and reads its result."""

    def __init__(self, name: str, cmd: list[str], read: Callable[[], dict[str, Any]], cpus: set[int] | None):
        self.name, self.read = name, read
        env = dict(os.environ)
        if cpus:  # its own CPUs, and as many threads as it has CPUs
            env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(len(cpus))
        # a file, not a pipe: a chatty child cannot block; closed in finish()
        self.log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115
        self.proc = subprocess.Popen(
            cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT, text=True,
            preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
        )  # fmt: skip

    def finish(self) -> dict[str, Any]:
        """Wait; the peak RSS comes from wait4, which reports this child alone."""
        _, status, usage = os.wait4(self.proc.pid, 0)
        code = os.waitstatus_to_exitcode(status)
        self.proc.returncode = code
        with self.log:
            if code != 0:
                self.log.seek(0)
                sys.stderr.write(self.log.read()[-3000:])
                raise SystemExit(f"{self.name} run failed (exit {code})")
        res = self.read()
        res["rss_mib"] = usage.ru_maxrss / 1024  # KiB on Linux
        res["tokens_per_s"] = res["tokens"] / res["runtime_s"]
        return res


def start_agentdistill(work: Path, index: int, cpus: set[int] | None = None) -> Child:
    """The real command, ``python -m agentdistill.cli train``, on the recipe :func:`main` wrote."""
    out = work / f"ad-out-{index}"
    cmd = [sys.executable, "-m", "agentdistill.cli", "train", "--config", str(work / "recipe.yaml"),
           "--data", str(work / "trajectories.jsonl"), "--out", str(out), "--overwrite"]  # fmt: skip

    def read() -> dict[str, Any]:
        res = json.loads((out / "training_summary.json").read_text())["result"]
        return {"tokens": res["tokens_seen"], "runtime_s": res["train_runtime_s"],
                "cuda_peak_mib": res.get("cuda_peak_mib")}  # fmt: skip

    return Child("agentdistill", cmd, read, cpus)


def start_trl(work: Path, index: int, cpus: set[int] | None = None) -> Child:
    """:func:`worker_trl` in a fresh process."""
    result = work / f"trl-{index}.json"
    cmd = [sys.executable, __file__, "--worker-trl", str(work), str(result)]
    return Child("trl", cmd, lambda: json.loads(result.read_text()), cpus)


STARTERS = {"agentdistill": start_agentdistill, "trl": start_trl}


def run_pair(work: Path, index: int, simultaneous: bool) -> dict[str, dict[str, Any]]:
    """One agentdistill run and one TRL run: back to back (order alternating with ``index``), or at the
    same time, each on its own half of the CPUs (halves swapped with ``index``)."""
    names = ["agentdistill", "trl"] if index % 2 == 0 else ["trl", "agentdistill"]
    if not simultaneous:
        return {name: STARTERS[name](work, index).finish() for name in names}
    cpus = sorted(os.sched_getaffinity(0))
    half = len(cpus) // 2
    children = [
        STARTERS[name](work, index, set(part))
        for name, part in zip(names, (cpus[:half], cpus[half : 2 * half]), strict=True)
    ]
    try:
        return {child.name: child.finish() for child in children}
    finally:  # one failed: do not leave the other running
        for child in children:
            if child.proc.returncode is None:
                child.proc.kill()
                child.proc.wait()


def check_simultaneous() -> None:
    """``--simultaneous`` splits the CPUs in two; it cannot split a GPU."""
    import torch

    if torch.cuda.is_available():
        raise SystemExit("--simultaneous is for CPU runs: on this machine the two runs would share a GPU")
    if len(os.sched_getaffinity(0)) < 2:
        raise SystemExit("--simultaneous needs at least 2 CPUs")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--batch-size", type=int, default=2)
    ap.add_argument("--max-length", type=int, default=512)
    ap.add_argument("--examples", type=int, default=32)
    ap.add_argument("--student", default="default")
    ap.add_argument("--full", action="store_true", help="full fine-tuning instead of LoRA")
    ap.add_argument("--gradient-checkpointing", action="store_true")
    ap.add_argument(
        "--malloc-mmap-threshold",
        type=int,
        metavar="KIB",
        help="set glibc's MALLOC_MMAP_THRESHOLD_ for both sides: repeatable peak RSS",
    )
    ap.add_argument(
        "--simultaneous",
        action="store_true",
        help="run each pair at the same time, each pinned to half of the CPUs (cancels machine drift)",
    )
    ap.add_argument("--worker-trl", nargs=2, metavar=("WORKDIR", "RESULT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker_trl:
        worker_trl(Path(args.worker_trl[0]), Path(args.worker_trl[1]))
        return
    if args.simultaneous:
        check_simultaneous()
    if args.malloc_mmap_threshold:  # inherited by both children
        os.environ["MALLOC_MMAP_THRESHOLD_"] = str(args.malloc_mmap_threshold * 1024)

    import yaml

    from agentdistill.schema import write_trajectories
    from agentdistill.training.base import load_tokenizer, resolve_student
    from agentdistill.training.dataset import build_dataset

    with tempfile.TemporaryDirectory(prefix="ad-train-bench-") as tmp:
        work = Path(tmp)
        write_trajectories(work / "trajectories.jsonl", make_trajectories(args.examples))
        (work / "settings.json").write_text(json.dumps(settings(args)))
        (work / "recipe.yaml").write_text(yaml.safe_dump(settings(args)))
        tok = load_tokenizer(resolve_student(args.student))
        ds, stats = build_dataset(tok, [str(work / "trajectories.jsonl")], max_length=args.max_length)
        ds.save_to_disk(str(work / "tokenized"))
        print(f"data: {stats.describe()}; {stats.tokens} tokens ({stats.trained_tokens} trained)")
        mode = "full" if args.full else "LoRA r=64"
        malloc = (
            f", MALLOC_MMAP_THRESHOLD_={args.malloc_mmap_threshold} KiB" if args.malloc_mmap_threshold else ""
        )
        print(
            f"{args.student}, {mode}, {args.steps} steps x batch {args.batch_size}, max_length {args.max_length}"
            + malloc
            + (
                ", pairs run simultaneously on separate CPUs"
                if args.simultaneous
                else ", pairs run back to back"
            )
        )

        runs: dict[str, list[dict[str, Any]]] = {"agentdistill": [], "trl": []}
        for r in range(args.repeats):
            for name, res in run_pair(work, r, args.simultaneous).items():
                runs[name].append(res)
                cuda = f"  CUDA peak {res['cuda_peak_mib']:.0f} MiB" if res.get("cuda_peak_mib") else ""
                print(f"  run {r + 1} {name:12s} {res['tokens_per_s']:8.1f} tokens/s  "
                      f"peak RSS {res['rss_mib']:7.0f} MiB{cuda}  ({res['tokens']} tokens in {res['runtime_s']:.1f} s)",
                      flush=True)  # fmt: skip

    report(runs)


def spread(values: list[float]) -> float:
    """Largest relative distance of a run from the median (0.06 = runs lie within +-6% of it)."""
    mid = statistics.median(values)
    return max(abs(v - mid) for v in values) / mid


def report(runs: dict[str, list[dict[str, Any]]]) -> None:
    """Medians, ratios, paired ratios and the noise floor."""
    ad, trl = runs["agentdistill"], runs["trl"]
    keys = ["tokens_per_s", "rss_mib", "tokens"] + (["cuda_peak_mib"] if trl[0].get("cuda_peak_mib") else [])
    med = {name: {key: statistics.median(r[key] for r in rs) for key in keys} for name, rs in runs.items()}
    ratio_speed = med["agentdistill"]["tokens_per_s"] / med["trl"]["tokens_per_s"]
    ratio_mem = med["agentdistill"]["rss_mib"] / med["trl"]["rss_mib"]
    print(f"median tokens/s  agentdistill {med['agentdistill']['tokens_per_s']:.1f}  trl {med['trl']['tokens_per_s']:.1f}"
          f"  ratio {ratio_speed:.3f}")  # fmt: skip
    print(f"median peak RSS  agentdistill {med['agentdistill']['rss_mib']:.0f} MiB  trl {med['trl']['rss_mib']:.0f} MiB"
          f"  ratio {ratio_mem:.3f}")  # fmt: skip
    if "cuda_peak_mib" in keys:
        ratio_mem = med["agentdistill"]["cuda_peak_mib"] / med["trl"]["cuda_peak_mib"]
        print(f"median CUDA peak agentdistill {med['agentdistill']['cuda_peak_mib']:.0f} MiB  "
              f"trl {med['trl']['cuda_peak_mib']:.0f} MiB  ratio {ratio_mem:.3f}")  # fmt: skip
    pairs = [a["tokens_per_s"] / t["tokens_per_s"] for a, t in zip(ad, trl, strict=True)]
    print(
        f"paired tokens/s ratios  {' '.join(f'{p:.3f}' for p in pairs)}  (median {statistics.median(pairs):.3f})"
    )
    noise = {name: spread([r["tokens_per_s"] for r in rs]) for name, rs in runs.items()}
    rss_noise = {name: spread([r["rss_mib"] for r in rs]) for name, rs in runs.items()}
    print(
        f"run-to-run spread  tokens/s: agentdistill +-{noise['agentdistill']:.1%}, trl +-{noise['trl']:.1%};  "
        f"peak RSS: agentdistill +-{rss_noise['agentdistill']:.1%}, trl +-{rss_noise['trl']:.1%}"
    )
    if med["agentdistill"]["tokens"] != med["trl"]["tokens"]:
        print(
            f"warning: the runs saw different token counts: {med['agentdistill']['tokens']} vs {med['trl']['tokens']}"
        )
    ok = abs(ratio_speed - 1) <= 0.05 and ratio_mem <= 1.05
    print(f"within 5%: {'yes' if ok else 'no'}")
    if noise["trl"] > 0.05 and len(trl) < 7:
        print("note: plain TRL alone varies by more than 5% here; add --repeats for a steadier median")


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    main()
