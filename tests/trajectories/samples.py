"""Hand-written trajectories covering what the tooling must tell apart.

correct       QA, right answer, two clean steps
wrong         QA, wrong final answer but a stale stored score of 1.0 (re-scoring must catch it)
parse_error   math, first reply has no code block (parse-error observation), then solved
reflection    math, a failed step (masked) then a trained Reflection step that fixes it
duplicate     same task and same assistant messages as ``correct`` (another id)
gsm8k         a GSM8K test question (decontamination must drop it), solved
failed        crashed episode (status failed)
max_steps     hit max steps, answered from the fallback prompt; one observation carries an HTML/JS payload
"""

from __future__ import annotations

from agentdistill.schema import AgentInfo, Message, Task, Trajectory, TrajectoryStats

SYSTEM = "You are an expert assistant who solves tasks by writing Python code, step by step."
GSM8K_JANET = (
    "Janet\u2019s ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes muffins for "
    "her friends every day with four. She sells the remainder at the farmers' market daily for $2 per fresh "
    "duck egg. How much in dollars does she make every day at the farmers' market?"
)
INJECTION = "<script>document.body.setAttribute('data-pwned','1')</script><b>not bold</b>"


def action(thought: str, code: str, *, train: bool = True, kind: str = "action") -> Message:
    return Message(
        role="assistant",
        content=f"Thought: {thought}\nCode:\n```py\n{code}\n```<end_code>",
        kind=kind,
        train=train,
    )


def obs(text: str) -> Message:
    return Message(role="user", content=f"Observation:\n{text}", kind="observation")


def err(text: str) -> Message:
    return Message(role="user", content=f"Observation:\n{text}", kind="error")


def task_msg(q: str) -> list[Message]:
    return [Message(role="system", content=SYSTEM), Message(role="user", content=f"Task: {q}", kind="task")]


def traj(
    id: str,
    task: Task,
    messages: list[Message],
    final: str | None,
    score: float | None,
    *,
    status: str = "ok",
    steps: int | None = None,
    tokens: tuple[int, int] = (100, 50),
    tool_calls: int | None = None,
    error: str | None = None,
) -> Trajectory:
    n_steps = steps if steps is not None else sum(m.role == "assistant" for m in messages)
    return Trajectory(
        id=id,
        task=task,
        agent=AgentInfo(model="teacher-test", role="teacher", prompt_version="codeact/1", seed=0),
        messages=messages,
        final_answer=final,
        score=score,
        stats=TrajectoryStats(
            steps=n_steps,
            prompt_tokens=tokens[0],
            completion_tokens=tokens[1],
            tool_calls=n_steps if tool_calls is None else tool_calls,
            errors=sum(m.kind == "error" for m in messages),
            wall_time_s=1.5,
        ),
        status=status,  # type: ignore[arg-type]
        error=error,
    )


EIFFEL = Task(
    id="hotpotqa:train/eiffel",
    question="In which country is the Eiffel Tower?",
    answer="France",
    domain="qa",
    source="hotpotqa:train",
)
EINSTEIN = Task(
    id="hotpotqa:train/einstein",
    question="Where was Albert Einstein born?",
    answer="Ulm",
    domain="qa",
    source="hotpotqa:train",
    metadata={"aliases": ["Ulm, Germany"]},
)
MULT = Task(
    id="math:train/mult", question="What is 6 times 7?", answer="42", domain="math", source="math:train"
)
DIVIDE = Task(
    id="math:train/divide",
    question="Split 84 apples evenly among 4 boxes: how many per box?",
    answer="21",
    domain="math",
    source="math:train",
)
JANET = Task(id="gsm8k:test/0", question=GSM8K_JANET, answer="18", domain="math", source="gsm8k")
SQUARES = Task(
    id="math:train/squares",
    question="What is the sum of the first 3 squares?",
    answer="14",
    domain="math",
    source="math:train",
)


def correct() -> Trajectory:
    msgs = [
        *task_msg(EIFFEL.question),
        action("I will search for the Eiffel Tower.", 'print(web_search("Eiffel Tower location"))'),
        obs("The Eiffel Tower is a wrought-iron lattice tower in Paris, France."),
        action("It is in Paris, France.", 'final_answer("France")'),
        obs("France"),
    ]
    return traj("ep-correct", EIFFEL, msgs, "France", 1.0)


def wrong() -> Trajectory:
    msgs = [
        *task_msg(EINSTEIN.question),
        action("Search for Einstein's birthplace.", 'print(web_search("Albert Einstein birthplace"))'),
        obs("Albert Einstein was born in Ulm, in the Kingdom of Wurttemberg."),
        action("He grew up in Munich.", 'final_answer("Munich")'),
        obs("Munich"),
    ]
    return traj("ep-wrong", EINSTEIN, msgs, "Munich", 1.0)  # stale stored score: really wrong


def parse_error() -> Trajectory:
    msgs = [
        *task_msg(MULT.question),
        Message(role="assistant", content="Thought: 6 times 7 is 42, easy.", kind="action", train=False),
        err(
            "Error in code parsing: no code block found in the reply\n"
            'Make sure to write "Thought:" and then "Code:" followed by a ```py code block.'
        ),
        action("Compute it in code.", "final_answer(6 * 7)"),
        obs("42"),
    ]
    return traj("ep-parse-error", MULT, msgs, "42", 1.0)


def reflection() -> Trajectory:
    msgs = [
        *task_msg(DIVIDE.question),
        action("Divide 84 by the number of boxes.", "boxes = 0\nprint(84 / boxes)", train=False),
        err(
            "Error: ZeroDivisionError: division by zero\nNow let's retry: take care not to repeat previous errors!"
        ),
        Message(
            role="assistant",
            content=(
                "Reflection: I set boxes to 0 instead of 4, so the division failed.\n"
                "Thought: Use 4 boxes.\nCode:\n```py\nboxes = 4\nfinal_answer(84 // boxes)\n```<end_code>"
            ),
            kind="reflection",
            train=True,
        ),
        obs("21"),
    ]
    return traj("ep-reflection", DIVIDE, msgs, "21", 1.0)


def duplicate() -> Trajectory:
    return correct().model_copy(update={"id": "ep-duplicate"})


def gsm8k() -> Trajectory:
    msgs = [
        *task_msg(JANET.question),
        action("Eggs left: 16 - 3 - 4, each sold for $2.", "final_answer((16 - 3 - 4) * 2)"),
        obs("18"),
    ]
    return traj("ep-gsm8k", JANET, msgs, "18", 1.0)


def failed() -> Trajectory:
    msgs = [*task_msg(MULT.question), action("Compute.", "print(6 * 7)")]
    return traj(
        "ep-failed", MULT, msgs, None, None, status="failed", error="RuntimeError: sandbox worker died"
    )


def max_steps() -> Trajectory:
    msgs = [*task_msg(SQUARES.question)]
    for i in range(1, 7):
        msgs.append(action(f"Try step {i}.", f"print({i} ** 2)"))
        msgs.append(obs(f"{i * i}" + (f"\n{INJECTION}" if i == 1 else "")))
    msgs.append(Message(role="user", content="Give your final answer now.", kind="prompt"))
    msgs.append(Message(role="assistant", content="Final answer: 14", kind="final", train=True))
    return traj("ep-max-steps", SQUARES, msgs, "14", 1.0, status="max_steps", steps=6, tokens=(400, 200))


def all_samples() -> list[Trajectory]:
    """In this order: correct, wrong, parse_error, reflection, duplicate, gsm8k, failed, max_steps."""
    return [correct(), wrong(), parse_error(), reflection(), duplicate(), gsm8k(), failed(), max_steps()]
