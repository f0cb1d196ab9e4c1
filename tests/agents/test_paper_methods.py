"""The paper's methods, exactly: first-thought prefix from the cached CoT answer, STeP student mode with
teacher-verified corrections, the one answer extractor in votes, and the per-episode tool cache.

Scripted models drive the control flow; code runs in the real local sandbox, and the refusing server is
a real HTTP server on loopback.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from agentdistill.agents.codeact import CodeActAgent, parse_verdict
from agentdistill.agents.config import AgentConfig
from agentdistill.agents.consistency import Candidate, choose
from agentdistill.agents.cot import CoTSolver
from agentdistill.agents.first_thought import FirstThoughts, first_paragraph
from agentdistill.agents.parsing import parse_action
from agentdistill.models.base import ContinuationUnsupportedError
from agentdistill.schema import ExecResult, Task
from agentdistill.tasks.metrics import answer_key

from .scripted import ScriptedModel, step

MATH = Task(id="t1", question="What is 6 times 7?", answer="42", domain="math", source="test")
# the math prompt's own example says \boxed{42}: the STeP tests use a gold answer no prompt contains
EIGHT = Task(id="t8", question="What is 6 times 8?", answer="48", domain="math", source="test")
COT = "We need the product of 6 and 7.\nMultiplication gives it.\n\nSix times seven is 42.\n\n\\boxed{42}"
PREFIX = "We need the product of 6 and 7.\nMultiplication gives it.\n\n"


def agent(model, **cfg):
    sandbox = cfg.pop("sandbox")
    teacher = cfg.pop("teacher", None)
    first_thoughts = cfg.pop("first_thoughts", None)
    role = "student" if teacher is not None else "teacher"
    return CodeActAgent(
        model, AgentConfig(**cfg), sandbox=sandbox, teacher=teacher, role=role, first_thoughts=first_thoughts
    )


# -- first-thought prefix ---------------------------------------------------------------------------


def test_first_paragraph_is_the_papers_split_verbatim():
    assert first_paragraph(COT) == COT.split("\n\n")[0] + "\n\n" == PREFIX
    assert first_paragraph("\n\n  Indented  step.\n\nNext.") == "  Indented  step.\n\n"
    assert first_paragraph("one line") == "one line\n\n"
    assert first_paragraph(" \n ") == ""


def test_prefix_is_the_cached_cot_answers_first_paragraph_continued_by_the_teacher(sandbox_config):
    continuation = "I compute it.\nCode:\n```py\nfinal_answer(6*7)\n```"
    model = ScriptedModel([COT, continuation, continuation])
    a = agent(model, sandbox=sandbox_config, first_thought_prefix=True)
    first, second = a.run(MATH, sample=0), a.run(MATH, sample=1)
    assert len(model.calls) == 3  # one CoT call for the task, then one step per episode
    cot_request = model.calls[0][0]
    expected, _ = asyncio.run(CoTSolver(model).build_messages(MATH))
    assert cot_request == [m.to_chat() for m in expected]  # the CoT baseline's own prompt
    for traj in (first, second):
        assert traj.first_thought_prefix == PREFIX  # byte for byte
        assert traj.metadata["prefix_mode"] == "continued"
        assert traj.messages[2].train and traj.messages[2].content.startswith("Thought: " + PREFIX)
        assert traj.messages[2].content.startswith("Thought: " + PREFIX + "I compute it.")
    partial = model.calls[1][0][-1]
    assert model.calls[1][2] and partial == {"role": "assistant", "content": "Thought: " + PREFIX}


def test_prefix_stays_verbatim_when_the_model_goes_straight_to_code(sandbox_config):
    model = ScriptedModel([COT, "Code:\n```py\nfinal_answer(42)\n```"])
    traj = agent(model, sandbox=sandbox_config, first_thought_prefix=True).run(MATH)
    assert traj.messages[2].content.startswith("Thought: " + PREFIX)


def test_cot_answers_are_cached_in_the_run_folder(sandbox_config, tmp_path):
    path = tmp_path / "cache" / "first_thoughts.jsonl"
    go = "I check.\nCode:\n```py\nfinal_answer(42)\n```"
    model = ScriptedModel([COT, go], name="teacher-a")
    agent(model, sandbox=sandbox_config, first_thought_prefix=True,
          first_thoughts=FirstThoughts(CoTSolver(model), path)).run(MATH)  # fmt: skip
    record = json.loads(path.read_text().splitlines()[0])
    assert record["messages"][-1]["content"] == COT and record["metadata"]["mode"] == "cot"
    rerun = ScriptedModel([go], name="teacher-a")
    cached = FirstThoughts(CoTSolver(rerun), path)
    traj = agent(rerun, sandbox=sandbox_config, first_thought_prefix=True, first_thoughts=cached).run(MATH)
    assert cached.calls == 0 and len(rerun.calls) == 1 and traj.first_thought_prefix == PREFIX
    other = ScriptedModel(["Another plan.\n\nMore.", go], name="teacher-b")
    fresh = FirstThoughts(CoTSolver(other), path)  # another teacher: its own call
    assert agent(other, sandbox=sandbox_config, first_thought_prefix=True,
                 first_thoughts=fresh).run(MATH).first_thought_prefix == "Another plan.\n\n"  # fmt: skip
    assert fresh.calls == 1


def test_prefix_without_continuation_is_instructed_and_verified(sandbox_config):
    reply = "Thought: " + PREFIX + "So I multiply.\nCode:\n```py\nfinal_answer(42)\n```"
    model = ScriptedModel([COT, reply], continuation=False)
    traj = agent(model, sandbox=sandbox_config, first_thought_prefix=True).run(MATH)
    assert traj.metadata["prefix_mode"] == "instructed" and traj.first_thought_prefix == PREFIX
    assert "Begin your reply with exactly this text" in model.calls[1][0][-1]["content"]
    assert traj.messages[2].content.startswith("Thought: " + PREFIX + "So I multiply.")


def test_an_instructed_prefix_the_reply_ignores_is_dropped(sandbox_config):
    model = ScriptedModel([COT, step("I just answer.", "final_answer(42)")], continuation=False)
    traj = agent(model, sandbox=sandbox_config, first_thought_prefix=True).run(MATH)
    assert traj.metadata["prefix_mode"] == "dropped" and traj.first_thought_prefix is None
    assert traj.messages[2].content.startswith("Thought: I just answer.")


def test_a_server_that_silently_ignores_continuation_is_not_glued_to_the_prefix(sandbox_config):
    model = ScriptedModel([COT, step("An unrelated start.", "final_answer(42)")])  # a new message
    traj = agent(model, sandbox=sandbox_config, first_thought_prefix=True).run(MATH)
    assert traj.metadata["prefix_mode"] == "dropped" and traj.first_thought_prefix is None
    assert traj.messages[2].content.startswith("Thought: An unrelated start.")
    assert "Thought: Thought:" not in traj.messages[2].content


class RefusingAtRunTime(ScriptedModel):
    """Claims continuation support, then refuses it (as a server without the extension does)."""

    async def _agenerate_batch(self, conversations, params, continue_final):
        if continue_final:
            self.calls.append((conversations[0], params, True))
            raise ContinuationUnsupportedError("continue_final_message is not supported")
        return await super()._agenerate_batch(conversations, params, continue_final)


def test_a_refusing_backend_falls_back_to_an_instructed_prefix(sandbox_config):
    reply = "Thought: " + PREFIX + "Compute.\nCode:\n```py\nfinal_answer(42)\n```"
    model = RefusingAtRunTime([COT, reply, reply])
    a = agent(model, sandbox=sandbox_config, first_thought_prefix=True)
    traj = a.run(MATH)
    assert traj.status == "ok" and traj.metadata["prefix_mode"] == "instructed"
    assert traj.first_thought_prefix == PREFIX
    assert [c[2] for c in model.calls] == [False, True, False]  # refused once, then asked plainly
    assert a.run(MATH, sample=1).metadata["prefix_mode"] == "instructed"
    assert [c[2] for c in model.calls][3:] == [False]  # not asked to continue again


def test_a_refusing_http_server_falls_back_and_records_instructed(sandbox_config, tmp_path):
    from agentdistill.models.openai_compat import OpenAIChatModel
    from tests.fake_openai_server import FakeTeacher

    log = tmp_path / "requests.jsonl"
    server = FakeTeacher().start(refuse_continuation=True, log=str(log))
    try:
        model = OpenAIChatModel("fake", f"http://127.0.0.1:{server.port}/v1", vllm_extras=True)
        traj = agent(model, sandbox=sandbox_config, first_thought_prefix=True).run(MATH)
    finally:
        server.stop()
    requests = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["continue"] for r in requests] == [False, True, False]  # CoT, refused continuation, retry
    assert traj.status == "ok" and traj.failure is None
    # the fake server's fixed reply does not begin with the prefix: verified, and dropped
    assert traj.metadata["prefix_mode"] == "dropped" and traj.first_thought_prefix is None
    assert "Begin your reply with exactly this text" in requests[2]["messages"][-1]["content"]


def test_reflection_and_answer_found_starts_have_their_own_field(sandbox_config):
    model = ScriptedModel(
        [
            COT,
            "Try.\nCode:\n```py\nprint(undefined)\n```",
            " It failed.\nThought: multiply.\nCode:\n```py\nfinal_answer(42)\n```",
        ]
    )
    traj = agent(model, sandbox=sandbox_config, first_thought_prefix=True, reflection="self").run(MATH)
    assert traj.metadata["prefix_mode"] == "continued" and traj.first_thought_prefix == PREFIX
    assert traj.metadata["start_modes"] == {"reflection": "continued"}
    assert traj.messages[4].content.startswith("Reflection: It failed.")


# -- STeP, reflection source "student" ----------------------------------------------------------------


def student_mode(student, teacher, sandbox, **cfg):
    return agent(student, sandbox=sandbox, teacher=teacher, reflection="student", **cfg)


def test_the_student_never_sees_the_gold_answer_and_the_teacher_gets_reason_and_gold(sandbox_config):
    student = ScriptedModel(
        [step("add", "x = 6 + 8\nprint(x)"), step("answer", "final_answer(x)")], name="student"
    )
    teacher = ScriptedModel(
        ["MISTAKE: it adds instead of multiplying.", " The student added.\n" + step("multiply", "x = 6 * 8\nprint(x)"),
         "OK"], name="teacher")  # fmt: skip
    traj = student_mode(student, teacher, sandbox_config, max_steps=3, reference_hint=True).run(EIGHT)
    assert traj.final_answer == "48" and traj.score == 1.0
    assert "48" not in json.dumps(student.calls[0][0])  # the student acts unhinted
    for conversation, _, _ in student.calls:
        text = json.dumps(conversation)
        assert "correct final answer" not in text and "Hint for you only" not in text
    correction = teacher.calls[1][0]
    assert correction[-1] == {"role": "assistant", "content": "Reflection:"}
    assert "it adds instead of multiplying" in correction[-2]["content"]
    assert "The correct final answer is 48" in correction[-2]["content"]
    assert "Hint for you only" in correction[1]["content"]  # the teacher's requests carry the hint
    stored = json.dumps([m.content for m in traj.messages])
    assert "Hint for you only" not in stored and "correct final answer" not in stored
    kinds = [(m.kind, m.train) for m in traj.messages if m.role == "assistant"]
    assert kinds == [("action", False), ("reflection", True), ("action", True)]
    assert traj.metadata["corrections"] == 1 and traj.metadata["failed_corrections"] == 0


def test_a_failing_correction_is_masked_and_the_teacher_tries_again(sandbox_config):
    student = ScriptedModel([step("add", "x = 6 + 8\nprint(x)"), step("answer", "final_answer(x)")])
    teacher = ScriptedModel(
        ["MISTAKE: wrong operation.",
         " Oops.\n" + step("multiply", "x = 6 * eight\nprint(x)"),  # raises NameError: masked
         " Now properly.\n" + step("multiply", "x = 6 * 8\nprint(x)"),
         "OK"], name="teacher")  # fmt: skip
    traj = student_mode(student, teacher, sandbox_config, max_steps=3).run(EIGHT)
    steps = [(m.kind, m.train) for m in traj.messages if m.role == "assistant"]
    assert steps == [("action", False), ("reflection", False), ("reflection", True), ("action", True)]
    assert "NameError" in teacher.calls[2][0][-2]["content"]  # the second try is told what failed
    assert traj.metadata["corrections"] == 2 and traj.metadata["failed_corrections"] == 1
    assert traj.final_answer == "48"


def test_corrections_are_bounded(sandbox_config):
    student = ScriptedModel([step("add", "x = 6 + 8\nprint(x)"), step("answer", "final_answer(48)")])
    bad = " Oops.\n" + step("multiply", "print(undefined)")
    teacher = ScriptedModel(["MISTAKE: wrong.", bad, bad, bad, "OK"], name="teacher")
    traj = student_mode(student, teacher, sandbox_config, max_steps=3, max_corrections=2).run(EIGHT)
    reflections = [m for m in traj.messages if m.kind == "reflection"]
    assert len(reflections) == 2 and not any(m.train for m in reflections)
    assert traj.metadata["failed_corrections"] == 2 and traj.final_answer == "48"


def test_a_wrong_final_correction_is_not_trained(sandbox_config):
    student = ScriptedModel([step("guess", "final_answer(14)"), step("again", "final_answer(48)")])
    teacher = ScriptedModel([" Wrong.\n" + step("fix", "final_answer(47)")], name="teacher")
    traj = student_mode(student, teacher, sandbox_config, max_steps=3, max_corrections=1).run(EIGHT)
    fix = next(m for m in traj.messages if m.kind == "reflection")
    assert not fix.train and traj.final_answer == "48"
    assert "final_answer(14) is not the correct answer" in teacher.calls[0][0][-2]["content"]


def test_an_empty_result_counts_as_a_failure(sandbox_config):
    model = ScriptedModel(
        [
            step("assign", "x = 6 * 7"),
            "Reflection: I printed nothing.\n" + step("show", "print(x)"),
            step("done", "final_answer(x)"),
        ]
    )
    traj = agent(model, sandbox=sandbox_config, reflection="self", max_steps=4).run(MATH)
    steps = [(m.kind, m.train) for m in traj.messages if m.role == "assistant"]
    assert steps == [("action", False), ("reflection", True), ("action", True)]
    assert model.calls[1][2]  # the reflection step was started with "Reflection:"
    assert traj.messages[4].content.startswith("Reflection: I printed nothing.")


@pytest.mark.parametrize(
    ("text", "ok", "reason"),
    [
        ("OK", True, ""),
        ("MISTAKE: it adds instead of multiplying.", False, "it adds instead of multiplying."),
        ("**MISTAKE** - wrong search\nmore text", False, "wrong search"),
        ("mistake", False, "the teacher found a mistake in this step"),
        ("Looks fine to me.", True, ""),
    ],
)
def test_teacher_verdicts_keep_their_reason(text, ok, reason):
    verdict = parse_verdict(text)
    assert (verdict.ok, verdict.reason) == (ok, reason)


# -- self-consistency uses the metric's extractor; the tool cache ---------------------------------------


def final(value):
    parsed = parse_action("Thought: t\n```py\npass\n```")
    return Candidate("", parsed, ExecResult(is_final=True, final_answer=value))


def test_votes_read_answers_with_the_scoring_extractor():
    def key(v):
        return answer_key(v, "math")

    assert key("\\boxed{1} or \\boxed{2}") == key("2")  # the last box, as the metric reads it
    assert key("\\boxed{\\frac{1}{2}}") == key("\\frac{1}{2}")  # nested braces
    assert key("$2.50") == key("2.5") == key("\\boxed{2.5}")
    assert choose([final("\\boxed{1} or \\boxed{2}"), final("1"), final("2")], key=key) == 0
    assert answer_key("The Beatles", "qa") == answer_key("beatles", "qa")


def test_every_host_tool_is_cached_per_episode_and_shared_by_forks(sandbox_config):
    invoked = []

    def lookup(key: str) -> str:
        """Look a key up."""
        invoked.append(key)
        return f"value-of-{key}"

    once = "v = lookup('k')\nprint(v)"
    twice = "v = lookup('k')\nw = lookup(key='k')\nprint(v)"
    model = ScriptedModel(
        [
            [step("a", once), step("b", twice), step("c", once)],
            [step("again", "print(lookup('k'))")] * 3,
            [step("done", "final_answer(v)")] * 3,
        ]
    )
    task = Task(id="q1", question="What is the value of k?", answer="value-of-k", domain="qa")
    a = CodeActAgent(model, AgentConfig(max_steps=4, n_candidates=3), sandbox=sandbox_config,
                     tools={"lookup": lookup})  # fmt: skip
    traj = a.run(task)
    assert traj.score == 1.0
    assert invoked == ["k"]  # one real call: every fork and the later step are served from the cache
    assert traj.stats.tool_calls == 2  # the chosen path only: one call in step 1, one in step 2
    assert traj.metadata["tool_cache_hits"] == 3 + 3  # step 1: b twice, c once; step 2: all three forks
    model.script = [[step("x", once)] * 3, [step("done", "final_answer(v)")] * 3]
    second = a.run(task.model_copy(update={"id": "q2"}))  # another episode: its own cache
    assert invoked == ["k", "k"] and second.stats.tool_calls == 1
