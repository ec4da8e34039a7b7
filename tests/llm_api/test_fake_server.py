"""The fake LLM API server (genai.llm_api.fake_server): it answers from its
recordings in the real wire formats of both APIs, JSON and streamed, and
its recordings files are checked.

Each test starts its own FakeLLMServer (tests/llm_api/conftest.py), so
scripted failures never reach another test; the root conftest.py points the
SDKs' environment variables at a session-wide server for the pages.
"""

from __future__ import annotations

import json
import re

import pytest

from genai.llm_api.calls import (ANTHROPIC_MODEL, OPENAI_MODEL, PRICES, WEATHER_TOOL,
                                 UnknownPriceError, estimate_cost, get_weather, run_with_tools)
from genai.llm_api.fake_server import (FALLBACK, REPLIES_DIR, FakeLLMServer, FakeServerError,
                                       estimate_tokens, load_replies, pieces)
from support import claude, gpt, raw_post

USER = [{"role": "user", "content": "What is generative AI?"}]
OPENAI_WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": WEATHER_TOOL["description"],
    "parameters": WEATHER_TOOL["input_schema"]}}

# ---------------------------------------------------------------------------
# Replies
# ---------------------------------------------------------------------------
def test_anthropic_message_has_the_real_shape(server):
    message = claude(server).messages.create(
        model=ANTHROPIC_MODEL, max_tokens=100, messages=USER)
    assert message.type == "message" and message.role == "assistant"
    assert message.id.startswith("msg_") and message.model == ANTHROPIC_MODEL
    assert [b.type for b in message.content] == ["text"]
    assert message.content[0].text == "Models that make things."
    assert message.stop_reason == "end_turn"
    assert message.usage.output_tokens == estimate_tokens(
        "Models that make things.")
    assert message.usage.input_tokens > 0


def test_a_system_prompt_selects_its_own_recording(server):
    client = claude(server)
    pirate = client.messages.create(model=ANTHROPIC_MODEL, max_tokens=100,
                                    system="Answer like a pirate.",
                                    messages=USER)
    other = client.messages.create(model=ANTHROPIC_MODEL, max_tokens=100,
                                   system="Be brief.", messages=USER)
    assert pirate.content[0].text == "Arr, models that make things."
    assert other.content[0].text == "Models that make things."
    completion = gpt(server).chat.completions.create(
        model=OPENAI_MODEL, messages=[
            {"role": "system", "content": "Answer like a pirate."}, *USER])
    assert completion.choices[0].message.content == pirate.content[0].text


def test_an_unknown_prompt_is_an_error_never_an_answer(server):
    """No text that could pass for a model's: a 404 that says what is
    recorded, in each API's error shape (an app then stops with it)."""
    import anthropic
    import openai

    with pytest.raises(anthropic.NotFoundError) as error:
        claude(server).messages.create(model=ANTHROPIC_MODEL, max_tokens=200,
                                       messages=[{"role": "user", "content": "Tell me a joke"}])
    assert error.value.body["error"]["message"] == FALLBACK.format(prompt="Tell me a joke")
    with pytest.raises(openai.NotFoundError, match="No recorded reply"):
        gpt(server).chat.completions.create(model=OPENAI_MODEL, stream=True,
                                            messages=[{"role": "user", "content": "Tell me a joke"}])


def test_the_same_request_gets_the_same_answer(server):
    client = claude(server)
    first, second = (client.messages.create(
        model=ANTHROPIC_MODEL, max_tokens=100, messages=USER)
        for _ in range(2))
    assert first.to_dict() == second.to_dict()


def test_max_tokens_cuts_the_reply(server):
    message = claude(server).messages.create(
        model=ANTHROPIC_MODEL, max_tokens=2, messages=USER)
    assert message.stop_reason == "max_tokens"
    assert message.content[0].text == "".join(
        pieces("Models that make things.")[:2])
    completion = gpt(server).chat.completions.create(
        model=OPENAI_MODEL, max_completion_tokens=2, messages=USER)
    assert completion.choices[0].finish_reason == "length"


