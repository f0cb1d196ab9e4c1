"""``agentdistill rl``: GRPO on TRL with CodeAct rollouts of the real default model in the real sandbox."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentdistill.config import ConfigError, load_config
from agentdistill.schema import AgentInfo, Message, Task, Trajectory, TrajectoryStats
from agentdistill.training.rewards import REWARDS, compute_rewards, get_reward
from agentdistill.training.rl_config import RLConfig

REPO = Path(__file__).resolve().parents[2]
POOL = str(REPO / "configs" / "data" / "arithmetic_pool.jsonl")


def constant_reward(trajectory, config):
    """A user reward reached by import path (tests.training.test_rl:constant_reward)."""
    return 0.5


# -- config ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"agent": {"reference_hint": True}}, "agent.reference_hint"),
        ({"agent": {"code_prefix": True}}, "agent.code_prefix"),
        ({"agent": {"n_candidates": 4}}, "agent.n_candidates"),
        ({"group_size": 1}, "group_size"),
        ({"agent": {"temperature": 0.0}}, "temperature"),
        ({"rewards": {"corect": 1.0}}, "did you mean 'correct'"),
        (
            {"student": {"serve": {"max_model_len": 2048}}, "lora": False, "weight_sync": "lora"},
            "weight_sync",
        ),
        ({"micro_batch_size": 0}, "micro_batch_size"),
        ({"epsilon": 0}, "epsilon"),
        ({"lora_dropout": 1.5}, "lora_dropout"),
        ({"forced_answer": "greedy"}, "forced_answer"),
        ({"rewards": {"correct": 0.0}}, "every weight is 0"),
        ({"rewards": {"correct": "high"}}, "must be a number"),
        ({"trainer_overrides": {"use_vllm": True}}, "use_vllm"),
        ({"trainer_overrides": {"num_iterations": 2}}, "num_iterations"),
        ({"agent": {"train_forced_answer": True}}, "agent.train_forced_answer"),
        ({"vllm_server": "localhost:8000"}, "vllm_server"),
        ({"student": "openai:m@http://x/v1"}, "only local weights train"),
    ],
)
def test_config_refuses_what_cannot_train_on_policy(tmp_path, changes, field):
    import yaml

    path = tmp_path / "rl.yaml"
    path.write_text(yaml.safe_dump(changes))
    with pytest.raises(ConfigError, match=field.replace(".", r"\.").replace("(", r"\(")):
        load_config(RLConfig, path)


def test_defaults_follow_trl_and_lora_guidance_and_warn_about_format_rewards():
    from agentdistill.agents.config import AgentConfig
    from agentdistill.training.grpo import _differences_from_evaluation

    cfg = RLConfig()
    assert cfg.lora and cfg.lora_target_modules == "all-linear" and 1e-5 <= cfg.learning_rate <= 5e-5
    assert cfg.kl_coef == 0 and cfg.group_size * cfg.tasks_per_step < 32
    assert cfg.rewards == {"correct": 1.0, "runnable_code": 0.0, "final_answer": 0.0, "grounded": 0.0}
    assert cfg.warnings() == []
    assert "form, not its answer" in RLConfig(rewards={"correct": 1.0, "format": 0.2}).warnings()[0]
    # rollouts play the evaluation's game (sampled); a difference is named
    assert _differences_from_evaluation(cfg, None) == []
    other = _differences_from_evaluation(cfg, AgentConfig(max_steps=2, max_tokens=128))
    assert "max_steps 5 (evaluation: 2)" in other[0] and "max_tokens 512 (evaluation: 128)" in other[0]
    standalone = _differences_from_evaluation(RLConfig(agent=AgentConfig(max_steps=2, temperature=1.0)), None)
    assert standalone[0].startswith("the rollouts differ from `agentdistill eval`'s default agent")
    assert "max_steps 2 (default: 5)" in standalone[0]
    # the forced answer: sampled and trained, or greedy and masked
    assert cfg.rollout_agent.train_forced_answer and not cfg.agent.train_forced_answer
    assert not RLConfig(forced_answer="mask").rollout_agent.train_forced_answer


def test_grpo_config_maps_the_settings(tmp_path):
    from agentdistill.training.grpo import grpo_config

    cfg = RLConfig(tasks=[POOL], output_dir=str(tmp_path), group_size=4, tasks_per_step=3, micro_batch_size=2,
                   kl_coef=0.04, rewards={"correct": 1.0, "format": 0.25})  # fmt: skip
    g = grpo_config(cfg)
    assert (g.num_generations, g.per_device_train_batch_size, g.gradient_accumulation_steps) == (4, 2, 6)
    assert g.generation_batch_size == 12  # every group of a step is generated at once
    assert g.beta == 0.04 and g.reward_weights == [1.0, 0.25] and not g.use_vllm
    served = grpo_config(
        RLConfig(tasks=[POOL], output_dir=str(tmp_path), vllm_server="http://10.0.0.2:8000/")
    )
    assert served.use_vllm and served.vllm_mode == "server"
    assert served.vllm_server_base_url == "http://10.0.0.2:8000"
    with pytest.raises(ConfigError, match="not a multiple"):
        grpo_config(RLConfig(tasks=[POOL], output_dir=str(tmp_path), group_size=3, tasks_per_step=1))


# -- rewards -----------------------------------------------------------------------------------------


def _episode(final: str | None, status: str, steps: list[tuple[str, str]], tokens: int = 10) -> Trajectory:
    messages = [
        Message(role="system", content="s"),
        Message(role="user", content="What is 6 * 7?", kind="task"),
    ]
    for action, obs_kind in steps:
        messages.append(Message(role="assistant", content=action, kind="action"))
        messages.append(Message(role="user", content="Observation:\n...", kind=obs_kind))
    return Trajectory(
        id="t#0",
        agent=AgentInfo(model="policy", role="student"),
        task=Task(id="t", question="What is 6 * 7?", answer="42", domain="math"),
        messages=messages,
        final_answer=final,
        status=status,
        stats=TrajectoryStats(completion_tokens=tokens),
    )


def test_builtin_rewards_read_the_episode():
    code = "Thought: multiply\nCode:\n```py\nx = 6 * 7\nfinal_answer(x)\n```<end_code>"
    good = _episode("42", "ok", [(code, "observation")])
    names = ["correct", "f1", "final_answer", "runnable_code", "grounded", "format", "length"]
    assert compute_rewards(good, names, RLConfig()) == {
        "correct": 1.0, "f1": 1.0, "final_answer": 1.0, "runnable_code": 1.0, "grounded": 1.0, "format": 1.0,
        "length": 0.0,
    }  # fmt: skip
    guessed = _episode("41", "max_steps", [("no code here", "error"), (code, "observation")], tokens=384)
    r = compute_rewards(guessed, names, RLConfig(length_budget_tokens=256))
    assert r["correct"] == 0.0 and r["final_answer"] == 0.0 and r["runnable_code"] == 0.5
    assert r["length"] == pytest.approx(-0.5)
    failed = _episode(None, "failed", [])
    assert set(compute_rewards(failed, names, RLConfig()).values()) == {None}  # left out of the baseline


def test_user_rewards_by_import_path_and_registration():
    path = "tests.training.test_rl:constant_reward"
    assert get_reward(path) is constant_reward
    RLConfig(rewards={path: 1.0})  # accepted when the config loads
    REWARDS.register("half", constant_reward)
    try:
        assert compute_rewards(_episode("42", "ok", []), ["half"], None) == {"half": 0.5}
    finally:
        REWARDS.unregister("half")


# -- a real run --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rl_run(tmp_path_factory, sandbox_config, default_model_dir):
    """Two GRPO steps of the default model (full fine-tuning) on bundled arithmetic, rollouts in the real
    local sandbox, generated in-process by the policy being trained."""
    import torch
    from transformers import AutoModelForCausalLM

    from agentdistill.agents.config import AgentConfig
    from agentdistill.tasks.config import TaskSetConfig
    from agentdistill.training.grpo import train_rl

    out = tmp_path_factory.mktemp("rl") / "policy"
    cfg = RLConfig(
        student="default",
        tasks=TaskSetConfig([f"{POOL}[:4]"], domain="math"),
        forced_answer="sample",
        output_dir=str(out),
        steps=2,
        group_size=4,
        tasks_per_step=1,
        micro_batch_size=2,
        learning_rate=1e-5,
        # runnable code and length vary between sampled episodes, so groups have advantages to train on
        rewards={"correct": 1.0, "runnable_code": 0.5, "length": 0.5},
        length_budget_tokens=32,
        lora=False,
        max_length=768,
        agent=AgentConfig(
            max_steps=1, max_tokens=48, final_max_tokens=8, use_examples=False, temperature=1.0
        ),
        sandbox=sandbox_config,
    )
    before = {
        n: p.detach().clone()
        for n, p in AutoModelForCausalLM.from_pretrained(default_model_dir).named_parameters()
    }
    result = train_rl(cfg)
    after = dict(AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).named_parameters())
    return cfg, result, before, after


@pytest.mark.slow
def test_rewards_come_from_sandbox_runs_and_vary_within_groups(rl_run):
    from agentdistill.trajectories.store import iter_trajectories

    cfg, result, _, _ = rl_run
    rollouts = list(iter_trajectories(Path(cfg.output_dir) / "rollouts"))
    assert len(rollouts) == result.rollouts.rollouts == 2 * 4
    assert all(r.stats.steps >= 1 and r.metadata["executions"] + r.stats.errors >= 1 for r in rollouts)
    groups: dict[tuple[int, int], list[float]] = {}
    for r in rollouts:
        rl = r.metadata["rl"]
        total = sum(cfg.rewards[k] * v for k, v in rl["rewards"].items() if v is not None)
        groups.setdefault((rl["step"], rl["group"]), []).append(total)
    assert len(groups) == 2 and all(len(v) == 4 for v in groups.values())
    assert any(len(set(v)) > 1 for v in groups.values())
    assert [row["step"] for row in result.history] == [1, 2]


@pytest.mark.slow
def test_every_trained_weight_changed_and_the_policy_loads_and_answers(rl_run):
    from agentdistill.models.loading import load_chat_model

    cfg, result, before, after = rl_run
    assert result.steps == 2 and result.trainable_params == result.total_params
    unchanged = [n for n, p in after.items() if n in before and bool((p.detach() == before[n]).all())]
    assert not unchanged, f"not updated: {unchanged[:5]}"
    model = load_chat_model(f"hf:{cfg.output_dir}")
    reply = model.generate([{"role": "user", "content": "What is 2 + 3?"}], max_tokens=8)
    assert reply.text.strip()
    summary = json.loads((Path(cfg.output_dir) / "rl_summary.json").read_text())
    assert summary["result"]["rollouts"]["rollouts"] == 8 and summary["config"]["group_size"] == 4


@pytest.mark.slow
def test_trained_ids_are_the_ids_the_policy_sampled(rl_run, chatml_tokenizer):
    """Every trained id is one the policy sampled, in order; the forced answer is sampled and trained; and
    TRL, recomputing the log-probabilities of the same ids, finds the sampler's (importance ratio ~ 1)."""
    from agentdistill.training.rollouts import rollout_tokens
    from agentdistill.trajectories.store import iter_trajectories

    cfg, result, _, _ = rl_run
    finals = 0
    for traj in iter_trajectories(Path(cfg.output_dir) / "rollouts"):
        tokens = rollout_tokens(chatml_tokenizer, traj, cfg.max_length)
        sampled = [m.tokens.ids for m in traj.messages if m.role == "assistant" and m.train
                   and not m.tokens.truncated]  # fmt: skip
        trained = [t for t, m in zip(tokens.completion_ids, tokens.env_mask, strict=True) if m]
        assert trained == [t for ids in sampled for t in ids]
        for m in traj.messages:
            if m.role == "assistant":
                assert m.content == chatml_tokenizer.decode(m.tokens.ids, skip_special_tokens=True)
                assert m.tokens.finish_reason in ("stop", "length")
                assert len(m.tokens.logprobs) == len(m.tokens.ids)
        final = [m for m in traj.messages if m.kind == "final"]
        finals += bool(final and final[0].train)
    assert finals > 0  # the forced answer is sampled and trained (forced_answer: sample)
    for row in result.history:
        assert abs(row["sampling/importance_sampling_ratio/mean"] - 1) < 1e-3
        assert row["sampling/sampling_logp_difference/mean"] < 1e-3


