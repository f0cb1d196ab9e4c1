"""The CodeAct agent loop: the model writes Thought + Python, the sandbox runs it, the output comes back.

One class serves the teacher and the student; the methods of the paper are switches on it:

* first-thought prefix (teacher): the first paragraph of the teacher's CoT answer to the task (one cached
  call per task, :mod:`agentdistill.agents.first_thought`) starts the first ``Thought:`` and the model
  continues it (a partial assistant message). A backend that cannot continue, or refuses to at run time,
  is asked to begin its reply with the prefix instead, and the reply is checked: ``prefix_mode`` records
  ``continued``, ``instructed``, ``dropped`` (the reply did not begin with it; no prefix is recorded) or
  ``none``. Other step starts (reflection, answer found, code prefix) are recorded in ``start_modes``;
* self-reflection (STeP): a failed step (exception, parse error, empty result, wrong final answer) stays
  in context with ``train: false``; the next step starts with ``Reflection:`` and is trained. Source
  ``self``: the teacher's own failures; ``student``: a student model acts unhinted and the teacher checks
  each step against the gold answer (a verdict with a reason), then writes a reflection naming the mistake
  and a corrected action; the correction runs and is trained only if it succeeds, else it is masked too
  and the teacher tries again (``max_corrections``);
* self-consistent action generation (student): N candidates from one request, each run in its own fork of
  the sandbox, voted on (:mod:`agentdistill.agents.consistency`); the winner's fork becomes the state.

The trajectory records what a student would see at inference: instructions used only to steer the
teacher (the reflection and correction requests, the gold-answer hint) are sent to the model but not
stored. Identical host-tool calls within an episode are answered from one cache shared by all forks
(:mod:`agentdistill.tools.cache`); ``stats.tool_calls`` counts the calls of the recorded steps only.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from agentdistill.agents.config import AgentConfig
from agentdistill.agents.consistency import Candidate, choose
from agentdistill.agents.first_thought import FirstThoughts, first_paragraph
from agentdistill.agents.parsing import ParsedAction, parse_action, parse_final_line
from agentdistill.agents.prompts import Prompts, load_prompts
from agentdistill.errors import failure_kind
from agentdistill.models.base import (
    ChatModel,
    ContinuationUnsupportedError,
    GenerationParams,
    run_sync,
    truncate_at_stop,
)
from agentdistill.schema import (
    AgentInfo,
    ExecResult,
    Message,
    SampledTokens,
    Task,
    Trajectory,
    TrajectoryStats,
)
from agentdistill.tasks.metrics import answer_key, is_success, score
from agentdistill.tools.cache import EpisodeToolCache
from agentdistill.tools.host import describe_tool

STOP = ("<end_code>", "Observation:")
Scorer = Callable[[Task, str], float | None]


__all__ = ["CodeActAgent", "first_paragraph"]
_VERDICT = re.compile(r"^[\s*#>_`\"']*(OK|MISTAKE)\b[\s*:.\-–—]*(.*)", re.IGNORECASE | re.DOTALL)
_REASON_CHARS = 300


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
    corrections: int = 0
    failed_corrections: int = 0
    prefix: str | None = None
    """The first-thought prefix planned for the first step."""
    prefix_mode: str = "none"
    start_modes: dict[str, str] = dataclasses.field(default_factory=dict)
    final: str | None = None
    status: str = "max_steps"


@dataclasses.dataclass
class _Verdict:
    """Whether a step is fine, and if not, why (the teacher's reason, or what the sandbox showed)."""

    ok: bool
    reason: str = ""


class CodeActAgent:
    """Runs CodeAct episodes. ``model`` acts; ``teacher`` (reflection source ``student`` only) checks it.

    ``tools`` maps names to host tools (plain callables or langchain ``BaseTool``s; a tool with a
    ``new_episode()`` method gets a fresh copy per episode, e.g. the ``web_search`` cache). ``sandbox`` is
    a :class:`~agentdistill.sandbox.SandboxConfig`. ``verbatim`` stores each reply exactly as the model
    wrote it instead of re-rendered from its parsed thought and code, with the token ids it sampled
    (``Message.tokens``) where the backend returns them: RL trains on exactly those.
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
        first_thoughts: FirstThoughts | None = None,
        verbatim: bool = False,
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
        self.verbatim = verbatim
        self.sampled_tokens = verbatim and bool(getattr(model, "supports_sampled_tokens", False))
        if self.config.reflection == "student" and teacher is None:
            raise ValueError("reflection='student' needs a teacher model to check the student's steps")
        self._refuses_continuation: set[int] = set()  # models that refused continue_final at run time
        if self.config.first_thought_prefix and first_thoughts is None:
            first_thoughts = FirstThoughts.for_agent(self.config, model, teacher)  # in memory
        self.first_thoughts = first_thoughts

    # ------------------------------------------------------------------------------------------ public

    def run(self, task: Task, *, sample: int = 0) -> Trajectory:
        """Synchronous :meth:`arun`."""
        return run_sync(self.arun(task, sample=sample))

    async def arun(self, task: Task, *, sample: int = 0) -> Trajectory:
        """Run one episode on ``task``; failures of the episode itself are recorded, not raised."""
        start = time.monotonic()
        seed = None if self.config.seed is None else self.config.seed + sample
        ep = _Episode(task, self._opening(task), TrajectoryStats(), seed)
        cache = EpisodeToolCache({name: _fresh(tool) for name, tool in self.tools_for(task).items()})
        error = failure = None
        try:
            if self.first_thoughts is not None:
                ep.prefix = await self.first_thoughts.prefix(task) or None
            sandbox = await asyncio.to_thread(self._open_sandbox, cache.tools)
            try:
                await self._loop(ep, sandbox)
            finally:
                await asyncio.to_thread(sandbox.close)
        except Exception as e:  # an episode's failure is data, never fatal to a run
            ep.status, error, failure = "failed", f"{type(e).__name__}: {e}", failure_kind(e)
        used = ep.prefix_mode in ("continued", "instructed")  # else never sent, or dropped
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
            first_thought_prefix=ep.prefix if used else None,
            status=ep.status,  # type: ignore[arg-type]
            error=error,
            failure=failure,  # type: ignore[arg-type]
            metadata={
                "model_requests": ep.model_requests,
                "executions": ep.executions,
                "reflections": ep.reflections,
                "prefix_mode": ep.prefix_mode,
                **({"start_modes": ep.start_modes} if ep.start_modes else {}),
                **({"tool_cache_hits": cache.hits} if cache.hits else {}),
                **({"reference_hint": True} if self.config.reference_hint else {}),
                **self._teacher_metadata(ep),
            },
        )

    def _teacher_metadata(self, ep: _Episode) -> dict[str, Any]:
        if self.teacher is None:
            return {}
        return {
            "teacher": self.teacher.name,
            "corrections": ep.corrections,
            "failed_corrections": ep.failed_corrections,
        }

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

    async def _loop(self, ep: _Episode, sandbox: Any) -> None:
        cfg = self.config
        steer: str | None = None  # an instruction for the next call only (not stored)
        outcome: _Outcome | None = None
        for step in range(cfg.max_steps):
            kind, start_text = self._start(ep, step, steer, outcome)
            outcome = await self._act(self.model, ep, sandbox, start_text, steer)
            if kind == "first_thought":
                ep.prefix_mode = (outcome.start_mode or "none") if outcome.start_followed else "dropped"
            elif kind is not None:
                ep.start_modes[kind] = outcome.start_mode or "none"
            steer = None
            verdict = await self._check(ep, outcome)
            last = step + 1 == cfg.max_steps
            reflect = cfg.reflection != "off" and not verdict.ok and ep.reflections < cfg.max_reflections
            reflect = reflect and not last
            # STeP partial masking: with reflection on, failed steps stay in context but are not trained
            train = verdict.ok or cfg.reflection == "off"
            lead = ep.prefix if kind == "first_thought" and ep.prefix_mode != "dropped" else None
            self._record(ep, outcome, train=train, lead=lead)
            if outcome.result is not None and outcome.result.is_final and not reflect:
                ep.final, ep.status = str(outcome.result.final_answer), "ok"
                return
            if reflect:
                ep.reflections += 1
                if cfg.reflection == "student":
                    if await self._teacher_corrects(ep, sandbox, verdict):
                        return
                else:
                    steer = self.prompts.render("reflection_request")
        await self._final_answer(ep)

    def _start(
        self, ep: _Episode, step: int, steer: str | None, last: _Outcome | None
    ) -> tuple[str | None, str]:
        """Which start the next step gets (its kind and text); ``(None, "")`` for none."""
        if step == 0 and ep.prefix:
            return "first_thought", f"Thought: {ep.prefix}"
        if steer is not None and self._can_continue(self.model):
            return "reflection", "Reflection:"
        if last is not None and self._shows_gold_answer(ep, last):
            return "answer_found", self.prompts.render("answer_found")
        if self.config.code_prefix:
            return "code_prefix", self.prompts.render("code_start", domain=ep.task.domain)
        return None, ""

    async def _check(self, ep: _Episode, outcome: _Outcome) -> _Verdict:
        """The step's verdict: what the sandbox showed (:meth:`_failure`), then, with reflection source
        ``student``, the teacher's judgement against the gold answer."""
        if reason := self._failure(ep, outcome):
            return _Verdict(False, reason)
        if self.config.reflection == "student" and self.teacher is not None:
            return await self._teacher_verdict(ep, outcome)
        return _Verdict(True)

    async def _teacher_corrects(self, ep: _Episode, sandbox: Any, verdict: _Verdict) -> bool:
        """STeP student mode: the teacher, told the mistake and the gold answer, writes a reflection and a
        corrected action, which runs. It is trained only if it succeeds; a failed one stays masked in
        context and the teacher tries again, up to ``max_corrections``. True when it gave the final answer."""
        assert self.teacher is not None
        for _ in range(self.config.max_corrections):
            ask = self.prompts.render("correction_request", reason=verdict.reason, answer=ep.task.answer)
            start = "Reflection:" if self._can_continue(self.teacher) else ""
            fix = await self._act(self.teacher, ep, sandbox, start, ask)
            ep.corrections += 1
            reason = self._failure(ep, fix)
            self._record(ep, fix, train=not reason, kind="reflection")
            if not reason:
                if fix.result is not None and fix.result.is_final:
                    ep.final, ep.status = str(fix.result.final_answer), "ok"
                    return True
                return False
            ep.failed_corrections += 1
            verdict = _Verdict(False, reason)
        return False

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
        """A step failed (see :meth:`_failure`)."""
        return bool(self._failure(ep, outcome))

    def _failure(self, ep: _Episode, outcome: _Outcome) -> str:
        """Why a step failed, from what the sandbox showed, or ``""``: no code, an exception or limit, an
        empty result (nothing printed, no value), or (when the gold answer is known and the agent
        reflects) a wrong final answer."""
        parsed, r = outcome.parsed, outcome.result
        if not parsed.ok or r is None:
            return f"the reply has no runnable code ({parsed.error or 'no code'})"
        if r.error is not None:
            return f"the code failed: {_clip(r.error)}"
        if r.is_final:
            checked = self.config.reflection != "off" and self.scorer and ep.task.answer is not None
            if checked and not is_success(self.scorer(ep.task, str(r.final_answer))):  # type: ignore[misc]
                return f"final_answer({_clip(repr(r.final_answer))}) is not the correct answer"
            return ""
        if not _output(r).strip():
            return "the code printed nothing and returned no value, so the step shows no result"
        return ""

    def _record(
        self,
        ep: _Episode,
        outcome: _Outcome,
        *,
        train: bool,
        kind: str | None = None,
        lead: str | None = None,
    ) -> None:
        """Store the step and its observation; ``lead`` (the first-thought prefix) opens the thought
        verbatim."""
        ep.stats.steps += 1
        if outcome.result is not None:
            ep.stats.tool_calls += outcome.result.tool_calls
        p = outcome.parsed
        if self.verbatim:
            body = outcome.text
        elif p.ok:
            thought = p.thought
            if lead and not thought.startswith(lead) and thought.startswith(lead.strip()):
                thought = lead + thought[len(lead.strip()) :].lstrip()
            body = self.prompts.render("action", thought=thought, code=p.code)
            if p.reflection:
                body = f"Reflection: {p.reflection}\n{body}"
        else:
            body = outcome.text.strip()
        kind = kind or ("reflection" if p.reflection else "action")
        ep.messages.append(
            Message(role="assistant", content=body, kind=kind, train=train, tokens=outcome.tokens)  # type: ignore[arg-type]
        )
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
        # (an empty result is a failure to reflect on, but its observation says so in plain words)
        return self.prompts.render("observation", output=output), "observation"

    def _truncate(self, text: str) -> str:
        limit = self.config.observation_max_chars
        if len(text) <= limit:
            return text
        head, tail = text[: limit * 2 // 3], text[-(limit // 3) :]
        return f"{head}\n...[{len(text) - len(head) - len(tail)} characters truncated]...\n{tail}"

    # ------------------------------------------------------------------------------------------ acting

    def _can_continue(self, model: ChatModel) -> bool:
        return (
            bool(getattr(model, "supports_continuation", False))
            and id(model) not in self._refuses_continuation
        )

    def _hinted(self, model: ChatModel) -> bool:
        """Whether ``model``'s requests carry the gold-answer hint: the teacher's only, never a student's."""
        if not self.config.reference_hint:
            return False
        return model is self.teacher if self.config.reflection == "student" else True

    def _params(self, n: int, seed: int | None, model_is_policy: bool = True) -> GenerationParams:
        cfg = self.config
        return GenerationParams(
            n=n,
            temperature=cfg.temperature if n == 1 else cfg.candidate_temperature,
            top_p=cfg.top_p,
            max_tokens=cfg.max_tokens,
            stop=STOP,
            seed=seed,
            logprobs=n > 1,
            sampled_tokens=self.sampled_tokens and model_is_policy,
        )

    async def _generate(
        self, model: ChatModel, ep: _Episode, start_text: str, steer: str | None, n: int
    ) -> tuple[list[tuple[str, bool]], list[Any], str | None]:
        """``n`` replies to the episode so far, each as (text, whether it begins with ``start_text``),
        their completions, and how the start was given (``continued``, ``instructed``, None)."""
        convo = [m.to_chat() for m in ep.messages]
        if ep.task.answer is not None and self._hinted(model):
            hint = self.prompts.render("reference_hint", answer=ep.task.answer)
            convo[1] = {**convo[1], "content": f"{convo[1]['content']}\n\n{hint}"}
        if steer:
            convo[-1] = {**convo[-1], "content": f"{convo[-1]['content']}\n\n{steer}"}
        seed = None if ep.seed is None else ep.seed * 1000 + ep.model_requests
        params = self._params(n, seed, model is self.model)
        result, mode = None, None
        started = time.monotonic()
        if start_text and self._can_continue(model):
            try:
                partial = [*convo, {"role": "assistant", "content": start_text}]
                result, mode = await model.agenerate(partial, params, continue_final=True), "continued"
            except ContinuationUnsupportedError:
                self._refuses_continuation.add(id(model))  # refused at run time: instructed from now on
        if result is None:
            if start_text:
                instruction = self.prompts.render("begin_with", start=start_text)
                convo[-1] = {**convo[-1], "content": f"{convo[-1]['content']}\n\n{instruction}"}
                mode = "instructed"
            result = await model.agenerate(convo, params)
        ep.stats.model_time_s += time.monotonic() - started
        ep.model_requests += 1
        ep.stats.prompt_tokens += result.prompt_tokens or 0
        ep.stats.completion_tokens += result.completion_tokens or 0
        replies = [_with_start(c.text, start_text, continued=mode == "continued") for c in result.completions]
        return replies, result.completions, mode

    async def _act(
        self, model: ChatModel, ep: _Episode, sandbox: Any, start_text: str, steer: str | None
    ) -> _Outcome:
        n = self.config.n_candidates if model is self.model else 1
        replies, completions, mode = await self._generate(model, ep, start_text, steer, n)
        candidates = [
            Candidate(t, parse_action(truncate_at_stop(t, STOP)[0]), mean_logprob=c.mean_logprob)
            for (t, _), c in zip(replies, completions, strict=True)
        ]
        timeout = self.config.step_timeout_s
        if n == 1:
            c = candidates[0]
            if c.parsed.ok:
                started = time.monotonic()
                c.result = await asyncio.to_thread(sandbox.run, c.parsed.code, timeout=timeout)
                ep.stats.sandbox_time_s += time.monotonic() - started
                ep.executions += 1
            return _Outcome(c.text, c.parsed, c.result, 1, mode, replies[0][1], _sampled(completions[0]))
        runnable = [i for i, c in enumerate(candidates) if c.parsed.ok]
        if runnable:
            await asyncio.to_thread(sandbox.fork, len(runnable))
            results = await asyncio.to_thread(
                sandbox.run_forks, [candidates[i].parsed.code for i in runnable], timeout=timeout
            )
            ep.executions += len(runnable)
            for fork, (i, res) in enumerate(zip(runnable, results, strict=True)):
                candidates[i].result, candidates[i].fork = res, fork
        index = choose(candidates, key=lambda value: answer_key(value, ep.task.domain))
        winner = candidates[index]
        if winner.fork is not None:
            await asyncio.to_thread(sandbox.select, winner.fork)  # its state continues: nothing re-runs
        elif runnable:
            await asyncio.to_thread(sandbox.discard_forks)
        return _Outcome(winner.text, winner.parsed, winner.result, len(candidates), mode, replies[index][1])

    async def _teacher_verdict(self, ep: _Episode, outcome: _Outcome) -> _Verdict:
        """Student-rollout reflection: the teacher judges a step that ran cleanly against the gold answer
        ("OK", or "MISTAKE: <reason>"); a final answer is checked by the metric instead."""
        r = outcome.result
        assert self.teacher is not None and r is not None
        if r.is_final and self.scorer and ep.task.answer is not None:
            ok = is_success(self.scorer(ep.task, str(r.final_answer)))
            return _Verdict(ok, "" if ok else f"final_answer({_clip(repr(r.final_answer))}) is not correct")
        obs, _ = self._observation(ep, outcome)
        prompt = self.prompts.render(
            "check_step", question=ep.task.question, answer=ep.task.answer, step=outcome.text, observation=obs
        )
        verdict = await self.teacher.agenerate([{"role": "user", "content": prompt}], max_tokens=64)
        ep.model_requests += 1
        return parse_verdict(verdict.text)

    async def _final_answer(self, ep: _Episode) -> None:
        """Out of steps: one more call asks for the answer from the episode so far (as the paper does)."""
        ask = self.prompts.render("final_prompt", question=ep.task.question)
        ep.messages.append(Message(role="user", content=ask, kind="prompt"))
        # a trained forced answer is sampled like every trained turn; an untrained one is greedy
        cfg = self.config
        params = GenerationParams(
            max_tokens=cfg.final_max_tokens,
            temperature=cfg.temperature if cfg.train_forced_answer else 0.0,
            top_p=cfg.top_p if cfg.train_forced_answer else 1.0,
            seed=ep.seed,
            sampled_tokens=self.sampled_tokens,
        )
        started = time.monotonic()
        result = await self.model.agenerate([m.to_chat() for m in ep.messages], params)
        ep.stats.model_time_s += time.monotonic() - started
        ep.model_requests += 1
        ep.stats.prompt_tokens += result.prompt_tokens or 0
        ep.stats.completion_tokens += result.completion_tokens or 0
        ep.messages.append(
            Message(
                role="assistant",
                content=result.text if self.verbatim else result.text.strip(),
                kind="final",
                train=self.config.train_forced_answer,
                tokens=_sampled(result.completions[0]),
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
    start_mode: str | None = None
    """How the step's start was given: continued, instructed, or None (no start)."""
    start_followed: bool = True
    """Whether the reply begins with the start (always, when it was continued)."""
    tokens: SampledTokens | None = None
    """The sampled token ids of the reply (``verbatim`` with a backend that returns them)."""


def _sampled(completion: Any) -> SampledTokens | None:
    """The completion's sampled tokens as stored in a trajectory (None when it has none)."""
    if completion.token_ids is None:
        return None
    return SampledTokens(
        ids=completion.token_ids, logprobs=completion.token_logprobs, finish_reason=completion.finish_reason
    )


def parse_verdict(text: str) -> _Verdict:
    """The teacher's check: ``MISTAKE: <reason>`` is a mistake with that reason; anything else (``OK``,
    or a reply in neither form) accepts the step."""
    m = _VERDICT.match(text.strip())
    if m is None or m.group(1).upper() != "MISTAKE":
        return _Verdict(True)
    reason = m.group(2).strip().splitlines()[0].strip() if m.group(2).strip() else ""
    return _Verdict(False, _clip(reason) or "the teacher found a mistake in this step")


def _with_start(reply: str, start: str, *, continued: bool) -> tuple[str, bool]:
    """The full step text and whether it begins with ``start``.

    A continuation is ``start`` + reply, unless the reply itself opens with the start's head word (a
    server that silently ignored the partial message and wrote a new one); then, as for an instructed
    start, the reply must begin with ``start`` (spacing aside) to count as following it.
    """
    if not start:
        return reply, True
    head = start.split(":", 1)[0] + ":" if ":" in start else None
    if continued and not (head and reply.lstrip().startswith(head)):
        return start + reply, True
    rest = _after(reply, start)
    if rest is None:
        return reply, False
    return start + (rest.lstrip() if start[-1:].isspace() else rest), True


def _after(text: str, start: str) -> str | None:
    """The rest of ``text`` after a leading copy of ``start`` whose whitespace may differ, else None."""
    i, body = 0, text.lstrip()
    for ch in start.strip():
        if ch.isspace():
            continue
        while i < len(body) and body[i].isspace():
            i += 1
        if i >= len(body) or body[i] != ch:
            return None
        i += 1
    return body[i:]


def _clip(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= _REASON_CHARS else text[: _REASON_CHARS - 3] + "..."


def _output(r: ExecResult) -> str:
    value = getattr(r, "value", None)
    out = r.stdout
    if value is not None and not r.is_final:
        out = f"{out}{'' if not out or out.endswith(chr(10)) else chr(10)}{value}"
    return out.rstrip("\n")


def _fresh(tool: Any) -> Any:
    return tool.new_episode() if hasattr(tool, "new_episode") else tool
