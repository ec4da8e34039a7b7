"""Calling an LLM from Python: hosted APIs through the official SDKs, and a
local open model through Hugging Face transformers.

This module is the course's one place for model names and example prices.
The SDK clients read their keys from the environment (ANTHROPIC_API_KEY,
OPENAI_API_KEY); the course's tests point them at a local fake server
(genai.llm_api.fake_server), so nothing here needs a key to run in the tests.

    python -m genai.llm_api.calls     # one call (your key, or the fake server)
"""

from __future__ import annotations

import os

# --8<-- [start:models]
ANTHROPIC_MODEL = "claude-sonnet-5-5"
OPENAI_MODEL = "gpt-5.4-mini"
LOCAL_MODEL = "HuggingFaceTB/SmolLM2-360M-Instruct"  # open, about 720 MB
# --8<-- [end:models]

# --8<-- [start:prices]
# Example prices in US dollars per million tokens: (input, output).
# They were typical list prices in 2025. Prices change: check the
# provider's pricing page before you rely on a number computed here.
PRICES_NOTED = "2025"
PRICES = {
    ANTHROPIC_MODEL: (3.00, 15.00),
    OPENAI_MODEL: (0.25, 2.00),
}
# --8<-- [end:prices]

API_KEY_HELP = {
    "ANTHROPIC_API_KEY": "https://console.anthropic.com/settings/keys",
    "OPENAI_API_KEY": "https://platform.openai.com/api-keys",
}


class MissingAPIKeyError(ValueError):
    """An SDK needs a key that the environment does not hold."""


class UnknownPriceError(ValueError):
    """estimate_cost() has no price for this model."""


# --8<-- [start:check_key]
def check_api_key(name: str = "ANTHROPIC_API_KEY") -> None:
    """Fail early, with the fix, when the environment holds no key."""
    if name not in API_KEY_HELP:
        raise ValueError(f"unknown key variable {name!r}; "
                         f"choose one of {sorted(API_KEY_HELP)}")
    if not os.environ.get(name, "").strip():
        raise MissingAPIKeyError(
            f"{name} is not set. Create a key at {API_KEY_HELP[name]}, "
            f"then run `export {name}=...` in the shell that starts "
            "Python (never write the key into your code). Without a key: "
            "`python -m genai.llm_api.fake_server --serve` starts the "
            "course's local test server, and the `export` lines it prints "
            "point the SDKs at it (recorded replies only).")
# --8<-- [end:check_key]


# --8<-- [start:cost]
def estimate_cost(usage, model: str) -> float:
    """Estimated price in US dollars of one call, from its `usage`.

    Works with both SDKs: Anthropic reports input_tokens/output_tokens,
    OpenAI prompt_tokens/completion_tokens.
    """
    if model not in PRICES:
        raise UnknownPriceError(f"no example price for {model!r}; "
                                f"known: {sorted(PRICES)}")
    tokens_in = getattr(usage, "input_tokens", None)
    if tokens_in is None:
        tokens_in = usage.prompt_tokens
    tokens_out = getattr(usage, "output_tokens", None)
    if tokens_out is None:
        tokens_out = usage.completion_tokens
    price_in, price_out = PRICES[model]
    return (tokens_in * price_in + tokens_out * price_out) / 1_000_000
# --8<-- [end:cost]


# ---------------------------------------------------------------------------
# A tool the model can call: the weather, from local data
# ---------------------------------------------------------------------------
# --8<-- [start:weather]
WEATHER = {  # made-up readings, so the example needs no weather service
    "Paris": {"temperature_c": 18, "sky": "sunny"},
    "London": {"temperature_c": 12, "sky": "light rain"},
    "Tokyo": {"temperature_c": 24, "sky": "cloudy"},
}


def get_weather(city: str) -> str:
    """The current weather in a city, as a short text for the model."""
    if city not in WEATHER:
        return f"No weather data for {city}. Known cities: {', '.join(WEATHER)}"
    reading = WEATHER[city]
    return f"{reading['temperature_c']} °C and {reading['sky']}"


WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Get the current weather in a city.",
    "input_schema": {
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": "City name, e.g. Paris"},
        },
        "required": ["city"],
    },
}
# --8<-- [end:weather]


