"""Writes the synthetic arithmetic task files (seeded, so reruns are identical).

    python configs/data/make_arithmetic.py

* ``arithmetic_train.jsonl`` (24) and ``arithmetic_test.jsonl`` (8): configs/demo.yaml;
* ``arithmetic_pool.jsonl`` (200) and ``arithmetic_heldout.jsonl`` (60): configs/offline-selfdistill.yaml.

Every file uses its own seed and the files are checked to share no question. Generated here, so they are
disjoint from every benchmark's test set.
"""

import json
import random
from pathlib import Path

HERE = Path(__file__).parent
FILES = {  # name: (seed, rows, id prefix)
    "arithmetic_train.jsonl": (0, 24, "train-"),
    "arithmetic_test.jsonl": (1, 8, "test-"),
    "arithmetic_pool.jsonl": (2, 200, "pool-"),
    "arithmetic_heldout.jsonl": (3, 60, "heldout-"),
}


def tasks(seed: int, n: int, prefix: str, taken: set[str]) -> list[dict]:
    rng = random.Random(seed)
    out = []
    while len(out) < n:
        a, b = rng.randint(2, 99), rng.randint(2, 99)
        op = rng.choice(["+", "-", "*"])
        answer = a + b if op == "+" else a - b if op == "-" else a * b
        question = f"What is {a} {op} {b}?"
        if question in taken:
            continue
        taken.add(question)
        out.append({"id": f"{prefix}{len(out)}", "question": question, "answer": str(answer)})
    return out


taken: set[str] = set()
for name, (seed, n, prefix) in FILES.items():
    rows = tasks(seed, n, prefix, taken)
    (HERE / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
