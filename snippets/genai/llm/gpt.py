"""A GPT in one readable file: the GPT-2 architecture, small enough for a CPU.

Token and position embeddings, a stack of pre-LayerNorm transformer blocks
(causal multi-head self-attention, then a GELU MLP, each wrapped in a
residual connection), a final LayerNorm, and an output layer that shares its
weights with the token embedding. Parameter names follow Hugging Face's
GPT2LMHeadModel, so a trained model exports to it (see genai.llm.hf_export).

The model runs attention through PyTorch's fast
``F.scaled_dot_product_attention``; ``attention`` below is the same thing
written out by hand, for reading and for the test that they agree.

    python -m genai.llm.gpt
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


class GPTConfigError(ValueError):
    """A GPT configuration that cannot be built."""


# --8<-- [start:config]
@dataclass(frozen=True)
class GPTConfig:
    """Everything that defines the network; checkpoints store it."""
    vocab_size: int = 256   # how many different tokens there are
    block_size: int = 64    # the context window: most tokens seen at once
    n_layer: int = 4        # transformer blocks
    n_head: int = 4         # attention heads per block
    n_embd: int = 128       # width of every token's vector
    dropout: float = 0.0    # off for small data and for inference
    bias: bool = True       # GPT-2 has biases in Linear and LayerNorm

    def __post_init__(self):
        for name in ("vocab_size", "block_size", "n_layer", "n_head",
                     "n_embd"):
            if getattr(self, name) < 1:
                raise GPTConfigError(f"{name} must be at least 1")
        if self.n_embd % self.n_head:
            raise GPTConfigError(
                f"n_embd={self.n_embd} must be divisible by "
                f"n_head={self.n_head}: each head gets n_embd // n_head")
        if not 0.0 <= self.dropout < 1.0:
            raise GPTConfigError(f"dropout must be in [0, 1), got "
                                 f"{self.dropout}")
# --8<-- [end:config]


# --8<-- [start:attention]
def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
              causal: bool = True) -> torch.Tensor:
    """Scaled dot-product attention, written out.

    q is (..., T_q, d); k and v are (..., T_k, d). With causal=True, query i
    sees only keys up to its own position; when T_q < T_k the queries are the
    last T_q positions (as when a KV cache holds the earlier ones).
    """
    d = q.size(-1)
    scores = q @ k.transpose(-2, -1) / math.sqrt(d)    # (..., T_q, T_k)
    if causal:
        t_q, t_k = q.size(-2), k.size(-2)
        allowed = torch.ones(t_q, t_k, dtype=torch.bool, device=q.device)
        allowed = allowed.tril(diagonal=t_k - t_q)
        scores = scores.masked_fill(~allowed, float("-inf"))
    weights = scores.softmax(dim=-1)                     # rows sum to 1
    return weights @ v
# --8<-- [end:attention]


# --8<-- [start:kv_cache]
class KVCache:
    """Keys and values of the tokens seen so far, for every layer.

    Generating token t+1 needs the keys and values of tokens 1..t. Without a
    cache the model recomputes them all at every step; with one it computes
    only the new token's and reads the rest from here.
    """

    def __init__(self, config: GPTConfig, batch_size: int,
                 device: torch.device | str = "cpu",
                 dtype: torch.dtype = torch.float32):
        head_dim = config.n_embd // config.n_head
        shape = (config.n_layer, 2, batch_size, config.n_head,
                 config.block_size, head_dim)
        self.kv = torch.zeros(shape, device=device, dtype=dtype)
        self.block_size = config.block_size
        self.length = 0            # positions filled so far

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor):
        """Store this step's k, v for one layer; return all keys/values."""
        start, end = self.length, self.length + k.size(-2)
        self.kv[layer, 0, :, :, start:end] = k
        self.kv[layer, 1, :, :, start:end] = v
        return self.kv[layer, 0, :, :, :end], self.kv[layer, 1, :, :, :end]
# --8<-- [end:kv_cache]


# --8<-- [start:mha]
class CausalSelfAttention(nn.Module):
    """Multi-head self-attention where each token looks only backwards."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.n_head = config.n_head
        # one Linear computes queries, keys and values for all heads at once
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd,
                                bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd,
                                bias=config.bias)
        self.dropout = config.dropout
        self.resid_dropout = nn.Dropout(config.dropout)

    def forward(self, x, cache: KVCache | None = None, layer: int = 0):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        # (B, T, C) -> (B, n_head, T, head_dim): the heads work side by side
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
                   for t in (q, k, v))
        if cache is not None:
            k, v = cache.update(layer, k, v)
        if T == k.size(-2) or T == 1:
            # the fast path: fused kernels, no T x T matrix kept for backward
            y = F.scaled_dot_product_attention(
                q, k, v, is_causal=T > 1,
                dropout_p=self.dropout if self.training else 0.0)
        else:
            y = attention(q, k, v, causal=True)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # heads side by side
        return self.resid_dropout(self.c_proj(y))
# --8<-- [end:mha]


# --8<-- [start:mlp]
class MLP(nn.Module):
    """Each token on its own: widen 4x, GELU, project back."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd,
                              bias=config.bias)
        # exact GELU: GPT-2 used a tanh approximation, which PyTorch
        # computes about 3x slower on CPU; the two differ by < 0.001
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd,
                                bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))
