"""genai.llm.gpt: attention by hand equals PyTorch's, the KV cache changes
nothing, the mask hides the future, bad configurations fail clearly, and
the published configurations have the published sizes."""

import pytest
import torch
import torch.nn.functional as F

from genai.llm.gpt import GPT, GPTConfig, GPTConfigError, KVCache, attention

TINY = GPTConfig(vocab_size=11, block_size=16, n_layer=2, n_head=2,
                 n_embd=8)


def tiny_model(config=TINY, seed=0):
    torch.manual_seed(seed)
    return GPT(config).eval()


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("shape", [(1, 1, 5, 4), (2, 3, 7, 8), (4, 16, 2)])
def test_attention_by_hand_equals_pytorch(shape, causal):
    torch.manual_seed(1)
    q, k, v = (torch.randn(shape) for _ in range(3))
    ours = attention(q, k, v, causal=causal)
    theirs = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)


def test_attention_with_fewer_queries_than_keys_sees_the_past():
    """The last T_q queries of a longer sequence: as after a KV cache."""
    torch.manual_seed(2)
    q, k, v = (torch.randn(2, 3, 9, 4) for _ in range(3))
    full = attention(q, k, v, causal=True)
    tail = attention(q[..., -3:, :], k, v, causal=True)
    torch.testing.assert_close(tail, full[..., -3:, :])


def test_kv_cache_gives_the_logits_of_full_recomputation():
    model = tiny_model()
    idx = torch.randint(TINY.vocab_size, (2, 12),
                        generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        full, _ = model(idx)
        cache = KVCache(TINY, batch_size=2)
        pieces = [model(idx[:, :5], cache=cache)[0]]      # prefill
        for t in range(5, 8):                               # one at a time
            pieces.append(model(idx[:, t:t + 1], cache=cache)[0])
        pieces.append(model(idx[:, 8:], cache=cache)[0])    # a chunk of 4
    assert cache.length == 12
    torch.testing.assert_close(torch.cat(pieces, dim=1), full,
                               atol=1e-5, rtol=1e-4)


def test_cache_overflow_is_refused():
    model = tiny_model()
    cache = KVCache(TINY, batch_size=1)
    with torch.no_grad():
        model(torch.zeros(1, 16, dtype=torch.long), cache=cache)
        with pytest.raises(ValueError, match="17 tokens do not fit"):
            model(torch.zeros(1, 1, dtype=torch.long), cache=cache)


def test_cache_of_another_batch_size_is_refused():
    model = tiny_model()
    with pytest.raises(ValueError, match="cache was made for 2 sequences, "
                                         "the input has 1"):
        model(torch.zeros(1, 3, dtype=torch.long),
              cache=KVCache(TINY, batch_size=2))


def test_changing_a_later_token_leaves_earlier_logits_alone():
    model = tiny_model()
    idx = torch.randint(TINY.vocab_size, (1, 10),
                        generator=torch.Generator().manual_seed(4))
    changed = idx.clone()
    changed[0, 6] = (idx[0, 6] + 1) % TINY.vocab_size
    with torch.no_grad():
        a, _ = model(idx)
        b, _ = model(changed)
    torch.testing.assert_close(a[:, :6], b[:, :6])
    assert not torch.allclose(a[:, 6:], b[:, 6:])


def test_input_and_output_embeddings_are_one_tensor():
    model = tiny_model()
    assert model.lm_head.weight is model.transformer.wte.weight
    names = [n for n, _ in model.named_parameters()]
    assert "lm_head.weight" not in names      # listed once, as wte
    counted = sum(p.numel() for p in model.parameters())
    assert model.num_params() == counted
    assert model.num_params(include_positions=False) == (
        counted - TINY.block_size * TINY.n_embd)


@pytest.mark.parametrize("changes, message", [
    (dict(n_embd=10, n_head=4), "n_embd=10 must be divisible by n_head=4"),
    (dict(n_layer=0), "n_layer must be at least 1"),
    (dict(vocab_size=0), "vocab_size must be at least 1"),
    (dict(block_size=-3), "block_size must be at least 1"),
    (dict(dropout=1.0), r"dropout must be in \[0, 1\)"),
    (dict(dropout=-0.1), r"dropout must be in \[0, 1\)"),
])
def test_bad_configurations_are_explained(changes, message):
    settings = dict(vocab_size=11, block_size=16, n_layer=2, n_head=2,
                    n_embd=8) | changes
    with pytest.raises(GPTConfigError, match=message):
        GPTConfig(**settings)
    assert issubclass(GPTConfigError, ValueError)


def test_too_long_input_is_refused():
    model = tiny_model()
    with pytest.raises(ValueError, match="17 tokens do not fit the context "
                                         "window of 16"):
        model(torch.zeros(1, 17, dtype=torch.long))


@pytest.mark.parametrize("config, low, high", [
    (GPTConfig(vocab_size=50257, block_size=1024, n_layer=12, n_head=12,
               n_embd=768), 124.0e6, 124.7e6),
    (GPTConfig(vocab_size=50257, block_size=2048, n_layer=96, n_head=96,
               n_embd=12288), 174e9, 176e9),
])
def test_published_configurations_on_the_meta_device(config, low, high):
    with torch.device("meta"):
        model = GPT(config)
    assert low < model.num_params() < high


def test_a_training_step_on_the_cpu_lowers_the_loss():
    torch.manual_seed(0)
    model = GPT(TINY).train()
    optimizer = model.configure_optimizer(lr=1e-2)
    idx = torch.randint(TINY.vocab_size, (4, 16))
    losses = []
    for _ in range(5):
        _, loss = model(idx[:, :-1], targets=idx[:, 1:])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    decayed = {id(p) for g in optimizer.param_groups if g["weight_decay"]
               for p in g["params"]}
    assert id(model.transformer.wte.weight) in decayed
    assert id(model.transformer.ln_f.weight) not in decayed


def test_dropout_is_used_in_training_only():
    config = GPTConfig(vocab_size=11, block_size=16, n_layer=1, n_head=2,
                       n_embd=8, dropout=0.5)
    model = tiny_model(config).train()
    idx = torch.zeros(1, 8, dtype=torch.long)
    assert not torch.equal(model(idx)[0], model(idx)[0])
    model.eval()
    assert torch.equal(model(idx)[0], model(idx)[0])
