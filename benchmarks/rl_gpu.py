"""GRPO and SFT throughput of a Qwen2.5-0.5B-sized model on one CUDA GPU (random weights: no download).

    python benchmarks/rl_gpu.py [--steps 3] [--out /tmp/rl-gpu]      # needs a CUDA GPU; prints numbers
    python benchmarks/rl_gpu.py --tiny --device cpu                   # the same code paths, a tiny model

1. builds a model with Qwen2.5-0.5B's architecture (24 layers, hidden 896, 14 heads / 2 KV heads, vocab
   151,936, tied embeddings) from its config with random weights, bf16, and the packaged tokenizer;
2. ``agentdistill rl``: a few GRPO steps with CodeAct rollouts (generated in-process on the GPU) on the
   arithmetic pool in the local sandbox: steps/s, rollouts/s, generated tokens/s, peak GPU memory, and the
   token-exactness check on the GPU path (every rollout's trained ids == its sampled ids; TRL's
   importance-sampling ratio and sampler/trainer log-prob gap, which bf16 sampling moves away from 1 / 0);
3. ``agentdistill train`` on the rollouts just made (LoRA, then full fine-tuning) against plain TRL
   ``SFTTrainer`` on identical tokenized data: tokens/s and peak GPU memory of each.

Random weights write nonsense, so rewards are mostly zero: the numbers measure speed and memory, not learning.
Nothing else depends on this script, and CI has no GPU.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
QWEN25_05B = dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
                  num_key_value_heads=2, vocab_size=151936, max_position_embeddings=32768, rope_theta=1e6,
                  tie_word_embeddings=True, rms_norm_eps=1e-6)  # fmt: skip
TINY = dict(QWEN25_05B, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, vocab_size=49152)  # fmt: skip


def build_model(out: Path, arch: dict, dtype: str) -> Path:
    """A random-weight Qwen2 model with the packaged model's tokenizer and chat template."""
    import torch
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    from agentdistill.models.weights import local_model_path

    tok = AutoTokenizer.from_pretrained(local_model_path("default"))
    config = Qwen2Config(**arch, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                         pad_token_id=tok.pad_token_id)  # fmt: skip
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config).to(getattr(torch, dtype))
    model.generation_config.eos_token_id = tok.eos_token_id
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


def peak_mib() -> float | None:
    import torch

    return torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None


def reset_peak() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def run_grpo(model_dir: Path, out: Path, steps: int, lora: bool) -> dict:
    from agentdistill.agents.config import AgentConfig
    from agentdistill.tasks.config import TaskSetConfig
    from agentdistill.training.grpo import train_rl
    from agentdistill.training.rl_config import RLConfig

    reset_peak()
    cfg = RLConfig(
        student=f"hf:{model_dir}",
        tasks=TaskSetConfig([str(REPO / "configs" / "data" / "arithmetic_pool.jsonl")], domain="math"),
        output_dir=str(out),
        steps=steps,
        group_size=8,
        tasks_per_step=4,
        micro_batch_size=8,
        rewards={"correct": 1.0, "runnable_code": 0.5, "length": 0.5},
        length_budget_tokens=64,
        lora=lora,
        merge=False,
        concurrency=32,
        agent=AgentConfig(
            max_steps=2, max_tokens=128, final_max_tokens=24, use_examples=False, temperature=1.0
        ),
    )
    started = time.perf_counter()
    r = train_rl(cfg)
    wall = time.perf_counter() - started
    return {"steps": r.steps, "steps_per_s": r.steps_per_s, "rollouts_per_s": r.rollouts.rollouts_per_s,
            "generated_tokens_per_s": r.rollouts.tokens_per_s, "peak_gpu_mib": peak_mib(), "wall_s": wall,
            "rollouts": r.rollouts.rollouts, **token_exactness(model_dir, out, cfg.max_length, r.history)}  # fmt: skip


def token_exactness(model_dir: Path, out: Path, max_length: int, history: list[dict]) -> dict:
    """How many rollouts train exactly the ids they sampled, and how far TRL found sampler and trainer apart."""
    from agentdistill.training.base import load_tokenizer
    from agentdistill.training.rollouts import rollout_tokens
    from agentdistill.trajectories.store import iter_trajectories

    tok = load_tokenizer(str(model_dir))
    checked = exact = 0
    for traj in iter_trajectories(out / "rollouts"):
        tokens = rollout_tokens(tok, traj, max_length)
        trained = [t for t, m in zip(tokens.completion_ids, tokens.env_mask, strict=True) if m]
        sampled = [t for m in traj.messages if m.role == "assistant" and m.train and m.tokens is not None
                   and not m.tokens.truncated for t in m.tokens.ids]  # fmt: skip
        checked += 1
        exact += trained == sampled
    ratios = [row.get("sampling/importance_sampling_ratio/mean") for row in history]
    gaps = [row.get("sampling/sampling_logp_difference/max") for row in history]
    return {
        "token_exact_rollouts": f"{exact}/{checked}",
        "importance_ratio_mean_per_step": ratios,
        "sampling_logp_difference_max_per_step": gaps,
    }