def test_openai_completion_has_the_real_shape(server):
    completion = gpt(server).chat.completions.create(
        model=OPENAI_MODEL, messages=USER)
    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-")
    choice = completion.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == "Models that make things."
    assert choice.finish_reason == "stop"
    usage = completion.usage
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_pieces_rebuild_the_text():
    text = "Hello, world!  Generative models: 42 °C.\n"
    assert "".join(pieces(text)) == text
    assert estimate_tokens("generative") == 3  # gene|rati|ve


def test_count_tokens_and_model_lists(server):
    client = claude(server)
    count = client.messages.count_tokens(model=ANTHROPIC_MODEL,
                                         messages=USER)
    sent = client.messages.create(model=ANTHROPIC_MODEL, max_tokens=50,
                                  messages=USER)
    assert count.input_tokens == sent.usage.input_tokens
    assert ANTHROPIC_MODEL in [m.id for m in client.models.list()]
    assert OPENAI_MODEL in [m.id for m in gpt(server).models.list()]


# ---------------------------------------------------------------------------
# Streaming
# ---------------------------------------------------------------------------
def test_anthropic_stream_sends_the_events_in_order(server):
    status, text = raw_post(
        server.anthropic_url + "/v1/messages",
        {"model": ANTHROPIC_MODEL, "max_tokens": 100, "messages": USER,
         "stream": True},
        {"x-api-key": server.api_key, "anthropic-version": "2023-06-01",
         "content-type": "application/json"})
    assert status == 200
    events = re.findall(r"^event: (\w+)$", text, flags=re.M)
    deltas = events.count("content_block_delta")
    assert deltas >= 2
    assert events == ["message_start", "content_block_start", "ping",
                      *["content_block_delta"] * deltas,
                      "content_block_stop", "message_delta", "message_stop"]


def test_anthropic_text_stream_matches_the_whole_reply(server):
    client = claude(server)
    with client.messages.stream(model=ANTHROPIC_MODEL, max_tokens=100,
                                messages=USER) as stream:
        parts = list(stream.text_stream)
        final = stream.get_final_message()
    assert len(parts) > 1
    assert "".join(parts) == final.content[0].text == "Models that make things."
    whole = client.messages.create(model=ANTHROPIC_MODEL, max_tokens=100,
                                   messages=USER)
    assert final.usage.output_tokens == whole.usage.output_tokens
    assert final.stop_reason == "end_turn"


def test_openai_stream_ends_with_done_and_usage(server):
    stream = gpt(server).chat.completions.create(
        model=OPENAI_MODEL, messages=USER, stream=True,
        stream_options={"include_usage": True})
    chunks = list(stream)  # iteration stops at `data: [DONE]`
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks
                   if c.choices)
    assert text == "Models that make things."
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens > 0


# ---------------------------------------------------------------------------
# Recordings, prices
# ---------------------------------------------------------------------------
def test_every_recordings_file_is_valid():
    recordings = load_replies(REPLIES_DIR)
    assert any(r["prompt"] == "What is generative AI?" for r in recordings)
    for path in sorted(REPLIES_DIR.glob("*.json")):
        items = json.loads(path.read_text(encoding="utf-8"))
        keys = [(r["prompt"], r.get("system"), r.get("context"))
                for r in items]
        duplicates = {k for k in keys if keys.count(k) > 1}
        assert not duplicates, f"{path.name} records twice: {duplicates}"


def test_a_context_recording_needs_its_context_in_the_history():
    recordings = [
        {"prompt": "Why?", "reply": "Why what?"},
        {"prompt": "Why?", "context": "Dewey", "reply": "Because of Dewey."},
        {"prompt": "Why?", "context": "Dewey", "system": "Be short.",
         "reply": "Dewey."},
    ]
    with FakeLLMServer(replies=recordings) as fake:
        client = claude(fake)

        def ask(messages, **options):
            return client.messages.create(
                model=ANTHROPIC_MODEL, max_tokens=50, messages=messages,
                **options).content[0].text

        history = [{"role": "user", "content": "Name?"},
                   {"role": "assistant", "content": "Dewey"},
                   {"role": "user", "content": "Why?"}]
        assert ask(history[-1:]) == "Why what?"
        assert ask(history) == "Because of Dewey."
        assert ask(history, system="Be short.") == "Dewey."
        openai_history = [{"role": "system", "content": "Dewey"},
                          history[-1]]  # the system prompt is no history
        assert gpt(fake).chat.completions.create(
            model=OPENAI_MODEL, messages=openai_history
        ).choices[0].message.content == "Why what?"


