"""Dataclass configs, loaded from YAML and overridable from the CLI.

Each stage owns a documented dataclass (``ModelConfig`` here; later stages add their own). The loader
is strict: an unknown key or a value of the wrong type is an error that names the file and the key, so
a typo in a recipe never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from agentdistill.errors import AgentDistillError

C = TypeVar("C")


class ConfigError(AgentDistillError, ValueError):
    """A config file or override that does not fit its dataclass."""


def cache_dir() -> Path:
    """Where agentdistill keeps provisioned models, indexes and environments.

    ``$AGENTDISTILL_CACHE`` if set, else ``$XDG_CACHE_HOME/agentdistill``, else ``~/.cache/agentdistill``.
    """
    if env := os.environ.get("AGENTDISTILL_CACHE"):
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "agentdistill"


@dataclasses.dataclass
class ServeConfig:
    """Run a local model behind a managed vLLM OpenAI-compatible server (``agentdistill serve``)."""

    port: int | None = None
    """Port on 127.0.0.1; None picks a free one."""
    max_model_len: int = 4096
    """Context length the server allocates KV cache for."""
    extra_args: list[str] = dataclasses.field(default_factory=list)
    """Further ``vllm`` command-line arguments, e.g. ``["--tensor-parallel-size", "2"]``."""
    startup_timeout_s: float = 600.0
    """How long to wait for the server to become healthy."""


@dataclasses.dataclass
class ModelConfig:
    """Which chat model a stage uses, and whether agentdistill should serve it itself."""

    spec: str = "default"
    """``default``, ``hf:<path or hub id>``, ``openai:<model>@<base_url>`` or ``langchain:<module>:<attr>``."""
    serve: ServeConfig | None = None
    """When set (and ``spec`` is local), start vLLM for it and talk to it through ``openai:``."""
    max_concurrency: int = 16
    """Requests in flight at once (``openai:``) or the batch size cap (``hf:``)."""
    timeout_s: float = 600.0
    """Per-request timeout for API backends."""
    max_retries: int = 6
    """Retries on 429, 5xx, timeouts and connection errors, with exponential backoff and jitter."""


def from_dict(cls: type[C], data: dict[str, Any], *, where: str = "config") -> C:
    """Build dataclass ``cls`` from a mapping, recursing into nested dataclasses; strict about keys."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in fields:
            raise ConfigError(f"{where}: unknown key {key!r}; valid keys: {', '.join(fields)}")
        kwargs[key] = _coerce(hints[key], value, f"{where}.{key}")
    return cls(**kwargs)


def _coerce(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(arg, value, where)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0] if errors else f"{where}: bad value {value!r}")
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, where=where)
    if origin in (list, tuple):
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        (item,) = typing.get_args(tp)[:1] or (Any,)
        return [_coerce(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict or tp is Any or origin is typing.Literal:
        return value
    if tp is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(tp, type) and not isinstance(value, tp):
        raise ConfigError(f"{where}: expected {tp.__name__}, got {value!r}")
    return value


def load_config(cls: type[C], path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> C:
    """Load ``cls`` from a YAML file (optionally under a top-level key named like the stage) plus overrides.

    Overrides use dotted keys (``{"serve.port": 8001}``) and win over the file.
    """
    data: dict[str, Any] = {}
    where = "config"
    if path is not None:
        where = str(path)
        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such config file") from None
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: not valid YAML: {e}") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a mapping at the top level")
        data = loaded
    for dotted, value in (overrides or {}).items():
        if value is None:
            continue
        node = data
        *parents, leaf = dotted.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return from_dict(cls, data, where=where)


def to_dict(config: Any) -> dict[str, Any]:
    """The config as plain data (for run manifests and ``--print-config``)."""
    return dataclasses.asdict(config)
