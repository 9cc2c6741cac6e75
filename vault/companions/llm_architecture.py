# generated from vault/How LLMs Work/LLM Architecture Deep Dive.md — do not edit; regenerate with `llm-vault export`
# Import it: `from companions import llm_architecture` (the cells marked `export`).
# Run it: `python -m companions.llm_architecture` runs the whole note.

# %% export note_line=53
import math
from dataclasses import dataclass, asdict
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class GPTConfig:
    vocab_size: int
    block_size: int = 256  # longest sequence the model is built for
    n_layer: int = 4
    n_head: int = 4
    n_kv_head: Optional[int] = None  # None -> n_head (MHA); 1 -> MQA; in between -> GQA
    n_embd: int = 128
    dropout: float = 0.0
    # biases in Linear layers and LayerNorm (GPT-2: True, Llama: False)
    bias: bool = False
    norm: str = "rmsnorm"  # "rmsnorm" | "layernorm"
    mlp: str = "swiglu"  # "swiglu" | "gelu"
    pos: str = "rope"  # "rope" | "learned"
    # MLP width; None -> 4*d (gelu) or ~8/3*d rounded up to 32 (swiglu)
    ffn_hidden: Optional[int] = None
    tie_weights: bool = True  # share the token embedding with the LM head
    rope_theta: float = 10000.0

    def __post_init__(self):
        if self.n_kv_head is None:
            self.n_kv_head = self.n_head
        assert self.n_embd % self.n_head == 0, "n_embd must be divisible by n_head"
        assert self.n_head % self.n_kv_head == 0, (
            "n_head must be a multiple of n_kv_head"
        )
        assert self.norm in ("rmsnorm", "layernorm") and self.mlp in ("swiglu", "gelu")
        assert self.pos in ("rope", "learned")

    @property
    def head_dim(self):
        return self.n_embd // self.n_head


def ffn_hidden_size(cfg):
    if cfg.ffn_hidden is not None:
        return cfg.ffn_hidden
    if cfg.mlp == "gelu":
        return 4 * cfg.n_embd
    # SwiGLU has three matrices instead of two; 8/3*d keeps the parameter count of a 4*d
    # GELU MLP
    return 32 * math.ceil(8 * cfg.n_embd / 3 / 32)


# %% note_line=113
if __name__ == "__main__":
    torch.manual_seed(0)
    vocab, d = 10, 6
    emb = nn.Embedding(vocab, d)
    ids = torch.tensor([3, 1, 3, 7])

    looked_up = emb(ids)
    one_hot = F.one_hot(ids, vocab).float()
    assert torch.allclose(looked_up, one_hot @ emb.weight)

    looked_up.sum().backward()
    rows_with_grad = (emb.weight.grad.abs().sum(dim=1) > 0).nonzero().flatten().tolist()
    print("embedding output shape:", tuple(looked_up.shape))
    print("rows that received gradient:", rows_with_grad)
    print("gradient of row 3 counts its two occurrences:", emb.weight.grad[3, 0].item())
    assert rows_with_grad == [1, 3, 7]


# %% export note_line=164
def causal_mask(t_q, t_k, device=None):
    """Boolean (t_q, t_k) mask, True where attention is allowed; the queries are the
    last t_q positions."""
    offset = t_k - t_q
    return torch.ones(t_q, t_k, dtype=torch.bool, device=device).tril(diagonal=offset)


def attention(q, k, v, causal=True, return_weights=False):
    """softmax(Q K^T / sqrt(d)) V for q: (B, H, Tq, d), k and v: (B, Hkv, Tk, d) with H
    a multiple of Hkv."""
    B, H, Tq, D = q.shape
    Hkv, Tk = k.shape[1], k.shape[2]
    group = H // Hkv
    qg = q.reshape(B, Hkv, group, Tq, D)  # query heads that share one K/V head
    # (B, Hkv, group, Tq, Tk)
    scores = qg @ k.unsqueeze(2).transpose(-2, -1) / math.sqrt(D)
    if causal:
        scores = scores.masked_fill(~causal_mask(Tq, Tk, q.device), float("-inf"))
    weights = scores.softmax(dim=-1)
    out = (weights @ v.unsqueeze(2)).reshape(B, H, Tq, D)
    if return_weights:
        return out, weights.reshape(B, H, Tq, Tk)
    return out


