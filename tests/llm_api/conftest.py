"""Shared by the LLM API chapter's tests: a fake server of each test's own,
with a few recordings of its own, so scripted failures reach no other test."""

from __future__ import annotations

import pytest

from genai.llm_api.fake_server import FakeLLMServer

RECORDINGS = [
    {"prompt": "What is generative AI?", "reply": "Models that make things."},
    {"prompt": "What is generative AI?", "system": "Answer like a pirate.",
     "reply": "Arr, models that make things."},
    {"prompt": "What is the weather in Paris?", "preamble": "Let me look.",
     "tool_use": {"name": "get_weather", "input": {"city": "Paris"}},
     "reply": "In Paris it is {result}."},
]


@pytest.fixture
def recordings():
    return RECORDINGS


@pytest.fixture
def server():
    with FakeLLMServer(replies=RECORDINGS) as fake:
        yield fake
