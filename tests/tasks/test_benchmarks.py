"""The benchmark registry and task specs, against the real shared data and the bundled samples."""

from __future__ import annotations

import json

import pytest

from agentdistill.errors import AgentDistillError
from agentdistill.tasks.decontamination import eval_questions, is_contaminated, normalize_question
from agentdistill.tasks.registry import BenchmarkError, get_benchmark, list_benchmarks, load_benchmarks_file
from agentdistill.tasks.specs import load_tasks, parse_task_spec

# Row counts as stated in ../shared/data/README.md.
README_ROWS = {
    "hotpotqa:test": 500,
    "hotpotqa:train": 1000,
    "hotpotqa:distractor": 300 + 300 + 500,
    "hotpotqa:train_distractor": 100,
    "2wikimultihopqa:test": 500,
    "musique:test": 500,
    "musique:train": 100,
    "bamboogle:test": 125,
    "gsm8k:test": 1319,
    "gsm_hard:test": 500,
    "math500:test": 500,
    "math500:agentdistill": 500,
    "aime:test": 90,
    "aime:2024": 30,
    "aime:2025": 30,
    "amc23:test": 40,
    "olymmath:test": 200,
    "olymmath:easy": 100,
    "olymmath:hard": 100,
    "math:train": 1000,
    "math:medium": 1000,
}
PAPER_GROUPS = {
    "hotpotqa": "in_domain",
    "math500": "in_domain",
    "2wikimultihopqa": "out_of_domain",
    "musique": "out_of_domain",
    "bamboogle": "out_of_domain",
    "gsm_hard": "out_of_domain",
    "aime": "out_of_domain",
    "olymmath": "out_of_domain",
}


PACKAGED_ROWS = {"hotpotqa:demo": 40}  # shipped inside agentdistill, not in shared/data


def test_every_split_is_covered_by_the_readme_table():
    registered = {f"{b.name}:{s}" for b in list_benchmarks() for s in b.splits}
    assert registered == set(README_ROWS) | set(PACKAGED_ROWS)


@pytest.mark.parametrize("data_dir", [None, "shared"])
def test_packaged_split_loads_whatever_the_data_dir(shared_data, data_dir):
    tasks = load_tasks("hotpotqa:demo", data_dir=shared_data if data_dir else None)
    assert len(tasks) == PACKAGED_ROWS["hotpotqa:demo"] == get_benchmark("hotpotqa").split("demo").rows
    assert all(t.domain == "qa" and t.answer for t in tasks)
    assert tasks[0].metadata["data_source"] == "agentdistill-package"
    assert tasks[0].metadata["group"] == "in_domain"


@pytest.mark.parametrize("spec", sorted(README_ROWS))
def test_loads_shared_data_with_readme_row_counts(shared_data, spec):
    tasks = load_tasks(spec, data_dir=shared_data)
    assert len(tasks) == README_ROWS[spec]
    assert len({t.id for t in tasks}) == len(tasks), "task ids must be unique within a split"
    bench = get_benchmark(spec.split(":")[0])
    assert all(t.domain == bench.domain and t.question.strip() for t in tasks)
    with_answer = [t for t in tasks if t.answer is not None]
    assert len(with_answer) == len(tasks) - (2 if spec == "math:medium" else 0)  # README: two nulls there
    assert tasks[0].metadata["data_source"] == str(shared_data)


def test_paper_groups_and_domains():
    for name, group in PAPER_GROUPS.items():
        b = get_benchmark(name)
        assert b.group == group and b.paper
    assert {b.name for b in list_benchmarks() if b.domain == "qa"} == {
        "hotpotqa", "2wikimultihopqa", "musique", "bamboogle"
    }  # fmt: skip
    assert not get_benchmark("math").eval and not get_benchmark("hotpotqa").is_eval_split("train")
    assert get_benchmark("gsm8k").group == "out_of_domain" and not get_benchmark("gsm8k").paper


def test_answers_are_normalised_strings(shared_data):
    assert load_tasks("gsm8k[:1]", data_dir=shared_data)[0].answer == "18"
    assert load_tasks("gsm_hard[:1]", data_dir=shared_data)[0].answer == "13138980"
    assert load_tasks("amc23[:1]", data_dir=shared_data)[0].answer == "27"
    musique = load_tasks("musique:train[:1]", data_dir=shared_data)[0]
    assert musique.metadata["aliases"] == ["Stanley Hall"]


