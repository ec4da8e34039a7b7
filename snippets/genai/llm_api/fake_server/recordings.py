"""The fake server's recorded replies, and what both wire formats share.

Every file in replies/*.json (beside this module) holds a list of
{"prompt": ..., "reply": ...} objects, with optional "system", "context",
"tool_use" and "preamble" (see genai.llm_api.fake_server). Token counts are
an estimate: words cut into pieces of up to four letters.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

REPLIES_DIR = Path(__file__).resolve().parent / "replies"


class FakeServerError(ValueError):
    """A recordings file or a scripted failure is not what the server needs."""


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


def text_of(content) -> str:
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
                    parts.append(text_of(block.get("content", "")))
        return "\n".join(parts)
    return ""


def stable_id(prefix: str, *parts: object) -> str:
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True,
                                       default=str).encode()).hexdigest()
    return prefix + digest[:24]


class BadRequest(Exception):
    """A request the real API would refuse: its status and error kind."""

    def __init__(self, message: str, status: int = 400,
                 kind: str = "invalid_request_error"):
        super().__init__(message)
        self.status, self.kind = status, kind


def is_tool_result(block) -> bool:
    return isinstance(block, dict) and block.get("type") == "tool_result"


def groups(parts: list[str], size: int = 3) -> list[str]:
    """Streamed deltas carry a few token-like pieces each."""
    return ["".join(parts[i:i + size]) for i in range(0, len(parts), size)]


if __name__ == "__main__":
    from genai.cli import demo_arguments

    demo_arguments(__doc__)   # --help says what the demo does
    recordings = load_replies()
    files = sorted(p.name for p in REPLIES_DIR.glob("*.json"))
    print(f"{len(recordings)} recorded replies in {len(files)} files: "
          f"{', '.join(files)}")
    text = "Generative AI makes new data."
    print(f"{text!r} -> {pieces(text)}: about {estimate_tokens(text)} tokens")
