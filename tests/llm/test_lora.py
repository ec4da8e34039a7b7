"""LoRA: adapters that start as the identity and train alone, embedding rows
that train alone and stay tied, merging that changes nothing, the memory
count, the shipped adapters' quality against full fine-tuning, and peft's
LoRA with the same count and, given our numbers, the same outputs."""

import copy
import dataclasses

import pytest
import torch
from torch import nn

from genai import store
from genai.llm.instruct import CHAT_TOKENS, base_with_chat_tokens, evaluate, instruction_data, tune
from genai.llm.lora import (LoRAConfig, LoRAError, LoRALinear, adapted, add_lora, lora_model,
                            merge_lora, new_and_reply_rows, peft_lora, train_rows, trainable,
                            training_bytes)

CPU = torch.device("cpu")
SIZE = 915_712     # the facts model with the chat tokens: 924 x 128 tokens


@pytest.fixture(scope="module")
def base():
    return base_with_chat_tokens(device=CPU)


@pytest.fixture(scope="module")
def shipped():
    return adapted(device=CPU)


def ids(tokenizer, text="<|user|>Capital of Peru?<|end|><|assistant|>Lima."):
    return torch.tensor([tokenizer.encode(text)])


def test_an_adapter_starts_as_its_layer_and_only_it_trains():
    torch.manual_seed(0)
    layer = nn.Linear(8, 6)
    lora = LoRALinear(copy.deepcopy(layer), rank=2, alpha=4)
    x = torch.randn(3, 8)
    assert torch.equal(lora(x), layer(x))            # B starts at zero
    assert [n for n, p in lora.named_parameters() if p.requires_grad] == ["A", "B"]
    lora(x).sum().backward()
    assert lora.base.weight.grad is None and lora.B.grad.abs().sum() > 0
    with torch.no_grad():
        lora.B.normal_()
    expected = layer(x) + 2.0 * x @ (lora.B @ lora.A).T     # alpha / rank = 2
    assert torch.allclose(lora(x), expected, atol=1e-6)
    assert torch.allclose(lora.merged()(x), expected, atol=1e-6)


@pytest.mark.parametrize("rank", [0, 7, -1])
def test_a_rank_the_layer_cannot_have_is_a_clear_error(rank):
    with pytest.raises(LoRAError, match="rank must be between 1 and 6"):
        LoRALinear(nn.Linear(8, 6), rank, alpha=8)


def test_adapters_go_on_every_attention_and_mlp_layer_and_nothing_else_trains(base):
    model = add_lora(copy.deepcopy(base[0]), rank=2)
    wrapped = [n for n, m in model.named_modules() if isinstance(m, LoRALinear)]
    # 4 blocks x (attn.c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj)
    assert len(wrapped) == 4 * 4
    # rank x (in + out) per layer: c_attn 128+384, c_proj 128+128, c_fc 128+512, 512+128
    assert trainable(model) == 4 * 2 * (512 + 256 + 640 + 640) == 16_384
    assert all(n.endswith((".A", ".B")) for n, p in model.named_parameters() if p.requires_grad)
    with pytest.raises(LoRAError, match="no Linear layer named c_q"):
        add_lora(copy.deepcopy(base[0]), targets=("c_q",))
    with pytest.raises(LoRAError, match="nothing to train"):
        lora_model(LoRAConfig(rank=0, rows=""), CPU)
    with pytest.raises(LoRAError, match="rows must be one of"):
        lora_model(LoRAConfig(rows="all"), CPU)


def test_only_the_chosen_embedding_rows_move_and_the_embedding_stays_tied(base):
    model, tokenizer = base
    model = train_rows(add_lora(copy.deepcopy(model)), [920, 921, 5])
    assert model.transformer.wte.token_rows is model.lm_head.token_rows
    before = model.lm_head.token_rows.table().detach().clone()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=0.1)
    x = ids(tokenizer)
    model(x, x)[1].backward()
    optimizer.step()
    changed = (model.lm_head.token_rows.table() != before).any(1).nonzero().flatten()
    assert changed.tolist() == [5, 920, 921]
    with pytest.raises(LoRAError, match="rows must be token ids from 0 to 923"):
        train_rows(copy.deepcopy(base[0]), [924])
    untied = copy.deepcopy(base[0])
    untied.lm_head.weight = nn.Parameter(untied.lm_head.weight.detach().clone())
    with pytest.raises(LoRAError, match="needs a tied embedding"):
        train_rows(untied, [5])


def test_the_rows_are_the_new_tokens_and_the_replies_tokens(base):
    _, tokenizer = base
    examples = [("Capital of Peru?", "Lima.", "Peru")]
    rows = new_and_reply_rows(tokenizer, examples)
    assert {tokenizer.decode([i]) for i in rows} == {
        "<|system|>", "<|user|>", "<|assistant|>", "<|end|>", "Lima", "."}
    chat = new_and_reply_rows(tokenizer, examples, replies=False)
    assert {tokenizer.decode([i]) for i in chat} == set(CHAT_TOKENS)


