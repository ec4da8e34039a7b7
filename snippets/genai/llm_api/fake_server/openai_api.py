"""The OpenAI Chat Completions API's wire format: POST /v1/chat/completions
(JSON or server-sent events ending with [DONE], tool calls).

A mixin of the fake server's request handler (genai.llm_api.fake_server.
server), which provides the plumbing: _send_json, _start_events,
_send_chunk, _end_events, and self.fake, the FakeLLMServer.
"""

from __future__ import annotations

import json

from genai.llm_api.fake_server.recordings import (BadRequest, estimate_tokens,
                                                  groups, pieces, stable_id,
                                                  text_of)

CREATED = 1767225600  # a fixed timestamp (2026-01-01) for OpenAI's `created`


class OpenAI:
    """What the server needs to know of this API besides its replies (see
    anthropic_api.Anthropic). It owns every request no other API claims,
    so server.APIS lists it last."""
    name = "openai"
    routes = {"/v1/chat/completions": "_openai_chat"}
    failures = {
        429: ("rate_limit_exceeded", "Rate limit reached for requests. "
              "Please try again later."),
        500: ("server_error", "The server had an error while processing "
              "your request. Sorry about that!"),
        503: ("server_error", "The server is overloaded or not ready yet."),
        529: ("server_error", "The server is overloaded or not ready yet."),
    }

    @staticmethod
    def owns(path: str, headers) -> bool:
        return True

    @staticmethod
    def owns_model(name: str) -> bool:
        return not name.startswith("claude")

    @staticmethod
    def error_body(status: int, kind: str, message: str, request_id: str) -> dict:
        if status == 401:        # OpenAI's own words for a bad key
            return {"error": {"message": message, "type": "invalid_request_error",
                              "param": None, "code": "invalid_api_key"}}
        return {"error": {"message": message, "type": kind, "param": None, "code": kind}}

    @staticmethod
    def unauthorised(key: str | None) -> tuple[str, str]:
        return "invalid_request_error", ("You didn't provide an API key." if not key
                                         else "Incorrect API key provided.")

    @staticmethod
    def models(names: list[str]) -> dict:
        return {"object": "list", "data": [
            {"id": name, "object": "model", "created": CREATED, "owned_by": "openai"}
            for name in names]}


