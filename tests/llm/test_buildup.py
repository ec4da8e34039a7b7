"""The GPT built up in stages: each stage's model, the causal head, and
that the last stage is the course's GPT."""

import math

import pytest
import torch

from genai.llm import buildup
from genai.llm.buildup import (BLOCK_SIZE, STAGES, Head, MultiHead, Stage, as_gpt, build,
                               next_token_loss, stories_data, validation_loss)

VOCAB = 36


def test_the_stories_split_into_train_and_validation_characters():
    tokenizer, train_ids, val_ids = stories_data(n_stories=50)
    assert tokenizer.vocab_size > 20
    assert len(train_ids) == pytest.approx(9 * len(val_ids), rel=0.01)
    assert tokenizer.decode(train_ids[:20].tolist()).strip()


def test_a_batch_targets_the_next_character():
    data = torch.arange(500)
    x, y = buildup.batch(data, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (buildup.BATCH_SIZE, BLOCK_SIZE)
    assert torch.equal(y, x + 1)


@pytest.mark.parametrize("stage", STAGES, ids=[s.name for s in STAGES])
def test_every_stage_maps_ids_to_scores_and_starts_near_ln_v(stage):
    model = build(stage, VOCAB)
    idx = torch.randint(VOCAB, (3, BLOCK_SIZE), generator=torch.Generator().manual_seed(1))
    logits, loss = model(idx, idx)
    assert logits.shape == (3, BLOCK_SIZE, VOCAB)
    assert math.isfinite(loss.item())
    # an untrained model knows nothing: about ln V per character (the
    # bigram's and the unscaled stages' random starts are further off)
    assert 0.5 * math.log(VOCAB) < loss.item() < 3 * math.log(VOCAB)


def test_every_stage_adds_parameters_to_the_one_before():
    sizes = [sum(p.numel() for p in build(stage, VOCAB).parameters()) for stage in STAGES]
    # the bigram is a table; attention, the MLP and LayerNorm add weights
    # (the residual adds none; tying the embeddings takes some away)
    assert sizes[0] == VOCAB * VOCAB
    assert sizes[1] < sizes[3] < sizes[5]
    assert sizes[4] == sizes[3]
    assert sizes[6] < sizes[5] + BLOCK_SIZE * 64 + 2 * 64


def test_the_same_stage_starts_from_the_same_weights():
    first, second = build(STAGES[2], VOCAB), build(STAGES[2], VOCAB)
    assert all(torch.equal(a, b) for a, b in zip(first.parameters(), second.parameters()))


@pytest.mark.parametrize("attention", [lambda: Head(16, 16), lambda: MultiHead(16, 4)],
                         ids=["one head", "multi-head"])
def test_attention_never_reads_a_later_position(attention):
    torch.manual_seed(0)
    layer = attention()
    x = torch.randn(1, 10, 16)
    changed = x.clone()
    changed[0, 6:] = torch.randn(4, 16)      # the future changes ...
    before, after = layer(x), layer(changed)
    # ... and the past does not notice; position 6 does
    assert torch.allclose(before[0, :6], after[0, :6])
    assert not torch.allclose(before[0, 6], after[0, 6])


def test_the_bigram_reads_only_the_last_character():
    model = build(STAGES[0], VOCAB)
    a = torch.tensor([[1, 2, 3]])
    b = torch.tensor([[7, 9, 3]])
    logits_a, _ = model(a)
    logits_b, _ = model(b)
    assert torch.equal(logits_a[0, -1], logits_b[0, -1])


def test_the_loss_is_the_mean_cross_entropy_of_the_next_token():
    logits = torch.randn(2, 5, VOCAB)
    targets = torch.randint(VOCAB, (2, 5))
    expected = torch.nn.functional.cross_entropy(logits.view(-1, VOCAB), targets.view(-1))
    assert torch.allclose(next_token_loss(logits, targets), expected)
    assert next_token_loss(logits, None) is None


def test_the_full_gpt_stage_is_the_courses_gpt():
    model = build(STAGES[-1], VOCAB)
    with torch.no_grad():                     # not the initial weights only
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    gpt = as_gpt(model)
    idx = torch.randint(VOCAB, (4, BLOCK_SIZE), generator=torch.Generator().manual_seed(2))
    model.eval()
    ours, _ = model(idx)
    theirs, _ = gpt(idx)
    assert torch.allclose(ours, theirs, atol=1e-5)


def test_only_the_full_gpt_stage_converts():
    with pytest.raises(AttributeError):
        as_gpt(build(Stage("plain", n_head=4, mlp=True, residual=True), VOCAB))


def test_a_little_training_lowers_the_validation_loss(monkeypatch):
    monkeypatch.setattr(buildup, "STEPS", 30)
    tokenizer, train_ids, val_ids = stories_data(n_stories=50)
    model = build(STAGES[1], tokenizer.vocab_size)
    before = validation_loss(model, val_ids, batches=4)
    lines = []
    buildup.train(model, train_ids, log_every=10, log=lines.append)
    assert lines == [f"step {n}: loss " + line.split("loss ")[1] for n, line in
                     zip((10, 20, 30), lines)]
    assert validation_loss(model, val_ids, batches=4) < before - 0.3


def test_the_reference_stages_improve_on_the_bigram():
    trained = buildup.stages()
    losses = trained["losses"]
    assert list(losses) == list(trained["models"]) == [stage.name for stage in STAGES]
    assert losses["full GPT"] < losses["bigram"] - 1
    assert losses["+ residual"] < losses["+ MLP"]
