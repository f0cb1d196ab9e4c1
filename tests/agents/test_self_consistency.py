"""Self-consistent action generation: voting, ties, no survivors; one request per step, no re-runs."""

from __future__ import annotations

from agentdistill.agents.codeact import CodeActAgent
from agentdistill.agents.config import AgentConfig
from agentdistill.agents.consistency import Candidate, choose, normalise_answer
from agentdistill.agents.parsing import parse_action
from agentdistill.schema import ExecResult, Task

from .scripted import ScriptedModel, step

MATH = Task(id="t1", question="What is 6 times 7?", answer="42", domain="math")
COUNT = "runs = globals().get('runs', 0) + 1\n"


def sag(n: int) -> AgentConfig:
    return AgentConfig(max_steps=4, n_candidates=n)


def test_majority_wins_and_its_fork_continues_without_rerun(sandbox_config):
    model = ScriptedModel(
        [
            [step("a", COUNT + "x = 6 * 7\nprint(x)"), step("b", COUNT + "x = 6 + 7\nprint(x)"),
             step("c", COUNT + "x = 7 * 6\nprint(x)")],
            step("report", "print(runs, x)"),
            step("done", "final_answer(x)"),
        ]
    )  # fmt: skip
    traj = CodeActAgent(model, sag(3), sandbox=sandbox_config).run(MATH)
    assert traj.final_answer == "42"
    assert traj.messages[3].content == "Observation:\n42"
    assert traj.messages[5].content == "Observation:\n1 42"  # the winner ran once, in its fork
    assert len(model.calls) == traj.stats.steps == 3  # one model request per step
    assert [c[1].n for c in model.calls] == [3, 3, 3] and model.calls[0][1].logprobs
    assert traj.metadata["executions"] == 9  # 3 candidates x 3 steps, nothing executed twice


def test_final_answers_vote_after_normalisation(sandbox_config):
    model = ScriptedModel(
        [
            [
                step("a", 'final_answer("\\\\boxed{42}")'),
                step("b", "final_answer(41)"),
                step("c", "final_answer(42.0)"),
            ]
        ]
    )
    traj = CodeActAgent(model, sag(3), sandbox=sandbox_config).run(MATH)
    assert normalise_answer(traj.final_answer) == "42" and traj.score == 1.0


def test_tie_goes_to_higher_logprob_then_first(sandbox_config):
    tie = [(step("a", "print(1)"), -2.0), (step("b", "print(2)"), -0.5)]
    traj = CodeActAgent(
        ScriptedModel([tie, step("d", "final_answer(0)")]), sag(2), sandbox=sandbox_config
    ).run(MATH)
    assert traj.messages[3].content == "Observation:\n2"
    no_lp = [step("a", "print(1)"), step("b", "print(2)")]
    traj = CodeActAgent(
        ScriptedModel([no_lp, step("d", "final_answer(0)")]), sag(2), sandbox=sandbox_config
    ).run(MATH)
    assert traj.messages[3].content == "Observation:\n1"


def test_failed_candidates_are_dropped(sandbox_config):
    model = ScriptedModel(
        [
            [step("a", "print(1/0)"), "no code at all", step("c", "y = 5\nprint(y)")],
            step("d", "final_answer(y)"),
        ]
    )
    traj = CodeActAgent(model, sag(3), sandbox=sandbox_config).run(MATH)
    assert traj.messages[3].content == "Observation:\n5" and traj.final_answer == "5"


def test_none_valid_keeps_the_first_so_its_error_is_seen(sandbox_config):
    model = ScriptedModel(
        [
            [step("a", "z = 1\nprint(undefined_name)"), "no code", step("c", "print(1/0)")],
            step("check", "print(z)"),
            step("d", "final_answer(1)"),
        ]
    )
    traj = CodeActAgent(model, sag(3), sandbox=sandbox_config).run(MATH)
    assert traj.messages[3].kind == "error" and "NameError" in traj.messages[3].content
    assert traj.messages[5].content == "Observation:\n1"  # the first candidate's fork is the state
    assert traj.metadata["executions"] == 2 + 3 + 3


def test_choose_unit_rules():
    def cand(stdout=None, error=None, final=None, lp=None, code="pass"):
        parsed = parse_action(f"Thought: t\n```py\n{code}\n```") if code else parse_action("none")
        res = None if stdout is None and error is None and final is None else ExecResult(
            stdout=stdout or "", error=error, is_final=final is not None, final_answer=final)  # fmt: skip
        return Candidate("", parsed, res, lp)

    assert choose([cand("1"), cand("2"), cand("2 ")]) == 1  # whitespace-normalised majority
    assert choose([cand(error="E"), cand(code=None)]) == 0
    assert choose([cand("1", lp=-3.0), cand("2", lp=-1.0)]) == 1
    assert choose([cand("1", lp=-1.0), cand("2", lp=None)]) == 0
    assert choose([cand(final="\\boxed{7}"), cand(final="8"), cand(final=" 7 ")]) == 0
