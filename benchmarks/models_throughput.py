"""Generation throughput of the chat-model backends on the default model.

    python benchmarks/models_throughput.py [--repeats 3] [--max-tokens 64] [--openai-spec SPEC]

Measures tokens/s (generated tokens over wall time, median of --repeats runs) for
  * hf:      8 prompts one at a time (batch 1) vs the same 8 in one batch (batch 8);
  * openai:  8 requests one at a time (concurrency 1) vs 8 in flight (concurrency 8), against a local
             vLLM CPU server started here with `agentdistill serve` machinery (or --openai-spec);
and prints the batch-8 / batch-1 ratios. Not part of the test run.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from agentdistill.models import GenerationParams, load_chat_model
from agentdistill.models.base import ChatModel

PROMPTS = [
    "Explain why the sky is blue.",
    "Write a short story about a robot learning to paint.",
    "List the planets of the solar system with one fact each.",
    "Describe how a bicycle works.",
    "What are the benefits of regular exercise?",
    "Explain photosynthesis to a ten-year-old.",
    "Give three tips for learning a new language.",
    "Describe the water cycle.",
]


def measure(fn, repeats: int) -> tuple[float, int]:
    """Median tokens/s over repeats (and the token count of the last run)."""
    rates, tokens = [], 0
    for _ in range(repeats):
        start = time.perf_counter()
        tokens = fn()
        rates.append(tokens / (time.perf_counter() - start))
    return statistics.median(rates), tokens


def bench(model: ChatModel, params: GenerationParams, repeats: int, label: str) -> dict[str, float]:
    convs = [[{"role": "user", "content": p}] for p in PROMPTS]

    def one_at_a_time() -> int:
        return sum(model.generate(c, params).completion_tokens for c in convs)

    def all_at_once() -> int:
        async def run():
            return await asyncio.gather(*(model.agenerate(c, params) for c in convs))

        from agentdistill.models.base import run_sync

        return sum(r.completion_tokens for r in run_sync(run()))

    model.generate(convs[0], params.replace(max_tokens=4))  # warm-up
    r1, t1 = measure(one_at_a_time, repeats)
    r8, t8 = measure(all_at_once, repeats)
    print(f"{label:<8} 1 at a time: {r1:8.1f} tok/s ({t1} tokens)   8 at once: {r8:8.1f} tok/s ({t8} tokens)   "
          f"ratio {r8 / r1:5.2f}x")  # fmt: skip
    return {"one": r1, "eight": r8}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--openai-spec", help="use this server instead of starting a local vLLM")
    ap.add_argument("--skip-openai", action="store_true")
    args = ap.parse_args()
    params = GenerationParams(max_tokens=args.max_tokens)

    print(f"greedy, max_tokens={args.max_tokens}, median of {args.repeats} runs, {len(PROMPTS)} prompts")
    hf = load_chat_model("default")
    hf_rates = bench(hf, params, args.repeats, "hf")
    del hf

    if args.skip_openai:
        return
    if args.openai_spec:
        model = load_chat_model(args.openai_spec)
        oa_rates = bench(model, params, args.repeats, "openai")
    else:
        from agentdistill.models.config import ServeConfig
        from agentdistill.models.serve import VLLMServer

        with VLLMServer.for_spec("default", ServeConfig(max_model_len=2048)) as server:
            model = server.chat_model(max_concurrency=8)
            oa_rates = bench(model, params, args.repeats, "openai")
            model.close()
    print(
        f"openai/hf at 1: {oa_rates['one'] / hf_rates['one']:.2f}x   "
        f"openai/hf at 8: {oa_rates['eight'] / hf_rates['eight']:.2f}x"
    )


if __name__ == "__main__":
    main()
