"""The LLM API chapter's code (genai.llm_api.calls) and what its pages claim:
tool use, async clients, errors and retries as the pages say, keys never
leak, prices, every model name the site shows is one the installed SDKs know
and do not deprecate, and the local model.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
import os
import re
import typing
import urllib.error
import urllib.request

import anthropic
import openai
import pytest

from genai.llm_api.calls import (ANTHROPIC_MODEL, OPENAI_MODEL, WEATHER_TOOL, MissingAPIKeyError,
                                 build_tiny_chat_model, check_api_key, get_weather, run_with_tools)
from genai.llm_api.fake_server import ENV_VARS, FakeLLMServer, FakeServerError, live_api
from support import ROOT, claude, gpt, raw_post, start_fake_llm_api

USER = [{"role": "user", "content": "What is generative AI?"}]
OPENAI_WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": WEATHER_TOOL["description"],
    "parameters": WEATHER_TOOL["input_schema"]}}

# ---------------------------------------------------------------------------
# Tool use
# ---------------------------------------------------------------------------
def test_anthropic_tool_round_trip(server):
    messages = [{"role": "user", "content": "What is the weather in Paris?"}]
    final = run_with_tools(claude(server), messages, [WEATHER_TOOL],
                           {"get_weather": get_weather})
    asked = messages[1]["content"]
    assert [b.type for b in asked] == ["text", "tool_use"]
    assert asked[1].name == "get_weather" and asked[1].input == {
        "city": "Paris"}
    assert messages[2]["content"][0]["tool_use_id"] == asked[1].id
    assert final.stop_reason == "end_turn"
    assert final.content[0].text == "In Paris it is 18 °C and sunny."


def test_anthropic_streamed_tool_call_is_assembled(server):
    with claude(server).messages.stream(
            model=ANTHROPIC_MODEL, max_tokens=100, tools=[WEATHER_TOOL],
            messages=[{"role": "user",
                       "content": "What is the weather in Paris?"}]) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use"
    assert final.content[-1].input == {"city": "Paris"}


def test_without_the_tool_the_model_just_answers(server):
    message = claude(server).messages.create(
        model=ANTHROPIC_MODEL, max_tokens=100,
        messages=[{"role": "user", "content": "What is the weather in Paris?"}])
    assert message.stop_reason == "end_turn"


def test_the_tool_loop_gives_up_after_max_rounds(server):
    messages = [{"role": "user", "content": "What is the weather in Paris?"}]
    with pytest.raises(RuntimeError, match="no final answer after 1 rounds"):
        run_with_tools(claude(server), messages, [WEATHER_TOOL],
                       {"get_weather": get_weather}, max_rounds=1)


def test_openai_tool_round_trip(server):
    client = gpt(server)
    messages = [{"role": "user", "content": "What is the weather in Paris?"}]
    first = client.chat.completions.create(
        model=OPENAI_MODEL, messages=messages, tools=[OPENAI_WEATHER_TOOL])
    assert first.choices[0].finish_reason == "tool_calls"
    call = first.choices[0].message.tool_calls[0]
    arguments = json.loads(call.function.arguments)
    assert call.function.name == "get_weather" and arguments == {
        "city": "Paris"}
    messages += [first.choices[0].message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id,
                  "content": get_weather(**arguments)}]
    final = client.chat.completions.create(
        model=OPENAI_MODEL, messages=messages, tools=[OPENAI_WEATHER_TOOL])
    assert final.choices[0].message.content == "In Paris it is 18 °C and sunny."
    stream = client.chat.completions.create(
        model=OPENAI_MODEL, messages=messages[:1],
        tools=[OPENAI_WEATHER_TOOL], stream=True)
    streamed = "".join(c.choices[0].delta.tool_calls[0].function.arguments
                       for c in stream
                       if c.choices and c.choices[0].delta.tool_calls)
    assert json.loads(streamed) == arguments


def test_a_tool_result_must_answer_a_tool_call(server):
    question = {"role": "user", "content": "What is the weather in Paris?"}
    with pytest.raises(anthropic.BadRequestError, match="unexpected `tool_use"
                       "_id` found in `tool_result` blocks: toolu_made_up"):
        claude(server).messages.create(
            model=ANTHROPIC_MODEL, max_tokens=100, tools=[WEATHER_TOOL],
            messages=[question, {"role": "assistant", "content": "Hm."},
                      {"role": "user", "content": [{
                          "type": "tool_result", "tool_use_id": "toolu_made_up",
                          "content": "18 °C"}]}])
    with pytest.raises(openai.BadRequestError, match="role 'tool' must be"):
        gpt(server).chat.completions.create(
            model=OPENAI_MODEL, tools=[OPENAI_WEATHER_TOOL],
            messages=[question, {"role": "tool", "tool_call_id": "call_x",
                                 "content": "18 °C"}])


def test_get_weather_knows_its_cities():
    assert get_weather("Tokyo") == "24 °C and cloudy"
    assert get_weather("Atlantis").startswith("No weather data for Atlantis")


# ---------------------------------------------------------------------------
# Async clients
# ---------------------------------------------------------------------------
def test_async_clients_run_requests_concurrently(server):
    async def main():
        claude_client = anthropic.AsyncAnthropic(
            base_url=server.anthropic_url, api_key=server.api_key)
        gpt_client = openai.AsyncOpenAI(base_url=server.openai_url,
                                        api_key=server.api_key)
        calls = [claude_client.messages.create(
            model=ANTHROPIC_MODEL, max_tokens=100, messages=USER)
            for _ in range(3)]
        calls.append(gpt_client.chat.completions.create(
            model=OPENAI_MODEL, messages=USER))
        results = await asyncio.gather(*calls)
        async with claude_client.messages.stream(
                model=ANTHROPIC_MODEL, max_tokens=100,
                messages=USER) as stream:
            streamed = "".join([t async for t in stream.text_stream])
        return results, streamed

    results, streamed = asyncio.run(main())
    assert [r.content[0].text for r in results[:3]] == [streamed] * 3
    assert results[3].choices[0].message.content == streamed


# ---------------------------------------------------------------------------
# Errors, retries and keys
# ---------------------------------------------------------------------------
def test_a_wrong_key_is_an_authentication_error(server):
    with pytest.raises(anthropic.AuthenticationError) as caught:
        anthropic.Anthropic(base_url=server.anthropic_url,
                            api_key="wrong").messages.create(
            model=ANTHROPIC_MODEL, max_tokens=10, messages=USER)
    assert caught.value.status_code == 401
    assert caught.value.type == "authentication_error"
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=server.openai_url,
                      api_key="wrong").chat.completions.create(
            model=OPENAI_MODEL, messages=USER)
    assert [r["status"] for r in server.requests] == [401, 401]


def test_a_missing_key_says_which_variable_to_set(monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(MissingAPIKeyError, match="ANTHROPIC_API_KEY is not set"
                       ".*export ANTHROPIC_API_KEY="):
        check_api_key("ANTHROPIC_API_KEY")
    with pytest.raises(MissingAPIKeyError, match="OPENAI_API_KEY"):
        check_api_key("OPENAI_API_KEY")
    with pytest.raises(openai.OpenAIError, match="OPENAI_API_KEY"):
        openai.OpenAI()
    with pytest.raises(ValueError, match="unknown key variable 'MY_KEY'"):
        check_api_key("MY_KEY")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "something")
    check_api_key("ANTHROPIC_API_KEY")


def test_a_missing_key_header_is_refused_by_the_server(server):
    status, text = raw_post(server.anthropic_url + "/v1/messages",
                            {"model": ANTHROPIC_MODEL, "max_tokens": 10,
                             "messages": USER},
                            {"anthropic-version": "2023-06-01"})
    assert status == 401
    assert json.loads(text)["error"]["message"] == (
        "x-api-key header is required")


@pytest.mark.parametrize("status, error", [
    (429, anthropic.RateLimitError),
    (529, anthropic.OverloadedError),
    (500, anthropic.InternalServerError),
])
def test_anthropic_retries_then_raises(server, status, error):
    server.fail_next(10, status=status, retry_after=0.01)
    with pytest.raises(error) as caught:
        claude(server, max_retries=2).messages.create(
            model=ANTHROPIC_MODEL, max_tokens=10, messages=USER)
    assert caught.value.status_code == status
    assert [(r["status"], r["retry"]) for r in server.requests] == [
        (status, 0), (status, 1), (status, 2)]
    assert issubclass(anthropic.OverloadedError, anthropic.InternalServerError)


def test_a_rate_limit_then_success_is_a_success(server):
    server.fail_next(1, status=429, retry_after=0.01)
    message = claude(server, max_retries=2).messages.create(
        model=ANTHROPIC_MODEL, max_tokens=100, messages=USER)
    assert message.content[0].text == "Models that make things."
    assert [r["status"] for r in server.requests] == [429, 200]


def test_without_retry_after_the_sdk_backs_off_by_itself(server):
    server.fail_next(1, status=529)
    message = claude(server, max_retries=1).messages.create(
        model=ANTHROPIC_MODEL, max_tokens=100, messages=USER)
    assert message.stop_reason == "end_turn"
    assert [r["status"] for r in server.requests] == [529, 200]


@pytest.mark.parametrize("status, error", [
    (429, openai.RateLimitError), (503, openai.InternalServerError)])
def test_openai_retries_then_raises(server, status, error):
    server.fail_next(10, status=status, retry_after=0.01, api="openai")
    with pytest.raises(error):
        gpt(server, max_retries=2).chat.completions.create(
            model=OPENAI_MODEL, messages=USER)
    assert [r["retry"] for r in server.requests] == [0, 1, 2]
    message = claude(server).messages.create(  # not scripted to fail
        model=ANTHROPIC_MODEL, max_tokens=100, messages=USER)
    assert message.stop_reason == "end_turn"


def test_bad_requests_get_400_or_404(server):
    client = claude(server)
    with pytest.raises(anthropic.BadRequestError, match='Unexpected role'):
        client.messages.create(model=ANTHROPIC_MODEL, max_tokens=10,
                               messages=[{"role": "system", "content": "x"}])
    with pytest.raises(anthropic.NotFoundError, match="model: claude-nope"):
        client.messages.create(model="claude-nope", max_tokens=10,
                               messages=USER)
    with pytest.raises(openai.NotFoundError, match="does not exist"):
        gpt(server).chat.completions.create(model="gpt-nope", messages=USER)
    with pytest.raises(openai.BadRequestError, match="empty array"):
        gpt(server).chat.completions.create(model=OPENAI_MODEL, messages=[])
    headers = {"x-api-key": server.api_key, "anthropic-version": "2023-06-01"}
    status, text = raw_post(server.anthropic_url + "/v1/messages",
                            {"model": ANTHROPIC_MODEL, "messages": USER},
                            headers)
    assert (status, json.loads(text)["error"]) == (400, {
        "type": "invalid_request_error",
        "message": "max_tokens: Field required"})
    request = urllib.request.Request(server.anthropic_url + "/v1/messages",
                                     data=b"{not json", headers=headers)
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 400


def test_a_slow_server_is_a_timeout(server):
    server.delay = 1.0
    with pytest.raises(anthropic.APITimeoutError):
        claude(server, timeout=0.2, max_retries=0).messages.create(
            model=ANTHROPIC_MODEL, max_tokens=10, messages=USER)


def test_no_server_is_a_connection_error():
    with FakeLLMServer() as closed:
        url = closed.anthropic_url
    with pytest.raises(anthropic.APIConnectionError):
        anthropic.Anthropic(base_url=url, api_key="k",
                            max_retries=0).messages.create(
            model=ANTHROPIC_MODEL, max_tokens=10, messages=USER)


def test_scripted_failures_are_checked(server):
    with pytest.raises(FakeServerError, match="status 404 cannot be scripted"):
        server.fail_next(1, status=404)
    with pytest.raises(FakeServerError, match="api='gemini'"):
        server.fail_next(1, api="gemini")
    with pytest.raises(FakeServerError, match="count=-1"):
        server.fail_next(-1)
    server.fail_next(2)
    server.reset()
    claude(server).messages.create(model=ANTHROPIC_MODEL, max_tokens=10,
                                   messages=USER)
    assert [r["status"] for r in server.requests] == [200]


SECRET = "sk-ant-course-test-DISTINCTIVE-7f3a9c1e"


def test_the_key_never_appears_in_logs_errors_or_output(caplog, capsys, recordings):
    loggers = ["anthropic", "openai", "httpx", "httpx2", "httpcore"]
    with FakeLLMServer(api_key=SECRET, replies=recordings) as fake:
        for name in loggers:
            logging.getLogger(name).setLevel(logging.DEBUG)
        caplog.set_level(logging.DEBUG)
        try:
            errors = []
            client = claude(fake, max_retries=1)
            print(client.messages.create(model=ANTHROPIC_MODEL,
                                         max_tokens=10, messages=USER))
            fake.fail_next(2, status=429, retry_after=0.01)
            with pytest.raises(anthropic.RateLimitError) as caught:
                client.messages.create(model=ANTHROPIC_MODEL, max_tokens=10,
                                       messages=USER)
            errors.append(caught.value)
            with pytest.raises(openai.AuthenticationError) as caught:
                openai.OpenAI(base_url=fake.openai_url,
                              api_key=SECRET + "-wrong").chat.completions.create(
                    model=OPENAI_MODEL, messages=USER)
            errors.append(caught.value)
            print(gpt(fake).chat.completions.create(model=OPENAI_MODEL,
                                                    messages=USER))
        finally:
            for name in loggers:
                logging.getLogger(name).setLevel(logging.NOTSET)
    assert "Request options" in caplog.text  # the SDKs did log at DEBUG
    seen = [caplog.text, capsys.readouterr().out, repr(client),
            *(str(e) for e in errors), *(repr(e) for e in errors),
            *(repr(e.body) for e in errors)]
    assert not [text for text in seen if "DISTINCTIVE" in text]


# ---------------------------------------------------------------------------
# Model names on the site
# ---------------------------------------------------------------------------
CLAUDE_NAME = re.compile(r"\bclaude-[a-z0-9][a-z0-9.-]*[a-z0-9]")
GPT_NAME = re.compile(r"\bgpt-[3-9][a-z0-9.-]*[a-z0-9]")


def known_claude_models() -> set[str]:
    return {name for arg in typing.get_args(anthropic.types.Model)
            for name in typing.get_args(arg)}


def shutdown_dates() -> dict[str, datetime.date]:
    """{model: the day it stops working}, as the installed SDKs say: the
    anthropic SDK's DEPRECATED_MODELS ("November 30th, 2026"), and the
    "Announced shutdown date: 2026-12-11" notes that the openai SDK writes
    under its ChatModel type."""
    import ast
    import inspect

    from anthropic.resources.messages.messages import DEPRECATED_MODELS
    from openai.types.shared import chat_model

    dates = {}
    for name, text in DEPRECATED_MODELS.items():
        day = re.sub(r"(\d)(st|nd|rd|th)\b", r"\1", text)
        dates[name] = datetime.datetime.strptime(day, "%B %d, %Y").date()
    body = ast.parse(inspect.getsource(chat_model)).body
    notes = next(node.value.value for before, node in zip(body, body[1:])
                 if isinstance(before, (ast.Assign, ast.AnnAssign))
                 and "ChatModel" in ast.unparse(before)
                 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))
    for item in re.split(r"\n- ", notes):
        found = re.search(r"shutdown date:\s*(\d{4}-\d{2}-\d{2})", item)
        if found:
            day = datetime.date.fromisoformat(found.group(1))
            for name in re.findall(r'"([^"]+)"', item.split("Announced")[0]):
                dates[name] = day
    return dates


WARNING_DAYS = 30


def bad_model_names(text: str, today: datetime.date | None = None) -> list[str]:
    """Model names in text that the installed SDKs do not know, or that stop
    working (shut down, end of life) before WARNING_DAYS from today."""
    today = today or datetime.date.today()
    known_gpt = set(typing.get_args(openai.types.ChatModel))
    dates = shutdown_dates()
    bad = []
    for name in CLAUDE_NAME.findall(text) + GPT_NAME.findall(text):
        known = known_claude_models() if name.startswith("claude") else known_gpt
        sdk = "anthropic" if name.startswith("claude") else "openai"
        if name in dates and dates[name] <= today + datetime.timedelta(WARNING_DAYS):
            when = "stopped" if dates[name] <= today else "stops"
            bad.append(f"{name} ({when} working on {dates[name]}, says the {sdk} SDK)")
        elif name not in known and name not in dates:
            bad.append(f"{name} (not a model the {sdk} SDK knows)")
    return bad


def test_shutdown_dates_come_from_the_installed_sdks():
    dates = shutdown_dates()
    assert dates["claude-3-5-haiku-20241022"] == datetime.date(2026, 2, 19)
    assert dates["gpt-5-mini"] == datetime.date(2026, 12, 11)
    assert dates["gpt-4o"] == datetime.date(2027, 1, 14)
    assert len(dates) > 40


def test_the_model_name_check_catches_bad_names():
    day = datetime.date(2026, 12, 1)
    assert bad_model_names("use claude-3-5-haiku-20241022 here", day) == [
        "claude-3-5-haiku-20241022 (stopped working on 2026-02-19, says the anthropic SDK)"]
    assert bad_model_names("gpt-5-mini", day) == [
        "gpt-5-mini (stops working on 2026-12-11, says the openai SDK)"]   # within 30 days
    assert bad_model_names("gpt-4o", day) == []                            # 44 days away
    assert bad_model_names("gpt-4o", datetime.date(2026, 12, 20)) != []    # 25 days away
    assert bad_model_names('"claude-imaginary-9" and gpt-9-turbo', day) == [
        "claude-imaginary-9 (not a model the anthropic SDK knows)",
        "gpt-9-turbo (not a model the openai SDK knows)"]
    assert bad_model_names(f"{ANTHROPIC_MODEL} and {OPENAI_MODEL}.") == []


def test_the_site_names_only_current_models():
    files = [*sorted((ROOT / "docs").rglob("*.md")),
             *sorted((ROOT / "docs").rglob("*.py")),
             *sorted(p for p in (ROOT / "snippets").rglob("*")
                     if p.is_file() and p.suffix in (".py", ".json", ".txt"))]
    problems = [f"{path.relative_to(ROOT)}: {bad}" for path in files
                for bad in bad_model_names(path.read_text(encoding="utf-8"))]
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------------------
# A local open model (tiny and random in the tests) and the live API
# ---------------------------------------------------------------------------
def test_the_tiny_local_model_is_built_offline(tmp_path):
    folder = build_tiny_chat_model(tmp_path / "tiny")
    assert (folder / "config.json").exists()
    assert (folder / "tokenizer.json").exists()
    assert build_tiny_chat_model(folder) == folder  # reused, not rebuilt
    config = json.loads((folder / "config.json").read_text())
    assert config["num_hidden_layers"] == 2


def test_the_tests_set_up_the_environment_unless_live(monkeypatch):
    for name in ENV_VARS + ("HF_HUB_OFFLINE",):  # restored after the test
        monkeypatch.setenv(name, os.environ.get(name, ""))
    for name in ("ANTHROPIC_BASE_URL", "COURSE_LOCAL_MODEL", "CI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COURSE_LIVE_API", "1")
    assert start_fake_llm_api() is None
    assert "ANTHROPIC_BASE_URL" not in os.environ
    assert os.environ["COURSE_LOCAL_MODEL"] == "tiny-random"
    monkeypatch.setenv("CI", "true")  # CI never goes live
    server = start_fake_llm_api()
    try:
        assert os.environ["ANTHROPIC_BASE_URL"] == server.anthropic_url
        assert os.environ["OPENAI_BASE_URL"] == server.openai_url
        assert os.environ["ANTHROPIC_API_KEY"] == server.api_key
        message = anthropic.Anthropic().messages.create(
            model=ANTHROPIC_MODEL, max_tokens=300, messages=USER)
        assert message.content[0].text.startswith("Generative AI is")
    finally:
        server.stop()


def test_the_session_points_the_sdks_at_its_own_server(fake_llm_server):
    if fake_llm_server is None:
        pytest.skip("live mode: the SDKs use the real APIs")
    assert os.environ["ANTHROPIC_BASE_URL"] == fake_llm_server.anthropic_url
    assert os.environ["OPENAI_API_KEY"] == fake_llm_server.api_key


@pytest.mark.skipif(not live_api() or not os.environ.get("ANTHROPIC_API_KEY"),
                    reason="live API test: set COURSE_LIVE_API=1 and a real "
                           "ANTHROPIC_API_KEY (never in CI)")
def test_live_basic_call():
    client = anthropic.Anthropic()
    message = client.messages.create(
        model=ANTHROPIC_MODEL, max_tokens=100, messages=USER)
    assert message.content[0].text.strip()
    assert message.usage.output_tokens > 0
