"""Exports read back (HF dataset, OpenAI and ShareGPT JSONL) and imports of foreign formats."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import datasets
import pytest

from agentdistill.trajectories import filters as F
from agentdistill.trajectories.formats import (
    ExportError,
    ImportFormatError,
    export_trajectories,
    from_hf_dataset,
    import_agent_distillation,
    import_r1_searcher,
    import_trajectories,
)

from .samples import all_samples

DATA = Path(__file__).parent / "data"
AD_SAMPLE = DATA / "agent_distillation_sample.jsonl"


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_hf_export_round_trip(tmp_path):
    samples = all_samples()
    n = export_trajectories(samples, tmp_path / "ds", "hf")
    assert n == len(samples)
    ds = datasets.load_from_disk(str(tmp_path / "ds"))
    assert len(ds) == len(samples)
    assert ds["id"] == [t.id for t in samples]
    assert ds["status"] == [t.status for t in samples]
    assert ds["score"] == [t.score for t in samples]
    first = ds[3]  # the reflection episode: masked failed step, trained reflection
    assert [m["train"] for m in first["messages"]] == [m.train for m in samples[3].messages]
    assert [m["kind"] for m in first["messages"]] == [m.kind for m in samples[3].messages]
    # exact round trip through the full-record column
    assert list(from_hf_dataset(ds)) == samples


def test_openai_export(tmp_path):
    samples = all_samples()
    out = tmp_path / "sub" / "openai.jsonl"
    assert export_trajectories(samples, out, "openai") == len(samples)
    rows = read_jsonl(out)
    assert len(rows) == len(samples)
    for row, t in zip(rows, samples, strict=True):
        assert set(row) == {"messages"}
        assert [(m["role"], m["content"]) for m in row["messages"]] == [
            (m.role, m.content) for m in t.messages
        ]
        for m, orig in zip(row["messages"], t.messages, strict=True):
            if orig.role == "assistant":
                assert m["weight"] == int(orig.train)
            else:
                assert "weight" not in m  # OpenAI accepts weight on assistant messages only
    reflection = rows[3]["messages"]
    assert [m.get("weight") for m in reflection if m["role"] == "assistant"] == [0, 1]


def test_sharegpt_export(tmp_path):
    samples = all_samples()
    out = tmp_path / "sharegpt.jsonl"
    export_trajectories(samples, out, "sharegpt")
    rows = read_jsonl(out)
    conv = rows[0]["conversations"]
    assert [c["from"] for c in conv] == ["system", "human", "gpt", "human", "gpt", "human"]
    assert conv[2]["value"] == samples[0].messages[2].content and conv[2]["weight"] == 1
    # max-steps episode: the last observation and the "final answer now" prompt merge into one human turn
    last = rows[7]["conversations"]
    froms = [c["from"] for c in last]
    assert all(a != b for a, b in itertools.pairwise(froms[1:])), "human and gpt turns must alternate"
    assert last[-2]["from"] == "human" and last[-2]["value"].endswith("Give your final answer now.")
    assert last[-1] == {"from": "gpt", "value": "Final answer: 14", "weight": 1}


def test_export_errors(tmp_path, monkeypatch):
    with pytest.raises(ExportError, match="unknown export format"):
        export_trajectories(all_samples(), tmp_path / "x", "csv")
    with pytest.raises(ExportError, match="hf only"):
        export_trajectories(all_samples(), tmp_path / "x.jsonl", "openai", push="me/ds")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ExportError, match="HF_HUB_OFFLINE"):
        export_trajectories(all_samples(), tmp_path / "ds", "hf", push="me/ds")


def test_import_agent_distillation_fixture():
    ts = list(import_agent_distillation(AD_SAMPLE))
    assert [t.id for t in ts] == [f"agent-distillation/agent_distillation_sample/{i}" for i in (1, 2, 3, 4)]
    qa, math, crashed, unfinished = ts

    assert qa.task.domain == "qa" and qa.task.answer == "Atlanta" and qa.final_answer == "Atlanta"
    assert qa.status == "ok" and qa.score == 1.0 and qa.agent.model == "Qwen/Qwen2.5-32B-Instruct"
    assert [(m.role, m.kind, m.train) for m in qa.messages] == [
        ("system", None, False),
        ("user", "task", False),
        ("assistant", "action", True),
        ("user", "observation", False),
        ("assistant", "action", True),
        ("user", "observation", False),
    ]
    # tool-call messages dropped, "Call id" lines stripped, our Observation: head kept
    assert qa.messages[3].content.startswith("Observation:\nExecution logs:\nRetrieved documents:")
    assert "Call id" not in "".join(m.content for m in qa.messages)
    assert (qa.stats.steps, qa.stats.tool_calls, qa.stats.prompt_tokens, qa.stats.wall_time_s) == (
        2,
        2,
        3120,
        7.25,
    )
    assert F.rescore(qa) == 1.0

    # log_data as JSON text, MessageRole.* roles, a parse error
    assert math.task.domain == "math" and math.score == 1.0 and math.status == "ok"
    assert math.messages[3].kind == "error" and math.messages[3].content.startswith("Observation:\nError:")
    assert math.parse_errors == 1
    assert F.rescore(math) == 1.0  # \boxed{\frac{7}{8}} against \frac{7}{8}

    assert crashed.status == "failed" and "maximum context length" in crashed.error
    assert crashed.score == 0.0 and crashed.messages[0].kind == "task"

    assert unfinished.status == "max_steps" and unfinished.final_answer == "About 1.7 million"

    # the standard filters see imported data like ours
    chain = F.build_filter_chain([F.FilterSpec.parse(t) for t in ("failed", "parse_errors", "correct")])
    kept, p = F.filter_trajectories(ts, chain)
    assert [t.id for t in kept] == [qa.id]
    assert [c.dropped for c in p.counts] == [1, 1, 1]  # failed, parse error, wrong


def test_import_agent_distillation_options():
    masked = list(import_agent_distillation(AD_SAMPLE, mask_failed_steps=True, domain="math"))[1]
    assert [m.train for m in masked.messages if m.role == "assistant"] == [False, True]
    assert all(t.task.domain == "math" for t in import_agent_distillation(AD_SAMPLE, domain="math"))
    assert next(import_trajectories(AD_SAMPLE, "agent-distillation")).task.answer == "Atlanta"
    with pytest.raises(ImportFormatError, match="unknown import format"):
        import_trajectories(AD_SAMPLE, "nope")


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ("{not json", "invalid JSON"),
        ("[1, 2]", "expected a JSON object"),
        (json.dumps({"true_answer": "x", "log_data": None}), "'question'"),
        (
            json.dumps({"question": "q?", "log_data": {"messages": [{"role": "robot", "content": "hi"}]}}),
            "role",
        ),
        (json.dumps({"question": "q?", "log_data": "{broken"}), "log_data is not valid JSON"),
        (json.dumps({"question": "q?", "log_data": {"metadata": {}}}), "no 'messages'"),
        (json.dumps({"question": "q?", "score": "maybe", "log_data": {"messages": []}}), "score"),
        (
            json.dumps(
                {"question": "q?", "log_data": {"messages": [], "metadata": {"cost": {"input_tokens": "x"}}}}
            ),
            "malformed number",
        ),
    ],
)
def test_import_malformed_names_file_and_line(tmp_path, bad_line, message):
    good = AD_SAMPLE.read_text(encoding="utf-8").splitlines()[0]
    path = tmp_path / "broken.jsonl"
    path.write_text(f"{good}\n\n{bad_line}\n", encoding="utf-8")
    with pytest.raises(ImportFormatError, match=message) as e:
        list(import_agent_distillation(path))
    assert str(e.value).startswith(f"{path}:3: ") and str(e.value).count(f"{path}:3") == 1


def test_import_r1_searcher_rollouts(shared_data):
    path = shared_data / "trajectories" / "r1searcher_bamboogle_qwen_rollouts.jsonl"
    ts = list(import_r1_searcher(path))
    assert len(ts) == 125
    assert {t.task.source for t in ts} == {"bamboogle"}
    rows = read_jsonl(path)
    judged = sum(r["gpt4o_output"] == "True" for r in rows)
    assert sum(t.score for t in ts) == judged
    with_search = next(t for t in ts if t.stats.tool_calls > 0)
    kinds = [m.kind for m in with_search.messages]
    assert kinds[0] == "task" and "observation" in kinds and kinds[-1] == "final"
    # the messages join back into the generated text
    row = rows[int(with_search.id.rsplit("/", 1)[1]) - 1]
    joined = "".join(m.content for m in with_search.messages[1:])
    assert joined.replace(" ", "").replace("\n", "") == row["gen_text_store"].replace(" ", "").replace(
        "\n", ""
    )
    assert with_search.final_answer == row["pred_ans"].strip()


def test_push_to_hub_called_and_failures_reported(tmp_path, monkeypatch):
    """No network here: the hub call is replaced, the dataset itself is real and saved first."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    calls = []
    monkeypatch.setattr(
        datasets.Dataset, "push_to_hub", lambda self, repo, **kw: calls.append((repo, kw, len(self)))
    )
    assert export_trajectories(all_samples(), tmp_path / "ds", "hf", push="me/traj", private=True) == 8
    assert calls == [("me/traj", {"private": True}, 8)]

    def fail(self, repo, **kw):
        raise ConnectionError("no route to host")

    monkeypatch.setattr(datasets.Dataset, "push_to_hub", fail)
    with pytest.raises(ExportError, match="pushing to me/traj failed: ConnectionError") as e:
        export_trajectories(all_samples(), tmp_path / "ds2", "hf", push="me/traj")
    assert "saved to" in str(e.value)
    assert len(datasets.load_from_disk(str(tmp_path / "ds2"))) == 8


