"""How an agent episode runs: steps, sampling, observation size, and the teacher/student methods."""

from __future__ import annotations

import dataclasses
from typing import Literal

from agentdistill.config import FieldError


@dataclasses.dataclass
class AgentConfig:
    """Settings of the CodeAct loop (teacher and student alike)."""

    max_steps: int = 5
    """Agent steps before the episode is closed by one extra "give your final answer" call."""
    max_tokens: int = 512
    """New tokens per step."""
    temperature: float = 0.0
    """Sampling temperature of single-candidate steps (0 is greedy)."""
    top_p: float = 1.0
    n_candidates: int = 1
    """Self-consistent action generation: candidates per step, sampled in one request (1 = plain decoding)."""
    candidate_temperature: float = 0.7
    """Temperature of the candidates when ``n_candidates > 1``."""
    observation_max_chars: int = 2000
    """Observations longer than this keep their head and tail and are marked truncated."""
    first_thought_prefix: bool = False
    """Teacher: start the first Thought with the first paragraph (verbatim, with its blank line) of the
    teacher's CoT answer to the task: one call per task with the ``cot`` baseline's prompts and sampling,
    cached in the run folder. The acting model continues it; a backend that cannot continue is asked to
    begin with it, and a reply that does not is kept without it (``prefix_mode: dropped``)."""
    reflection: Literal["off", "self", "student"] = "off"
    """STeP self-reflection: off; self (the teacher reflects on its own failed steps); student (a student
    model acts, the teacher checks each step and writes the reflection and correction where it fails)."""
    max_reflections: int = 2
    """Reflections per episode at most (each costs a step)."""
    max_corrections: int = 2
    """Reflection ``student``: teacher corrections tried per student mistake. A correction is trained only
    if it runs cleanly (and a final answer in it is correct); a failed one stays in context, masked."""
    use_examples: bool = True
    """Put the prompt file's worked example for the task's domain in the system prompt."""
    prompts: str | None = None
    """A YAML file overriding keys of the packaged prompts (agents/prompts/codeact.yaml)."""
    cot_prompts: str | None = None
    """A YAML file overriding keys of the CoT prompts (agents/prompts/cot.yaml) of the ``cot`` modes."""
    seed: int | None = None
    """Sampling seed (per episode it is offset by the sample index); None leaves sampling unseeded."""
    final_max_tokens: int = 128
    """New tokens for the max-steps final-answer call."""
    train_forced_answer: bool = False
    """Train on the max-steps fallback answer. Off by default: an answer forced out of an unfinished
    episode is not a behaviour to learn (the ``status`` filter drops such episodes entirely)."""
    reference_hint: bool = False
    """Teacher only: show the gold answer to the model (STaR rationalization) so that weak teachers reach it;
    the hint goes into the request, never into the stored trajectory."""
    answer_found_prefix: bool = False
    """Teacher only, with the gold answer known: once a step's output shows it, the next step starts from the
    ``answer_found`` prompt (a thought ending in ``final_answer(``) that the model completes, so a weak
    teacher that computed the answer also returns it. Like the first-thought prefix, the text is part of the
    stored action; the gold answer is not."""
    tools: list[str] = dataclasses.field(default_factory=lambda: ["web_search"])
    """Host tools (names in ``agentdistill.tools.registry.HOST_TOOLS``) the agent may call from its code;
    each is built the first time a task's domain needs it."""
    code_prefix: bool = False
    """Teacher only: start every step (but the first-thought, reflection and answer-found ones) from the
    ``code_start`` prompt (a short thought, then an open ```py block) that the model continues, so a weak
    teacher writes code in every step. Like the first-thought prefix it is part of the stored action."""
    domain_tools: dict[str, list[str]] = dataclasses.field(default_factory=lambda: {"math": []})
    """Host tools each task domain sees (a domain not listed sees all of ``tools``): math gets only Python."""
    step_timeout_s: float | None = None
    """Wall time per code step; None uses the sandbox's limit."""

    def __post_init__(self) -> None:
        from agentdistill.tools.registry import HOST_TOOLS

        for name in ("max_steps", "n_candidates", "max_tokens", "final_max_tokens", "observation_max_chars",
                     "max_corrections"):  # fmt: skip
            if getattr(self, name) < 1:
                raise FieldError(name, f"must be >= 1, got {getattr(self, name)}")
        if self.reflection not in ("off", "self", "student"):
            raise FieldError("reflection", f"must be off, self or student, got {self.reflection!r}")
        for name in self.tools:
            if name not in HOST_TOOLS:
                raise FieldError("tools", str(HOST_TOOLS.unknown(name)))
        for domain, names in self.domain_tools.items():
            for name in names:
                if name not in self.tools:
                    raise FieldError(
                        "domain_tools", f"{domain}: {name!r} is not one of the agent's tools {self.tools}"
                    )
