"""A local stand-in for the Anthropic and OpenAI APIs, for tests and practice.

The server speaks the real wire formats of the Anthropic Messages API
(`POST /v1/messages`, `POST /v1/messages/count_tokens`, `GET /v1/models`)
and of the OpenAI Chat Completions API (`POST /v1/chat/completions`,
`GET /v1/models`), so the official Python SDKs talk to it unchanged:

    ANTHROPIC_BASE_URL=http://127.0.0.1:PORT
    OPENAI_BASE_URL=http://127.0.0.1:PORT/v1

It is not a model. Its answers are recorded: every file in
`snippets/replies/*.json` holds a list of
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

    python -m genai.fake_llm_server           # a short demo with both SDKs
    python -m genai.fake_llm_server --serve   # keep running on port 8765
    python -m genai.fake_llm_server --serve --port 9000

Only the standard library is needed (the installed `anthropic` and `openai`
packages, when present, tell the server which model names exist).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPLIES_DIR = Path(__file__).resolve().parent / "replies"
FAKE_API_KEY = "fake-key-for-the-local-test-server"
ENV_VARS = ("ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY",
            "OPENAI_BASE_URL", "OPENAI_API_KEY")
FALLBACK = ("[fake server] No recorded reply for this prompt. This local "
            "test server only knows the prompts recorded in "
            "snippets/replies/*.json. You asked: {prompt}")
CREATED = 1767225600  # a fixed timestamp (2026-01-01) for OpenAI's `created`


class FakeServerError(ValueError):
    """A recordings file or a scripted failure is not what the server needs."""


# ---------------------------------------------------------------------------
# Recorded replies and estimated token counts
# ---------------------------------------------------------------------------
def load_replies(folder: Path = REPLIES_DIR) -> list[dict]:
    """Every recording in folder/*.json, checked, in file-name order."""
    recordings = []
    for path in sorted(Path(folder).glob("*.json")):
        try:
            items = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise FakeServerError(f"{path}: not valid JSON ({err})") from None
        if not isinstance(items, list):
            raise FakeServerError(f"{path}: expected a JSON list of "
                                  "{'prompt', 'reply'} objects")
        for i, item in enumerate(items):
            if not (isinstance(item, dict)
                    and isinstance(item.get("prompt"), str)
                    and isinstance(item.get("reply"), str)):
                raise FakeServerError(
                    f"{path}, item {i}: needs string keys 'prompt' and "
                    "'reply' (and optionally 'system', 'context', "
                    "'tool_use', 'preamble')")
            calls = item.get("tool_use", [])
            calls = [calls] if isinstance(calls, dict) else calls
            if not isinstance(calls, list) or not all(
                    isinstance(c, dict) and isinstance(c.get("name"), str)
                    for c in calls):
                raise FakeServerError(
                    f"{path}, item {i}: 'tool_use' must be an object "
                    '{"name": ..., "input": {...}} or a list of them')
            recordings.append(item)
    return recordings


_PIECE = re.compile(r"\s*(?:\w{1,4}|[^\w\s])|\s+")


def pieces(text: str) -> list[str]:
    """Cut text into token-like pieces; joined again they give the text."""
    return _PIECE.findall(text)


def estimate_tokens(text: str) -> int:
    """An estimate of a token count: about 1.3 per English word."""
    return len(pieces(text))


def _text_of(content) -> str:
    """The text of a message's content: a string or a list of blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for block in content:
            if isinstance(block, dict):
                if block.get("type") in ("text", "input_text"):
                    parts.append(str(block.get("text", "")))
                elif block.get("type") == "tool_result":
                    parts.append(_text_of(block.get("content", "")))
        return "\n".join(parts)
    return ""


def _stable_id(prefix: str, *parts: object) -> str:
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True,
                                       default=str).encode()).hexdigest()
    return prefix + digest[:24]


# ---------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------
class FakeLLMServer:
    """Both fake APIs on one local port; use it as a context manager.

    >>> with FakeLLMServer() as server:
    ...     client = anthropic.Anthropic(base_url=server.anthropic_url,
    ...                                  api_key=server.api_key)
    """

    def __init__(self, api_key: str = FAKE_API_KEY,
                 replies: Path | list[dict] = REPLIES_DIR,
                 models: set[str] | None = None, delay: float = 0.0,
                 stream_delay: float = 0.0, port: int = 0):
        self.api_key = api_key
        self._port = port                 # 0: any free port
        self._replies_source = replies
        self._models = models  # None: what the SDKs know, looked up later
        self.delay = delay                # seconds before every answer
        self.stream_delay = stream_delay  # seconds between streamed events
        self.requests: list[dict] = []    # api, method, path, status, retry
        self._failures: list[tuple[int, float | None, str | None]] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def models(self) -> set[str]:
        """The model names the server accepts (empty: every name)."""
        if self._models is None:  # imports the SDKs: only when first needed
            self._models = known_models()
        return self._models

    # -- life cycle ---------------------------------------------------------
    def start(self) -> "FakeLLMServer":
        self.recordings = (list(self._replies_source)
                           if isinstance(self._replies_source, list)
                           else load_replies(self._replies_source))
        handler = type("Handler", (_Handler,), {"fake": self})
        self._httpd = _QuietServer(("127.0.0.1", self._port), handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        name="fake-llm-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> "FakeLLMServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the fake server is not running: call start()")
        return self._httpd.server_address[1]

    @property
    def anthropic_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def env(self) -> dict[str, str]:
        """The environment variables that point both SDKs at this server."""
        return {"ANTHROPIC_BASE_URL": self.anthropic_url,
                "ANTHROPIC_API_KEY": self.api_key,
                "OPENAI_BASE_URL": self.openai_url,
                "OPENAI_API_KEY": self.api_key}

    @contextmanager
    def environment(self):
        """Set env() in os.environ for the duration, then restore it."""
        saved = {name: os.environ.get(name) for name in ENV_VARS}
        os.environ.update(self.env())
        try:
            yield self
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    # -- scripting ----------------------------------------------------------
    def fail_next(self, count: int = 1, status: int = 429,
                  retry_after: float | None = None,
                  api: str | None = None) -> None:
        """The next `count` API calls fail with `status` (429, 500, 503, 529).

        retry_after: seconds sent in a `retry-after` header (the SDKs wait
        that long before retrying; None: they use their own backoff).
        api: "anthropic" or "openai" to fail only calls to that API.
        """
        if status not in _FAILURES:
            raise FakeServerError(f"status {status} cannot be scripted; "
                                  f"choose one of {sorted(_FAILURES)}")
        if api not in (None, "anthropic", "openai"):
            raise FakeServerError(f"api={api!r}: use 'anthropic', 'openai' "
                                  "or None (both)")
        if count < 0:
            raise FakeServerError(f"count={count}: must be 0 or more")
        with self._lock:
            self._failures.extend([(status, retry_after, api)] * count)

    def reset(self) -> None:
        """Forget scripted failures and recorded requests."""
        with self._lock:
            self._failures.clear()
            self.requests.clear()

    def _take_failure(self, api: str):
        with self._lock:
            for i, (status, retry_after, only) in enumerate(self._failures):
                if only in (None, api):
                    del self._failures[i]
                    return status, retry_after
        return None

    # -- replies ------------------------------------------------------------
    def find_recording(self, prompt: str, system: str | None = None,
                       history: str = "") -> dict | None:
        """The recording that fits best: same prompt; then same system
        prompt; then a "context" that occurs in the earlier messages."""
        best, best_score = None, -1
        for item in self.recordings:
            if item["prompt"] != prompt:
                continue
            if "system" in item and item["system"] != (system or ""):
                continue
            if "context" in item and item["context"] not in history:
                continue
            score = 2 * ("system" in item) + ("context" in item)
            if score > best_score:
                best, best_score = item, score
        return best

    def plan(self, prompt: str, system: str | None, tools: set[str],
             tool_results: list[str] | None, history: str = "") -> dict:
        """What to answer: {"text": ..., "calls": [{name, input}, ...]}."""
        item = self.find_recording(prompt, system, history)
        if item is None:
            return {"text": FALLBACK.format(prompt=prompt[:200]), "calls": []}
        calls = item.get("tool_use") or []
        calls = [calls] if isinstance(calls, dict) else calls
        if calls and tool_results is not None:
            text = item["reply"].replace("{result}", "; ".join(tool_results))
            for i, result in enumerate(tool_results):
                text = text.replace("{result%d}" % i, result)
            return {"text": text, "calls": []}
        if calls and all(call.get("name") in tools for call in calls):
            return {"text": item.get("preamble", ""), "calls": calls}
        return {"text": item["reply"], "calls": []}


_FAILURES = {
    429: ("rate_limit_error", "Number of requests has exceeded your rate "
          "limit. Please try again later.",
          "rate_limit_exceeded", "Rate limit reached for requests. "
          "Please try again later."),
    500: ("api_error", "Internal server error",
          "server_error", "The server had an error while processing your "
          "request. Sorry about that!"),
    503: ("api_error", "Service unavailable",
          "server_error", "The server is overloaded or not ready yet."),
    529: ("overloaded_error", "Overloaded",
          "server_error", "The server is overloaded or not ready yet."),
}


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client that hung up (e.g. after its timeout) is not news


class _Handler(BaseHTTPRequestHandler):
    fake: FakeLLMServer
    protocol_version = "HTTP/1.1"
    timeout = 30

    def log_message(self, format, *args):
        pass  # quiet: and the request line never holds the key anyway

    # -- plumbing -----------------------------------------------------------
    def _request_id(self) -> str:
        """Deterministic: the same request gets the same id (pages print it)."""
        return _stable_id("req_", self.path, getattr(self, "body", None),
                          self.headers.get("x-stainless-retry-count"))

    def _send_json(self, status: int, body: dict, headers=None) -> None:
        data = json.dumps(body).encode()
        self._log(status)  # before answering: the client may look at once
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("request-id", self._request_id())
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _start_events(self) -> None:
        self._log(200)
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()

    def _send_chunk(self, text: str) -> None:
        data = text.encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()
        if self.fake.stream_delay:
            time.sleep(self.fake.stream_delay)

    def _end_events(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _log(self, status: int) -> None:
        with self.fake._lock:
            self.fake.requests.append({
                "api": self._api(), "method": self.command,
                "path": self.path, "status": status,
                "retry": int(self.headers.get("x-stainless-retry-count") or 0)})

    def _api(self) -> str:
        if self.path.startswith("/v1/messages") or \
                self.headers.get("anthropic-version"):
            return "anthropic"
        return "openai"

    def _read_body(self):
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw or b"null")
        except json.JSONDecodeError:
            return None

    def _error(self, status: int, kind: str, message: str,
               headers=None) -> None:
        if self._api() == "anthropic":
            body = {"type": "error",
                    "error": {"type": kind, "message": message},
                    "request_id": self._request_id()}
        else:
            body = {"error": {"message": message, "type": kind,
                              "param": None, "code": kind}}
            if status == 401:
                body["error"]["code"] = "invalid_api_key"
                body["error"]["type"] = "invalid_request_error"
        self._send_json(status, body, headers)

    def _authorised(self) -> bool:
        """Check the key; answer 401 (without echoing the key) if wrong."""
        key = self.headers.get("x-api-key")
        bearer = self.headers.get("authorization", "")
        if bearer.lower().startswith("bearer "):
            key = key or bearer[7:].strip()
        if key == self.fake.api_key:
            return True
        if self._api() == "anthropic":
            message = ("x-api-key header is required" if not key
                       else "invalid x-api-key")
            self._error(401, "authentication_error", message)
        else:
            message = ("You didn't provide an API key." if not key else
                       "Incorrect API key provided.")
            self._error(401, "invalid_request_error", message)
        return False

    def _scripted_failure(self) -> bool:
        failure = self.fake._take_failure(self._api())
        if failure is None:
            return False
        status, retry_after = failure
        a_kind, a_message, o_kind, o_message = _FAILURES[status]
        headers = {}
        if retry_after is not None:
            headers["retry-after"] = f"{retry_after:g}"
        if self._api() == "anthropic":
            self._error(status, a_kind, a_message, headers)
        else:
            self._error(status, o_kind, o_message, headers)
        return True

    # -- routes -------------------------------------------------------------
    def do_GET(self):
        if self.fake.delay:
            time.sleep(self.fake.delay)
        if self.path.split("?")[0] != "/v1/models":
            return self._error(404, "not_found_error", "Not found")
        if not self._authorised():
            return
        names = sorted(m for m in self.fake.models
                       if m.startswith("claude") == (self._api() ==
                                                     "anthropic"))
        if self._api() == "anthropic":
            data = [{"type": "model", "id": name, "display_name": name,
                     "created_at": "2026-01-01T00:00:00Z"} for name in names]
            return self._send_json(200, {
                "data": data, "has_more": False,
                "first_id": names[0] if names else None,
                "last_id": names[-1] if names else None})
        data = [{"id": name, "object": "model", "created": CREATED,
                 "owned_by": "openai"} for name in names]
        return self._send_json(200, {"object": "list", "data": data})

    def do_POST(self):
        body = self.body = self._read_body()
        if self.fake.delay:
            time.sleep(self.fake.delay)
        path = self.path.split("?")[0]
        routes = {"/v1/messages": self._anthropic_messages,
                  "/v1/messages/count_tokens": self._anthropic_count,
                  "/v1/chat/completions": self._openai_chat}
        if path not in routes:
            return self._error(404, "not_found_error", f"Not found: {path}")
        if not self._authorised() or self._scripted_failure():
            return
        if not isinstance(body, dict):
            return self._error(400, "invalid_request_error",
                               "The request body is not valid JSON.")
        try:
            routes[path](body)
        except _BadRequest as err:
            self._error(err.status, err.kind, str(err))

    # -- Anthropic ----------------------------------------------------------
    def _anthropic_check(self, body: dict, need_max_tokens: bool):
        if not self.headers.get("anthropic-version"):
            raise _BadRequest("anthropic-version: header is required")
        for field in ("model", "messages") + (
                ("max_tokens",) if need_max_tokens else ()):
            if field not in body:
                raise _BadRequest(f"{field}: Field required")
        messages = body["messages"]
        if not isinstance(messages, list) or not messages:
            raise _BadRequest("messages: at least one message is required")
        for i, message in enumerate(messages):
            role = message.get("role") if isinstance(message, dict) else None
            if role == "system":
                raise _BadRequest(
                    f'messages.{i}.role: Unexpected role "system". The '
                    "Messages API accepts a top-level `system` parameter, "
                    'not "system" as an input message role.')
            if role not in ("user", "assistant"):
                raise _BadRequest(f"messages.{i}.role: Input should be "
                                  "'user' or 'assistant'")
        if need_max_tokens and (not isinstance(body["max_tokens"], int)
                                or body["max_tokens"] < 1):
            raise _BadRequest("max_tokens: must be an integer of at least 1")
        if self.fake.models and body["model"] not in self.fake.models:
            raise _BadRequest(f"model: {body['model']}", 404,
                              "not_found_error")
        for i, message in enumerate(messages):
            results = [b.get("tool_use_id") for b in
                       (message.get("content") if isinstance(
                           message.get("content"), list) else [])
                       if _is_tool_result(b)]
            if not results:
                continue
            previous = messages[i - 1].get("content") if i else None
            asked = {b.get("id") for b in (previous if isinstance(
                previous, list) else []) if isinstance(b, dict)
                and b.get("type") == "tool_use"}
            unknown = [r for r in results if r not in asked]
            if unknown:
                raise _BadRequest(
                    f"messages.{i}.content: unexpected `tool_use_id` found "
                    f"in `tool_result` blocks: {', '.join(map(str, unknown))}"
                    ". Each `tool_result` block must have a corresponding "
                    "`tool_use` block in the previous message.")

    @staticmethod
    def _anthropic_system(body: dict) -> str:
        return _text_of(body.get("system", ""))

    def _anthropic_input_tokens(self, body: dict) -> int:
        text = self._anthropic_system(body) + json.dumps(body.get("tools", []))
        for message in body["messages"]:
            content = message.get("content", "")
            text += content if isinstance(content, str) \
                else json.dumps(content)
        return estimate_tokens(text) + 3 * len(body["messages"])

    def _anthropic_count(self, body: dict) -> None:
        self._anthropic_check(body, need_max_tokens=False)
        self._send_json(200, {"input_tokens":
                              self._anthropic_input_tokens(body)})

    def _anthropic_messages(self, body: dict) -> None:
        self._anthropic_check(body, need_max_tokens=True)
        messages = body["messages"]
        last = messages[-1]
        tool_results = None
        if isinstance(last.get("content"), list) and any(
                _is_tool_result(b) for b in last["content"]):
            tool_results = [_text_of(b.get("content", ""))
                            for b in last["content"] if _is_tool_result(b)]
        prompt, at = "", 0
        for at in range(len(messages) - 1, -1, -1):
            content = messages[at].get("content")
            if messages[at].get("role") == "user" and not (
                    isinstance(content, list)
                    and any(_is_tool_result(b) for b in content)):
                prompt = _text_of(content)
                break
        history = "\n".join(_text_of(m.get("content")) for m in messages[:at])
        tools = {t.get("name") for t in body.get("tools") or []
                 if isinstance(t, dict)}
        plan = self.fake.plan(prompt, self._anthropic_system(body) or None,
                              tools, tool_results, history)
        usage_in = self._anthropic_input_tokens(body)
        msg_id = _stable_id("msg_", body["model"], messages)
        blocks, stop_reason = [], "end_turn"
        text = plan.get("text", "")
        budget = body["max_tokens"]
        if text:
            cut = pieces(text)
            if len(cut) > budget:
                text, stop_reason = "".join(cut[:budget]), "max_tokens"
            blocks.append({"type": "text", "text": text})
        if plan["calls"] and stop_reason != "max_tokens":
            for i, call in enumerate(plan["calls"]):
                blocks.append({"type": "tool_use",
                               "id": _stable_id("toolu_", msg_id, i),
                               "name": call["name"],
                               "input": call.get("input", {})})
            stop_reason = "tool_use"
        output_tokens = max(1, sum(
            estimate_tokens(b["text"]) if b["type"] == "text"
            else estimate_tokens(json.dumps(b["input"])) + 10
            for b in blocks))
        message = {"id": msg_id, "type": "message", "role": "assistant",
                   "model": body["model"], "content": blocks,
                   "stop_reason": stop_reason, "stop_sequence": None,
                   "usage": {"input_tokens": usage_in,
                             "output_tokens": output_tokens,
                             "cache_creation_input_tokens": 0,
                             "cache_read_input_tokens": 0,
                             "service_tier": "standard"}}
        if not body.get("stream"):
            return self._send_json(200, message)
        self._anthropic_stream(message)

    def _event(self, name: str, data: dict) -> None:
        self._send_chunk(f"event: {name}\ndata: {json.dumps(data)}\n\n")

    def _anthropic_stream(self, message: dict) -> None:
        self._start_events()
        start = dict(message, content=[], stop_reason=None,
                     usage=dict(message["usage"], output_tokens=1))
        self._event("message_start", {"type": "message_start",
                                      "message": start})
        for index, block in enumerate(message["content"]):
            if block["type"] == "text":
                first = {"type": "text", "text": ""}
                deltas = [{"type": "text_delta", "text": part}
                          for part in _groups(pieces(block["text"]))]
            else:
                first = dict(block, input={})
                raw = json.dumps(block["input"])
                deltas = [{"type": "input_json_delta", "partial_json": part}
                          for part in ([""] + _groups(pieces(raw)))]
            self._event("content_block_start", {
                "type": "content_block_start", "index": index,
                "content_block": first})
            if index == 0:
                self._event("ping", {"type": "ping"})
            for delta in deltas:
                self._event("content_block_delta", {
                    "type": "content_block_delta", "index": index,
                    "delta": delta})
            self._event("content_block_stop", {"type": "content_block_stop",
                                               "index": index})
        self._event("message_delta", {
            "type": "message_delta",
            "delta": {"stop_reason": message["stop_reason"],
                      "stop_sequence": None},
            "usage": {"output_tokens": message["usage"]["output_tokens"]}})
        self._event("message_stop", {"type": "message_stop"})
        self._end_events()

    # -- OpenAI -------------------------------------------------------------
    def _openai_chat(self, body: dict) -> None:
        for field in ("model", "messages"):
            if field not in body:
                raise _BadRequest(f"Missing required parameter: '{field}'.",
                                  kind="invalid_request_error")
        messages = body["messages"]
        if not isinstance(messages, list) or not messages:
            raise _BadRequest("Invalid 'messages': empty array. Expected an "
                              "array with minimum length 1.",
                              kind="invalid_request_error")
        if self.fake.models and body["model"] not in self.fake.models:
            raise _BadRequest(f"The model `{body['model']}` does not exist "
                              "or you do not have access to it.", 404,
                              "model_not_found")
        called: set = set()
        for message in messages:
            if message.get("role") == "assistant":
                called = {c.get("id") for c in message.get("tool_calls") or []}
            elif message.get("role") == "tool" and \
                    message.get("tool_call_id") not in called:
                raise _BadRequest(
                    "Invalid parameter: messages with role 'tool' must be a "
                    "response to a preceding message with 'tool_calls'.",
                    kind="invalid_request_error")
        system = "\n".join(_text_of(m.get("content")) for m in messages
                           if m.get("role") in ("system", "developer"))
        at = next((i for i in range(len(messages) - 1, -1, -1)
                   if messages[i].get("role") == "user"), 0)
        prompt = _text_of(messages[at].get("content"))
        history = "\n".join(_text_of(m.get("content")) for m in messages[:at]
                            if m.get("role") not in ("system", "developer"))
        tool_results = None
        if messages[-1].get("role") == "tool":
            tool_results = [_text_of(m.get("content")) for m in messages[at:]
                            if m.get("role") == "tool"]
        tools = {t.get("function", {}).get("name")
                 for t in body.get("tools") or [] if isinstance(t, dict)}
        plan = self.fake.plan(prompt, system or None, tools, tool_results,
                              history)
        usage_in = estimate_tokens(json.dumps(messages) + json.dumps(
            body.get("tools", []))) // 2 + 3 * len(messages)
        chat_id = _stable_id("chatcmpl-", body["model"], messages)
        budget = body.get("max_completion_tokens") or body.get("max_tokens")
        text, finish = plan.get("text", ""), "stop"
        if budget and len(pieces(text)) > budget:
            text, finish = "".join(pieces(text)[:budget]), "length"
        calls = []
        if plan["calls"] and finish != "length":
            calls = [{"id": _stable_id("call_", chat_id, i),
                      "type": "function",
                      "function": {"name": call["name"],
                                   "arguments": json.dumps(
                                       call.get("input", {}))}}
                     for i, call in enumerate(plan["calls"])]
            finish = "tool_calls"
        usage_out = max(1, estimate_tokens(text) + sum(
            estimate_tokens(c["function"]["arguments"]) + 10 for c in calls))
        usage = {"prompt_tokens": usage_in, "completion_tokens": usage_out,
                 "total_tokens": usage_in + usage_out}
        head = {"id": chat_id, "created": CREATED, "model": body["model"],
                "system_fingerprint": "fp_fake", "service_tier": "default"}
        if not body.get("stream"):
            message = {"role": "assistant", "content": text or None,
                       "refusal": None, "annotations": []}
            if calls:
                message["tool_calls"] = calls
            return self._send_json(200, dict(
                head, object="chat.completion", usage=usage,
                choices=[{"index": 0, "message": message, "logprobs": None,
                          "finish_reason": finish}]))
        self._start_events()

        def chunk(delta, finish_reason=None, **extra):
            data = dict(head, object="chat.completion.chunk",
                        choices=[{"index": 0, "delta": delta,
                                  "logprobs": None,
                                  "finish_reason": finish_reason}], **extra)
            self._send_chunk(f"data: {json.dumps(data)}\n\n")

        chunk({"role": "assistant", "content": "", "refusal": None})
        for part in _groups(pieces(text)):
            chunk({"content": part})
        for i, call in enumerate(calls):
            chunk({"tool_calls": [{"index": i, "id": call["id"],
                                   "type": "function",
                                   "function": {"name": call["function"][
                                       "name"], "arguments": ""}}]})
            for part in _groups(pieces(call["function"]["arguments"])):
                chunk({"tool_calls": [{"index": i,
                                       "function": {"arguments": part}}]})
        chunk({}, finish)
        if (body.get("stream_options") or {}).get("include_usage"):
            data = dict(head, object="chat.completion.chunk", choices=[],
                        usage=usage)
            self._send_chunk(f"data: {json.dumps(data)}\n\n")
        self._send_chunk("data: [DONE]\n\n")
        self._end_events()


class _BadRequest(Exception):
    def __init__(self, message: str, status: int = 400,
                 kind: str = "invalid_request_error"):
        super().__init__(message)
        self.status, self.kind = status, kind


def _is_tool_result(block) -> bool:
    return isinstance(block, dict) and block.get("type") == "tool_result"


def _groups(parts: list[str], size: int = 3) -> list[str]:
    """Streamed deltas carry a few token-like pieces each."""
    return ["".join(parts[i:i + size]) for i in range(0, len(parts), size)]


def known_models() -> set[str]:
    """Model names the installed SDKs know (empty: accept every name)."""
    from typing import get_args

    names: set[str] = set()
    try:
        from anthropic.types import Model
        names.update(a for arg in get_args(Model) for a in get_args(arg))
    except ImportError:
        pass
    try:
        from openai.types import ChatModel
        names.update(get_args(ChatModel))
    except ImportError:
        pass
    return names


def live_api() -> bool:
    """COURSE_LIVE_API=1 asks for the real APIs (never under CI=true)."""
    return (os.environ.get("COURSE_LIVE_API") == "1"
            and os.environ.get("CI") != "true")


@contextmanager
def unless_api_key(name: str = "ANTHROPIC_API_KEY"):
    """For the apps' demos: with no key set, talk to a local fake server.

    Says so on the console, sets the SDKs' variables for the duration and
    restores them after. With the key set it does nothing (yields None)."""
    if os.environ.get(name):
        yield None
        return
    print(f"{name} is not set: using the local fake server.")
    with FakeLLMServer() as server, server.environment():
        yield server


def start_for_tests() -> FakeLLMServer | None:
    """Set up os.environ as the course's tests (and benchmarks) need it.

    Starts a FakeLLMServer and points both SDKs at it (ANTHROPIC_BASE_URL,
    ANTHROPIC_API_KEY, OPENAI_BASE_URL, OPENAI_API_KEY), unless live_api():
    then the environment's real keys are used. Either way local_chat gets
    a tiny offline model (COURSE_LOCAL_MODEL=tiny-random) and the Hugging
    Face libraries are kept offline (HF_HUB_OFFLINE=1), unless already set.
    Returns the server (stop it when done), or None in live mode.
    """
    os.environ.setdefault("COURSE_LOCAL_MODEL", "tiny-random")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if live_api():
        return None
    server = FakeLLMServer().start()
    os.environ.update(server.env())
    return server


# ---------------------------------------------------------------------------
# Demo
# ---------------------------------------------------------------------------
def demo() -> None:
    import anthropic
    import openai

    from genai.llm_api import ANTHROPIC_MODEL, OPENAI_MODEL

    with FakeLLMServer() as server:
        print(f"Fake Anthropic and OpenAI APIs on {server.anthropic_url}")
        client = anthropic.Anthropic(base_url=server.anthropic_url,
                                     api_key=server.api_key)
        message = client.messages.create(
            model=ANTHROPIC_MODEL, max_tokens=300,
            messages=[{"role": "user", "content": "What is generative AI?"}])
        print("Anthropic SDK:", message.content[0].text)
        print("  usage:", message.usage.input_tokens, "in,",
              message.usage.output_tokens, "out (estimated)")
        oclient = openai.OpenAI(base_url=server.openai_url,
                                api_key=server.api_key)
        completion = oclient.chat.completions.create(
            model=OPENAI_MODEL,
            messages=[{"role": "user", "content": "What is generative AI?"}])
        print("OpenAI SDK:", completion.choices[0].message.content)
        print("Requests served:", len(server.requests))


def serve(port: int = 8765) -> None:
    with FakeLLMServer(stream_delay=0.03, port=port) as server:
        print("Fake Anthropic and OpenAI APIs are running. In another shell:")
        for name, value in server.env().items():
            print(f"  export {name}={value}")
        print("Press Ctrl+C to stop.")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print("Stopped.")


if __name__ == "__main__":
    args = sys.argv[1:]
    if "--serve" in args:
        serve(int(args[args.index("--port") + 1]) if "--port" in args
              else 8765)
    else:
        demo()
