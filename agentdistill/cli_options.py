"""CLI flags that map onto config fields: help from the field's docstring, default from the dataclass.

Each command declares, once, which flag sets which dotted field (``{"sag": "agent.n_candidates"}``); every
flag defaults to None (not given), so a YAML file's values survive unless a flag overrides them, and the
help text shows the dataclass default instead of a retyped copy. ``--set key.path=value`` reaches any
field the common flags do not cover, and ``--print-config`` shows the resolved config without running.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import typer
import yaml

from agentdistill.config import field_default, field_doc

_RST_CODE = re.compile(r"``([^`]+)``")

SET_HELP = (
    "Set any config field, e.g. --set agent.max_steps=3 --set sandbox.backend=docker (repeatable; values "
    "are YAML; applied after --config and the other flags). --print-config lists the fields."
)


def plain(doc: str) -> str:
    """A field docstring as terminal text (``code`` -> code)."""
    return _RST_CODE.sub(r"\1", doc)


def _shown(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(map(str, value)) or "empty"
    return str(value)


def config_option(cls: type, path: str, *names: str, note: str = "", **kwargs: Any) -> Any:
    """A ``typer.Option`` for the field ``path`` of config ``cls``: its docstring, then its default."""
    text = plain(field_doc(cls, path))
    if note:
        text = f"{text} {note}".strip()
    text = f"{text} (default: {_shown(field_default(cls, path))})"  # not [..]: rich would read markup
    return typer.Option(*names, help=text, show_default=False, **kwargs)


def set_option() -> Any:
    """The ``--set KEY=VALUE`` option (repeatable)."""
    return typer.Option("--set", help=SET_HELP, metavar="KEY=VALUE")


def print_config_option() -> Any:
    """The ``--print-config`` flag."""
    return typer.Option("--print-config", help="Print the resolved config as YAML and exit (runs nothing).")


def task_set_flags(prefix: str, *, specs: str) -> dict[str, str]:
    """The flags of a stage's :class:`~agentdistill.tasks.config.TaskSetConfig` at ``prefix`` (the specs flag
    is called ``specs``: ``tasks`` or ``benchmarks``), so every stage spells them the same way."""
    fields = ("domain", "data_dir", "seed", "strict_data")
    return {specs: f"{prefix}.specs", **{name: f"{prefix}.{name}" for name in fields}}


class ConfigFlags:
    """A command's flags as data: parameter name -> dotted field of config ``cls``."""

    def __init__(self, cls: type, flags: dict[str, str]) -> None:
        self.cls, self.flags = cls, flags

    def option(self, param: str, *names: str, **kwargs: Any) -> Any:
        """The ``typer.Option`` of ``param`` (help and default from its field)."""
        return config_option(self.cls, self.flags[param], *names, **kwargs)

    def overrides(self, values: dict[str, Any]) -> dict[str, Any]:
        """``{dotted path: value}`` for every flag given a value (None or an empty list: not given)."""
        out: dict[str, Any] = {}
        for param, path in self.flags.items():
            value = values.get(param)
            if value is None or value == []:
                continue
            out[path] = str(value) if hasattr(value, "__fspath__") else value
        return out

    def load(self, path: Any, values: dict[str, Any], sets: list[str] | None) -> Any:
        """The config: the YAML file at ``path`` (if any), then the flags in ``values``, then ``--set``."""
        from agentdistill.config import load_config

        return load_config(self.cls, path, self.overrides(values), sets=sets or ())


def config_yaml(config: Any) -> str:
    """The config as YAML (what ``--print-config`` prints)."""
    return yaml.safe_dump(dataclasses.asdict(config), sort_keys=False, default_flow_style=False)
