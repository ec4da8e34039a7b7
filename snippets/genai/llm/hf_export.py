"""Export a course GPT to Hugging Face transformers, and load it back.

The course's GPT has GPT-2's architecture and parameter names, and its BPE
tokenizer is GPT-2's byte-level BPE. So a trained model becomes a
``GPT2LMHeadModel`` (weights in safetensors) with a tokenizer that
``AutoTokenizer`` loads. ``AutoModelForCausalLM.from_pretrained(folder)``
and ``pipeline("text-generation", model=folder)`` then work offline, and
give the same next-token probabilities as the course's model.

    python -m genai.llm.hf_export
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import torch

from genai.llm.gpt import GPT, GPTConfig
from genai.llm.tokenizer import BPETokenizer, CharTokenizer, bytes_to_unicode

HUB_MODEL = "openai-community/gpt2"   # GPT-2 small: 124M parameters, 550 MB
EOT = "<|endoftext|>"
CHAT_END = "<|end|>"      # genai.llm.instruct.END: a chat turn ends


class HFExportError(ValueError):
    """A model, tokenizer or folder that cannot be exported."""


# --8<-- [start:config]
def hf_config(config: GPTConfig, eot_id: int):
    """The GPT2Config of the same network."""
    from transformers import GPT2Config

    return GPT2Config(
        vocab_size=config.vocab_size, n_positions=config.block_size,
        n_embd=config.n_embd, n_layer=config.n_layer, n_head=config.n_head,
        activation_function="gelu",           # exact GELU, as ours
        layer_norm_epsilon=1e-5,
        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,  # no dropout
        bos_token_id=eot_id, eos_token_id=eot_id,
        tie_word_embeddings=True)             # lm_head shares wte
# --8<-- [end:config]


# --8<-- [start:weights]
# Hugging Face's GPT-2 uses Conv1D layers, which store the weight as
# (in, out): the transpose of nn.Linear's (out, in).
CONV1D = ("attn.c_attn.weight", "attn.c_proj.weight",
          "mlp.c_fc.weight", "mlp.c_proj.weight")


def hf_state_dict(model: GPT) -> dict[str, torch.Tensor]:
    """Our weights under GPT2LMHeadModel's names and layouts."""
    state = {}
    for name, tensor in model.state_dict().items():
        if name.endswith(CONV1D):
            tensor = tensor.t()
        state[name] = tensor.detach().to("cpu", torch.float32).contiguous()
    return state
# --8<-- [end:weights]


def hf_model(model: GPT, eot_id: int, end_id: int | None = None):
    """A GPT2LMHeadModel holding model's weights."""
    from transformers import GPT2LMHeadModel

    hf = GPT2LMHeadModel(hf_config(model.config, eot_id))
    missing, unexpected = hf.load_state_dict(hf_state_dict(model),
                                             strict=False)
    # a model built with bias=False has no biases: they are zero in GPT-2
    if unexpected or any(not k.endswith(".bias") for k in missing):
        raise HFExportError(f"weights do not match GPT-2's: missing "
                            f"{missing}, unexpected {unexpected}")
    with torch.no_grad():
        for name in missing:
            hf.get_parameter(name).zero_()
    hf.tie_weights()
    hf.generation_config.pad_token_id = eot_id   # GPT-2 has no padding
    if end_id is not None:    # a chat model's turn ends with <|end|>
        hf.generation_config.eos_token_id = end_id
    return hf.eval()


# --8<-- [start:tokenizer]
def hf_tokenizer(tokenizer: BPETokenizer, block_size: int = 1024):
    """The same byte-level BPE as a Hugging Face fast tokenizer."""
    from tokenizers import (AddedToken, Tokenizer, decoders, models,
                            pre_tokenizers)
    from transformers import PreTrainedTokenizerFast

    # Hugging Face spells each byte as a printable character ('Ġ' = space)
    table = bytes_to_unicode()

    def spell(token: bytes) -> str:
        return "".join(table[b] for b in token)

    vocab = {spell(token): i for i, token in enumerate(tokenizer.vocab)}
    merges = [(spell(tokenizer.vocab[a]), spell(tokenizer.vocab[b]))
              for a, b in tokenizer.ranks]          # in rank order
    bpe = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    # GPT-2's regex pattern, then bytes -> characters; no added space
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    # special tokens get the next ids, in order: the same as ours
    bpe.add_special_tokens([AddedToken(s, special=True, normalized=False)
                            for s in tokenizer.special_tokens])
    eot = EOT if EOT in tokenizer.special_tokens else None
    hf = PreTrainedTokenizerFast(
        tokenizer_object=bpe, bos_token=eot, eos_token=eot,
        unk_token=eot, pad_token=eot, model_max_length=block_size)
    if CHAT_END in tokenizer.special_tokens:   # an instruction-tuned model
        hf.chat_template = chat_template(tokenizer.special_tokens)
        hf.eos_token = CHAT_END
    return hf
