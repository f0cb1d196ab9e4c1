"""Dataclass configs, loaded from YAML and overridable from the CLI: the one configuration spine.

Each part owns documented dataclasses (``models/config.py``, ``agents/config.py``, ``sandbox/config.py``,
``tools/retrieval/config.py``, ``trajectories/config.py``, ``training/config.py``,
``evaluation/config.py``, ``pipeline/config.py``); a stage config *composes* the parts' configs instead of
re-declaring their fields. The loader is strict, so a typo in a recipe never silently falls back to a
default and never survives until a late stage:

* an unknown key is an error naming the file, the key path and the valid keys (with the closest one);
* a value of the wrong type, or outside a ``Literal[...]``, is an error naming the valid values;
* each dataclass's ``__post_init__`` validates its own fields (a :class:`FieldError` names the field);
* a nested dataclass given in part keeps the defaults of its field for the keys it does not set;
* a nested dataclass with a ``SHORTHAND`` field name also takes a bare value for that field
  (``teacher: default`` is ``teacher: {spec: default}``, ``lora: false`` is ``lora: {enabled: false}``);
* a key a dataclass lists in ``RENAMED`` (old name -> new dotted path) fails with the new path to use.

The CLI maps flags onto the same fields (:func:`parse_set_options` for ``--set a.b=value``), and takes
its help text from the fields' docstrings (:func:`field_doc`), so nothing is declared twice.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import inspect
import os
import re
import textwrap
import types
import typing
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar

import yaml

from agentdistill.errors import AgentDistillError

C = TypeVar("C")


class ConfigError(AgentDistillError, ValueError):
    """A config file or override that does not fit its dataclass."""


class FieldError(ConfigError):
    """A field value that its dataclass's validation rejects; the loader prefixes file and key path."""

    def __init__(self, field: str, message: str) -> None:
        self.field, self.message = field, message
        super().__init__(f"{field}: {message}")


def cache_dir() -> Path:
    """Where agentdistill keeps provisioned models, indexes and environments.

    ``$AGENTDISTILL_CACHE`` if set, else ``$XDG_CACHE_HOME/agentdistill``, else ``~/.cache/agentdistill``.
    """
    if env := os.environ.get("AGENTDISTILL_CACHE"):
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "agentdistill"


# -- loading -----------------------------------------------------------------------------------------


