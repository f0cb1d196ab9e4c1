"""Training data loading: every source format, and bad data that errors clearly or is counted, never silent."""

from __future__ import annotations

import json

import pytest

from agentdistill.schema import SchemaError
from agentdistill.training.dataset import TrainingDataError, build_dataset
from agentdistill.training.masking import IGNORE_INDEX

from .fixtures import agent_trajectories, cot_trajectories


def build(tok, sources, **kw):
    kw.setdefault("max_length", 2048)
    return build_dataset(tok, [str(s) for s in sources], **kw)


def test_folder_of_shards_is_read_recursively(chatml_tokenizer, agent_data):
    ds, stats = build(chatml_tokenizer, [agent_data])
    assert stats.read == stats.used == len(ds) == 3
    assert stats.skipped == {} and stats.truncated == 0
    assert set(ds.column_names) == {"input_ids", "labels"}
    assert stats.tokens == sum(len(x) for x in ds["input_ids"])
    assert stats.trained_tokens == sum(sum(t != IGNORE_INDEX for t in lab) for lab in ds["labels"])


def test_cache_file_streams_batches_and_memory_maps_the_same_rows(
    chatml_tokenizer, agent_data, cot_data, tmp_path
):
    import agentdistill.training.dataset as dataset_module

    in_memory, stats = build(chatml_tokenizer, [agent_data, cot_data])
    cache = tmp_path / "tok" / "train.arrow"
    sink = dataset_module._RowSink
    try:  # batches of 4 rows: 6 rows take a full batch and a remainder
        dataset_module._RowSink = lambda path: sink(path, batch_rows=4)
        mapped, mapped_stats = build(chatml_tokenizer, [agent_data, cot_data], cache_file=cache)
    finally:
        dataset_module._RowSink = sink
    assert mapped_stats == stats
    assert [f["filename"] for f in mapped.cache_files] == [str(cache)]  # memory-mapped, not copied in
    assert mapped["input_ids"] == in_memory["input_ids"] and mapped["labels"] == in_memory["labels"]


def test_cot_file_and_agent_folder_combine(chatml_tokenizer, agent_data, cot_data):
    ds, stats = build(chatml_tokenizer, [agent_data, cot_data])
    assert stats.used == 6 and len(ds) == 6