# --8<-- [end:tokenizer]



# --8<-- [start:char_tokenizer]
def hf_char_tokenizer(tokenizer: CharTokenizer, end: str, block_size: int = 1024):
    """A character-level tokenizer as a Hugging Face fast tokenizer: one
    token per character, the same ids, end as its end of sequence and its
    padding. (GPT-2 has no such tokenizer: export_hf refuses one; TRL's
    trainers take this as their processing class.)"""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {c: i for i, c in enumerate(tokenizer.chars)}
    chars = Tokenizer(models.WordLevel(vocab=vocab, unk_token=end))
    chars.pre_tokenizer = pre_tokenizers.Split(pattern="", behavior="isolated")
    chars.decoder = decoders.Fuse()               # join the characters again
    return PreTrainedTokenizerFast(tokenizer_object=chars, eos_token=end, pad_token=end,
                                   model_max_length=block_size)
# --8<-- [end:char_tokenizer]

# --8<-- [start:template]
# genai.llm.instruct.chat_text as a Jinja template, for
# tokenizer.apply_chat_template and pipeline("text-generation"). Hugging
# Face's tokenizer reads a special token wherever the text spells one, so
# the template refuses a message that spells one (chat_ids encodes it as
# plain text; a template that only writes text cannot).
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] not in ['system', 'user', 'assistant'] %}"
    "{{ raise_exception('unknown role: ' + message['role']) }}{% endif %}"
    "{% if message['role'] == 'system' and not loop.first %}"
    "{{ raise_exception('a system message can only come first') }}"
    "{% endif %}"
    "{% for token in SPECIAL_TOKENS %}{% if token in message['content'] %}"
    "{{ raise_exception('a message cannot contain the special token ' + token) }}"
    "{% endif %}{% endfor %}"
    "{{ '<|' + message['role'] + '|>' + message['content'] + '<|end|>' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}")


def chat_template(special_tokens) -> str:
    """CHAT_TEMPLATE for a tokenizer with these special tokens."""
    return CHAT_TEMPLATE.replace("SPECIAL_TOKENS", json.dumps(list(special_tokens)))
# --8<-- [end:template]


