"""Agent-loop control flow with scripted models and the real local sandbox."""

from __future__ import annotations

import pytest

from agentdistill.agents.codeact import CodeActAgent
from agentdistill.agents.config import AgentConfig
from agentdistill.models.base import ModelUnavailableError
from agentdistill.sandbox import SandboxError
from agentdistill.schema import Task

from .scripted import ScriptedModel, step

MATH = Task(id="t1", question="What is 6 times 7?", answer="42", domain="math", source="test")
QA = Task(id="q1", question="Where was Ada Lovelace born?", answer="London", domain="qa", source="test")


def roles_kinds(traj):
    return [(m.role, m.kind, m.train) for m in traj.messages]


def test_final_answer_ends_the_episode(sandbox_config):
    model = ScriptedModel(
        [step("multiply", "x = 6 * 7\nprint(x)"), step("done", 'final_answer("\\\\boxed{42}")')]
    )
    traj = CodeActAgent(model, AgentConfig(max_steps=5), sandbox=sandbox_config).run(MATH)
    assert traj.status == "ok" and traj.final_answer == "\\boxed{42}" and traj.score == 1.0
    assert roles_kinds(traj)[1:] == [
        ("user", "task", False),
        ("assistant", "action", True),
        ("user", "observation", False),
        ("assistant", "action", True),
        ("user", "observation", False),
    ]
    assert traj.messages[3].content == "Observation:\n42"
    assert traj.stats.steps == 2 and traj.stats.errors == 0
    # stop sequences sent on every step; the stored action is the canonical CodeAct format
    assert all(c[1].stop == ("<end_code>", "Observation:") for c in model.calls)
    assert traj.messages[2].content.endswith("```<end_code>") and traj.messages[2].content.startswith(
        "Thought:"
    )


def test_state_persists_and_parse_error_becomes_observation(sandbox_config):
    model = ScriptedModel(
        [
            "I think the answer is 42 but I write no code.",
            step("set", "y = 40"),
            step("use", "final_answer(y + 2)"),
        ]
    )
    traj = CodeActAgent(model, AgentConfig(max_steps=4), sandbox=sandbox_config).run(MATH)
    assert traj.final_answer == "42"
    assert traj.messages[3].kind == "error" and "Error in code parsing" in traj.messages[3].content
    assert traj.stats.errors == 1 and traj.metadata["executions"] == 2


def test_max_steps_asks_for_the_final_answer(sandbox_config):
    model = ScriptedModel([step("look", "print(1)"), step("look", "print(2)"), "Final answer: 42"])
    traj = CodeActAgent(model, AgentConfig(max_steps=2), sandbox=sandbox_config).run(MATH)
    assert traj.status == "max_steps" and traj.final_answer == "42"
    assert roles_kinds(traj)[-2:] == [("user", "prompt", False), ("assistant", "final", False)]  # not trained
    assert len(model.calls) == 3 and model.calls[-1][1].stop == ()
    assert model.calls[-1][1].temperature == 0.0  # an untrained forced answer is asked for greedily


def test_a_trained_forced_answer_is_sampled_like_every_trained_turn(sandbox_config):
    model = ScriptedModel([step("look", "print(1)"), "Final answer: 42"])
    cfg = AgentConfig(max_steps=1, temperature=0.8, top_p=0.9, train_forced_answer=True)
    traj = CodeActAgent(model, cfg, sandbox=sandbox_config).run(MATH)
    assert roles_kinds(traj)[-1] == ("assistant", "final", True)
    assert (model.calls[-1][1].temperature, model.calls[-1][1].top_p) == (
        0.8,
        0.9,
    )  # never greedy-and-trained


