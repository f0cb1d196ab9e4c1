import pytest

from agentdistill.config import ConfigError, cache_dir, load_config, to_dict
from agentdistill.models.config import ModelConfig


def test_yaml_and_overrides(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text(
        "spec: hf:/models/x\nserve:\n  port: 8001\n  extra_args: [--dtype, bfloat16]\ntimeout_s: 30\n"
    )
    cfg = load_config(ModelConfig, p, {"serve.max_model_len": 2048, "max_concurrency": None})
    assert cfg.spec == "hf:/models/x"
    assert cfg.serve.port == 8001 and cfg.serve.max_model_len == 2048
    assert cfg.serve.extra_args == ["--dtype", "bfloat16"]
    assert cfg.timeout_s == 30.0 and isinstance(cfg.timeout_s, float)
    assert cfg.max_concurrency == 16
    assert to_dict(cfg)["serve"]["port"] == 8001


def test_unknown_key_and_bad_type_name_file_and_key(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("spek: default\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: unknown key 'spek'; valid keys: spec"):
        load_config(ModelConfig, p)
    p.write_text("serve:\n  port: eighty\n")
    with pytest.raises(ConfigError, match=r"c\.yaml\.serve\.port: expected int, got 'eighty'"):
        load_config(ModelConfig, p)
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(ModelConfig, tmp_path / "missing.yaml")


def test_cache_dir_env(monkeypatch, tmp_path):
    monkeypatch.setenv("AGENTDISTILL_CACHE", str(tmp_path))
    assert cache_dir() == tmp_path
    monkeypatch.delenv("AGENTDISTILL_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "agentdistill"


def test_set_null_clears_a_field_a_file_sets(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("serve:\n  port: 8001\n")
    assert load_config(ModelConfig, p).serve is not None
    assert load_config(ModelConfig, p, sets=["serve=null"]).serve is None
    assert load_config(ModelConfig, p, {"serve": None}).serve is not None  # a flag not given changes nothing


def test_exponent_without_dot_reads_as_float_and_words_stay_refused(tmp_path):
    from agentdistill.training.config import TrainConfig

    p = tmp_path / "t.yaml"
    p.write_text("learning_rate: 2e-5\n")  # PyYAML (YAML 1.1) gives the string '2e-5'
    assert load_config(TrainConfig, p).learning_rate == 2e-5
    assert load_config(TrainConfig, p, sets=["learning_rate=1e-4"]).learning_rate == 1e-4
    with pytest.raises(ConfigError, match="learning_rate: expected float, got 'fast'"):
        load_config(TrainConfig, p, sets=["learning_rate=fast"])