@pytest.mark.slow
def test_the_summary_and_plot_show_every_diagnostic(rl_run):
    cfg, result, _, _ = rl_run
    summary = json.loads((Path(cfg.output_dir) / "rl_summary.json").read_text())["result"]
    wanted = ("reward", "reward_std", "frac_reward_zero_std", "grad_norm", "entropy", "clip_ratio/region_mean",
              "rewards/correct/mean", "rewards/correct/std", "rewards/runnable_code/mean", "finish_reasons",
              "truncated_turns", "rollouts_per_s", "generation_s", "sandbox_s", "sync_s", "training_s",
              "sampling/importance_sampling_ratio/mean", "peak_rss_gib")  # fmt: skip
    for row in summary["history"]:
        assert not [k for k in wanted if k not in row]
        assert sum(row["finish_reasons"].values()) >= row["rollouts"] and row["training_s"] > 0
    assert Path(result.plot).name == "rl.png" and Path(result.plot).stat().st_size > 10_000


@pytest.mark.slow
def test_rollouts_read_as_trajectories(rl_run, tmp_path):
    from typer.testing import CliRunner

    from agentdistill.cli import app

    cfg, _, _, _ = rl_run
    folder = str(Path(cfg.output_dir) / "rollouts")
    stats = CliRunner().invoke(app, ["trajectories", "stats", folder])
    assert stats.exit_code == 0, stats.output
    assert "8" in stats.output
    view = CliRunner().invoke(app, ["trajectories", "view", folder, "--out", str(tmp_path / "v.html")])
    assert view.exit_code == 0, view.output
    assert (tmp_path / "v.html").stat().st_size > 0