# --8<-- [start:tool_loop]
def run_with_tools(client, messages, tools, functions,
                   model=ANTHROPIC_MODEL, max_rounds=5):
    """Call the model, run each tool it asks for, repeat until it answers.

    functions maps each tool's name to the Python function that runs it.
    Returns the final message; `messages` grows with the whole exchange.
    """
    for _ in range(max_rounds):
        message = client.messages.create(
            model=model, max_tokens=1024, tools=tools, messages=messages)
        messages.append({"role": "assistant", "content": message.content})
        if message.stop_reason != "tool_use":
            return message
        results = []
        for block in message.content:
            if block.type == "tool_use":
                output = functions[block.name](**block.input)
                results.append({"type": "tool_result",
                                "tool_use_id": block.id, "content": output})
        messages.append({"role": "user", "content": results})
    raise RuntimeError(f"no final answer after {max_rounds} rounds of tools")
# --8<-- [end:tool_loop]


# ---------------------------------------------------------------------------
# A local open model, with Hugging Face transformers
# ---------------------------------------------------------------------------
# --8<-- [start:local]
def local_chat(messages, model=None, max_new_tokens=100):
    """Answer a chat with an open model that runs on your own machine.

    The first call downloads the model from the Hugging Face Hub.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from genai.device import get_device

    name, device = model or local_model(), get_device()
    tokenizer = AutoTokenizer.from_pretrained(name)
    llm = AutoModelForCausalLM.from_pretrained(name).to(device)
    # The chat template lays the messages out as the model saw them in
    # training, and opens the assistant's turn.
    inputs = tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, return_dict=True,
        return_tensors="pt").to(device)
    output = llm.generate(**inputs, max_new_tokens=max_new_tokens,
                          do_sample=False)
    new = output[0, inputs["input_ids"].shape[1]:]  # drop the prompt
    return tokenizer.decode(new, skip_special_tokens=True).strip()
# --8<-- [end:local]


def local_model() -> str:
    """The model local_chat uses: COURSE_LOCAL_MODEL, or LOCAL_MODEL.

    COURSE_LOCAL_MODEL=tiny-random (what the course's tests set) builds a
    tiny, randomly initialised model on the spot, so that tests download
    nothing. It has learnt nothing: its replies are random words.
    """
    name = os.environ.get("COURSE_LOCAL_MODEL", "").strip() or LOCAL_MODEL
    if name == "tiny-random":
        from genai.store import CACHE
        return str(build_tiny_chat_model(CACHE / "tiny-random-chat-model"))
    return name


TINY_VOCABULARY = (
    "a an the model models text image images sound code data learns "
    "writes makes new from of and to is are that which generative AI "
    "what how why you it patterns examples samples"
).split()


def build_tiny_chat_model(folder, seed: int = 0):
    """Save a tiny random Llama-style chat model and tokenizer to folder.

    Nothing is downloaded: the tokenizer is a word list, the weights are
    random. Building takes about a second; a built folder is reused.
    """
    from pathlib import Path

    folder = Path(folder)
    if (folder / "config.json").exists():
        return folder
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import (LlamaConfig, LlamaForCausalLM,
                              PreTrainedTokenizerFast)
    from transformers.utils import logging

    logging.disable_progress_bar()
    special = ["<unk>", "<|im_start|>", "<|im_end|>"]
    vocab = {word: i for i, word in enumerate(special + TINY_VOCABULARY)}
    for role in ("system", "user", "assistant"):
        vocab.setdefault(role, len(vocab))
    words = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    words.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=words, unk_token="<unk>", bos_token="<|im_start|>",
        eos_token="<|im_end|>", pad_token="<|im_end|>")
    tokenizer.chat_template = (
        "{% for m in messages %}<|im_start|> {{ m['role'] }} "
        "{{ m['content'] }} <|im_end|> {% endfor %}"
        "{% if add_generation_prompt %}<|im_start|> assistant {% endif %}")
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(vocab), hidden_size=32, intermediate_size=64,
        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=4,
        max_position_embeddings=512, bos_token_id=1, eos_token_id=2,
        pad_token_id=2)
    partial = folder.with_name(folder.name + f".partial-{os.getpid()}")
    LlamaForCausalLM(config).save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    try:
        partial.rename(folder)  # atomic: a half-written model is never used
    except OSError:
        if not (folder / "config.json").exists():
            raise
    return folder


def main() -> None:
    import anthropic

    from genai.llm_api.fake_server import unless_api_key

    with unless_api_key():
        check_api_key("ANTHROPIC_API_KEY")
        client = anthropic.Anthropic()
        message = client.messages.create(
            model=ANTHROPIC_MODEL, max_tokens=300,
            messages=[{"role": "user", "content": "What is generative AI?"}])
        print(message.content[0].text)
        usage = message.usage
        print(f"{usage.input_tokens} tokens in, {usage.output_tokens} out: "
              f"about ${estimate_cost(usage, ANTHROPIC_MODEL):.6f} "
              f"at the example prices of {PRICES_NOTED}")


if __name__ == "__main__":
    main()
