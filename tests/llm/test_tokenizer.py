"""Tokenizers: round trips, special tokens, Hugging Face parity, bad input."""

import json

import pytest

from genai.llm.tokenizer import (BPETokenizer, CharTokenizer, TokenizerError, bytes_to_unicode,
                                 demo_text, load_tokenizer, pretokenize, token_strings)
from support import EOT, random_strings


@pytest.fixture(scope="module")
def bpe():
    extra = "".join(random_strings(50, seed=1))   # multi-byte merges too
    return BPETokenizer.train(demo_text() + EOT + extra, vocab_size=400)


# ---- character level ----

def test_char_round_trip_and_vocabulary():
    tok = CharTokenizer.train("hello world")
    assert tok.vocab_size == 8 and tok.chars == sorted(set("hello world"))
    assert tok.decode(tok.encode("low held")) == "low held"
    assert tok.encode("") == [] and tok.decode([]) == ""
    again = load_tokenizer(json.loads(json.dumps(tok.to_dict())))
    assert isinstance(again, CharTokenizer) and again.chars == tok.chars
    assert token_strings(tok, tok.encode("he")) == ["h", "e"]


def test_char_unknown_characters_are_named():
    tok = CharTokenizer.train("hello")
    with pytest.raises(TokenizerError, match=r"\['!', 'x'\].*training text"):
        tok.encode("hex!!")


def test_char_bad_input():
    with pytest.raises(TokenizerError, match="empty text"):
        CharTokenizer.train("")
    tok = CharTokenizer.train("ab")
    with pytest.raises(TokenizerError, match=r"out of range.*0 to 1"):
        tok.decode([0, 2])
    with pytest.raises(TokenizerError, match="not a saved CharTokenizer"):
        CharTokenizer.from_dict({"type": "char", "chars": ["a", "a"]})


# ---- byte-level BPE ----

def test_every_string_round_trips(bpe):
    for text in random_strings(300):
        assert bpe.decode(bpe.encode(text)) == text, repr(text)
    for text in ["", "\x00", "😀", "e\u0301", "世界", EOT, EOT * 2,
                 "a" * 1000, "\U0010FFFF", " \n \n\n   "]:
        assert bpe.decode(bpe.encode(text)) == text, repr(text)
        plain = bpe.encode(text, allowed_special=())
        assert bpe.decode(plain) == text


def test_merges_compress_the_training_text(bpe):
    text = demo_text()
    assert len(bpe.encode(text)) < 0.5 * len(text.encode())
    assert bpe.vocab_size == 400 and len(bpe.merges) == 400 - 257
    ids = bpe.encode("Once upon a time")
    assert token_strings(bpe, ids) == ["Once", " upon", " a", " time"]


def test_special_tokens_only_when_allowed(bpe):
    eot = bpe.special_tokens[EOT]
    assert eot == bpe.vocab_size - 1
    ids = bpe.encode(f"a fox{EOT}The cat")
    assert ids.count(eot) == 1 and token_strings(bpe, ids)[2] == EOT
    assert bpe.encode(f"x{EOT}", allowed_special={EOT})[-1] == eot
    assert eot not in bpe.encode(f"x{EOT}", allowed_special=())
    with pytest.raises(TokenizerError, match=r"not special.*\['<\|a\|>'\]"):
        bpe.encode("x", allowed_special={"<|a|>"})
    # merges never produce a special token, whatever the text
    for text in random_strings(100, seed=2):
        assert eot not in bpe.encode(text, allowed_special=())


def test_partial_characters_decode_to_the_replacement_character(bpe):
    ids = bpe.encode("🦒")                  # not in the training text
    assert len(ids) > 1, "four bytes, not one token"
    assert bpe.decode(ids[:1]) == "\ufffd"
    assert token_strings(bpe, ids[:1])[0].startswith("<f0")


def test_save_and_load(bpe):
    again = load_tokenizer(json.loads(json.dumps(bpe.to_dict())))
    assert again.merges == bpe.merges
    assert again.special_tokens == bpe.special_tokens
    text = "The owl liked the river." + EOT
    assert again.encode(text) == bpe.encode(text)


