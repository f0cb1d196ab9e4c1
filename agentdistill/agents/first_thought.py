"""The first-thought prefix (agent-distillation): the teacher's CoT answer starts the agent's first Thought.

For each task the teacher answers once as plain chain-of-thought, with the ``cot`` baseline's own solver,
prompts and sampling settings (:class:`~agentdistill.agents.cot.CoTSolver`); the first paragraph of that
answer, verbatim with its ``"\\n\\n"`` (the paper's ``answer.split("\\n\\n")[0] + "\\n\\n"``), opens the first
``Thought:`` and the acting model continues it. Every episode of a task (all samples, resumed runs) uses
the same cached answer: :class:`FirstThoughts` makes one call per task and, given a file, keeps the
answers there as ``cot`` trajectory records, so a rerun makes no new calls.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from agentdistill.schema import Task, Trajectory

if TYPE_CHECKING:
    from agentdistill.agents.config import AgentConfig
    from agentdistill.agents.cot import CoTSolver
    from agentdistill.models.base import ChatModel

CACHE_FILE = "cache/first_thoughts.jsonl"
"""Where a generation run keeps its CoT answers, relative to its output folder."""


def first_paragraph(text: str) -> str:
    """The first reasoning step of a CoT answer: its first non-empty paragraph, verbatim, plus ``"\\n\\n"``.

    Leading blank lines are skipped; nothing inside the paragraph changes. Empty text gives ``""``.
    """
    for para in text.split("\n\n"):
        if para.strip():
            return para.lstrip("\n") + "\n\n"
    return ""


class FirstThoughts:
    """One CoT answer per task from ``solver``, made once and cached (in memory, and in ``path`` if given).

    Concurrent episodes of one task wait for the same call. Records in ``path`` made by another model,
    prompt version or sampling setting are not reused (their key differs).
    """

    def __init__(self, solver: CoTSolver, path: str | Path | None = None) -> None:
        self.solver = solver
        self.path = Path(path) if path is not None else None
        self.key = _key(solver)
        self.calls = 0
        self._answers: dict[str, asyncio.Future[str]] = {}
        self._stored: dict[str, str] = self._load()
        self._write_lock = threading.Lock()

    @classmethod
    def for_agent(
        cls,
        config: AgentConfig,
        model: ChatModel,
        teacher: ChatModel | None = None,
        *,
        model_spec: str | None = None,
        cache_dir: str | Path | None = None,
    ) -> FirstThoughts:
        """The CoT answers an agent's first-thought prefix uses: the ``cot`` baseline's solver (prompts
        ``config.cot_prompts``, sampling of sample 0) on the teacher, which is ``model`` unless reflection
        is ``student`` (then the checking ``teacher``); cached in ``cache_dir/``:data:`CACHE_FILE`."""
        from agentdistill.agents.cot import CoTSolver, cot_generation_params, load_cot_prompts

        student_mode = config.reflection == "student" and teacher is not None
        solver = CoTSolver(
            teacher if student_mode else model,  # type: ignore[arg-type]
            params=cot_generation_params(config, config.seed),
            role="teacher",
            model_spec=None if student_mode else model_spec or None,
            prompts=load_cot_prompts(config.cot_prompts) if config.cot_prompts else None,
            seed=config.seed,
        )
        return cls(solver, Path(cache_dir) / CACHE_FILE if cache_dir else None)

    async def answer(self, task: Task) -> str:
        """The teacher's CoT answer to ``task`` (its text)."""
        if task.id in self._stored:
            return self._stored[task.id]
        future = self._answers.get(task.id)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._answers[task.id] = future
            try:
                trajectory = await self.solver(task)
            except BaseException as e:
                del self._answers[task.id]  # a failed call is retried by the next episode
                future.set_exception(e)
                future.exception()  # retrieved: the waiting episodes re-raise it themselves
                raise
            self.calls += 1
            text = trajectory.messages[-1].content
            self._save(trajectory)
            future.set_result(text)
            return text
        return await asyncio.shield(future)

    async def prefix(self, task: Task) -> str:
        """The first paragraph of the task's CoT answer (``""`` when the answer is empty)."""
        return first_paragraph(await self.answer(task))

    def _load(self) -> dict[str, str]:
        if self.path is None or not self.path.is_file():
            return {}
        stored: dict[str, str] = {}
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                record = Trajectory.model_validate_json(line)
            except ValueError:
                continue  # a torn last line (killed run): that task is asked again
            if record.metadata.get("first_thought_key") == self.key and record.messages:
                stored[record.task.id] = record.messages[-1].content
        return stored

    def _save(self, trajectory: Trajectory) -> None:
        self._stored[trajectory.task.id] = trajectory.messages[-1].content
        if self.path is None:
            return
        record = trajectory.model_copy(
            update={"metadata": {**trajectory.metadata, "first_thought_key": self.key}}
        )
        with self._write_lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as f:
                f.write(record.model_dump_json(by_alias=True) + "\n")


def _key(solver: CoTSolver) -> str:
    p = solver.params
    settings = {
        "model": solver.model_spec,
        "prompts": solver.prompts.version,
        "prompt_text": {k: solver.prompts.data.get(k) for k in ("system", "task")},
        "params": [p.max_tokens, p.temperature, p.top_p, p.seed],
        "mode": solver.mode,
    }
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]
