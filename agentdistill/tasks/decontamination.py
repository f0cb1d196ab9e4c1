"""The normalised questions of every registered evaluation set, for generation's decontamination filter.

Training on a test question would inflate every score we report, so generation drops any task whose
normalised question is in this set. Computed once per data directory and cached.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from agentdistill.tasks.registry import list_benchmarks, resolve_data_dir
from agentdistill.tasks.specs import read_rows

_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


def normalize_question(text: str) -> str:
    """Lowercase, punctuation and whitespace collapsed: robust to formatting, not to rewording."""
    return " ".join(_NON_WORD.sub(" ", text.lower()).split())


def eval_questions(data_dir: str | Path | None = None) -> frozenset[str]:
    """Normalised questions of all evaluation splits (training pools excluded) found in the data dir.

    Files missing from the data directory are skipped (a user's data dir may hold only some benchmarks);
    the bundled samples are always included.
    """
    root, bundled = resolve_data_dir(data_dir)
    return _questions(str(root.resolve())) | (frozenset() if bundled else _questions(None))


def is_contaminated(question: str, data_dir: str | Path | None = None) -> bool:
    """Whether a question (normalised) appears in a registered evaluation set."""
    return normalize_question(question) in eval_questions(data_dir)


@functools.lru_cache(maxsize=8)
def _questions(root: str | None) -> frozenset[str]:
    base = resolve_data_dir(None)[0] if root is None else Path(root)
    found: set[str] = set()
    for bench in list_benchmarks():
        for split in bench.splits.values():
            if not (bench.eval and split.eval):
                continue
            qfield = split.fields["question"]
            for path in split.paths(base):
                if path.is_file():
                    found.update(
                        normalize_question(row[qfield])
                        for _, _, row in read_rows(path)
                        if isinstance(row.get(qfield), str)
                    )
    return frozenset(found)
