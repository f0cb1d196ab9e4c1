"""TRL SFT on the default model: the loss sees only our labels; LoRA and full training learn; outputs load.

Kept small (short CoT-format examples, a few steps) so the file runs in a few minutes on 2 CPU cores.
"""

from __future__ import annotations

import math

import pytest
import torch

from agentdistill.training.base import merge_adapter
from agentdistill.training.config import TrainConfig
from agentdistill.training.dataset import build_dataset
from agentdistill.training.masking import IGNORE_INDEX
from agentdistill.training.sft import TOKENIZED_DIR, accumulation_steps, build_trainer, train

pytestmark = pytest.mark.slow


def tiny_config(data, out, **kw) -> TrainConfig:
    """A few deterministic steps on one repeated batch: constant LR, no warmup, no dropout."""
    base = {
        "data": [str(data)],
        "output_dir": str(out),
        "max_steps": 3,
        "per_device_batch_size": 3,
        "gradient_accumulation_steps": 1,
        "max_length": 160,
        "learning_rate": 1e-3,
        "lr_scheduler_type": "constant",
        "warmup_ratio": 0.0,
        "lora_r": 8,
        "lora_alpha": 16,
        "lora_dropout": 0.0,
        "gradient_checkpointing": False,
        "logging_steps": 1,
        "trainer_overrides": {"disable_tqdm": True},
    }
    base.update(kw)
    return TrainConfig(**base)


class Recorder:
    """Trainer callback: parameter snapshots at the start and end, and every logged loss."""

    def __init__(self):
        from transformers import TrainerCallback

        rec = self

        class _CB(TrainerCallback):
            def on_train_begin(self, args, state, control, model=None, **kw):
                rec.before = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}

            def on_train_end(self, args, state, control, model=None, **kw):
                rec.after = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}

            def on_log(self, args, state, control, logs=None, **kw):
                if logs and "loss" in logs:
                    rec.losses.append(float(logs["loss"]))

        self.callback = _CB()
        self.losses: list[float] = []

    def unchanged(self) -> list[str]:
        return [n for n, p in self.before.items() if torch.equal(p, self.after[n])]


def test_trainer_loss_covers_exactly_the_labelled_tokens(
    chatml_tokenizer, default_model_dir, agent_data, tmp_path
):
    """TRL keeps our labels as they are, and its loss equals a hand-computed mean over labelled tokens."""
    ds, _ = build_dataset(chatml_tokenizer, [str(agent_data)], max_length=320)
    cfg = tiny_config(agent_data, tmp_path / "unused", lora=False, max_length=320)
    trainer = build_trainer(cfg, ds, chatml_tokenizer, str(default_model_dir))
    assert trainer.train_dataset["labels"] == ds["labels"]  # untouched by TRL's preparation

    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(len(ds))])
    for row, labels in zip(batch["labels"].tolist(), ds["labels"], strict=True):
        assert row[: len(labels)] == labels and set(row[len(labels) :]) <= {IGNORE_INDEX}

    model = trainer.model.eval()
    with torch.no_grad():
        trl_loss = trainer.compute_loss(model, dict(batch)).item()
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    shift_logits, shift_labels = logits[:, :-1].float(), batch["labels"][:, 1:]
    expected = torch.nn.functional.cross_entropy(
        shift_logits.reshape(-1, shift_logits.size(-1)), shift_labels.reshape(-1), ignore_index=IGNORE_INDEX
    ).item()
    assert math.isclose(trl_loss, expected, rel_tol=1e-4)
    # and it is not the loss over every token
    everything = torch.nn.functional.cross_entropy(
        shift_logits.reshape(-1, shift_logits.size(-1)),
        batch["input_ids"][:, 1:].masked_fill(batch["attention_mask"][:, 1:] == 0, IGNORE_INDEX).reshape(-1),
        ignore_index=IGNORE_INDEX,
    ).item()
    assert not math.isclose(trl_loss, everything, rel_tol=1e-2)


