"""Parse an agent's reply into (thought, code), tolerating the formats small models actually produce.

Accepted code markers, in order: a fenced block (```py, ```python, or a bare ```), then ``<code>...</code>``.
The first block wins; an unclosed fence at the end of the reply (generation stopped at ``<end_code>`` or
max tokens) is still taken. No code block is a parse error, shown to the agent as an observation, as in
the agent-distillation code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FENCE = re.compile(r"```[ \t]*(?:py|python|python3)?[ \t]*\n(.*?)(?:```|$)", re.DOTALL | re.IGNORECASE)
_TAG = re.compile(r"<code>(.*?)(?:</code>|$)", re.DOTALL | re.IGNORECASE)
_FINAL_LINE = re.compile(r"final answer\s*[:：]\s*(.+)", re.IGNORECASE)


@dataclass
class ParsedAction:
    """One step: the reasoning text before the code, the code, and the reflection if the step has one."""

    thought: str
    code: str | None
    reflection: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.code is not None and self.error is None


def parse_action(text: str) -> ParsedAction:
    """Split a reply into reflection, thought and code; ``error`` says why no code was found."""
    text = text.replace("<end_code>", "")
    reflection = None
    if m := re.match(r"\s*Reflection:\s*(.*?)(?=\n\s*Thought:|\n\s*Code:|```|<code>|$)", text, re.DOTALL):
        reflection = m.group(1).strip()
        text = text[m.end() :]
    match = _FENCE.search(text) or _TAG.search(text)
    head = text[: match.start()] if match else text
    head = re.sub(r"\n?\s*Code:\s*$", "", head.rstrip())
    thought = re.sub(r"^\s*Thought:\s*", "", head).strip()
    if match is None:
        return ParsedAction(thought, None, reflection, "no code block found in the reply")
    code = match.group(1).strip("\n")
    if not code.strip():
        return ParsedAction(thought, None, reflection, "the code block is empty")
    return ParsedAction(thought, code, reflection)


def parse_final_line(text: str) -> str:
    """The answer in a plain "Final answer: ..." reply (the max-steps fallback), else the whole reply."""
    matches = _FINAL_LINE.findall(text)
    return (matches[-1] if matches else text).strip().strip('"').strip()
