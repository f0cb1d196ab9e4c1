"""Score GRPO batches without the padding every row of a chunk shares.

TRL pads a step's rollouts to the longest one (prompts on the left, completions on the right) and runs the
policy over that full width twice: once without gradients for the old log-probabilities (the whole step, in
chunks of the micro-batch size) and once per micro-batch for the loss. Agent episodes vary a lot in length
(one step of 40 tokens or two steps and a forced answer of 400), so on a CPU most of a step's training time
can go to padding. :func:`trimmed_trainer` returns TRL's trainer with one method changed: each chunk is
scored without the columns that are padding in all of its rows, its rows sorted by length first when the
call covers more rows than one chunk (the no-gradient pass), and the results are put back in the caller's
order and width (zeros where a row is padding, which every caller masks). A model with rotary positions
scores the same tokens the same (a shift of every position changes nothing); nothing else changes.
"""

from __future__ import annotations

import functools
from typing import Any


def trimmed_chunks(attention_mask: Any, logits_to_keep: int, batch_size: int) -> list[tuple[Any, int, int]]:
    """``(rows, first column, last column + 1)`` per chunk of at most ``batch_size`` rows, rows grouped by
    their number of real tokens, columns cut to the span any row of the chunk uses. At least the last
    prompt column and the first completion column stay, so the scored width is never empty."""
    import torch

    rows = attention_mask.size(0)
    order = (
        torch.argsort(attention_mask.sum(1), stable=True)
        if rows > batch_size
        else torch.arange(rows, device=attention_mask.device)
    )
    prompt_width = attention_mask.size(1) - logits_to_keep
    chunks = []
    for start in range(0, rows, batch_size):
        idx = order[start : start + batch_size]
        used = attention_mask[idx].any(0).nonzero().flatten()
        first = min(int(used[0]), prompt_width - 1) if used.numel() else prompt_width - 1
        end = max(int(used[-1]) + 1, prompt_width + 1) if used.numel() else prompt_width + 1
        chunks.append((idx, max(first, 0), end))
    return chunks


@functools.cache
def trimmed_trainer() -> type:
    """``trl.GRPOTrainer`` whose policy scoring skips shared padding (see the module's docstring); one class
    per process."""
    import torch
    import torch.nn.functional as F
    from trl import GRPOTrainer

    class PaddingTrimmedGRPOTrainer(GRPOTrainer):
        def _get_per_token_logps_and_entropies(
            self,
            model: Any,
            input_ids: Any,
            attention_mask: Any,
            logits_to_keep: int,
            batch_size: int | None = None,
            compute_entropy: bool = False,
            compute_aux_loss: bool = False,
            **extra: Any,
        ) -> tuple[Any, Any, Any]:
            if compute_aux_loss or any(v is not None for v in extra.values()):  # images, MoE: TRL's own way
                return super()._get_per_token_logps_and_entropies(
                    model, input_ids, attention_mask, logits_to_keep, batch_size, compute_entropy,
                    compute_aux_loss, **extra,
                )  # fmt: skip
            batch_size = batch_size or input_ids.size(0)
            prompt_width = input_ids.size(1) - logits_to_keep
            logps, entropies, order = [], [], []
            for idx, first, end in trimmed_chunks(attention_mask, logits_to_keep, batch_size):
                kept = end - prompt_width
                lp, ent, _ = super()._get_per_token_logps_and_entropies(
                    model, input_ids[idx, first:end], attention_mask[idx, first:end], kept,
                    compute_entropy=compute_entropy,
                )  # fmt: skip
                logps.append(F.pad(lp, (0, logits_to_keep - kept)))
                if compute_entropy:
                    entropies.append(F.pad(ent, (0, logits_to_keep - kept)))
                order.append(idx)
            back = torch.argsort(torch.cat(order)).to(input_ids.device)
            return (
                torch.cat(logps)[back],
                torch.cat(entropies)[back] if compute_entropy else None,
                None,
            )

    return PaddingTrimmedGRPOTrainer
