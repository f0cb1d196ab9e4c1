"""Writes the synthetic arithmetic task files (seeded, so reruns are identical).

    python configs/data/make_arithmetic.py

* ``arithmetic_train.jsonl`` (24) and ``arithmetic_test.jsonl`` (8): configs/demo.yaml;
* ``arithmetic_pool.jsonl`` (200) and ``arithmetic_heldout.jsonl`` (60): configs/offline-selfdistill.yaml;
* ``arithmetic_phrased_pool.jsonl`` (200) and ``arithmetic_phrased_heldout.jsonl`` (100): the same two-operand
  sums, differences and products asked in words ("Subtract 17 from 34.", "There are 6 boxes with 12 pens in
  each..."), a harder set for the distilled student (trained on "What is a op b?" only); configs/rl-offline.yaml.

Every file uses its own seed and no two files share a question, nor the same operands and operation asked
another way. Generated here, so they are disjoint from every benchmark's test set.
"""

import json
import random
from pathlib import Path

HERE = Path(__file__).parent
PLAIN = {  # name: (seed, rows, id prefix)
    "arithmetic_train.jsonl": (0, 24, "train-"),
    "arithmetic_test.jsonl": (1, 8, "test-"),
    "arithmetic_pool.jsonl": (2, 200, "pool-"),
    "arithmetic_heldout.jsonl": (3, 60, "heldout-"),
}
PHRASED = {
    "arithmetic_phrased_pool.jsonl": (4, 200, "phrased-pool-"),
    "arithmetic_phrased_heldout.jsonl": (5, 100, "phrased-heldout-"),
}
# {a} and {b} in the order the operation takes them: a + b, a - b, a * b
WORDINGS = {
    "+": [
        "Add {a} and {b}.",
        "What is the sum of {a} and {b}?",
        "Compute {a} plus {b}.",
        "Sam has {a} marbles and finds {b} more. How many marbles does Sam have now?",
    ],
    "-": [
        "Subtract {b} from {a}.",
        "How much is {a} minus {b}?",
        "Take {b} away from {a}. What is left?",
        "A tank holds {a} liters of water and {b} liters are drained. How many liters remain?",
    ],
    "*": [
        "Multiply {a} by {b}.",
        "What is the product of {a} and {b}?",
        "Compute {a} times {b}.",
        "There are {a} boxes with {b} pens in each box. How many pens are there in all?",
    ],
}
STORIES = {w for ws in WORDINGS.values() for w in ws if w.count(".") + w.count("?") > 1}


def operands(rng: random.Random) -> tuple[int, str, int, int]:
    a, b = rng.randint(2, 99), rng.randint(2, 99)
    op = rng.choice(["+", "-", "*"])
    return a, op, b, a + b if op == "+" else a - b if op == "-" else a * b


def plain_tasks(seed: int, n: int, prefix: str, taken: set[str]) -> list[dict]:
    rng = random.Random(seed)
    out = []
    while len(out) < n:
        a, op, b, answer = operands(rng)
        question = f"What is {a} {op} {b}?"
        if question in taken:
            continue
        taken.add(question)
        out.append({"id": f"{prefix}{len(out)}", "question": question, "answer": str(answer)})
    return out


def phrased_tasks(seed: int, n: int, prefix: str, taken: set[str]) -> list[dict]:
    rng = random.Random(seed)
    out = []
    while len(out) < n:
        a, op, b, answer = operands(rng)
        wording = rng.choice(WORDINGS[op])
        if op == "-" and wording in STORIES and a < b:  # nothing drains more water than the tank holds
            continue
        # the same sum asked another way is the same question: "What is 4 * 53?" = "Compute 53 times 4."
        keys = {f"What is {a} {op} {b}?", f"What is {b} {op} {a}?" if op != "-" else ""} - {""}
        if keys & taken:
            continue
        taken |= keys
        question = wording.format(a=a, b=b)
        out.append({"id": f"{prefix}{len(out)}", "question": question, "answer": str(answer)})
    return out


if __name__ == "__main__":
    taken: set[str] = set()
    for name, (seed, n, prefix) in PLAIN.items():
        rows = plain_tasks(seed, n, prefix, taken)
        (HERE / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    for name, (seed, n, prefix) in PHRASED.items():
        rows = phrased_tasks(seed, n, prefix, taken)
        (HERE / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
