"""Real models for the backend tests: the packaged default, loaded once per session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def default_model():
    from agentdistill.models import load_chat_model

    return load_chat_model("default")


COUNTING = [{"role": "user", "content": "Count from 1 to 20, separated by commas."}]