# --8<-- [start:export]
def export_hf(model: GPT, tokenizer, folder: str | Path) -> Path:
    """Write model and tokenizer to folder in Hugging Face's format.

    Everything is written to a temporary folder beside it first, then
    renamed into place: an interrupted export leaves no half-written
    model. A previous export in folder is replaced.
    """
    folder = Path(folder)
    eot_id = _check_export(model, tokenizer, folder)
    partial = folder.with_name(f".{folder.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        end_id = tokenizer.special_tokens.get(CHAT_END)
        hf_model(model, eot_id, end_id).save_pretrained(partial)
        hf_tokenizer(tokenizer, model.config.block_size).save_pretrained(
            partial)
        _name_gpt2_tokenizer(partial / "tokenizer_config.json")
        _replace_folder(partial, folder)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return folder
# --8<-- [end:export]


def _check_export(model, tokenizer, folder: Path) -> int:
    """The id of <|endoftext|>, after checking that the export can work."""
    if isinstance(tokenizer, CharTokenizer):
        raise HFExportError(
            "a character-level tokenizer has no Hugging Face GPT-2 "
            "equivalent: train the model with the BPE tokenizer "
            "(genai.llm.tokenizer.BPETokenizer, --tokenizer bpe) to export it")
    if not isinstance(tokenizer, BPETokenizer):
        raise HFExportError(f"expected a BPETokenizer, got "
                            f"{type(tokenizer).__name__}")
    if not isinstance(model, GPT):
        raise HFExportError(f"expected a genai.llm.gpt.GPT, got "
                            f"{type(model).__name__}")
    if tokenizer.vocab_size != model.config.vocab_size:
        raise HFExportError(
            f"the tokenizer has {tokenizer.vocab_size} tokens but the "
            f"model {model.config.vocab_size}: they were not trained "
            f"together")
    if EOT not in tokenizer.special_tokens:
        raise HFExportError(f"the tokenizer needs the special token {EOT} "
                            f"(GPT-2's end of text) to be exported")
    if folder.exists() and not folder.is_dir():
        raise HFExportError(f"{folder} is a file, not a folder")
    if folder.is_dir() and any(folder.iterdir()) and \
            not (folder / "config.json").is_file():
        raise HFExportError(
            f"{folder} holds files but no earlier export (no "
            f"config.json): choose a new or empty folder")
    folder.parent.mkdir(parents=True, exist_ok=True)
    return tokenizer.special_tokens[EOT]


def _name_gpt2_tokenizer(path: Path) -> None:
    """Make AutoTokenizer build a GPT2Tokenizer from tokenizer.json."""
    settings = json.loads(path.read_text(encoding="utf-8"))
    settings["tokenizer_class"] = "GPT2Tokenizer"
    path.write_text(json.dumps(settings, indent=2), encoding="utf-8")


def _replace_folder(new: Path, folder: Path) -> None:
    """Put new at folder; an old folder there is moved aside, then deleted."""
    old = folder.with_name(f".{folder.name}.old-{os.getpid()}")
    if folder.exists():
        os.replace(folder, old)
    try:
        os.replace(new, folder)
    except OSError:
        if old.exists() and not folder.exists():
            os.replace(old, folder)     # put the previous export back
        raise
    shutil.rmtree(old, ignore_errors=True)


# --8<-- [start:hub]
def hub_model() -> str:
    """The model that the "real GPT-2" samples load.

    COURSE_HF_MODEL if set, else GPT-2 small from the Hub (HUB_MODEL). The
    course's tests download nothing: they set COURSE_LOCAL_MODEL=tiny-random
    (see genai.llm_api.calls), and then this is the course's facts model,
    exported to a local folder.
    """
    name = os.environ.get("COURSE_HF_MODEL", "").strip()
    if name:
        return name
    if os.environ.get("COURSE_LOCAL_MODEL") == "tiny-random":
        return str(export_pretrained("facts"))
    return HUB_MODEL
# --8<-- [end:hub]


def export_pretrained(name: str = "facts", folder=None) -> Path:
    """Export genai.llm.pretrained.pretrained(name) (default folder: in the
    system's temporary folder)."""
    from genai.llm.pretrained import pretrained

    model, tokenizer = pretrained(name)
    folder = folder or Path(tempfile.gettempdir()) / f"genai-{name}-gpt2"
    return export_hf(model, tokenizer, folder)


def demo() -> None:
    """Export a small random GPT, load it back, compare the logits."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging

    from genai.llm.tokenizer import demo_text

    logging.disable_progress_bar()
    torch.manual_seed(0)
    tokenizer = BPETokenizer.train(demo_text(), vocab_size=300)
    config = GPTConfig(vocab_size=tokenizer.vocab_size, block_size=32,
                       n_layer=2, n_head=2, n_embd=32)
    model = GPT(config).eval()
    with tempfile.TemporaryDirectory() as tmp:
        folder = export_hf(model, tokenizer, Path(tmp) / "tiny-gpt2")
        print("exported:", ", ".join(sorted(p.name for p in
                                            folder.iterdir())))
        hf = AutoModelForCausalLM.from_pretrained(folder)
        hf_tok = AutoTokenizer.from_pretrained(folder)
    text = "Once upon a time, there lived a fox.<|endoftext|>"
    ids = hf_tok(text)["input_ids"]
    print(f"token ids equal ours: {ids == tokenizer.encode(text)}")
    x = torch.tensor([ids])
    with torch.no_grad():
        diff = (hf(x).logits - model(x)[0]).abs().max().item()
    print(f"{type(hf).__name__}: largest logit difference {diff:.1e}")


if __name__ == "__main__":
    from genai.cli import demo_arguments

    demo_arguments(__doc__)   # --help says what the demo does
    demo()
