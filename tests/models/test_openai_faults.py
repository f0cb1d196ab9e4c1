"""The openai: backend against real local HTTP servers that misbehave on purpose."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agentdistill.models import ModelRequestError, ModelUnavailableError
from agentdistill.models.openai_compat import OpenAIChatModel, RetryPolicy
from agentdistill.models.serve import free_port

FAST_RETRY = RetryPolicy(max_retries=4, base_delay_s=0.01, max_delay_s=0.05)
HI = [{"role": "user", "content": "hi"}]


def completion_body(texts: list[str]) -> dict:
    return {
        "id": "cmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [
            {"index": i, "finish_reason": "stop", "message": {"role": "assistant", "content": t}}
            for i, t in enumerate(texts)
        ],
        "usage": {
            "prompt_tokens": 5,
            "completion_tokens": 2 * len(texts),
            "total_tokens": 5 + 2 * len(texts),
        },
    }


class ScriptedServer:
    """An OpenAI-compatible server answering from a script of (status, body, headers)."""

    def __init__(self, script, delay_s: float = 0.0):
        self.script = list(script)
        self.requests: list[dict] = []
        self.in_flight = self.max_in_flight = 0
        lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with lock:
                    outer.requests.append(body)
                    outer.in_flight += 1
                    outer.max_in_flight = max(outer.max_in_flight, outer.in_flight)
                time.sleep(delay_s)
                with lock:
                    outer.in_flight -= 1
                status, payload, headers = outer.script.pop(0) if outer.script else (200, None, {})
                if payload is None:
                    payload = completion_body([f"ok {len(outer.requests)}"] * body.get("n", 1))
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server_factory():
    servers = []

    def make(script=(), delay_s=0.0):
        servers.append(ScriptedServer(script, delay_s))
        return servers[-1]

    yield make
    for s in servers:
        s.close()


def test_429_and_500_are_retried_then_succeed(server_factory):
    srv = server_factory(
        [
            (429, {"error": {"message": "slow down"}}, {"Retry-After": "0.05"}),
            (500, {"error": {"message": "boom"}}, {}),
            (503, {"error": {"message": "overloaded"}}, {}),
        ]
    )
    model = OpenAIChatModel("m", srv.url, retry=FAST_RETRY)
    result = model.generate(HI, n=2, stop=["\n"], seed=7, logprobs=True)
    assert result.texts == ["ok 4", "ok 4"]
    assert len(srv.requests) == 4
    sent = srv.requests[-1]
    assert sent["n"] == 2 and sent["stop"] == ["\n"] and sent["seed"] == 7 and sent["logprobs"] is True
    assert "continue_final_message" not in sent


def test_client_errors_are_not_retried(server_factory):
    srv = server_factory([(400, {"error": {"message": "max_tokens is too large"}}, {})])
    model = OpenAIChatModel("m", srv.url, retry=FAST_RETRY)
    with pytest.raises(ModelRequestError, match=r"refused the request \(400\): max_tokens is too large"):
        model.generate(HI)
    assert len(srv.requests) == 1


def test_unreachable_url_fails_after_bounded_retries():
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    model = OpenAIChatModel("m", url, retry=RetryPolicy(max_retries=2, base_delay_s=0.01))
    start = time.monotonic()
    with pytest.raises(ModelUnavailableError) as e:
        model.generate(HI)
    msg = str(e.value)
    assert url in msg and "after 3 attempts" in msg and "APIConnectionError" in msg
    assert time.monotonic() - start < 10


def test_persistent_5xx_gives_up(server_factory):
    srv = server_factory([(500, {"error": {"message": "down"}}, {})] * 10)
    model = OpenAIChatModel("m", srv.url, retry=RetryPolicy(max_retries=3, base_delay_s=0.01))
    with pytest.raises(ModelUnavailableError, match="after 4 attempts: HTTP 500"):
        model.generate(HI)
    assert len(srv.requests) == 4


def test_continuation_sends_vllm_extras(server_factory):
    srv = server_factory()
    model = OpenAIChatModel("m", srv.url, retry=FAST_RETRY)
    model.generate([*HI, {"role": "assistant", "content": "Thought: "}], continue_final=True)
    assert srv.requests[0]["continue_final_message"] is True
    assert srv.requests[0]["add_generation_prompt"] is False
    assert srv.requests[0]["messages"][-1] == {"role": "assistant", "content": "Thought: "}


def test_fewer_choices_than_n_are_topped_up(server_factory):
    # llama.cpp-style server: ignores n and returns one choice per request
    srv = server_factory([(200, completion_body([f"s{i}"]), {}) for i in range(3)])
    model = OpenAIChatModel("m", srv.url, retry=FAST_RETRY)
    assert model.generate(HI, n=3, temperature=1.0).texts == ["s0", "s1", "s2"]
    assert [r["n"] for r in srv.requests] == [3, 2, 1]


def test_requests_spread_over_replicas(server_factory):
    a, b = server_factory(), server_factory()
    model = OpenAIChatModel("m", f"{a.url},{b.url}", retry=FAST_RETRY)
    results = model.generate_batch([HI] * 8)
    assert len(results) == 8
    assert len(a.requests) + len(b.requests) == 8 and a.requests and b.requests


def test_failover_to_healthy_replica(server_factory):
    dead = f"http://127.0.0.1:{free_port()}/v1"
    good = server_factory()
    model = OpenAIChatModel("m", [dead, good.url], retry=FAST_RETRY)
    assert all(r.text.startswith("ok") for r in model.generate_batch([HI] * 4))
    assert len(good.requests) == 4


def test_concurrency_is_bounded(server_factory):
    srv = server_factory(delay_s=0.2)
    model = OpenAIChatModel("m", srv.url, max_concurrency=3, retry=FAST_RETRY)
    start = time.monotonic()
    assert len(model.generate_batch([HI] * 9)) == 9
    assert srv.max_in_flight == 3
    assert time.monotonic() - start >= 0.55  # three waves of three
