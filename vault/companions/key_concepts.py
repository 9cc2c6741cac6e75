# generated from vault/Basics/Key Concepts - Tokens, Attention, and Transformers.md — do not edit; regenerate with `llm-vault export`
# Import it: `from companions import key_concepts` (the cells marked `export`).
# Run it: `python -m companions.key_concepts` runs the whole note.

# %% note_line=20
if __name__ == "__main__":
    import math
    from pathlib import Path

    import matplotlib.pyplot as plt
    import tiktoken
    import torch
    import torch.nn.functional as F

    from runner.env import seed_everything, vault_notes

    seed_everything(0)
    torch.set_printoptions(precision=3, sci_mode=False)
    enc = tiktoken.get_encoding("cl100k_base")  # the tokenizer of GPT-4 and GPT-3.5-turbo
    print(
        f"cl100k_base knows {enc.n_vocab:,} token ids (ordinary tokens plus a few special"
        " ones)"
    )


# %% note_line=49
if __name__ == "__main__":
    text = "Tokenizers turn text into integers; the model never sees letters."
    ids = enc.encode(text)
    print(ids)
    print(f"{len(text)} characters -> {len(ids)} tokens")
    assert enc.decode(ids) == text  # lossless round trip

    for token_id in ids:
        print(f"{token_id:>7}  {enc.decode_single_token_bytes(token_id)!r}")


# %% note_line=67
if __name__ == "__main__":
    samples = [
        "hello",
        " hello",
        "Hello",
        "HELLO",
        "ChatGPT",
        "naïve café",
        "2025-06-01",
        "🚀",
        "    indented",
    ]
    for s in samples:
        pieces = [enc.decode_single_token_bytes(t) for t in enc.encode(s)]
        print(f"{s!r:>16} -> {len(pieces)} token(s): {pieces}")
        # the pieces are exactly the UTF-8 bytes of the text
        assert b"".join(pieces) == s.encode("utf-8")

    # the same word gets different ids depending on case and on a leading space
    variants = {s: enc.encode(s) for s in ["hello", " hello", "Hello"]}
    assert len({tuple(v) for v in variants.values()}) == 3
    # an emoji is 4 UTF-8 bytes; the tokenizer may cut it into byte fragments that are not
    # valid text on their own
    rocket = enc.encode("🚀")
    print("decoding the rocket's tokens one by one:", [enc.decode([t]) for t in rocket])


# %% note_line=108
if __name__ == "__main__":
    corpus = "\n".join(p.read_text(encoding="utf-8") for p in vault_notes())
    cut = int(len(corpus) * 0.8)
    seen_words = set(corpus[:cut].split())
    held_out_words = corpus[cut:].split()
    unknown = sum(w not in seen_words for w in held_out_words)

    n_chars, n_words, n_tokens = (
        len(corpus),
        len(corpus.split()),
        len(enc.encode_ordinary(corpus)),
    )
    print(f"vault text: {len(vault_notes())} notes, {n_chars:,} characters")
    print(f"{'unit':<11}{'sequence length':>16}{'vocabulary':>14}")
    print(f"{'character':<11}{n_chars:>16,}{len(set(corpus)):>14,}")
    print(f"{'word':<11}{n_words:>16,}{len(set(corpus.split())):>14,}")
    print(f"{'token':<11}{n_tokens:>16,}{enc.n_vocab:>14,}")
    print(
        f"held-out words the word vocabulary has never seen: {unknown:,} of"
        f" {len(held_out_words):,} ({unknown / max(1, len(held_out_words)):.1%})"
    )

    assert n_tokens < n_chars  # tokens compress characters
    # and never meet an unknown symbol
    assert enc.decode(enc.encode_ordinary(corpus[cut:])) == corpus[cut:]


# %% note_line=158
if __name__ == "__main__":
    # illustrative USD, NOT any real model's price
    EXAMPLE_PRICE_PER_MILLION = {"input": 2.50, "output": 10.00}


    def request_cost(
        prompt: str, expected_output_tokens: int, prices=EXAMPLE_PRICE_PER_MILLION
    ) -> tuple[int, float]:
        n_in = len(enc.encode(prompt))
        dollars = (n_in * prices["input"] + expected_output_tokens * prices["output"]) / 1e6
        return n_in, dollars


    # cells run in the note's folder
    this_note = Path("Key Concepts - Tokens, Attention, and Transformers.md")
    prompt = (
        "Summarise the following note in five bullet points.\n\n"
        + this_note.read_text(encoding="utf-8")
    )
    n_in, dollars = request_cost(prompt, expected_output_tokens=300)
    print(
        f"prompt: {n_in:,} tokens; one request at the example prices: ${dollars:.4f}; "
        f"10,000 requests: ${10_000 * dollars:,.2f}"
    )
    for window in [4_096, 8_192, 128_000]:
        print(
            f"  fits in a {window:>7,}-token window with room for 300 output tokens:"
            f" {n_in + 300 <= window}"
        )