def test_merging_gives_a_plain_gpt_with_the_same_outputs(shipped):
    model, tokenizer = shipped.model, shipped.tokenizer
    merged = merge_lora(copy.deepcopy(model))
    assert not any(isinstance(m, LoRALinear) for m in merged.modules())
    assert merged.transformer.wte.weight is merged.lm_head.weight
    assert sum(p.numel() for p in merged.parameters()) == SIZE
    x = ids(tokenizer)
    with torch.no_grad():
        assert torch.allclose(merged(x)[0], model(x)[0], atol=1e-5)
    # the merged weights load into a new GPT like any other
    plain = type(merged)(merged.config)
    plain.load_state_dict(merged.state_dict())


def test_adapters_sit_on_the_base_they_were_trained_on(shipped):
    """The store refuses the adapters on other facts weights than those
    they were tuned from (the manifest's "bases": test_store.py's
    test_a_reference_tuned_from_other_base_weights_is_refused); the recipe
    refuses adapters that do not fit the model."""
    index = store.manifest_index()
    assert index["lora"]["bases"] == {"facts": index["facts"]["sha256"]}
    recipe = store.recipe("lora")
    tensors, data = recipe.save(shipped)
    rebuilt = recipe.build(recipe.config, tensors, data, CPU)       # the same base: fine
    assert torch.equal(rebuilt.model.lm_head.token_rows.delta,
                       shipped.model.lm_head.token_rows.delta)
    tensors.pop("transformer.h.0.attn.c_attn.A")
    with pytest.raises(store.StoreError, match="do not fit the model: transformer.h.0.attn.c_attn"):
        recipe.build(recipe.config, tensors, data, CPU)


def test_a_little_lora_tuning_lowers_the_loss_and_leaves_the_base_as_it_was():
    config = LoRAConfig(steps=30)
    model, tokenizer = lora_model(config, CPU)
    frozen = {n: p.clone() for n, p in model.named_parameters() if not p.requires_grad}
    losses = tune(model, tokenizer, config.tune_config(), log=lambda text: None)
    assert sum(losses[-5:]) < 0.7 * sum(losses[:5])
    assert all(torch.equal(p, frozen[n]) for n, p in model.named_parameters()
               if not p.requires_grad)


def test_lora_keeps_a_quarter_of_what_full_tuning_keeps_between_steps(base):
    def kept(model):
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad])
        x = ids(base[1])
        model(x, x)[1].backward()
        optimizer.step()
        return training_bytes(model, optimizer)

    full = kept(copy.deepcopy(base[0]))
    lora, _ = lora_model(LoRAConfig(), CPU)
    # 4 bytes a weight; gradient and AdamW's two moments for each trained one
    assert full == 16 * SIZE
    assert kept(lora) == 4 * SIZE + 16 * trainable(lora)
    assert trainable(lora) == 16_384 + 149 * 128


def test_the_shipped_adapters_train_under_5_percent_and_come_within_5_points_of_full(shipped):
    assert trainable(shipped.model) / SIZE <= 0.05
    scores = evaluate(shipped.model, shipped.tokenizer, instruction_data(held_out=True))
    full = store.manifest_index()["assistant"]["quality"]["accuracy"]
    assert scores["accuracy"] >= full - 0.05 and scores["ended"] >= 0.95
    # the reference file holds the adapters and rows only
    assert store.manifest_index()["lora"]["bytes"] < 0.05 * \
        store.manifest_index()["assistant"]["bytes"]


def test_adapters_alone_cannot_make_the_replies_first_token(base):
    # the page's table (500 steps): 10.5% right without the rows; here a
    # shorter run, and a bound far from it
    config = dataclasses.replace(LoRAConfig(), rows="", steps=150)
    model, tokenizer = lora_model(config, CPU)
    tune(model, tokenizer, config.tune_config(), log=lambda text: None)
    rows = [r for r in instruction_data(held_out=True) if r[2] != "unknown"][::6]
    assert evaluate(model, tokenizer, rows)["accuracy"] < 0.6


def test_peft_trains_as_many_numbers_and_with_ours_gives_our_outputs(base, shipped):
    pytest.importorskip("peft")
    model, tokenizer = base
    hf = peft_lora(copy.deepcopy(model), tokenizer)
    assert trainable(hf) == trainable(shipped.model) == 35_456
    # our trained adapters and rows, written into peft's model
    ours = dict(shipped.model.named_parameters())
    with torch.no_grad():
        for name, p in hf.named_parameters():
            if ".lora_A." in name or ".lora_B." in name:
                layer = name.split("base_model.model.")[1].split(".lora_")[0]
                p.copy_(ours[f"{layer}.{'A' if '.lora_A.' in name else 'B'}"])
            elif "trainable_tokens_delta" in name:     # peft keeps the rows' new values
                rows = shipped.model.lm_head.token_rows
                p.copy_(rows.table()[rows.rows])
    x = ids(tokenizer)
    with torch.no_grad():
        assert torch.allclose(hf(input_ids=x).logits, shipped.model(x)[0], atol=1e-5)
