"""A real OpenAI-compatible HTTP server on loopback for fault tests: ``python tests/fake_openai_server.py``.

Every chat completion is one CodeAct step that computes the answer in the sandbox and returns it, so an
episode is one model request plus one sandbox step. ``--delay`` slows each reply (a run lasts long
enough to be killed); ``--die-after N`` makes the process exit abruptly after N replies (a server that
goes away mid-run); ``--refuse-continuation`` answers requests that ask to continue a partial assistant
message (vLLM's ``continue_final_message``) with HTTP 400, as servers without that extension do; each
request is logged to ``--log`` (one line per request).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

STEP = "Thought: compute it.\nCode:\n```py\nx = 6 * 7\nprint(x)\nfinal_answer(x)\n```<end_code>"


def reply_body(n: int) -> dict:
    return {
        "id": "cmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": "fake",
        "choices": [
            {"index": i, "finish_reason": "stop", "message": {"role": "assistant", "content": STEP}}
            for i in range(n)
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 12 * n, "total_tokens": 10 + 12 * n},
    }


class FakeTeacher:
    """The fake server as a subprocess on a fixed port (so it can be restarted where clients expect it)."""

    def __init__(self, port: int | None = None) -> None:
        from agentdistill.models.serve import free_port

        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def spec(self) -> str:
        return f"openai:fake@http://127.0.0.1:{self.port}/v1"

    def start(
        self,
        *,
        delay: float = 0.0,
        die_after: int = 0,
        refuse_continuation: bool = False,
        log: str | None = None,
    ) -> FakeTeacher:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--port", str(self.port), "--delay", str(delay)]
        cmd += ["--die-after", str(die_after)]
        cmd += ["--refuse-continuation"] if refuse_continuation else []
        cmd += ["--log", log] if log else []
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "ready"
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--delay", type=float, default=0.0)
    ap.add_argument("--die-after", type=int, default=0)
    ap.add_argument("--log", default=None)
    ap.add_argument("--refuse-continuation", action="store_true")
    args = ap.parse_args()
    lock = threading.Lock()
    served = [0]

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):  # quiet
            pass

        def do_GET(self):  # /v1/models, health checks
            self._send(200, {"object": "list", "data": [{"id": "fake", "object": "model"}]})

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            cont = bool(body.get("continue_final_message"))
            if args.log:
                with lock, open(args.log, "a") as f:
                    record = {
                        "t": time.time(),
                        "n": body.get("n", 1),
                        "continue": cont,
                        "messages": body["messages"],
                    }
                    f.write(json.dumps(record) + "\n")
            if cont and args.refuse_continuation:
                message = "continue_final_message is not supported by this server"
                self._send(
                    400, {"object": "error", "message": message, "type": "BadRequestError", "code": 400}
                )
                return
            time.sleep(args.delay)
            self._send(200, reply_body(int(body.get("n", 1))))
            with lock:
                served[0] += 1
                if args.die_after and served[0] >= args.die_after:
                    os._exit(0)  # gone, mid-run, without a goodbye

        def _send(self, status: int, payload: dict) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    ThreadingHTTPServer.allow_reuse_address = True
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
