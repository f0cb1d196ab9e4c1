"""Math scoring: \\boxed{} extraction (nesting), math-verify equivalences, numeric tolerance, units."""

from __future__ import annotations

import threading
import time

import pytest

from agentdistill.schema import Task
from agentdistill.tasks.math_match import extract_math_answer, last_boxed, math_equal, parse_number
from agentdistill.tasks.metrics import score
from agentdistill.tasks.specs import transform_answer


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (r"so \boxed{5}.", "5"),
        (r"first \boxed{1} then \boxed{\frac{a}{b}}", r"\frac{a}{b}"),
        (r"\boxed{\frac{\sqrt{2}}{2}}", r"\frac{\sqrt{2}}{2}"),
        (r"\boxed{\left( 3, \frac{\pi}{2} \right)}", r"\left( 3, \frac{\pi}{2} \right)"),
        (r"\boxed{x^{2^{3}}} and \boxed{unclosed", "x^{2^{3}}"),  # an unbalanced last box is skipped
        (r"\fbox{7}", "7"),
        (r"\boxed 42", "42"),
        ("no box here", None),
    ],
)
def test_last_boxed_handles_nesting(text, expected):
    assert last_boxed(text) == expected


@pytest.mark.parametrize(
    ("pred", "gold"),
    [
        (r"\frac{1}{2}", "0.5"),
        (r"The answer is $\boxed{\frac{1}{2}}$", "0.5"),
        (r"\boxed{\dfrac{3}{4}}", "0.75"),
        (r"\boxed{\frac{\sqrt{2}}{2}}", r"\frac{1}{\sqrt{2}}"),
        (r"\boxed{(3, \frac{\pi}{2})}", r"\left( 3, \frac{\pi}{2} \right)"),
        (r"\boxed{(-\infty,-8]\cup [8,\infty)}", r"(-\infty,-8]\cup [8,\infty)"),
        (r"\boxed{1,000}", "1000"),  # thousands separator
        ("1,234,567", "1234567"),
        (r"\boxed{\$18}", "18"),  # currency
        ("18 dollars", "18"),  # unit words
        (r"\boxed{10\text{ cm}}", "10"),  # LaTeX unit
        ("25%", "25"),
        ("13138980", "13138980.0"),  # GSM-Hard float gold
        ("2.3333", "2.33333333"),  # within the relative tolerance
        ("Final answer: 42", "42"),
        (r"\boxed{\boxed{7}}", "7"),
    ],
)
def test_equivalent(pred, gold):
    ok, _ = math_equal(pred, gold)
    assert ok, (pred, gold)


@pytest.mark.parametrize(
    ("pred", "gold"),
    [
        (r"\boxed{5}", "6"),
        ("2.33", "2.3333333"),  # outside the tolerance
        (r"\boxed{\frac{1}{3}}", "0.5"),
        ("1,2", "12"),  # not a thousands separator
        ("", "1"),
        (r"\boxed{(3, \pi)}", r"\left( 3, \frac{\pi}{2} \right)"),
    ],
)
def test_not_equivalent(pred, gold):
    assert not math_equal(pred, gold)[0], (pred, gold)


def test_parse_number_and_extraction():
    assert parse_number("1,000") == 1000
    assert parse_number(r"\$5.50") == 5.5
    assert parse_number("x + 1") is None
    assert extract_math_answer("We get 3.\nFinal answer: 12 apples") == "12 apples"
    assert extract_math_answer(r"...\boxed{3} hence") == "3"


def test_gold_transforms():
    assert transform_answer("She makes 9 * 2 = $18\n#### 1,818", "gsm8k") == "1818"
    assert transform_answer(13138980.0, "number") == "13138980"
    assert transform_answer(2.5, None) == "2.5"
    assert transform_answer(None, "number") is None


def test_score_math_task_and_thread_safety():
    task = Task(id="m", question="q", answer=r"\frac{1}{2}", domain="math")
    s = score(task, r"so the result is \boxed{0.5}")
    assert s == {"score": 1.0, "correct": True, "extracted": "0.5", "metric": "math_verify"}
    results = []
    # Trajectory filters may score from worker threads, where math-verify's signal timeouts cannot work.
    t = threading.Thread(target=lambda: results.append(score(task, r"\boxed{\frac{2}{4}}")["correct"]))
    t.start()
    t.join()
    assert results == [True]
    assert score(Task(id="n", question="q", answer=None, domain="math"), "1")["score"] == 0.0


@pytest.mark.parametrize(
    ("prediction", "gold", "correct"),
    [
        ("79 * 29", "2291", False),  # the question echoed back is not an answer
        ("\\boxed{79 \\times 29}", "2291", False),
        ("Final answer: 12 - 7", "5", False),
        ("2291", "2291", True),
        ("\\boxed{2,291}", "2291", True),
        ("-5", "-5", True),
        ("\\frac{1}{2}", "0.5", True),  # a fraction is a value, not a computation left undone
        ("3x+2", "3x+2", True),  # symbolic gold answers still compare by math-verify
    ],
)
def test_unevaluated_arithmetic_is_not_a_numeric_answer(prediction, gold, correct):
    assert math_equal(prediction, gold)[0] is correct


@pytest.mark.parametrize(
    ("prediction", "gold", "correct"),
    [
        ("12/4", "3", False),  # division left undone is an expression, like 12 * 4
        ("\\boxed{12 / 4}", "3", False),
        ("Final answer: 42 (the answer rounded)", "42", True),  # a bare "answer" in a remark is no marker
        ("The answer is 17.", "17", True),
        ("60 km/h", "60", True),  # a unit with a slash is still a unit
    ],
)
def test_division_and_answer_markers(prediction, gold, correct):
    assert math_equal(prediction, gold)[0] is correct


def test_extract_math_answer_markers():
    assert extract_math_answer("Final answer: 42 (the answer rounded)") == "42"
    assert extract_math_answer("I think the answer is: 5.\nDone") == "5"
    assert extract_math_answer("my answer 7") == "my answer 7"  # no marker: the whole text


def _hang(gold: str, pred: str) -> bool:  # runs in the helper process
    import time

    time.sleep(60)
    return True


def test_math_verify_off_the_main_thread_times_out_instead_of_hanging():
    from agentdistill.tasks.math_match import _VerifyProcess

    helper = _VerifyProcess()
    try:
        assert helper.verify(r"\frac{1}{2}", "0.5") is True  # starts the process
        started = time.monotonic()
        assert helper.verify("1", "1", timeout_s=1.0, fn=_hang) is False
        assert time.monotonic() - started < 15
        assert helper.verify("x+1", "1+x") is True  # a fresh process answers after the kill
    finally:
        helper.close_locked()
