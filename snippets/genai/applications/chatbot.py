"""A chatbot in the terminal: a customer-service bot for a made-up shop and
a tutor who asks guiding questions, with a memory that fits a token budget,
streamed replies and a transcript saved after every message.

    python -m genai.applications.chatbot              # a demo: one question, one reply
    python -m genai.applications.chatbot shop         # chat with the shop's assistant
    python -m genai.applications.chatbot tutor --budget 1500 --transcript tutor.jsonl
    python -m genai.applications.chatbot --local      # the course's own model
    python -m genai.applications.chatbot --help

It calls the Anthropic API through the SDK (`anthropic.Anthropic()` reads
ANTHROPIC_API_KEY). Without a key, the demo uses the course's local fake
server; a chat asks you to set the key. --local chats with the course's
instruction-tuned GPT instead (genai.llm.instruct): offline, no key.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

import anthropic

from genai.cli import OneLineParser, printable, stoppable, utf8
from genai.llm_api.calls import (ANTHROPIC_MODEL, MissingAPIKeyError,
                                 check_api_key)


class ChatError(ValueError):
    """The chatbot got input it cannot use (a persona, a budget, a file)."""


# --8<-- [start:personas]
SHOP = """You are Pip, the customer-service assistant of Pebble & Pine, an
online shop for outdoor gear. Be friendly and brief: at most four sentences.
The shop's policies, which are the only ones you may state:
- Returns: within 30 days of delivery, unused, with the tags on. Customers
  start a return at pebbleandpine.example/returns with their order number.
  Refunds reach the original payment method within 5 working days.
- Shipping: free on orders over 50 euros, otherwise 4.90 euros; delivery
  takes 2 to 4 working days within the EU.
- You cannot see orders or accounts. For anything you cannot answer, give
  the support address help@pebbleandpine.example.
Never invent discounts, policies or order details."""

TUTOR = """You are a patient maths tutor for secondary-school students.
Never give the final answer. Help the student find it: ask one guiding
question at a time, confirm what is right, and point gently at a mistake
without fixing it for them. Keep each reply to at most three sentences.
When the student reaches the answer, congratulate them and ask them to say
in their own words why it works."""

PERSONAS = {"shop": SHOP, "tutor": TUTOR}
# --8<-- [end:personas]


# --8<-- [start:tokens]
def estimate_tokens(text):
    """About 4 characters per token, as for English text with most
    tokenizers; a rough count, so leave a margin in the budget."""
    return math.ceil(len(text) / 4)


def message_tokens(message):
    """A message's text, plus a few tokens for its role and framing."""
    return estimate_tokens(message["content"]) + 4
# --8<-- [end:tokens]


# --8<-- [start:trim]
def trim_history(messages, budget, system=""):
    """The most recent messages that fit `budget` tokens with `system`.

    Drops the oldest messages first. The result starts with a user
    message, as the API requires, and always holds the last message.
    """
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise ChatError(f"budget must be a whole number of tokens >= 1, "
                        f"got {budget!r}")
    room = budget - estimate_tokens(system)
    kept = []
    for message in reversed(messages):
        room -= message_tokens(message)
        if room < 0:
            break
        kept.append(message)
    kept.reverse()
    while kept and kept[0]["role"] != "user":
        kept.pop(0)  # an assistant turn cannot open the conversation
    if messages and not kept:
        raise ChatError(f"the system prompt and your last message need "
                        f"more than the budget of {budget} tokens")
    return kept
# --8<-- [end:trim]