def _shape(t):
    return (
        t.task.id, t.task.question, t.task.answer, t.task.domain, t.final_answer, t.score, t.status,
        [(m.role, m.kind, m.train, m.content) for m in t.messages],
    )  # fmt: skip


def test_agent_distillation_logs_round_trip_with_their_masks(tmp_path):
    imported = list(import_agent_distillation(AD_SAMPLE, mask_failed_steps=True))
    out = tmp_path / "ad.jsonl"
    assert export_trajectories(imported, out, "agent-distillation") == len(imported)
    rows = read_jsonl(out)
    roles = [m["role"] for m in rows[0]["log_data"]["messages"]]
    assert roles[:5] == ["system", "user", "assistant", "tool-call", "tool-response"]  # smolagents' shape
    assert rows[0]["log_data"]["messages"][4]["content"][0]["text"].startswith(
        "Call id: call_1\nObservation:"
    )
    again = list(import_agent_distillation(out))  # the masks travel with the messages
    assert [_shape(t) for t in again] == [_shape(t) for t in imported]
    assert [m.train for m in again[1].messages if m.role == "assistant"] == [False, True]


def test_our_trajectories_survive_the_agent_distillation_format(tmp_path):
    ours = [t for t in all_samples() if t.status != "failed"]
    out = tmp_path / "ours.jsonl"
    export_trajectories(ours, out, "agent-distillation")
    back = list(import_agent_distillation(out))
    assert [_shape(t) for t in back] == [_shape(t) for t in ours]
    masked = [t for t in back if any(m.role == "assistant" and not m.train for m in t.messages)]
    assert masked  # the reflection sample's failed step is still masked


