"""Each filter on the hand-written samples: what it keeps (by id) and what the pipeline counts."""

from __future__ import annotations

import pytest

from agentdistill.trajectories import filters as F
from agentdistill.trajectories.store import TrajectoryStore, iter_trajectories

from .samples import GSM8K_JANET, all_samples, correct, reflection, wrong

ALL_IDS = [
    "ep-correct",
    "ep-wrong",
    "ep-parse-error",
    "ep-reflection",
    "ep-duplicate",
    "ep-gsm8k",
    "ep-failed",
    "ep-max-steps",
]


def run(*filters: F.TrajectoryFilter):
    kept, pipeline = F.filter_trajectories(all_samples(), filters)
    return [t.id for t in kept], pipeline


def test_samples_are_what_the_tests_assume():
    assert [t.id for t in all_samples()] == ALL_IDS


def test_correctness_rescored_with_evaluation_metrics_not_the_stored_score():
    ids, p = run(F.CorrectnessFilter(min_score=1.0))
    # ep-wrong stores score 1.0 but answered "Munich" for "Ulm": re-scoring drops it; ep-failed has no answer.
    assert ids == [
        "ep-correct",
        "ep-parse-error",
        "ep-reflection",
        "ep-duplicate",
        "ep-gsm8k",
        "ep-max-steps",
    ]
    assert (p.counts[0].seen, p.counts[0].kept, p.counts[0].dropped) == (8, 6, 2)
    assert sorted(p.counts[0].dropped_ids) == ["ep-failed", "ep-wrong"]


def test_correctness_writes_the_recomputed_score():
    t = wrong().model_copy(
        update={"final_answer": "Ulm, Germany", "score": 0.0}
    )  # an alias of the gold answer
    kept, _ = F.filter_trajectories([t], [F.CorrectnessFilter()])
    assert kept[0].score == 1.0 and kept[0].metadata["stored_score"] == 0.0


def test_correctness_math_uses_math_verify():
    t = reflection().model_copy(update={"final_answer": "\\boxed{21.0}"})
    assert F.rescore(t) == 1.0
    t = reflection().model_copy(update={"final_answer": "\\boxed{\\frac{42}{2}}"})
    assert F.rescore(t) == 1.0
    t = reflection().model_copy(update={"final_answer": "22"})
    assert F.rescore(t) == 0.0


def test_correctness_falls_back_to_stored_score_without_gold():
    t = correct()
    t = t.model_copy(update={"task": t.task.model_copy(update={"answer": None}), "score": 0.4})
    assert F.rescore(t) is None
    assert F.filter_trajectories([t], [F.CorrectnessFilter(min_score=0.5)])[0] == []
    assert len(F.filter_trajectories([t], [F.CorrectnessFilter(min_score=0.3)])[0]) == 1
    # trusting stored scores keeps ep-wrong
    ids, _ = run(F.CorrectnessFilter(use_metrics=False))
    assert "ep-wrong" in ids


def test_parse_errors_count_only_trained_steps():
    # ep-parse-error's code-less reply is masked (train: false), then a trained step recovers: kept
    ids, p = run(F.ParseErrorFilter(max_errors=0))
    assert ids == ALL_IDS and p.counts[0].dropped == 0
    assert all_samples()[2].parse_errors == 1 and all_samples()[2].trained_parse_errors == 0
    trained = all_samples()[2]
    trained.messages[2].train = True  # the same mistake, now taught: dropped
    kept, p = F.filter_trajectories([trained], [F.ParseErrorFilter(max_errors=0)])
    assert kept == [] and p.counts[0].dropped_ids == ["ep-parse-error"]
    assert len(F.filter_trajectories([trained], [F.ParseErrorFilter(max_errors=1)])[0]) == 1


def test_max_steps_and_status():
    ids, _ = run(F.MaxStepsFilter(max_steps=2))
    assert ids == [i for i in ALL_IDS if i != "ep-max-steps"]
    ids, _ = run(F.MaxStepsFilter(max_steps=1))
    assert ids == ["ep-gsm8k", "ep-failed"]
    ids, _ = run(F.StatusFilter(("ok",)))
    assert ids == [i for i in ALL_IDS if i not in ("ep-failed", "ep-max-steps")]


def test_failed_episodes():
    ids, p = run(F.FailedFilter())
    assert ids == [i for i in ALL_IDS if i != "ep-failed"]
    assert p.counts[0].dropped == 1


