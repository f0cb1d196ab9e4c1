"""The CodeAct agent plugged into evaluation as mode `agent` (with --sag N)."""

from __future__ import annotations

import json

from agentdistill.agents.config import AgentConfig
from agentdistill.evaluation.config import EvalConfig
from agentdistill.evaluation.run import run_eval

from .scripted import ScriptedModel, step


def test_eval_agent_mode_with_self_consistency(tmp_path, sandbox_config):
    # gsm8k bundled sample: the scripted agent answers 18 to everything; 3 candidates per step.
    model = ScriptedModel([[step("a", "final_answer(18)"), step("b", "final_answer(17)"),
                            step("c", "final_answer(18.0)")]] * 2)  # fmt: skip
    config = EvalConfig(
        benchmarks=["gsm8k[:2]"], out=str(tmp_path / "eval"), mode="agent", agent=AgentConfig(n_candidates=3)
    )
    result = run_eval(config, model=model, progress=False)
    preds = [json.loads(line) for line in (tmp_path / "eval" / "predictions.jsonl").read_text().splitlines()]
    assert len(preds) == 2 and all(p["final_answer"] == "18" for p in preds)
    assert all(p["agent"]["generation"]["n_candidates"] == 3 for p in preds)
    assert [c[1].n for c in model.calls] == [3, 3]
    assert result is not None