def from_dict(cls: type[C], data: dict[str, Any], *, where: str = "config", base: C | None = None) -> C:
    """Build dataclass ``cls`` from a mapping, recursing into nested dataclasses; strict about keys.

    ``base`` (an instance of ``cls``) supplies the values of keys ``data`` leaves out, so a partly given
    nested config keeps the defaults its parent chose for it.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    hints = _hints(cls)
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in fields:
            raise ConfigError(_unknown_key(where, key, list(fields), cls))
        current = getattr(base, key) if base is not None else _field_default(fields[key])
        kwargs[key] = _coerce(hints[key], value, f"{where}.{key}", current)
    try:
        if base is not None:
            return dataclasses.replace(base, **kwargs)  # type: ignore[type-var]
        return cls(**kwargs)
    except FieldError as e:
        raise ConfigError(f"{where}.{e.field}: {e.message}") from None
    except (ConfigError, ValueError) as e:
        raise ConfigError(f"{where}: {e}") from None
    except TypeError as e:  # a required field left out
        raise ConfigError(f"{where}: {e}") from None


def _unknown_key(where: str, key: str, valid: list[str], cls: type) -> str:
    from agentdistill.registry import suggest

    message = f"{where}: unknown key {key!r}; valid keys: {', '.join(valid)}"
    renamed = getattr(cls, "RENAMED", {}).get(str(key))
    close = renamed or suggest(str(key), valid) or _nested_home(cls, str(key))
    return f"{message} (did you mean {close!r}?)" if close else message


def expand_shorthand(cls: type, value: Any) -> Any:
    """``value`` as a mapping for dataclass ``cls``: a bare value of a class with a ``SHORTHAND`` field is
    ``{SHORTHAND: value}``; anything else is returned unchanged."""
    shorthand = getattr(cls, "SHORTHAND", None)
    if shorthand is not None and value is not None and not isinstance(value, dict):
        return {shorthand: value}
    return value


def _nested_home(cls: type, key: str, depth: int = 2) -> str | None:
    """Where a key lives one or two levels down (``max_steps`` in EvalConfig -> ``agent.max_steps``)."""
    if depth == 0:
        return None
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        nested = _dataclass_in(_hints(cls)[f.name])
        if nested is None:
            continue
        if key in {g.name for g in dataclasses.fields(nested) if g.init}:
            return f"{f.name}.{key}"
        if (deeper := _nested_home(nested, key, depth - 1)) is not None:
            return f"{f.name}.{deeper}"
    return None


def _dataclass_in(tp: Any) -> type | None:
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return tp
    return next((a for a in typing.get_args(tp) if dataclasses.is_dataclass(a) and isinstance(a, type)), None)


def _field_default(field: dataclasses.Field) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return None


class _ConfigLoader(yaml.SafeLoader):
    """PyYAML follows YAML 1.1, where ``1e-4`` (no dot) is a string; config files and ``--set`` read it as a
    float, as YAML 1.2 and every other reader do."""


_ConfigLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$"), list("-+0123456789.")
)


def _load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_ConfigLoader)  # a SafeLoader subclass: no arbitrary objects


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _coerce(tp: Any, value: Any, where: str, current: Any = None) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(arg, value, where, current)
            except ConfigError as e:
                errors.append(str(e))
        # the most specific message: a nested config's own error rather than "expected a mapping"
        specific = [e for e in errors if not e.startswith(f"{where}: expected")]
        raise ConfigError((specific or errors or [f"{where}: bad value {value!r}"])[0])
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        hook = getattr(tp, "from_config_value", None)
        if hook is not None:
            return hook(value, where)
        expanded = expand_shorthand(tp, value)
        base = current if isinstance(current, tp) else None
        if expanded is value:
            return from_dict(tp, value, where=where, base=base)
        try:
            return from_dict(tp, expanded, where=where, base=base)
        except ConfigError as e:  # the user wrote the short form: name what they wrote (`tasks[0]`)
            raise ConfigError(str(e).replace(f"{where}.{tp.SHORTHAND}", where, 1)) from None
    if origin is typing.Literal:
        choices = typing.get_args(tp)
        if value not in choices:
            raise ConfigError(f"{where} must be one of {', '.join(map(repr, choices))}, got {value!r}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        (item,) = typing.get_args(tp)[:1] or (Any,)
        return [_coerce(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return value
    if tp is Any:
        return value
    if tp is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if tp is int and isinstance(value, bool):
        raise ConfigError(f"{where}: expected int, got {value!r}")
    if isinstance(tp, type) and not isinstance(value, tp):
        raise ConfigError(f"{where}: expected {tp.__name__}, got {value!r}")
    return value


def load_config(
    cls: type[C],
    path: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
    *,
    sets: Iterable[str] = (),
) -> C:
    """Load ``cls`` from a YAML file plus overrides, validated whole before anything runs.

    ``overrides`` use dotted keys (``{"serve.port": 8001}``; None values are skipped) and win over the
    file; ``sets`` are ``--set`` strings (``"agent.max_steps=3"``), applied last.
    """
    data: dict[str, Any] = {}
    where = "config"
    if path is not None:
        where = str(path)
        try:
            loaded = _load_yaml(Path(path).read_text(encoding="utf-8")) or {}
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such config file") from None
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: not valid YAML: {e}") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a mapping at the top level")
        data = loaded
    given = [(k, v) for k, v in (overrides or {}).items() if v is not None]  # None: a flag not given
    for dotted, value in [*given, *parse_set_options(sets).items()]:  # --set a=null does clear a field
        node = data
        *parents, leaf = dotted.split(".")
        for i, p in enumerate(parents):
            child = node.setdefault(p, {})
            if child is None:  # `student:` left empty in the file: a nested override creates it
                child = node[p] = {}
            if not isinstance(child, dict):  # `teacher: default` in the file, `teacher.serve` set here
                child = node[p] = _expanded(cls, ".".join(parents[: i + 1]), child)
            if not isinstance(child, dict):
                raise ConfigError(f"{where}: cannot set {dotted}: {p} is {child!r}, not a mapping")
            node = child
        node[leaf] = value
    return from_dict(cls, data, where=where)


def accept_shorthands(config: Any) -> None:
    """Let Python callers give a shorthand where a nested config is expected, as YAML does
    (``EvalConfig(benchmarks=["gsm8k[:5]"], judge="openai:m")``): such fields are built in place. Called
    first thing in the ``__post_init__`` of a config that composes others."""
    hints = _hints(type(config))
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        nested = _dataclass_in(hints[f.name])
        if nested is None or value is None or isinstance(value, nested):
            continue
        if getattr(nested, "SHORTHAND", None) is not None:
            setattr(config, f.name, from_dict(nested, expand_shorthand(nested, value), where=f.name))


def _expanded(cls: type, dotted: str, value: Any) -> Any:
    """A file's shorthand value at ``dotted`` as a mapping, so a flag can set one of its keys."""
    try:
        nested = _dataclass_of(field_type(cls, dotted))
    except ConfigError:
        return value
    return expand_shorthand(nested, value)