# %% note_line=193
if __name__ == "__main__":
    torch.manual_seed(0)
    B, H, T, D = 2, 4, 9, 16
    q, k, v = (torch.randn(B, H, T, D) for _ in range(3))

    for causal in (False, True):
        ours = attention(q, k, v, causal=causal)
        ref = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        err = (ours - ref).abs().max().item()
        print(f"causal={causal!s:5}  max |ours - torch| = {err:.2e}")
        assert torch.allclose(ours, ref, atol=1e-5)

    _, w = attention(q, k, v, causal=True, return_weights=True)
    assert torch.allclose(w.sum(-1), torch.ones(B, H, T))  # each row is a distribution
    assert (w.triu(diagonal=1) == 0).all()  # nothing above the diagonal
    print("mask for T_q=3 new queries over T_k=6 keys (1 = may attend):")
    print(causal_mask(3, 6).int())


# %% export note_line=227
def rope_cache(head_dim, max_len, theta=10000.0, device=None):
    """cos and sin tables of shape (max_len, head_dim // 2) for rotary position
    embeddings."""
    assert head_dim % 2 == 0
    inv_freq = 1.0 / theta ** (
        torch.arange(0, head_dim, 2, device=device).float() / head_dim
    )
    angles = torch.outer(torch.arange(max_len, device=device).float(), inv_freq)
    return angles.cos(), angles.sin()


