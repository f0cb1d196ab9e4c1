"""The configuration spine: every stage typed, the whole config validated before anything loads.

A typo or an invalid value anywhere in a pipeline (or eval/generate/train) config fails in seconds,
with file, key path and valid values, and without importing torch: no model can have been loaded.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import time
import types
import typing
from pathlib import Path

import pytest
import yaml

from agentdistill.config import ConfigError, field_default, field_doc, field_docs, from_dict, load_config
from agentdistill.episodes.generate_config import GenerateConfig
from agentdistill.evaluation.config import EvalConfig
from agentdistill.pipeline import PipelineConfig
from agentdistill.training.config import TrainConfig

REPO = Path(__file__).resolve().parents[1]
DEMO = yaml.safe_load((REPO / "configs" / "demo.yaml").read_text())

# Runs the CLI in a fresh interpreter and reports whether torch (hence any model) was ever imported.
PROBE = """
import sys, time
from agentdistill.cli import main
t0 = time.monotonic()
try:
    main(sys.argv[1:])
except SystemExit as e:
    code = e.code
print(f"PROBE exit={code} seconds={time.monotonic() - t0:.2f} torch={'torch' in sys.modules}", file=sys.stderr)
"""


def run_cli(*args: str) -> tuple[int, str, float, bool]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    line = next(ln for ln in proc.stderr.splitlines() if ln.startswith("PROBE"))
    fields = dict(kv.split("=") for kv in line.split()[1:])
    return int(fields["exit"]), proc.stderr, float(fields["seconds"]), fields["torch"] == "True"


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({**data, "run_dir": str(tmp_path / "run")}))
    return path


def edited(path: str, value: object) -> dict:
    """The demo pipeline with one dotted key set (created if missing)."""
    data = yaml.safe_load(yaml.safe_dump(DEMO))
    node = data
    *parents, leaf = path.split(".")
    for p in parents:
        node = node.setdefault(p, {})
    node[leaf] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("train.lora_rank", 8, "bad.yaml.train: unknown key 'lora_rank'; valid keys: student,"),
        ("eval.agent.max_step", 3, "bad.yaml.eval.agent: unknown key 'max_step'"),
        ("eval.max_steps", 3, "bad.yaml.eval: unknown key 'max_steps'"),
    ],
)
def test_a_typo_under_train_or_eval_fails_fast_with_no_model_loaded(tmp_path, path, value, expected):
    config = write(tmp_path, edited(path, value))
    code, stderr, seconds, torch_loaded = run_cli("pipeline", "--config", str(config), "--no-progress")
    assert code == 2 and expected in stderr, stderr
    assert "did you mean" in stderr
    assert seconds < 5 and not torch_loaded
    assert not (tmp_path / "run").exists()  # nothing started


def literal_fields(cls: type, prefix: str = "") -> list[tuple[str, tuple]]:
    """(dotted path, allowed values) of every Literal field reachable from a config class."""
    found = []
    for f in dataclasses.fields(cls):
        tp = typing.get_type_hints(cls)[f.name]
        args = typing.get_args(tp) if typing.get_origin(tp) in (typing.Union, types.UnionType) else (tp,)
        for arg in args:
            if typing.get_origin(arg) is typing.Literal:
                found.append((f"{prefix}{f.name}", typing.get_args(arg)))
            elif dataclasses.is_dataclass(arg):
                found += literal_fields(arg, f"{prefix}{f.name}.")
    return found


PIPELINE_LITERALS = literal_fields(PipelineConfig)


def test_the_walk_finds_literals_in_every_stage():
    paths = {p for p, _ in PIPELINE_LITERALS}
    assert {"generate.agent.reflection", "train.truncation", "eval.benchmarks.source", "eval.role"} <= paths
    assert any(p.startswith("generate.retrieval.") for p in paths)


@pytest.mark.parametrize(("path", "choices"), PIPELINE_LITERALS, ids=[p for p, _ in PIPELINE_LITERALS])
def test_a_bad_literal_anywhere_names_file_key_and_valid_values(tmp_path, path, choices):
    config = write(tmp_path, edited(path, "not-a-choice"))
    started = time.monotonic()
    with pytest.raises(ConfigError) as info:
        load_config(PipelineConfig, config)
    assert time.monotonic() - started < 5
    message = str(info.value)
    assert f"bad.yaml.{path} must be one of" in message and "got 'not-a-choice'" in message
    assert all(repr(c) in message for c in choices)


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("generate.mode", "agnet", "bad.yaml.generate.mode: unknown mode 'agnet'; did you mean 'agent'?"),
        ("eval.mode", "cott", "bad.yaml.eval.mode: unknown mode 'cott'; did you mean 'cot'?"),
        ("generate.sandbox.backend", "dokcer", "unknown sandbox backend 'dokcer'; did you mean 'docker'?"),
        ("eval.sandbox.backend", "locl", "bad.yaml.eval.sandbox.backend: unknown sandbox backend 'locl'"),
        ("generate.teacher.spec", "hff:x", "unknown model spec kind 'hff'; did you mean 'hf'?"),
        (
            "filters",
            ["failed", "dedupe"],
            "bad.yaml.filters[1]: unknown filter 'dedupe'; did you mean 'dedup'?",
        ),
        ("filters", [{"name": "per_task", "kk": 2}], "bad.yaml.filters[0].per_task: unknown key 'kk'"),
        ("generate.agent.tools", ["web_serch"], "unknown host tool 'web_serch'; did you mean 'web_search'?"),
        ("generate.tasks", ["gsm8"], "bad.yaml.generate.tasks[0]: unknown benchmark 'gsm8'"),
        ("eval.benchmarks", ["hotpotqa:trian"], "bad.yaml.eval.benchmarks[0]: task spec 'hotpotqa:trian'"),
        ("train.student", "openai:gpt-4o", "bad.yaml.train.student: cannot train 'openai:gpt-4o'"),
        ("train.merge", True, "bad.yaml.train.merge: merge only applies to LoRA"),
        ("generate.agent.max_steps", 0, "bad.yaml.generate.agent.max_steps: must be >= 1"),
        ("generate.retrieval.mode", "semantic", "bad.yaml.generate.retrieval.mode must be one of"),
        ("eval.concurrency", "8", "bad.yaml.eval.concurrency: expected int, got '8'"),
    ],
)
def test_registry_names_and_cross_stage_rules_are_checked_at_load(tmp_path, path, value, expected):
    with pytest.raises(ConfigError) as info:
        load_config(PipelineConfig, write(tmp_path, edited(path, value)))
    assert expected in str(info.value)


def test_serving_the_student_needs_a_servable_one(tmp_path):
    data = edited("eval.model.serve", {"max_model_len": 2048})
    data["train"]["lora"] = True
    with pytest.raises(ConfigError, match=r"bad\.yaml\.eval\.model\.serve: needs a servable student"):
        load_config(PipelineConfig, write(tmp_path, data))
    data["train"]["merge"] = True
    assert load_config(PipelineConfig, write(tmp_path, data)).eval.model.serve.max_model_len == 2048


def test_the_shipped_configs_load():
    for path in ["configs/demo.yaml", "configs/offline-selfdistill.yaml"]:
        cfg = load_config(PipelineConfig, REPO / path)
        assert cfg.filters and cfg.eval.benchmarks
    for path in sorted((REPO / "configs" / "paper").glob("*.yaml")):
        load_config(TrainConfig, path)


def test_nested_configs_keep_their_parents_defaults():
    # EvalConfig's agent defaults to max_tokens 1024; setting another agent key must not reset it to 512
    cfg = from_dict(EvalConfig, {"agent": {"max_steps": 3}})
    assert (cfg.agent.max_steps, cfg.agent.max_tokens) == (3, 1024)
    assert from_dict(PipelineConfig, {"eval": {"mode": "cot"}}).eval.concurrency == 8


def test_eval_composes_the_parts_configs():
    names = {f.name for f in dataclasses.fields(EvalConfig)}
    assert {"model", "agent", "sandbox", "retrieval"} <= names
    assert not {"sag", "top_k", "index", "max_steps", "max_tokens", "agent_spec"} & names
    gen = {f.name for f in dataclasses.fields(GenerateConfig)}
    assert {"agent", "sandbox", "retrieval"} <= gen


def test_set_options_and_print_config(tmp_path):
    code, stderr, _, torch_loaded = run_cli(
        "eval", "--benchmarks", "gsm8k[:2]", "--set", "agent.max_steps=3", "--set", "sandbox.backend=docker",
        "--set", "retrieval.k=7", "--sag", "2", "--print-config",
    )  # fmt: skip
    assert code == 0 and not torch_loaded, stderr
    proc = subprocess.run(
        [sys.executable, "-m", "agentdistill.cli", "eval", "--benchmarks", "gsm8k[:2]", "--set",
         "agent.max_steps=3", "--set", "sandbox.backend=docker", "--sag", "2", "--print-config"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    printed = yaml.safe_load(proc.stdout)
    assert printed["agent"]["max_steps"] == 3 and printed["agent"]["n_candidates"] == 2
    assert printed["sandbox"]["backend"] == "docker" and printed["benchmarks"]["specs"] == ["gsm8k[:2]"]
    code, stderr, _, _ = run_cli("eval", "--set", "agent.max_stepz=3", "--print-config")
    assert code == 2 and "unknown key 'max_stepz'" in stderr and "did you mean 'max_steps'?" in stderr
    code, stderr, _, _ = run_cli("train", "--set", "lora_r", "--print-config")
    assert code == 2 and "expected KEY.PATH=VALUE" in stderr


def test_help_text_comes_from_the_field_docstrings():
    proc = subprocess.run(
        [sys.executable, "-m", "agentdistill.cli", "eval", "--help"],
        cwd=REPO, capture_output=True, text=True, timeout=120, env={"COLUMNS": "400", "PATH": ""},
    )  # fmt: skip
    text = " ".join(proc.stdout.split())
    doc = " ".join(field_doc(EvalConfig, "agent.n_candidates").replace("``", "").split())
    assert doc and doc[:60] in text
    assert f"(default: {field_default(EvalConfig, 'agent.n_candidates')})" in text
    assert field_docs(TrainConfig)["lora_r"] == "LoRA rank."


def test_index_build_rejects_an_unknown_type_before_embedding(tmp_path):
    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"id": "1", "title": "t", "text": "x"}\n')
    code, stderr, _, torch_loaded = run_cli(
        "index", "build", str(corpus), "--out", str(tmp_path / "idx"), "--index-type", "hnws"
    )
    assert code == 2 and "unknown index type 'hnws'; did you mean 'hnsw'?" in stderr
    assert not torch_loaded and not (tmp_path / "idx").exists()


def test_short_forms_renamed_keys_and_moved_keys():
    from agentdistill.training.rl_config import RLConfig

    cfg = from_dict(GenerateConfig, {"tasks": ["gsm8k[:2]"], "teacher": "hf:some/model"})
    assert cfg.tasks.specs == ["gsm8k[:2]"] and cfg.teacher.spec == "hf:some/model"
    # a flag can set a key of a value the file gave in its short form
    path = REPO / "configs" / "rl-offline.yaml"
    rl = load_config(RLConfig, path, {"student.max_concurrency": 4, "tasks.seed": 3})
    assert (rl.student.spec, rl.student.max_concurrency, rl.tasks.seed) == (
        "hf:runs/offline-selfdistill/student",
        4,
        3,
    )
    with pytest.raises(ConfigError, match=r"unknown key 'serve'.*did you mean 'student.serve'"):
        from_dict(RLConfig, {"serve": {"max_model_len": 1024}})
    with pytest.raises(
        ConfigError, match=r"eval: unknown key 'data_dir'.*did you mean 'benchmarks.data_dir'"
    ):
        from_dict(PipelineConfig, {"eval": {"data_dir": "x"}})
    # Python callers may use the short forms too
    ev = EvalConfig(benchmarks=["gsm8k[:1]"], judge="default")
    assert ev.benchmarks.specs == ["gsm8k[:1]"] and ev.judge.spec == "default"
    assert TrainConfig(student="./my-student").student.spec == "hf:./my-student"


def test_trainers_share_one_base_and_keep_their_own_defaults():
    from agentdistill.training.rl_config import RLConfig
    from agentdistill.training.trainer_config import TrainerConfig

    shared = {f.name for f in dataclasses.fields(TrainerConfig)}
    assert {"student", "lora", "lora_r", "learning_rate", "report_to", "trainer_overrides"} <= shared
    for trainer in (TrainConfig, RLConfig):
        assert issubclass(trainer, TrainerConfig)
        assert field_docs(trainer)["lora_r"] == "LoRA rank."  # documented once, in the base
    assert (
        TrainConfig().lora_r,
        RLConfig().lora_r,
        TrainConfig().learning_rate,
        RLConfig().learning_rate,
    ) == (64, 16, 2e-4, 2e-5)
    with pytest.raises(ConfigError, match="set by RLConfig's own fields"):
        from_dict(RLConfig, {"trainer_overrides": {"temperature": 0.3}})
    with pytest.raises(ConfigError, match=r"agent.seed: must be None for RL"):
        from_dict(RLConfig, {"agent": {"seed": 1}})


def test_schedules_are_transformers_own_and_a_warmup_no_schedule_honours_is_refused():
    from transformers.trainer_utils import SchedulerType

    from agentdistill.training.rl_config import RLConfig
    from agentdistill.training.trainer_config import SCHEDULERS

    assert set(SCHEDULERS) == {s.value for s in SchedulerType}
    for trainer in (TrainConfig, RLConfig):
        with pytest.raises(
            ConfigError, match=r"lr_scheduler_type: unknown schedule 'cosinus'; one of linear"
        ):
            from_dict(trainer, {"lr_scheduler_type": "cosinus"})
        with pytest.raises(
            ConfigError, match=r"warmup_ratio: 'constant' ignores warmup.*constant_with_warmup"
        ):
            from_dict(trainer, {"lr_scheduler_type": "constant", "warmup_ratio": 0.2})
        assert from_dict(
            trainer, {"lr_scheduler_type": "constant_with_warmup", "warmup_ratio": 0.2}
        ).warmup_ratio
