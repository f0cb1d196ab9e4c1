"""Real models for the backend tests: the packaged default, loaded once per session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def default_model():
    from agentdistill.models import load_chat_model

    return load_chat_model("default")


COUNTING = [{"role": "user", "content": "Count from 1 to 20, separated by commas."}]


def forward_logprobs(hf_model, messages, ids, temperature=1.0):
    """Teacher-forced log-probabilities of ``ids`` after the rendered ``messages`` (what a trainer computes)."""
    import torch

    tok = hf_model.tokenizer
    prompt = tok(hf_model.render(messages), add_special_tokens=False).input_ids
    seq = torch.tensor([prompt + list(ids)])
    with torch.no_grad():
        logits = hf_model.model(seq).logits[0, len(prompt) - 1 : -1].float() / temperature
    return torch.log_softmax(logits, -1).gather(1, torch.tensor(ids)[:, None]).squeeze(1).tolist()
