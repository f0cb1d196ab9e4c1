"""Fingerprints: which settings made a stored record, so a rerun never reuses results of other settings.

A *settings* fingerprint is the digest of what decides an episode's content: the model (its spec and, for
local weights, the checkpoint's files), the agent settings, the prompts (version and file contents), the
mode, the retrieval index and the sandbox limits. A *record* fingerprint adds the task itself (question,
gold answer, domain), so an edited data file invalidates exactly the tasks it changed. Both are short hex
digests; the settings behind them are kept in the run's manifest, so a mismatch can say what changed.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from agentdistill.digests import checkpoint_fingerprint, digest, file_digest

__all__ = [
    "checkpoint_fingerprint",
    "describe_changes",
    "digest",
    "episode_settings",
    "file_digest",
    "model_identity",
    "previous_settings",
    "record_fingerprint",
]


def model_identity(spec: str) -> dict[str, Any]:
    """What identifies a model's outputs: its spec, plus its weights when they are on this machine (the
    rule is its kind's, :data:`~agentdistill.models.kinds.MODEL_KINDS`)."""
    from agentdistill.models.specs import parse_model_spec

    parsed = parse_model_spec(spec)
    return parsed.model_kind.identity(parsed)


def prompt_identity(path: str | None) -> str | None:
    """A prompt override file's content digest (None when the packaged prompts are used)."""
    return None if path is None else file_digest(path)


def record_fingerprint(settings_digest: str, task: Any) -> str:
    """The fingerprint stored with one record: the settings plus the task it solved."""
    return digest([settings_digest, task.question, task.answer, task.domain])


def describe_changes(old: Any, new: Any, prefix: str = "", limit: int = 6) -> list[str]:
    """``["agent.max_steps: 3 -> 5", ...]``: the leaves that differ between two settings mappings."""
    changes: list[str] = []

    def walk(a: Any, b: Any, path: str) -> None:
        if isinstance(a, dict) and isinstance(b, dict):
            for key in sorted(set(a) | set(b), key=str):
                walk(a.get(key, "<unset>"), b.get(key, "<unset>"), f"{path}.{key}" if path else str(key))
        elif a != b:
            changes.append(f"{path or '(settings)'}: {_short(a)} -> {_short(b)}")

    walk(old, new, prefix)
    if len(changes) > limit:
        changes = [*changes[:limit], f"and {len(changes) - limit} more"]
    return changes


def _short(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else value
    return text if len(text) <= 60 else text[:57] + "..."


def episode_settings(mode: str, agent: Any, retrieval: Any, sandbox: Any) -> dict[str, Any]:
    """The settings, besides the model, that decide an episode (generation and evaluation alike)."""
    from agentdistill.agents.cot import load_cot_prompts
    from agentdistill.agents.prompts import load_prompts

    return {
        "mode": mode,
        "agent": dataclasses.asdict(agent),
        "prompts": {
            "codeact": load_prompts(agent.prompts).version,
            "cot": load_cot_prompts(agent.cot_prompts).version,
            "files": [prompt_identity(agent.prompts), prompt_identity(agent.cot_prompts)],
        },
        "retrieval": {**dataclasses.asdict(retrieval), "index_files": index_identity(retrieval.index)},
        "sandbox_limits": dataclasses.asdict(sandbox.limits),
    }


def index_identity(index: str) -> str | None:
    """The built index a retrieval setting points at (its manifest's digest), None for ``demo``."""
    manifest = Path(index).expanduser() / "manifest.json"
    return file_digest(manifest) if index != "demo" and manifest.is_file() else None


def previous_settings(path: str | Path) -> dict[str, Any] | None:
    """The ``settings`` a run's ``manifest.json`` recorded, if any."""
    try:
        manifest = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    settings = manifest.get("settings") if isinstance(manifest, dict) else None
    return settings if isinstance(settings, dict) else None
