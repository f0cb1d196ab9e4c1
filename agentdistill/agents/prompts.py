"""The CodeAct agent's prompts (``agents/prompts/codeact.yaml``), loaded by the shared prompt-set loader.

Copy the file, change what you want, and pass it as ``AgentConfig.prompts``; keys you leave out keep the
packaged text. The worked examples (``examples``, per domain) are rendered step by step into the system
prompt by :meth:`Prompts.examples_text`.
"""

from __future__ import annotations

from pathlib import Path

from agentdistill.prompts import PromptError, PromptSet, load_prompt_set

REQUIRED = (
    "version", "system", "example_step", "task", "action", "observation", "error", "parse_error",
    "wrong_answer", "reflection_request", "correction_request", "final_prompt", "check_step", "begin_with",
    "reference_hint",
)  # fmt: skip

__all__ = ["REQUIRED", "PromptError", "Prompts", "load_prompts"]


class Prompts(PromptSet):
    """The CodeAct prompt set, plus its worked examples."""

    def examples_text(self, domain: str) -> str:
        """The worked examples for ``domain``, rendered step by step."""
        blocks = []
        for ex in (self.data.get("examples") or {}).get(domain, []):
            steps = "\n".join(self.render("example_step", **{"observation": "", **s}) for s in ex["steps"])
            blocks.append(f"Task: {ex['task']}\n\n{steps}")
        return "\n\n---\n".join(blocks)


def load_prompts(path: str | Path | None = None) -> Prompts:
    """The packaged CodeAct prompts, with the keys of ``path`` (a YAML file) overriding them."""
    loaded = load_prompt_set(
        "agentdistill.agents", "codeact", path, required=REQUIRED, extra_keys=("examples",)
    )
    return Prompts(loaded.data, loaded.source)
