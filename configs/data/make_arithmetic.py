"""Writes the synthetic arithmetic task files used by configs/demo.yaml (seeded, so reruns are identical).

    python configs/data/make_arithmetic.py

Train and test use different seeds and are checked to share no question. Generated here, so they are
disjoint from every benchmark's test set.
"""

import json
import random
from pathlib import Path

HERE = Path(__file__).parent


def tasks(seed: int, n: int, prefix: str) -> list[dict]:
    rng = random.Random(seed)
    out = []
    while len(out) < n:
        a, b = rng.randint(2, 99), rng.randint(2, 99)
        op = rng.choice(["+", "-", "*"])
        answer = a + b if op == "+" else a - b if op == "-" else a * b
        out.append({"id": f"{prefix}{len(out)}", "question": f"What is {a} {op} {b}?", "answer": str(answer)})
    return out


train, test = tasks(0, 24, "train-"), tasks(1, 8, "test-")
assert not {t["question"] for t in train} & {t["question"] for t in test}
for name, rows in (("arithmetic_train.jsonl", train), ("arithmetic_test.jsonl", test)):
    (HERE / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
