"""Realistic training data for the training tests: CodeAct and CoT trajectories.

Questions are from the MATH *training* split (shared/data/math_train/math_1000_20250414.json, ids 1, 4 and
17), never from an evaluation set. The agent text follows the CodeAct contract in DESIGN.md: Thought/Code
steps, ``Observation:`` user messages, a failed step kept with ``train: false`` and followed by a
``Reflection:`` step, and a final answer.
"""

from __future__ import annotations

from pathlib import Path

from agentdistill.schema import AgentInfo, Message, Task, Trajectory, write_trajectories

SYSTEM = (
    "You are an expert assistant who can solve any task using code blobs. To do so, you have been given "
    "access to a list of tools: these tools are basically Python functions which you can call with code.\n"
    "At each step, in the 'Thought:' sequence, you should first explain your reasoning towards solving the "
    "task, then in the 'Code:' sequence, you should write the code in simple Python. The code sequence must "
    "end with '<end_code>' sequence. Use final_answer(x) to return the answer in \\boxed{} form."
)

MATH_TRAIN = [
    ("math-train-4", "Simplify $(2-3z) - (3+4z)$.", "-1-7z"),
    (
        "math-train-1",
        "What is the smallest whole number $b$ such that 62 can be expressed in base $b$ using only three digits?",
        "4",
    ),
    ("math-train-17", "What is the sum of all positive integer divisors of 77?", "96"),
]


def _code(thought: str, code: str) -> str:
    return f"Thought: {thought}\nCode:\n```py\n{code}\n```<end_code>"


def codeact_messages(task_id: str = "math-train-1") -> list[Message]:
    """One self-reflected CodeAct episode: action, observation, failed step, error, reflection, final."""
    question = dict((t, q) for t, q, _ in MATH_TRAIN)[task_id]
    return [
        Message(role="system", content=SYSTEM, kind="prompt"),
        Message(role="user", content=f"New task:\n{question}", kind="task"),
        Message(
            role="assistant",
            kind="action",
            train=True,
            content=_code(
                "Three digits in base b means b**2 <= 62 < b**3. I will test small bases.",
                "for b in range(2, 10):\n    print(b, b**2 <= 62 < b**3)",
            ),
        ),
        Message(
            role="user",
            kind="observation",
            content="Observation:\nExecution logs:\n2 False\n3 False\n4 True\n5 True\n6 True\n7 True\n8 False\n9 False\nLast output from code snippet:\nNone",
        ),
        Message(
            role="assistant",
            kind="action",
            train=False,  # the failed step: kept in context, never learned
            content=_code("The smallest valid base is 4.", "final_answer(smallest_base)"),
        ),
        Message(
            role="user",
            kind="error",
            content="Observation:\nCode execution failed: NameError: name 'smallest_base' is not defined",
        ),
        Message(
            role="assistant",
            kind="reflection",
            train=True,
            content=_code(
                "Reflection: I used a variable I never defined. The logs already show 4 is the first base "
                "that works, so I compute it explicitly and return it.",
                "smallest_base = min(b for b in range(2, 10) if b**2 <= 62 < b**3)\nfinal_answer(f'\\\\boxed{{{smallest_base}}}')",
            ),
        ),
        Message(
            role="user",
            kind="observation",
            content="Observation:\nLast output from code snippet:\n\\boxed{4}",
        ),
        Message(role="assistant", kind="final", train=True, content="The answer is \\boxed{4}."),
    ]


def simple_codeact_messages(task_id: str, question: str, answer: str) -> list[Message]:
    """A short two-step episode (action + observation + final), for the cheap training tests."""
    return [
        Message(role="system", content=SYSTEM, kind="prompt"),
        Message(role="user", content=f"New task:\n{question}", kind="task"),
        Message(
            role="assistant",
            kind="action",
            train=True,
            content=_code("I will compute it with sympy.", f"final_answer('\\\\boxed{{{answer}}}')"),
        ),
        Message(role="user", kind="observation", content=f"Observation:\n\\boxed{{{answer}}}"),
        Message(role="assistant", kind="final", train=True, content=f"The answer is \\boxed{{{answer}}}."),
    ]


def cot_messages(question: str, answer: str) -> list[Message]:
    """A CoT-distillation example: the teacher answers directly, in one trained assistant message."""
    return [
        Message(
            role="system",
            content="Solve the problem step by step. Put the answer in \\boxed{}.",
            kind="prompt",
        ),
        Message(role="user", content=question, kind="task"),
        Message(
            role="assistant",
            kind="cot",
            train=True,
            content=f"Let me work through it step by step.\nAfter simplifying, the result is {answer}.\n"
            f"So the answer is \\boxed{{{answer}}}.",
        ),
    ]


def trajectory(messages: list[Message], task_id: str, question: str, answer: str) -> Trajectory:
    return Trajectory(
        id=f"{task_id}-0",
        task=Task(id=task_id, question=question, answer=answer, domain="math", source="MATH/train"),
        agent=AgentInfo(model="teacher-fixture", role="teacher", prompt_version="codeact-1"),
        messages=messages,
        final_answer=answer,
        score=1.0,
    )


def agent_trajectories() -> list[Trajectory]:
    trajs = [trajectory(codeact_messages("math-train-1"), *MATH_TRAIN[1])]
    for tid, q, a in (MATH_TRAIN[0], MATH_TRAIN[2]):
        trajs.append(trajectory(simple_codeact_messages(tid, q, a), tid, q, a))
    return trajs


def cot_trajectories() -> list[Trajectory]:
    return [trajectory(cot_messages(q, a), tid, q, a) for tid, q, a in MATH_TRAIN]


def write_agent_data(folder: Path, name: str = "shard-00000.jsonl") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    write_trajectories(path, agent_trajectories())
    return path


def write_cot_data(folder: Path, name: str = "cot.jsonl") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    write_trajectories(path, cot_trajectories())
    return path
