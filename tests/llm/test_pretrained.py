"""The course's two trained GPTs load from their shipped references, without
training, and know what the pages say they know (genai.store's own tests
cover the cache, the lock and retraining)."""

import pytest
import torch

import genai.llm.pretrained as pre
from genai.llm.corpora import CAPITALS
from genai.llm.pretrained import pretrained
from genai.llm.train import TrainError, complete


def test_pretrained_loads_the_reference_without_training():
    said = []
    run = pre.pretrained_run("facts", device=torch.device("cpu"), log=said.append)
    assert said == [] and run.step == pre.PRETRAINED["facts"].steps
    assert run.history[-1][0] == run.step and not run.model.training


def test_unknown_pretrained_name():
    with pytest.raises(TrainError, match="choose from"):
        pretrained("poems")


def test_the_facts_model_knows_its_capitals():
    model, tokenizer = pretrained("facts")
    assert not model.training
    assert tokenizer.encode(" Paris") == [tokenizer.encode(" Paris")[0]]
    assert pre.capitals_right(model, tokenizer) == len(CAPITALS)
    assert pre.first_token_right(model, tokenizer) == len(CAPITALS)
    assert complete(model, tokenizer, "The capital of France is",
                    1, stop=None) == " Paris"


def test_the_story_model_tells_stories():
    model, tokenizer = pretrained("stories")
    text = complete(model, tokenizer, "Once upon a time", 30, stop=None)
    assert text.startswith(", there lived a ")
    run = pre.pretrained_run("stories")
    assert run.history[-1][2] < run.history[0][2] / 3     # val loss fell
