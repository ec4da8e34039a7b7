"""Hugging Face export: same logits, same token ids, pipeline, bad input."""

import json

import pytest
import torch

from genai.llm import hf_export
from genai.llm.gpt import GPT, GPTConfig
from genai.llm.hf_export import HFExportError, export_hf, hub_model
from genai.llm.tokenizer import BPETokenizer, CharTokenizer, demo_text
from support import EOT, random_strings

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def tokenizer():
    extra = "".join(random_strings(50, seed=1))
    return BPETokenizer.train(demo_text() + extra, vocab_size=400)


@pytest.fixture(scope="module")
def model(tokenizer):
    torch.manual_seed(0)
    config = GPTConfig(vocab_size=tokenizer.vocab_size, block_size=32,
                       n_layer=2, n_head=2, n_embd=32)
    return GPT(config).eval()


@pytest.fixture(scope="module")
def exported(model, tokenizer, tmp_path_factory):
    """(folder, HF model, HF tokenizer), exported and loaded once."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = export_hf(model, tokenizer,
                       tmp_path_factory.mktemp("hf") / "tiny-gpt2")
    return (folder, AutoModelForCausalLM.from_pretrained(folder),
            AutoTokenizer.from_pretrained(folder))


def test_files_and_config(exported, tokenizer):
    folder, hf, hf_tok = exported
    names = {p.name for p in folder.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json",
            "tokenizer_config.json"} <= names
    assert not list(folder.parent.glob(".*")), "no temporary folder left"
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "gpt2"
    assert config["activation_function"] == "gelu"
    assert config["n_positions"] == 32 and config["vocab_size"] == 400
    assert type(hf).__name__ == "GPT2LMHeadModel"
    assert type(hf_tok).__name__ == "GPT2Tokenizer"
    eot = tokenizer.special_tokens[EOT]
    assert hf_tok.eos_token_id == hf.config.eos_token_id == eot
    assert hf.lm_head.weight is hf.transformer.wte.weight, "tied"


def test_same_logits_as_ours(exported, model):
    _, hf, _ = exported
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(model.config.vocab_size, (3, 32), generator=gen)
    with torch.no_grad():
        ours = model(ids)[0]
        theirs = hf(ids).logits
    torch.testing.assert_close(theirs, ours, atol=1e-5, rtol=1e-5)


def test_same_token_ids_as_ours(exported, tokenizer):
    _, _, hf_tok = exported
    texts = list(random_strings(200, seed=7)) + [
        "", EOT, f"a{EOT}b", f" {EOT} {EOT}{EOT}", "Once upon a time",
        "😀 e\u0301 世界\n\n  \t x", "<|endoftext", "'s 're 123 4567"]
    for text in texts:
        ids = hf_tok(text)["input_ids"]
        assert ids == tokenizer.encode(text), repr(text)
        assert hf_tok.decode(ids) == text


def test_pipeline_greedy_equals_ours(exported, model, tokenizer):
    from transformers import pipeline

    folder, _, _ = exported
    generator = pipeline("text-generation", model=str(folder))
    prompt = "Once upon a time"
    out = generator(prompt, max_new_tokens=8, do_sample=False,
                    return_full_text=False)[0]["generated_text"]
    ids = tokenizer.encode(prompt)
    with torch.no_grad():
        for _ in range(8):
            logits = model(torch.tensor([ids]))[0]
            ids.append(int(logits[0, -1].argmax()))
    assert out == tokenizer.decode(ids[len(tokenizer.encode(prompt)):])


def test_a_model_without_biases_exports(tokenizer, tmp_path):
    from transformers import AutoModelForCausalLM

    torch.manual_seed(1)
    config = GPTConfig(vocab_size=tokenizer.vocab_size, block_size=16,
                       n_layer=1, n_head=2, n_embd=16, bias=False)
    model = GPT(config).eval()
    hf = AutoModelForCausalLM.from_pretrained(
        export_hf(model, tokenizer, tmp_path / "nobias"))
    ids = torch.arange(16).unsqueeze(0)
    with torch.no_grad():
        torch.testing.assert_close(hf(ids).logits, model(ids)[0],
                                   atol=1e-5, rtol=1e-5)


def test_export_replaces_an_earlier_one_atomically(model, tokenizer,
                                                   tmp_path, monkeypatch):
    folder = export_hf(model, tokenizer, tmp_path / "m")
    before = (folder / "model.safetensors").read_bytes()
    export_hf(model, tokenizer, folder)          # replaces it
    assert (folder / "model.safetensors").read_bytes() == before

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(hf_export, "hf_tokenizer", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        export_hf(model, tokenizer, folder)
    assert (folder / "model.safetensors").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_bad_input(model, tokenizer, tmp_path):
    char = CharTokenizer.train("hello")
    with pytest.raises(HFExportError, match="character-level.*BPE"):
        export_hf(model, char, tmp_path / "a")
    small = BPETokenizer.train("some text", vocab_size=260)
    with pytest.raises(HFExportError, match="400.*not trained together"):
        export_hf(model, small, tmp_path / "a")
    with pytest.raises(HFExportError, match="expected a genai.llm.gpt.GPT"):
        export_hf(torch.nn.Linear(2, 2), tokenizer, tmp_path / "a")
    with pytest.raises(HFExportError, match="expected a BPETokenizer"):
        export_hf(model, object(), tmp_path / "a")
    no_eot = BPETokenizer(list(tokenizer.ranks), special_tokens=["<|pad|>"])
    with pytest.raises(HFExportError, match="needs the special token"):
        export_hf(model, no_eot, tmp_path / "a")
    (tmp_path / "file").write_text("x")
    with pytest.raises(HFExportError, match="is a file"):
        export_hf(model, tokenizer, tmp_path / "file")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("mine")
    with pytest.raises(HFExportError, match="no earlier export"):
        export_hf(model, tokenizer, tmp_path / "notes")
    assert (tmp_path / "notes" / "todo.txt").read_text() == "mine"


def test_hub_model_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("COURSE_HF_MODEL", raising=False)
    monkeypatch.delenv("COURSE_LOCAL_MODEL", raising=False)
    assert hub_model() == "openai-community/gpt2"
    monkeypatch.setenv("COURSE_HF_MODEL", str(tmp_path))
    assert hub_model() == str(tmp_path)
    monkeypatch.delenv("COURSE_HF_MODEL")
    monkeypatch.setenv("COURSE_LOCAL_MODEL", "tiny-random")
    monkeypatch.setattr(hf_export, "export_pretrained",
                        lambda name: tmp_path / name)
    assert hub_model() == str(tmp_path / "facts")