# --8<-- [start:bot]
class Chatbot:
    """A conversation with one persona; `say` sends a message."""

    def __init__(self, persona="shop", budget=2000, transcript=None,
                 client=None, max_tokens=500):
        if persona not in PERSONAS:
            raise ChatError(f"unknown persona {persona!r}; choose one of "
                            f"{', '.join(PERSONAS)}")
        trim_history([], budget)  # checks the budget
        self.system, self.budget = PERSONAS[persona], budget
        self.max_tokens = max_tokens
        self.transcript = Path(transcript) if transcript else None
        self.client = client or anthropic.Anthropic()
        self.messages = []
        self.record({"event": "start", "persona": persona})

    def record(self, entry):
        """Append one JSON line to the transcript and flush it to disk."""
        if self.transcript is None:
            return
        entry = {"time": datetime.now(timezone.utc).isoformat(
            timespec="seconds"), **entry}
        with self.transcript.open("a", encoding="utf-8") as file:
            file.write(json.dumps(entry, ensure_ascii=False) + "\n")
            file.flush()
            os.fsync(file.fileno())

    def say(self, text, out=None):
        """Stream the reply to `text` to `out` (default: the terminal) and
        return it; an empty text is ignored (None)."""
        out = sys.stdout if out is None else out
        text = text.strip()
        if not text:
            return None  # an empty line is not a message
        asked = self.messages + [{"role": "user", "content": text}]
        kept = trim_history(asked, self.budget, self.system)
        if len(kept) < len(asked):
            print(f"(memory: forgot the {len(asked) - len(kept)} oldest "
                  "messages)", file=out)
        self.messages = kept
        self.record({"role": "user", "content": text})
        print("bot> ", end="", file=out, flush=True)
        try:
            with self.client.messages.stream(
                    model=ANTHROPIC_MODEL, max_tokens=self.max_tokens,
                    system=self.system, messages=self.messages) as stream:
                for piece in stream.text_stream:   # the model's text: no escapes
                    print(printable(piece), end="", file=out, flush=True)
        except BaseException:
            self.messages.pop()  # no reply: keep user/assistant alternation
            raise
        print(file=out)
        reply = stream.get_final_message().content[0].text
        self.messages.append({"role": "assistant", "content": reply})
        self.record({"role": "assistant", "content": reply})
        return reply

    def reset(self):
        """Forget the conversation; the persona stays."""
        self.messages = []
        self.record({"event": "reset"})
# --8<-- [end:bot]


class LocalChatbot(Chatbot):
    """The same chat with the course's instruction-tuned GPT, on this
    machine: no key, no server. The model was tuned on conversations of one
    question and its context holds 32 tokens, so by default it reads only
    your last message (memory=0 earlier turns); with memory > 0 it reads
    that many earlier messages too, as far as they fit (older ones are
    dropped, and it says so)."""

    def __init__(self, transcript=None, model="dpo", memory=0):
        if model not in ("dpo", "sft"):
            raise ChatError(f"unknown local model {model!r}: dpo or sft")
        from genai.llm.instruct import assistant
        from genai.llm.preference import preferred

        tuned = preferred() if model == "dpo" else assistant()
        self.model, self.tokenizer = tuned.model, tuned.tokenizer
        self.memory = memory
        self.transcript = Path(transcript) if transcript else None
        self.messages = []
        self.record({"event": "start", "model": f"local {model}"})

    def say(self, text, out=None):
        import warnings

        from genai.llm.instruct import (END, ChatFormatError, fit_context,
                                        reply_tokens)

        out = sys.stdout if out is None else out
        text = text.strip()
        if not text:
            return None
        earlier = self.messages[-self.memory:] if self.memory else []
        asked = earlier + [{"role": "user", "content": text}]
        with warnings.catch_warnings(record=True) as dropped:
            warnings.simplefilter("always")
            try:     # the oldest turns go when the context is full
                kept = fit_context(asked, self.tokenizer,
                                   self.model.config.block_size)
            except ChatFormatError as error:
                raise ChatError(str(error)) from None
        for warning in dropped:
            print(f"(memory: {warning.message})", file=out)
        self.messages = kept
        self.record({"role": "user", "content": text})
        print("bot> ", end="", file=out, flush=True)
        new, end = [], self.tokenizer.special_tokens[END]
        for token in reply_tokens(self.model, self.tokenizer, kept):
            if token == end:
                break
            shown = self.tokenizer.decode(new)
            new.append(token)
            print(printable(self.tokenizer.decode(new)[len(shown):]), end="",
                  file=out, flush=True)
        print(file=out)
        reply = self.tokenizer.decode(new)
        self.messages.append({"role": "assistant", "content": reply})
        self.record({"role": "assistant", "content": reply})
        return reply


# --8<-- [start:loop]
def chat_loop(bot, read=input, out=None):
    """Read lines until /quit or the end of the input; answer each one."""
    out = sys.stdout if out is None else out
    print("Type a message; /reset forgets the conversation, /quit ends it.",
          file=out)
    while True:
        try:
            line = read("you> ").strip()
        except EOFError:  # Ctrl+D, or the end of piped input
            print(file=out)
            break
        if line == "/quit":
            break
        if line == "/reset":
            bot.reset()
            print("(conversation forgotten)", file=out)
        elif line.startswith("/"):
            print(f"unknown command {line}; use /reset or /quit", file=out)
        else:
            try:
                bot.say(line, out=out)
            except ChatError as error:  # e.g. a message over the budget
                print(f"error: {error}", file=out)
    print("Bye.", file=out)
