"""An evaluation runs its agent's code where its config says: here, in a Docker container."""

from __future__ import annotations

import pytest

from agentdistill.agents.config import AgentConfig
from agentdistill.evaluation.config import EvalConfig
from agentdistill.evaluation.run import run_eval
from agentdistill.sandbox import SandboxConfig
from agentdistill.sandbox.docker_backend import DockerBackend

from ..conftest import require_docker
from .scripted import ScriptedChatModel

PROBE = (
    "Thought: see where this runs.\nCode:\n```py\nimport os, sys\n"
    "print(os.path.exists('/.dockerenv'), sys.executable)\nfinal_answer(18)\n```<end_code>"
)


@pytest.mark.docker
def test_eval_with_the_docker_backend_runs_the_agent_in_a_container(tmp_path, docker_engine, monkeypatch):
    require_docker(docker_engine)
    launched = []
    original = DockerBackend.launch

    def spy(self):
        launched.append(self.config.backend)
        return original(self)

    monkeypatch.setattr(DockerBackend, "launch", spy)
    config = EvalConfig(
        benchmarks=["gsm8k[:2]"],
        out=str(tmp_path / "eval"),
        mode="agent",
        agent=AgentConfig(max_steps=1),
        sandbox=SandboxConfig(backend="docker"),
        concurrency=2,
        plots=False,
    )
    result = run_eval(config, model=ScriptedChatModel(lambda conv: PROBE), progress=False)
    assert launched == ["docker", "docker"]  # one container per episode
    assert result.metrics["benchmarks"]["gsm8k"]["n"] == 2
    from agentdistill.schema import read_trajectories

    for t in read_trajectories(tmp_path / "eval" / "predictions.jsonl"):
        observation = t.messages[3].content
        assert "True /usr/bin/python3" in observation, observation  # the image's Python, not the host's
        assert t.final_answer == "18"