def test_length_chars_and_tokens():
    samples = {t.id: t for t in all_samples()}
    limit = F.char_count(samples["ep-correct"])
    ids, _ = run(F.LengthFilter(max_chars=limit))
    assert "ep-correct" in ids and "ep-duplicate" in ids
    assert all(F.char_count(samples[i]) <= limit for i in ids)
    assert "ep-max-steps" not in ids  # seven assistant turns: the longest
    words = lambda text: len(text.split())  # noqa: E731 - a stand-in tokenizer
    budget = sum(words(m.content) for m in samples["ep-gsm8k"].messages)
    ids, _ = run(F.LengthFilter(max_tokens=budget, count_tokens=words))
    assert (
        ids == [i for i in ALL_IDS if sum(words(m.content) for m in samples[i].messages) <= budget]
        and "ep-gsm8k" in ids
        and "ep-max-steps" not in ids
    )
    with pytest.raises(ValueError, match="count_tokens"):
        F.LengthFilter(max_tokens=10)


def test_dedup_same_task_same_assistant_content():
    ids, p = run(F.DedupFilter())
    assert ids == [i for i in ALL_IDS if i != "ep-duplicate"]
    assert p.counts[0].dropped_ids == ["ep-duplicate"]
    # same task but a different answer path is not a duplicate
    other = correct().model_copy(update={"id": "ep-other"})
    other.messages[2].content = other.messages[2].content.replace(
        "Eiffel Tower location", "Eiffel Tower city"
    )
    kept, _ = F.filter_trajectories([correct(), other], [F.DedupFilter()])
    assert [t.id for t in kept] == ["ep-correct", "ep-other"]


def test_per_task_keeps_first_k():
    ids, p = run(F.PerTaskFilter(k=1))
    # ep-duplicate shares the Eiffel task; ep-failed shares 6x7 with ep-parse-error
    assert ids == [i for i in ALL_IDS if i not in ("ep-duplicate", "ep-failed")]
    assert p.counts[0].dropped == 2
    ids, _ = run(F.PerTaskFilter(k=2))
    assert ids == ALL_IDS


def test_decontamination_with_explicit_questions():
    ids, _ = run(F.DecontaminationFilter({F.normalize_question("In which country is THE Eiffel Tower")}))
    assert ids == [i for i in ALL_IDS if i not in ("ep-correct", "ep-duplicate")]


def test_decontamination_against_registered_evaluation_sets(monkeypatch):
    """The GSM8K test question is in the bundled sample of a registered evaluation set."""
    monkeypatch.delenv("AGENTDISTILL_DATA_DIR", raising=False)
    found = F.evaluation_questions()
    assert found.bundled
    assert F.normalize_question(GSM8K_JANET) in found.questions
    assert any(s.startswith("gsm8k:test") for s in found.sources)
    # training pools (eval: false) are not evaluation sets
    assert not any(s.startswith("math:") for s in found.sources)
    ids, p = run(F.DecontaminationFilter.from_registry())
    assert ids == [i for i in ALL_IDS if i != "ep-gsm8k"]
    assert p.counts[0].dropped_ids == ["ep-gsm8k"]


def test_decontamination_full_shared_data(shared_data):
    found = F.evaluation_questions(shared_data)
    assert not found.missing and not found.bundled
    assert len(found.questions) > 4000  # gsm8k 1319 + math500 500 + hotpotqa 1100+ + ...
    assert F.normalize_question(GSM8K_JANET) in found.questions


def test_pipeline_order_and_counts_standard_chain(tmp_path):
    chain = [
        "failed",
        "parse_errors",
        "max_steps:max_steps=5",
        "correct",
        "decontaminate",
        "dedup",
        "per_task:k=1",
    ]
    filters = F.build_filter_chain([F.FilterSpec.parse(text) for text in chain])
    assert [f.name for f in filters] == [
        "failed",
        "parse_errors",
        "max_steps",
        "correct",
        "decontaminate",
        "dedup",
        "per_task",
    ]
    kept, p = F.filter_trajectories(all_samples(), filters)
    assert [t.id for t in kept] == ["ep-correct", "ep-parse-error", "ep-reflection"]
    assert p.summary() == {
        "total": 8,
        "kept": 3,
        "filters": [
            {"name": "failed", "seen": 8, "kept": 7, "dropped": 1},
            {"name": "parse_errors", "seen": 7, "kept": 7, "dropped": 0},
            {"name": "max_steps", "seen": 7, "kept": 6, "dropped": 1},
            {"name": "correct", "seen": 6, "kept": 5, "dropped": 1},
            {"name": "decontaminate", "seen": 5, "kept": 4, "dropped": 1},
            {"name": "dedup", "seen": 4, "kept": 3, "dropped": 1},
            {"name": "per_task", "seen": 3, "kept": 3, "dropped": 0},
        ],
    }
    # kept trajectories write back and read as valid records
    with TrajectoryStore(tmp_path / "out") as store:
        for t in kept:
            store.append(t)
    assert [t.id for t in iter_trajectories(tmp_path / "out")] == [
        "ep-correct",
        "ep-parse-error",
        "ep-reflection",
    ]