# %% note_line=216
if __name__ == "__main__":
    words = ["the", "cat", "sat", "on", "mats"]
    T, d_model, d_k = len(words), 16, 8
    x = torch.randn(T, d_model)  # one embedding per position
    W_q, W_k, W_v = (torch.randn(d_model, d_k) / math.sqrt(d_model) for _ in range(3))

    Q, K, V = x @ W_q, x @ W_k, x @ W_v  # 1. project: (T, d_k) each
    scores = Q @ K.T / math.sqrt(d_k)  # 2. similarity of every query with every key: (T, T)
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    # 3. a position may not look at later positions
    masked = scores.masked_fill(~causal, float("-inf"))
    weights = masked.softmax(dim=-1)  # 4. each row becomes a probability distribution
    out = weights @ V  # 5. weighted average of the values: (T, d_k)

    print("scaled scores:\n", scores)
    print("causal attention weights:\n", weights)
    print("output shape:", tuple(out.shape))
    assert torch.allclose(weights.sum(dim=-1), torch.ones(T))  # rows sum to 1
    assert (weights[~causal] == 0).all()  # the future gets exactly zero weight
    assert torch.allclose(out[0], V[0])  # the first token can only attend to itself


# %% note_line=246
if __name__ == "__main__":
    g = torch.Generator().manual_seed(0)
    for d in [4, 64, 512]:
        q, k = torch.randn(20_000, d, generator=g), torch.randn(20_000, 16, d, generator=g)
        raw = (k @ q.unsqueeze(-1)).squeeze(-1)  # 20,000 queries against 16 keys each
        top_raw = raw.softmax(-1).max(-1).values.mean()
        top_scaled = (raw / math.sqrt(d)).softmax(-1).max(-1).values.mean()
        print(
            f"d_k={d:>3}: var(q.k)={raw.var():8.1f}  var after"
            f" scaling={(raw / math.sqrt(d)).var():.2f}  mean largest softmax weight: raw"
            f" {top_raw:.2f}, scaled {top_scaled:.2f}"
        )
        assert 0.9 < (raw / math.sqrt(d)).var() < 1.1
        if d >= 64:
            # unscaled scores push the softmax towards one-hot
            assert top_raw > 2 * top_scaled


# %% export note_line=267
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def attention(q, k, v, causal=False, mask=None, return_weights=False):
    """softmax(q k^T / sqrt(d_k) + mask) v over the last two dimensions.

    q: (..., T, d_k), k: (..., S, d_k), v: (..., S, d_v). `causal` hides key j from
    query i when j > i (the
    top-left-aligned mask that torch's scaled_dot_product_attention uses). `mask`:
    boolean, True = may attend.
    """
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    if causal:
        T, S = scores.shape[-2:]
        allowed = torch.ones(T, S, dtype=torch.bool, device=q.device).tril()
        scores = scores.masked_fill(~allowed, float("-inf"))
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = scores.softmax(dim=-1)
    out = weights @ v
    return (out, weights) if return_weights else out


# %% note_line=298
if __name__ == "__main__":
    B, H, T, D = 2, 3, 6, 8
    q, k, v = torch.randn(B, H, T, D), torch.randn(B, H, T, D), torch.randn(B, H, T, D)

    for causal in [False, True]:
        ours, theirs = (
            attention(q, k, v, causal=causal),
            F.scaled_dot_product_attention(q, k, v, is_causal=causal),
        )
        err = (ours - theirs).abs().max().item()
        print(f"causal={causal!s:<5}  max |ours - torch| = {err:.2e}")
        assert torch.allclose(ours, theirs, atol=1e-5)

    keep = torch.rand(T, T) > 0.3
    keep |= torch.eye(T, dtype=torch.bool)  # every query keeps at least one key
    assert torch.allclose(
        attention(q, k, v, mask=keep),
        F.scaled_dot_product_attention(q, k, v, attn_mask=keep),
        atol=1e-5,
    )

    # causality as a property: changing the last three positions must not change the first
    # three outputs
    k2, v2 = k.clone(), v.clone()
    k2[..., 3:, :], v2[..., 3:, :] = torch.randn(B, H, 3, D), torch.randn(B, H, 3, D)
    assert torch.allclose(
        attention(q, k, v, causal=True)[..., :3, :],
        attention(q, k2, v2, causal=True)[..., :3, :],
    )
    assert not torch.allclose(
        attention(q, k, v)[..., :3, :], attention(q, k2, v2)[..., :3, :]
    )
    print(
        "the causal outputs of the first 3 positions ignore the last 3; the bidirectional"
        " ones do not"
    )


