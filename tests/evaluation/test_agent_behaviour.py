"""Valid-action and final-answer rates: computed from real CodeAct episodes (scripted model, real sandbox)."""

from __future__ import annotations

import json

from agentdistill.agents.config import AgentConfig
from agentdistill.evaluation.config import EvalConfig
from agentdistill.evaluation.report import write_report
from agentdistill.evaluation.run import run_eval
from agentdistill.evaluation.summary import agent_behaviour
from agentdistill.schema import AgentInfo, Message, Task, Trajectory

from .scripted import ScriptedChatModel

CODE = "Thought: compute.\nCode:\n```py\n{}\n```<end_code>"


def sloppy_then_final(conv):
    """First step has no code block; after the parse error, the agent calls final_answer."""
    if len(conv) == 1:  # the first-thought request
        return "Compute it."
    if "Error in code parsing" in conv[-1]["content"]:
        return CODE.format("final_answer('18')")
    return "I think it is eighteen."


def never_finishes(conv):
    """Every step runs code but none calls final_answer; the forced final reply answers."""
    if len(conv) == 1:
        return "Compute it."
    if "You have used all your steps" in conv[-1]["content"]:
        return "Final answer: 18"
    return CODE.format("print(9 * 2)")


def run(tmp_path, name, reply, sandbox_config):
    cfg = EvalConfig(
        benchmarks=["gsm8k[:2]"],
        out=str(tmp_path / name),
        mode="agent",
        agent=AgentConfig(max_steps=2),
        plots=False,
        name=name,
    )
    return run_eval(cfg, model=ScriptedChatModel(reply), progress=False)


def test_rates_in_metrics_table_and_report(tmp_path, sandbox_config):
    a = run(tmp_path, "sloppy", sloppy_then_final, sandbox_config)
    b = run(tmp_path, "unfinished", never_finishes, sandbox_config)
    ea, eb = (r.metrics["benchmarks"]["gsm8k"] for r in (a, b))
    assert ea["valid_action_rate"] == 0.5 and ea["final_answer_rate"] == 1.0  # 2 steps, 1 without code
    assert eb["valid_action_rate"] == 1.0 and eb["final_answer_rate"] == 0.0
    assert "| valid actions | final_answer called |" in a.table
    assert "| 50.00 | 100.00 |" in a.table

    report = write_report([a.out_dir, b.out_dir], tmp_path / "rep")
    assert "## Agent behaviour" in report.markdown
    data = json.loads(report.json.read_text())
    assert data["behaviour"]["valid_action_rate"]["table"]["sloppy"]["gsm8k"] == 0.5
    assert data["behaviour"]["final_answer_rate"]["table"]["unfinished"]["gsm8k"] == 0.0


def test_cot_runs_have_no_agent_rates():
    task = Task(id="t", question="q", answer="1", domain="math")
    cot = Trajectory(
        id="t",
        task=task,
        agent=AgentInfo(model="m"),
        messages=[Message(role="user", content="q"), Message(role="assistant", content="\\boxed{1}")],
    )
    assert agent_behaviour([cot]) == {}