@pytest.mark.slow
def test_imported_agent_distillation_logs_train_with_their_masks(tmp_path):
    """Their logs -> our records (CLI import) -> re-export -> re-import -> `agentdistill train`, and the
    labelled tokens of every example decode to exactly the trained assistant messages."""
    from transformers import AutoTokenizer

    from agentdistill.cli import main
    from agentdistill.models.default import provision_default_model
    from agentdistill.training.dataset import build_dataset
    from agentdistill.training.masking import IGNORE_INDEX
    from agentdistill.trajectories.store import iter_trajectories

    def cli(*args: str) -> int:
        try:
            return main(list(args)) or 0
        except SystemExit as e:
            return int(e.code or 0)

    records, exported, again = tmp_path / "imported", tmp_path / "ad.jsonl", tmp_path / "again"
    assert cli("trajectories", "import", str(AD_SAMPLE), "--format", "agent-distillation",
               "--out", str(records), "--mask-failed-steps") == 0  # fmt: skip
    assert cli("trajectories", "export", str(records), "--format", "agent-distillation",
               "--out", str(exported)) == 0  # fmt: skip
    assert cli("trajectories", "import", str(exported), "--format", "agent-distillation",
               "--out", str(again)) == 0  # fmt: skip
    trajectories = [t for t in iter_trajectories(again) if any(m.train for m in t.messages)]
    assert len(trajectories) == 3  # the crashed episode has nothing to train

    tok = AutoTokenizer.from_pretrained(provision_default_model(quiet=True))
    dataset, stats = build_dataset(tok, [str(again)], max_length=4096)
    assert stats.used == 3
    for row, t in zip(dataset, trajectories, strict=True):
        labelled = tok.decode([x for x in row["labels"] if x != IGNORE_INDEX])
        assert labelled == "".join(m.content.strip() + "<|im_end|>" for m in t.messages if m.train)
    masked_step = next(m for m in trajectories[1].messages if m.role == "assistant" and not m.train)
    assert masked_step.content.strip() not in tok.decode(
        [x for x in dataset[1]["labels"] if x != IGNORE_INDEX]
    )

    student = tmp_path / "student"
    assert cli("train", "--student", "default", "--data", str(again), "--out", str(student),
               "--lora", "--max-steps", "1", "--max-length", "1024", "--eval-fraction", "0") == 0  # fmt: skip
    summary = json.loads((student / "training_summary.json").read_text())
    assert summary["result"]["steps"] == 1