def _write(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_missing_messages_is_an_error_naming_file_line_and_field(chatml_tokenizer, tmp_path):
    good = agent_trajectories()[0].to_dict()
    bad = dict(good)
    del bad["messages"]
    path = _write(tmp_path / "bad.jsonl", [good, bad])
    with pytest.raises(SchemaError, match=r"bad\.jsonl:2: field 'messages'"):
        build(chatml_tokenizer, [path])


def test_unknown_schema_version_is_an_error(chatml_tokenizer, tmp_path):
    rec = agent_trajectories()[0].to_dict()
    rec["schema"] = "agentdistill.trajectory/99"
    path = _write(tmp_path / "future.jsonl", [rec])
    with pytest.raises(SchemaError, match="unknown schema version"):
        build(chatml_tokenizer, [path])


def test_skip_invalid_counts_bad_records(chatml_tokenizer, tmp_path):
    good = agent_trajectories()[0].to_dict()
    no_messages = {k: v for k, v in good.items() if k != "messages"}
    future = {**good, "schema": "agentdistill.trajectory/99"}
    records = [good, {**no_messages, "id": "b"}, {**future, "id": "c"}, {**no_messages, "id": "d"}]
    path = _write(tmp_path / "mixed.jsonl", records)
    ds, stats = build(chatml_tokenizer, [path], skip_invalid=True)
    assert stats.read == 4 and stats.used == 1 and len(ds) == 1
    assert stats.num_skipped == 3
    reasons = " | ".join(stats.skipped)
    assert "messages" in reasons and "unknown schema version" in reasons


def test_every_token_masked_is_a_counted_skip(chatml_tokenizer, tmp_path):
    trajs = cot_trajectories()
    masked = trajs[0].model_copy(deep=True)
    for m in masked.messages:
        m.train = False
    empty = trajs[1].model_copy(deep=True)
    empty.messages = []
    path = _write(tmp_path / "some-masked.jsonl", [masked.to_dict(), empty.to_dict(), trajs[2].to_dict()])
    ds, stats = build(chatml_tokenizer, [path])
    assert stats.used == 1 and len(ds) == 1
    assert stats.skipped == {"no trained tokens (every message is masked)": 1, "no messages": 1}


def test_nothing_trainable_is_an_error_not_an_empty_run(chatml_tokenizer, tmp_path):
    masked = cot_trajectories()[0]
    for m in masked.messages:
        m.train = False
    path = _write(tmp_path / "all-masked.jsonl", [{**masked.to_dict(), "id": i} for i in ("a", "b")])
    with pytest.raises(
        TrainingDataError, match=r"no usable training example among 2 records: 2x no trained tokens"
    ):
        build(chatml_tokenizer, [path])


def test_empty_file_and_missing_path_are_errors(chatml_tokenizer, tmp_path):
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(TrainingDataError, match="no records"):
        build(chatml_tokenizer, [tmp_path / "empty.jsonl"])
    with pytest.raises(TrainingDataError, match="no such file"):
        build(chatml_tokenizer, [tmp_path / "nope.jsonl"])
    (tmp_path / "emptydir").mkdir()
    with pytest.raises(TrainingDataError, match=r"emptydir: no trajectory records \(no part-\*\.jsonl"):
        build(chatml_tokenizer, [tmp_path / "emptydir"])


def test_a_repeated_id_trains_only_its_newest_record(chatml_tokenizer, tmp_path):
    """One reader for every consumer: a rerun that rewrote an episode trains on the rewrite, not both."""
    old, new = (t.to_dict() for t in cot_trajectories()[:2])
    new["id"] = old["id"]
    for m in old["messages"]:
        m["train"] = False  # the older record alone would be an error: nothing to train
    path = _write(tmp_path / "rerun.jsonl", [old, new])
    ds, stats = build(chatml_tokenizer, [path])
    assert stats.read == 1 and stats.used == 1 and len(ds) == 1


def test_length_policies_are_counted(chatml_tokenizer, agent_data):
    _, full = build(chatml_tokenizer, [agent_data])
    _, dropped = build(chatml_tokenizer, [agent_data], max_length=300, truncation="drop")
    assert dropped.used == 2 and sum(dropped.skipped.values()) == 1
    assert "longer than max_length (300 tokens)" in next(iter(dropped.skipped))
    ds, truncated = build(chatml_tokenizer, [agent_data], max_length=300, truncation="truncate")
    assert truncated.used == 3 and truncated.truncated == 1
    assert max(len(x) for x in ds["input_ids"]) == 300
    assert truncated.tokens < full.tokens


def test_hf_dataset_dirs_with_trajectories_or_plain_chats(chatml_tokenizer, tmp_path):
    import datasets

    trajs = datasets.Dataset.from_list([t.to_dict() for t in cot_trajectories()])
    trajs.save_to_disk(str(tmp_path / "hf-trajs"))
    chats = datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_list(
                [
                    {
                        "messages": [
                            {"role": "user", "content": "2+2?"},
                            {"role": "assistant", "content": "4"},
                        ]
                    },
                    {
                        "messages": [
                            {"role": "user", "content": "3+3?"},
                            {"role": "assistant", "content": "6"},
                        ]
                    },
                ]
            )
        }
    )
    chats.save_to_disk(str(tmp_path / "hf-chats"))

    ds, stats = build(chatml_tokenizer, [tmp_path / "hf-trajs"])
    assert stats.used == 3
    ds, stats = build(chatml_tokenizer, [tmp_path / "hf-chats"])
    assert stats.used == 2
    # plain chats without train flags: the assistant turns are trained
    assert chatml_tokenizer.decode([t for t in ds["labels"][0] if t != IGNORE_INDEX]) == "4<|im_end|>"
    with pytest.raises(TrainingDataError, match="no split 'test'"):
        build(chatml_tokenizer, [tmp_path / "hf-chats"], split="test")


def test_hf_rows_without_messages_are_errors(chatml_tokenizer, tmp_path):
    import datasets

    datasets.Dataset.from_list([{"text": "plain text"}]).save_to_disk(str(tmp_path / "hf-text"))
    with pytest.raises(SchemaError, match="missing field 'messages'"):
        build(chatml_tokenizer, [tmp_path / "hf-text"])
    # with skip_invalid, a dataset of only invalid rows still errors (nothing to train), with the count
    with pytest.raises(TrainingDataError, match="1x invalid record: missing field 'messages'"):
        build(chatml_tokenizer, [tmp_path / "hf-text"], skip_invalid=True)