def test_exception_is_observed_and_self_reflection_masks_the_failed_step(sandbox_config):
    model = ScriptedModel(
        [
            step("divide", "print(1 / 0)"),
            " I divided by zero.\nThought: multiply instead\nCode:\n```py\nfinal_answer(6 * 7)\n```",
        ]
    )
    cfg = AgentConfig(max_steps=4, reflection="self")
    traj = CodeActAgent(model, cfg, sandbox=sandbox_config).run(MATH)
    assert traj.final_answer == "42" and traj.metadata["reflections"] == 1
    kinds = roles_kinds(traj)[2:]
    assert kinds[0] == ("assistant", "action", False)  # the failed step: kept, not trained
    assert kinds[1] == ("user", "error", False) and "ZeroDivisionError" in traj.messages[3].content
    assert kinds[2] == ("assistant", "reflection", True)
    assert traj.messages[4].content.startswith("Reflection: I divided by zero.\nThought: multiply instead")
    # the reflection was requested from the model (continuing "Reflection:") but is not in the record
    conv, _, cont = model.calls[1]
    assert cont and conv[-1] == {"role": "assistant", "content": "Reflection:"}
    assert "Reflection:" in conv[-2]["content"] and "Reflection:" not in traj.messages[3].content


def test_wrong_final_answer_triggers_reflection_with_gold(sandbox_config):
    model = ScriptedModel(
        [step("guess", "final_answer(41)"), " Off by one.\n" + step("fix", "final_answer(42)")]
    )
    traj = CodeActAgent(model, AgentConfig(max_steps=3, reflection="self"), sandbox=sandbox_config).run(MATH)
    assert traj.final_answer == "42" and traj.score == 1.0
    assert traj.messages[2].train is False and "not correct" in traj.messages[3].content


def test_tools_are_callable_from_code_and_counted(sandbox_config):
    calls = []

    def web_search(query: str) -> str:
        """Search the corpus."""
        calls.append(query)
        return "Document 1 (Title: Ada Lovelace)\nAda Lovelace was born in London."

    model = ScriptedModel([step("search", 'print(web_search("Ada Lovelace birthplace"))'),
                           step("answer", 'final_answer("London")')])  # fmt: skip
    agent = CodeActAgent(model, sandbox=sandbox_config, tools={"web_search": web_search})
    traj = agent.run(QA)
    assert calls == ["Ada Lovelace birthplace"] and traj.stats.tool_calls == 1
    assert "born in London" in traj.messages[3].content and traj.score == 1.0
    assert "web_search: Search the corpus." in traj.messages[0].content


def test_observation_is_truncated(sandbox_config):
    model = ScriptedModel([step("print a lot", "print('x' * 5000)"), step("done", "final_answer(1)")])
    traj = CodeActAgent(model, AgentConfig(observation_max_chars=300), sandbox=sandbox_config).run(MATH)
    obs = traj.messages[3].content
    assert len(obs) < 400 and "characters truncated" in obs


def test_episode_failure_is_recorded_not_raised(sandbox_config):
    class Broken(ScriptedModel):
        async def _agenerate_batch(self, *a):
            raise RuntimeError("server fell over")

    traj = CodeActAgent(Broken([]), sandbox=sandbox_config).run(MATH)
    assert traj.status == "failed" and "server fell over" in traj.error


@pytest.mark.parametrize(
    "backend_reply", ["```python\nfinal_answer(42)\n```", "<code>final_answer(42)</code>"]
)
def test_code_markers_accepted(sandbox_config, backend_reply):
    traj = CodeActAgent(ScriptedModel([backend_reply]), sandbox=sandbox_config).run(MATH)
    assert traj.final_answer == "42"


def test_domain_tools_hide_search_from_math(sandbox_config):
    def web_search(query: str) -> str:
        """Search the corpus."""
        return "nothing"

    model = ScriptedModel([step("x", "print(web_search('a'))"), step("y", "final_answer(1)")])
    traj = CodeActAgent(model, sandbox=sandbox_config, tools={"web_search": web_search}).run(MATH)
    assert "web_search" not in traj.messages[0].content.split("Here is an example")[0]
    assert "NameError" in traj.messages[3].content  # not callable from math episodes either