def test_lora_training_changes_every_adapter_weight_saves_reloads_and_merges(
    chatml_tokenizer, default_model_dir, cot_data, tmp_path
):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from agentdistill.models import load_chat_model

    out = tmp_path / "lora"
    rec = Recorder()
    result = train(tiny_config(cot_data, out, max_steps=4), callbacks=[rec.callback])

    assert result.lora and not result.merged and result.steps == 4
    assert result.data.used == 3 and result.trainable_params < result.total_params / 10
    assert rec.before and all("lora_" in n for n in rec.before)
    assert rec.unchanged() == []
    assert rec.losses[-1] < rec.losses[0]
    assert result.final_loss == pytest.approx(rec.losses[-1])
    for f in ("adapter_config.json", "adapter_model.safetensors", "tokenizer.json", "chat_template.jinja"):
        assert (out / f).is_file(), f
    assert (out / "training_summary.json").is_file()
    assert not (out / TOKENIZED_DIR).exists()  # the run's tokenized cache is gone

    # the saved adapter reloads with the trained weights
    base = AutoModelForCausalLM.from_pretrained(default_model_dir, dtype=torch.float32)
    reloaded = PeftModel.from_pretrained(base, str(out)).eval()
    params = dict(reloaded.named_parameters())
    for name, trained in rec.after.items():
        key = name if name in params else name.replace(".default.", ".")
        match = [p for n, p in params.items() if n.replace(".default", "") == key.replace(".default", "")]
        assert match and torch.allclose(match[0], trained), name

    # merging folds it into plain weights that compute the same function
    merged_dir = merge_adapter(default_model_dir, out, tmp_path / "merged", dtype=torch.float32)
    merged = AutoModelForCausalLM.from_pretrained(merged_dir, dtype=torch.float32).eval()
    assert not (merged_dir / "adapter_config.json").exists()
    ids = chatml_tokenizer("What is the sum of the divisors of 77?", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        assert torch.allclose(reloaded(input_ids=ids).logits, merged(input_ids=ids).logits, atol=1e-4)

    # and the student answers through the agent model interface, as adapter and as merged model
    for path in (out, merged_dir):
        model = load_chat_model(f"hf:{path}")
        reply = model.generate([{"role": "user", "content": "What is 2 + 2?"}], max_tokens=8)
        assert reply.completions[0].text.strip()


def test_full_finetuning_with_gradient_checkpointing_changes_every_weight(
    default_model_dir, cot_data, tmp_path
):
    from agentdistill.models import load_chat_model

    out = tmp_path / "full"
    rec = Recorder()
    cfg = tiny_config(cot_data, out, lora=False, learning_rate=5e-5, gradient_checkpointing=True)
    result = train(cfg, callbacks=[rec.callback])

    assert not result.lora and result.trainable_params == result.total_params
    assert len(rec.before) > 20 and rec.unchanged() == []
    assert rec.losses[-1] < rec.losses[0]
    assert (out / "model.safetensors").is_file() and (out / "chat_template.jinja").is_file()
    reply = load_chat_model(f"hf:{out}").generate([{"role": "user", "content": "Hi"}], max_tokens=8)
    assert reply.completions[0].text.strip()


def test_packing_keeps_the_masks(chatml_tokenizer, default_model_dir, cot_data, tmp_path):
    """Packed rows carry each example's labels with its tokens (no label crosses into another example)."""
    ds, stats = build_dataset(chatml_tokenizer, [str(cot_data)], max_length=512)
    cfg = tiny_config(cot_data, tmp_path / "packed", packing=True, max_length=512, max_steps=1)
    trainer = build_trainer(cfg, ds, chatml_tokenizer, str(default_model_dir))
    packed = trainer.train_dataset
    assert len(packed) < len(ds)  # three short examples share one row
    packed_labels = [t for row in packed["labels"] for t in row if t != IGNORE_INDEX]
    assert sorted(packed_labels) == sorted(t for row in ds["labels"] for t in row if t != IGNORE_INDEX)
    assert sum(len(r) for r in packed["input_ids"]) == stats.tokens
    trainer.train()
    assert trainer.state.global_step == 1


def test_effective_batch_size_divides_over_processes():
    cfg = TrainConfig(data=["x"], output_dir="y", per_device_batch_size=1, effective_batch_size=8)
    assert [accumulation_steps(cfg, n) for n in (1, 2, 4, 8)] == [8, 4, 2, 1]
    from agentdistill.config import ConfigError

    with pytest.raises(ConfigError, match="not a multiple"):
        accumulation_steps(cfg, 3)
