"""The shared vocabulary: Task, Message, Trajectory, ExecResult.

Every stage reads and writes these, so they are versioned: a trajectory record carries
``schema: "agentdistill.trajectory/1"`` and readers refuse versions they do not know. Validation is
done by pydantic; errors are re-raised as :class:`SchemaError` naming the file, line and field.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agentdistill.errors import AgentDistillError

TRAJECTORY_SCHEMA = "agentdistill.trajectory/3"
SUPPORTED_TRAJECTORY_SCHEMAS = ("agentdistill.trajectory/1", "agentdistill.trajectory/2", TRAJECTORY_SCHEMA)
"""Version 2 added ``fingerprint`` and ``failure``; version 3 the sampled tokens of assistant turns
(``Message.tokens``) and the model/sandbox time of an episode. Older records read as records without them."""
FailureKind = Literal["transient", "permanent"]

Role = Literal["system", "user", "assistant"]
# What a message is within an episode. Assistant messages: action (thought + code), reflection
# (a corrected step after a failure), final (the answer), cot (a plain chain-of-thought answer).
# User messages: task (the question), observation (tool output), error (an exception or parse
# error shown to the agent), prompt (any other instruction, e.g. "give your final answer now").
MessageKind = Literal["task", "prompt", "action", "observation", "error", "reflection", "final", "cot"]
Domain = Literal["qa", "math", "other"]


class SchemaError(AgentDistillError, ValueError):
    """A record that does not match the schema; says where (file, line) and which field."""

    def __init__(self, message: str, *, source: str | None = None, line: int | None = None):
        where = f"{source}:{line}: " if source and line else (f"{source}: " if source else "")
        super().__init__(f"{where}{message}")
        self.source, self.line = source, line


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Task(_Record):
    """One question to solve. ``answer`` is the gold answer (aliases in ``metadata["aliases"]``)."""

    id: str
    question: str
    answer: str | None = None
    domain: Domain = "other"
    source: str = ""
    metadata: dict[str, Any] = Field(default_factory=dict)


class SampledTokens(_Record):
    """What the policy sampled for one assistant turn, token for token (token-exact rollouts)."""

    ids: list[int]
    """The sampled token ids: with the end-of-turn token where the model sampled it, with the stop
    string's tokens where one ended the turn."""
    logprobs: list[float] | None = None
    """Log-probability of each id under the temperature-scaled sampling distribution."""
    finish_reason: str = "stop"
    """``stop`` (end of turn or a stop string) or ``length`` (cut by ``max_tokens``: a truncated turn)."""

    @property
    def truncated(self) -> bool:
        return self.finish_reason == "length"


class Message(_Record):
    """One chat message. ``train`` marks the messages the student learns to produce."""

    role: Role
    content: str
    kind: MessageKind | None = None
    train: bool = False
    tokens: SampledTokens | None = None
    """Assistant turns of token-exact rollouts: the sampled ids (``content`` is their decoding)."""

    def to_chat(self) -> dict[str, str]:
        """The plain ``{role, content}`` form chat templates and APIs expect."""
        return {"role": self.role, "content": self.content}


class AgentInfo(_Record):
    model: str
    role: Literal["teacher", "student"] = "teacher"
    prompt_version: str = ""
    generation: dict[str, Any] = Field(default_factory=dict)
    seed: int | None = None


PARSE_ERROR_MARKER = "Error in code parsing"
"""Text of a parse-error observation, in our prompts and in agent-distillation's (smolagents) logs."""
ASSISTANT_STEP_KINDS = ("action", "reflection")
"""Message kinds of an agent step (the final-answer reply after ``max_steps`` is not a step)."""


class TrajectoryStats(_Record):
    steps: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    tool_calls: int = 0
    errors: int = 0
    wall_time_s: float = 0.0
    model_time_s: float = 0.0
    """Seconds spent waiting for the model (all requests of the episode)."""
    sandbox_time_s: float = 0.0
    """Seconds spent running code in the sandbox."""


