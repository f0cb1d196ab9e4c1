"""End to end with the real packaged default model (SmolLM2-135M, CPU): cot and cot-rag runs, resume, report.

Kept small (3 tasks per domain, 32 new tokens) so it fits the project's test budget on a shared CPU. The
untrained 135M model scores about zero; these tests check the pipeline, not the model.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from agentdistill.agents.config import AgentConfig
from agentdistill.evaluation.config import EvalConfig
from agentdistill.evaluation.report import write_report
from agentdistill.evaluation.run import run_eval
from agentdistill.schema import read_trajectories
from agentdistill.tools.retrieval.config import RetrievalConfig

from .scripted import CountingModel

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model():
    from agentdistill.models import load_chat_model

    inner = load_chat_model("default")
    yield CountingModel(inner)
    inner.close()


def _png_ok(path):
    img = np.asarray(Image.open(path).convert("L"))
    assert img.shape[0] >= 200 and img.shape[1] >= 300
    assert img.std() > 5, f"{path} looks blank"


def test_cot_and_cot_rag_runs_resume_and_report(tmp_path, model, monkeypatch):
    monkeypatch.delenv("AGENTDISTILL_DATA_DIR", raising=False)  # the bundled samples
    cot = EvalConfig(
        benchmarks=["hotpotqa[:3]", "gsm8k[:3]"],
        out=str(tmp_path / "cot"),
        mode="cot",
        agent=AgentConfig(max_tokens=32),
        concurrency=6,
    )
    result = run_eval(cot, model=model, progress=False)
    assert model.calls == 6 and result.solved == 6
    out = tmp_path / "cot"
    trajs = list(read_trajectories(out / "predictions.jsonl"))
    assert len(trajs) == 6 and {t.task.domain for t in trajs} == {"qa", "math"}
    for t in trajs:
        assert t.status == "ok" and t.agent.model == "default"
        assert t.messages[-1].role == "assistant" and t.messages[-1].kind == "cot" and t.messages[-1].content
        assert 0 < t.stats.completion_tokens <= 32 and t.stats.prompt_tokens > 0
        assert t.score in (0.0, 1.0) and "metrics" in t.metadata
    math_prompt = next(t for t in trajs if t.task.domain == "math").messages[1].content
    assert "\\boxed{}" in math_prompt
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["benchmarks"]["hotpotqa"]["n"] == 3 and metrics["benchmarks"]["gsm8k"]["n"] == 3
    assert set(metrics["averages"]) == {"in_domain", "out_of_domain", "overall"}
    table = (out / "results.md").read_text()
    assert "| hotpotqa† | qa | in_domain | 3 |" in table
    assert "| gsm8k† | math | out_of_domain | 3 |" in table
    for name in ("scores.png", "steps.png", "tokens.png"):
        _png_ok(out / "plots" / name)

    # resume: a finished run makes no model call and duplicates nothing
    again = run_eval(cot, model=model, progress=False)
    assert model.calls == 6 and again.solved == 0
    assert len((out / "predictions.jsonl").read_text().splitlines()) == 6

    # cot-rag on one HotpotQA question whose paragraphs are in the bundled demo corpus
    rag = EvalConfig(
        benchmarks=["hotpotqa:distractor[:1]"],
        out=str(tmp_path / "rag"),
        mode="cot-rag",
        agent=AgentConfig(max_tokens=32),
        retrieval=RetrievalConfig(k=3),
    )
    run_eval(rag, model=model, progress=False)
    assert model.calls == 7
    (t,) = read_trajectories(tmp_path / "rag" / "predictions.jsonl")
    assert t.metadata["mode"] == "cot-rag" and len(t.metadata["retrieved"]) == 3
    assert "Document 1 (Title:" in t.messages[1].content and "Tinted Windows" in t.messages[1].content

    # report over the two runs
    report = write_report([out, tmp_path / "rag"], tmp_path / "report")
    md = report.markdown
    assert "| cot |" in md and "| rag |" in md and "hotpotqa:distractor" in md and "gsm8k" in md
    for p in report.plots:
        _png_ok(p)