# %% note_line=338
if __name__ == "__main__":
    _, w_full = attention(Q, K, V, return_weights=True)
    _, w_causal = attention(Q, K, V, causal=True, return_weights=True)
    fig, axes = plt.subplots(1, 2, figsize=(7, 3.5))
    for ax, w, title in [(axes[0], w_full, "bidirectional"), (axes[1], w_causal, "causal")]:
        ax.imshow(w, cmap="viridis", vmin=0, vmax=1)
        ax.set_xticks(range(len(words)), words, rotation=45)
        ax.set_yticks(range(len(words)), words)
        ax.set_title(f"{title} weights")
        ax.set_xlabel("key (attended to)")
    axes[0].set_ylabel("query (attending)")
    fig.tight_layout()
    plt.show()


# %% export note_line=368
class MultiHeadAttention(nn.Module):
    """h heads of scaled dot-product attention; `context` (for cross-attention) defaults
    to x itself."""

    def __init__(self, d_model, n_heads, bias=True):
        super().__init__()
        assert d_model % n_heads == 0, "d_model must be divisible by n_heads"
        self.n_heads, self.d_head = n_heads, d_model // n_heads
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.k_proj = nn.Linear(d_model, d_model, bias=bias)
        self.v_proj = nn.Linear(d_model, d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)

    def _split(self, t):  # (B, T, d_model) -> (B, heads, T, d_head)
        B, T, _ = t.shape
        return t.view(B, T, self.n_heads, self.d_head).transpose(1, 2)

    def forward(self, x, context=None, causal=False, return_weights=False):
        context = x if context is None else context
        q, k, v = (
            self._split(self.q_proj(x)),
            self._split(self.k_proj(context)),
            self._split(self.v_proj(context)),
        )
        out, weights = attention(q, k, v, causal=causal, return_weights=True)
        B, H, T, Dh = out.shape
        # concatenate heads, then mix them
        out = self.out_proj(out.transpose(1, 2).reshape(B, T, H * Dh))
        return (out, weights) if return_weights else out


# %% note_line=403
if __name__ == "__main__":
    d_model, n_heads, T = 32, 4, 7
    mha = MultiHeadAttention(d_model, n_heads).eval()
    ref = torch.nn.MultiheadAttention(d_model, n_heads, batch_first=True).eval()
    with torch.no_grad():
        ref.in_proj_weight.copy_(
            torch.cat([mha.q_proj.weight, mha.k_proj.weight, mha.v_proj.weight])
        )
        ref.in_proj_bias.copy_(
            torch.cat([mha.q_proj.bias, mha.k_proj.bias, mha.v_proj.bias])
        )
        ref.out_proj.load_state_dict(mha.out_proj.state_dict())
        x = torch.randn(2, T, d_model)
        for causal in [False, True]:
            # torch: True = hidden
            hidden = torch.ones(T, T, dtype=torch.bool).triu(1) if causal else None
            theirs, _ = ref(x, x, x, attn_mask=hidden, need_weights=False)
            assert torch.allclose(mha(x, causal=causal), theirs, atol=1e-5)
        out, w = mha(x, causal=True, return_weights=True)

    n_params = sum(p.numel() for p in mha.parameters())
    print(
        f"output {tuple(out.shape)}, weights {tuple(w.shape)} = (batch, heads, query, key)"
    )
    print(f"parameters: {n_params:,} = 4*d^2 + 4*d with d={d_model}")
    assert n_params == 4 * d_model**2 + 4 * d_model


# %% export note_line=445
class FeedForward(nn.Module):
    def __init__(self, d_model, d_ff):
        super().__init__()
        self.up, self.act, self.down = (
            nn.Linear(d_model, d_ff),
            nn.GELU(),
            nn.Linear(d_ff, d_model),
        )

    def forward(self, x):
        return self.down(self.act(self.up(x)))


class TransformerLayer(nn.Module):
    """Self-attention + feed-forward, each with a residual connection and LayerNorm
    (pre-norm by default)."""

    def __init__(self, d_model, n_heads, d_ff=None, norm_first=True):
        super().__init__()
        self.attn = MultiHeadAttention(d_model, n_heads)
        self.ff = FeedForward(d_model, d_ff or 4 * d_model)
        self.ln1, self.ln2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.norm_first = norm_first

    def forward(self, x, causal=False):
        if self.norm_first:  # GPT-2 style: x + f(norm(x))
            x = x + self.attn(self.ln1(x), causal=causal)
            return x + self.ff(self.ln2(x))
        x = self.ln1(x + self.attn(x, causal=causal))  # 2017 style: norm(x + f(x))
        return self.ln2(x + self.ff(x))