def _math_episode(*steps: tuple[str, str, str | None], final: str, answer: str = "2291", train=True):
    from agentdistill.schema import Task

    from .samples import action, obs, task_msg, traj

    task = Task(id="math:train/x", question="What is 79 * 29?", answer=answer, domain="math")
    msgs = [*task_msg(task.question)]
    for thought, code, out in steps:
        msgs.append(action(thought, code, train=train))
        if out is not None:
            msgs.append(obs(out))
    return traj("ep-x", task, msgs, final, 1.0)


def test_grounded_keeps_computed_and_observed_answers_and_drops_guesses():
    computed = _math_episode(("Compute it.", "final_answer(79 * 29)", "2291"), final="2291")
    via_variable = _math_episode(
        ("Compute it.", "x = 79 * 29\nfinal_answer(f'\\\\boxed{{{x}}}')", "2291"), final="\\boxed{2291}"
    )
    observed = _math_episode(
        ("Compute it.", "print(79 * 29)", "2291"),
        ("The output answers it.", 'final_answer("\\\\boxed{2291}")', "\\boxed{2291}"),
        final="\\boxed{2291}",
    )
    guessed = _math_episode(
        ("I know it.", 'final_answer("\\\\boxed{2291}")', "\\boxed{2291}"), final="\\boxed{2291}"
    )
    printed_then_guessed_in_one_step = _math_episode(
        ("Check and answer.", "print(79 * 29)\nfinal_answer(2291)", "2291"), final="2291"
    )
    f = F.GroundedFilter()
    assert (
        f.apply(computed) is not None and f.apply(via_variable) is not None and f.apply(observed) is not None
    )
    assert f.apply(guessed) is None and f.apply(printed_then_guessed_in_one_step) is None
    assert f.reasons == {"guessed": 2}
    from agentdistill.trajectories.grounding import grounding

    assert [grounding(t).rule for t in (computed, observed, guessed)] == ["computed", "observed", "guessed"]


def test_grounded_catches_a_leaked_hint_and_forced_answers():
    from agentdistill.schema import Message

    # the thought states the gold before any output did (the teacher copied its reference hint)
    leak = _math_episode(("The answer is 2291; let me confirm.", "print(79 * 29)", "2291"),
                         ("Done.", "final_answer(79 * 29)", "2291"), final="2291")  # fmt: skip
    f = F.GroundedFilter()
    assert f.apply(leak) is None and f.reasons == {"hint_leak": 1}
    # the max-steps fallback answer: grounded only if an earlier observation showed it
    forced = _math_episode(("Compute it.", "print(79 * 29)", "2291"), final="2291")
    forced.messages += [
        Message(role="user", content="Give your final answer now.", kind="prompt"),
        Message(role="assistant", content="Final answer: 2291", kind="final", train=False),
    ]
    assert F.GroundedFilter().apply(forced) is not None
    forced_guess = _math_episode(("Compute it.", "print(79 * 28)", "2212"), final="2291")
    forced_guess.messages.append(Message(role="assistant", content="Final answer: 2291", kind="final"))
    assert F.GroundedFilter().apply(forced_guess) is None
    unanswered = _math_episode(("Compute it.", "print(79 * 29)", "2291"), final=None)
    g = F.GroundedFilter()
    assert g.apply(unanswered) is None and g.reasons == {"unanswered": 1}
    # QA is not checked by default; a masked failed step then a trained reflection stays (STeP)
    assert F.GroundedFilter().apply(correct()) is not None
    assert F.GroundedFilter().apply(reflection()) is not None


def test_grounded_drop_reasons_reach_the_filter_report():
    guessed = _math_episode(("I know it.", "final_answer(2291)", "2291"), final="2291")
    _, p = F.filter_trajectories([guessed, reflection()], [F.GroundedFilter()])
    assert p.summary()["filters"] == [
        {"name": "grounded", "seen": 2, "kept": 1, "dropped": 1, "reasons": {"guessed": 1}}
    ]


def test_numbers_in_code_are_not_a_leaked_hint():
    small = _math_episode(
        ("Divide and round.", "result = 12 / 6\nprint(round(result, 2))", "2.0"),
        ("Return it.", "final_answer(result)", "2.0"),
        final="2.0",
        answer="2",
    )
    small.task.question = "What is 12 / 6?"
    assert F.GroundedFilter().apply(small) is not None
