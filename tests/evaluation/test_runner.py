"""The eval runner, judge and report with scripted models: resume, failures, judge cache, plots, CLI."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest
from PIL import Image

from agentdistill.agents.cot import CoTSolver, extract_final_answer
from agentdistill.agents.solvers import SOLVERS, SolverContext, make_solver, register_solver
from agentdistill.errors import AgentDistillError
from agentdistill.evaluation.config import EvalConfig
from agentdistill.evaluation.judge import Judge, parse_verdict
from agentdistill.evaluation.report import write_report
from agentdistill.evaluation.run import load_eval_tasks, run_eval
from agentdistill.evaluation.runner import PREDICTIONS, evaluate, read_predictions
from agentdistill.schema import read_trajectories

from .scripted import ScriptedChatModel

BENCHES = ["hotpotqa[:3]", "bamboogle[:2]", "gsm8k[:3]", "math500[:2]"]


def gold_replier(tasks):
    """Answers right for some tasks (by question), wrong for others, in the CoT format."""
    by_q = {t.question: t for t in tasks}
    position = {t.id: i for i, t in enumerate(tasks)}

    def reply(conv):
        user = conv[-1]["content"]
        task = next(t for q, t in by_q.items() if q in user)
        right = position[task.id] % 2 == 0 or task.id.endswith("/0")
        if task.domain == "math":
            return f"Reasoning... so \\boxed{{{task.answer if right else '-1'}}}"
        return f"Thinking.\nFinal answer: {task.answer if right else 'nobody'}"

    return reply


def config(tmp_path, folder="run", **kw):
    return EvalConfig(benchmarks=BENCHES, out=str(tmp_path / folder), mode="cot", plots=False, **kw)


def lines(path):
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def test_eval_writes_predictions_metrics_table_and_resumes(tmp_path):
    cfg = config(tmp_path)
    tasks = load_eval_tasks(cfg)
    model = ScriptedChatModel(gold_replier(tasks))
    result = run_eval(cfg, model=model, progress=False)
    assert model.calls == len(tasks) == 10 and result.solved == 10
    out = tmp_path / "run"
    trajs = list(read_trajectories(out / PREDICTIONS))
    assert sorted(t.task.id for t in trajs) == sorted(t.id for t in tasks)
    t0 = next(t for t in trajs if t.task.id == "gsm8k:test/0")
    assert [m.kind for m in t0.messages] == [None, "task", "cot"] and t0.messages[-1].train
    assert t0.final_answer == r"\boxed{18}" and t0.score == 1.0 and t0.agent.prompt_version == "cot-v1"
    metrics = json.loads((out / "metrics.json").read_text())
    bench = metrics["benchmarks"]
    assert list(bench) == ["hotpotqa", "bamboogle", "math500", "gsm8k"]  # paper order: QA first, ID first
    for label, entry in bench.items():
        own = [t for t in trajs if t.task.metadata["benchmark"] == label]
        assert entry["n"] == len(own) and entry["score"] == pytest.approx(np.mean([t.score for t in own]))
    assert metrics["averages"]["in_domain"] == pytest.approx(
        (bench["hotpotqa"]["score"] + bench["math500"]["score"]) / 2
    )
    assert "| hotpotqa† | qa | in_domain | 3 |" in (out / "results.md").read_text()
    # rerun: nothing solved, no model call, no duplicate
    again = run_eval(cfg, model=model, progress=False)
    assert model.calls == 10 and again.solved == 0 and again.skipped == 10
    assert len(lines(out / PREDICTIONS)) == 10
    assert again.metrics["benchmarks"] == metrics["benchmarks"]


def test_killed_run_resumes_without_loss_or_duplicates(tmp_path):
    cfg = config(tmp_path)
    tasks = load_eval_tasks(cfg)
    model = ScriptedChatModel(gold_replier(tasks))
    run_eval(cfg, model=model, progress=False)
    pred = tmp_path / "run" / PREDICTIONS
    raw = pred.read_text().splitlines(keepends=True)
    # simulate a kill: four records lost, the fifth torn mid-line
    pred.write_text("".join(raw[:5]) + raw[5][:40])
    assert len(read_predictions(pred)) == 5 and not pred.read_text().endswith("\n")  # readers never cut
    model.calls = 0
    result = run_eval(cfg, model=model, progress=False)  # the writer does
    assert model.calls == 5 and result.solved == 5
    ids = [r["task"]["id"] for r in lines(pred)]
    assert len(ids) == len(set(ids)) == 10


def test_failures_are_recorded_then_retried(tmp_path):
    cfg = config(tmp_path)
    tasks = load_eval_tasks(cfg)
    good = gold_replier(tasks)
    broken = {"gsm8k:test/1", "hotpotqa:test/5a774e9c55429972597f14f3"}

    def flaky(conv):
        if any(t.question in conv[-1]["content"] for t in tasks if t.id in broken):
            raise RuntimeError("server went away")
        return good(conv)

    result = run_eval(cfg, model=ScriptedChatModel(flaky), progress=False)
    assert result.metrics["benchmarks"]["gsm8k"]["failed"] == 1 and "| failed |" in result.table
    failed = [r for r in lines(tmp_path / "run" / PREDICTIONS) if r["status"] == "failed"]
    assert {r["task"]["id"] for r in failed} == broken and "server went away" in failed[0]["error"]
    model = ScriptedChatModel(good)
    result = run_eval(cfg, model=model, progress=False)
    assert model.calls == 2 and result.metrics["benchmarks"]["gsm8k"]["failed"] == 0
    rows = lines(tmp_path / "run" / PREDICTIONS)
    assert len(rows) == 10 and all(r["status"] == "ok" for r in rows)


def test_every_task_failing_is_an_error_not_a_table_of_zeros(tmp_path):
    def down(conv):
        raise ConnectionError("connection refused")

    with pytest.raises(AgentDistillError, match=r"all 10 tasks failed.*connection refused"):
        run_eval(config(tmp_path), model=ScriptedChatModel(down), progress=False)
    assert len(lines(tmp_path / "run" / PREDICTIONS)) == 10  # recorded, and retried by a rerun
    tasks = load_eval_tasks(config(tmp_path))
    model = ScriptedChatModel(gold_replier(tasks))
    assert run_eval(config(tmp_path), model=model, progress=False).solved == 10 and model.calls == 10


def test_judge_verdicts_agreement_and_cache(tmp_path):
    cfg = config(tmp_path)
    tasks = load_eval_tasks(cfg)
    run_eval(cfg, model=ScriptedChatModel(gold_replier(tasks)), progress=False)

    def verdict(conv):  # says yes to everything except "nobody": agrees with EM on every task
        return (
            "Brief reason.\nVerdict: no"
            if "Predicted answer: nobody" in conv[-1]["content"]
            else "Verdict: yes"
        )

    judge_model = ScriptedChatModel(verdict, name="judge-x")
    judge = Judge(judge_model, cache_path=tmp_path / "verdicts.sqlite")
    result = run_eval(cfg, model=ScriptedChatModel(gold_replier(tasks)), judge=judge, progress=False)
    qa = [t for t in tasks if t.domain == "qa"]
    assert judge_model.calls == len(qa) == 5
    hp = result.metrics["benchmarks"]["hotpotqa"]
    assert hp["judge"] == pytest.approx(hp["em"]) and hp["judge_agreement"] == 1.0
    assert "judge" not in result.metrics["benchmarks"]["gsm8k"]
    assert "averages_judge" in result.metrics and "judge/EM agreement" in result.table
    assert len(lines(tmp_path / "run" / "judgements.jsonl")) == 5
    # a fresh Judge over the same cache file: zero judge calls
    judge_model2 = ScriptedChatModel(verdict, name="judge-x")
    judge2 = Judge(judge_model2, cache_path=tmp_path / "verdicts.sqlite")
    again = run_eval(cfg, model=ScriptedChatModel(gold_replier(tasks)), judge=judge2, progress=False)
    assert judge_model2.calls == 0 and again.metrics["benchmarks"]["hotpotqa"] == hp
    # a different judge model is a different cache key
    judge3 = Judge(
        ScriptedChatModel(lambda c: "Verdict: yes", name="judge-y"), cache_path=tmp_path / "verdicts.sqlite"
    )
    third = run_eval(cfg, model=ScriptedChatModel(gold_replier(tasks)), judge=judge3, progress=False)
    assert judge3.model.calls == 5 and third.metrics["benchmarks"]["hotpotqa"]["judge"] == 1.0
    assert third.metrics["benchmarks"]["hotpotqa"]["judge_agreement"] < 1.0 or hp["em"] == 1.0


def test_parse_verdict():
    assert parse_verdict("The answers match.\nVerdict: yes") is True
    assert parse_verdict("Verdict: **no**") is False
    assert parse_verdict("yes at first... Verdict: no") is False
    assert parse_verdict("No, they differ.") is False
    assert parse_verdict("unclear") is None


def _png_ok(path):
    img = np.asarray(Image.open(path).convert("L"))
    assert img.shape[0] >= 200 and img.shape[1] >= 300
    assert img.std() > 5, f"{path} looks blank"


def test_report_over_two_runs(tmp_path):
    tasks = load_eval_tasks(config(tmp_path))
    run_eval(
        config(tmp_path, "a", name="student-a"), model=ScriptedChatModel(gold_replier(tasks)), progress=False
    )
    run_eval(
        config(tmp_path, "b"), model=ScriptedChatModel(lambda c: "Final answer: x \\boxed{0}"), progress=False
    )
    result = write_report([tmp_path / "a", tmp_path / "b"], tmp_path / "rep")
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "| student-a |" in md and "| b |" in md and "hotpotqa (ID)" in md and "OOD avg" in md
    comparison = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert comparison["runs"] == ["student-a", "b"]
    assert comparison["table"]["b"]["overall"] == 0.0 and comparison["table"]["student-a"]["overall"] > 0
    assert {p.name for p in result.plots} == {"scores.png", "steps.png", "tokens.png", "differences.png"}
    for p in result.plots:
        _png_ok(p)
    # b against the baseline student-a, task by task
    assert comparison["baseline"] == "student-a" and "## Against the baseline (student-a)" in md
    gsm = comparison["differences"]["b"]["gsm8k"]
    a_right = sum(t.score == 1.0 for t in read_predictions(tmp_path / "a" / PREDICTIONS).values()
                  if t.task.metadata["benchmark"] == "gsm8k")  # fmt: skip
    assert gsm["n"] == 3 and gsm["only_baseline"] == a_right and gsm["only_candidate"] == 0
    assert gsm["difference"] == pytest.approx(-a_right / 3) and gsm["ci_high"] <= 0


def test_cli_report_and_agent_mode_hook(tmp_path, monkeypatch):
    from agentdistill.cli import main

    tasks = load_eval_tasks(config(tmp_path))
    run_eval(config(tmp_path, "a"), model=ScriptedChatModel(gold_replier(tasks)), progress=False)
    with pytest.raises(SystemExit) as e:
        main(["report", str(tmp_path / "a"), "--out", str(tmp_path / "rep")])
    assert e.value.code == 0 and (tmp_path / "rep" / "scores.png").is_file()
    with pytest.raises(SystemExit) as e:
        main(["report", str(tmp_path / "missing"), "--out", str(tmp_path / "rep2")])
    assert e.value.code == 2
    # agent mode: a clear error until the agents package provides a solver, then it is used
    monkeypatch.setitem(SOLVERS, "agent", "agentdistill.agents.no_such_solver_module:make")
    with pytest.raises(AgentDistillError, match="mode 'agent' is not available yet"):
        make_solver("agent", SolverContext(model=ScriptedChatModel(lambda c: "")))
    with pytest.raises(SystemExit) as e:
        main(["eval", "--benchmarks", "gsm8k[:1]", "--out", str(tmp_path / "x"), "--mode", "agent"])
    assert e.value.code == 2

    async def fake_agent(task):
        return await CoTSolver(ScriptedChatModel(lambda c: "\\boxed{18}"))(task)

    register_solver("agent", lambda ctx: fake_agent)
    cfg = EvalConfig(benchmarks=["gsm8k[:1]"], out=str(tmp_path / "agent"), mode="agent", plots=False)
    assert (
        run_eval(cfg, model=ScriptedChatModel(lambda c: ""), progress=False).metrics["averages"]["overall"]
        == 1.0
    )


def test_extract_final_answer():
    assert extract_final_answer("a\nFinal answer: **Paris**.", "qa") == "Paris"
    assert extract_final_answer("so the answer is 1990.", "qa") == "1990"
    assert extract_final_answer("just\nParis", "qa") == "Paris"
    assert extract_final_answer(r"x \boxed{\frac{1}{2}} done", "math") == r"\boxed{\frac{1}{2}}"
    assert extract_final_answer("", "qa") is None


def test_concurrency_is_bounded(tmp_path):
    tasks = load_eval_tasks(config(tmp_path))
    active = peak = 0

    async def solver(task):
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.01)
        active -= 1
        return await CoTSolver(ScriptedChatModel(gold_replier(tasks)))(task)

    asyncio.run(evaluate(tasks, solver, tmp_path / "c", concurrency=3, progress=False))
    assert peak == 3


def test_cli_eval_config_file_and_overrides(tmp_path, monkeypatch):
    from agentdistill.cli import main
    from agentdistill.evaluation import run as pipeline

    seen = []

    def fake_run_eval(config, progress=True):
        seen.append(config)
        return pipeline.EvalResult(tmp_path, {}, "table\n", solved=0, skipped=0)

    monkeypatch.setattr(pipeline, "run_eval", fake_run_eval)
    cfg = tmp_path / "eval.yaml"
    cfg.write_text(
        "benchmarks: ['gsm8k[:2]', 'hotpotqa']\nout: from-file\nmode: cot\nagent: {max_tokens: 99}\n"
    )
    with pytest.raises(SystemExit) as e:
        main(["eval", "--config", str(cfg), "--max-tokens", "7", "--sag", "3"])
    assert e.value.code == 0
    (c,) = seen
    assert (c.benchmarks.specs, c.out, c.mode, c.agent.max_tokens, c.agent.n_candidates) == (
        ["gsm8k[:2]", "hotpotqa"],
        "from-file",
        "cot",
        7,
        3,
    )
    with pytest.raises(SystemExit) as e:
        main(
            ["eval", "--benchmarks", "gsm8k[:1],aime:2024", "--out", str(tmp_path / "o"), "--mode", "cot-rag"]
        )
    assert (
        e.value.code == 0
        and seen[1].benchmarks.specs == ["gsm8k[:1]", "aime:2024"]
        and seen[1].mode == "cot-rag"
    )


def test_an_outage_mid_eval_is_counted_as_transient_and_retried(tmp_path):
    cfg = config(tmp_path)
    tasks = load_eval_tasks(cfg)
    good = gold_replier(tasks)
    down = {t.question for t in tasks[:3]}

    def flaky(conv):
        if any(q in conv[-1]["content"] for q in down):
            raise ConnectionError("connection refused")
        return good(conv)

    result = run_eval(cfg, model=ScriptedChatModel(flaky), progress=False)
    assert result.transient == 3
    rows = lines(tmp_path / "run" / PREDICTIONS)
    assert sorted(r["failure"] for r in rows if r["status"] == "failed") == ["transient"] * 3
    model = ScriptedChatModel(good)
    again = run_eval(cfg, model=model, progress=False)
    assert model.calls == 3 and again.transient == 0 and again.skipped == 7


def test_eval_against_a_baseline_run_prints_the_paired_difference(tmp_path):
    tasks = load_eval_tasks(config(tmp_path))
    run_eval(
        config(tmp_path, "a"), model=ScriptedChatModel(lambda c: "Final answer: x \\boxed{0}"), progress=False
    )
    with pytest.raises(AgentDistillError, match="not a finished eval run"):
        run_eval(
            config(tmp_path, "b", baseline=str(tmp_path / "nope")), model=ScriptedChatModel(lambda c: "")
        )
    result = run_eval(
        config(tmp_path, "b", baseline=str(tmp_path / "a")),
        model=ScriptedChatModel(gold_replier(tasks)),
        progress=False,
    )
    assert "## Against the baseline (a)" in result.table and "p=" in result.table
    gsm = result.metrics["differences"]["gsm8k"]
    assert gsm["n"] == 3 and gsm["difference"] > 0 and gsm["only_baseline"] == 0
    assert "differences" in json.loads((tmp_path / "b" / "metrics.json").read_text())


def test_rerunning_with_a_task_that_keeps_failing_is_not_an_outage(tmp_path):
    cfg = config(tmp_path)
    tasks = load_eval_tasks(cfg)
    good = gold_replier(tasks)
    broken = tasks[0].question

    def one_bad(conv):
        if broken in conv[-1]["content"]:
            raise RuntimeError("this task always breaks the solver")
        return good(conv)

    run_eval(cfg, model=ScriptedChatModel(one_bad), progress=False)
    again = run_eval(cfg, model=ScriptedChatModel(one_bad), progress=False)  # retries the one, which fails
    assert again.solved == 1 and again.metrics["benchmarks"][tasks[0].metadata["benchmark"]]["failed"] == 1
