"""The run manifest: what produced a run folder (config, settings, package versions, git revision, runs)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from importlib import metadata
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
"""The file every run folder (trajectories, evaluation) records its runs in."""
PACKAGES = ("agentdistill", "torch", "transformers", "trl", "peft", "openai", "langchain-core", "faiss-cpu")


def package_versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def git_revision() -> str | None:
    """The agentdistill checkout's revision (with '+dirty' if it has changes), if it is a checkout."""
    root = Path(__file__).resolve().parents[2]
    try:
        rev = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
        if rev.returncode != 0:
            return None
        status = ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"]
        dirty = subprocess.run(status, capture_output=True, text=True, timeout=5)
        return rev.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def record_run(
    directory: str | Path, config: dict[str, Any], *, settings: dict[str, Any] | None = None, **facts: Any
) -> dict[str, Any]:
    """Add one run's entry to ``manifest.json`` (config and fingerprinted ``settings`` of the latest run at
    the top, so a later run with other settings can say what changed); returns the entry."""
    path = Path(directory) / MANIFEST
    manifest = json.loads(path.read_text()) if path.exists() else {"runs": []}
    entry = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "pid": os.getpid(),
        "git": git_revision(),
        "versions": package_versions(),
        **facts,
    }
    manifest["config"] = config
    if settings is not None:
        manifest["settings"] = settings
    manifest["runs"].append(entry)
    _write(path, manifest)
    return entry


def update_last_run(directory: str | Path, **facts: Any) -> None:
    """Add facts (what the run did, when it finished) to the manifest's latest run."""
    path = Path(directory) / MANIFEST
    manifest = json.loads(path.read_text())
    manifest["runs"][-1].update(facts)
    _write(path, manifest)


def _write(path: Path, manifest: dict[str, Any]) -> None:
    """Replace the manifest atomically (a kill leaves the old one or the new one, never half of one)."""
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=2, default=str))
    tmp.replace(path)
