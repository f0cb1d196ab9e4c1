"""Math answers: find the answer in a model's text, then compare it with the gold one.

The answer is the content of the last ``\\boxed{...}`` (nested braces handled), else the text after a
"final answer" / "the answer is" marker (a trailing parenthetical remark dropped), else the whole text.
Comparison: numbers (thousands separators, ``$``, ``%`` and
trailing units removed) with a relative tolerance, for GSM-style float answers; otherwise math-verify's
``verify(parse(gold), parse(pred))``, which knows that ``\\frac{1}{2}`` is ``0.5``. Against a plain-number
gold answer, an unevaluated arithmetic expression (``79 * 29``, ``12 + 5``) is wrong even when it equals the
gold: a model that echoes the question has not answered it.

math-verify's own timeouts use ``signal.alarm``, which works only in a process's main thread; scoring from
any other thread (the agent's event loop, evaluation workers) runs math-verify in a helper process that is
killed and replaced when a comparison exceeds :data:`VERIFY_TIMEOUT_S`, so scoring never hangs.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable
from typing import Any

_BOXED = re.compile(r"\\(?:boxed|fbox)\s*")
_FINAL = re.compile(r"(?:\bfinal answer\s*(?:is\b)?|\bthe answer is\b)\s*[:=]?\s*", re.IGNORECASE)
_REMARK = re.compile(r"\s*\([^()]*\)\s*$")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_TEXT = re.compile(r"\\(?:text|textbf|mathrm|mbox)\{([^{}]*)\}")
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_UNIT_TAIL = re.compile(r"^\s*(?:[a-zA-Z][a-zA-Z .²³/]*)?\s*$")
_ARITHMETIC = re.compile(r"[\d)}]\s*(?:[-+*/×·^]|\\times|\\cdot|\\div|÷)\s*[-+(\\{]?\s*\d")
REL_TOL = 1e-4
VERIFY_TIMEOUT_S = 5
"""Seconds one math-verify parse or comparison may take before it counts as not equal."""


def last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` / ``\\fbox{...}`` (or ``\\boxed 5``), braces balanced."""
    matches = list(_BOXED.finditer(text))
    for m in reversed(matches):
        i = m.end()
        if i < len(text) and text[i] == "{":
            depth = 0
            for j in range(i, len(text)):
                if text[j] == "{":
                    depth += 1
                elif text[j] == "}":
                    depth -= 1
                    if depth == 0:
                        return text[i + 1 : j].strip()
            continue  # unbalanced: try an earlier one
        bare = re.match(r"[^\s$]+", text[i:])
        if bare:
            return bare.group(0)
    return None


def extract_math_answer(text: str | None) -> str:
    """The answer part of a model's text: last ``\\boxed{}``, else the first line after the last
    "final answer" / "the answer is" (without a trailing ``(remark)``), else all of it."""
    if text is None:
        return ""
    text = str(text).strip()
    if (boxed := last_boxed(text)) is not None:
        return boxed
    finals = list(_FINAL.finditer(text))
    if finals:
        tail = text[finals[-1].end() :].strip()
        if tail:
            line = tail.splitlines()[0].strip().rstrip(".")
            return _REMARK.sub("", line).rstrip(".").strip() or line
    return text


def parse_number(text: str) -> float | None:
    """A plain number from an answer (``1,000``, ``$18``, ``25%``, ``10 cm``, ``\\$5.50``), else None."""
    s = _TEXT.sub(r" \1", text)
    s = s.replace("\\$", "").replace("$", "").replace("\\%", "").replace("%", "").replace("\\!", "")
    s = s.replace("\\,", "").replace("{,}", ",").strip()
    s = _THOUSANDS.sub("", s)
    m = _NUMBER.match(s)
    if m is None or not _UNIT_TAIL.match(s[m.end() :]):
        return None
    try:
        return float(m.group(0))
    except ValueError:
        return None