def parse_set_options(sets: Iterable[str]) -> dict[str, Any]:
    """``["a.b=3", "c=[x, y]"]`` -> ``{"a.b": 3, "c": ["x", "y"]}``: values are YAML scalars or lists."""
    out: dict[str, Any] = {}
    for item in sets:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected KEY.PATH=VALUE (e.g. --set agent.max_steps=3)")
        try:
            value = _load_yaml(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        out[key.strip()] = value
    return out


def to_dict(config: Any) -> dict[str, Any]:
    """The config as plain data (for run manifests and ``--print-config``)."""
    return dataclasses.asdict(config)


# -- documentation -----------------------------------------------------------------------------------


@functools.cache
def field_docs(cls: type) -> dict[str, str]:
    """The docstring written under each field of a dataclass (the convention every config here follows)."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError, SyntaxError):
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for node, after in zip(body, [*body[1:], None], strict=True):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                docs[node.target.id] = " ".join(after.value.value.split())
    return docs


def field_type(cls: type, dotted: str) -> Any:
    """The annotated type of ``cls``'s field at a dotted path (``"agent.max_steps"``)."""
    tp: Any = cls
    for part in dotted.split("."):
        tp = _dataclass_of(tp)
        hints = _hints(tp)
        if part not in hints:
            raise ConfigError(f"{tp.__name__} has no field {part!r}")
        tp = hints[part]
    return tp


def _dataclass_of(tp: Any) -> type:
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return tp
    for arg in typing.get_args(tp):
        if dataclasses.is_dataclass(arg) and isinstance(arg, type):
            return arg
    raise ConfigError(f"{tp} is not a config dataclass")


def field_doc(cls: type, dotted: str) -> str:
    """The docstring of the field at a dotted path, for ``--help`` (empty if it has none)."""
    *parents, leaf = dotted.split(".")
    owner = _dataclass_of(field_type(cls, ".".join(parents))) if parents else cls
    return field_docs(owner).get(leaf, "")


def field_default(cls: type, dotted: str) -> Any:
    """The default value of the field at a dotted path (nested configs: the default their parent gives)."""
    owner: type = cls
    value: Any = None
    for part in dotted.split("."):
        fields = {f.name: f for f in dataclasses.fields(owner)}
        if part not in fields:
            raise ConfigError(f"{owner.__name__} has no field {part!r}")
        value = getattr(value, part) if dataclasses.is_dataclass(value) else _field_default(fields[part])
        nested = type(value) if dataclasses.is_dataclass(value) else None
        owner = nested or (_dataclass_of(_hints(owner)[part]) if part != dotted.split(".")[-1] else owner)
    return value


def describe_fields(cls: type, prefix: str = "") -> list[tuple[str, str, Any]]:
    """Every leaf field of a config as (dotted path, docstring, default): the ``--set`` reference."""
    rows: list[tuple[str, str, Any]] = []
    docs = field_docs(cls)
    instance_defaults = {f.name: _field_default(f) for f in dataclasses.fields(cls)}
    for f in dataclasses.fields(cls):
        path = f"{prefix}{f.name}"
        default = instance_defaults[f.name]
        if dataclasses.is_dataclass(default) and not isinstance(default, type):
            rows += describe_fields(type(default), f"{path}.")
        else:
            rows.append((path, docs.get(f.name, ""), default))
    return rows
