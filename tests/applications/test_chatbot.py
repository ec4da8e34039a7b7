"""The chatbot: the memory is trimmed to the token budget (oldest turns
first, the system prompt always counted, user first), replies stream
through the real SDK, the transcript is valid JSON Lines after every
message, the commands work, and bad input gets a clear error.

Tests that count requests or script failures start their own FakeLLMServer.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import anthropic
import pytest

from genai.applications.chatbot import (PERSONAS, SHOP, TUTOR, Chatbot, ChatError, chat_loop,
                                        estimate_tokens, main, message_tokens, trim_history)
from genai.llm_api.fake_server import FALLBACK, load_replies
from support import ROOT, claude

FALLBACK_START = FALLBACK.split("{")[0]
JACKET = "Hi! Can I return a jacket I bought three weeks ago?"
HOW = "Yes please. How do I start it?"


def run_cli(*args, stdin="", env=None, cwd=ROOT):
    return subprocess.run(
        [sys.executable, "-m", "genai.applications.chatbot", *args], cwd=cwd, input=stdin,
        capture_output=True, text=True, timeout=120,
        env={**os.environ, **(env or {})})


def turns(*texts):
    """Alternating user/assistant messages with these texts."""
    return [{"role": ("user", "assistant")[i % 2], "content": text}
            for i, text in enumerate(texts)]


def lines(*texts):
    """A `read` for chat_loop: these lines, then the end of the input."""
    queue = list(texts)

    def read(prompt):
        if not queue:
            raise EOFError
        return queue.pop(0)

    return read


# ---------------------------------------------------------------------------
# Token estimate and trimming
# ---------------------------------------------------------------------------
def test_the_estimate_is_four_characters_a_token():
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcd") == 1 and estimate_tokens("abcde") == 2
    assert message_tokens({"role": "user", "content": "x" * 40}) == 14


def test_trimming_drops_the_oldest_turns_and_keeps_the_alternation():
    history = turns("a" * 40, "b" * 40, "c" * 40, "d" * 40, "e" * 40)
    assert trim_history(history, 1000) == history  # all fits
    assert trim_history(history, 70) == history  # 5 x 14 tokens
    # 3 messages fit in 42..55 tokens: c, d, e (starts with a user turn)
    assert trim_history(history, 42) == history[2:]
    # 2 would fit (d, e), but d is the assistant's: only e is kept
    assert trim_history(history, 41) == history[4:]
    assert trim_history(history, 28) == history[4:]
    assert trim_history([], 1) == []


def test_trimming_counts_the_system_prompt_which_is_never_dropped():
    history = turns("a" * 40, "b" * 40, "c" * 40)
    system = "s" * 40  # 10 tokens
    assert trim_history(history, 42, system) == history[2:]
    assert trim_history(history, 52, system) == history
    with pytest.raises(ChatError, match="more than the budget of 23"):
        trim_history(history, 23, system)


@pytest.mark.parametrize("budget", [0, -5, 1.5, True, "100"])
def test_a_budget_must_be_a_positive_whole_number(budget):
    with pytest.raises(ChatError, match=r"budget must be a whole number "
                       r"of tokens >= 1"):
        trim_history([], budget)


# ---------------------------------------------------------------------------
# The bot: streaming, memory, transcript
# ---------------------------------------------------------------------------
def read_transcript(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_reply_streams_and_the_transcript_is_valid_after_each_message(
        server, tmp_path):
    path = tmp_path / "chat.jsonl"
    bot = Chatbot("shop", transcript=path, client=claude(server))
    assert read_transcript(path)[0]["persona"] == "shop"
    out = io.StringIO()
    reply = bot.say(JACKET, out=out)
    assert reply.startswith("Yes, you can! Returns are accepted within 30")
    assert out.getvalue() == f"bot> {reply}\n"
    entries = read_transcript(path)
    assert [e.get("role") for e in entries] == [None, "user", "assistant"]
    assert entries[2]["content"] == reply and "time" in entries[2]
    assert bot.say(HOW, out=out).startswith("Go to pebbleandpine.example")
    assert len(read_transcript(path)) == 5
    request = server.requests[-1]
    assert request["path"] == "/v1/messages"
    assert len(bot.messages) == 4
    assert [m["role"] for m in bot.messages] == ["user", "assistant"] * 2


def test_the_reply_arrives_in_pieces(server):
    client = claude(server)
    bot = Chatbot("tutor", client=client)

    class Pieces(io.StringIO):
        writes = []

        def write(self, text):
            self.writes.append(text)
            return super().write(text)

    out = Pieces()
    bot.say("How do I differentiate x^2 * sin(x)?", out=out)
    assert len([w for w in out.writes if w.strip()]) > 5
    assert "Which rule do you know" in out.getvalue()


def test_the_conversation_makes_sense_for_both_personas(server):
    shop = Chatbot("shop", client=claude(server))
    out = io.StringIO()
    replies = [shop.say(text, out=out) for text in (
        JACKET, HOW, "Do I pay for shipping on my next order?",
        "Where is my order?", "Thanks, that's all!")]
    tutor = Chatbot("tutor", client=claude(server))
    replies += [tutor.say(text, out=out) for text in (
        "How do I differentiate x^2 * sin(x)?", "The product rule?",
        "f' = 2x and g' = cos(x)", "2x sin(x) + x^2 cos(x)")]
    assert all(FALLBACK_START not in reply for reply in replies)
    assert "refund" in replies[1] and "4.90 euros" in replies[2]
    assert "(fg)' = f'g + fg'" in replies[7] and "well done" in replies[8]


def test_a_small_budget_forgets_old_turns_and_the_bot_with_them(server):
    size = estimate_tokens(SHOP) + message_tokens(
        {"content": JACKET}) + 5
    bot = Chatbot("shop", budget=size + 20, client=claude(server))
    out = io.StringIO()
    bot.say(JACKET, out=out)
    reply = bot.say(HOW, out=out)
    assert "(memory: forgot the 2 oldest messages)" in out.getvalue()
    assert reply.startswith("Happy to help, but I'm not sure")
    assert bot.messages[0] == {"role": "user", "content": HOW}
    sent = server.requests[-1]
    assert sent["path"] == "/v1/messages"


def test_empty_messages_are_ignored_and_reset_forgets(server, tmp_path):
    path = tmp_path / "t.jsonl"
    bot = Chatbot("shop", transcript=path, client=claude(server))
    assert bot.say("   ") is None
    assert server.requests == [] and bot.messages == []
    bot.say(JACKET, out=io.StringIO())
    bot.reset()
    assert bot.messages == []
    assert read_transcript(path)[-1]["event"] == "reset"
    assert bot.say(HOW, out=io.StringIO()).startswith("Happy to help")


def test_a_failed_call_leaves_the_memory_valid(server):
    bot = Chatbot("shop", client=claude(server))
    bot.say(JACKET, out=io.StringIO())
    server.fail_next(1, status=529)
    with pytest.raises(anthropic.APIStatusError):
        bot.say(HOW, out=io.StringIO())
    assert [m["role"] for m in bot.messages] == ["user", "assistant"]
    assert bot.say(HOW, out=io.StringIO()).startswith("Go to")


@pytest.mark.parametrize("persona", ["pirate", "", "Shop"])
def test_an_unknown_persona_is_refused(persona):
    with pytest.raises(ChatError, match="unknown persona .*; choose one of "
                       "shop, tutor"):
        Chatbot(persona, client=object())


def test_every_recording_is_for_a_persona():
    mine = [r for r in load_replies() if r.get("system") in (SHOP, TUTOR)]
    assert len(mine) == 11      # with the page's scripted "Hi!"
    assert set(PERSONAS) == {"shop", "tutor"}


# ---------------------------------------------------------------------------
# The loop and the command line
# ---------------------------------------------------------------------------
def test_the_loop_handles_commands_empty_lines_and_the_end_of_input(
        server):
    bot = Chatbot("shop", budget=400, client=claude(server))
    out = io.StringIO()
    chat_loop(bot, lines(JACKET, "", "/help", "x" * 2000, "/reset", HOW),
              out)
    text = out.getvalue()
    assert "(conversation forgotten)" in text
    assert "Happy to help, but I'm not sure" in text  # the jacket is gone
    assert "unknown command /help; use /reset or /quit" in text
    assert "error: the system prompt and your last message need more " \
        "than the budget of 400 tokens" in text
    assert text.count("bot> ") == 2 and text.endswith("\nBye.\n")
    assert len(server.requests) == 2


def test_a_scripted_session_through_stdin(server, tmp_path):
    path = tmp_path / "chat.jsonl"
    script = "\n".join([JACKET, HOW, "/reset", HOW, "", "/quit",
                        "never read"]) + "\n"
    result = run_cli("shop", "--transcript", str(path), stdin=script,
                     env=server.env())
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith(f"Chatting with the shop bot; transcript: {path}")
    assert f"you> {JACKET}\nbot> Yes, you can!" in out  # input is echoed
    assert "Returns are accepted within 30 days" in out
    assert "pebbleandpine.example/returns" in out
    assert "(conversation forgotten)" in out
    assert out.index("(conversation forgotten)") < out.index(
        "Happy to help, but I'm not sure")
    assert out.rstrip().endswith("Bye.") and "never read" not in out
    assert len(server.requests) == 3
    entries = read_transcript(path)
    assert [e.get("role") or e["event"] for e in entries] == [
        "start", "user", "assistant", "user", "assistant", "reset", "user",
        "assistant"]


def test_the_tutor_through_stdin_ends_at_the_end_of_input(server, tmp_path):
    script = "How do I differentiate x^2 * sin(x)?\nThe product rule?\n"
    result = run_cli("tutor", stdin=script, env=server.env(), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "What are f' and g'?" in result.stdout
    saved = list(tmp_path.glob("chat-tutor-*.jsonl"))  # the default name
    assert len(saved) == 1 and len(read_transcript(saved[0])) == 5


def test_help_describes_the_tool_with_examples():
    result = run_cli("--help")
    assert result.returncode == 0
    for text in ("customer-service bot", "--budget BUDGET", "examples:",
                 "/reset", "--transcript FILE.jsonl"):
        assert text in result.stdout


def test_no_arguments_runs_the_demo(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert f"you> {JACKET}\nbot> Yes, you can!" in out


@pytest.mark.parametrize("args, message", [
    (["pirate"], "unknown persona 'pirate'; choose one of shop, tutor"),
    (["shop", "--budget", "0"], "budget must be a whole number"),
    (["shop", "--budget", "-3"], "budget must be a whole number"),
])
def test_bad_arguments_give_one_line_and_exit_code_2(args, message, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_a_transcript_that_cannot_be_written_is_one_line(server, tmp_path,
                                                         capsys):
    path = tmp_path / "missing" / "t.jsonl"
    assert main(["shop", "--transcript", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("chatbot: error: [Errno")


def test_argparse_errors_and_a_missing_key_are_one_line_too():
    result = run_cli("shop", "--budget", "many")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "invalid int value: 'many'" in result.stderr
    result = run_cli("shop", env={"ANTHROPIC_API_KEY": ""})
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "export ANTHROPIC_API_KEY=" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_api_failure_ends_the_chat_with_one_line(server, tmp_path):
    server.fail_next(3, status=500, retry_after=0.01)  # 1 try + 2 retries
    path = tmp_path / "t.jsonl"
    result = run_cli("shop", "--transcript", str(path), stdin=JACKET + "\n",
                     env=server.env())
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert f"the transcript so far is in {path}" in result.stderr
    assert [e.get("role") for e in read_transcript(path)] == [None, "user"]


# ---------------------------------------------------------------------------
# --local: the course's own instruction-tuned model, offline
# ---------------------------------------------------------------------------
def test_local_mode_answers_offline_without_a_key_and_keeps_a_transcript(tmp_path):
    env = {"ANTHROPIC_API_KEY": "", "ANTHROPIC_BASE_URL": "http://127.0.0.1:9",
           "HF_HUB_OFFLINE": "1"}
    transcript = tmp_path / "local.jsonl"
    result = run_cli("--local", "--transcript", str(transcript),
                     stdin="Which city is Kenya's capital?\nCapital of Atlantis?\n/quit\n",
                     env=env)
    assert result.returncode == 0, result.stderr
    assert "bot> Nairobi.\n" in result.stdout
    assert "bot> I don't know.\n" in result.stdout
    entries = [json.loads(line) for line in transcript.read_text().splitlines()]
    assert [e.get("content") for e in entries[1:]] == [
        "Which city is Kenya's capital?", "Nairobi.", "Capital of Atlantis?", "I don't know."]


def test_local_mode_streams_token_by_token_and_sft_says_more_than_dpo():
    from genai.applications.chatbot import LocalChatbot

    pieces = []

    class Out(io.StringIO):
        def write(self, text):
            pieces.append(text)
            return super().write(text)

    sft, dpo = LocalChatbot(model="sft"), LocalChatbot(model="dpo")
    long = sft.say("Capital of Peru?", out=Out())
    assert long == "Lima. Lima is a city in South America."
    assert len([p for p in pieces if p.strip()]) > 5     # one piece per token
    assert dpo.say("Capital of Peru?", out=io.StringIO()) == "Lima."


def test_local_mode_with_memory_says_which_turns_it_dropped():
    from genai.applications.chatbot import LocalChatbot

    bot, out = LocalChatbot(memory=4), io.StringIO()
    for country in ["Peru", "Chile", "Japan"]:
        bot.say(f"Capital of {country}?", out=out)
    assert "(memory: the conversation is longer than the context of 32 tokens: dropped the 2 " \
        "oldest message(s))" in out.getvalue()
    with pytest.raises(ChatError, match="does not fit the context"):
        bot.say("What is the capital of France? " * 6, out=out)


@pytest.mark.parametrize("args, message", [
    (["--local", "shop"], "--local chats with the course's model, which has no persona"),
    (["--budget", "100"], "name a persona (shop or tutor), or use --local"),
    (["--local", "--model", "gpt4"], "invalid choice: 'gpt4'"),
])
def test_local_mode_bad_command_lines_are_one_line(args, message):
    result = run_cli(*args)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr
