"""A local stand-in for the Anthropic and OpenAI APIs, for tests and practice.

The server speaks the real wire formats of the Anthropic Messages API
(`POST /v1/messages`, `POST /v1/messages/count_tokens`, `GET /v1/models`)
and of the OpenAI Chat Completions API (`POST /v1/chat/completions`,
`GET /v1/models`), so the official Python SDKs talk to it unchanged:

    ANTHROPIC_BASE_URL=http://127.0.0.1:PORT
    OPENAI_BASE_URL=http://127.0.0.1:PORT/v1

It is not a model. Its answers are recorded: every file in
`replies/*.json` (beside this package's modules) holds a list of
`{"prompt": ..., "system": ... (optional), "reply": ...}`, and the server
answers the text of the last user message with the recorded reply. A
recording with a "system" matches only that system prompt and wins over one
without; one with a "context" (a string) matches only when an earlier
message of the conversation contains it, and wins over one without. A
prompt nobody recorded gets a clearly labelled stand-in answer.
Token counts are an estimate (words cut into pieces of up to four letters),
not a real tokenizer.

A recording may also ask for tool calls: with `"tool_use": {"name": ...,
"input": {...}}` (or a list of them) the server answers a request that
offers those tools with the calls (after an optional "preamble" text), and
answers the follow-up that carries the results with "reply", where
`{result}` stands for all results joined by "; " and `{result0}`,
`{result1}`... for each one.

Tests can script failures (`server.fail_next(2, status=429)`), slow answers
(`server.delay = 1.0`) and count what arrived (`server.requests`).

    python -m genai.llm_api.fake_server           # a short demo with both SDKs
    python -m genai.llm_api.fake_server --serve   # keep running on port 8765
    python -m genai.llm_api.fake_server --serve --port 9000

Only the standard library is needed (the installed `anthropic` and `openai`
packages, when present, tell the server which model names exist).
"""

import importlib

# What `from genai.llm_api.fake_server import X` gives, and the module that
# holds it. Imported on first use, so that `python -m
# genai.llm_api.fake_server.<module>` runs a module that is not loaded yet.
_EXPORTS = {
    "REPLIES_DIR": "recordings", "FakeServerError": "recordings",
    "estimate_tokens": "recordings", "load_replies": "recordings",
    "pieces": "recordings",
    "ENV_VARS": "server", "FAKE_API_KEY": "server", "FALLBACK": "server",
    "FakeLLMServer": "server", "known_models": "server",
    "live_api": "server", "unless_api_key": "server",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"),
                   name)
