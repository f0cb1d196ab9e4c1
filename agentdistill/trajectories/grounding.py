"""Grounded answers: was an episode's final answer produced by executed code, or written down unearned?

A student trained on ``final_answer("\\\\boxed{2291}")`` written in the first step learns to guess; trained
on ``x = 79 * 29`` then ``final_answer(x)`` it learns to compute. An episode's answer is *grounded* when

* ``computed``: the argument of the ``final_answer(...)`` call that ended it is an expression the sandbox
  evaluated (a variable, arithmetic, a function call), not a bare literal; or
* ``observed``: it is a literal (or the max-steps fallback's text) whose value an *earlier* observation
  showed, i.e. the code printed it before the model wrote it down.

Otherwise the rule that failed is ``guessed`` (a literal nothing showed before) or, for episodes that never
called ``final_answer``, ``unanswered``. Independently, ``hint_leak`` flags an episode whose trained
messages contain the gold answer before any observation produced it: with ``reference_hint`` the teacher
saw the gold answer, and a stored message that repeats it unearned is a shortcut, not a solution.
"""

from __future__ import annotations

import ast
import dataclasses
import re

from agentdistill.agents.parsing import parse_action
from agentdistill.schema import Trajectory
from agentdistill.tasks.math_match import extract_math_answer, numbers_close, parse_number
from agentdistill.tasks.qa_match import normalize_answer

_NUMBER = re.compile(r"[-+]?\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?")
_WRAPPERS = {"str", "int", "float", "repr"}


@dataclasses.dataclass(frozen=True)
class Grounding:
    """Why an episode's final answer is or is not grounded (``rule``), and whether a hint leaked."""

    grounded: bool
    rule: str
    """``computed``, ``observed``, ``guessed`` or ``unanswered``."""
    hint_leak: bool = False


def final_answer_argument(code: str) -> ast.expr | None:
    """The argument expression of the last ``final_answer(...)`` call in ``code`` (None if none parses)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    calls = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "final_answer" and n.args
    ]
    return max(calls, key=lambda n: (n.lineno, n.col_offset)).args[0] if calls else None


def is_literal(node: ast.expr) -> bool:
    """A value written down rather than computed: a constant, a signed constant, an f-string of constants,
    or ``str(...)``/``int(...)``/``float(...)`` of one of those."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        return is_literal(node.operand)
    if isinstance(node, ast.JoinedStr):
        return all(
            isinstance(v, ast.Constant) or (isinstance(v, ast.FormattedValue) and is_literal(v.value))
            for v in node.values
        )
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _WRAPPERS:
        return len(node.args) == 1 and not node.keywords and is_literal(node.args[0])
    return False


def shows_value(text: str, value: str, domain: str) -> bool:
    """Whether an observation's text shows ``value``: as a number (math, with tolerance) or as the
    normalised answer phrase (QA and other)."""
    if not value.strip():
        return False
    if domain == "math":
        target = parse_number(extract_math_answer(value))
        if target is not None:
            return any(
                (n := parse_number(m.group(0).replace(",", ""))) is not None and numbers_close(n, target)
                for m in _NUMBER.finditer(text)
            )
        return extract_math_answer(value).replace(" ", "") in text.replace(" ", "")
    phrase = normalize_answer(value)
    return bool(phrase) and phrase in normalize_answer(text)


def _observations_before(trajectory: Trajectory, index: int) -> str:
    return "\n".join(
        m.content
        for m in trajectory.messages[:index]
        if m.role == "user" and m.kind in ("observation", "error")
    )


def grounding(trajectory: Trajectory) -> Grounding:
    """How the trajectory's final answer came about (see the module docstring)."""
    messages = trajectory.messages
    domain = trajectory.task.domain
    rule = "unanswered"
    for i in range(len(messages) - 1, -1, -1):
        m = messages[i]
        if m.role != "assistant":
            continue
        if m.kind == "final":  # the max-steps fallback: text, never executed
            value = trajectory.final_answer or ""
            rule = (
                "observed" if shows_value(_observations_before(trajectory, i), value, domain) else "guessed"
            )
            break
        code = parse_action(m.content).code
        arg = final_answer_argument(code) if code else None
        if arg is None:
            continue
        if not is_literal(arg):
            rule = "computed"
        else:
            value = trajectory.final_answer or _literal_text(arg)
            rule = (
                "observed" if shows_value(_observations_before(trajectory, i), value, domain) else "guessed"
            )
        break
    return Grounding(rule in ("computed", "observed"), rule, hint_leak=leaks_gold(trajectory))


def leaks_gold(trajectory: Trajectory) -> bool:
    """Whether a trained message's prose (thought, reflection, a fallback answer) states the gold answer
    before any observation showed it, and the question itself does not contain it. Code is left out:
    numbers in code are inputs to a computation (``round(x, 2)``), and a literal passed to
    ``final_answer`` is the ``grounded`` rule's business."""
    gold = trajectory.task.answer
    domain = trajectory.task.domain
    if not gold or shows_value(trajectory.task.question, gold, domain):
        return False
    seen = ""
    for m in trajectory.messages:
        if m.role == "user" and m.kind in ("observation", "error"):
            seen += "\n" + m.content
        elif (
            m.role == "assistant"
            and m.train
            and shows_value(_prose(m.content), gold, domain)
            and not shows_value(seen, gold, domain)
        ):
            return True
    return False


def _prose(text: str) -> str:
    """An assistant message without its code: the thought and reflection of a step, or plain text."""
    parsed = parse_action(text)
    if parsed.code is None:
        return text
    return f"{parsed.reflection or ''}\n{parsed.thought}"


def _literal_text(node: ast.expr) -> str:
    try:
        return str(ast.literal_eval(node))
    except (ValueError, SyntaxError, TypeError):
        return ast.unparse(node)