# %% note_line=481
if __name__ == "__main__":
    def copy_into_torch_layer(ours, theirs):
        with torch.no_grad():
            a = ours.attn
            theirs.self_attn.in_proj_weight.copy_(
                torch.cat([a.q_proj.weight, a.k_proj.weight, a.v_proj.weight])
            )
            theirs.self_attn.in_proj_bias.copy_(
                torch.cat([a.q_proj.bias, a.k_proj.bias, a.v_proj.bias])
            )
            theirs.self_attn.out_proj.load_state_dict(a.out_proj.state_dict())
            theirs.linear1.load_state_dict(ours.ff.up.state_dict())
            theirs.linear2.load_state_dict(ours.ff.down.state_dict())
            theirs.norm1.load_state_dict(ours.ln1.state_dict())
            theirs.norm2.load_state_dict(ours.ln2.state_dict())


    d_model, n_heads, T = 32, 4, 7
    x = torch.randn(2, T, d_model)
    for norm_first in [True, False]:
        ours = TransformerLayer(d_model, n_heads, norm_first=norm_first).eval()
        theirs = torch.nn.TransformerEncoderLayer(
            d_model,
            n_heads,
            4 * d_model,
            dropout=0.0,
            activation="gelu",
            batch_first=True,
            norm_first=norm_first,
        ).eval()
        copy_into_torch_layer(ours, theirs)
        with torch.no_grad():
            for causal in [False, True]:
                hidden = (
                    torch.nn.Transformer.generate_square_subsequent_mask(T)
                    if causal
                    else None
                )
                err = (
                    (ours(x, causal=causal) - theirs(x, src_mask=hidden, is_causal=causal))
                    .abs()
                    .max()
                    .item()
                )
                print(
                    f"norm_first={norm_first!s:<5} causal={causal!s:<5} max difference"
                    f" {err:.1e}"
                )
                assert err < 1e-5

    n_params = sum(p.numel() for p in ours.parameters())
    print(
        f"one layer with d={d_model}: {n_params:,} parameters; 12d^2 + 13d ="
        f" {12 * d_model**2 + 13 * d_model:,}"
    )
    assert n_params == 12 * d_model**2 + 13 * d_model


# %% export note_line=553
class CrossAttentionDecoderLayer(nn.Module):
    """Causal self-attention over the target, cross-attention to the encoder output,
    then feed-forward."""

    def __init__(self, d_model, n_heads, d_ff=None):
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, n_heads)
        self.cross_attn = MultiHeadAttention(d_model, n_heads)
        self.ff = FeedForward(d_model, d_ff or 4 * d_model)
        self.ln1, self.ln2, self.ln3 = (nn.LayerNorm(d_model) for _ in range(3))

    def forward(self, y, memory):
        y = y + self.self_attn(self.ln1(y), causal=True)
        # queries: target; keys/values: source
        y = y + self.cross_attn(self.ln2(y), context=memory)
        return y + self.ff(self.ln3(y))


# %% note_line=575
if __name__ == "__main__":
    d_model = 32
    encoder = torch.nn.ModuleList(TransformerLayer(d_model, 4) for _ in range(2)).eval()
    decoder = CrossAttentionDecoderLayer(d_model, 4).eval()


    def encode(src):
        for layer in encoder:
            src = layer(src)  # no mask: bidirectional
        return src


    src, tgt = torch.randn(1, 6, d_model), torch.randn(1, 4, d_model)
    # change the LAST source position
    src_changed = src.clone()
    src_changed[:, -1] = torch.randn(d_model)
    # change the LAST target position
    tgt_changed = tgt.clone()
    tgt_changed[:, -1] = torch.randn(d_model)
    with torch.no_grad():
        memory = encode(src)
        # encoder: position 0 sees the end
        assert not torch.allclose(encode(src_changed)[:, 0], memory[:, 0])
        base = decoder(tgt, memory)
        # decoder sees all the source
        assert not torch.allclose(decoder(tgt, encode(src_changed))[:, 0], base[:, 0])
        # but no later target position
        assert torch.allclose(decoder(tgt_changed, memory)[:, :-1], base[:, :-1])
    print(
        "encoder: bidirectional; decoder: whole source, causal over the target — both"
        " checked"
    )


