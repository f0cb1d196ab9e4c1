"""The GRPO trainer that skips shared padding scores every real token as TRL's own does."""

from __future__ import annotations

import pytest

from agentdistill.training.padding import trimmed_chunks, trimmed_trainer


def _mask(rows: list[tuple[int, int]], prompt_width: int, completion_width: int):
    """Left-padded prompts and right-padded completions of the given real lengths."""
    import torch

    mask = torch.zeros(len(rows), prompt_width + completion_width, dtype=torch.long)
    for r, (prompt, completion) in enumerate(rows):
        mask[r, prompt_width - prompt : prompt_width + completion] = 1
    return mask


def test_chunks_group_rows_by_length_and_keep_only_the_columns_they_use():
    mask = _mask([(5, 30), (2, 3), (5, 28), (3, 2)], prompt_width=6, completion_width=30)
    chunks = trimmed_chunks(mask, logits_to_keep=30, batch_size=2)
    assert [sorted(idx.tolist()) for idx, _, _ in chunks] == [[1, 3], [0, 2]]  # the two short rows together
    assert [(first, end) for _, first, end in chunks] == [(3, 9), (1, 36)]
    # one chunk (a micro-batch): rows keep their order, columns still cut to what any row uses
    ((idx, first, end),) = trimmed_chunks(mask[[1, 3]], logits_to_keep=30, batch_size=2)
    assert idx.tolist() == [0, 1] and (first, end) == (3, 9)
    # an empty completion everywhere still leaves one column to score
    ((_, first, end),) = trimmed_chunks(_mask([(2, 0)], 4, 5), logits_to_keep=5, batch_size=1)
    assert (first, end) == (2, 5)


@pytest.fixture(scope="module")
def trainer(default_model_dir, tmp_path_factory):
    import datasets
    from transformers import AutoTokenizer
    from trl import GRPOConfig

    tokenizer = AutoTokenizer.from_pretrained(default_model_dir, padding_side="left")
    args = GRPOConfig(
        output_dir=str(tmp_path_factory.mktemp("trimmed")), per_device_train_batch_size=2, num_generations=2,
        report_to=[], use_cpu=True, bf16=False,  # float32 as RL trains on a CPU: bf16 rounds differently per width
    )  # fmt: skip
    return trimmed_trainer()(
        model=str(default_model_dir),
        reward_funcs=lambda completions, **_: [0.0] * len(completions),
        args=args,
        train_dataset=datasets.Dataset.from_list([{"prompt": "2 + 2 ="}] * 2),
        processing_class=tokenizer,
    )


def test_real_tokens_score_as_in_trl_with_gradients(trainer):
    """Rows of very different lengths: TRL's full-width scoring and the trimmed one agree on every real
    completion token (log-probability, entropy and gradient); padding scores 0."""
    import torch
    from trl import GRPOTrainer

    torch.manual_seed(0)
    rows = [(7, 40), (3, 2), (7, 31), (4, 5), (2, 1)]
    prompt_width, completion_width = 8, 40
    mask = _mask(rows, prompt_width, completion_width)
    ids = torch.randint(10, 40000, mask.shape).masked_fill(mask == 0, trainer.processing_class.pad_token_id)
    real = mask[:, prompt_width:].bool()
    model = trainer.model

    def scored(method):
        model.zero_grad()
        logps, entropies, _ = method(model, ids, mask, completion_width, batch_size=2, compute_entropy=True)
        logps[real].sum().backward()
        grad = model.get_input_embeddings().weight.grad.clone()
        return logps, entropies, grad

    full = scored(lambda *a, **k: GRPOTrainer._get_per_token_logps_and_entropies(trainer, *a, **k))
    trimmed = scored(trainer._get_per_token_logps_and_entropies)
    assert trimmed[0].shape == full[0].shape == (5, completion_width)
    torch.testing.assert_close(trimmed[0][real], full[0][real], atol=2e-4, rtol=1e-4)
    torch.testing.assert_close(trimmed[1][real], full[1][real], atol=2e-4, rtol=1e-4)
    torch.testing.assert_close(trimmed[2], full[2], atol=1e-4, rtol=1e-3)
    assert (trimmed[0][~real] == 0).all()