def test_reference_hint_is_sent_but_never_stored(sandbox_config):
    model = ScriptedModel([step("use the hint", "final_answer(42)")])
    traj = CodeActAgent(model, AgentConfig(reference_hint=True), sandbox=sandbox_config).run(MATH)
    sent_task = model.calls[0][0][1]["content"]
    assert "the correct final answer is 42" in sent_task
    assert all("correct final answer is" not in m.content for m in traj.messages)
    assert traj.metadata["reference_hint"] is True and traj.score == 1.0


def test_answer_found_prefix_starts_the_step_after_the_gold_answer_shows(sandbox_config):
    # step 1 prints a wrong value, step 2 the gold one, step 3 continues the prefix with the call's argument
    model = ScriptedModel(
        [step("try", "print(41)"), step("fix", "print(6 * 7)"), '"\\\\boxed{42}")\n```<end_code>']
    )
    config = AgentConfig(max_steps=4, reference_hint=True, answer_found_prefix=True)
    traj = CodeActAgent(model, config, sandbox=sandbox_config).run(MATH)
    assert traj.status == "ok" and traj.score == 1.0 and traj.stats.steps == 3
    assert [c[2] for c in model.calls] == [False, False, True]  # only the third request continues a prefix
    assert model.calls[2][0][-1]["role"] == "assistant"
    assert model.calls[2][0][-1]["content"].rstrip().endswith("final_answer(")
    action = traj.messages[6]
    assert action.kind == "action" and action.train
    assert (
        "The output above answers the task" in action.content
        and 'final_answer("\\\\boxed{42}")' in action.content
    )
    assert all("correct final answer is" not in m.content for m in traj.messages)


def test_answer_found_prefix_needs_the_option_and_a_clean_output(sandbox_config):
    script = [step("look", "print(42)"), step("done", "final_answer(42)")]
    model = ScriptedModel(list(script))
    CodeActAgent(model, AgentConfig(max_steps=3, reference_hint=True), sandbox=sandbox_config).run(MATH)
    assert [c[2] for c in model.calls] == [False, False]  # off by default
    model = ScriptedModel([step("crash", "print(42); 1/0"), step("done", "final_answer(42)")])
    config = AgentConfig(max_steps=3, answer_found_prefix=True)
    CodeActAgent(model, config, sandbox=sandbox_config).run(MATH)
    assert [c[2] for c in model.calls] == [False, False]  # an error step does not count as the answer shown


class _Raising(ScriptedModel):
    def __init__(self, error: Exception) -> None:
        super().__init__([])
        self.error = error

    async def _agenerate_batch(self, conversations, params, continue_final):
        raise self.error


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (ModelUnavailableError("could not get a reply from http://x after 7 attempts"), "transient"),
        (ConnectionError("refused"), "transient"),
        (SandboxError("the local sandbox worker failed to start"), "transient"),
        (ValueError("a bug"), "permanent"),
    ],
)
def test_a_failed_episode_says_whether_it_was_an_outage(sandbox_config, error, kind):
    traj = CodeActAgent(_Raising(error), sandbox=sandbox_config).run(MATH)
    assert traj.status == "failed" and traj.failure == kind and type(error).__name__ in traj.error


def test_code_prefix_starts_each_step_inside_a_code_block(sandbox_config):
    # the scripted teacher only continues: the stored action is prefix + continuation, and it runs
    model = ScriptedModel([" 6 * 7\nprint(result)\n```<end_code>", "42)\n```<end_code>"])
    config = AgentConfig(max_steps=3, code_prefix=True, answer_found_prefix=True)
    traj = CodeActAgent(model, config, sandbox=sandbox_config).run(MATH)
    first_request = model.calls[0]
    assert first_request[2] is True  # continue_final
    assert first_request[0][-1]["content"].endswith("```py\nresult =")
    assert traj.messages[2].content == (
        "Thought: I compute it with Python and print the result.\nCode:\n```py\nresult = 6 * 7\nprint(result)\n```<end_code>"
    )
    assert traj.messages[3].content == "Observation:\n42" and traj.final_answer == "42"
    assert (
        "final_answer(" in model.calls[1][0][-1]["content"]
    )  # the answer-found start wins over the code prefix
