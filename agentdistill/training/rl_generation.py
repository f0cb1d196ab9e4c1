"""Where GRPO rollouts generate, always from the current policy:

* in this process (default): the policy being trained, through the ``hf:`` backend's batching
  (:meth:`~agentdistill.models.hf.HFChatModel.from_loaded`), unwrapped from DDP/FSDP/ZeRO-3 as TRL does;
* a managed vLLM (``student.serve``) of the starting model, kept on the policy before each step, so the
  rollouts of step N sample from the weights of step N. ``weight_sync: reload`` (default): the policy's weights
  (a LoRA adapter merged in) are written once per step and reloaded in place (vLLM's ``reload_weights``
  through its development API, then the prefix cache is reset); the server runs the plain model at full
  speed. ``weight_sync: lora``: the server runs with ``--enable-lora`` and the adapter is hot-loaded
  (``/v1/load_lora_adapter``); on CPU its LoRA kernels made rollouts about 10x slower. Both work with the
  CPU build of vLLM, and both serve with ``--logprobs-mode processed_logprobs`` (the sampling distribution
  TRL's importance-sampling correction compares with);
* a ``trl vllm-serve`` server (``vllm_server``): TRL pushes the full weights to it before each step (NCCL, GPUs)
  and the rollouts use its OpenAI-compatible API.

Each is a factory ``trainer -> context manager yielding a ChatModel`` called once per generation batch.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from agentdistill.errors import AgentDistillError

ADAPTERS_DIR = ".policy-adapters"
"""Folder of ``output_dir`` holding the adapter the managed server serves (removed at the end)."""
WEIGHTS_DIR = ".policy-weights"
"""Folder of ``output_dir`` holding the weights the managed server reloads (removed at the end)."""
_SERVER_ARGS = ("--logprobs-mode", "processed_logprobs")


@contextlib.contextmanager
def in_process_policy(trainer: Any, cache: dict[int, Any], max_batch_size: int) -> Iterator[Any]:
    """The policy being trained as a ChatModel, in eval mode for the rollouts, back in train mode after."""
    from trl.models.utils import unwrap_model_for_generation

    from agentdistill.models.hf import HFChatModel

    with unwrap_model_for_generation(trainer.model_wrapped, trainer.accelerator) as unwrapped:
        was_training = unwrapped.training
        unwrapped.eval()
        try:
            if id(unwrapped) not in cache:
                cache.clear()
                cache[id(unwrapped)] = HFChatModel.from_loaded(
                    unwrapped, trainer.processing_class, name="policy", max_batch_size=max_batch_size
                )
            yield cache[id(unwrapped)]
        finally:
            unwrapped.train(was_training)


class ServedLoRAPolicy:
    """A managed vLLM server of the starting model that serves the current LoRA adapter of the policy."""

    def __init__(self, model_path: str, cfg: Any, out_dir: Path) -> None:
        from agentdistill.models.config import ServeConfig
        from agentdistill.models.serve import VLLMServer

        serve = cfg.student.serve or ServeConfig()
        extra = [
            *serve.extra_args,
            *_SERVER_ARGS,
            "--enable-lora",
            "--max-lora-rank",
            str(_vllm_rank(cfg.lora_r)),
            "--max-loras",
            "2",
        ]
        os.environ["VLLM_ALLOW_RUNTIME_LORA_UPDATING"] = "True"  # the server inherits it
        self.server = VLLMServer(
            model_path,
            served_name="base",
            port=serve.port,
            max_model_len=serve.max_model_len,
            extra_args=extra,
            startup_timeout_s=serve.startup_timeout_s,
        )
        self.cfg = cfg
        self.dir = out_dir / ADAPTERS_DIR
        self.loaded: tuple[int, str] | None = None  # (step, adapter name)

    def start(self) -> ServedLoRAPolicy:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def sync(self, trainer: Any) -> str:
        """Save the policy's adapter and make the server serve it (once per step); returns its name."""
        step = int(trainer.state.global_step)
        if self.loaded is not None and self.loaded[0] == step:
            return self.loaded[1]
        name = f"policy-step-{step}"
        folder = self.dir / name
        trainer.accelerator.unwrap_model(trainer.model).save_pretrained(str(folder))
        _post(self.server.base_url + "/load_lora_adapter", {"lora_name": name, "lora_path": str(folder)})
        if self.loaded is not None:
            _post(self.server.base_url + "/unload_lora_adapter", {"lora_name": self.loaded[1]})
            shutil.rmtree(self.dir / self.loaded[1], ignore_errors=True)
        self.loaded = (step, name)
        return name

    @contextlib.contextmanager
    def __call__(self, trainer: Any) -> Iterator[Any]:
        from agentdistill.models.base import run_sync
        from agentdistill.models.openai_compat import OpenAIChatModel

        model = OpenAIChatModel(
            self.sync(trainer), self.server.base_url, max_concurrency=self.cfg.concurrency
        )
        try:
            yield model
        finally:
            run_sync(model.aclose())


