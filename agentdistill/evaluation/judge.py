"""Optional LLM judge: does a predicted answer mean the same as the gold one? (the paper's QA metric).

Exact match under-counts correct free-form answers ("JFK" vs "John F. Kennedy"), so the paper scores QA
with a judge. Ours takes any model spec, reads its rubric from a data file, and caches verdicts on disk
keyed by (judge model, prompt version, question, gold, prediction): rerunning a report or a resumed eval
costs no judge calls. The runner reports the judge's agreement with EM beside its accuracy.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
import re
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agentdistill.config import cache_dir
from agentdistill.models.base import ChatModel, GenerationParams
from agentdistill.models.config import ModelConfig
from agentdistill.prompts import PromptSet, load_prompt_set

_VERDICT = re.compile(r"verdict\s*[:=]?\s*\**\s*(yes|no)\b", re.IGNORECASE)
_YES_NO = re.compile(r"\b(yes|no)\b", re.IGNORECASE)


class JudgePrompt(PromptSet):
    """The rubric (``evaluation/prompts/judge.yaml``): a ``system`` message and a ``user`` template with
    ``{{ question }}``, ``{{ gold }}`` and ``{{ prediction }}``."""

    @classmethod
    def load(cls, path: str | Path | None = None) -> JudgePrompt:
        """The packaged rubric, or a user's YAML file overriding its keys."""
        loaded = load_prompt_set("agentdistill.evaluation", "judge", path, required=("version", "user"))
        return cls(loaded.data, loaded.source)

    def messages(self, question: str, gold: str, prediction: str) -> list[dict[str, str]]:
        user = self.render("user", question=question, gold=gold, prediction=prediction)
        system = self.render("system") if self.data.get("system") else ""
        return ([{"role": "system", "content": system}] if system else []) + [
            {"role": "user", "content": user}
        ]


@dataclasses.dataclass
class Verdict:
    """One judgement: ``correct`` is None when the judge's reply held no yes/no."""

    correct: bool | None
    raw: str
    cached: bool = False


def parse_verdict(text: str) -> bool | None:
    """Read "Verdict: yes/no" (last one wins), else the last standalone yes/no word."""
    found = _VERDICT.findall(text) or _YES_NO.findall(text)
    return found[-1].lower() == "yes" if found else None


class VerdictCache:
    """A small SQLite table of verdicts; safe for several processes (SQLite locks) and threads (a lock)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS verdicts (key TEXT PRIMARY KEY, correct INTEGER, raw TEXT)"
        )
        self._db.commit()

    @staticmethod
    def key(*parts: str) -> str:
        return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()

    def get(self, key: str) -> Verdict | None:
        with self._lock:
            row = self._db.execute("SELECT correct, raw FROM verdicts WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        return Verdict(None if row[0] is None else bool(row[0]), row[1], cached=True)

    def put(self, key: str, verdict: Verdict) -> None:
        value = None if verdict.correct is None else int(verdict.correct)
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO verdicts VALUES (?, ?, ?)", (key, value, verdict.raw))
            self._db.commit()

    def close(self) -> None:
        with self._lock:
            self._db.close()


class Judge:
    """Judges (question, gold, prediction) triples with a chat model; verdicts are cached on disk."""

    def __init__(
        self,
        model: ChatModel,
        *,
        prompt: JudgePrompt | None = None,
        cache_path: str | Path | None = None,
        max_tokens: int = 256,
        concurrency: int = 8,
        resources: contextlib.ExitStack | None = None,
    ):
        self.model = model
        self.resources = resources
        """What :meth:`close` releases besides the cache (the model a :func:`load_judge` opened)."""
        self.prompt = prompt or JudgePrompt.load()
        self.cache = VerdictCache(cache_path or cache_dir() / "judge" / "verdicts.sqlite")
        self.params = GenerationParams(temperature=0.0, max_tokens=max_tokens)
        self.calls = 0
        """Model requests made (cache hits make none)."""
        self.concurrency = concurrency
        self._semaphores: dict[int, asyncio.Semaphore] = {}

    async def ajudge(self, question: str, gold: str, prediction: str | None) -> Verdict:
        """One verdict, from the cache if this judge already saw the same triple."""
        prediction = (prediction or "").strip()
        if not prediction:
            return Verdict(False, "(empty prediction)")
        key = VerdictCache.key(self.model.name, self.prompt.version, question, gold, prediction[:2000])
        if (hit := self.cache.get(key)) is not None:
            return hit
        loop_key = id(asyncio.get_running_loop())  # a semaphore belongs to one event loop
        semaphore = self._semaphores.setdefault(loop_key, asyncio.Semaphore(self.concurrency))
        async with semaphore:
            self.calls += 1
            result = await self.model.agenerate(
                self.prompt.messages(question, gold, prediction[:2000]), self.params
            )
        verdict = Verdict(parse_verdict(result.text), result.text)
        self.cache.put(key, verdict)
        return verdict

    async def ajudge_many(self, items: Sequence[tuple[str, str, str | None]]) -> list[Verdict]:
        """Verdicts for many triples, concurrently (bounded by ``concurrency``)."""
        return list(await asyncio.gather(*(self.ajudge(q, g, p) for q, g, p in items)))

    def close(self) -> None:
        self.cache.close()
        if self.resources is not None:
            self.resources.close()


def agreement(verdicts: Sequence[bool | None], em: Sequence[float]) -> float | None:
    """Share of items where the judge's verdict equals EM's (unparsed verdicts count as disagreement)."""
    if not verdicts:
        return None
    same = sum(1 for v, e in zip(verdicts, em, strict=True) if v is not None and v == (e >= 1.0))
    return same / len(verdicts)


def load_judge(model: ModelConfig | str, **options: Any) -> Judge:
    """A judge over the chat model a spec (``openai:gpt-4o-mini``, ``hf:...``, ``default``) or a model
    config names; with ``serve`` the model runs behind a managed vLLM until the judge is closed."""
    from agentdistill.models.loading import open_chat_model

    resources = contextlib.ExitStack()
    chat = resources.enter_context(open_chat_model(model))
    return Judge(chat, resources=resources, **options)
