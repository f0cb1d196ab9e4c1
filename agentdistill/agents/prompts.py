"""Agent prompts as data: a YAML file of Jinja templates, overridable without subclassing.

The packaged ``codeact.yaml`` is the default. A user file may set any subset of keys; the rest come from
the default, so a one-line override (say, a different ``system``) is a valid prompt file.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from agentdistill.errors import AgentDistillError

_ENV = SandboxedEnvironment(undefined=StrictUndefined, keep_trailing_newline=False, autoescape=False)
REQUIRED = (
    "version", "system", "example_step", "task", "action", "observation", "error", "parse_error",
    "wrong_answer", "reflection_request", "final_prompt", "check_step", "first_thought", "reference_hint",
)  # fmt: skip


class PromptError(AgentDistillError):
    """A prompt file that is missing, malformed, or uses an unknown variable."""


@dataclass(frozen=True)
class Prompts:
    """A loaded prompt set; :meth:`render` fills one template."""

    data: dict[str, Any]
    source: str

    @property
    def version(self) -> str:
        return str(self.data["version"])

    def render(self, key: str, /, **variables: Any) -> str:
        template = self.data[key]
        if isinstance(template, dict):  # per-domain templates
            domain = variables.get("domain", "other")
            template = template.get(domain, template.get("other", ""))
        try:
            return _compile(template).render(**variables).strip()
        except TemplateError as e:
            raise PromptError(f"{self.source}: template {key!r}: {e}") from None

    def examples_text(self, domain: str) -> str:
        """The worked examples for ``domain``, rendered step by step."""
        blocks = []
        for ex in (self.data.get("examples") or {}).get(domain, []):
            steps = "\n".join(self.render("example_step", **{"observation": "", **s}) for s in ex["steps"])
            blocks.append(f"Task: {ex['task']}\n\n{steps}")
        return "\n\n---\n".join(blocks)


@functools.lru_cache(maxsize=256)
def _compile(template: str) -> Any:
    return _ENV.from_string(template)


def _packaged(name: str) -> Path:
    return Path(str(resources.files("agentdistill.agents") / "prompts" / f"{name}.yaml"))


def load_prompts(path: str | Path | None = None) -> Prompts:
    """The packaged CodeAct prompts, with the keys of ``path`` (a YAML file) overriding them."""
    base = yaml.safe_load(_packaged("codeact").read_text(encoding="utf-8"))
    source = "codeact.yaml"
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise PromptError(f"{p}: no such prompt file")
        try:
            user = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as e:
            raise PromptError(f"{p}: not valid YAML: {e}") from None
        if not isinstance(user, dict):
            raise PromptError(f"{p}: expected a mapping of prompt names to templates")
        unknown = set(user) - set(base) - {"examples"}
        if unknown:
            raise PromptError(f"{p}: unknown prompt keys {sorted(unknown)}; known: {', '.join(sorted(base))}")
        base.update(user)
        source = str(p)
    missing = [k for k in REQUIRED if k not in base]
    if missing:
        raise PromptError(f"{source}: missing prompt keys {missing}")
    return Prompts(base, source)