def run_agentdistill_sft(model_dir: Path, data: Path, out: Path, lora: bool, steps: int) -> dict:
    from agentdistill.training.config import TrainConfig
    from agentdistill.training.sft import train

    reset_peak()
    cfg = TrainConfig(student=f"hf:{model_dir}", data=[str(data)], output_dir=str(out), lora=lora,
                      max_steps=steps, per_device_batch_size=4, gradient_accumulation_steps=1,
                      gradient_checkpointing=False, max_length=2048, learning_rate=1e-5 if not lora else 2e-4,
                      logging_steps=steps)  # fmt: skip
    r = train(cfg)
    return {
        "tokens_per_s": r.tokens_per_s,
        "peak_gpu_mib": peak_mib(),
        "steps": r.steps,
        "tokens": r.tokens_seen,
    }


def run_plain_trl_sft(model_dir: Path, data: Path, out: Path, lora: bool, steps: int) -> dict:
    """TRL's SFTTrainer on the same tokenized rows (input_ids + labels), same batch and settings."""
    import torch
    from peft import LoraConfig
    from transformers import AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from agentdistill.training.dataset import build_dataset

    reset_peak()
    tok = AutoTokenizer.from_pretrained(model_dir)
    ds, _ = build_dataset(tok, [str(data)], max_length=2048, truncation="truncate")
    bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    args = SFTConfig(output_dir=str(out), max_steps=steps, per_device_train_batch_size=4, bf16=bf16,
                     learning_rate=1e-5 if not lora else 2e-4, logging_steps=steps, save_strategy="no",
                     report_to=["none"], max_length=2048,
                     model_init_kwargs={"dtype": "bfloat16" if (bf16 and lora) else "float32"})  # fmt: skip
    peft = (
        LoraConfig(r=64, lora_alpha=128, target_modules="all-linear", task_type="CAUSAL_LM") if lora else None
    )
    trainer = SFTTrainer(
        model=str(model_dir), args=args, train_dataset=ds, processing_class=tok, peft_config=peft
    )
    started = time.perf_counter()
    trainer.train()
    runtime = time.perf_counter() - started
    tokens = int(getattr(trainer, "_total_train_tokens", 0)) or int(trainer.state.num_input_tokens_seen)
    return {
        "tokens_per_s": tokens / runtime if runtime else 0.0,
        "peak_gpu_mib": peak_mib(),
        "tokens": tokens,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=3, help="GRPO steps")
    ap.add_argument("--sft-steps", type=int, default=20)
    ap.add_argument("--out", type=Path, default=Path("/tmp/agentdistill-rl-gpu"))
    ap.add_argument(
        "--tiny", action="store_true", help="a 2-layer model (checks the code paths, e.g. on CPU)"
    )
    ap.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    args = ap.parse_args()
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        print("no CUDA GPU here: run this on a GPU machine (or --tiny --device cpu to check the code paths)")
        return 1
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    dtype = "bfloat16" if args.device == "cuda" else "float32"
    model_dir = build_model(args.out / "model", TINY if args.tiny else QWEN25_05B, dtype)
    results: dict = {"device": torch.cuda.get_device_name() if args.device == "cuda" else "cpu",
                     "model": "tiny" if args.tiny else "Qwen2.5-0.5B-sized (random weights)"}  # fmt: skip
    results["grpo_full"] = run_grpo(model_dir, args.out / "grpo-full", args.steps, lora=False)
    results["grpo_lora"] = run_grpo(model_dir, args.out / "grpo-lora", args.steps, lora=True)
    data = args.out / "grpo-full" / "rollouts"
    for lora in (True, False):
        kind = "lora" if lora else "full"
        ours = run_agentdistill_sft(model_dir, data, args.out / f"sft-{kind}", lora, args.sft_steps)
        plain = run_plain_trl_sft(model_dir, data, args.out / f"trl-{kind}", lora, args.sft_steps)
        results[f"sft_{kind}"] = {"agentdistill": ours, "trl": plain,
                                  "tokens_per_s_ratio": ours["tokens_per_s"] / plain["tokens_per_s"]}  # fmt: skip
    print(json.dumps(results, indent=2))
    (args.out / "results.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