class Trajectory(_Record):
    """One episode of an agent on a task: the unit of generation, filtering, training and evaluation."""

    schema_: str = Field(default=TRAJECTORY_SCHEMA, alias="schema")
    id: str
    task: Task
    agent: AgentInfo
    messages: list[Message]
    final_answer: str | None = None
    score: float | None = None
    stats: TrajectoryStats = Field(default_factory=TrajectoryStats)
    first_thought_prefix: str | None = None
    status: Literal["ok", "max_steps", "failed"] = "ok"
    error: str | None = None
    failure: FailureKind | None = None
    """For ``status: failed``: ``transient`` (a server or sandbox outage: a rerun retries it) or
    ``permanent`` (the episode itself raised: retried only with ``--retry-failed``)."""
    fingerprint: str | None = None
    """Digest of the settings and task that produced the record (:mod:`agentdistill.fingerprints`): a rerun
    reuses only records whose fingerprint is the current one."""
    metadata: dict[str, Any] = Field(default_factory=dict)

    model_config = ConfigDict(extra="forbid", populate_by_name=True, validate_assignment=True)

    @field_validator("schema_")
    @classmethod
    def _known_schema(cls, v: str) -> str:
        if v not in SUPPORTED_TRAJECTORY_SCHEMAS:
            raise ValueError(
                f"unknown schema version {v!r}; this agentdistill reads {', '.join(SUPPORTED_TRAJECTORY_SCHEMAS)}"
                " (upgrade agentdistill, or convert the file)"
            )
        return v

    @property
    def agent_steps(self) -> int:
        """Agent steps: ``stats.steps`` when recorded, else the assistant action/reflection messages (0 for CoT)."""
        if self.stats.steps:
            return self.stats.steps
        return sum(1 for m in self.messages if m.role == "assistant" and m.kind in ASSISTANT_STEP_KINDS)

    @property
    def parse_errors(self) -> int:
        """Steps whose reply had no usable code block (each is followed by a parse-error observation)."""
        return sum(
            1
            for m in self.messages
            if m.role == "user" and m.kind in ("error", None) and PARSE_ERROR_MARKER in m.content
        )

    @property
    def trained_parse_errors(self) -> int:
        """Parse errors of *trained* steps: a masked failed step followed by a trained reflection is what
        STeP wants, not a defect, so filters count only these."""
        count = 0
        for prev, m in zip(self.messages, self.messages[1:], strict=False):
            if m.role == "user" and m.kind in ("error", None) and PARSE_ERROR_MARKER in m.content:
                count += int(prev.role == "assistant" and prev.train)
        return count

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: Any, *, source: str | None = None, line: int | None = None) -> Trajectory:
        if not isinstance(data, dict):
            raise SchemaError(f"expected a JSON object, got {type(data).__name__}", source=source, line=line)
        if "schema" not in data:
            raise SchemaError(
                f"missing field 'schema' (expected {TRAJECTORY_SCHEMA!r}); is this an agentdistill trajectory file?",
                source=source,
                line=line,
            )
        try:
            return cls.model_validate(data)
        except ValidationError as e:
            raise SchemaError(_describe(e), source=source, line=line) from None

    @classmethod
    def from_json(cls, text: str, *, source: str | None = None, line: int | None = None) -> Trajectory:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise SchemaError(
                f"invalid JSON ({e.msg} at column {e.colno})", source=source, line=line
            ) from None
        return cls.from_dict(data, source=source, line=line)


class ExecResult(_Record):
    """What one sandbox step produced.

    ``error`` holds the exception (or the limit that was hit) as text; ``is_final`` is true when the code
    called ``final_answer(x)``, whose value is ``final_answer``. ``limit`` names a broken limit (wall_time,
    cpu_time, memory, processes, output, file_size); ``restarted`` says the worker had to be killed and
    its state was lost. ``value`` is the repr of the last expression's value, as a REPL shows it.
    """

    stdout: str = ""
    error: str | None = None
    value: str | None = None
    final_answer: Any = None
    is_final: bool = False
    duration_s: float = 0.0
    truncated: bool = False
    limit: str | None = None
    restarted: bool = False
    tool_calls: int = 0
    """Host-tool calls this step's code made (answered from the episode's cache or not)."""

    @property
    def ok(self) -> bool:
        return self.error is None


def _describe(err: ValidationError) -> str:
    """First validation problem as 'field a.b.0.c: message' (pydantic's own text is multi-line)."""
    first = err.errors()[0]
    loc = ".".join(str(p) for p in first["loc"]) or "(record)"
    msg = first["msg"].removeprefix("Value error, ")
    more = f" (and {err.error_count() - 1} more problems)" if err.error_count() > 1 else ""
    return f"field '{loc}': {msg}{more}"


def read_trajectories(path: str | Path) -> Iterator[Trajectory]:
    """Stream trajectories from a JSONL file; blank lines are skipped, anything else must be valid."""
    path = Path(path)
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if line.strip():
                yield Trajectory.from_json(line, source=str(path), line=lineno)


def write_trajectories(path: str | Path, trajectories: Iterable[Trajectory], *, append: bool = False) -> int:
    """Write trajectories as JSONL (one record per line, flushed per line); returns the count."""
    n = 0
    with Path(path).open("a" if append else "w", encoding="utf-8") as f:
        for t in trajectories:
            f.write(t.to_json() + "\n")
            f.flush()
            n += 1
    return n