class ServedReloadedPolicy:
    """A managed vLLM server of the starting model whose weights are replaced by the policy's every step."""

    def __init__(self, model_path: str, cfg: Any, out_dir: Path) -> None:
        from agentdistill.models.config import ServeConfig
        from agentdistill.models.serve import VLLMServer

        serve = cfg.student.serve or ServeConfig()
        os.environ["VLLM_SERVER_DEV_MODE"] = (
            "1"  # /collective_rpc and /reset_prefix_cache; the server inherits it
        )
        self.server = VLLMServer(
            model_path,
            served_name="policy",
            port=serve.port,
            max_model_len=serve.max_model_len,
            extra_args=[*serve.extra_args, *_SERVER_ARGS],
            startup_timeout_s=serve.startup_timeout_s,
        )
        self.cfg = cfg
        self.dir = out_dir / WEIGHTS_DIR
        self.loaded_step = 0  # the server starts with the starting weights: the policy of step 0

    def start(self) -> ServedReloadedPolicy:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def sync(self, trainer: Any) -> None:
        """Write the policy's weights and reload them into the server (once per step)."""
        step = int(trainer.state.global_step)
        if step == self.loaded_step:
            return
        from safetensors.torch import save_file

        self.dir.mkdir(parents=True, exist_ok=True)
        save_file(
            policy_state_dict(trainer.accelerator.unwrap_model(trainer.model)),
            str(self.dir / "model.safetensors"),
        )
        _post(
            self.server.base_url.removesuffix("/v1") + "/collective_rpc",
            {"method": "reload_weights", "kwargs": {"weights_path": str(self.dir)}},
        )
        _post(
            self.server.base_url.removesuffix("/v1") + "/reset_prefix_cache"
        )  # cached prefixes were computed with the old weights
        self.loaded_step = step

    @contextlib.contextmanager
    def __call__(self, trainer: Any) -> Iterator[Any]:
        from agentdistill.models.base import run_sync
        from agentdistill.models.openai_compat import OpenAIChatModel

        self.sync(trainer)
        model = OpenAIChatModel("policy", self.server.base_url, max_concurrency=self.cfg.concurrency)
        try:
            yield model
        finally:
            run_sync(model.aclose())


def _post(url: str, body: dict[str, Any] | None = None) -> None:
    """POST to a managed server's control endpoint; anything but 200 is an error naming the endpoint."""
    import httpx

    r = httpx.post(url, json=body, timeout=600)
    if r.status_code != 200:
        raise AgentDistillError(f"rl: {url} answered {r.status_code}: {r.text[:300]}")


def policy_state_dict(model: Any) -> dict[str, Any]:
    """The policy's weights under the base model's checkpoint names, a LoRA adapter merged in (the model
    itself is left as it was)."""
    from peft import PeftModel

    def plain(items: Any, prefix: str = "") -> dict[str, Any]:
        return {
            k.removeprefix(prefix).replace(".base_layer.", "."): v.detach().clone().contiguous()
            for k, v in items
            if "lora_" not in k
        }

    if not isinstance(model, PeftModel):
        return plain(model.state_dict().items())
    model.merge_adapter()
    try:
        return plain(model.state_dict().items(), "base_model.model.")
    finally:
        model.unmerge_adapter()


SERVED_POLICIES = {"reload": ServedReloadedPolicy, "lora": ServedLoRAPolicy}
"""``RLConfig.weight_sync`` -> the managed server that follows the policy that way."""


def _vllm_rank(r: int) -> int:
    """vLLM accepts LoRA ranks from a fixed set; the smallest one that holds ``r``."""
    for allowed in (8, 16, 32, 64, 128, 256, 320, 512):
        if r <= allowed:
            return allowed
    raise AgentDistillError(f"rl: lora_r {r} is larger than vLLM serves (512)")


def trl_server_policy(cfg: Any) -> Callable[[Any], Any]:
    """Rollouts through a ``trl vllm-serve`` server's OpenAI-compatible API (TRL syncs its weights)."""
    from agentdistill.models.loading import load_chat_model

    base = cfg.vllm_server.rstrip("/") + "/v1"
    model = load_chat_model(
        f"openai:{cfg.vllm_model or served_model(base)}@{base}", max_concurrency=cfg.concurrency
    )

    @contextlib.contextmanager
    def served(trainer: Any) -> Iterator[Any]:
        yield model  # TRL pushed the weights of this step before calling the rollout

    return served


def served_model(base_url: str) -> str:
    """The first model a server lists at ``/models``."""
    import httpx

    try:
        models = httpx.get(f"{base_url}/models", timeout=10).json()["data"]
    except Exception as e:
        raise AgentDistillError(f"rl: could not ask {base_url}/models which model it serves: {e}") from None
    if not models:
        raise AgentDistillError(f"rl: {base_url} serves no model")
    return str(models[0]["id"])
