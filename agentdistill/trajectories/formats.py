"""Trajectories in and out: export for trainers (HF datasets, OpenAI and ShareGPT JSONL) and as
agent-distillation run logs, import of foreign rollouts (agent-distillation logs, R1-Searcher rollouts)
into our records.

Exports keep the per-message ``train`` flag, since partial masking (failed steps not trained) is the
point of self-reflected trajectories: OpenAI chat JSONL has a ``weight`` (0/1) on each assistant message,
as OpenAI fine-tuning accepts; ShareGPT turns from ``gpt`` carry the same ``weight``; the HF dataset
keeps the messages with ``train`` and ``kind`` plus the full record as JSON, so it round-trips exactly.
The agent-distillation export writes what their ``run_experiment`` logs (smolagents messages, a
``tool-call`` after each action, ``Call id`` observations) and keeps ``train`` and ``kind`` as extra keys
on each message, which their code ignores and our import reads back: import -> export -> import keeps
every mask.

Imports map foreign formats onto :class:`~agentdistill.schema.Trajectory` so filters, stats, the viewer
and training treat them like our own episodes. A malformed row is an :class:`ImportFormatError` naming
the file and line.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from agentdistill.agents.parsing import parse_action
from agentdistill.errors import AgentDistillError
from agentdistill.jsonl import iter_jsonl_objects
from agentdistill.registry import Registry
from agentdistill.schema import AgentInfo, Message, Task, Trajectory, TrajectoryStats
from agentdistill.tasks.registry import list_benchmarks
from agentdistill.trajectories.store import write_jsonl

ExportFormat = Literal["hf", "openai", "sharegpt", "agent-distillation"]
SHAREGPT_ROLES = {"system": "system", "user": "human", "assistant": "gpt"}


class ImportFormatError(AgentDistillError, ValueError):
    """A foreign record that cannot be mapped; the message names file and line."""


class ExportError(AgentDistillError):
    """An export that cannot be done as asked (e.g. pushing to the hub while offline)."""


# -- export ---------------------------------------------------------------------------------------


def to_openai(trajectory: Trajectory) -> dict[str, Any]:
    """OpenAI chat fine-tuning record: ``{"messages": [...]}``, ``weight`` 0/1 on assistant messages."""
    messages: list[dict[str, Any]] = []
    for m in trajectory.messages:
        item: dict[str, Any] = {"role": m.role, "content": m.content}
        if m.role == "assistant":
            item["weight"] = int(m.train)
        messages.append(item)
    return {"messages": messages}


def to_sharegpt(trajectory: Trajectory) -> dict[str, Any]:
    """ShareGPT record: ``{"conversations": [{"from", "value"}...]}``; ``gpt`` turns carry ``weight``.

    Consecutive non-assistant messages (an observation then a "give your final answer" prompt) are
    joined with a blank line, because ShareGPT loaders expect human and gpt turns to alternate.
    """
    turns: list[dict[str, Any]] = []
    for m in trajectory.messages:
        who = SHAREGPT_ROLES[m.role]
        if who == "gpt":
            turns.append({"from": who, "value": m.content, "weight": int(m.train)})
        elif turns and turns[-1]["from"] == who:
            turns[-1]["value"] += "\n\n" + m.content
        else:
            turns.append({"from": who, "value": m.content})
    return {"conversations": turns}


def to_hf_record(trajectory: Trajectory) -> dict[str, Any]:
    """A flat row for a ``datasets.Dataset``: the fields people filter on, the messages, and the record.

    Free-form dicts (task and trajectory metadata, generation settings) go in as JSON text, since Arrow
    needs one type per column; ``trajectory`` holds the whole record for an exact round trip.
    """
    t = trajectory
    return {
        "id": t.id,
        "task_id": t.task.id,
        "question": t.task.question,
        "answer": t.task.answer,
        "domain": t.task.domain,
        "source": t.task.source,
        "model": t.agent.model,
        "role": t.agent.role,
        "messages": [
            {"role": m.role, "content": m.content, "kind": m.kind, "train": m.train} for m in t.messages
        ],
        "final_answer": t.final_answer,
        "score": t.score,
        "status": t.status,
        "steps": t.stats.steps,
        "prompt_tokens": t.stats.prompt_tokens,
        "completion_tokens": t.stats.completion_tokens,
        "tool_calls": t.stats.tool_calls,
        "errors": t.stats.errors,
        "first_thought_prefix": t.first_thought_prefix,
        "trajectory": t.to_json(),
    }


def to_hf_dataset(trajectories: Iterable[Trajectory]) -> Any:
    """A ``datasets.Dataset`` with one row per trajectory (see :func:`to_hf_record`)."""
    import datasets

    rows = [to_hf_record(t) for t in trajectories]
    if not rows:
        raise ExportError("no trajectories to export")
    return datasets.Dataset.from_list(rows)


def from_hf_dataset(dataset: Iterable[dict[str, Any]]) -> Iterator[Trajectory]:
    """Trajectories back from a dataset made by :func:`to_hf_dataset` (its ``trajectory`` column)."""
    for i, row in enumerate(dataset):
        if "trajectory" not in row:
            raise ImportFormatError(f"row {i}: no 'trajectory' column; not an agentdistill export")
        yield Trajectory.from_json(row["trajectory"], source="dataset", line=i)


def _export_hf(trajectories: Iterable[Trajectory], out: Path, *, push: str | None, private: bool) -> int:
    """A ``datasets`` folder (``save_to_disk``), optionally pushed to the hub."""
    if push and os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        raise ExportError(f"cannot push to {push}: HF_HUB_OFFLINE is set (unset it, or drop --push)")
    ds = to_hf_dataset(trajectories)
    ds.save_to_disk(str(out))
    if push:
        try:
            ds.push_to_hub(push, private=private)
        except Exception as e:  # network, auth, permissions: say what failed, not a traceback
            raise ExportError(
                f"saved to {out}, but pushing to {push} failed: {type(e).__name__}: {e}"
            ) from None
    return len(ds)


def _jsonl_exporter(convert: Callable[[Trajectory], dict[str, Any]]) -> Exporter:
    def export(trajectories: Iterable[Trajectory], out: Path, *, push: str | None, private: bool) -> int:
        if push:
            raise ExportError("--push works with --format hf only")
        out.parent.mkdir(parents=True, exist_ok=True)
        return write_jsonl(out, (convert(t) for t in trajectories))

    return export


_AD_ROLES = {"system": "system", "assistant": "assistant"}


def to_agent_distillation(trajectory: Trajectory) -> dict[str, Any]:
    """One agent-distillation log row (``run_experiment``'s JSONL): question, answers, score and
    ``log_data`` with smolagents messages; each message also carries our ``train`` and ``kind``."""
    t = trajectory
    row: dict[str, Any] = {
        "id": t.task.id,
        "model_id": t.agent.model,
        "question": t.task.question,
        "true_answer": [t.task.answer, *t.task.metadata.get("aliases", [])]
        if t.task.metadata.get("aliases")
        else t.task.answer,
        "generated_answer": t.final_answer,
        "source": t.task.source,
    }
    if t.score is not None:
        row["score"] = t.score
    if t.status == "failed":
        return {**row, "log_data": None, "error": t.error or "failed"}
    messages: list[dict[str, Any]] = []
    calls = 0
    for m in t.messages:
        if m.role == "assistant":
            messages.append(_ad_message("assistant", m.content, m))
            code = parse_action(m.content).code
            if code is not None:
                calls += 1
                call = [{"id": f"call_{calls}", "type": "function",
                         "function": {"name": "python_interpreter", "arguments": code}}]  # fmt: skip
                messages.append(_ad_message("tool-call", f"Calling tools:\n{call!r}", None))
        elif m.kind in ("observation", "error"):
            messages.append(_ad_message("tool-response", f"Call id: call_{calls}\n{m.content}", m))
        else:
            messages.append(_ad_message(_AD_ROLES.get(m.role, "user"), m.content, m))
    metadata = {
        "task": t.task.question,
        "cost": {"input_tokens": t.stats.prompt_tokens, "output_tokens": t.stats.completion_tokens},
        "performance": {"total_duration": t.stats.wall_time_s},
        "domain": t.task.domain,
    }
    return {**row, "log_data": {"messages": messages, "metadata": metadata}}


def _ad_message(role: str, text: str, message: Message | None) -> dict[str, Any]:
    out: dict[str, Any] = {"role": role, "content": [{"type": "text", "text": text}]}
    if message is not None:
        out.update(train=message.train, kind=message.kind)
    return out


Exporter = Callable[..., int]
EXPORTERS: Registry[Exporter] = Registry(
    "export format",
    {
        "hf": _export_hf,
        "openai": _jsonl_exporter(to_openai),
        "sharegpt": _jsonl_exporter(to_sharegpt),
        "agent-distillation": _jsonl_exporter(to_agent_distillation),
    },
    error=ExportError,
)
"""Export formats by name: ``(trajectories, out, *, push, private) -> rows written``."""
EXPORT_FORMATS: tuple[str, ...] = tuple(EXPORTERS.names())


def export_trajectories(
    trajectories: Iterable[Trajectory],
    out: str | Path,
    fmt: str,
    *,
    push: str | None = None,
    private: bool = False,
) -> int:
    """Write trajectories in ``fmt`` to ``out`` (a directory for ``hf``, a JSONL file otherwise).

    ``push`` (``hf`` only) also uploads the dataset to that hub repository; it needs network and a
    token, and fails with a clear message when ``HF_HUB_OFFLINE`` is set. Returns the row count.
    """
    return EXPORTERS.get(fmt)(trajectories, Path(out), push=push, private=private)  # type: ignore[no-any-return]


# -- import: shared -------------------------------------------------------------------------------


def _task_id(prefix: str, question: str) -> str:
    """Stable id from the question text, so re-imports and other files of the same task agree."""
    return f"{prefix}/{hashlib.sha1(question.strip().encode()).hexdigest()[:12]}"


_MATH_HINT = re.compile(r"\$|\\(?:frac|sqrt|boxed|cdot|times|pi|left|right)|\^|\d\s*[-+*/=]\s*\d")


def guess_domain(question: str) -> Literal["qa", "math"]:
    """math when the question has LaTeX or arithmetic in it, else qa (override with ``domain=``)."""
    return "math" if _MATH_HINT.search(question) else "qa"


def _read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    return iter_jsonl_objects(path, ImportFormatError)


def _require_str(row: dict[str, Any], key: str, where: str) -> str:
    value = row.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ImportFormatError(f"{where}: missing or empty string field {key!r} (keys: {', '.join(row)})")
    return value


def _score(value: Any, where: str) -> float | None:
    """Scores as floats: booleans, 0/1, "True"/"False" (judge outputs), numbers."""
    if value is None:
        return None
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return float(value.strip().lower() == "true")
    raise ImportFormatError(f"{where}: field 'score' must be a number or boolean, got {value!r}")


def _gold(value: Any) -> tuple[str | None, list[str]]:
    """(answer, aliases) from a gold field that may be a string, a number or a list of answers."""
    if value is None:
        return None, []
    if isinstance(value, list):
        golds = [str(v) for v in value if v is not None]
        return (golds[0] if golds else None), golds[1:]
    return str(value), []


# -- import: agent-distillation -------------------------------------------------------------------

_CALL_ID = re.compile(r"^Call id:[^\n]*\n")
_ROLES = {
    "system": "system",
    "user": "user",
    "assistant": "assistant",
    "tool-call": "tool-call",
    "tool_call": "tool-call",
    "tool-response": "tool-response",
    "tool_response": "tool-response",
}


def _ad_role(raw: Any, where: str) -> str:
    text = str(raw).removeprefix("MessageRole.").lower()
    if text not in _ROLES:
        raise ImportFormatError(f"{where}: unknown message role {raw!r}")
    return _ROLES[text]


def _ad_content(raw: Any, where: str) -> str:
    """smolagents message content: a string, or a list of ``{"type": "text", "text": ...}`` parts."""
    if isinstance(raw, str):
        return raw
    if raw is None:
        return ""
    if isinstance(raw, list):
        parts = []
        for part in raw:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
            elif isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and part.get("type") == "image":
                continue  # images are not carried into text-only trajectories
            else:
                raise ImportFormatError(f"{where}: content part {part!r} has no text")
        return "\n".join(parts)
    raise ImportFormatError(f"{where}: content must be a string or a list of text parts")


def _ad_messages(raw_messages: Any, where: str, mask_failed_steps: bool) -> tuple[list[Message], int]:
    """Map smolagents log messages to ours; returns (messages, tool-call count).

    tool-call messages repeat the code of the assistant message before them and are dropped (as
    agent-distillation's SFT preprocessing does); tool responses become user observations with the
    ``Call id`` line removed and an ``Observation:`` head (ours, which smolagents' error messages lack),
    and are ``error`` observations when they report an error. A message's own ``train`` / ``kind`` keys
    (our agent-distillation export writes them) win over these rules.
    """
    if not isinstance(raw_messages, list):
        raise ImportFormatError(f"{where}: log_data.messages must be a list")
    messages: list[Message] = []
    tool_calls = 0
    seen_task = False
    for i, raw in enumerate(raw_messages):
        at = f"{where}: message {i}"
        if not isinstance(raw, dict) or "role" not in raw:
            raise ImportFormatError(f"{at}: expected an object with 'role' and 'content'")
        role = _ad_role(raw["role"], at)
        content = _ad_content(raw.get("content"), at)
        if role == "tool-call":
            tool_calls += 1
            continue
        if "kind" in raw or "train" in raw:  # written by our export: exact
            messages.append(_exact_message(role, content, raw, at))
            seen_task = seen_task or raw.get("kind") == "task"
            continue
        if role == "system":
            messages.append(Message(role="system", content=content))
        elif role == "user":
            messages.append(Message(role="user", content=content, kind="prompt" if seen_task else "task"))
            seen_task = True
        elif role == "assistant":
            kind = "reflection" if content.lstrip().startswith("Reflection:") else "action"
            messages.append(Message(role="assistant", content=content, kind=kind, train=True))
        else:  # tool-response
            text = _CALL_ID.sub("", content, count=1)
            is_error = text.lstrip().startswith("Error") or "Error in code parsing" in text
            if not text.startswith("Observation:"):  # errors: "Error:\n..." -> our "Observation:\nError:..."
                text = "Observation:\n" + text
            messages.append(Message(role="user", content=text, kind="error" if is_error else "observation"))
            if is_error and mask_failed_steps:
                for prev in reversed(messages[:-1]):
                    if prev.role == "assistant":
                        prev.train = False
                        break
    return messages, tool_calls


def _exact_message(role: str, content: str, raw: dict[str, Any], where: str) -> Message:
    ours = "user" if role == "tool-response" else role
    if role == "tool-response":
        content = _CALL_ID.sub("", content, count=1)
    try:
        return Message(role=ours, content=content, kind=raw.get("kind"), train=bool(raw.get("train")))  # type: ignore[arg-type]
    except ValidationError as e:
        raise ImportFormatError(f"{where}: {e.errors()[0]['msg']}") from None


def import_agent_distillation(
    path: str | Path,
    *,
    domain: str = "auto",
    role: Literal["teacher", "student"] = "teacher",
    mask_failed_steps: bool = False,
) -> Iterator[Trajectory]:
    """Read agent-distillation run logs (JSONL, one question per line) as trajectories.

    Each line is what its ``run_experiment`` writes (optionally after ``score_answers``): ``question``,
    ``true_answer`` (or ``answer``), ``generated_answer``, ``model_id``, ``score`` (when scored), and
    ``log_data`` (a dict, or JSON text as in their hub datasets) with smolagents ``messages`` and
    ``metadata``; ``log_data: null`` plus ``error`` is a crashed episode (status ``failed``).
    Assistant messages are trained, as in agent-distillation's SFT; ``mask_failed_steps`` masks steps
    whose observation was an error instead, as STeP does. ``domain``: ``qa``, ``math`` or ``auto``
    (guessed from the question, see :func:`guess_domain`).
    """
    path = Path(path)
    for lineno, row in _read_jsonl(path):
        where = f"{path}:{lineno}"
        question = _require_str(row, "question", where)
        answer, aliases = _gold(row.get("true_answer", row.get("answer")))
        log = row.get("log_data")
        if isinstance(log, str):
            try:
                log = json.loads(log)
            except json.JSONDecodeError as e:
                raise ImportFormatError(f"{where}: log_data is not valid JSON ({e.msg})") from None
        if log is not None and not isinstance(log, dict):
            raise ImportFormatError(f"{where}: log_data must be an object or null")
        meta = (log or {}).get("metadata") or {}
        if log is not None and "messages" not in log:
            raise ImportFormatError(f"{where}: log_data has no 'messages'")
        messages, tool_calls = (
            _ad_messages(log["messages"], where, mask_failed_steps) if log is not None else ([], 0)
        )
        if not any(m.kind == "task" for m in messages):
            messages.insert(
                0 if not messages or messages[0].role != "system" else 1,
                Message(role="user", content=f"New task:\n{question}", kind="task"),
            )
        final = row.get("generated_answer", meta.get("final_answer"))
        final_answer = None if final is None else str(final)
        if log is None:
            status, error = "failed", str(row.get("error") or "no log data")
        elif any("Reached max steps" in m.content for m in messages) or not _called_final_answer(messages):
            status, error = "max_steps", None
        else:
            status, error = "ok", None
        model_meta = meta.get("model") if isinstance(meta.get("model"), dict) else {}
        cost = meta.get("cost") if isinstance(meta.get("cost"), dict) else {}
        perf = meta.get("performance") if isinstance(meta.get("performance"), dict) else {}
        logged_domain = meta.get("domain") if meta.get("domain") in ("qa", "math") else None
        chosen_domain = (logged_domain or guess_domain(question)) if domain == "auto" else domain
        extra = {k: row[k] for k in ("explanation", "cost") if k in row}
        score = _score(row.get("score"), where)
        try:
            trajectory = Trajectory(
                id=f"agent-distillation/{path.stem}/{lineno}",
                task=Task(
                    id=str(row.get("id") or _task_id("agent-distillation", question)),
                    question=question,
                    answer=answer,
                    domain=chosen_domain,  # type: ignore[arg-type]
                    source=str(row.get("source") or "agent-distillation"),
                    metadata={"aliases": aliases} if aliases else {},
                ),
                agent=AgentInfo(
                    model=str(row.get("model_id") or model_meta.get("model_id") or "unknown"),
                    role=role,
                    prompt_version="agent-distillation",
                ),
                messages=messages,
                final_answer=final_answer,
                score=score,
                stats=TrajectoryStats(
                    steps=sum(1 for m in messages if m.role == "assistant"),
                    prompt_tokens=int(cost.get("input_tokens") or 0),
                    completion_tokens=int(cost.get("output_tokens") or 0),
                    tool_calls=tool_calls or sum(1 for m in messages if m.kind in ("observation", "error")),
                    errors=sum(1 for m in messages if m.kind == "error"),
                    wall_time_s=float(perf.get("total_duration") or 0.0),
                ),
                status=status,  # type: ignore[arg-type]
                error=error,
                metadata={
                    "imported_from": "agent-distillation",
                    "source_file": str(path),
                    "line": lineno,
                    **extra,
                },
            )
        except ValidationError as e:
            first = e.errors()[0]
            field = ".".join(str(p) for p in first["loc"])
            raise ImportFormatError(f"{where}: field {field!r}: {first['msg']}") from None
        except (TypeError, ValueError) as e:  # token counts or durations that are not numbers
            raise ImportFormatError(f"{where}: log_data.metadata has a malformed number: {e}") from None
        yield trajectory


def _called_final_answer(messages: list[Message]) -> bool:
    for m in reversed(messages):
        if m.role == "assistant":
            code = parse_action(m.content).code or ""
            return "final_answer(" in code
    return False


# -- import: R1-Searcher --------------------------------------------------------------------------

_DOCS = re.compile(r"<\|begin_of_documents\|>(.*?)(?:<\|end_of_documents\|>|$)", re.DOTALL)
_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)


def _benchmark_from_name(stem: str) -> str:
    """A registered benchmark named in a file name (``r1searcher_bamboogle_...`` -> bamboogle)."""
    names = sorted((b.name for b in list_benchmarks()), key=len, reverse=True)
    return next((n for n in names if n in stem.lower()), stem)


def import_r1_searcher(
    path: str | Path, *, role: Literal["teacher", "student"] = "teacher"
) -> Iterator[Trajectory]:
    """Read R1-Searcher rollouts (``question, answer, pred_ans, gen_text_store, gpt4o_output``).

    The generated text is cut at its retrieved-document blocks: each piece before a block (reasoning
    and the ``<|begin_of_query|>`` search) is an action step, each block (markers kept, so the messages
    join back into the original text) an observation, and the tail (with ``<answer>``) the final message. Their judge's verdict (``gpt4o_output``) becomes the score.
    These are not CodeAct steps, so the parse-error and step filters see them as plain text.
    """
    path = Path(path)
    source = _benchmark_from_name(path.stem)
    for lineno, row in _read_jsonl(path):
        where = f"{path}:{lineno}"
        question = _require_str(row, "question", where)
        text = row.get("gen_text_store")
        if not isinstance(text, str):
            raise ImportFormatError(f"{where}: missing string field 'gen_text_store'")
        answer, aliases = _gold(row.get("answer"))
        messages = [Message(role="user", content=question, kind="task")]
        pos, queries = 0, 0
        for m in _DOCS.finditer(text):
            step = text[pos : m.start()].strip()
            messages.append(Message(role="assistant", content=step, kind="action", train=True))
            messages.append(Message(role="user", content=m.group(0).strip(), kind="observation"))
            queries += step.count("<|begin_of_query|>")
            pos = m.end()
        tail = text[pos:].strip()
        if tail:
            messages.append(Message(role="assistant", content=tail, kind="final", train=True))
        pred = row.get("pred_ans")
        if pred is None and (found := _ANSWER.findall(text)):
            pred = found[-1]
        finished = row.get("stop_reason_final", "finished") == "finished"
        yield Trajectory(
            id=f"r1-searcher/{path.stem}/{lineno}",
            task=Task(
                id=_task_id(source, question),
                question=question,
                answer=answer,
                domain="qa",
                source=source,
                metadata={"aliases": aliases} if aliases else {},
            ),
            agent=AgentInfo(
                model=str(row.get("model", "R1-Searcher")), role=role, prompt_version="r1-searcher"
            ),
            messages=messages,
            final_answer=None if pred is None else str(pred).strip(),
            score=_score(row.get("gpt4o_output"), where),
            stats=TrajectoryStats(steps=sum(m.role == "assistant" for m in messages), tool_calls=queries),
            status="ok" if finished else "max_steps",
            metadata={
                "imported_from": "r1-searcher",
                "source_file": str(path),
                "line": lineno,
                "score_source": "gpt4o_output (LLM judge)",
                "stop_reason": row.get("stop_reason_final"),
            },
        )


IMPORTERS: Registry[Callable[..., Iterator[Trajectory]]] = Registry(
    "import format",
    {"agent-distillation": import_agent_distillation, "r1-searcher": import_r1_searcher},
    error=ImportFormatError,
)
"""Foreign trajectory formats by name: ``(path, **options) -> Iterator[Trajectory]``."""


def import_trajectories(path: str | Path, fmt: str, **kwargs: Any) -> Iterator[Trajectory]:
    """Trajectories from a foreign file in format ``fmt`` (a name in :data:`IMPORTERS`)."""
    return IMPORTERS.get(fmt)(path, **kwargs)
