"""The CodeAct agent loop: the model writes Thought + Python, the sandbox runs it, the output comes back.

One class serves the teacher and the student; the methods of the paper are switches on it:

* first-thought prefix (teacher): the first paragraph of the model's own CoT answer starts the first
  ``Thought:`` and the model continues it (a partial assistant message);
* self-reflection (STeP): a failed step stays in context with ``train: false``; the next step starts with
  ``Reflection:`` and is trained. Source ``self``: the teacher's own failures; ``student``: a student model
  acts and the teacher checks each step against the gold answer, writing reflection and correction where
  the student goes wrong;
* self-consistent action generation (student): N candidates from one request, each run in its own fork of
  the sandbox, voted on (:mod:`agentdistill.agents.consistency`); the winner's fork becomes the state.

The trajectory records what a student would see at inference: instructions used only to steer the
teacher (the reflection request) are sent to the model but not stored.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Mapping
from typing import Any

from agentdistill.agents.config import AgentConfig
from agentdistill.agents.consistency import Candidate, choose
from agentdistill.agents.parsing import ParsedAction, parse_action, parse_final_line
from agentdistill.agents.prompts import Prompts, load_prompts
from agentdistill.errors import failure_kind
from agentdistill.models.base import ChatModel, GenerationParams, run_sync
from agentdistill.schema import AgentInfo, ExecResult, Message, Task, Trajectory, TrajectoryStats
from agentdistill.tasks.metrics import is_success, score
from agentdistill.tools.host import describe_tool, invoke_tool, tool_output

STOP = ("<end_code>", "Observation:")
Scorer = Callable[[Task, str], float | None]


class CountingTool:
    """Wraps a host tool to count calls (the sandbox sees the same name and description)."""

    def __init__(self, name: str, tool: Any) -> None:
        self.name, self.tool, self.calls = name, tool, 0
        self.description = describe_tool(tool)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return tool_output(invoke_tool(self.tool, args, kwargs))


def first_paragraph(text: str) -> str:
    """The first reasoning step of a CoT answer: its first non-empty paragraph."""
    for para in text.strip().split("\n\n"):
        if para.strip():
            return " ".join(para.strip().split())
    return ""


def default_scorer(task: Task, prediction: str) -> float | None:
    """The evaluation metric of the task's domain (EM for QA, math-verify for math)."""
    if task.answer is None:
        return None
    return float(score(task, prediction)["score"])


@dataclasses.dataclass
class _Episode:
    """Mutable state of one run."""

    task: Task
    messages: list[Message]
    stats: TrajectoryStats
    seed: int | None
    model_requests: int = 0
    executions: int = 0
    reflections: int = 0
    prefix_mode: str | None = None
    final: str | None = None
    status: str = "max_steps"