# %% note_line=615
if __name__ == "__main__":
    layer = TransformerLayer(32, 4).eval()
    x = torch.randn(1, 5, 32)
    perm = torch.tensor([3, 0, 4, 1, 2])
    with torch.no_grad():
        assert torch.allclose(layer(x)[:, perm], layer(x[:, perm]), atol=1e-5)
    print("without positions, a bidirectional layer is permutation-equivariant")


# %% export note_line=630
def sinusoidal_positions(n_positions, d_model, base=10000.0):
    """(n_positions, d_model) table: PE[p, 2i] = sin(p * w_i), PE[p, 2i+1] = cos(p *
    w_i), w_i = base^(-2i/d)."""
    pos = torch.arange(n_positions, dtype=torch.float32)[:, None]
    freqs = base ** (-torch.arange(0, d_model, 2, dtype=torch.float32) / d_model)
    angles = pos * freqs  # (n_positions, d_model / 2)
    pe = torch.zeros(n_positions, d_model)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(angles), torch.cos(angles)
    return pe


# %% note_line=646
if __name__ == "__main__":
    n_pos, d = 64, 32
    pe = sinusoidal_positions(n_pos, d)
    loop = torch.tensor(
        [
            [
                math.sin(p / 10000 ** (j / d))
                if j % 2 == 0
                else math.cos(p / 10000 ** ((j - 1) / d))
                for j in range(d)
            ]
            for p in range(n_pos)
        ]
    )
    assert torch.allclose(pe, loop, atol=1e-5)

    pe64 = sinusoidal_positions(n_pos, d).double()
    k = 5
    freqs = 10000.0 ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    rotation = torch.zeros(d, d, dtype=torch.float64)
    for i, w in enumerate(freqs * k):  # one 2x2 rotation per (sin, cos) pair
        c, s = math.cos(w), math.sin(w)
        rotation[2 * i : 2 * i + 2, 2 * i : 2 * i + 2] = torch.tensor(
            [[c, s], [-s, c]], dtype=torch.float64
        )
    # PE[p+k] = R_k PE[p] for every p
    assert torch.allclose(pe64[:-k] @ rotation.T, pe64[k:], atol=1e-4)

    dots = (pe64[:-k] * pe64[k:]).sum(-1)
    print(f"PE[p].PE[p+{k}] over all p: min {dots.min():.4f}, max {dots.max():.4f}")
    assert torch.allclose(dots, dots[0].expand_as(dots), atol=1e-4)


# %% note_line=681
if __name__ == "__main__":
    pe = sinusoidal_positions(128, 64)
    sim = pe @ pe[0]  # similarity of every position with position 0
    assert sim[1:9].mean() > sim[96:].mean()  # near positions look more alike than far ones
    fig, axes = plt.subplots(1, 2, figsize=(7, 3.5))
    im = axes[0].imshow(pe.T, aspect="auto", cmap="RdBu", vmin=-1, vmax=1)
    axes[0].set_xlabel("position")
    axes[0].set_ylabel("dimension")
    axes[0].set_title("sinusoidal encodings")
    fig.colorbar(im, ax=axes[0], fraction=0.046)
    axes[1].plot(sim)
    axes[1].set_xlabel("offset from position 0")
    axes[1].set_ylabel("dot product")
    axes[1].set_title("similarity vs distance")
    fig.tight_layout()
    plt.show()


# %% note_line=711
if __name__ == "__main__":
    ids = torch.tensor([enc.encode("The cat sat on the mat because it was tired.")])
    inputs, targets = ids[:, :-1], ids[:, 1:]
    d_model = 64
    embedding = torch.nn.Embedding(enc.n_vocab, d_model)
    torch.nn.init.normal_(embedding.weight, std=0.02)  # GPT-2's initialisation scale
    layers = torch.nn.ModuleList(TransformerLayer(d_model, 4) for _ in range(2))
    final_norm = torch.nn.LayerNorm(d_model)

    with torch.no_grad():
        h = embedding(inputs) + sinusoidal_positions(inputs.shape[1], d_model)
        for layer in layers:
            h = layer(h, causal=True)
        logits = final_norm(h) @ embedding.weight.T  # (batch, positions, vocabulary)
        loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten())

    print(f"inputs {tuple(inputs.shape)} -> logits {tuple(logits.shape)}")
    print(f"untrained loss {loss:.3f} nats vs ln(vocabulary) = {math.log(enc.n_vocab):.3f}")
    # an untrained model is close to uniform over the vocabulary
    assert abs(loss.item() - math.log(enc.n_vocab)) < 0.1
