import json

import pytest

from agentdistill.schema import (
    TRAJECTORY_SCHEMA,
    AgentInfo,
    ExecResult,
    Message,
    SchemaError,
    Task,
    Trajectory,
    read_trajectories,
    write_trajectories,
)


def make_trajectory(i: int = 0) -> Trajectory:
    return Trajectory(
        id=f"gsm8k-{i}#0",
        task=Task(id=f"gsm8k-{i}", question="What is 2+3?", answer="5", domain="math", source="gsm8k:test"),
        agent=AgentInfo(model="default", role="teacher", prompt_version="codeact/1", seed=3),
        messages=[
            Message(role="system", content="You are an agent."),
            Message(role="user", content="What is 2+3?", kind="task"),
            Message(
                role="assistant",
                content="Thought: add\nCode:\n```py\nprint(2+3)\n```",
                kind="action",
                train=True,
            ),
            Message(role="user", content="Observation:\n5", kind="observation"),
        ],
        final_answer="5",
        score=1.0,
        first_thought_prefix="We add.",
    )


def test_round_trip_json_and_files(tmp_path):
    t = make_trajectory()
    again = Trajectory.from_json(t.to_json())
    assert again == t
    assert json.loads(t.to_json())["schema"] == TRAJECTORY_SCHEMA
    path = tmp_path / "t.jsonl"
    assert write_trajectories(path, [make_trajectory(i) for i in range(3)]) == 3
    write_trajectories(path, [make_trajectory(3)], append=True)
    got = list(read_trajectories(path))
    assert [x.id for x in got] == [f"gsm8k-{i}#0" for i in range(4)]
    assert got[0].messages[2].train is True and got[0].messages[2].kind == "action"


def test_unknown_schema_version_names_file_and_line(tmp_path):
    good = make_trajectory().to_dict()
    bad = dict(good, schema="agentdistill.trajectory/9")
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps(good) + "\n\n" + json.dumps(bad) + "\n")
    with pytest.raises(SchemaError) as e:
        list(read_trajectories(path))
    msg = str(e.value)
    assert f"{path}:3:" in msg and "agentdistill.trajectory/9" in msg and TRAJECTORY_SCHEMA in msg


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d["messages"][1].update(role="robot"), "messages.1.role"),
        (lambda d: d["task"].pop("question"), "task.question"),
        (lambda d: d.update(score="high"), "score"),
        (lambda d: d["messages"][2].update(kind="dance"), "messages.2.kind"),
        (lambda d: d.update(colour="blue"), "colour"),
    ],
)
def test_malformed_record_names_field(mutate, field):
    d = make_trajectory().to_dict()
    mutate(d)
    with pytest.raises(SchemaError, match=rf"x\.jsonl:7: field '{field}'"):
        Trajectory.from_dict(d, source="x.jsonl", line=7)


def test_invalid_json_and_missing_schema():
    with pytest.raises(SchemaError, match=r"f\.jsonl:2: invalid JSON"):
        Trajectory.from_json("{not json", source="f.jsonl", line=2)
    with pytest.raises(SchemaError, match="missing field 'schema'"):
        Trajectory.from_dict({"id": "x"})
    with pytest.raises(SchemaError, match="expected a JSON object"):
        Trajectory.from_json("[1, 2]")


def test_exec_result_defaults():
    r = ExecResult(stdout="5\n", duration_s=0.01)
    assert r.ok and not r.is_final and r.limit is None
    r2 = ExecResult(error="MemoryError", limit="memory", restarted=True)
    assert not r2.ok and ExecResult.model_validate_json(r2.model_dump_json()) == r2