def test_spec_forms(shared_data):
    first = load_tasks("gsm8k[:5]", data_dir=shared_data)
    assert [t.id for t in first] == [f"gsm8k:test/{i}" for i in range(5)]
    assert [t.id for t in load_tasks("gsm8k[2:4]", data_dir=shared_data)] == ["gsm8k:test/2", "gsm8k:test/3"]
    a = load_tasks("gsm8k:5", data_dir=shared_data, seed=1)
    b = load_tasks("gsm8k:5", data_dir=shared_data, seed=1)
    c = load_tasks("gsm8k:5", data_dir=shared_data, seed=2)
    assert [t.id for t in a] == [t.id for t in b] != [t.id for t in c]
    assert len(a) == 5 and [t.id for t in a] != [t.id for t in first]
    # a numeric split name wins over a sample size; a count after it samples that split
    assert len(load_tasks("aime:2024", data_dir=shared_data)) == 30
    sample = load_tasks("aime:2024:7", data_dir=shared_data, seed=3)
    assert len(sample) == 7 and all(t.id.startswith("aime:2024/") for t in sample)
    assert load_tasks("aime:2024[:2]", data_dir=shared_data)[0].metadata["benchmark"] == "aime:2024"
    assert load_tasks("hotpotqa:train[:1000]", data_dir=shared_data)[0].metadata["group"] == "train"
    assert parse_task_spec("hotpotqa:train[:1000]").label == "hotpotqa:train"
    assert parse_task_spec("hotpotqa:test").label == "hotpotqa"


def test_bundled_samples_used_without_data_dir(monkeypatch):
    monkeypatch.delenv("AGENTDISTILL_DATA_DIR", raising=False)
    for b in list_benchmarks():
        for split in b.splits:
            if f"{b.name}:{split}" in PACKAGED_ROWS:
                continue
            tasks = load_tasks(f"{b.name}:{split}")
            assert 1 <= len(tasks) <= 10
            assert tasks[0].metadata["data_source"] == "bundled-sample"


def test_env_data_dir(monkeypatch, shared_data):
    monkeypatch.setenv("AGENTDISTILL_DATA_DIR", str(shared_data))
    assert len(load_tasks("bamboogle")) == 125


def test_local_file_with_field_mapping(tmp_path):
    path = tmp_path / "mine.jsonl"
    rows = [{"problem": f"What is {i}+{i}?", "solution": str(2 * i), "uid": f"u{i}"} for i in range(4)]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    tasks = load_tasks(
        f"{path}[:3]", fields={"question": "problem", "answer": "solution", "id": "uid"}, domain="math"
    )
    assert [(t.id, t.answer, t.domain) for t in tasks] == [("mine/u0", "0", "math"), ("mine/u1", "2", "math"),
                                                          ("mine/u2", "4", "math")]  # fmt: skip
    assert len(load_tasks(f"{path}:2", fields={"question": "problem"})) == 2
    listing = tmp_path / "list.json"
    listing.write_text(json.dumps({"examples": [{"question": "q?", "answer": 1}]}))
    assert load_tasks(str(listing))[0].answer == "1"
    multi = tmp_path / "multi.jsonl"
    multi.write_text(
        '{"question": "Who?", "answer": ["JFK", "John F. Kennedy"], "answer_aliases": ["Kennedy"]}\n'
    )
    (task,) = load_tasks(str(multi))
    assert (task.answer, task.metadata["aliases"]) == ("JFK", ["John F. Kennedy", "Kennedy"])