def apply_rope(x, cos, sin):
    """Rotate consecutive pairs (x[2i], x[2i+1]) of x: (..., T, head_dim) by the angles
    of each position."""
    x1, x2 = x.float()[..., 0::2], x.float()[..., 1::2]
    out = torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)
    return out.flatten(-2).type_as(x)


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.n_head, self.n_kv_head, self.head_dim = (
            cfg.n_head,
            cfg.n_kv_head,
            cfg.head_dim,
        )
        kv_dim = cfg.n_kv_head * cfg.head_dim
        self.q_proj = nn.Linear(cfg.n_embd, cfg.n_embd, bias=cfg.bias)
        self.k_proj = nn.Linear(cfg.n_embd, kv_dim, bias=cfg.bias)
        self.v_proj = nn.Linear(cfg.n_embd, kv_dim, bias=cfg.bias)
        self.o_proj = nn.Linear(cfg.n_embd, cfg.n_embd, bias=cfg.bias)
        self.dropout = cfg.dropout
        # set True to keep the attention weights in self.last_attn
        self.store_attn = False
        self.last_attn = None

    def forward(self, x, cos=None, sin=None, kv_cache=None, layer_idx=0):
        B, T, C = x.shape
        q = self.q_proj(x).view(B, T, self.n_head, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(B, T, self.n_kv_head, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.n_kv_head, self.head_dim).transpose(1, 2)
        if cos is not None:
            q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if kv_cache is not None:
            k, v = kv_cache.update(layer_idx, k, v)
        if self.store_attn:
            y, self.last_attn = attention(q, k, v, causal=True, return_weights=True)
        else:
            t_q, t_k = q.shape[2], k.shape[2]
            mask = None if t_q in (1, t_k) else causal_mask(t_q, t_k, x.device)
            y = F.scaled_dot_product_attention(
                q,
                k,
                v,
                attn_mask=mask,
                is_causal=(t_q == t_k and t_q > 1),
                dropout_p=self.dropout if self.training else 0.0,
                enable_gqa=self.n_kv_head != self.n_head,
            )
        y = y.transpose(1, 2).reshape(B, T, C)
        return self.o_proj(y)


# %% note_line=295
if __name__ == "__main__":
    torch.manual_seed(0)
    cfg_small = GPTConfig(vocab_size=50, n_embd=32, n_head=4, block_size=16)
    attn = CausalSelfAttention(cfg_small).eval()
    cos_t, sin_t = rope_cache(cfg_small.head_dim, 16)

    x = torch.randn(1, 12, 32)
    x_edit = x.clone()
    x_edit[:, 9:] = torch.randn(1, 3, 32)  # change positions 9, 10, 11 only

    with torch.no_grad():
        y, y_edit = attn(x, cos_t[:12], sin_t[:12]), attn(x_edit, cos_t[:12], sin_t[:12])
    diff = (y - y_edit).abs().amax(dim=-1)[0]
    print("max change of the output at each position:")
    print([f"{d:.1e}" for d in diff.tolist()])
    assert torch.allclose(y[:, :9], y_edit[:, :9], atol=1e-6)  # positions 0..8 untouched
    assert (diff[9:] > 1e-3).all()  # later positions do change


# %% note_line=324
if __name__ == "__main__":
    torch.manual_seed(0)
    B, H, H_kv, T, D = 2, 8, 2, 7, 16
    q = torch.randn(B, H, T, D)
    k, v = torch.randn(B, H_kv, T, D), torch.randn(B, H_kv, T, D)

    ours = attention(q, k, v, causal=True)
    # heads 0,1,2,3 share K/V head 0, heads 4..7 share head 1
    k_rep = k.repeat_interleave(H // H_kv, dim=1)
    v_rep = v.repeat_interleave(H // H_kv, dim=1)
    naive = F.scaled_dot_product_attention(q, k_rep, v_rep, is_causal=True)
    fused = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
    print(f"GQA ours vs repeated-heads: {(ours - naive).abs().max():.2e}")
    print(f"GQA torch enable_gqa vs repeated-heads: {(fused - naive).abs().max():.2e}")
    assert torch.allclose(ours, naive, atol=1e-5) and torch.allclose(
        fused, naive, atol=1e-5
    )

    gqa_cfg = GPTConfig(vocab_size=100, n_embd=64, n_head=8, n_kv_head=2)
    mha_cfg = GPTConfig(vocab_size=100, n_embd=64, n_head=8)
    n_gqa = sum(p.numel() for p in CausalSelfAttention(gqa_cfg).parameters())
    n_mha = sum(p.numel() for p in CausalSelfAttention(mha_cfg).parameters())
    print(f"attention parameters: MHA {n_mha:,}  GQA(8 query / 2 kv heads) {n_gqa:,}")
    assert n_gqa == 64 * 64 * 2 + 2 * 64 * (2 * 8)


# %% note_line=361
if __name__ == "__main__":
    torch.manual_seed(0)
    T, D = 10, 8
    cos_t, sin_t = rope_cache(D, T)
    x = torch.randn(T, D)

    rotated = apply_rope(x, cos_t, sin_t)
    as_complex = torch.view_as_complex(x.reshape(T, D // 2, 2))
    angles = torch.outer(
        torch.arange(T).float(), 1.0 / 10000 ** (torch.arange(0, D, 2).float() / D)
    )
    direct = torch.view_as_real(
        as_complex * torch.polar(torch.ones_like(angles), angles)
    ).reshape(T, D)
    print(f"max |apply_rope - complex rotation| = {(rotated - direct).abs().max():.2e}")
    assert torch.allclose(rotated, direct, atol=1e-5)
    # a rotation keeps lengths
    assert torch.allclose(rotated.norm(dim=-1), x.norm(dim=-1), atol=1e-5)

    # the same query and key vectors placed at different absolute positions but equal
    # distance
    qv, kv_ = torch.randn(D), torch.randn(D)
    cos_l, sin_l = rope_cache(D, 64)


    def score(m, n):
        qm = apply_rope(qv, cos_l[m], sin_l[m])
        kn = apply_rope(kv_, cos_l[n], sin_l[n])
        return (qm @ kn).item()


    pairs = [(5, 2), (20, 17), (60, 57)]
    print("q·k for position pairs at distance 3:", [f"{score(m, n):.5f}" for m, n in pairs])
    print("q·k at distance 10 instead:          ", f"{score(30, 20):.5f}")
    assert all(abs(score(m, n) - score(5, 2)) < 1e-4 for m, n in pairs)


# %% note_line=426
if __name__ == "__main__":
    def rope_frequencies(
        head_dim,
        method="none",
        scale=1.0,
        train_len=None,
        theta=10000.0,
        alpha=1.0,
        beta=32.0,
    ):
        """θ_i of each rotated pair under a context-extension method: none, pi, ntk or
    yarn."""
        exponent = torch.arange(0, head_dim, 2).double() / head_dim
        freq = 1.0 / theta**exponent
        if method == "pi":
            return freq / scale
        if method == "ntk":
            return 1.0 / (theta * scale ** (head_dim / (head_dim - 2))) ** exponent
        if method == "yarn":
            turns = train_len * freq / (2 * math.pi)
            # 1: keep the frequency, 0: interpolate by s
            keep = ((turns - alpha) / (beta - alpha)).clamp(0, 1)
            return keep * freq + (1 - keep) * freq / scale
        return freq


    HEAD_DIM, TRAIN_LEN, SCALE = 64, 512, 4
    METHODS = ["none", "pi", "ntk", "yarn"]
    base_freq = rope_frequencies(HEAD_DIM)
    # pairs that never complete a turn in training
    slow = TRAIN_LEN * base_freq < 2 * math.pi
    overshoot, per_token = {}, {}
    for method in METHODS:
        freq = rope_frequencies(HEAD_DIM, method, SCALE, TRAIN_LEN)
        overshoot[method] = (
            ((SCALE * TRAIN_LEN * freq)[slow] / (TRAIN_LEN * base_freq)[slow]).max().item()
        )
        per_token[method] = freq[0].item()
        print(
            f"{method:5s} slow pairs reach {overshoot[method]:.2f}x the largest trained"
            f" angle; fastest pair turns {per_token[method]:.3f} rad per token"
        )
    print(
        f"{slow.sum().item()} of {HEAD_DIM // 2} pairs never complete a turn in {TRAIN_LEN}"
        f" tokens; YaRN's query and key factor for s={SCALE}:"
        f" {0.1 * math.log(SCALE) + 1:.3f}"
    )
    assert math.isclose(overshoot["none"], SCALE) and overshoot["ntk"] > 1.1
    assert overshoot["pi"] <= 1 + 1e-9 and overshoot["yarn"] <= 1 + 1e-9
    assert (
        math.isclose(per_token["pi"], 1 / SCALE)
        and per_token["ntk"] == per_token["yarn"] == per_token["none"] == 1.0
    )


# %% note_line=488
if __name__ == "__main__":
    import matplotlib.pyplot as plt


    def head_scores(q, k, freq, n_positions):
        # the query at position d against the key at position 0 stands for every pair at
        # distance d
        angles = torch.outer(torch.arange(n_positions).double(), freq).float()
        return apply_rope(q.expand(n_positions, -1), angles.cos(), angles.sin()) @ k


    angles = torch.outer(torch.arange(TRAIN_LEN).double(), base_freq)
    # score = features @ (Re q, Im q) when k = 1
    features = torch.cat([angles.cos(), -angles.sin()], dim=1)
    target = 2.5 * torch.exp(-torch.arange(TRAIN_LEN).double() / 32)
    ridge = 1e-2 * torch.eye(HEAD_DIM, dtype=torch.double)
    coef = torch.linalg.solve(features.T @ features + ridge, features.T @ target)
    q = (
        torch.stack([coef[: HEAD_DIM // 2], coef[HEAD_DIM // 2 :]], dim=-1)
        .flatten()
        .float()
    )
    k = torch.stack(
        [torch.ones(HEAD_DIM // 2), torch.zeros(HEAD_DIM // 2)], dim=-1
    ).flatten()

    trained = head_scores(q, k, base_freq, TRAIN_LEN)
    # apply_rope agrees with the formula
    assert torch.allclose(trained.double(), features @ coef, atol=1e-4)
    scores = {
        m: head_scores(
            q, k, rope_frequencies(HEAD_DIM, m, SCALE, TRAIN_LEN), SCALE * TRAIN_LEN
        )
        for m in METHODS
    }
    print(
        "fit over the trained distances: largest error"
        f" {(trained.double() - target).abs().max():.3f}; scores in [{trained.min():.2f},"
        f" {trained.max():.2f}]"
    )
    far_max = {m: s[TRAIN_LEN:].max().item() for m, s in scores.items()}
    drop = {m: (s[0] - s[4]).item() for m, s in scores.items()}
    for method, s in scores.items():
        print(
            f"{method:5s} largest score beyond distance {TRAIN_LEN}: {far_max[method]:5.2f}"
            f" (at {TRAIN_LEN + s[TRAIN_LEN:].argmax().item()}); score drop over the first"
            f" 4 tokens {drop[method]:.3f}"
        )
    # a far token outranks the nearest one
    assert min(far_max["none"], far_max["ntk"]) > trained.max()
    assert max(far_max["pi"], far_max["yarn"]) < trained.max()  # inside the trained range
    assert drop["pi"] < drop["yarn"] < drop["none"]  # PI blurs neighbours the most

    fig, ax = plt.subplots(figsize=(7, 3.5))
    for method, s in scores.items():
        ax.plot(s.numpy(), lw=1, label=method)
    ax.axvline(TRAIN_LEN, color="k", ls="--", lw=1, label="trained length")
    ax.set_xlabel("distance between query and key (tokens)")
    ax.set_ylabel("attention score")
    ax.legend(fontsize=8)
    plt.tight_layout()
    plt.show()


# %% export note_line=570
class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        xf = x.float()  # the mean of squares in float32 even under bf16 autocast
        normed = xf * torch.rsqrt(xf.pow(2).mean(dim=-1, keepdim=True) + self.eps)
        return normed.type_as(x) * self.weight


# %% note_line=583
if __name__ == "__main__":
    torch.manual_seed(0)
    x = torch.randn(4, 32) * 3 + 1
    norm = RMSNorm(32)
    with torch.no_grad():
        norm.weight.copy_(torch.rand(32) + 0.5)
    ref = F.rms_norm(x, (32,), weight=norm.weight, eps=1e-6)
    print(f"RMSNorm vs torch.nn.functional.rms_norm: {(norm(x) - ref).abs().max():.2e}")
    assert torch.allclose(norm(x), ref, atol=1e-5)

    # both norms are invariant to rescaling the input; only LayerNorm is invariant to
    # shifting it
    ln = nn.LayerNorm(32)
    assert torch.allclose(norm(5 * x), norm(x), atol=1e-4) and torch.allclose(
        ln(5 * x), ln(x), atol=1e-4
    )
    print(
        "RMSNorm changes under a shift x+10:",
        not torch.allclose(norm(x + 10), norm(x), atol=1e-3),
    )
    print(
        "LayerNorm changes under a shift x+10:",
        not torch.allclose(ln(x + 10), ln(x), atol=1e-3),
    )
    assert torch.allclose(ln(x + 10), ln(x), atol=1e-4)


# %% export note_line=617
class MLP(nn.Module):
    """GPT-2 style: Linear -> GELU -> Linear."""

    def __init__(self, cfg):
        super().__init__()
        hidden = ffn_hidden_size(cfg)
        self.up = nn.Linear(cfg.n_embd, hidden, bias=cfg.bias)
        self.down = nn.Linear(hidden, cfg.n_embd, bias=cfg.bias)

    def forward(self, x):
        return self.down(F.gelu(self.up(x)))


class SwiGLU(nn.Module):
    """Llama style: down(silu(gate(x)) * up(x))."""

    def __init__(self, cfg):
        super().__init__()
        hidden = ffn_hidden_size(cfg)
        self.gate = nn.Linear(cfg.n_embd, hidden, bias=cfg.bias)
        self.up = nn.Linear(cfg.n_embd, hidden, bias=cfg.bias)
        self.down = nn.Linear(hidden, cfg.n_embd, bias=cfg.bias)

    def forward(self, x):
        return self.down(F.silu(self.gate(x)) * self.up(x))


# %% note_line=645
if __name__ == "__main__":
    for d in (128, 768, 4096):
        c_gelu = GPTConfig(vocab_size=1, n_embd=d, n_head=1, mlp="gelu")
        c_swi = GPTConfig(vocab_size=1, n_embd=d, n_head=1)
        with torch.device("meta"):  # shapes only, no memory: fast even for d = 4096
            n_gelu = sum(p.numel() for p in MLP(c_gelu).parameters())
            n_swi = sum(p.numel() for p in SwiGLU(c_swi).parameters())
        print(
            f"d={d:5}: GELU MLP ({ffn_hidden_size(c_gelu)} hidden) {n_gelu:>11,}   SwiGLU"
            f" ({ffn_hidden_size(c_swi)} hidden) {n_swi:>11,}   ratio {n_swi / n_gelu:.3f}"
        )
        assert abs(n_swi / n_gelu - 1) < 0.05

    x = torch.randn(3, 128)
    swi = SwiGLU(GPTConfig(vocab_size=1, n_embd=128, n_head=1))
    assert torch.allclose(
        swi(x), swi.down(swi.gate(x) * torch.sigmoid(swi.gate(x)) * swi.up(x)), atol=1e-6
    )


# %% export note_line=678
class MoE(nn.Module):
    """Top-k mixture of SwiGLU experts (no capacity limit, no load-balancing loss)."""

    def __init__(self, cfg, n_experts=4, top_k=2):
        super().__init__()
        self.top_k = top_k
        self.router = nn.Linear(cfg.n_embd, n_experts, bias=False)
        self.experts = nn.ModuleList(SwiGLU(cfg) for _ in range(n_experts))

    def forward(self, x):
        shape = x.shape
        x = x.reshape(-1, shape[-1])
        probs = self.router(x).softmax(dim=-1)
        top_p, top_i = probs.topk(self.top_k, dim=-1)
        top_p = top_p / top_p.sum(dim=-1, keepdim=True)
        out = torch.zeros_like(x)
        for e, expert in enumerate(self.experts):
            token_idx, slot = (top_i == e).nonzero(as_tuple=True)
            if token_idx.numel():
                out.index_add_(
                    0, token_idx, top_p[token_idx, slot, None] * expert(x[token_idx])
                )
        self.last_routing = top_i
        return out.reshape(shape)


# %% note_line=705
if __name__ == "__main__":
    torch.manual_seed(0)
    moe_cfg = GPTConfig(vocab_size=1, n_embd=32, n_head=1)
    moe = MoE(moe_cfg, n_experts=4, top_k=2)
    x = torch.randn(3, 5, 32)
    with torch.no_grad():
        y = moe(x)
        # literal definition, one token at a time
        ref = torch.zeros_like(x)
        for b in range(3):
            for t in range(5):
                p = moe.router(x[b, t]).softmax(-1)
                pk, ik = p.topk(2)
                pk = pk / pk.sum()
                ref[b, t] = sum(
                    w * moe.experts[i](x[b, t]) for w, i in zip(pk, ik.tolist())
                )
    print(f"MoE grouped vs per-token loop: {(y - ref).abs().max():.2e}")
    assert torch.allclose(y, ref, atol=1e-5)

    load = torch.bincount(moe.last_routing.flatten(), minlength=4)
    print(
        "tokens routed to each expert:",
        load.tolist(),
        " (15 tokens x top-2 =",
        load.sum().item(),
        "assignments)",
    )
    assert load.sum() == 15 * 2
    n_total = sum(p.numel() for p in moe.parameters())
    n_active = sum(p.numel() for p in moe.router.parameters()) + 2 * sum(
        p.numel() for p in moe.experts[0].parameters()
    )
    print(f"MoE parameters: total {n_total:,}, active per token {n_active:,}")


# %% export note_line=752
def make_norm(cfg):
    return (
        RMSNorm(cfg.n_embd)
        if cfg.norm == "rmsnorm"
        else nn.LayerNorm(cfg.n_embd, bias=cfg.bias)
    )


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.norm1 = make_norm(cfg)
        self.attn = CausalSelfAttention(cfg)
        self.norm2 = make_norm(cfg)
        self.mlp = SwiGLU(cfg) if cfg.mlp == "swiglu" else MLP(cfg)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x, cos=None, sin=None, kv_cache=None, layer_idx=0):
        x = x + self.drop(self.attn(self.norm1(x), cos, sin, kv_cache, layer_idx))
        return x + self.drop(self.mlp(self.norm2(x)))


class KVCache:
    """Keys and values of the positions processed so far, one (B, n_kv_head, T,
    head_dim) pair per layer."""

    # arguments accepted and ignored: the cache grows on demand
    def __init__(self, *args, **kwargs):
        self.keys, self.values = {}, {}

    @property
    def length(self):
        return self.keys[0].shape[2] if 0 in self.keys else 0

    def __len__(self):
        return self.length

    def update(self, layer_idx, k, v):
        if layer_idx in self.keys:
            k = torch.cat([self.keys[layer_idx], k], dim=2)
            v = torch.cat([self.values[layer_idx], v], dim=2)
        self.keys[layer_idx], self.values[layer_idx] = k, v
        return k, v

    def crop(self, length):
        """Forget every position >= length (e.g. rejected draft tokens in speculative
        decoding)."""
        for i in self.keys:
            self.keys[i] = self.keys[i][:, :, :length]
            self.values[i] = self.values[i][:, :, :length]

    def reorder(self, batch_idx):
        """Select/reorder batch rows (e.g. surviving beams in beam search)."""
        for i in self.keys:
            self.keys[i] = self.keys[i].index_select(0, batch_idx)
            self.values[i] = self.values[i].index_select(0, batch_idx)

    def reset(self):
        self.keys.clear()
        self.values.clear()

    def nbytes(self):
        return sum(
            t.numel() * t.element_size()
            for d in (self.keys, self.values)
            for t in d.values()
        )


class GPT(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.config = cfg
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.pos_emb = (
            nn.Embedding(cfg.block_size, cfg.n_embd) if cfg.pos == "learned" else None
        )
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.norm_f = make_norm(cfg)
        self.lm_head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        if cfg.tie_weights:
            self.lm_head.weight = self.tok_emb.weight
        if cfg.pos == "rope":
            cos, sin = rope_cache(cfg.head_dim, cfg.block_size, cfg.rope_theta)
            self.register_buffer("rope_cos", cos, persistent=False)
            self.register_buffer("rope_sin", sin, persistent=False)
        self.apply(self._init_weights)
        for name, p in self.named_parameters():
            if name.endswith(("o_proj.weight", "down.weight")):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * cfg.n_layer))

    @staticmethod
    def _init_weights(module):
        """GPT-2 initialisation: N(0, 0.02) for weight matrices and embeddings, zeros
        for biases."""
        if isinstance(module, (nn.Linear, nn.Embedding)):
            torch.nn.init.normal_(module.weight, std=0.02)
            if getattr(module, "bias", None) is not None:
                torch.nn.init.zeros_(module.bias)

    def num_params(self, non_embedding=False):
        n = sum(p.numel() for p in self.parameters())  # tied weights are counted once
        if non_embedding:
            n -= self.tok_emb.weight.numel() + (
                self.pos_emb.weight.numel() if self.pos_emb is not None else 0
            )
        return n

    def forward(self, idx, targets=None, kv_cache=None):
        B, T = idx.shape
        start = kv_cache.length if kv_cache is not None else 0
        assert start + T <= self.config.block_size, (
            f"sequence of {start + T} exceeds block_size"
        )
        x = self.tok_emb(idx)
        cos = sin = None
        if self.pos_emb is not None:
            x = x + self.pos_emb(torch.arange(start, start + T, device=idx.device))
        else:
            cos, sin = (
                self.rope_cos[start : start + T],
                self.rope_sin[start : start + T],
            )
        x = self.drop(x)
        for i, block in enumerate(self.blocks):
            x = block(x, cos, sin, kv_cache, i)
        logits = self.lm_head(self.norm_f(x))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(
                logits.float().view(-1, logits.size(-1)),
                targets.reshape(-1),
                ignore_index=-100,
            )
        return logits, loss


def param_count_formula(cfg):
    """Closed-form number of parameters of GPT(cfg)."""
    d, V, L, b = cfg.n_embd, cfg.vocab_size, cfg.n_layer, int(cfg.bias)
    kv = cfg.n_kv_head * cfg.head_dim
    h = ffn_hidden_size(cfg)
    norm = d * (1 + b) if cfg.norm == "layernorm" else d
    # W_q, W_o (d x d) and W_k, W_v (d x kv)
    attn = 2 * d * d + 2 * d * kv + b * (2 * d + 2 * kv)
    mlp = (
        3 * d * h + b * (2 * h + d) if cfg.mlp == "swiglu" else 2 * d * h + b * (h + d)
    )
    embeddings = V * d + (cfg.block_size * d if cfg.pos == "learned" else 0)
    head = 0 if cfg.tie_weights else V * d
    return embeddings + L * (attn + mlp + 2 * norm) + norm + head


# %% note_line=911
if __name__ == "__main__":
    torch.manual_seed(0)
    cfg = GPTConfig(vocab_size=96, block_size=64, n_layer=4, n_head=4, n_embd=128)
    model = GPT(cfg)
    idx = torch.randint(0, cfg.vocab_size, (8, 64))
    logits, loss = model(idx, targets=torch.roll(idx, -1, dims=1))
    print("logits shape:", tuple(logits.shape))
    print(f"parameters: {model.num_params():,}  (formula {param_count_formula(cfg):,})")
    print(f"initial loss {loss.item():.3f}  vs  ln(vocab) = {math.log(cfg.vocab_size):.3f}")
    assert abs(loss.item() - math.log(cfg.vocab_size)) < 0.1

    variants = [
        dict(),
        dict(n_kv_head=1),
        dict(n_kv_head=2, bias=True),
        dict(norm="layernorm", mlp="gelu", pos="learned"),
        dict(norm="layernorm", bias=True, mlp="gelu", pos="learned", tie_weights=False),
        dict(ffn_hidden=200),
    ]
    for kw in variants:
        c = GPTConfig(vocab_size=96, block_size=64, n_layer=2, n_head=4, n_embd=64, **kw)
        counted, formula = GPT(c).num_params(), param_count_formula(c)
        print(f"{str(kw):<95} counted {counted:>8,}  formula {formula:>8,}")
        assert counted == formula


# %% note_line=949
if __name__ == "__main__":
    torch.manual_seed(0)
    for kw in (dict(), dict(pos="learned", norm="layernorm", mlp="gelu", n_kv_head=2)):
        m = GPT(
            GPTConfig(vocab_size=96, block_size=64, n_layer=3, n_head=4, n_embd=64, **kw)
        ).eval()
        seq = torch.randint(0, 96, (2, 24))
        with torch.no_grad():
            full, _ = m(seq)
            cache = KVCache()
            parts = [m(seq[:, :10], kv_cache=cache)[0]]
            for t in range(10, 24):
                parts.append(m(seq[:, t : t + 1], kv_cache=cache)[0])
        cached = torch.cat(parts, dim=1)
        err = (cached - full).abs().max().item()
        print(
            f"{str(kw) if kw else 'default (Llama-style)':<75} cache length {cache.length},"
            f" {cache.nbytes():,} bytes, max |diff| {err:.2e}"
        )
        assert cache.length == 24 and torch.allclose(cached, full, atol=1e-4)


# %% note_line=984
if __name__ == "__main__":
    def gpt2(name, L, H, d):
        return name, GPTConfig(
            vocab_size=50257,
            block_size=1024,
            n_layer=L,
            n_head=H,
            n_embd=d,
            bias=True,
            norm="layernorm",
            mlp="gelu",
            pos="learned",
            tie_weights=True,
        )


    real = [
        gpt2("GPT-2 small", 12, 12, 768),
        gpt2("GPT-2 medium", 24, 16, 1024),
        gpt2("GPT-2 large", 36, 20, 1280),
        gpt2("GPT-2 XL", 48, 25, 1600),
        (
            "Llama-2 7B",
            GPTConfig(
                vocab_size=32000,
                block_size=4096,
                n_layer=32,
                n_head=32,
                n_embd=4096,
                ffn_hidden=11008,
                tie_weights=False,
            ),
        ),
        (
            "Llama-2 13B",
            GPTConfig(
                vocab_size=32000,
                block_size=4096,
                n_layer=40,
                n_head=40,
                n_embd=5120,
                ffn_hidden=13824,
                tie_weights=False,
            ),
        ),
        (
            "Llama-3 8B",
            GPTConfig(
                vocab_size=128256,
                block_size=8192,
                n_layer=32,
                n_head=32,
                n_kv_head=8,
                n_embd=4096,
                ffn_hidden=14336,
                tie_weights=False,
                rope_theta=500000.0,
            ),
        ),
    ]

    rows = {}
    print(
        f"{'model':<13}{'counted (meta)':>16}{'formula':>16}{'non-emb':>9}"
        f"{'KV bytes/token (bf16)':>23}"
    )
    for name, c in real:
        with torch.device("meta"):
            counted = GPT(c).num_params()
        formula = param_count_formula(c)
        assert counted == formula
        non_emb = (
            formula
            - c.vocab_size * c.n_embd * (1 if c.tie_weights else 2)
            - (c.block_size * c.n_embd if c.pos == "learned" else 0)
        )
        kv_bytes = 2 * c.n_layer * c.n_kv_head * c.head_dim * 2
        rows[name] = (formula, kv_bytes)
        print(
            f"{name:<13}{counted:>16,}{formula:>16,}{non_emb / formula:>9.1%}"
            f"{kv_bytes:>23,}"
        )

    assert rows["GPT-2 small"][0] == 124_439_808
    assert rows["Llama-2 7B"][0] == 6_738_415_616
    assert rows["Llama-3 8B"][0] == 8_030_261_248
    ctx = 4096
    for name in ("Llama-2 7B", "Llama-3 8B"):
        print(
            f"{name}: KV cache for one {ctx}-token sequence ="
            f" {rows[name][1] * ctx / 2**30:.2f} GiB"
        )
    # GQA with 8 of 32 heads: 4x smaller cache
    assert rows["Llama-2 7B"][1] / rows["Llama-3 8B"][1] == 4


# %% note_line=1103
if __name__ == "__main__":
    for name, c in (real[0], real[4]):
        N = param_count_formula(c)
        for T in (1024, 4096):
            # QK^T and weights @ V for one token attending to T positions
            attn_flops = 2 * 2 * c.n_layer * T * c.n_embd
            print(
                f"{name:<12} T={T:5}: 2N = {2 * N / 1e9:7.2f} GFLOP/token, attention adds"
                f" {attn_flops / 1e9:6.2f} GFLOP ({attn_flops / (2 * N):.1%})"
            )
