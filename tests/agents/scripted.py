"""A scripted ChatModel for testing the agent loop's control flow (never for accuracy)."""

from __future__ import annotations

from agentdistill.models.base import ChatModel, ChatResult, Completion, GenerationParams, truncate_at_stop


class ScriptedModel(ChatModel):
    """Answers from a script: each entry is a reply, or a list of (text, logprob) / texts for n samples.

    Records every call (conversation, params, continue_final) in ``calls``.
    """

    def __init__(self, script, *, name="scripted", continuation=True):
        self.script = list(script)
        self.calls: list[tuple[list[dict], GenerationParams, bool]] = []
        self.name = name
        self.supports_continuation = continuation

    async def _agenerate_batch(self, conversations, params, continue_final):
        results = []
        for conv in conversations:
            self.calls.append((conv, params, continue_final))
            entry = self.script.pop(0) if self.script else "Final answer: (script exhausted)"
            samples = entry if isinstance(entry, list) else [entry] * params.n
            comps = []
            for s in samples:
                text, lp = s if isinstance(s, tuple) else (s, None)
                text, _ = truncate_at_stop(text, params.stop)
                comps.append(Completion(text, "stop", tokens=len(text.split()), mean_logprob=lp))
            results.append(ChatResult(comps, model=self.name, prompt_tokens=10))
        return results


def step(thought: str, code: str) -> str:
    return f"Thought: {thought}\nCode:\n```py\n{code}\n```<end_code>"
