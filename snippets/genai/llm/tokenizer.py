"""Tokenizers: text to integer ids and back.

* CharTokenizer: one token per character; the vocabulary is the set of
  characters of the training text.
* BPETokenizer: byte-level byte-pair encoding (BPE), as in GPT-2. The base
  tokens are the 256 byte values, so every string can be encoded; training
  learns merges of frequent neighbouring tokens into new tokens.

The BPE tokenizer follows GPT-2's design step for step (the same
pre-tokenizer pattern, merges applied by rank), so it maps exactly onto a
Hugging Face byte-level BPE tokenizer (see genai.llm.hf_export).

    python -m genai.llm.tokenizer
"""

from __future__ import annotations

import heapq
import time
from collections import Counter
from functools import lru_cache

import regex  # like re, plus Unicode classes such as \\p{L} (letters)


class TokenizerError(ValueError):
    """Text, ids or settings that a tokenizer cannot work with."""


class CharTokenizer:
    """One token per character, numbered in sorted order."""

    def __init__(self, chars: list[str]):
        self.chars = list(chars)
        self.ids = {ch: i for i, ch in enumerate(self.chars)}
        self.special_tokens: dict[str, int] = {}

    @classmethod
    def train(cls, text: str) -> CharTokenizer:
        if not text:
            raise TokenizerError("cannot train a tokenizer on empty text")
        return cls(sorted(set(text)))

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        try:
            return [self.ids[ch] for ch in text]
        except KeyError:
            unknown = sorted(set(text) - set(self.ids))
            raise TokenizerError(
                f"unknown character(s) {unknown}: a character-level "
                f"tokenizer knows only the characters of its training "
                f"text") from None

    def decode(self, ids: list[int]) -> str:
        _check_ids(ids, self.vocab_size)
        return "".join(self.chars[i] for i in ids)

    def to_dict(self) -> dict:
        return {"type": "char", "chars": list(self.chars)}

    @classmethod
    def from_dict(cls, d: dict) -> CharTokenizer:
        chars = d.get("chars") if isinstance(d, dict) else None
        ok = (isinstance(d, dict) and d.get("type") == "char"
              and isinstance(chars, list)
              and chars and len(set(chars)) == len(chars)
              and all(isinstance(c, str) and len(c) == 1 for c in chars))
        if not ok:
            raise TokenizerError("not a saved CharTokenizer: expected "
                                 "{'type': 'char', 'chars': [distinct "
                                 "single characters]}")
        return cls(chars)

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size})"


def _check_ids(ids, vocab_size: int) -> None:
    bad = [i for i in ids
           if not isinstance(i, int) or isinstance(i, bool)
           or not 0 <= i < vocab_size]
    if bad:
        raise TokenizerError(
            f"token id(s) {bad[:5]} out of range: ids must be integers "
            f"from 0 to {vocab_size - 1}")


