"""The fake server itself: FakeLLMServer, its HTTP plumbing, scripted
failures, and the command line. Each API (APIS) lives in its own module,
anthropic_api.py and openai_api.py: its routes and wire format, and how it
words errors, authentication failures, scripted failures and its list of
models; the server asks the request's API and never branches on its name.
The recordings are in recordings.py.

    python -m genai.llm_api.fake_server           # a short demo with both SDKs
    python -m genai.llm_api.fake_server --serve   # keep running on port 8765
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from genai.cli import OneLineParser, stoppable, stopped
from genai.llm_api.fake_server.anthropic_api import Anthropic, AnthropicAPI
from genai.llm_api.fake_server.openai_api import OpenAI, OpenAIAPI
from genai.llm_api.fake_server.recordings import (REPLIES_DIR, BadRequest,
                                                  FakeServerError,
                                                  load_replies, stable_id)

FAKE_API_KEY = "fake-key-for-the-local-test-server"
MAX_BODY = 8 * 1024 * 1024      # bytes of a request body, at most
ENV_VARS = ("ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY",
            "OPENAI_BASE_URL", "OPENAI_API_KEY")
# The APIs the server speaks: a request is the first one's that owns() it
# (OpenAI owns whatever no other API claims: it comes last)
APIS = (Anthropic, OpenAI)
FALLBACK = ("[fake server] No recorded reply for this prompt. This local "
            "test server only knows the prompts recorded in "
            "snippets/genai/llm_api/fake_server/replies/*.json. You asked: {prompt}")


# ---------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------
class FakeLLMServer:
    """Both fake APIs on one local port; use it as a context manager.

    >>> with FakeLLMServer() as server:
    ...     client = anthropic.Anthropic(base_url=server.anthropic_url,
    ...                                  api_key=server.api_key)

    FakeLLMServer.served counts the requests that every fake server of this
    process has answered (the tests use it to find the pages' outputs that
    come from recordings).
    """

    served = 0

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
        self.received = 0                 # POSTs read, answered or not yet
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
        scriptable = set.intersection(*(set(known.failures) for known in APIS))
        if status not in scriptable:
            raise FakeServerError(f"status {status} cannot be scripted; "
                                  f"choose one of {sorted(scriptable)}")
        names = [known.name for known in APIS]
        if api is not None and api not in names:
            raise FakeServerError(f"api={api!r}: use "
                                  f"{', '.join(map(repr, names))} or None (all)")
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
        if item is None:   # an error, never text that could pass for a model's answer
            raise BadRequest(FALLBACK.format(prompt=prompt[:200]), 404, "not_found_error")
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


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128   # the listen() backlog: 64 clients at once all get answers

    def handle_error(self, request, client_address):
        pass  # a client that hung up (e.g. after its timeout) is not news


class _Handler(AnthropicAPI, OpenAIAPI, BaseHTTPRequestHandler):
    fake: FakeLLMServer
    protocol_version = "HTTP/1.1"
    timeout = 30

    def log_message(self, format, *args):
        pass  # quiet: and the request line never holds the key anyway

    # -- plumbing -----------------------------------------------------------
    def _request_id(self) -> str:
        """Deterministic: the same request gets the same id (pages print it)."""
        return stable_id("req_", self.path, getattr(self, "body", None),
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
        self.streaming = True    # from here on, an error cannot be a response of its own
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
            FakeLLMServer.served += 1
            self.fake.requests.append({
                "api": self._api().name, "method": self.command,
                "path": self.path, "status": status,
                "retry": int(self.headers.get("x-stainless-retry-count") or 0)})

    def _api(self):
        """The API this request is for (one of APIS)."""
        return next(known for known in APIS if known.owns(self.path, self.headers))

    def _read_body(self):
        """The JSON body (None if it is not JSON). Reads exactly the
        declared Content-Length, never more, and refuses a length that is
        missing a number, negative, or over MAX_BODY (BadRequest)."""
        declared = self.headers.get("content-length", "0").strip()
        # ASCII digits only ("²".isdigit() is true), and few of them
        if not re.fullmatch(r"[0-9]{1,15}", declared):   # "abc", "-5", "1e9", ""
            raise BadRequest(f"Content-Length must be a whole number of "
                             f"bytes, got {declared[:40]!r}")
        if int(declared) > MAX_BODY:
            raise BadRequest(f"the body is over {MAX_BODY:,} bytes", 413,
                             "request_too_large")
        raw = self.rfile.read(int(declared))
        try:
            return json.loads(raw.decode("utf-8")) if raw else None
        # not JSON, not UTF-8, nested too deep, a number of 5,000 digits
        except (ValueError, RecursionError):
            return None

    def _error(self, status: int, kind: str, message: str,
               headers=None) -> None:
        body = self._api().error_body(status, kind, message, self._request_id())
        self._send_json(status, body, headers)

    def _authorised(self) -> bool:
        """Check the key; answer 401 (without echoing the key) if wrong."""
        key = self.headers.get("x-api-key")
        bearer = self.headers.get("authorization", "")
        if bearer.lower().startswith("bearer "):
            key = key or bearer[7:].strip()
        if key == self.fake.api_key:
            return True
        self._error(401, *self._api().unauthorised(key))
        return False

    def _scripted_failure(self) -> bool:
        api = self._api()
        failure = self.fake._take_failure(api.name)
        if failure is None:
            return False
        status, retry_after = failure
        headers = {}
        if retry_after is not None:
            headers["retry-after"] = f"{retry_after:g}"
        self._error(status, *api.failures[status], headers)
        return True

    # -- routes -------------------------------------------------------------
    def do_GET(self):
        if self.fake.delay:
            time.sleep(self.fake.delay)
        if self.path.split("?")[0] != "/v1/models":
            return self._error(404, "not_found_error", "Not found")
        if not self._authorised():
            return
        api = self._api()
        names = sorted(name for name in self.fake.models if api.owns_model(name))
        return self._send_json(200, api.models(names))

    def do_POST(self):
        self.streaming = False
        try:
            body = self.body = self._read_body()
        except BadRequest as err:     # the rest of the stream is unknown
            self.body, self.close_connection = None, True
            return self._error(err.status, err.kind, str(err))
        with self.fake._lock:
            self.fake.received += 1
        if self.fake.delay:
            time.sleep(self.fake.delay)
        path = self.path.split("?")[0]
        routes = {route: getattr(self, method) for known in APIS
                  for route, method in known.routes.items()}
        if path not in routes:
            return self._error(404, "not_found_error", f"Not found: {path}")
        if not self._authorised() or self._scripted_failure():
            return
        if not isinstance(body, dict):
            return self._error(400, "invalid_request_error",
                               "The request body is not valid JSON.")
        try:
            routes[path](body)
        except (BadRequest, AttributeError, KeyError, TypeError, ValueError,
                OverflowError, RecursionError) as err:
            if self.streaming:   # a bug of ours mid-stream: end it, never a second answer
                self.close_connection = True
            elif isinstance(err, BadRequest):
                self._error(err.status, err.kind, str(err))
            else:
                # a shape the real API would refuse: refuse it too, and stay up
                self._error(400, "invalid_request_error",
                            f"The request does not have the API's shape "
                            f"({type(err).__name__}: {str(err)[:200]}).")


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


# ---------------------------------------------------------------------------
# Demo
# ---------------------------------------------------------------------------
def demo() -> None:
    import anthropic
    import openai

    from genai.llm_api.calls import ANTHROPIC_MODEL, OPENAI_MODEL

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
        print("Press Ctrl+C to stop.", flush=True)
        while True:
            time.sleep(3600)


def port_number(text: str) -> int:
    """An argparse type: a TCP port, 1 to 65535."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") \
            from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 1 to 65535, got {port}")
    return port


def build_parser() -> OneLineParser:
    parser = OneLineParser(
        prog="python -m genai.llm_api.fake_server",
        description="A local stand-in for the Anthropic and OpenAI APIs. "
        "With no option, a short demo with both SDKs.")
    parser.add_argument("--serve", action="store_true",
                        help="keep running, and print the variables to set")
    parser.add_argument("--port", type=port_number, default=8765,
                        help="with --serve (default: 8765)")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if not args.serve:
        demo()
        return 0
    with stoppable():
        try:
            serve(args.port)
        except OSError as error:    # the port is taken, or not ours to use
            print(f"fake_server: error: cannot listen on 127.0.0.1:"
                  f"{args.port} ({error.strerror or error})", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            return stopped()
    return 0


if __name__ == "__main__":
    sys.exit(main())