# -- CLI ---------------------------------------------------------------------------------------------


def test_cli_prints_the_config_and_refuses_bad_settings_before_work(tmp_path):
    from typer.testing import CliRunner

    from agentdistill.cli import app

    runner = CliRunner()
    shown = runner.invoke(
        app, ["rl", "--tasks", POOL, "--out", str(tmp_path / "p"), "--steps", "3", "--print-config"]
    )
    assert shown.exit_code == 0, shown.output
    assert "steps: 3" in shown.output and "group_size: 8" in shown.output
    bad = runner.invoke(
        app, ["rl", "--tasks", POOL, "--out", str(tmp_path / "p"), "--set", "agent.reference_hint=true"]
    )
    assert bad.exit_code != 0
    assert "reference_hint" in str(bad.exception) + bad.output
    assert not (tmp_path / "p").exists()
    no_tasks = runner.invoke(app, ["rl", "--out", str(tmp_path / "p")])
    assert no_tasks.exit_code != 0 and "no training tasks" in str(no_tasks.exception) + no_tasks.output


def test_offline_benchmark_config_validates_and_a_missing_start_is_refused_before_work(tmp_path):
    import subprocess
    import sys

    cfg = load_config(RLConfig, REPO / "configs" / "rl-offline.yaml", {"output_dir": str(tmp_path / "o")})
    cfg.validate()
    assert cfg.agent.temperature > 0 and cfg.tasks.specs == ["configs/data/arithmetic_phrased_pool.jsonl"]
    run = tmp_path / "run"
    script = str(REPO / "benchmarks" / "rl_offline.py")
    proc = subprocess.run(
        [sys.executable, script, "--start", str(tmp_path / "none"), "--run-dir", str(run)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0 and f"no model at {tmp_path / 'none'}" in proc.stderr
    assert not run.exists()
    control_only = subprocess.run(
        [sys.executable, script, "--control-only", "--run-dir", str(run)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert control_only.returncode != 0 and "--control-only needs the evaluations" in control_only.stderr
    assert not run.exists()


def test_pipeline_rl_stage_needs_a_servable_student():
    from agentdistill.config import from_dict
    from agentdistill.pipeline.config import PipelineConfig

    with pytest.raises(ConfigError, match=r"train\.merge"):
        from_dict(PipelineConfig, {"train": {"lora": True, "merge": False}, "rl": {"steps": 2}})
    cfg = from_dict(
        PipelineConfig, {"train": {"lora": False}, "rl": {"steps": 2}, "generate": {"tasks": [POOL]}}
    )
    from agentdistill.pipeline.runner import Pipeline

    rl = Pipeline(cfg)._rl_config(Path("/tmp/run/student"))
    assert (
        rl.student.spec == "hf:/tmp/run/student" and rl.tasks.specs == [POOL] and rl.output_dir.endswith("rl")
    )