def test_several_tool_calls_in_one_turn(server):
    client = claude(server)
    messages = [{"role": "user",
                 "content": "Is it warmer in Paris or in London?"}]
    recordings = load_replies(REPLIES_DIR)
    with FakeLLMServer(replies=recordings) as fake:
        final = run_with_tools(claude(fake), messages, [WEATHER_TOOL],
                               {"get_weather": get_weather})
        assert [b.input["city"] for b in messages[1]["content"]
                if b.type == "tool_use"] == ["Paris", "London"]
        assert final.content[0].text == (
            "Paris is warmer: 18 °C and sunny there, against 12 °C and "
            "light rain in London.")
        openai_messages = [dict(messages[0])]
        first = gpt(fake).chat.completions.create(
            model=OPENAI_MODEL, messages=openai_messages,
            tools=[OPENAI_WEATHER_TOOL])
        calls = first.choices[0].message.tool_calls
        openai_messages.append(
            first.choices[0].message.model_dump(exclude_none=True))
        for call in calls:
            openai_messages.append({
                "role": "tool", "tool_call_id": call.id,
                "content": get_weather(**json.loads(call.function.arguments))})
        final = gpt(fake).chat.completions.create(
            model=OPENAI_MODEL, messages=openai_messages,
            tools=[OPENAI_WEATHER_TOOL])
        assert len({c.id for c in calls}) == 2
        assert final.choices[0].message.content.startswith("Paris is warmer")
        assert claude(fake).messages.create(  # without the tool offered: plain text
            model=ANTHROPIC_MODEL, max_tokens=50,
            messages=messages[:1]).content[0].type == "text"


def test_bad_recordings_files_are_refused(tmp_path):
    (tmp_path / "a.json").write_text("[{")
    with pytest.raises(FakeServerError, match="a.json: not valid JSON"):
        load_replies(tmp_path)
    (tmp_path / "a.json").write_text('{"prompt": "x"}')
    with pytest.raises(FakeServerError, match="expected a JSON list"):
        load_replies(tmp_path)
    (tmp_path / "a.json").write_text('[{"prompt": "x"}]')
    with pytest.raises(FakeServerError, match="item 0: needs"):
        load_replies(tmp_path)
    (tmp_path / "a.json").write_text(
        '[{"prompt": "x", "reply": "y", "tool_use": {"input": {}}}]')
    with pytest.raises(FakeServerError, match="'tool_use' must be"):
        load_replies(tmp_path)


def test_estimated_cost_works_for_both_sdks(server):
    message = claude(server).messages.create(
        model=ANTHROPIC_MODEL, max_tokens=100, messages=USER)
    price_in, price_out = PRICES[ANTHROPIC_MODEL]
    assert estimate_cost(message.usage, ANTHROPIC_MODEL) == pytest.approx(
        (message.usage.input_tokens * price_in
         + message.usage.output_tokens * price_out) / 1e6)
    completion = gpt(server).chat.completions.create(
        model=OPENAI_MODEL, messages=USER)
    assert estimate_cost(completion.usage, OPENAI_MODEL) > 0
    with pytest.raises(UnknownPriceError, match="no example price for 'x'"):
        estimate_cost(message.usage, "x")


# ---------------------------------------------------------------------------
# Bad requests: an error body, never a hang or a crash
# ---------------------------------------------------------------------------
def raw_request(server, head: str, body: bytes = b"") -> tuple[int, dict]:
    """Send bytes as they are; (status, JSON body). Times out rather than hang."""
    import socket

    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(head.encode("latin-1") + b"\r\n\r\n" + body)   # header bytes as given
        data = b""
        while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < int(
                re.search(rb"content-length: (\d+)", data, re.I).group(1)):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    status = int(data.split(b" ", 2)[1])
    return status, json.loads(data.split(b"\r\n\r\n", 1)[1])


def headers(server, length) -> str:
    return (f"POST /v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: {server.api_key}\r\n"
            f"anthropic-version: 2023-06-01\r\ncontent-type: application/json\r\n"
            f"content-length: {length}")