def test_errors_name_the_problem(tmp_path, shared_data):
    with pytest.raises(AgentDistillError, match="unknown benchmark 'nope'"):
        load_tasks("nope")
    with pytest.raises(AgentDistillError, match="neither a split"):
        load_tasks("aime:twenty")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "a"}\n{oops\n')
    with pytest.raises(AgentDistillError, match=r"bad.jsonl:2: invalid JSON"):
        load_tasks(str(bad))
    noq = tmp_path / "noq.jsonl"
    noq.write_text('{"problem": "a"}\n')
    with pytest.raises(AgentDistillError, match=r"noq.jsonl:1: no question in field 'question'"):
        load_tasks(str(noq))
    with pytest.raises(AgentDistillError, match="not found"):
        load_tasks("gsm8k", data_dir=tmp_path)
    with pytest.raises(AgentDistillError, match="sample of 50"):
        load_tasks("aime:2025:50", data_dir=shared_data)


def test_hf_source_streams_with_field_mapping(monkeypatch):
    import datasets

    calls = []

    def fake_load_dataset(name, config=None, split=None, streaming=False):
        calls.append((name, config, split, streaming))
        return iter([{"input": "2+2?", "target": 4.0}, {"input": "3+3?", "target": 6.0}])

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    tasks = load_tasks("gsm_hard[:1]", source="hf")
    assert calls == [("reasoning-machines/gsm-hard", None, "train", True)]
    assert (tasks[0].question, tasks[0].answer, tasks[0].metadata["data_source"]) == (
        "2+2?", "4", "hf:reasoning-machines/gsm-hard"
    )  # fmt: skip
    tasks = load_tasks("hf:some/dataset:validation", fields={"question": "input", "answer": "target"})
    assert len(tasks) == 2 and tasks[1].id == "hf:some/dataset:validation/1"


def test_user_benchmark_file(tmp_path):
    (tmp_path / "mybench").mkdir()
    (tmp_path / "mybench" / "t.jsonl").write_text('{"q": "Capital of France?", "a": "Paris"}\n')
    (tmp_path / "b.yaml").write_text(
        "benchmarks:\n  mybench:\n    domain: qa\n    metric: qa_em_f1\n    group: out_of_domain\n"
        "    fields: {question: q, answer: a}\n    splits:\n      test: {files: [mybench/t.jsonl]}\n"
    )
    from agentdistill.tasks import registry

    try:
        load_benchmarks_file(tmp_path / "b.yaml")
        (task,) = load_tasks("mybench", data_dir=tmp_path)
        assert (task.id, task.answer, task.metadata["metric"]) == ("mybench:test/0", "Paris", "qa_em_f1")
    finally:
        registry.benchmark_registry().unregister("mybench")


def test_decontamination_set(shared_data):
    questions = eval_questions(shared_data)
    test_q = load_tasks("hotpotqa[:1]", data_dir=shared_data)[0].question
    assert normalize_question(test_q) in questions
    assert is_contaminated("  " + test_q.upper() + " ", shared_data)
    math500 = load_tasks("math500[:1]", data_dir=shared_data)[0].question
    assert is_contaminated(math500, shared_data)
    train = load_tasks("hotpotqa:train[:50]", data_dir=shared_data)
    assert not any(is_contaminated(t.question, shared_data) for t in train)
    assert len(questions) > 4000
    assert eval_questions(shared_data) is questions or eval_questions(shared_data) == questions


def test_a_bundled_sample_or_a_short_source_is_said_loudly_or_refused(monkeypatch, tmp_path):
    import warnings

    from agentdistill.tasks.specs import DataWarning

    monkeypatch.delenv("AGENTDISTILL_DATA_DIR", raising=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tasks = load_tasks("gsm8k[:6]")
    messages = [str(w.message) for w in caught if issubclass(w.category, DataWarning)]
    assert len(tasks) == 5
    assert any("sample bundled with agentdistill, not the benchmark" in m for m in messages)
    assert any("asks for 6 rows but the source has only 5" in m for m in messages)
    with pytest.raises(BenchmarkError, match="strict data is on"):
        load_tasks("gsm8k[:2]", strict=True)
    short = tmp_path / "short.jsonl"
    short.write_text('{"question": "q", "answer": "a"}\n')
    with pytest.raises(BenchmarkError, match="asks for 3 rows but the source has only 1"):
        load_tasks(f"{short}[:3]", strict=True)
    assert len(load_tasks(f"{short}[:1]", strict=True)) == 1  # nothing wrong: no word


def test_two_task_files_of_one_name_are_refused(tmp_path):
    from agentdistill.tasks.specs import check_distinct_files

    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "test.jsonl").write_text('{"question": "q", "answer": "a"}\n')
    check_distinct_files([str(tmp_path / "a" / "test.jsonl"), str(tmp_path / "a" / "test.jsonl")])
    with pytest.raises(BenchmarkError, match=r"share the name 'test'.*rename one"):
        check_distinct_files([str(tmp_path / "a" / "test.jsonl"), str(tmp_path / "b" / "test.jsonl")])
