"""``hf:`` backend: a local transformers model, with requests from concurrent callers batched together.

Concurrent ``agenerate`` calls (e.g. many agent episodes in flight) are queued and run as one padded
``model.generate`` batch per compatible group (same sampling settings), up to ``max_batch_size``
conversations. Stop strings use transformers' ``StopStringCriteria``; log-probabilities are recorded
by a logits processor: their mean per sample from the raw logits (as vLLM reports them by default), and,
with ``sampled_tokens``, each sampled token's log-probability after temperature scaling (what TRL
recomputes when it trains on the sample).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import threading
import weakref
from pathlib import Path
from typing import Any

from agentdistill.models.base import (
    ChatModel,
    ChatResult,
    Completion,
    GenerationParams,
    ModelInputError,
    ModelUnavailableError,
    truncate_at_stop,
)


def pick_device() -> str:
    """cuda if present, else Apple's mps, else cpu."""
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def pick_dtype(device: str) -> Any:
    """bf16 on GPUs that have it (else fp16), fp16 on mps, fp32 on CPU (fastest and exact there)."""
    import torch

    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device == "mps":
        return torch.float16
    return torch.float32


@dataclasses.dataclass
class _Pending:
    conversation: list[dict[str, str]]
    params: GenerationParams
    continue_final: bool
    future: asyncio.Future


class _LogprobRecorder:
    """Logits processor that records the log-probability of each sampled token.

    At step t it sees the token chosen at step t-1 (the last input id) and the raw distribution it was
    drawn from (kept from step t-1); :meth:`finish` adds the last step. With ``temperature`` it also keeps
    the log-probabilities under the temperature-scaled distribution (``scaled``).
    """

    def __init__(self, temperature: float | None = None) -> None:
        self.temperature = temperature
        self.prev = self.prev_scaled = None
        self.chosen: list[Any] = []
        self.chosen_scaled: list[Any] = []

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        if self.prev is not None:
            self._keep(input_ids[:, -1:])
        self.prev = torch.log_softmax(scores.float(), dim=-1)
        if self.temperature:
            self.prev_scaled = torch.log_softmax(scores.float() / self.temperature, dim=-1)
        return scores

    def _keep(self, last: Any) -> None:
        self.chosen.append(self.prev.gather(1, last).squeeze(1))
        if self.prev_scaled is not None:
            self.chosen_scaled.append(self.prev_scaled.gather(1, last).squeeze(1))

    def finish(self, sequences: Any) -> tuple[Any, Any]:
        """(raw, temperature-scaled) log-probabilities per row and generated position (None if none)."""
        import torch

        if self.prev is not None:
            self._keep(sequences[:, -1:])
        raw = torch.stack(self.chosen, dim=1) if self.chosen else None
        scaled = torch.stack(self.chosen_scaled, dim=1) if self.chosen_scaled else raw
        return raw, scaled


