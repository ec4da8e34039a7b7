"""The course's corpora: deterministic, correct where they state facts, and
a reader's own file either reads or fails with a clear error."""

import pytest

from genai.llm.corpora import (CAPITALS, CONTINENT, END_OF_TEXT, TEMPLATES, CorpusError,
                               facts_corpus, load_corpus, read_text, story_corpus)


def test_capitals_are_many_and_spot_checked():
    assert len(CAPITALS) >= 40
    assert len(set(CAPITALS.values())) == len(CAPITALS)
    for country, capital in {"France": "Paris", "Japan": "Tokyo",
                             "Australia": "Canberra", "Canada": "Ottawa",
                             "Nigeria": "Abuja", "Turkey": "Ankara",
                             "Brazil": "Brasilia", "Ukraine": "Kyiv"}.items():
        assert CAPITALS[country] == capital
    assert CONTINENT["Moscow"] == "Europe" and CONTINENT["Cairo"] == "Africa"
    assert set(CONTINENT) == set(CAPITALS.values())


def test_facts_corpus_is_deterministic_and_says_every_fact():
    text = facts_corpus()
    assert text == facts_corpus(seed=0) != facts_corpus(seed=1)
    lines = text.splitlines()
    assert len(lines) == 4 * len(TEMPLATES) * len(CAPITALS)
    for country, capital in CAPITALS.items():
        assert f"The capital of {country} is {capital}." in lines
    assert "The United Kingdom's capital city is London." in lines


def test_every_fact_is_in_the_training_part():
    """The first 90% of the text (the training split) holds every pair in
    the sentence the quality check asks about."""
    text = facts_corpus()
    head = text[:int(0.9 * len(text))]
    for country, capital in CAPITALS.items():
        assert f"The capital of {country} is {capital}." in head


def test_stories():
    text = story_corpus(n_stories=50)
    assert text == story_corpus(n_stories=50)
    stories = text.split(END_OF_TEXT)
    assert stories[-1] == "" and len(stories) == 51
    assert all(s.startswith("Once upon a time, there lived a ")
               for s in stories[:-1])
    assert len(set(stories)) > 40
    with pytest.raises(CorpusError, match="at least 1"):
        story_corpus(n_stories=0)


def test_read_text_and_its_errors(tmp_path):
    good = tmp_path / "good.txt"
    good.write_text("To be, or not to be.\n", encoding="utf-8")
    assert read_text(good) == load_corpus(str(good)) == "To be, or not to be.\n"
    assert load_corpus("facts") == facts_corpus()
    assert load_corpus("stories") == story_corpus()
    with pytest.raises(CorpusError, match="no file at"):
        read_text(tmp_path / "missing.txt")
    with pytest.raises(CorpusError, match="is not a file"):
        read_text(tmp_path)
    (tmp_path / "empty.txt").write_text(" \n")
    with pytest.raises(CorpusError, match="is empty"):
        read_text(tmp_path / "empty.txt")
    (tmp_path / "latin1.txt").write_bytes("café".encode("latin-1"))
    with pytest.raises(CorpusError, match=r"not UTF-8 text \(byte 0xe9 at "
                                          r"position 3\)"):
        read_text(tmp_path / "latin1.txt")