class CodeActAgent:
    """Runs CodeAct episodes. ``model`` acts; ``teacher`` (reflection source ``student`` only) checks it.

    ``tools`` maps names to host tools (plain callables or langchain ``BaseTool``s; a tool with a
    ``new_episode()`` method gets a fresh copy per episode, e.g. the ``web_search`` cache). ``sandbox`` is
    a :class:`~agentdistill.sandbox.SandboxConfig`.
    """

    def __init__(
        self,
        model: ChatModel,
        config: AgentConfig | None = None,
        *,
        sandbox: Any = None,
        tools: Mapping[str, Any] | None = None,
        prompts: Prompts | None = None,
        teacher: ChatModel | None = None,
        scorer: Scorer | None = default_scorer,
        role: str = "teacher",
    ) -> None:
        from agentdistill.sandbox import SandboxConfig

        self.model = model
        self.config = config or AgentConfig()
        self.sandbox_config = sandbox or SandboxConfig()
        self.tools = dict(tools or {})
        self.prompts = prompts or load_prompts(self.config.prompts)
        self.teacher = teacher
        self.scorer = scorer
        self.role = role
        if self.config.reflection == "student" and teacher is None:
            raise ValueError("reflection='student' needs a teacher model to check the student's steps")

    # ------------------------------------------------------------------------------------------ public

    def run(self, task: Task, *, sample: int = 0) -> Trajectory:
        """Synchronous :meth:`arun`."""
        return run_sync(self.arun(task, sample=sample))

    async def arun(self, task: Task, *, sample: int = 0) -> Trajectory:
        """Run one episode on ``task``; failures of the episode itself are recorded, not raised."""
        start = time.monotonic()
        seed = None if self.config.seed is None else self.config.seed + sample
        ep = _Episode(task, self._opening(task), TrajectoryStats(), seed)
        tools = {name: CountingTool(name, _fresh(tool)) for name, tool in self.tools_for(task).items()}
        prefix = None
        error = failure = None
        try:
            if self.config.first_thought_prefix:
                prefix = await self._first_thought(ep)
            sandbox = await asyncio.to_thread(self._open_sandbox, tools)
            try:
                await self._loop(ep, sandbox, prefix)
            finally:
                await asyncio.to_thread(sandbox.close)
        except Exception as e:  # an episode's failure is data, never fatal to a run
            ep.status, error, failure = "failed", f"{type(e).__name__}: {e}", failure_kind(e)
        ep.stats.tool_calls = sum(t.calls for t in tools.values())
        ep.stats.wall_time_s = round(time.monotonic() - start, 3)
        score = self.scorer(task, ep.final) if (self.scorer and ep.final is not None) else None
        return Trajectory(
            id=f"{task.id}#{sample}",
            task=task,
            agent=AgentInfo(
                model=self.model.name,
                role=self.role,  # type: ignore[arg-type]
                prompt_version=self.prompts.version,
                generation=self._generation_settings(),
                seed=seed,
            ),
            messages=ep.messages,
            final_answer=ep.final,
            score=score,
            stats=ep.stats,
            first_thought_prefix=prefix,
            status=ep.status,  # type: ignore[arg-type]
            error=error,
            failure=failure,  # type: ignore[arg-type]
            metadata={
                "model_requests": ep.model_requests,
                "executions": ep.executions,
                "reflections": ep.reflections,
                **({"reference_hint": True} if self.config.reference_hint else {}),
                **({"prefix_mode": ep.prefix_mode} if ep.prefix_mode else {}),
                **({"teacher": self.teacher.name} if self.teacher else {}),
            },
        )

    def tools_for(self, task: Task) -> dict[str, Any]:
        """The host tools the task's domain may use (``AgentConfig.domain_tools``)."""
        allowed = self.config.domain_tools.get(task.domain)
        return dict(self.tools) if allowed is None else {k: v for k, v in self.tools.items() if k in allowed}

    # ------------------------------------------------------------------------------------------ loop

    def _opening(self, task: Task) -> list[Message]:
        domain = task.domain
        examples = self.prompts.examples_text(domain) if self.config.use_examples else ""
        tool_list = [
            {"name": name, "description": describe_tool(t)} for name, t in self.tools_for(task).items()
        ]
        system = self.prompts.render("system", tools=tool_list, examples=examples, domain=domain)
        user = self.prompts.render("task", question=task.question, domain=domain)
        return [Message(role="system", content=system), Message(role="user", content=user, kind="task")]

    def _open_sandbox(self, tools: Mapping[str, Any]) -> Any:
        from agentdistill.sandbox import Sandbox

        return Sandbox.open(self.sandbox_config, tools=tools)

    async def _loop(self, ep: _Episode, sandbox: Any, prefix: str | None) -> None:
        cfg = self.config
        steer: str | None = None  # an instruction for the next call only (not stored)
        outcome: _Outcome | None = None
        for step in range(cfg.max_steps):
            start_text = ""
            if step == 0 and prefix:
                start_text = f"Thought: {prefix}"
            elif steer is not None and self._can_continue(self.model):
                start_text = "Reflection:"
            elif outcome is not None and self._shows_gold_answer(ep, outcome):
                start_text = self.prompts.render("answer_found")
            elif cfg.code_prefix:
                start_text = self.prompts.render("code_start", domain=ep.task.domain)
            actor = self.model
            outcome = await self._act(actor, ep, sandbox, start_text, steer)
            steer = None
            checked_ok = True
            if cfg.reflection == "student" and self.teacher is not None:
                checked_ok = await self._teacher_accepts(ep, outcome)
            failed = self._failed(ep, outcome) or not checked_ok
            last = step + 1 == cfg.max_steps
            reflect = cfg.reflection != "off" and failed and ep.reflections < cfg.max_reflections and not last
            # STeP partial masking: with reflection on, failed steps stay in context but are not trained
            self._record(ep, outcome, train=not (failed and cfg.reflection != "off"))
            if outcome.result is not None and outcome.result.is_final and not reflect:
                ep.final, ep.status = str(outcome.result.final_answer), "ok"
                return
            if reflect:
                ep.reflections += 1
                steer = self.prompts.render("reflection_request")
                if cfg.reflection == "student":
                    # the teacher writes the reflection and the corrected action
                    fix = await self._act(self.teacher, ep, sandbox, "Reflection:" if self._can_continue(
                        self.teacher) else "", steer)  # fmt: skip
                    steer = None
                    self._record(ep, fix, train=True, kind="reflection")
                    if fix.result is not None and fix.result.is_final:
                        ep.final, ep.status = str(fix.result.final_answer), "ok"
                        return
        await self._final_answer(ep)

    def _shows_gold_answer(self, ep: _Episode, outcome: _Outcome) -> bool:
        """Whether the last step ran cleanly and printed the gold answer (``answer_found_prefix`` only)."""
        r = outcome.result
        if not self.config.answer_found_prefix or ep.task.answer is None or self.scorer is None:
            return False
        if r is None or r.error is not None or r.is_final:
            return False
        lines = [line.strip() for line in _output(r).splitlines() if line.strip()][-5:]
        return any(is_success(self.scorer(ep.task, line)) for line in lines)

    def _failed(self, ep: _Episode, outcome: _Outcome) -> bool:
        """A step failed: no code, an exception or limit, or (when the gold answer is known and the
        teacher reflects) a wrong final answer."""
        r = outcome.result
        if not outcome.parsed.ok or r is None or r.error is not None:
            return True
        if r.is_final and self.config.reflection != "off" and self.scorer and ep.task.answer is not None:
            return not is_success(self.scorer(ep.task, str(r.final_answer)))
        return False

    def _record(self, ep: _Episode, outcome: _Outcome, *, train: bool, kind: str | None = None) -> None:
        """Store the step and its observation."""
        ep.stats.steps += 1
        p = outcome.parsed
        if p.ok:
            body = self.prompts.render("action", thought=p.thought, code=p.code)
            if p.reflection:
                body = f"Reflection: {p.reflection}\n{body}"
        else:
            body = outcome.text.strip()
        kind = kind or ("reflection" if p.reflection else "action")
        ep.messages.append(Message(role="assistant", content=body, kind=kind, train=train))  # type: ignore[arg-type]
        obs, obs_kind = self._observation(ep, outcome)
        ep.messages.append(Message(role="user", content=obs, kind=obs_kind))  # type: ignore[arg-type]
        if obs_kind == "error":
            ep.stats.errors += 1

    def _observation(self, ep: _Episode, outcome: _Outcome) -> tuple[str, str]:
        p, r = outcome.parsed, outcome.result
        if not p.ok or r is None:
            return self.prompts.render("parse_error", error=p.error or "no code"), "error"
        output = self._truncate(_output(r))
        if r.error is not None:
            return self.prompts.render("error", output=output, error=r.error), "error"
        if r.is_final and self._failed(ep, outcome):
            return self.prompts.render("wrong_answer", answer=repr(r.final_answer)), "error"
        return self.prompts.render("observation", output=output), "observation"

    def _truncate(self, text: str) -> str:
        limit = self.config.observation_max_chars
        if len(text) <= limit:
            return text
        head, tail = text[: limit * 2 // 3], text[-(limit // 3) :]
        return f"{head}\n...[{len(text) - len(head) - len(tail)} characters truncated]...\n{tail}"

    # ------------------------------------------------------------------------------------------ acting

    def _can_continue(self, model: ChatModel) -> bool:
        return bool(getattr(model, "supports_continuation", False))

    def _params(self, n: int, seed: int | None) -> GenerationParams:
        cfg = self.config
        return GenerationParams(
            n=n,
            temperature=cfg.temperature if n == 1 else cfg.candidate_temperature,
            top_p=cfg.top_p,
            max_tokens=cfg.max_tokens,
            stop=STOP,
            seed=seed,
            logprobs=n > 1,
        )

    async def _generate(
        self, model: ChatModel, ep: _Episode, start_text: str, steer: str | None, n: int
    ) -> tuple[list[str], list[float | None]]:
        convo = [m.to_chat() for m in ep.messages]
        if self.config.reference_hint and ep.task.answer is not None and model is not self.teacher:
            hint = self.prompts.render("reference_hint", answer=ep.task.answer)
            convo[1] = {**convo[1], "content": f"{convo[1]['content']}\n\n{hint}"}
        if steer:
            convo[-1] = {**convo[-1], "content": f"{convo[-1]['content']}\n\n{steer}"}
        cont = bool(start_text) and self._can_continue(model)
        if start_text and not cont:
            # The backend cannot continue a message: ask for the start instead, and say so in the record.
            convo[-1] = {
                **convo[-1],
                "content": f"{convo[-1]['content']}\n\nBegin your reply with: {start_text}",
            }
            ep.prefix_mode = "instructed"
        elif start_text:
            convo.append({"role": "assistant", "content": start_text})
            ep.prefix_mode = ep.prefix_mode or "continued"
        seed = None if ep.seed is None else ep.seed * 1000 + ep.model_requests
        result = await model.agenerate(convo, self._params(n, seed), continue_final=cont)
        ep.model_requests += 1
        ep.stats.prompt_tokens += result.prompt_tokens or 0
        ep.stats.completion_tokens += result.completion_tokens or 0
        texts = [start_text + c.text if cont else c.text for c in result.completions]
        return texts, [c.mean_logprob for c in result.completions]

    async def _act(
        self, model: ChatModel, ep: _Episode, sandbox: Any, start_text: str, steer: str | None
    ) -> _Outcome:
        n = self.config.n_candidates if model is self.model else 1
        texts, lps = await self._generate(model, ep, start_text, steer, n)
        candidates = [
            Candidate(t, parse_action(t), mean_logprob=lp) for t, lp in zip(texts, lps, strict=True)
        ]
        timeout = self.config.step_timeout_s
        if n == 1:
            c = candidates[0]
            if c.parsed.ok:
                c.result = await asyncio.to_thread(sandbox.run, c.parsed.code, timeout=timeout)
                ep.executions += 1
            return _Outcome(c.text, c.parsed, c.result, 1)
        runnable = [i for i, c in enumerate(candidates) if c.parsed.ok]
        if runnable:
            await asyncio.to_thread(sandbox.fork, len(runnable))
            results = await asyncio.to_thread(
                sandbox.run_forks, [candidates[i].parsed.code for i in runnable], timeout=timeout
            )
            ep.executions += len(runnable)
            for fork, (i, res) in enumerate(zip(runnable, results, strict=True)):
                candidates[i].result, candidates[i].fork = res, fork
        winner = candidates[choose(candidates)]
        if winner.fork is not None:
            await asyncio.to_thread(sandbox.select, winner.fork)  # its state continues: nothing re-runs
        elif runnable:
            await asyncio.to_thread(sandbox.discard_forks)
        return _Outcome(winner.text, winner.parsed, winner.result, len(candidates))

    async def _first_thought(self, ep: _Episode) -> str | None:
        question = self.prompts.render("first_thought", question=ep.task.question, domain=ep.task.domain)
        params = GenerationParams(max_tokens=256, temperature=self.config.temperature, seed=ep.seed)
        result = await self.model.agenerate([{"role": "user", "content": question}], params)
        ep.model_requests += 1
        ep.stats.prompt_tokens += result.prompt_tokens or 0
        ep.stats.completion_tokens += result.completion_tokens or 0
        return first_paragraph(result.text) or None

    async def _teacher_accepts(self, ep: _Episode, outcome: _Outcome) -> bool:
        """Student-rollout reflection: the teacher judges the student's step against the gold answer."""
        r = outcome.result
        if not outcome.parsed.ok or r is None or r.error is not None:
            return False
        if r.is_final and self.scorer and ep.task.answer is not None:
            return is_success(self.scorer(ep.task, str(r.final_answer)))
        assert self.teacher is not None
        obs, _ = self._observation(ep, outcome)
        prompt = self.prompts.render(
            "check_step", question=ep.task.question, answer=ep.task.answer, step=outcome.text, observation=obs
        )
        verdict = await self.teacher.agenerate([{"role": "user", "content": prompt}], max_tokens=64)
        ep.model_requests += 1
        return not verdict.text.strip().upper().startswith("MISTAKE")

    async def _final_answer(self, ep: _Episode) -> None:
        """Out of steps: one more call asks for the answer from the episode so far (as the paper does)."""
        ask = self.prompts.render("final_prompt", question=ep.task.question)
        ep.messages.append(Message(role="user", content=ask, kind="prompt"))
        params = GenerationParams(max_tokens=self.config.final_max_tokens, temperature=0.0, seed=ep.seed)
        result = await self.model.agenerate([m.to_chat() for m in ep.messages], params)
        ep.model_requests += 1
        ep.stats.prompt_tokens += result.prompt_tokens or 0
        ep.stats.completion_tokens += result.completion_tokens or 0
        ep.messages.append(
            Message(
                role="assistant",
                content=result.text.strip(),
                kind="final",
                train=self.config.train_forced_answer,
            )
        )
        ep.final, ep.status = parse_final_line(result.text), "max_steps"

    def _generation_settings(self) -> dict[str, Any]:
        cfg = self.config
        return {
            "max_steps": cfg.max_steps,
            "max_tokens": cfg.max_tokens,
            "temperature": cfg.temperature,
            "top_p": cfg.top_p,
            "n_candidates": cfg.n_candidates,
            "candidate_temperature": cfg.candidate_temperature,
            "first_thought_prefix": cfg.first_thought_prefix,
            "reflection": cfg.reflection,
        }


@dataclasses.dataclass
class _Outcome:
    text: str
    parsed: ParsedAction
    result: ExecResult | None
    candidates: int


def _output(r: ExecResult) -> str:
    value = getattr(r, "value", None)
    out = r.stdout
    if value is not None and not r.is_final:
        out = f"{out}{'' if not out or out.endswith(chr(10)) else chr(10)}{value}"
    return out.rstrip("\n")


def _fresh(tool: Any) -> Any:
    return tool.new_episode() if hasattr(tool, "new_episode") else tool
