"""The episode engine: one scheduler for generation, evaluation and RL rollouts, and its executor seam."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import ClassVar

import pytest

from agentdistill.config import ConfigError, load_config
from agentdistill.episodes.engine import Episode, EpisodeEngine
from agentdistill.episodes.executors import EXECUTORS, ExecutorConfig, LocalExecutor
from agentdistill.errors import AgentDistillError
from agentdistill.schema import AgentInfo, Message, Task, Trajectory

from ..evaluation.scripted import ScriptedChatModel

SOLVE = 'Thought: I know it.\nCode:\n```py\nfinal_answer("42")\n```<end_code>'


def tasks(n: int) -> list[Task]:
    return [Task(id=f"t/{i}", question=f"What is 6 * 7 ({i})?", answer="42", domain="math") for i in range(n)]


def answer(task: Task, text: str = "42") -> Trajectory:
    return Trajectory(
        id="ignored",
        task=task,
        agent=AgentInfo(model="scripted"),
        messages=[Message(role="assistant", content=text, kind="cot", train=True)],
        final_answer=text,
        score=1.0 if text == task.answer else 0.0,
    )


def test_play_keeps_order_bounds_concurrency_and_passes_the_sample():
    active = peak = 0
    samples: list[int] = []

    async def solve(task: Task, sample: int = 0) -> Trajectory:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        samples.append(sample)
        await asyncio.sleep(0.01 * (3 - sample))  # later samples finish first
        active -= 1
        return answer(task)

    episodes = [Episode(f"{t.id}#{k}", t, k) for t in tasks(4) for k in range(3)]
    engine = EpisodeEngine(concurrency=3)
    done: list[str] = []
    out = asyncio.run(engine.play(episodes, solve, on_done=lambda t: done.append(t.id)))
    assert [t.id for t in out] == [e.id for e in episodes]  # the episodes' order, stamped with their ids
    assert sorted(done) == sorted(e.id for e in episodes) and done != [e.id for e in episodes]
    assert peak == 3 and sorted(samples) == sorted(e.sample for e in episodes)
    assert (engine.counts.written, engine.counts.succeeded, engine.counts.failed) == (12, 12, 0)


def test_a_raising_episode_is_a_failed_record_that_says_whether_to_retry():
    async def solve(task: Task) -> Trajectory:  # takes no sample: sample 0 is not passed
        if task.id == "t/0":
            raise ConnectionError("server went away")
        if task.id == "t/1":
            raise ValueError("a bug in the solver")
        return answer(task, "41")

    engine = EpisodeEngine(concurrency=2, model_name="m")
    out = asyncio.run(engine.play([Episode(t.id, t) for t in tasks(3)], solve))
    assert [(t.status, t.failure) for t in out] == [
        ("failed", "transient"),
        ("failed", "permanent"),
        ("ok", None),
    ]
    assert "ConnectionError: server went away" in out[0].error and out[0].agent.model == "m"
    assert (engine.counts.failed, engine.counts.transient, engine.counts.succeeded) == (2, 1, 0)


def test_an_unknown_executor_is_refused_when_the_config_loads(tmp_path):
    path = tmp_path / "gen.yaml"
    path.write_text("tasks: [gsm8k]\nexecutor: rey\n")
    from agentdistill.episodes.generate_config import GenerateConfig

    with pytest.raises(ConfigError, match=r"gen\.yaml\.executor: unknown executor 'rey'; available: local"):
        load_config(GenerateConfig, path)
    assert load_config(GenerateConfig, None, {"executor": "local"}).executor == ExecutorConfig("local")


class RecordingExecutor(LocalExecutor):
    """The local pool, recording which stage's episodes it ran (a stand-in for a distributed executor)."""

    seen: ClassVar[list[tuple[str, ...]]] = []

    async def run(self, episodes, play, done, *, concurrency):
        RecordingExecutor.seen.append(tuple(e.id for e in episodes))
        await super().run(episodes, play, done, concurrency=concurrency)


@pytest.fixture
def recording():
    EXECUTORS.register("recording", RecordingExecutor)
    RecordingExecutor.seen = []
    yield RecordingExecutor.seen
    EXECUTORS.unregister("recording")


def test_generation_evaluation_and_rl_rollouts_go_through_one_engine(tmp_path, recording, sandbox_config):
    """One injected executor sees the episodes of all three stages, each run in the real sandbox."""
    from agentdistill.agents.config import AgentConfig
    from agentdistill.episodes.generate import generate
    from agentdistill.episodes.generate_config import GenerateConfig
    from agentdistill.evaluation.config import EvalConfig
    from agentdistill.evaluation.run import run_eval
    from agentdistill.tasks.config import TaskSetConfig
    from agentdistill.training.rl_config import RLConfig
    from agentdistill.training.rollouts import RolloutRunner

    pool = tmp_path / "pool.jsonl"
    pool.write_text(
        "".join(
            json.dumps({"id": f"q{i}", "question": f"6 * 7 ({i})?", "answer": "42"}) + "\n" for i in range(2)
        )
    )
    task_set = TaskSetConfig([str(pool)], domain="math")
    agent = AgentConfig(max_steps=1, use_examples=False)

    gen = GenerateConfig(
        tasks=task_set, out=str(tmp_path / "gen"), teacher="langchain:tests.generate.fake_models:switchable",
        agent=agent, sandbox=sandbox_config, executor="recording", samples_per_task=2,
    )  # fmt: skip
    summary = generate(gen, progress=False)
    assert summary.written == 4 and summary.succeeded == 4

    ev = EvalConfig(benchmarks=task_set, out=str(tmp_path / "eval"), agent=agent, sandbox=sandbox_config,
                    executor="recording", plots=False)  # fmt: skip
    result = run_eval(ev, model=ScriptedChatModel(lambda conv: SOLVE), progress=False)
    assert result.solved == 2 and result.metrics["averages"]["overall"] == 1.0

    rl = RLConfig(tasks=task_set, output_dir=str(tmp_path / "rl"), group_size=2, tasks_per_step=1,
                  agent=AgentConfig(max_steps=1, use_examples=False, temperature=1.0), sandbox=sandbox_config,
                  executor="recording", save_rollouts=False)  # fmt: skip
    loaded = task_set.load()
    runner = RolloutRunner(rl, {t.question: t for t in loaded}, tokenizer=None, chat_model=None)
    rollouts = runner.play(ScriptedChatModel(lambda conv: SOLVE), [loaded[0], loaded[0]])
    assert [t.final_answer for t in rollouts] == ["42", "42"] and all(t.stats.steps == 1 for t in rollouts)

    ids = [t.id for t in loaded]
    assert recording == [
        tuple(f"{i}#{k}" for i in ids for k in range(2)),  # generation: every sample of every task
        tuple(ids),  # evaluation: every task once
        (f"{ids[0]}#0", f"{ids[0]}#1"),  # RL: a group of rollouts of one task
    ]
    # a rerun of the finished generation and evaluation plays nothing
    generate(gen, progress=False)
    run_eval(ev, model=ScriptedChatModel(lambda conv: SOLVE), progress=False)
    assert len(recording) == 3


def test_evaluate_needs_a_solver():
    from agentdistill.evaluation.runner import evaluate

    with pytest.raises(AgentDistillError, match="give a solver"):
        asyncio.run(evaluate(tasks(1), None, Path("/nonexistent/never-created"), progress=False))