class OpenAIAPI:
    """The OpenAI routes of the fake server's handler."""

    def _openai_chat(self, body: dict) -> None:
        """POST /v1/chat/completions: check the request, plan the reply from
        the recordings, answer it whole or as server-sent events."""
        self._openai_check(body)
        messages = body["messages"]
        system = "\n".join(text_of(m.get("content")) for m in messages
                           if m.get("role") in ("system", "developer"))
        at = next((i for i in range(len(messages) - 1, -1, -1)
                   if messages[i].get("role") == "user"), 0)
        prompt = text_of(messages[at].get("content"))
        history = "\n".join(text_of(m.get("content")) for m in messages[:at]
                            if m.get("role") not in ("system", "developer"))
        tool_results = None
        if messages[-1].get("role") == "tool":
            tool_results = [text_of(m.get("content")) for m in messages[at:]
                            if m.get("role") == "tool"]
        tools = {t.get("function", {}).get("name")
                 for t in body.get("tools") or [] if isinstance(t, dict)}
        plan = self.fake.plan(prompt, system or None, tools, tool_results,
                              history)
        reply = self._openai_reply(body, plan)
        if body.get("stream"):
            self._openai_stream(body, **reply)
            return
        message = {"role": "assistant", "content": reply["text"] or None,
                   "refusal": None, "annotations": []}
        if reply["calls"]:
            message["tool_calls"] = reply["calls"]
        self._send_json(200, dict(
            reply["head"], object="chat.completion", usage=reply["usage"],
            choices=[{"index": 0, "message": message, "logprobs": None,
                      "finish_reason": reply["finish"]}]))

    def _openai_check(self, body: dict) -> None:
        """Refuse what the real API refuses (BadRequest), in its words."""
        for field in ("model", "messages"):
            if field not in body:
                raise BadRequest(f"Missing required parameter: '{field}'.",
                                  kind="invalid_request_error")
        messages = body["messages"]
        if not isinstance(messages, list) or not messages:
            raise BadRequest("Invalid 'messages': empty array. Expected an "
                              "array with minimum length 1.",
                              kind="invalid_request_error")
        for i, message in enumerate(messages):
            if not isinstance(message, dict) or "role" not in message:
                raise BadRequest(f"Invalid 'messages[{i}]': expected an "
                                 "object with a 'role'.")
        tools = body.get("tools")
        if tools is not None and (not isinstance(tools, list) or not all(
                isinstance(tool, dict) for tool in tools)):
            raise BadRequest("Invalid 'tools': expected an array of objects.")
        # checked here, before a stream's first byte: no error can follow it
        options = body.get("stream_options")
        if options is not None and (not isinstance(options, dict) or not isinstance(
                options.get("include_usage", False), bool)):
            raise BadRequest("Invalid 'stream_options': expected an object with a "
                             "boolean 'include_usage'.")
        if self.fake.models and body["model"] not in self.fake.models:
            raise BadRequest(f"The model `{body['model']}` does not exist "
                              "or you do not have access to it.", 404,
                              "model_not_found")
        called: set = set()
        for message in messages:
            if message.get("role") == "assistant":
                called = {c.get("id") for c in message.get("tool_calls") or []}
            elif message.get("role") == "tool" and \
                    message.get("tool_call_id") not in called:
                raise BadRequest(
                    "Invalid parameter: messages with role 'tool' must be a "
                    "response to a preceding message with 'tool_calls'.",
                    kind="invalid_request_error")

    @staticmethod
    def _openai_reply(body: dict, plan: dict) -> dict:
        """The reply's text, tool calls, finish reason, usage and head."""
        messages = body["messages"]
        usage_in = estimate_tokens(json.dumps(messages) + json.dumps(
            body.get("tools", []))) // 2 + 3 * len(messages)
        chat_id = stable_id("chatcmpl-", body["model"], messages)
        budget = body.get("max_completion_tokens") or body.get("max_tokens")
        text, finish = plan.get("text", ""), "stop"
        if budget and len(pieces(text)) > budget:
            text, finish = "".join(pieces(text)[:budget]), "length"
        calls = []
        if plan["calls"] and finish != "length":
            calls = [{"id": stable_id("call_", chat_id, i),
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
        return {"text": text, "calls": calls, "finish": finish, "usage": usage,
                "head": head}

    def _openai_stream(self, body: dict, text: str, calls: list, finish: str,
                       usage: dict, head: dict) -> None:
        """The reply as chunks of server-sent events, ending with [DONE]."""
        self._start_events()

        def chunk(delta, finish_reason=None, **extra):
            data = dict(head, object="chat.completion.chunk",
                        choices=[{"index": 0, "delta": delta,
                                  "logprobs": None,
                                  "finish_reason": finish_reason}], **extra)
            self._send_chunk(f"data: {json.dumps(data)}\n\n")

        chunk({"role": "assistant", "content": "", "refusal": None})
        for part in groups(pieces(text)):
            chunk({"content": part})
        for i, call in enumerate(calls):
            chunk({"tool_calls": [{"index": i, "id": call["id"],
                                   "type": "function",
                                   "function": {"name": call["function"][
                                       "name"], "arguments": ""}}]})
            for part in groups(pieces(call["function"]["arguments"])):
                chunk({"tool_calls": [{"index": i,
                                       "function": {"arguments": part}}]})
        chunk({}, finish)
        if (body.get("stream_options") or {}).get("include_usage"):
            data = dict(head, object="chat.completion.chunk", choices=[],
                        usage=usage)
            self._send_chunk(f"data: {json.dumps(data)}\n\n")
        self._send_chunk("data: [DONE]\n\n")
        self._end_events()


if __name__ == "__main__":   # one raw exchange, as the SDK sends it
    from genai.cli import demo_arguments

    demo_arguments(__doc__)   # --help says what the demo does
    import urllib.request

    from genai.llm_api.calls import OPENAI_MODEL
    from genai.llm_api.fake_server import FakeLLMServer

    with FakeLLMServer() as server:
        body = {"model": OPENAI_MODEL,
                "messages": [{"role": "user",
                              "content": "What is generative AI?"}]}
        request = urllib.request.Request(
            server.openai_url + "/chat/completions", data=json.dumps(body).encode(), method="POST",
            headers={"authorization": f"Bearer {server.api_key}",
                     "content-type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            print("POST", request.full_url, "->", response.status)
            print(json.dumps(json.loads(response.read()), indent=2)[:600])
