from __future__ import annotations

import pytest

from assist.assistant import Assistant, AssistOptions


@pytest.fixture(scope="session")
def assistant() -> Assistant:
    """The shipped catalog, rules and articles with the real MiniLM model (loaded once)."""
    return Assistant.load(AssistOptions())


@pytest.fixture(scope="session")
def keyword_assistant() -> Assistant:
    """The same without embeddings: what runs where the model is not installed."""
    return Assistant.load(AssistOptions(embeddings_model="none"))
