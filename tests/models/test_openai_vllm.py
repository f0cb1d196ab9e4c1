"""The openai: backend against a real vLLM server (CPU build) serving the default model,
started and stopped through `agentdistill serve`."""

from __future__ import annotations

import asyncio
import signal
import socket

import pytest

from agentdistill.models import GenerationParams, load_chat_model, open_chat_model
from agentdistill.models.config import ModelConfig, ServeConfig

from .conftest import COUNTING

pytestmark = [pytest.mark.slow, pytest.mark.vllm]


@pytest.fixture(scope="module")
def vllm_model(served_default):
    model = load_chat_model(served_default.spec)
    yield model
    model.close()


def test_spec_names_the_server(served_default):
    assert served_default.spec == f"openai:default@http://127.0.0.1:{served_default.port}/v1"


def test_n_samples_with_logprobs(vllm_model):
    r = vllm_model.generate(COUNTING, GenerationParams(n=4, temperature=1.0, max_tokens=16, logprobs=True))
    assert len(r.completions) == 4 and len(set(r.texts)) > 1
    for c in r.completions:
        assert c.tokens and 0 < c.tokens <= 16 and c.mean_logprob is not None and c.mean_logprob <= 0
        assert c.finish_reason in ("stop", "length")
    assert r.prompt_tokens and r.prompt_tokens > 10


def test_stop_sequences_are_honoured(vllm_model):
    full = vllm_model.generate(COUNTING, max_tokens=40).text
    assert len(full) > 20, full
    stop = full[12:16]
    stopped = vllm_model.generate(COUNTING, max_tokens=40, stop=[stop])
    assert stopped.text == full[: full.index(stop)]
    assert stopped.completions[0].finish_reason == "stop"


def test_continued_prefix_follows_the_prefix(vllm_model):
    prefix = "Thought: The first ten numbers are 1, 2, 3,"
    r = vllm_model.generate(
        [*COUNTING, {"role": "assistant", "content": prefix}], continue_final=True, max_tokens=12
    )
    assert not r.text.startswith("Thought")  # the reply holds only the continuation
    assert " 4" in r.text[:6], r.text


def test_concurrent_requests(vllm_model):
    async def many():
        return await asyncio.gather(
            *(
                vllm_model.agenerate([{"role": "user", "content": f"Say the number {i}."}], max_tokens=8)
                for i in range(8)
            )
        )

    results = asyncio.run(many())
    assert len(results) == 8 and all(r.text for r in results)


def test_langchain_backend_wraps_a_real_chat_model(served_default):
    from langchain_openai import ChatOpenAI

    from agentdistill.models.langchain_chat import LangChainChatModel

    base_url = served_default.spec.split("@", 1)[1]
    lc = ChatOpenAI(model="default", base_url=base_url, api_key="EMPTY", max_retries=0)
    model = LangChainChatModel(lc)
    r = model.generate(COUNTING, n=2, temperature=1.0, max_tokens=12)
    assert len(r.completions) == 2 and all(c.tokens and c.tokens <= 12 for c in r.completions)
    full = model.generate(COUNTING, max_tokens=40).text
    stop = full[12:16]
    assert model.generate(COUNTING, max_tokens=40, stop=[stop]).text == full[: full.index(stop)]
    assert model.supports_continuation is False


def test_config_can_ask_for_a_served_model():
    """A config with `serve:` starts its own vLLM for the model's lifetime and stops it after."""
    config = ModelConfig(spec="default", serve=ServeConfig(max_model_len=1024))
    with open_chat_model(config) as model:
        assert model.name.startswith("openai:default@http://127.0.0.1:")
        port = int(model.base_urls[0].rsplit(":", 1)[1].split("/")[0])
        assert model.generate(COUNTING, max_tokens=4).completions[0].tokens == 4
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0, "server still listening after the config's scope"


def test_generate_with_first_thought_prefix_and_student_reflection(served_default, tmp_path):
    """The paper's teacher methods against the managed vLLM server: the teacher's cached CoT answer
    starts every episode's first Thought, continued (vLLM's continue_final_message), and the student is
    checked and corrected by the served teacher."""
    import json
    import subprocess
    import sys

    out = tmp_path / "teacher"
    cmd = [sys.executable, "-m", "agentdistill.cli", "generate", "--teacher", served_default.spec,
           "--tasks", "math:train[:2]", "--out", str(out), "--first-thought-prefix",
           "--reflection", "student", "--student", served_default.spec, "--max-steps", "2", "--no-progress",
           "--set", "agent.max_tokens=48", "--set", "agent.use_examples=false",
           "--set", "agent.max_corrections=1"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    records = [
        json.loads(line) for p in sorted(out.glob("part-*.jsonl")) for line in p.read_text().splitlines()
    ]
    assert len(records) == 2 and all(r["status"] != "failed" for r in records), records
    cache = [json.loads(line) for line in (out / "cache" / "first_thoughts.jsonl").read_text().splitlines()]
    assert len(cache) == 2  # one CoT call per task, by the teacher
    assert all(c["agent"]["model"].startswith("openai:default@") for c in cache)
    answers = {c["task"]["id"]: c["messages"][-1]["content"] for c in cache}
    for r in records:
        assert r["metadata"]["prefix_mode"] == "continued"
        prefix = r["first_thought_prefix"]
        cot = answers[r["task"]["id"]]
        assert prefix == cot.lstrip("\n").split("\n\n")[0] + "\n\n"
        first = next(m for m in r["messages"] if m["role"] == "assistant")
        assert first["content"].startswith("Thought: " + prefix)
        assert r["metadata"]["teacher"].startswith("openai:default@")


@pytest.mark.stops_served_default
def test_serve_cli_stops_cleanly_on_ctrl_c(served_default):
    """Last in the session (it stops the shared server): Ctrl-C stops `agentdistill serve` and its vLLM,
    leaving nothing listening."""
    rc = served_default.stop(signal.SIGINT)
    assert rc == 0, "".join(served_default.output[-10:])
    assert any("vLLM stopped" in line for line in served_default.output)
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", served_default.port)) != 0


def test_sampled_tokens_come_back_token_exact(vllm_model, default_model):
    """vLLM returns the ids it sampled with their log-probabilities; they are the hf: backend's greedy ids,
    and a teacher-forced transformers pass gives the same log-probabilities."""
    from .conftest import forward_logprobs

    ours = default_model.generate(COUNTING, max_tokens=24, sampled_tokens=True).completions[0]
    served = vllm_model.generate(COUNTING, max_tokens=24, sampled_tokens=True).completions[0]
    assert served.token_ids == ours.token_ids and served.finish_reason == ours.finish_reason
    assert served.token_logprobs == pytest.approx(forward_logprobs(default_model, COUNTING, served.token_ids),
                                                  abs=2e-3)  # fmt: skip
    stop = ours.text[12:16]
    cut = vllm_model.generate(COUNTING, max_tokens=24, stop=[stop], sampled_tokens=True).completions[0]
    assert cut.finish_reason == "stop" and stop in cut.text  # the stop string is kept as sampled
    assert default_model.tokenizer.decode(cut.token_ids) == cut.text
    ask = [{"role": "user", "content": "Reply with just the word OK."}]
    ended = vllm_model.generate(ask, max_tokens=30, sampled_tokens=True).completions[0]
    assert ended.finish_reason == "stop" and ended.token_ids[-1] == default_model.tokenizer.eos_token_id
