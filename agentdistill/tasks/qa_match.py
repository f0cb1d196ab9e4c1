"""QA exact match and F1 with the official HotpotQA normalisation (hotpot_evaluate_v1.py).

Kept byte-for-byte equivalent in behaviour to the reference script, so our numbers are comparable with
published ones: lowercase, drop punctuation, drop the articles a/an/the, collapse whitespace; F1 is zero
when either side normalises to yes/no/noanswer and the two differ.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterable

_PUNCT = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_SPECIAL = ("yes", "no", "noanswer")


def normalize_answer(text: str) -> str:
    """The reference normalisation: lower, remove punctuation, remove articles, fix whitespace."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCT)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match(prediction: str, gold: str) -> float:
    """1.0 if both normalise to the same string."""
    return float(normalize_answer(prediction) == normalize_answer(gold))


def f1_precision_recall(prediction: str, gold: str) -> tuple[float, float, float]:
    """Token-overlap F1, precision and recall with the yes/no/noanswer rule."""
    pred, ref = normalize_answer(prediction), normalize_answer(gold)
    if (pred in _SPECIAL or ref in _SPECIAL) and pred != ref:
        return 0.0, 0.0, 0.0
    pred_tokens, ref_tokens = pred.split(), ref.split()
    same = sum((Counter(pred_tokens) & Counter(ref_tokens)).values())
    if same == 0:
        return 0.0, 0.0, 0.0
    precision, recall = same / len(pred_tokens), same / len(ref_tokens)
    return 2 * precision * recall / (precision + recall), precision, recall


def f1_score(prediction: str, gold: str) -> float:
    """Token-overlap F1 (see :func:`f1_precision_recall`)."""
    return f1_precision_recall(prediction, gold)[0]


def qa_scores(prediction: str | None, golds: Iterable[str]) -> dict[str, float]:
    """``{"em", "f1"}``: each the maximum over the gold answer and its aliases."""
    golds = [g for g in golds if g is not None]
    if prediction is None or not golds:
        return {"em": 0.0, "f1": 0.0}
    return {
        "em": max(exact_match(prediction, g) for g in golds),
        "f1": max(f1_score(prediction, g) for g in golds),
    }
