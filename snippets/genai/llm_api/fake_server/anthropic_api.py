"""The Anthropic Messages API's wire format: POST /v1/messages (JSON or
server-sent events, tool use) and POST /v1/messages/count_tokens.

A mixin of the fake server's request handler (genai.llm_api.fake_server.
server), which provides the plumbing: _send_json, _start_events,
_send_chunk, _end_events, and self.fake, the FakeLLMServer.
"""

from __future__ import annotations

import json

from genai.llm_api.fake_server.recordings import (BadRequest, estimate_tokens,
                                                  groups, is_tool_result,
                                                  pieces, stable_id, text_of)


class Anthropic:
    """What the server needs to know of this API besides its replies: which
    requests are its own, its routes (methods of AnthropicAPI), and how it
    words errors, authentication failures, scripted failures and its list
    of models. (server.APIS lists the APIs; a new one adds its own pair of
    classes and touches no other API.)"""
    name = "anthropic"
    routes = {"/v1/messages": "_anthropic_messages",
              "/v1/messages/count_tokens": "_anthropic_count"}
    failures = {    # status: (error type, message) of a scripted failure
        429: ("rate_limit_error", "Number of requests has exceeded your rate "
              "limit. Please try again later."),
        500: ("api_error", "Internal server error"),
        503: ("api_error", "Service unavailable"),
        529: ("overloaded_error", "Overloaded"),
    }

    @staticmethod
    def owns(path: str, headers) -> bool:
        return path.startswith("/v1/messages") or bool(headers.get("anthropic-version"))

    @staticmethod
    def owns_model(name: str) -> bool:
        return name.startswith("claude")

    @staticmethod
    def error_body(status: int, kind: str, message: str, request_id: str) -> dict:
        return {"type": "error", "error": {"type": kind, "message": message},
                "request_id": request_id}

    @staticmethod
    def unauthorised(key: str | None) -> tuple[str, str]:
        return "authentication_error", ("x-api-key header is required" if not key
                                        else "invalid x-api-key")

    @staticmethod
    def models(names: list[str]) -> dict:
        data = [{"type": "model", "id": name, "display_name": name,
                 "created_at": "2026-01-01T00:00:00Z"} for name in names]
        return {"data": data, "has_more": False,
                "first_id": names[0] if names else None,
                "last_id": names[-1] if names else None}


class AnthropicAPI:
    """The Anthropic routes of the fake server's handler."""

    def _anthropic_check(self, body: dict, need_max_tokens: bool):
        if not self.headers.get("anthropic-version"):
            raise BadRequest("anthropic-version: header is required")
        for field in ("model", "messages") + (
                ("max_tokens",) if need_max_tokens else ()):
            if field not in body:
                raise BadRequest(f"{field}: Field required")
        messages = body["messages"]
        if not isinstance(messages, list) or not messages:
            raise BadRequest("messages: at least one message is required")
        for i, message in enumerate(messages):
            role = message.get("role") if isinstance(message, dict) else None
            if role == "system":
                raise BadRequest(
                    f'messages.{i}.role: Unexpected role "system". The '
                    "Messages API accepts a top-level `system` parameter, "
                    'not "system" as an input message role.')
            if role not in ("user", "assistant"):
                raise BadRequest(f"messages.{i}.role: Input should be "
                                  "'user' or 'assistant'")
        tools = body.get("tools")
        if tools is not None and (not isinstance(tools, list) or not all(
                isinstance(tool, dict) for tool in tools)):
            raise BadRequest("tools: Input should be a valid list of objects")
        if need_max_tokens and (not isinstance(body["max_tokens"], int)
                                or body["max_tokens"] < 1):
            raise BadRequest("max_tokens: must be an integer of at least 1")
        if self.fake.models and body["model"] not in self.fake.models:
            raise BadRequest(f"model: {body['model']}", 404,
                              "not_found_error")
        for i, message in enumerate(messages):
            results = [b.get("tool_use_id") for b in
                       (message.get("content") if isinstance(
                           message.get("content"), list) else [])
                       if is_tool_result(b)]
            if not results:
                continue
            previous = messages[i - 1].get("content") if i else None
            asked = {b.get("id") for b in (previous if isinstance(
                previous, list) else []) if isinstance(b, dict)
                and b.get("type") == "tool_use"}
            unknown = [r for r in results if r not in asked]
            if unknown:
                raise BadRequest(
                    f"messages.{i}.content: unexpected `tool_use_id` found "
                    f"in `tool_result` blocks: {', '.join(map(str, unknown))}"
                    ". Each `tool_result` block must have a corresponding "
                    "`tool_use` block in the previous message.")

    @staticmethod
    def _anthropic_system(body: dict) -> str:
        return text_of(body.get("system", ""))

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
                is_tool_result(b) for b in last["content"]):
            tool_results = [text_of(b.get("content", ""))
                            for b in last["content"] if is_tool_result(b)]
        prompt, at = "", 0
        for at in range(len(messages) - 1, -1, -1):
            content = messages[at].get("content")
            if messages[at].get("role") == "user" and not (
                    isinstance(content, list)
                    and any(is_tool_result(b) for b in content)):
                prompt = text_of(content)
                break
        history = "\n".join(text_of(m.get("content")) for m in messages[:at])
        tools = {t.get("name") for t in body.get("tools") or []
                 if isinstance(t, dict)}
        plan = self.fake.plan(prompt, self._anthropic_system(body) or None,
                              tools, tool_results, history)
        usage_in = self._anthropic_input_tokens(body)
        msg_id = stable_id("msg_", body["model"], messages)
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
                               "id": stable_id("toolu_", msg_id, i),
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
                          for part in groups(pieces(block["text"]))]
            else:
                first = dict(block, input={})
                raw = json.dumps(block["input"])
                deltas = [{"type": "input_json_delta", "partial_json": part}
                          for part in ([""] + groups(pieces(raw)))]
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


if __name__ == "__main__":   # one raw exchange, as the SDK sends it
    from genai.cli import demo_arguments

    demo_arguments(__doc__)   # --help says what the demo does
    import urllib.request

    from genai.llm_api.calls import ANTHROPIC_MODEL
    from genai.llm_api.fake_server import FakeLLMServer

    with FakeLLMServer() as server:
        body = {"model": ANTHROPIC_MODEL, "max_tokens": 50,
                "messages": [{"role": "user",
                              "content": "What is generative AI?"}]}
        request = urllib.request.Request(
            server.anthropic_url + "/v1/messages", data=json.dumps(body).encode(), method="POST",
            headers={"x-api-key": server.api_key,
                     "anthropic-version": "2023-06-01",
                     "content-type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            print("POST", request.full_url, "->", response.status)
            print(json.dumps(json.loads(response.read()), indent=2)[:600])