# --8<-- [end:mlp]


# --8<-- [start:block]
class Block(nn.Module):
    """Pre-LayerNorm block: x + attention(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x, cache: KVCache | None = None, layer: int = 0):
        x = x + self.attn(self.ln_1(x), cache, layer)   # tokens talk
        x = x + self.mlp(self.ln_2(x))                  # each token thinks
        return x
# --8<-- [end:block]


# --8<-- [start:gpt]
class GPT(nn.Module):
    """Token ids (B, T) in, next-token logits (B, T, vocab_size) out."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(config.vocab_size, config.n_embd),  # tokens
            wpe=nn.Embedding(config.block_size, config.n_embd),  # positions
            drop=nn.Dropout(config.dropout),
            h=nn.ModuleList(Block(config) for _ in range(config.n_layer)),
            ln_f=nn.LayerNorm(config.n_embd, bias=config.bias),
        ))
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size,
                                 bias=False)
        # weight tying: reading a token in and writing one out share a matrix
        self.transformer.wte.weight = self.lm_head.weight
        self.apply(self._init_weights)
        # GPT-2 scales the layers that write into the residual stream
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None,
                cache: KVCache | None = None):
        """Logits for every position; the mean cross-entropy if targets."""
        B, T = idx.shape
        start = cache.length if cache is not None else 0
        if cache is not None and cache.kv.size(2) != B:
            raise ValueError(f"the cache was made for {cache.kv.size(2)} "
                             f"sequences, the input has {B}")
        if start + T > self.config.block_size:
            raise ValueError(
                f"{start + T} tokens do not fit the context window of "
                f"{self.config.block_size}; crop the input (see "
                f"genai.llm.generate)")
        pos = torch.arange(start, start + T, device=idx.device)
        x = self.transformer.wte(idx) + self.transformer.wpe(pos)
        x = self.transformer.drop(x)
        for i, block in enumerate(self.transformer.h):
            x = block(x, cache, i)
        if cache is not None:
            cache.length += T
        logits = self.lm_head(self.transformer.ln_f(x))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten())
        return logits, loss

    def num_params(self, include_positions: bool = True) -> int:
        """Parameters, counting the tied embedding once."""
        n = sum(p.numel() for p in self.parameters())   # tied: listed once
        if not include_positions:
            n -= self.transformer.wpe.weight.numel()
        return n

    # --8<-- [start:optimizer]
    def configure_optimizer(self, lr: float, weight_decay: float = 0.1,
                            betas=(0.9, 0.95)) -> torch.optim.AdamW:
        """AdamW that decays matrices only, not biases or LayerNorm gains."""
        params = [p for p in self.parameters() if p.requires_grad]
        decay = [p for p in params if p.dim() >= 2]
        no_decay = [p for p in params if p.dim() < 2]
        groups = [{"params": decay, "weight_decay": weight_decay},
                  {"params": no_decay, "weight_decay": 0.0}]
        device_type = next(self.parameters()).device.type
        # the fused kernel updates every tensor in one pass (CPU and CUDA)
        fused = device_type in ("cpu", "cuda")
        return torch.optim.AdamW(groups, lr=lr, betas=betas, fused=fused)
    # --8<-- [end:optimizer]
# --8<-- [end:gpt]


if __name__ == "__main__":
    from genai.cli import demo_arguments

    demo_arguments(__doc__)   # --help says what the demo does
    torch.manual_seed(0)
    config = GPTConfig()
    model = GPT(config)
    idx = torch.randint(config.vocab_size, (2, 16))
    targets = torch.randint(config.vocab_size, (2, 16))
    logits, loss = model(idx, targets=targets)
    print(f"GPT with {model.num_params():,} parameters: "
          f"{config.n_layer} layers, {config.n_head} heads, "
          f"width {config.n_embd}, context {config.block_size}")
    print(f"logits {tuple(logits.shape)}, loss before training "
          f"{loss.item():.3f} (ln {config.vocab_size} = "
          f"{math.log(config.vocab_size):.3f})")
