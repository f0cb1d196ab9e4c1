"""Spec parsing and input validation: every bad input is a one-line error saying what to do."""

import subprocess
import sys

import pytest

from agentdistill.models import (
    GenerationParams,
    ModelInputError,
    ModelSpecError,
    load_chat_model,
    parse_model_spec,
)
from agentdistill.models.base import normalize_messages, truncate_at_stop
from agentdistill.schema import Message


@pytest.mark.parametrize(
    ("spec", "kind", "target", "urls"),
    [
        ("default", "default", "", ()),
        ("hf:/models/qwen", "hf", "/models/qwen", ()),
        ("hf:Qwen/Qwen2.5-0.5B-Instruct", "hf", "Qwen/Qwen2.5-0.5B-Instruct", ()),
        ("openai:gpt-4o-mini", "openai", "gpt-4o-mini", ()),
        ("openai:Qwen/Qwen2.5-32B@http://h:8000/v1", "openai", "Qwen/Qwen2.5-32B", ("http://h:8000/v1",)),
        ("openai:m@http://a:1/v1,http://b:2/v1", "openai", "m", ("http://a:1/v1", "http://b:2/v1")),
        ("langchain:my.mod:factory", "langchain", "my.mod:factory", ()),
    ],
)
def test_parse_valid(spec, kind, target, urls):
    parsed = parse_model_spec(spec)
    assert (parsed.kind, parsed.target, parsed.base_urls) == (kind, target, urls)
    assert str(parsed) == spec


@pytest.mark.parametrize("spec", ["", "gpt4", "hf:", "openai:", "langchain:nocolon", "vllm:x"])
def test_parse_invalid_lists_valid_forms(spec):
    with pytest.raises(ModelSpecError) as e:
        parse_model_spec(spec)
    msg = str(e.value)
    assert "default | hf:" in msg and "openai:<model>@<base_url>" in msg and "\n" not in msg


def test_langchain_spec_errors():
    with pytest.raises(ModelSpecError, match="cannot import module 'no_such_mod_xyz'"):
        load_chat_model("langchain:no_such_mod_xyz:model")
    with pytest.raises(ModelSpecError, match="has no attribute 'nope'"):
        load_chat_model("langchain:json:nope")
    with pytest.raises(ModelSpecError, match="not a langchain_core BaseChatModel"):
        load_chat_model("langchain:json:JSONDecoder")


@pytest.mark.parametrize(
    ("messages", "pattern"),
    [
        ("hello", "messages must be a list"),
        ([], "messages is empty"),
        ([{"role": "robot", "content": "x"}], r"messages\[0\]: role must be one of system, user, assistant"),
        ([{"role": "user"}], r"messages\[0\]: 'content' must be a string, got NoneType"),
        ([{"role": "user", "content": "a"}, "b"], r"messages\[1\]: expected a dict"),
    ],
)
def test_malformed_messages(messages, pattern):
    with pytest.raises(ModelInputError, match=pattern):
        normalize_messages(messages)


def test_continue_final_needs_assistant_last():
    msgs = [Message(role="user", content="hi")]
    assert normalize_messages(msgs) == [{"role": "user", "content": "hi"}]
    with pytest.raises(ModelInputError, match="last message to be the partial assistant message"):
        normalize_messages(msgs, continue_final=True)


def test_generation_params_validation():
    assert GenerationParams(stop="x").stop == ("x",)
    for bad in ({"n": 0}, {"temperature": -1}, {"top_p": 0}, {"max_tokens": 0}, {"stop": [""]}):
        with pytest.raises(ModelInputError):
            GenerationParams(**bad)


def test_truncate_at_stop_picks_earliest():
    assert truncate_at_stop("abc<end_code>def Observation: x", ["Observation:", "<end_code>"]) == (
        "abc",
        True,
    )
    assert truncate_at_stop("abc", ["z"]) == ("abc", False)


def test_cli_unknown_spec_is_one_line_error():
    proc = subprocess.run(
        [sys.executable, "-m", "agentdistill.cli", "models", "chat", "gpt4", "hi"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error: unknown model spec 'gpt4'; valid forms:")
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def test_the_cpu_build_gets_float32_and_every_core_on_a_small_avx2_machine(monkeypatch, tmp_path):
    from agentdistill.models import serve

    server = serve.VLLMServer(str(tmp_path), python=sys.executable, cpu=True, port=1)
    monkeypatch.setattr(serve, "cpu_has_native_bf16", lambda: False)
    monkeypatch.setattr(serve.os, "cpu_count", lambda: 2)
    monkeypatch.delenv("VLLM_CPU_OMP_THREADS_BIND", raising=False)
    cmd = server.command()
    assert cmd[cmd.index("--dtype") + 1] == "float32"
    env = server.environment()
    assert env["VLLM_CPU_OMP_THREADS_BIND"] == "0-1" and env["VLLM_CPU_NUM_OF_RESERVED_CPU"] == "0"
    monkeypatch.setattr(serve, "cpu_has_native_bf16", lambda: True)
    assert "--dtype" not in server.command()  # native bf16: vLLM's own choice
    explicit = serve.VLLMServer(
        str(tmp_path), python=sys.executable, cpu=True, port=1, extra_args=["--dtype", "bfloat16"]
    )
    monkeypatch.setattr(serve, "cpu_has_native_bf16", lambda: False)
    assert explicit.command().count("--dtype") == 1  # the user's choice wins


def test_per_kind_rules_live_in_the_kind_registry(tmp_path):
    from agentdistill.fingerprints import model_identity
    from agentdistill.models.config import ModelConfig
    from agentdistill.models.kinds import MODEL_KINDS, ModelKind
    from agentdistill.models.loading import backend_options
    from agentdistill.models.weights import local_model_path

    weights = tmp_path / "w"
    weights.mkdir()
    (weights / "config.json").write_text("{}")
    MODEL_KINDS.register(
        "mine",
        ModelKind(
            load="tests.evaluation.scripted:ScriptedChatModel",
            local=True,
            options=lambda config: {"batch": config.max_concurrency},
            weights=lambda spec: str(weights),
            identity=lambda spec: {"mine": spec.target},
        ),
    )
    try:
        spec = parse_model_spec("mine:v1")
        assert spec.is_local and str(spec) == "mine:v1"
        assert local_model_path("mine:v1", purpose="trained") == str(weights)
        assert backend_options(ModelConfig("mine:v1", max_concurrency=3)) == {"batch": 3}
        assert model_identity("mine:v1") == {"mine": "v1"}
    finally:
        MODEL_KINDS.unregister("mine")
    assert model_identity("openai:m@http://h:1/v1") == {"kind": "openai", "model": "m"}
    with pytest.raises(ModelSpecError, match="not a local model"):
        local_model_path("openai:m@http://h:1/v1")
    with pytest.raises(ModelSpecError, match="takes nothing after it"):
        parse_model_spec("default:x")