# --8<-- [end:loop]


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------
EXAMPLES = """examples:
  python -m genai.applications.chatbot shop
  python -m genai.applications.chatbot tutor --budget 1500 --transcript tutor.jsonl
  printf 'Hi!\\n/quit\\n' | python -m genai.applications.chatbot shop
  python -m genai.applications.chatbot --local

Commands in a chat: /reset forgets the conversation, /quit ends it (so
does Ctrl+D). With no arguments it runs a short demo. It needs
ANTHROPIC_API_KEY; the demo uses the course's local fake server when the
key is not set."""


def build_parser():
    parser = OneLineParser(
        prog="python -m genai.applications.chatbot",
        description="Chat in the terminal with a customer-service bot\n"
        "(shop) or a maths tutor (tutor). Replies stream as they are\n"
        "written; old turns are forgotten to fit a token budget; every\n"
        "message is saved to a JSON Lines transcript.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("persona", nargs="?", help="shop or tutor (not "
                        "with --local)")
    parser.add_argument("--local", action="store_true", help="chat offline "
                        "with the course's own instruction-tuned GPT")
    parser.add_argument("--model", choices=["dpo", "sft"], default="dpo",
                        help="with --local: after preference tuning (dpo, "
                        "the default) or before it (sft)")
    parser.add_argument("--budget", type=int, default=2000,
                        help="tokens of memory: system prompt plus kept "
                        "messages, estimated at 4 characters a token "
                        "(default: 2000)")
    parser.add_argument("--transcript", metavar="FILE.jsonl",
                        help="where to save the chat (default: "
                        "chat-PERSONA-DATE-TIME.jsonl here)")
    return parser


def demo():
    """No arguments: the shop's bot answers one question."""
    from genai.llm_api.fake_server import unless_api_key

    with unless_api_key():
        print("Demo: one question to the shop's bot. To chat, run "
              "`python -m genai.applications.chatbot shop`; see --help.\n")
        question = "Hi! Can I return a jacket I bought three weeks ago?"
        print("you>", question)
        Chatbot("shop").say(question)
    return 0


def checked(read):
    """read, refusing lines that are not UTF-8 text (bytes that are not
    UTF-8 arrive as a decoding error, or as lone surrogates)."""
    def read_utf8(prompt):
        line = read(prompt)
        if not utf8(line):
            raise UnicodeError("not UTF-8")
        return line
    return read_utf8


def echo(prompt):
    """input() for piped input: show each line read, as a terminal would."""
    line = input(prompt)
    print(line)
    return line


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv:
        return demo()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.local and args.persona:
        parser.error("--local chats with the course's model, which has no "
                     "persona: leave out the persona")
    if not args.local and not args.persona:
        parser.error("name a persona (shop or tutor), or use --local")
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    name = "local" if args.local else args.persona
    transcript = args.transcript or f"chat-{name}-{stamp}.jsonl"
    try:
        if args.local:
            bot = LocalChatbot(transcript, args.model)
            print(f"Chatting offline with the course's {args.model} model. "
                  f"It knows 60 capitals and answers each question on its "
                  f"own; transcript: {transcript}")
        elif args.persona not in PERSONAS:  # before the key: a clearer error
            raise ChatError(f"unknown persona {args.persona!r}; choose one "
                            f"of {', '.join(PERSONAS)}")
        else:
            trim_history([], args.budget)
            check_api_key()
            bot = Chatbot(args.persona, args.budget, transcript)
            print(f"Chatting with the {args.persona} bot; transcript: "
                  f"{transcript}")
        with stoppable():      # SIGTERM, like Ctrl-C, keeps the transcript
            chat_loop(bot, read=checked(input if sys.stdin.isatty() else echo))
    except UnicodeError:
        print(f"chatbot: error: the input is not UTF-8 text; the transcript "
              f"so far is in {transcript}", file=sys.stderr)
        return 2
    except MissingAPIKeyError as error:   # and the course's own model, which needs none
        print(f"chatbot: error: {error} Or chat with the course's own model: "
              f"--local.", file=sys.stderr)
        return 2
    except (ChatError, OSError) as error:
        print(f"chatbot: error: {error}", file=sys.stderr)
        return 2
    except anthropic.APIError as error:
        print(f"chatbot: the API call failed ({error}); the transcript "
              f"so far is in {transcript}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\nStopped. The transcript is in {transcript}")
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
