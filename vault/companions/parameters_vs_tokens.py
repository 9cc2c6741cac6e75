# generated from vault/How LLMs Work/Parameters vs Tokens.md — do not edit; regenerate with `llm-vault export`
# Import it: `from companions import parameters_vs_tokens` (the cells marked `export`).
# Run it: `python -m companions.parameters_vs_tokens` runs the whole note.

# %% note_line=27
if __name__ == "__main__":
    import time
    from collections import Counter

    import matplotlib.pyplot as plt
    import regex
    import tiktoken
    import torch
    import torch.nn.functional as F

    from runner.env import seed_everything, vault_notes

    seed_everything(0)
    notes = {p.stem: p.read_text(encoding="utf-8") for p in vault_notes()}
    print(
        f"{len(notes)} notes in the vault right now, {sum(map(len, notes.values())):,}"
        " characters in total"
    )


# %% note_line=52
if __name__ == "__main__":
    layer = torch.nn.Linear(768, 3072)
    n = sum(p.numel() for p in layer.parameters())
    print(
        f"weight {tuple(layer.weight.shape)} + bias {tuple(layer.bias.shape)} = {n:,}"
        " parameters"
    )
    assert n == 768 * 3072 + 3072


# %% export note_line=73
import math
import heapq
from collections import Counter, defaultdict
from dataclasses import dataclass