@pytest.mark.parametrize("length, body, status, message", [
    ("abc", b"", 400, "Content-Length must be a whole number"),
    ("-5", b"{}", 400, "Content-Length must be a whole number"),
    ("99999999999999", b"{}", 413, "the body is over"),
    (None, b'{"model": "\xff\xfe"}', 400, "not valid JSON"),
    ("\u00b2", b"{}", 400, "Content-Length must be a whole number"),     # "\u00b2".isdigit()
    ("9" * 5000, b"{}", 400, "Content-Length must be a whole number"),
    (None, b"[" * 100_000 + b"]" * 100_000, 400, "not valid JSON"),   # RecursionError
    (None, b'{"model": "m", "max_tokens": ' + b"9" * 5000 + b', "messages": []}', 400,
     "not valid JSON"),                                                # over int's 4300 digits
])
def test_a_bad_body_gets_an_error_body_and_the_server_stays_up(server, length, body, status,
                                                                message):
    got, reply = raw_request(server, headers(server, len(body) if length is None else length),
                             body)
    assert got == status and message in reply["error"]["message"]
    assert claude(server).messages.create(model=ANTHROPIC_MODEL, max_tokens=50,
                                          messages=USER).content[0].text


@pytest.mark.parametrize("path, body", [
    ("/v1/messages", {"model": ANTHROPIC_MODEL, "max_tokens": 5, "messages": [1, "two"]}),
    ("/v1/chat/completions", {"model": OPENAI_MODEL, "messages": [1, "two"]}),
    ("/v1/chat/completions", {"model": OPENAI_MODEL, "messages": [{"content": "no role"}]}),
    ("/v1/chat/completions", {"model": OPENAI_MODEL, "messages": USER, "tools": "none"}),
    ("/v1/messages", {"model": ANTHROPIC_MODEL, "max_tokens": 5, "messages": USER, "tools": [1]}),
    ("/v1/chat/completions", {"model": OPENAI_MODEL, "messages": USER, "stream": True,
                              "stream_options": [1]}),
    ("/v1/chat/completions", {"model": OPENAI_MODEL, "messages": USER, "stream": True,
                              "stream_options": {"include_usage": "yes"}}),
])
def test_messages_that_are_not_objects_get_400(server, path, body):
    status, text = raw_post(server.anthropic_url + path, body,
                            {"x-api-key": server.api_key, "anthropic-version": "2023-06-01",
                             "authorization": f"Bearer {server.api_key}"})
    assert status == 400 and json.loads(text)["error"]["message"]


def test_a_stream_refused_is_refused_before_its_first_byte(server):
    """One response per request: a request refused for its stream options
    gets a plain 400, never a 400 written inside a 200 stream."""
    import socket

    body = json.dumps({"model": OPENAI_MODEL, "messages": USER, "stream": True,
                       "stream_options": [1]}).encode()
    head = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
            f"authorization: Bearer {server.api_key}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close")
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(head.encode() + b"\r\n\r\n" + body)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 400") and data.count(b"HTTP/1.1") == 1


def test_sixty_four_clients_at_once_all_get_answers(server):
    """The listen backlog holds them all (it was 5: ten of 32 were reset)."""
    import socket
    import threading

    answers, start = [], threading.Barrier(64)

    def client():
        start.wait()
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=20) as sock:
                sock.sendall(b"GET /v1/models HTTP/1.1\r\nHost: x\r\nconnection: close\r\n\r\n")
                answers.append(sock.recv(12))
        except OSError as error:
            answers.append(repr(error).encode())

    threads = [threading.Thread(target=client) for _ in range(64)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(answers) == 64 and all(answer.startswith(b"HTTP/1.1 ") for answer in answers), \
        [a for a in answers if not a.startswith(b"HTTP/1.1 ")][:3]


# ---------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("argv, message", [
    (["--port", "abc"], "not a port number: 'abc'"),
    (["--serve", "--port", "70000"], "a port is 1 to 65535, got 70000"),
    (["--serve", "--port", "0"], "a port is 1 to 65535, got 0"),
    (["--bogus"], "unrecognized arguments: --bogus"),
])
def test_a_bad_command_line_is_one_line(argv, message):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "genai.llm_api.fake_server", *argv],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_port_in_use_is_one_line(server):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "genai.llm_api.fake_server", "--serve",
                             "--port", str(server.port)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip() == (f"fake_server: error: cannot listen on 127.0.0.1:"
                                     f"{server.port} (Address already in use)")
