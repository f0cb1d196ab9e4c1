"""Chain-of-thought solvers without tools: ``cot`` and ``cot-rag`` (retrieved documents in the prompt).

They are the paper's baselines (CoT prompting, CoT distillation, RAG) and the source of the teacher's
first thought. Each call produces a one-step :class:`~agentdistill.schema.Trajectory` in the same record
format as agent episodes, so evaluation, filtering and SFT treat baselines and agents alike.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentdistill.models.base import ChatModel, GenerationParams
from agentdistill.prompts import PromptSet, load_prompt_set
from agentdistill.schema import AgentInfo, Message, Task, Trajectory, TrajectoryStats
from agentdistill.tasks.math_match import last_boxed

if TYPE_CHECKING:
    from agentdistill.agents.config import AgentConfig

_FINAL = re.compile(r"final answer\s*[:：]\s*(.+)", re.IGNORECASE)
_ANSWER_IS = re.compile(r"\bthe answer is\s*[:：]?\s*(.+)", re.IGNORECASE)
_KEYS = ("version", "system", "task", "rag")


def load_cot_prompts(path: str | Path | None = None) -> PromptSet:
    """The packaged CoT prompts (``agents/prompts/cot.yaml``), or those of ``path`` layered over them."""
    return load_prompt_set("agentdistill.agents", "cot", path, required=_KEYS)


def cot_generation_params(agent: AgentConfig, seed: int | None = None) -> GenerationParams:
    """The CoT modes' one-call sampling settings: the agent's, seeded only when sampling (greedy decoding
    needs no seed, and vLLM's CPU build crashes on per-request seeds). The first-thought prefix's CoT
    call uses the same settings."""
    return GenerationParams(
        max_tokens=agent.max_tokens,
        temperature=agent.temperature,
        top_p=agent.top_p,
        seed=seed if agent.temperature > 0 else None,
    )


def extract_final_answer(text: str, domain: str) -> str | None:
    """The answer in a CoT reply: math keeps the last ``\\boxed{}`` (as ``\\boxed{..}``, so the metric
    finds it); otherwise the text after the last "Final answer:", else "the answer is", else the last line."""
    text = text.strip()
    if not text:
        return None
    if domain == "math" and (boxed := last_boxed(text)) is not None:
        return f"\\boxed{{{boxed}}}"
    for pattern in (_FINAL, _ANSWER_IS):
        if found := pattern.findall(text):
            answer = found[-1].strip().strip("*").strip().rstrip(".").strip("*").strip()
            if answer:
                return answer
    return text.splitlines()[-1].strip()


class CoTSolver:
    """Answer a task in one model call, optionally with top-k retrieved documents in the prompt."""

    def __init__(
        self,
        model: ChatModel,
        *,
        params: GenerationParams | None = None,
        role: str = "student",
        model_spec: str | None = None,
        retriever: Any = None,
        top_k: int = 3,
        max_doc_chars: int | None = 1200,
        prompts: PromptSet | None = None,
        seed: int | None = None,
    ):
        self.model = model
        self.params = params or GenerationParams(max_tokens=1024)
        self.role = role
        self.model_spec = model_spec or model.name
        self.retriever = retriever
        self.top_k = top_k
        self.max_doc_chars = max_doc_chars
        self.prompts = prompts or load_cot_prompts()
        self.seed = seed

    @property
    def mode(self) -> str:
        return "cot-rag" if self.retriever is not None else "cot"

    async def build_messages(self, task: Task) -> tuple[list[Message], list[str]]:
        """System + user messages for ``task``, and the ids of any retrieved documents."""
        body = self.prompts.render("task", question=task.question, domain=task.domain)
        doc_ids: list[str] = []
        if self.retriever is not None:
            from agentdistill.tools.web_search import format_documents

            docs = (await self.retriever.ainvoke(task.question))[: self.top_k]
            doc_ids = [str(d.metadata.get("id", d.id)) for d in docs]
            body = self.prompts.render("rag", documents=format_documents(docs, self.max_doc_chars), task=body)
        messages = [Message(role="user", content=body, kind="task")]
        if system := self.prompts.render("system"):
            messages.insert(0, Message(role="system", content=system))
        return messages, doc_ids

    async def __call__(self, task: Task) -> Trajectory:
        start = time.perf_counter()
        messages, doc_ids = await self.build_messages(task)
        result = await self.model.agenerate([m.to_chat() for m in messages], self.params)
        completion = result.completions[0]
        messages.append(Message(role="assistant", content=completion.text, kind="cot", train=True))
        metadata: dict[str, Any] = {"mode": self.mode, "finish_reason": completion.finish_reason}
        if doc_ids:
            metadata["retrieved"] = doc_ids
        return Trajectory(
            id=task.id,
            task=task,
            agent=AgentInfo(
                model=self.model_spec,
                role=self.role,  # type: ignore[arg-type]
                prompt_version=self.prompts.version,
                generation={
                    "temperature": self.params.temperature,
                    "top_p": self.params.top_p,
                    "max_tokens": self.params.max_tokens,
                },
                seed=self.seed,
            ),
            messages=messages,
            final_answer=extract_final_answer(completion.text, task.domain),
            stats=TrajectoryStats(
                steps=1,
                prompt_tokens=result.prompt_tokens or 0,
                completion_tokens=completion.tokens or 0,
                wall_time_s=time.perf_counter() - start,
            ),
            metadata=metadata,
        )