def numbers_close(a: float, b: float, rel_tol: float = REL_TOL) -> bool:
    """Equal within a relative tolerance (absolute near zero)."""
    return math.isclose(a, b, rel_tol=rel_tol, abs_tol=1e-9)


def _wrap(expr: str) -> str:
    return expr if "$" in expr else f"${expr}$"


def verify_expressions(gold: str, pred: str) -> bool:
    """math-verify equivalence of two answer strings, never longer than about :data:`VERIFY_TIMEOUT_S`.

    In the main thread math-verify's own (signal) timeouts apply; elsewhere the comparison runs in the
    helper process of :class:`_VerifyProcess`.
    """
    if threading.current_thread() is threading.main_thread():
        return _verify(gold, pred, VERIFY_TIMEOUT_S)
    return _VerifyProcess.shared().verify(gold, pred)


def _verify(gold: str, pred: str, timeout: int | None) -> bool:
    from math_verify import parse, verify

    kw = {"parsing_timeout": timeout}
    try:
        gold_parsed = parse(_wrap(gold), **kw) or parse(gold, **kw)
        pred_parsed = parse(_wrap(pred), **kw) or parse(pred, **kw)
        if not gold_parsed or not pred_parsed:
            return False
        return bool(verify(gold_parsed, pred_parsed, timeout_seconds=timeout))
    except Exception:  # math-verify raises on exotic input (and on timeouts); such an answer is not equal
        return False


def _verify_in_worker(gold: str, pred: str) -> bool:
    """Runs in the helper process's main thread, where math-verify's timeouts work."""
    return _verify(gold, pred, VERIFY_TIMEOUT_S)


class _VerifyProcess:
    """One spawned helper process for math-verify calls from non-main threads (calls are serialised).

    A call that does not return within the timeout (plus start-up grace) terminates the process; the next
    call starts a fresh one.
    """

    _shared: _VerifyProcess | None = None
    _shared_lock = threading.Lock()

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool: Any = None

    @classmethod
    def shared(cls) -> _VerifyProcess:
        with cls._shared_lock:
            if cls._shared is None:
                cls._shared = cls()
            return cls._shared

    def verify(
        self,
        gold: str,
        pred: str,
        timeout_s: float | None = None,
        fn: Callable[[str, str], bool] | None = None,
    ) -> bool:
        """``fn(gold, pred)`` (default: math-verify) in the helper process; False past ``timeout_s``."""
        import multiprocessing

        limit = float(VERIFY_TIMEOUT_S * 2 if timeout_s is None else timeout_s)
        with self._lock:
            fresh = self._pool is None
            if fresh:
                self._pool = multiprocessing.get_context("spawn").Pool(1)
            try:
                # the first call also pays for starting the process and importing math-verify
                return bool(
                    self._pool.apply_async(fn or _verify_in_worker, (gold, pred)).get(limit + 30 * fresh)
                )
            except multiprocessing.TimeoutError:
                self.close_locked()
                return False

    def close_locked(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None


def math_equal(prediction: str | None, gold: str | None) -> tuple[bool, str]:
    """(correct, extracted answer) for a model's text against a gold answer."""
    if prediction is None or gold is None:
        return False, ""
    pred = extract_math_answer(prediction)
    ref = extract_math_answer(gold)
    if not pred:
        return False, pred
    pn, gn = parse_number(pred), parse_number(ref)
    if pn is not None and gn is not None:
        return numbers_close(pn, gn), pred
    if gn is not None and _ARITHMETIC.search(pred):
        return False, pred
    if normalize_expression(pred) == normalize_expression(ref):
        return True, pred
    return verify_expressions(ref, pred), pred


def normalize_expression(s: str) -> str:
    """An answer expression without spacing, ``\\left``/``\\right``, thin spaces, ``$`` and case."""
    return re.sub(r"\s+|\\left|\\right|\\!|\\,", "", s).strip("$. ").lower()
