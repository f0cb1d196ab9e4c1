"""The generated arithmetic files: reproducible, and no two of them share a question or a sum asked another way."""

import itertools
import json
import re
import runpy
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "configs" / "data"


def rows(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / name).read_text().splitlines()]


def test_files_are_what_the_generator_writes():
    gen = runpy.run_path(str(DATA / "make_arithmetic.py"))  # not as __main__: writes nothing
    taken: set[str] = set()
    for name, (seed, n, prefix) in gen["PLAIN"].items():
        assert gen["plain_tasks"](seed, n, prefix, taken) == rows(name), name
    for name, (seed, n, prefix) in gen["PHRASED"].items():
        assert gen["phrased_tasks"](seed, n, prefix, taken) == rows(name), name


def test_no_question_or_operands_shared_between_files_and_answers_hold():
    def key(row: dict) -> tuple:  # the operands (in any order) and the answer: the same sum, however asked
        a, b = map(int, re.findall(r"\d+", row["question"]))
        assert int(row["answer"]) in (a + b, a - b, b - a, a * b), row
        return frozenset((a, b)), row["answer"]

    files = sorted(p.name for p in DATA.glob("arithmetic_*.jsonl"))
    assert {"arithmetic_phrased_pool.jsonl", "arithmetic_phrased_heldout.jsonl"} <= set(files)
    keys = {name: {key(r) for r in rows(name)} for name in files}
    questions = {name: {r["question"] for r in rows(name)} for name in files}
    for x, y in itertools.combinations(files, 2):
        assert not questions[x] & questions[y], (x, y)
        assert not keys[x] & keys[y], (x, y)
    assert len(rows("arithmetic_phrased_heldout.jsonl")) == 100
