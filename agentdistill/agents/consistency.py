"""Self-consistent action generation: pick one of N candidate steps by voting on what they did.

Each candidate ran in its own fork of the sandbox state. Candidates that failed (no code, an exception,
a broken limit) are dropped; the rest vote by majority over their normalised final answer (if they gave
one, compared with the metric's own extractor: :func:`agentdistill.tasks.metrics.answer_key`) or their
normalised observation. Ties go to the group with the higher mean log-probability, else
to the earliest candidate. If none survives, the first candidate is kept so the agent sees its error.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from agentdistill.agents.parsing import ParsedAction
from agentdistill.schema import ExecResult
from agentdistill.tasks.metrics import answer_key

AnswerKey = Callable[[Any], str]


@dataclass
class Candidate:
    """One sampled step, parsed and (if it had code) executed in its own fork."""

    text: str
    parsed: ParsedAction
    result: ExecResult | None = None
    mean_logprob: float | None = None
    fork: int | None = None
    """Which fork ran it (None: not run, e.g. a parse failure)."""

    @property
    def survived(self) -> bool:
        return self.parsed.ok and self.result is not None and self.result.error is None


def normalise_answer(value: Any, domain: str = "math") -> str:
    """The vote key of a final answer: the scoring extractor's reading of it (see ``answer_key``)."""
    return answer_key(value, domain)


def normalise_observation(text: str) -> str:
    return " ".join(text.split())


def vote_key(c: Candidate, key: AnswerKey = normalise_answer) -> tuple[str, str]:
    assert c.result is not None
    if c.result.is_final:
        return ("final", key(c.result.final_answer))
    value = getattr(c.result, "value", None)
    return ("observation", normalise_observation(c.result.stdout + ("" if value is None else str(value))))


def choose(candidates: Sequence[Candidate], key: AnswerKey = normalise_answer) -> int:
    """Index of the winning candidate (see module docstring); ``key`` reads final answers (the task
    domain's :func:`~agentdistill.tasks.metrics.answer_key`)."""
    groups: dict[tuple[str, str], list[int]] = {}
    for i, c in enumerate(candidates):
        if c.survived:
            groups.setdefault(vote_key(c, key), []).append(i)
    if not groups:
        return 0

    def rank(members: list[int]) -> tuple[int, float, int]:
        lps = [candidates[i].mean_logprob for i in members]
        mean_lp = sum(lps) / len(lps) if all(lp is not None for lp in lps) else -math.inf  # type: ignore[misc]
        return (len(members), mean_lp, -members[0])

    return max(groups.values(), key=rank)[0]
