"""How much GRPO training time the padding trim saves: TRL's full-width scoring vs the trimmed one, paired.

    python benchmarks/rl_padding.py [--rollouts runs/rl-offline/rl/rollouts] [--model hf:<policy dir>]
                                    [--steps 1,3,5] [--micro-batch 4] [--repeats 2]

Replays saved GRPO steps (the rollouts ``agentdistill rl`` wrote, e.g. by ``benchmarks/rl_offline.py``):
each step's rollouts become TRL's padded batch exactly as in training (prompts padded on the left,
completions on the right, to the step's longest), then both ways of scoring run the same work a training
step does on it: the no-gradient pass over all rollouts in chunks of ``--micro-batch`` (the old
log-probabilities), then forward and backward per micro-batch (the same seeded split for both). ``trl`` is
``GRPOTrainer._get_per_token_logps_and_entropies``; ``trimmed`` is agentdistill's
(:mod:`agentdistill.training.padding`). Variants alternate (which runs first swaps every step and repeat).

Steps are numbered as in the rollout records (from 0; TRL's logs count from 1). Prints per step the rollouts, real and padded tokens, the median seconds of each variant and their ratio,
the largest log-probability difference on real tokens (float32: ~1e-5), and the median ratio over steps.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def step_batches(rollouts: Path, tokenizer, max_length: int) -> dict[int, list]:
    """Each step's rollouts as :class:`RolloutTokens`, in the order they were played."""
    from agentdistill.training.rollouts import rollout_tokens
    from agentdistill.trajectories.store import iter_trajectories

    steps: dict[int, list] = {}
    for traj in iter_trajectories(rollouts):
        rl = traj.metadata.get("rl")
        if rl is not None:
            steps.setdefault(int(rl["step"]), []).append(rollout_tokens(tokenizer, traj, max_length))
    return steps


def padded(batch: list, pad_id: int):
    """TRL's layout: ``(input_ids, attention_mask, logits_to_keep, real completion mask)``."""
    import torch

    prompt_width = max(len(t.prompt_ids) for t in batch)
    width = max(len(t.completion_ids) for t in batch)
    ids = torch.full((len(batch), prompt_width + width), pad_id)
    mask = torch.zeros_like(ids)
    for r, t in enumerate(batch):
        p, c = len(t.prompt_ids), len(t.completion_ids)
        ids[r, prompt_width - p : prompt_width] = torch.tensor(t.prompt_ids)
        ids[r, prompt_width : prompt_width + c] = torch.tensor(t.completion_ids)
        mask[r, prompt_width - p : prompt_width + c] = 1
    return ids, mask, width, mask[:, prompt_width:].bool()


def train_step_work(score, model, ids, mask, keep, real, micro: int, seed: int) -> tuple[float, object]:
    """Seconds for a step's scoring work, and the no-gradient log-probabilities."""
    import torch

    started = time.perf_counter()
    with torch.no_grad():
        old, _, _ = score(model, ids, mask, keep, batch_size=micro)
    split = torch.randperm(ids.size(0), generator=torch.Generator().manual_seed(seed))
    for start in range(0, ids.size(0), micro):
        rows = split[start : start + micro]
        logps, entropies, _ = score(model, ids[rows], mask[rows], keep, compute_entropy=True)
        (logps[real[rows]].sum() + 0 * entropies.sum()).backward()
    model.zero_grad()
    return time.perf_counter() - started, old


def main() -> int:
    import datasets
    import torch
    from transformers import AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    from agentdistill.training import base
    from agentdistill.training.padding import trimmed_trainer

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rollouts", type=Path, default=REPO / "runs" / "rl-offline" / "rl" / "rollouts")
    ap.add_argument("--model", default="hf:runs/offline-selfdistill/student", help="the policy to score with")
    ap.add_argument("--steps", default="", help="comma-separated steps to replay (default: all)")
    ap.add_argument("--micro-batch", type=int, default=4)
    ap.add_argument("--max-length", type=int, default=1536)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    if not args.rollouts.exists():
        sys.exit(f"rl_padding: no rollouts at {args.rollouts}: run `python benchmarks/rl_offline.py` first "
                 "(or pass --rollouts <an rl output dir>/rollouts)")  # fmt: skip
    model_path = str(base.resolve_student(args.model))
    tokenizer = AutoTokenizer.from_pretrained(model_path, padding_side="left")
    steps = step_batches(args.rollouts, tokenizer, args.max_length)
    wanted = [int(s) for s in args.steps.split(",") if s] or sorted(steps)
    if missing := [s for s in wanted if s not in steps]:
        sys.exit(f"rl_padding: steps {missing} are not in {args.rollouts} (it has {sorted(steps)})")
    with tempfile.TemporaryDirectory() as tmp:
        config = GRPOConfig(output_dir=tmp, per_device_train_batch_size=2, num_generations=2, report_to=[],
                            use_cpu=not torch.cuda.is_available(), bf16=False)  # fmt: skip
        trainer = trimmed_trainer()(
            model=model_path,
            reward_funcs=lambda completions, **_: [0.0] * len(completions),
            args=config,
            train_dataset=datasets.Dataset.from_list([{"prompt": "1 + 1 ="}] * 2),
            processing_class=tokenizer,
        )
    model = trainer.model
    model.train()
    variants = {
        "trl": lambda *a, **k: GRPOTrainer._get_per_token_logps_and_entropies(trainer, *a, **k),
        "trimmed": trainer._get_per_token_logps_and_entropies,
    }
    print(f"{'step':>4s} {'rollouts':>8s} {'real tok':>9s} {'padded tok':>10s} {'trl s':>7s} {'trimmed s':>9s} "
          f"{'ratio':>6s} {'max |dlogp|':>11s}")  # fmt: skip
    ratios = []
    for n, step in enumerate(wanted):
        ids, mask, keep, real = padded(steps[step], tokenizer.pad_token_id)
        seconds: dict[str, list[float]] = {n: [] for n in variants}
        scored = {}
        for repeat in range(args.repeats):
            for name in list(variants)[:: 1 if (n + repeat) % 2 == 0 else -1]:  # order swapped each time
                took, scored[name] = train_step_work(variants[name], model, ids, mask, keep, real,
                                                     args.micro_batch, seed=step)  # fmt: skip
                seconds[name].append(took)
        trl_s, trimmed_s = (statistics.median(seconds[n]) for n in variants)
        gap = (scored["trl"][real] - scored["trimmed"][real]).abs().max().item()
        ratios.append(trimmed_s / trl_s)
        print(f"{step:4d} {ids.size(0):8d} {int(mask.sum()):9d} {mask.numel():10d} {trl_s:7.1f} {trimmed_s:9.1f} "
              f"{trimmed_s / trl_s:6.2f} {gap:11.2e}")  # fmt: skip
    print(
        f"median trimmed/trl time over {len(ratios)} steps: {statistics.median(ratios):.2f} "
        f"(min {min(ratios):.2f}, max {max(ratios):.2f}); {args.repeats} repeats per step, 2 cores"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