def two_ways_to_abc():
    """Merges that spell b'abc' twice: ab+c and a+bc share one id."""
    a, b, c = b"abc"
    return BPETokenizer([(a, b), (256, c), (b, c), (a, 258)])


def test_two_merges_with_the_same_bytes_share_an_id():
    tok = two_ways_to_abc()
    assert tok.vocab[256:] == [b"ab", b"abc", b"bc"]
    assert tok.vocab_size == 260 and tok.special_tokens == {EOT: 259}
    assert tok.merges[97, 258] == tok.merges[256, 99] == 257
    assert tok.encode("abc bcd") == [257, 32, 258, 100]
    assert tok.decode(tok.encode("xabcabc")) == "xabcabc"
    again = load_tokenizer(tok.to_dict())
    assert again.encode("abcd abd") == tok.encode("abcd abd")


def test_pretokenizer_keeps_spaces_with_words():
    assert pretokenize("Hello world, it's 2024!\n\n") == [
        "Hello", " world", ",", " it", "'s", " 2024", "!", "\n\n"]


def test_bytes_to_unicode_is_gpt2s_table():
    table = bytes_to_unicode()
    assert len(set(table.values())) == 256
    assert table[ord(" ")] == "Ġ" and table[ord("\n")] == "Ċ"
    assert table[ord("a")] == "a"


def test_same_merges_as_hugging_face_tokenizers():
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    # Hugging Face's trainer would also learn from the text of special
    # tokens (ours cuts them out), so the text here has none
    text = demo_text() + "".join(random_strings(40, seed=3))
    text = text.replace(EOT, "")
    ours = BPETokenizer.train(text, vocab_size=350)
    hf = Tokenizer(models.BPE())
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=350, min_frequency=0, special_tokens=[EOT],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False)
    hf.train_from_iterator([text], trainer)
    table = bytes_to_unicode()

    def as_text(i):
        return "".join(table[b] for b in ours.vocab[i])

    theirs = json.loads(hf.to_str())["model"]["merges"]
    assert [[as_text(a), as_text(b)] for a, b in ours.merges] == \
        [m.split(" ") if isinstance(m, str) else m for m in theirs]


def test_bpe_bad_input():
    with pytest.raises(TokenizerError, match=r"at least 256.*= 257"):
        BPETokenizer.train("some text", vocab_size=200)
    with pytest.raises(TokenizerError, match="empty text"):
        BPETokenizer.train("", vocab_size=300)
    with pytest.raises(TokenizerError, match="empty text"):
        BPETokenizer.train(EOT, vocab_size=300)
    with pytest.raises(TokenizerError, match="distinct non-empty"):
        BPETokenizer.train("text", vocab_size=300, special_tokens=["", "x"])
    tok = BPETokenizer.train("a small text", vocab_size=260)
    with pytest.raises(TokenizerError, match=r"out of range.*0 to 259"):
        tok.decode([5, 260])
    with pytest.raises(TokenizerError, match="out of range"):
        token_strings(tok, [-1])
    with pytest.raises(TokenizerError, match="lone surrogate"):
        tok.encode("a\ud800b")
    with pytest.raises(TokenizerError, match="must be a str"):
        tok.encode(b"bytes")


def test_corrupt_saved_tokenizers():
    with pytest.raises(TokenizerError, match="unknown tokenizer type"):
        load_tokenizer({"type": "wordpiece"})
    good = BPETokenizer.train("a small text", vocab_size=260).to_dict()
    with pytest.raises(TokenizerError, match="corrupt"):
        BPETokenizer.from_dict({**good, "merges": [[1, 999]]})
    dedup = two_ways_to_abc().to_dict()     # 3 tokens from 4 merges
    with pytest.raises(TokenizerError, match="corrupt"):
        BPETokenizer.from_dict({**dedup, "merges": dedup["merges"]
                                + [[259, 1]]})
    with pytest.raises(TokenizerError, match="pattern"):
        BPETokenizer.from_dict({**good, "pattern": r"\w+"})
    with pytest.raises(TokenizerError, match="not a saved BPETokenizer"):
        BPETokenizer.from_dict([])