class HFChatModel(ChatModel):
    """A transformers causal LM with a chat template.

    ``path`` is a local directory or a Hugging Face Hub id. ``device``/``dtype`` default to the best
    available (see :func:`pick_device`, :func:`pick_dtype`).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        device: str | None = None,
        dtype: Any = None,
        max_batch_size: int = 8,
        name: str | None = None,
        trust_remote_code: bool = False,
    ) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.path = str(path)
        self.name = name or f"hf:{self.path}"
        self.device = device or pick_device()
        if isinstance(dtype, str):
            dtype = getattr(torch, dtype)
        self.dtype = dtype or pick_dtype(self.device)
        self.max_batch_size = max_batch_size
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(self.path, trust_remote_code=trust_remote_code)
            model = AutoModelForCausalLM.from_pretrained(
                self.path, dtype=self.dtype, trust_remote_code=trust_remote_code
            )
        except OSError as e:
            where = "local directory" if Path(self.path).exists() else "Hugging Face Hub id (offline?)"
            raise ModelUnavailableError(f"could not load hf model {self.path!r} as a {where}: {e}") from None
        self._setup(model.to(self.device).eval())

    @classmethod
    def from_loaded(cls, model: Any, tokenizer: Any, *, name: str, max_batch_size: int = 8) -> HFChatModel:
        """A chat model over weights already in memory (the policy being trained by ``agentdistill rl``):
        nothing is loaded or copied, so every request samples from the current weights. The caller keeps
        the model in eval mode while it generates."""
        self = cls.__new__(cls)
        self.path, self.name, self.max_batch_size = getattr(model, "name_or_path", ""), name, max_batch_size
        self.tokenizer = tokenizer
        param = next(model.parameters())
        self.device, self.dtype = str(param.device), param.dtype
        self._setup(model)
        return self

    supports_sampled_tokens = True

    def _setup(self, model: Any) -> None:
        self.model = model
        if not self.tokenizer.chat_template:
            raise ModelInputError(
                f"{self.path} has no chat template; use an instruct/chat model or add chat_template.jinja"
            )
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        eos = self.model.generation_config.eos_token_id
        eos = eos if isinstance(eos, list) else [eos]
        self._eos = {e for e in [*eos, self.tokenizer.eos_token_id] if e is not None}
        self._gen_lock = threading.Lock()
        self._stop_cache: dict[tuple[str, ...], Any] = {}
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[_Pending]] = (
            weakref.WeakKeyDictionary()
        )
        self._workers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Task] = (
            weakref.WeakKeyDictionary()
        )

    # -- async API: queue, then batch ------------------------------------------------------------

    async def _agenerate_batch(
        self, conversations: list[list[dict[str, str]]], params: GenerationParams, continue_final: bool
    ) -> list[ChatResult]:
        loop = asyncio.get_running_loop()
        queue = self._queues.setdefault(loop, [])
        items = [_Pending(c, params, continue_final, loop.create_future()) for c in conversations]
        queue.extend(items)
        worker = self._workers.get(loop)
        if worker is None or worker.done():
            self._workers[loop] = loop.create_task(self._drain(queue))
        return list(await asyncio.gather(*(it.future for it in items)))

    async def _drain(self, queue: list[_Pending]) -> None:
        while queue:
            await asyncio.sleep(0)  # let callers scheduled in the same tick join this batch
            key = (queue[0].params, queue[0].continue_final)
            batch = [it for it in queue if (it.params, it.continue_final) == key][: self.max_batch_size]
            for it in batch:
                queue.remove(it)
            try:
                results = await asyncio.to_thread(
                    self.generate_now, [it.conversation for it in batch], key[0], key[1]
                )
            except BaseException as e:  # delivered to every waiting caller
                for it in batch:
                    if not it.future.done():
                        it.future.set_exception(e)
                if not isinstance(e, Exception):
                    raise
                continue
            for it, res in zip(batch, results, strict=True):
                if not it.future.done():
                    it.future.set_result(res)

    # -- the actual batched generation -----------------------------------------------------------

    def render(self, conversation: list[dict[str, str]], continue_final: bool = False) -> str:
        """The prompt text the model sees (chat template applied)."""
        return self.tokenizer.apply_chat_template(
            conversation,
            tokenize=False,
            add_generation_prompt=not continue_final,
            continue_final_message=continue_final,
        )

    def generate_now(
        self, conversations: list[list[dict[str, str]]], params: GenerationParams, continue_final: bool
    ) -> list[ChatResult]:
        """Generate for all conversations in one padded batch (blocking; thread-safe)."""
        import torch
        from transformers import LogitsProcessorList, StoppingCriteriaList

        tok = self.tokenizer
        texts = [self.render(c, continue_final) for c in conversations]
        enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)
        sample = params.temperature > 0
        per_prompt = params.n if sample else 1  # greedy samples are identical: decode once
        kwargs: dict[str, Any] = {
            "max_new_tokens": params.max_tokens,
            "num_return_sequences": per_prompt,
            "do_sample": sample,
            "pad_token_id": tok.pad_token_id,
            "eos_token_id": sorted(self._eos),
            "top_k": None,
            "temperature": params.temperature if sample else None,
            "top_p": params.top_p if sample else None,
            "return_dict_in_generate": True,
            "use_cache": True,  # a policy in training may have it off (gradient checkpointing)
        }
        if params.stop:
            kwargs["stopping_criteria"] = StoppingCriteriaList([self._stop_criteria(params.stop)])
        wants_logprobs = params.logprobs or params.sampled_tokens
        recorder = _LogprobRecorder(params.temperature if sample else 1.0) if wants_logprobs else None
        if recorder:
            kwargs["logits_processor"] = LogitsProcessorList([recorder])
        with self._gen_lock, torch.inference_mode(), _seeded(params.seed, self.device):
            out = self.model.generate(**enc, **kwargs)
        prompt_len = enc["input_ids"].shape[1]
        generated = out.sequences[:, prompt_len:].tolist()
        logprobs = recorder.finish(out.sequences) if recorder else (None, None)

        results = []
        for i in range(len(conversations)):
            completions = []
            for j in range(per_prompt):
                row = i * per_prompt + j
                completions.append(self._completion(generated[row], params, logprobs, row))
            if per_prompt < params.n:
                completions = [dataclasses.replace(completions[0]) for _ in range(params.n)]
            prompt_tokens = int(enc["attention_mask"][i].sum())
            results.append(ChatResult(completions, model=self.name, prompt_tokens=prompt_tokens))
        return results

    def _stop_criteria(self, stop: tuple[str, ...]) -> Any:
        """transformers' StopStringCriteria for ``stop``, built once: building it scans the whole
        vocabulary (about half a second), which would otherwise be paid on every step."""
        from transformers.generation.stopping_criteria import StopStringCriteria

        if stop not in self._stop_cache:
            self._stop_cache[stop] = StopStringCriteria(self.tokenizer, list(stop))
        return self._stop_cache[stop]

    def _completion(self, ids: list[int], params: GenerationParams, logprobs: Any, row: int) -> Completion:
        if params.sampled_tokens:
            return self._sampled_completion(ids, params, logprobs[1], row)
        logprobs = logprobs[0]
        pad = self.tokenizer.pad_token_id
        end, hit_eos = len(ids), False
        for k, t in enumerate(ids):
            if t in self._eos or t == pad:
                end, hit_eos = k, t in self._eos
                break
        text = self.tokenizer.decode(ids[:end], skip_special_tokens=True)
        text, hit_stop = truncate_at_stop(text, params.stop)
        tokens = end + (1 if hit_eos and not hit_stop else 0)
        mean_lp = None
        if logprobs is not None and tokens:
            mean_lp = float(logprobs[row, : min(tokens, logprobs.shape[1])].mean())
        return Completion(
            text=text,
            finish_reason="stop" if (hit_eos or hit_stop) else "length",
            tokens=tokens,
            mean_logprob=mean_lp,
        )

    def _sampled_completion(
        self, ids: list[int], params: GenerationParams, logprobs: Any, row: int
    ) -> Completion:
        """The sample as the model drew it: up to and including a sampled end-of-turn token, or up to the
        token that completed a stop string (a finished row of the batch is padded after that)."""
        tok = self.tokenizer
        end = next((k for k, t in enumerate(ids) if t in self._eos), len(ids))
        finish = "stop" if end < len(ids) else "length"
        kept = ids[: end + 1] if end < len(ids) else ids

        def stopped(k: int) -> bool:
            return truncate_at_stop(tok.decode(ids[:k], skip_special_tokens=True), params.stop)[1]

        if params.stop and stopped(end):
            low, high = 1, end  # the shortest prefix holding a stop string (holding one is monotone in k)
            while low < high:
                mid = (low + high) // 2
                low, high = (low, mid) if stopped(mid) else (mid + 1, high)
            kept, finish = ids[:low], "stop"
        lps = [float(x) for x in logprobs[row, : len(kept)].tolist()] if logprobs is not None else None
        return Completion(
            text=tok.decode(kept, skip_special_tokens=True),
            finish_reason=finish,
            tokens=len(kept),
            mean_logprob=sum(lps) / len(lps) if lps else None,
            token_ids=list(kept),
            token_logprobs=lps,
        )

    async def aclose(self) -> None:
        self._queues.clear()


@contextlib.contextmanager
def _seeded(seed: int | None, device: str):
    """Seed sampling for this call only, leaving the global RNG state as it was."""
    if seed is None:
        yield
        return
    import torch

    devices = [torch.cuda.current_device()] if device.startswith("cuda") else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def load_hf_model(spec: Any, **options: Any) -> HFChatModel:
    """Loader of spec kind ``hf``: ``hf:<local path or hub id>`` in this process."""
    return HFChatModel(spec.target, **options)
