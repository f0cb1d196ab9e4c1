"""Gold-answer transforms by name (``answer_transform:`` in ``benchmarks.yaml``): raw row value -> string."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agentdistill.errors import AgentDistillError
from agentdistill.registry import Registry


def _gsm8k_answer(value: Any) -> str:
    """GSM8K's final answer: the text after ``####``, thousands separators removed."""
    return str(value).rsplit("####", 1)[-1].strip().replace(",", "")


def _number_answer(value: Any) -> str:
    """A number as its shortest string (``27.0`` -> ``27``); non-numbers unchanged."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return str(int(number)) if number.is_integer() else repr(number)


ANSWER_TRANSFORMS: Registry[Callable[[Any], str]] = Registry(
    "answer transform", {"gsm8k": _gsm8k_answer, "number": _number_answer}, error=AgentDistillError
)
"""How a benchmark's raw gold answer becomes a string (``answer_transform:`` in ``benchmarks.yaml``)."""


def transform_answer(value: Any, transform: str | None) -> str | None:
    """Gold answers as strings: a named transform (``gsm8k``, ``number``); floats like ``27.0`` as ``27``."""
    if value is None:
        return None
    if transform is not None:
        return ANSWER_TRANSFORMS.get(transform)(value)
    if isinstance(value, float):
        return _number_answer(value)
    return str(value)
