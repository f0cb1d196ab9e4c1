"""Digests: short, stable hashes of data, files and checkpoint folders (the primitives fingerprints use).

Nothing here knows what a model, an agent or a run is; :mod:`agentdistill.fingerprints` builds the
settings fingerprints of runs from these, and model kinds fingerprint their weights with them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".gguf", ".json", ".model", ".txt", ".jinja")


def digest(value: Any) -> str:
    """A stable 16-hex-digit digest of JSON-able data (dataclasses included)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    text = json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def file_digest(path: str | Path) -> str:
    """Digest of a file's bytes (prompt files, small data files)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def checkpoint_fingerprint(directory: str | Path) -> str:
    """Digest of a checkpoint folder's files (name, size, modification time): a retrained or replaced
    model differs, reading gigabytes of weights is not needed."""
    root = Path(directory)
    entries = []
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.suffix in WEIGHT_SUFFIXES and "checkpoint-" not in p.parent.name:
            st = p.stat()
            entries.append((str(p.relative_to(root)), st.st_size, st.st_mtime_ns))
    return digest(entries)
