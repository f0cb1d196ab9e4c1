"""The shipped recipes: paper hyper-parameters per student size, and accelerate configs that parse."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from agentdistill.config import load_config
from agentdistill.training.config import TrainConfig
from agentdistill.training.sft import accumulation_steps

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
SIZES = {"0.5b": "0.5B", "1.5b": "1.5B", "3b": "3B", "7b": "7B"}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize(("kind", "max_length"), [("agent", 10240), ("cot", 4096)])
def test_paper_recipe(size, kind, max_length):
    path = CONFIGS / "paper" / f"qwen2.5-{size}-{kind}.yaml"
    cfg = load_config(TrainConfig, path, {"data": ["trajectories/"], "output_dir": "students/x"})
    cfg.validate()
    assert cfg.student.spec == f"hf:Qwen/Qwen2.5-{SIZES[size]}-Instruct"
    assert (cfg.lora, cfg.lora_r, cfg.lora_alpha, cfg.lora_dropout) == (True, 64, 128, 0.05)
    assert cfg.lora_target_modules == "all-linear"
    assert cfg.learning_rate == 2e-4 and cfg.epochs == 2
    assert cfg.max_length == max_length
    for gpus in (1, 2, 4, 8):  # effective batch 8 whatever the number of GPUs
        assert cfg.per_device_batch_size * gpus * accumulation_steps(cfg, gpus) == 8


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("ddp", "MULTI_GPU"),
        ("fsdp", "FSDP"),
        ("deepspeed_zero2", "DEEPSPEED"),
        ("deepspeed_zero3", "DEEPSPEED"),
    ],
)
def test_accelerate_configs(name, kind):
    data = yaml.safe_load((CONFIGS / "accelerate" / f"{name}.yaml").read_text())
    assert data["distributed_type"] == kind
    assert data["mixed_precision"] == "bf16" and data["num_machines"] == 1
    if kind == "DEEPSPEED":
        assert data["deepspeed_config"]["zero_stage"] == int(name[-1])
    if kind == "FSDP":
        assert data["fsdp_config"]["fsdp_state_dict_type"] == "FULL_STATE_DICT"


def test_accelerate_configs_load_in_accelerate():
    """accelerate itself accepts every file (its own config class, as `accelerate launch` reads it)."""
    from accelerate.commands.config.config_args import load_config_from_file

    for path in sorted((CONFIGS / "accelerate").glob("*.yaml")):
        cfg = load_config_from_file(str(path))
        assert cfg.num_processes == 8, path