# --8<-- [start:pretokenize]
# GPT-2's pre-tokenizer: contractions, words with an optional leading
# space, numbers, punctuation runs, and whitespace. BPE never merges
# across these chunks, so " cat" and " cats" share their start.
GPT2_PATTERN = (r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+"""
                r"""| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")


def pretokenize(text: str) -> list[str]:
    """Split text into the chunks that BPE works inside."""
    return regex.findall(GPT2_PATTERN, text)
# --8<-- [end:pretokenize]


@lru_cache(maxsize=1)
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's table from each byte to a printable character.

    Printable bytes stand for themselves; the others (space, newline,
    control bytes) get characters from 256 on, so the space byte shows
    as 'Ġ' and the newline as 'Ċ'. Hugging Face stores tokens this way.
    """
    printable = (list(range(ord("!"), ord("~") + 1))
                 + list(range(ord("¡"), ord("¬") + 1))
                 + list(range(ord("®"), ord("ÿ") + 1)))
    table, extra = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def _merge(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Replace every occurrence of pair in ids, left to right."""
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def _add_token(vocab: list[bytes], id_of: dict[bytes, int],
               token: bytes) -> int:
    """The id of token (id_of maps vocab back), appending it if new."""
    if token not in id_of:
        id_of[token] = len(vocab)
        vocab.append(token)
    return id_of[token]


def _pairs(ids: list[int]) -> Counter:
    return Counter(zip(ids, ids[1:]))


class BPETokenizer:
    """Byte-level BPE: 256 byte tokens, learned merges, special tokens.

    Ids 0-255 are the bytes, then the tokens that merges made, in the order
    they were learned, then the special tokens. A merge's rank is its place
    in the list of merges: encoding applies low ranks first.
    """

    def __init__(self, merges: list[tuple[int, int]],
                 special_tokens: tuple[str, ...] = ("<|endoftext|>",)):
        self.vocab = [bytes([b]) for b in range(256)]  # each token's bytes
        self.merges: dict[tuple[int, int], int] = {}    # pair -> new id
        self.ranks: dict[tuple[int, int], int] = {}     # pair -> rank
        id_of = {token: i for i, token in enumerate(self.vocab)}
        for rank, (a, b) in enumerate(merges):
            self.ranks[a, b] = rank
            self.merges[a, b] = _add_token(self.vocab, id_of,
                                           self.vocab[a] + self.vocab[b])
        first = len(self.vocab)
        self.special_tokens = {s: first + i
                               for i, s in enumerate(special_tokens)}
        self.special_of_id = {i: s for s, i in self.special_tokens.items()}
        self._cache: dict[str, list[int]] = {}

    @property
    def vocab_size(self) -> int:
        return len(self.vocab) + len(self.special_tokens)

    # --8<-- [start:train]
    @classmethod
    def train(cls, text: str, vocab_size: int,
              special_tokens=("<|endoftext|>",)) -> BPETokenizer:
        """Learn merges from text until the vocabulary has vocab_size
        tokens (fewer if every chunk of the text is one token already)."""
        special_tokens = tuple(special_tokens)
        n_learned = vocab_size - 256 - len(special_tokens)
        if n_learned < 0:
            raise TokenizerError(
                f"vocab_size={vocab_size} is too small: it must be at "
                f"least 256 (the bytes) + {len(special_tokens)} (special "
                f"tokens) = {256 + len(special_tokens)}")
        _check_specials(special_tokens)
        _check_text(text)
        # special tokens are cut out: merges never cross or produce them
        pieces = _split_specials(text, special_tokens)
        chunks = Counter(chunk for piece, is_special in pieces
                         if not is_special for chunk in pretokenize(piece))
        if not chunks:
            raise TokenizerError("cannot train a tokenizer on empty text")
        # each distinct chunk once, as byte ids, with how often it occurs
        words = [list(chunk.encode("utf-8")) for chunk in chunks]
        counts = list(chunks.values())
        # how often each neighbouring pair occurs, and in which words
        pair_counts, where = Counter(), {}
        for w, (word, n) in enumerate(zip(words, counts)):
            for pair, k in _pairs(word).items():
                pair_counts[pair] += k * n
                where.setdefault(pair, set()).add(w)
        # a heap finds the most frequent pair fast; when a count changes
        # we push the pair again, and skip entries whose count is stale
        heap = [(-n, _tie_order(p), p) for p, n in pair_counts.items()]
        heapq.heapify(heap)
        merges, vocab = [], [bytes([b]) for b in range(256)]
        id_of = {token: i for i, token in enumerate(vocab)}
        while len(vocab) < 256 + n_learned and heap:
            minus_n, _, pair = heapq.heappop(heap)
            if pair_counts.get(pair) != -minus_n:
                continue                     # stale entry
            merges.append(pair)
            # rarely, two merges spell the same bytes: they share one id
            a, b = pair
            new_id = _add_token(vocab, id_of, vocab[a] + vocab[b])
            changed = set()
            for w in where.pop(pair):         # only words with the pair
                old, new = words[w], _merge(words[w], pair, new_id)
                for p, k in _pairs(old).items():
                    pair_counts[p] -= k * counts[w]
                    changed.add(p)
                for p, k in _pairs(new).items():
                    pair_counts[p] += k * counts[w]
                    where.setdefault(p, set()).add(w)
                    changed.add(p)
                words[w] = new
            for p in changed:
                if pair_counts[p] > 0:
                    entry = (-pair_counts[p], _tie_order(p), p)
                    heapq.heappush(heap, entry)
                else:
                    del pair_counts[p]
        return cls(merges, special_tokens)
    # --8<-- [end:train]

    # --8<-- [start:encode]
    def encode(self, text: str, allowed_special="all") -> list[int]:
        """Token ids of text.

        Special tokens written in the text become their ids only when
        allowed: "all" (the default, as in Hugging Face), a set of them,
        or () to read them as ordinary text (safer for untrusted input).
        """
        if allowed_special == "all":
            allowed_special = self.special_tokens
        unknown = set(allowed_special) - set(self.special_tokens)
        if unknown:
            raise TokenizerError(f"not special tokens here: {sorted(unknown)}"
                                 f"; these are: {list(self.special_tokens)}")
        _check_text(text)
        ids = []
        for piece, is_special in _split_specials(text, allowed_special):
            if is_special:
                ids.append(self.special_tokens[piece])
            else:
                for chunk in pretokenize(piece):
                    ids.extend(self._encode_chunk(chunk))
        return ids

    def _encode_chunk(self, chunk: str) -> list[int]:
        if chunk in self._cache:
            return self._cache[chunk]
        ids = list(chunk.encode("utf-8"))
        while len(ids) >= 2:
            # apply the merge learned first (lowest rank) among the pairs
            pair = min(zip(ids, ids[1:]),
                       key=lambda p: self.ranks.get(p, float("inf")))
            if pair not in self.merges:
                break                        # nothing left to merge
            ids = _merge(ids, pair, self.merges[pair])
        if len(self._cache) < 100_000:
            self._cache[chunk] = ids
        return ids

    def decode(self, ids: list[int]) -> str:
        """Text of ids; bytes that end mid-character show as '\ufffd'."""
        _check_ids(ids, self.vocab_size)
        data = b"".join(self.token_bytes(i) for i in ids)
        return data.decode("utf-8", errors="replace")
    # --8<-- [end:encode]

    def token_bytes(self, i: int) -> bytes:
        if i in self.special_of_id:
            return self.special_of_id[i].encode("utf-8")
        return self.vocab[i]

    def to_dict(self) -> dict:
        return {"type": "bpe", "pattern": GPT2_PATTERN,
                "merges": [list(p) for p in self.merges],
                "special_tokens": list(self.special_tokens)}

    @classmethod
    def from_dict(cls, d: dict) -> BPETokenizer:
        expected = ("expected {'type': 'bpe', 'pattern': GPT-2's, 'merges': "
                    "[[a, b], ...], 'special_tokens': [...]}")
        if not isinstance(d, dict) or d.get("type") != "bpe":
            raise TokenizerError(f"not a saved BPETokenizer: {expected}")
        if d.get("pattern") != GPT2_PATTERN:
            raise TokenizerError("saved with another pre-tokenizer "
                                 "pattern; only GPT-2's is supported")
        merges, specials = d.get("merges"), d.get("special_tokens", [])
        ok = isinstance(merges, list) and all(
            isinstance(p, list) and len(p) == 2
            and all(type(i) is int and 0 <= i < 256 + rank for i in p)
            for rank, p in enumerate(merges))
        if not ok or not isinstance(specials, list):
            raise TokenizerError(f"corrupt BPETokenizer data: {expected}")
        _check_specials(specials)
        try:
            return cls([tuple(p) for p in merges], tuple(specials))
        except IndexError:     # a merge of tokens that do not exist yet
            raise TokenizerError(
                f"corrupt BPETokenizer data: {expected}") from None

    def __repr__(self) -> str:
        return (f"BPETokenizer(vocab_size={self.vocab_size}, "
                f"merges={len(self.merges)}, "
                f"special_tokens={list(self.special_tokens)})")


@lru_cache(maxsize=1)
def _byte_order() -> dict[int, int]:
    """Position of each byte's GPT-2 character in code-point order."""
    table = bytes_to_unicode()
    return {b: pos for pos, b in enumerate(sorted(table,
                                                  key=lambda b: table[b]))}


def _tie_order(pair: tuple[int, int]) -> tuple[int, int]:
    """Among equally frequent pairs, the one with the smallest tie order
    wins. It is the pair's ids in Hugging Face's numbering (bytes sorted by
    their GPT-2 character, then merges in order), so that both trainers
    learn the same merges."""
    order = _byte_order()
    return tuple(order[i] if i < 256 else i for i in pair)


def _check_text(text: str) -> None:
    if not isinstance(text, str):
        raise TokenizerError(f"text must be a str, got "
                             f"{type(text).__name__}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise TokenizerError(
            f"text holds a lone surrogate {text[e.start]!r} at position "
            f"{e.start}: it is not a Unicode character and has no UTF-8 "
            f"bytes") from None


def _check_specials(special_tokens) -> None:
    if any(not isinstance(s, str) or not s for s in special_tokens) or \
            len(set(special_tokens)) != len(special_tokens):
        raise TokenizerError(f"special tokens must be distinct non-empty "
                             f"strings, got {list(special_tokens)}")


def _split_specials(text: str, specials) -> list[tuple[str, bool]]:
    """text cut into (piece, is_special) around the given special tokens."""
    if not specials:
        return [(text, False)] if text else []
    # longest first, so "<|a|><|b|>"-style overlaps pick the longest token
    alternatives = "|".join(regex.escape(s)
                            for s in sorted(specials, key=len, reverse=True))
    pieces = regex.split(f"({alternatives})", text)
    # split() with a group alternates text, special, text, ...
    return [(p, i % 2 == 1) for i, p in enumerate(pieces) if p]


def load_tokenizer(d: dict) -> CharTokenizer | BPETokenizer:
    """The tokenizer that to_dict() saved."""
    kinds = {"char": CharTokenizer, "bpe": BPETokenizer}
    kind = d.get("type") if isinstance(d, dict) else None
    if kind not in kinds:
        raise TokenizerError(f"unknown tokenizer type {kind!r}: expected "
                             f"one of {sorted(kinds)}")
    return kinds[kind].from_dict(d)


# --8<-- [start:token_strings]
def token_strings(tokenizer, ids: list[int]) -> list[str]:
    """Each id as the text it stands for (a token that holds part of a
    character shows its bytes, like '<e2 80>')."""
    if isinstance(tokenizer, CharTokenizer):
        return [tokenizer.decode([i]) for i in ids]
    _check_ids(ids, tokenizer.vocab_size)
    out = []
    for i in ids:
        data = tokenizer.token_bytes(i)
        try:
            out.append(data.decode("utf-8"))
        except UnicodeDecodeError:
            out.append("<" + data.hex(" ") + ">")
    return out
# --8<-- [end:token_strings]


def demo_text() -> str:
    """A few kilobytes of repetitive English, made on the spot."""
    animals = ["cat", "dog", "fox", "owl", "bear", "mouse", "horse", "bird"]
    places = ["forest", "village", "castle", "garden", "river", "mountain"]
    lines = []
    for i in range(400):
        a, p = animals[i % len(animals)], places[i * 7 % len(places)]
        lines.append(f"Once upon a time, there lived a {a} in the {p}. "
                     f"The {a} liked the {p}.")
    return "\n".join(lines)


if __name__ == "__main__":
    from genai.cli import demo_arguments

    demo_arguments(__doc__)   # --help says what the demo does
    text = demo_text()
    start = time.perf_counter()
    tok = BPETokenizer.train(text, vocab_size=300)
    seconds = time.perf_counter() - start
    print(f"trained {tok} on {len(text.encode()):,} bytes "
          f"in {seconds:.2f} s")
    first = [tok.vocab[256 + r] for r in range(10)]
    print("first merges:", " ".join(repr(b.decode()) for b in first))
    sentence = "Once upon a time, there lived a fox."
    ids = tok.encode(sentence)
    print(f"{sentence!r} -> {len(ids)} tokens:", token_strings(tok, ids))
    for size in (256 + 1, 280, 300):
        t = BPETokenizer.train(text, vocab_size=size)
        n = len(t.encode(text))
        print(f"vocab {size}: {n / len(text.encode()):.3f} tokens per byte")
    assert tok.decode(tok.encode(text)) == text