import regex
import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class DecoderSpec:
    vocab_size: int
    n_ctx: int
    d_model: int
    n_layer: int
    n_head: int
    d_ff: int
    n_kv_head: int | None = None  # None: as many key/value heads as query heads
    style: str = "gpt2"  # "gpt2" or "llama" (see the note)

    @property
    def kv_dim(self):
        return (self.n_kv_head or self.n_head) * (self.d_model // self.n_head)


class _Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        bias, self.c = c.style == "gpt2", c
        self.q = nn.Linear(c.d_model, c.d_model, bias=bias)
        self.k = nn.Linear(c.d_model, c.kv_dim, bias=bias)
        self.v = nn.Linear(c.d_model, c.kv_dim, bias=bias)
        self.o = nn.Linear(c.d_model, c.d_model, bias=bias)

    def forward(self, x):
        B, T, _ = x.shape
        H, Dh = self.c.n_head, self.c.d_model // self.c.n_head
        Hkv = self.c.n_kv_head or H
        q = self.q(x).view(B, T, H, Dh).transpose(1, 2)
        k = (
            self.k(x)
            .view(B, T, Hkv, Dh)
            .transpose(1, 2)
            .repeat_interleave(H // Hkv, dim=1)
        )
        v = (
            self.v(x)
            .view(B, T, Hkv, Dh)
            .transpose(1, 2)
            .repeat_interleave(H // Hkv, dim=1)
        )
        # explicit matmuls, so FLOP counters see them
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(Dh)
        scores = scores.masked_fill(
            ~torch.ones(T, T, dtype=torch.bool, device=x.device).tril(), float("-inf")
        )
        return self.o((scores.softmax(-1) @ v).transpose(1, 2).reshape(B, T, -1))


class _MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.swiglu = c.style == "llama"
        self.up = nn.Linear(c.d_model, c.d_ff, bias=not self.swiglu)
        self.down = nn.Linear(c.d_ff, c.d_model, bias=not self.swiglu)
        self.gate = nn.Linear(c.d_model, c.d_ff, bias=False) if self.swiglu else None

    def forward(self, x):
        return self.down(
            F.silu(self.gate(x)) * self.up(x) if self.swiglu else F.gelu(self.up(x))
        )


def _norm(c):
    return nn.LayerNorm(c.d_model) if c.style == "gpt2" else nn.RMSNorm(c.d_model)


class _Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.norm1, self.attn, self.norm2, self.mlp = (
            _norm(c),
            _Attention(c),
            _norm(c),
            _MLP(c),
        )

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class DecoderLM(nn.Module):
    """A pre-norm decoder-only transformer, GPT-2 or Llama flavoured, built to be
    counted."""

    def __init__(self, c):
        super().__init__()
        self.c = c
        self.tok = nn.Embedding(c.vocab_size, c.d_model)
        self.pos = nn.Embedding(c.n_ctx, c.d_model) if c.style == "gpt2" else None
        self.blocks = nn.ModuleList(_Block(c) for _ in range(c.n_layer))
        self.norm = _norm(c)
        self.head = (
            None
            if c.style == "gpt2"
            else nn.Linear(c.d_model, c.vocab_size, bias=False)
        )

    def forward(self, idx):
        x = self.tok(idx)
        if self.pos is not None:
            x = x + self.pos(torch.arange(idx.shape[1], device=idx.device))
        for block in self.blocks:
            x = block(x)
        x = self.norm(x)
        # tied or untied output layer
        return x @ self.tok.weight.T if self.head is None else self.head(x)


def count_params(model):
    return sum(p.numel() for p in model.parameters())


def param_formula(c):
    """Closed-form parameter count of DecoderLM(c), split by component."""
    d, f, kv = c.d_model, c.d_ff, c.kv_dim
    if c.style == "gpt2":
        attn = (d * d + d) + 2 * (d * kv + kv) + (d * d + d)  # q, k, v, o with biases
        mlp = 2 * d * f + f + d  # up and down with biases
        norms = 2 * (2 * d)  # two LayerNorms: weight + bias
        parts = {
            "token embedding": c.vocab_size * d,
            "position embedding": c.n_ctx * d,
            "final norm": 2 * d,
            "output layer": 0,
        }  # tied to the token embedding
    else:
        attn = 2 * d * d + 2 * d * kv  # q, o full width; k, v possibly narrower (GQA)
        mlp = 3 * d * f  # gate, up, down
        norms = 2 * d  # two RMSNorms: weight only
        parts = {
            "token embedding": c.vocab_size * d,
            "position embedding": 0,
            "final norm": d,
            "output layer": c.vocab_size * d,
        }
    parts.update(
        {
            "attention": c.n_layer * attn,
            "mlp": c.n_layer * mlp,
            "block norms": c.n_layer * norms,
        }
    )
    parts["total"] = sum(parts.values())
    return parts


# %% note_line=236
if __name__ == "__main__":
    small = {
        "gpt2": DecoderSpec(
            vocab_size=512,
            n_ctx=64,
            d_model=128,
            n_layer=4,
            n_head=4,
            d_ff=512,
            style="gpt2",
        ),
        "llama": DecoderSpec(
            vocab_size=512,
            n_ctx=64,
            d_model=128,
            n_layer=4,
            n_head=4,
            d_ff=344,
            n_kv_head=2,
            style="llama",
        ),
    }
    for name, spec in small.items():
        model = DecoderLM(spec)
        counted, formula = count_params(model), param_formula(spec)
        print(f"{name:<6} counted {counted:,}  formula {formula['total']:,}")
        assert counted == formula["total"]
        # the per-component split is checked too, module by module
        by_module = Counter()
        for pname, p in model.named_parameters():
            key = (
                "token embedding"
                if pname.startswith("tok")
                else "position embedding"
                if pname.startswith("pos")
                else "final norm"
                if pname.startswith("norm")
                else "output layer"
                if pname.startswith("head")
                else "attention"
                if ".attn." in pname
                else "mlp"
                if ".mlp." in pname
                else "block norms"
            )
            by_module[key] += p.numel()
        assert all(by_module[k] == v for k, v in formula.items() if k != "total")


# %% note_line=291
if __name__ == "__main__":
    published = {
        "GPT-2 small": DecoderSpec(50257, 1024, 768, 12, 12, 3072, style="gpt2"),
        "Llama 2 7B": DecoderSpec(32000, 4096, 4096, 32, 32, 11008, style="llama"),
        "Llama 3 8B": DecoderSpec(
            128256, 8192, 4096, 32, 32, 14336, n_kv_head=8, style="llama"
        ),
    }
    # public checkpoints
    reported = {
        "GPT-2 small": 124_439_808,
        "Llama 2 7B": 6_738_415_616,
        "Llama 3 8B": 8_030_261_248,
    }

    print(
        f"{'model':<12}{'parameters':>16}{'embeddings':>12}{'attention':>11}{'mlp':>7}"
        f"{'output':>8}"
    )
    for name, spec in published.items():
        with torch.device("meta"):
            model = DecoderLM(spec)
        counted, parts = count_params(model), param_formula(spec)
        assert counted == parts["total"] == reported[name]
        share = {k: v / counted for k, v in parts.items()}
        print(
            f"{name:<12}{counted:>16,}"
            f"{share['token embedding'] + share['position embedding']:>12.1%}"
            f"{share['attention']:>11.1%}{share['mlp']:>7.1%}{share['output layer']:>8.1%}"
        )

    by_model = {name: param_formula(spec) for name, spec in published.items()}
    # embeddings weigh a lot
    assert (
        by_model["GPT-2 small"]["token embedding"] / by_model["GPT-2 small"]["total"] > 0.25
    )
    # GQA: fewer attention weights
    assert by_model["Llama 3 8B"]["attention"] < by_model["Llama 2 7B"]["attention"]
    vocab_params = {
        name: p["token embedding"] + p["output layer"] for name, p in by_model.items()
    }
    print(
        "vocabulary-sized parameters (embedding + output layer): Llama 2 7B"
        f" {vocab_params['Llama 2 7B'] / 1e9:.2f} B, Llama 3 8B"
        f" {vocab_params['Llama 3 8B'] / 1e9:.2f} B"
    )


# %% note_line=351
if __name__ == "__main__":
    GiB = 1024**3
    print(
        f"{'model':<12}{'fp32':>8}{'bf16':>8}{'int8':>8}{'int4':>8}{'Adam training':>15}"
        f"{'KV cache/token':>16}"
    )
    for name, spec in published.items():
        n = param_formula(spec)["total"]
        # key + value, every layer, bf16
        kv_bytes_per_token = 2 * spec.n_layer * spec.kv_dim * 2
        print(
            f"{name:<12}"
            + "".join(f"{n * b / GiB:>7.1f}G" for b in (4, 2, 1, 0.5))
            + f"{n * 16 / GiB:>14.0f}G{kv_bytes_per_token / 1024:>13.0f}KiB"
        )
    kv2 = 2 * 32 * published["Llama 2 7B"].kv_dim * 2
    kv3 = 2 * 32 * published["Llama 3 8B"].kv_dim * 2
    assert kv2 == 4 * kv3  # 8 instead of 32 key/value heads: a 4x smaller cache per token
    print(
        f"a 4,096-token context costs Llama 2 7B {4096 * kv2 / GiB:.1f} GiB of KV cache,"
        f" Llama 3 8B {4096 * kv3 / GiB:.2f} GiB"
    )


# %% note_line=396
if __name__ == "__main__":
    from torch.utils.flop_counter import FlopCounterMode

    B, T = 4, 64
    for name, spec in small.items():
        model = DecoderLM(spec)
        idx = torch.randint(0, spec.vocab_size, (B, T))
        counter = FlopCounterMode(display=False)
        with counter:
            logits = model(idx)
            F.cross_entropy(logits.flatten(0, 1), idx.flatten()).backward()
        measured = counter.get_total_flops()

        # N = weights that take part in matrix products: every block matrix plus the output
        # layer (tied or not);
        # biases, norm weights and the embedding lookup are additions or look-ups, not
        # products
        n_matmul = sum(
            p.numel()
            for pname, p in model.named_parameters()
            if pname.startswith("blocks") and p.dim() == 2
        )
        n_matmul += spec.vocab_size * spec.d_model
        tokens = B * T
        predicted = 6 * n_matmul * tokens + 12 * spec.n_layer * T * spec.d_model * tokens
        print(
            f"{name:<6} measured {measured:,} FLOPs; 6·N·D + attention = {predicted:,}; "
            f"6·N·D alone covers {6 * n_matmul * tokens / measured:.1%}"
        )
        assert measured == predicted


# %% note_line=439
if __name__ == "__main__":
    runs = {  # published model sizes and training-set sizes (tokens)
        "GPT-3 (2020)": (175e9, 300e9),
        "Chinchilla (2022)": (70e9, 1.4e12),
        "Llama 2 7B (2023)": (6.74e9, 2e12),
        "Llama 3 8B (2024)": (8.03e9, 15e12),
    }
    print(
        f"{'run':<20}{'tokens/param':>14}{'6ND FLOPs':>12}"
        f"{'Chinchilla-optimal N for that C':>33}"
    )
    for name, (n, d) in runs.items():
        c = 6 * n * d
        n_opt = (c / 120) ** 0.5
        print(f"{name:<20}{d / n:>14.1f}{c:>12.2e}{n_opt / 1e9:>30.0f} B")
        # the optimum spends exactly the same budget
        assert abs(6 * n_opt * (20 * n_opt) - c) / c < 1e-12
    assert round(1.4e12 / 70e9) == 20  # Chinchilla itself sits on its own rule

    budget = 1e21
    n_opt = (budget / 120) ** 0.5
    print(
        f"\na 1e21 FLOP budget: about {n_opt / 1e9:.1f} B parameters on"
        f" {20 * n_opt / 1e9:.0f} B tokens"
    )


# %% note_line=482
if __name__ == "__main__":
    corpus = "\n\n".join(notes.values())
    WORD = regex.compile(r"\w+|[^\w\s]")  # a word, or a single punctuation mark
    words = WORD.findall(corpus)
    print(
        f"{'share of the vault read':>24}{'distinct characters':>21}{'distinct words':>16}"
    )
    for frac in (0.25, 0.5, 0.75, 1.0):
        part = corpus[: int(len(corpus) * frac)]
        print(f"{frac:>24.0%}{len(set(part)):>21,}{len(set(WORD.findall(part))):>16,}")
    print(
        f"\nsequence length: {len(corpus):,} characters, {len(words):,} words and"
        f" punctuation marks, {len(corpus.encode('utf-8')):,} UTF-8 bytes"
    )


# %% export note_line=519
GPT4_SPLIT_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+"""
    r"""| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)


# %% note_line=527
if __name__ == "__main__":
    enc = tiktoken.get_encoding("cl100k_base")
    assert GPT4_SPLIT_PATTERN == enc._pat_str  # the same pattern tiktoken uses
    sample = "We'll pay $1234.50 for 3 GPUs... naïve?  Yes!\n\n    print('ok')"
    print(regex.findall(GPT4_SPLIT_PATTERN, sample))
    print(list("naïve".encode("utf-8")), "<- 'ï' is two bytes")


# %% export note_line=541
def split_chunks(text, pattern=GPT4_SPLIT_PATTERN):
    return regex.findall(pattern, text)


def merge_ids(ids, pair, new_id):
    """Replace every non-overlapping occurrence of `pair` in `ids` (left to right) by
    `new_id`."""
    out, i, a, b = [], 0, pair[0], pair[1]
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == a and ids[i + 1] == b:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def train_bpe_naive(text, vocab_size, pattern=GPT4_SPLIT_PATTERN):
    """Byte-level BPE, recounting every pair in every chunk at every merge. Returns the
    merges in order."""
    chunks = [list(c.encode("utf-8")) for c in split_chunks(text, pattern)]
    merges = []
    for new_id in range(256, vocab_size):
        counts = Counter()
        for ids in chunks:
            counts.update(zip(ids, ids[1:]))
        if not counts:
            break
        # most frequent; ties: smallest pair
        best = max(counts, key=lambda p: (counts[p], -p[0], -p[1]))
        chunks = [merge_ids(ids, best, new_id) for ids in chunks]
        merges.append(best)
    return merges


# %% export note_line=590
def train_bpe(text, vocab_size, pattern=GPT4_SPLIT_PATTERN):
    """Byte-level BPE with incremental pair counts. Same merges as train_bpe_naive, much
    faster."""
    chunk_freq = Counter(split_chunks(text, pattern))
    words = [list(chunk.encode("utf-8")) for chunk in chunk_freq]
    freq = list(chunk_freq.values())
    counts, where = Counter(), defaultdict(set)
    for w, ids in enumerate(words):
        for pair in zip(ids, ids[1:]):
            counts[pair] += freq[w]
            where[pair].add(w)
    # max-heap by count, then smallest pair
    heap = [(-n, pair) for pair, n in counts.items()]
    heapq.heapify(heap)
    merges = []
    for new_id in range(256, vocab_size):
        while heap and counts.get(heap[0][1], 0) != -heap[0][0]:
            heapq.heappop(heap)  # stale entry: the count changed since it was pushed
        if not heap:
            break
        best = heap[0][1]
        touched = set()
        for w in where.pop(best):
            ids = words[w]
            for pair in zip(ids, ids[1:]):
                counts[pair] -= freq[w]
                touched.add(pair)
            words[w] = ids = merge_ids(ids, best, new_id)
            for pair in zip(ids, ids[1:]):
                counts[pair] += freq[w]
                touched.add(pair)
                where[pair].add(w)
        for pair in touched:
            if counts[pair] > 0:
                heapq.heappush(heap, (-counts[pair], pair))
            else:
                del counts[pair]
                where.pop(pair, None)
        merges.append(best)
    return merges


def vocab_from_merges(merges):
    """id -> bytes for the 256 bytes and every merge."""
    vocab = {i: bytes([i]) for i in range(256)}
    for i, (a, b) in enumerate(merges):
        vocab[256 + i] = vocab[a] + vocab[b]
    return vocab


# %% note_line=646
if __name__ == "__main__":
    TRAIN_CHARS, VOCAB_SIZE = 10_000, 512
    train_text = corpus[:TRAIN_CHARS]

    t0 = time.perf_counter()
    merges_naive = train_bpe_naive(train_text, VOCAB_SIZE)
    t_naive = time.perf_counter() - t0
    t0 = time.perf_counter()
    merges = train_bpe(train_text, VOCAB_SIZE)
    t_fast = time.perf_counter() - t0

    assert merges == merges_naive, (
        "both trainers must learn the same merges in the same order"
    )
    speedup = t_naive / t_fast
    print(f"trained on {len(train_text):,} characters: {len(merges)} merges")
    print(
        f"naive {t_naive:.2f} s, incremental {t_fast:.3f} s -> {speedup:.1f}x faster,"
        " identical merges"
    )
    assert speedup >= 3

    vocab = vocab_from_merges(merges)
    print(
        "first 24 merges:", [vocab[256 + i].decode("utf-8", "replace") for i in range(24)]
    )
    print(
        "longest tokens:",
        sorted((b.decode("utf-8", "replace") for b in vocab.values()), key=len)[-6:],
    )


# %% export note_line=693
class RegexTokenizer:
    """Byte-level BPE encoder/decoder driven by mergeable ranks (token bytes -> id) and
    a split pattern."""

    def __init__(self, mergeable_ranks, pattern=GPT4_SPLIT_PATTERN):
        self.ranks = dict(mergeable_ranks)
        self.pattern = pattern
        self._regex = regex.compile(pattern)
        self.id_to_bytes = {i: b for b, i in self.ranks.items()}
        self._cache = {}

    @classmethod
    def from_merges(cls, merges, pattern=GPT4_SPLIT_PATTERN):
        ranks = {}
        for i, b in sorted(vocab_from_merges(merges).items()):
            # keep the first id if two merges ever spell the same bytes
            ranks.setdefault(b, i)
        return cls(ranks, pattern)

    @classmethod
    def from_tiktoken(cls, encoding):
        return cls(encoding._mergeable_ranks, encoding._pat_str)

    @property
    def vocab_size(self):
        return len(self.ranks)

    def _encode_chunk(self, chunk):
        whole = self.ranks.get(chunk)
        if whole is not None:
            return [whole]
        parts = [bytes([b]) for b in chunk]
        while len(parts) > 1:
            best_rank, best_i = None, None
            for i in range(len(parts) - 1):
                rank = self.ranks.get(parts[i] + parts[i + 1])
                if rank is not None and (best_rank is None or rank < best_rank):
                    best_rank, best_i = rank, i
            if best_i is None:
                break
            parts[best_i : best_i + 2] = [parts[best_i] + parts[best_i + 1]]
        return [self.ranks[p] for p in parts]

    def encode(self, text):
        ids = []
        for chunk in self._regex.findall(text):
            chunk_ids = self._cache.get(chunk)
            if chunk_ids is None:
                chunk_ids = self._cache[chunk] = self._encode_chunk(
                    chunk.encode("utf-8")
                )
            ids.extend(chunk_ids)
        return ids

    def decode(self, ids):
        return b"".join(self.id_to_bytes[i] for i in ids).decode(
            "utf-8", errors="replace"
        )


# %% note_line=757
if __name__ == "__main__":
    tok = RegexTokenizer.from_merges(merges)
    hostile = [
        "",
        " ",
        "\n\n\n",
        "🚀🎉 αβγ 漢字",
        "a" * 500,
        "x\r\ny\t\tz  ",
        "<|endoftext|> is plain text here",
    ]
    for text in list(notes.values()) + hostile:
        assert tok.decode(tok.encode(text)) == text
    total_bytes = sum(len(t.encode("utf-8")) for t in notes.values())
    total_tokens = sum(len(tok.encode(t)) for t in notes.values())
    print(f"round trip exact on all {len(notes)} notes and {len(hostile)} hostile strings")
    print(
        f"vocabulary {tok.vocab_size}: {total_bytes / total_tokens:.2f} bytes per token on"
        " the vault (1.00 would be raw bytes)"
    )


# %% note_line=787
if __name__ == "__main__":
    gpt4_tok = RegexTokenizer.from_tiktoken(enc)
    print(f"loaded {gpt4_tok.vocab_size:,} mergeable ranks (special tokens excluded)")
    ours_seconds, theirs_seconds, n_tokens, identical = 0.0, 0.0, 0, 0
    for name, text in notes.items():
        t0 = time.perf_counter()
        ours = gpt4_tok.encode(text)
        t1 = time.perf_counter()
        theirs = enc.encode_ordinary(text)
        t2 = time.perf_counter()
        ours_seconds, theirs_seconds = ours_seconds + (t1 - t0), theirs_seconds + (t2 - t1)
        assert ours == theirs, f"ids differ on {name}"
        identical += 1
        n_tokens += len(ours)
        assert gpt4_tok.decode(ours) == text
    print(f"identical ids on {identical}/{len(notes)} notes ({n_tokens:,} tokens)")
    print(
        f"from-scratch encoder {ours_seconds:.2f} s, tiktoken (Rust) {theirs_seconds:.3f}"
        f" s, {len(gpt4_tok._cache):,} distinct chunks cached"
    )
    for tricky in [
        "I'LL can't WON'T",
        "   leading and trailing   ",
        "1234567890",
        "🚀🎉",
        "naïve—café\r\n",
    ]:
        assert gpt4_tok.encode(tricky) == enc.encode_ordinary(tricky)


# %% note_line=826
if __name__ == "__main__":
    o200k = tiktoken.get_encoding("o200k_base")
    samples = {
        "English": (
            "The weather is lovely today, so we will take a walk in the park after lunch."
        ),
        "German": (
            "Das Wetter ist heute herrlich, also machen wir nach dem Mittagessen einen"
            " Spaziergang im Park."
        ),
        "French": (
            "Il fait très beau aujourd'hui, alors nous irons nous promener au parc après le"
            " déjeuner."
        ),
        "Spanish": (
            "Hoy hace un tiempo precioso, así que daremos un paseo por el parque después de"
            " comer."
        ),
        "Chinese": "今天天气很好，所以午饭后我们去公园散步。",
        "Japanese": "今日は天気がとても良いので、昼食の後に公園を散歩します。",
        "Russian": "Сегодня прекрасная погода, поэтому после обеда мы погуляем в парке.",
        "Arabic": "الطقس جميل اليوم، لذلك سنتمشى في الحديقة بعد الغداء.",
        "Hindi": ("आज मौसम बहुत अच्छा है, इसलिए दोपहर के खाने के बाद हम पार्क में टहलने जाएंगे।"),
        "Python code": (
            "def walk(park):\n    return [step for step in park.paths if step.is_sunny()]"
        ),
    }
    rows = []
    for lang, text in samples.items():
        c, o = len(enc.encode_ordinary(text)), len(o200k.encode_ordinary(text))
        rows.append((lang, len(text), c, o))
    en_c, en_o = rows[0][2], rows[0][3]
    print(
        f"{'language':<12}{'chars':>6}{'cl100k':>8}{'tok/char':>9}{'vs EN':>7}{'o200k':>8}"
        f"{'tok/char':>9}{'vs EN':>7}"
    )
    for lang, chars, c, o in rows:
        print(
            f"{lang:<12}{chars:>6}{c:>8}{c / chars:>9.2f}{c / en_c:>6.1f}x{o:>8}"
            f"{o / chars:>9.2f}{o / en_o:>6.1f}x"
        )

    assert all(o <= c for _, _, c, o in rows)  # the bigger vocabulary never needs more here
    # and narrows the gap to English
    assert max(c / en_c for *_, c, _ in rows) > max(o / en_o for *_, o in rows)


# %% note_line=873
if __name__ == "__main__":
    langs = [r[0] for r in rows]
    xs = torch.arange(len(rows)).float()
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.bar(xs - 0.2, [r[2] for r in rows], width=0.4, label="cl100k_base (GPT-4)")
    ax.bar(xs + 0.2, [r[3] for r in rows], width=0.4, label="o200k_base (GPT-4o)")
    ax.set_xticks(xs.tolist(), langs, rotation=40, ha="right")
    ax.set_ylabel("tokens for the same sentence")
    ax.set_title("One sentence, ten languages")
    ax.legend()
    fig.tight_layout()
    plt.show()
