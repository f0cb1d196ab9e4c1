"""Prompt sets as data: a packaged YAML file of Jinja templates, with a user's file layered over it.

One loader for every prompt the toolkit sends (CodeAct agent, CoT baselines, LLM judge), so they override
the same way: a user file may set any subset of the packaged keys (a one-line ``system`` override is a
valid file), an unknown key or a template using an undefined variable is an error naming file and key.
A key may hold one template, or one per task domain (``{qa: ..., math: ..., other: ...}``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from agentdistill.errors import AgentDistillError

_ENV = SandboxedEnvironment(undefined=StrictUndefined, keep_trailing_newline=False, autoescape=False)


class PromptError(AgentDistillError):
    """A prompt file that is missing, malformed, or uses an unknown variable."""


@dataclass(frozen=True)
class PromptSet:
    """A loaded prompt set; :meth:`render` fills one template."""

    data: dict[str, Any]
    source: str

    @property
    def version(self) -> str:
        """The set's ``version`` key: recorded with every trajectory and judge verdict made with it."""
        return str(self.data["version"])

    def render(self, key: str, /, **variables: Any) -> str:
        """Template ``key`` filled with ``variables`` (per-domain templates pick ``variables["domain"]``)."""
        if key not in self.data:
            raise PromptError(f"{self.source}: no prompt {key!r}; keys: {', '.join(sorted(self.data))}")
        template = self.data[key]
        if isinstance(template, dict):  # per-domain templates
            domain = variables.get("domain", "other")
            template = template.get(domain, template.get("other", ""))
        try:
            return _compile(str(template)).render(**variables).strip()
        except TemplateError as e:
            raise PromptError(f"{self.source}: template {key!r}: {e}") from None


@functools.lru_cache(maxsize=256)
def _compile(template: str) -> Any:
    return _ENV.from_string(template)


def _read_yaml(path: Path, where: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as e:
        raise PromptError(f"{where}: cannot read prompt file: {e}") from None
    except yaml.YAMLError as e:
        raise PromptError(f"{where}: not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise PromptError(f"{where}: expected a mapping of prompt names to templates")
    return data


@functools.cache
def _packaged(package: str, name: str) -> dict[str, Any]:
    path = Path(str(resources.files(package) / "prompts" / f"{name}.yaml"))
    return _read_yaml(path, f"{name}.yaml")


def load_prompt_set(
    package: str,
    name: str,
    path: str | Path | None = None,
    *,
    required: Iterable[str] = ("version",),
    extra_keys: Iterable[str] = (),
) -> PromptSet:
    """``<package>/prompts/<name>.yaml``, with the keys of the user file ``path`` overriding it.

    ``required`` keys must be present after layering; a user key that is neither packaged nor in
    ``extra_keys`` is an error (a typo would otherwise be silently ignored).
    """
    data = dict(_packaged(package, name))
    source = f"{name}.yaml"
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise PromptError(f"{p}: no such prompt file")
        user = _read_yaml(p, str(p))
        if unknown := set(user) - set(data) - set(extra_keys):
            raise PromptError(f"{p}: unknown prompt keys {sorted(unknown)}; known: {', '.join(sorted(data))}")
        data.update(user)
        source = str(p)
    if missing := [k for k in required if k not in data]:
        raise PromptError(f"{source}: missing prompt keys {missing}")
    return PromptSet(data, source)
