# generated from vault/Basics/What are Large Language Models.md — do not edit; regenerate with `llm-vault export`
# Import it: `from companions import what_are_large_language_models` (the cells marked `export`).
# Run it: `python -m companions.what_are_large_language_models` runs the whole note.

# %% note_line=31
if __name__ == "__main__":
    import math
    import random
    from collections import Counter, defaultdict

    CORPUS = """
paris is the capital of france .
berlin is the capital of germany .
rome is the capital of italy .
madrid is the capital of spain .
the cat sat on the mat .
the dog sat on the rug .
the cat chased the dog .
the dog chased the ball .
a cat is a small animal .
a dog is a loyal animal .
france is a country in europe .
germany is a country in europe .
""".split("\n")
    sentences = [["<s>"] + line.split() for line in CORPUS if line.strip()]

    counts = defaultdict(Counter)
    for words in sentences:
        for prev, nxt in zip(words, words[1:]):
            counts[prev][nxt] += 1


    def next_token_distribution(prev):
        total = sum(counts[prev].values())
        return {w: c / total for w, c in counts[prev].most_common()}


    vocab = sorted({w for s in sentences for w in s})
    print(
        f"{len(sentences)} sentences, {sum(len(s) - 1 for s in sentences)} word"
        f" transitions, vocabulary {len(vocab)}"
    )
    for context in ["the", "capital", "is"]:
        dist = next_token_distribution(context)
        print(
            f"P(next | {context!r:10}) =",
            {w: round(p, 3) for w, p in list(dist.items())[:5]},
        )
        assert abs(sum(dist.values()) - 1) < 1e-12


# %% note_line=87
if __name__ == "__main__":
    def generate(start="<s>", max_words=12, seed=0):
        rng = random.Random(seed)
        words = [start]
        while len(words) < max_words and words[-1] != ".":
            dist = next_token_distribution(words[-1])
            words.append(rng.choices(list(dist), weights=list(dist.values()))[0])
        return " ".join(words[1:])


    samples = [generate(seed=s) for s in range(8)]
    for text in samples:
        marker = "in corpus" if any(text.split() == s[1:] for s in sentences) else "NEW"
        print(f"{marker:9s} | {text}")


    def sentence_prob(text):
        words = ["<s>"] + text.split()
        return math.prod(
            next_token_distribution(p).get(n, 0.0) for p, n in zip(words, words[1:])
        )


    fake = "rome is the capital of france ."
    print(f"\nP({fake!r}) = {sentence_prob(fake):.5f}   (never seen in training)")
    print(
        "P('paris is the capital of france .') ="
        f" {sentence_prob('paris is the capital of france .'):.5f}"
    )
    assert sentence_prob(fake) > 0 and not any(fake.split() == s[1:] for s in sentences)
    assert math.isclose(
        sentence_prob(fake), sentence_prob("paris is the capital of france .")
    )


# %% note_line=136
if __name__ == "__main__":
    def perplexity(texts, smoothing=0.1):
        """Add-k smoothed bigram perplexity, so unseen transitions do not give log(0)."""
        nll, n = 0.0, 0
        for text in texts:
            words = ["<s>"] + text.split()
            for prev, nxt in zip(words, words[1:]):
                p = (counts[prev][nxt] + smoothing) / (
                    sum(counts[prev].values()) + smoothing * len(vocab)
                )
                nll -= math.log(p)
                n += 1
        return math.exp(nll / n)


    heldout = ["the dog sat on the mat .", "madrid is a country in europe ."]
    ppl = perplexity(heldout)
    print(
        f"bigram perplexity on held-out sentences: {ppl:.2f}; uniform model: {len(vocab)}"
    )
    assert ppl < len(vocab) / 3


# %% note_line=168
if __name__ == "__main__":
    import tiktoken

    enc = tiktoken.get_encoding("cl100k_base")
    for text in [
        "Hello, world!",
        "The cat sat on the mat.",
        "Tokenization handles flibbertigibbetish words",
        "Les modèles de langage",
        "東京は日本の首都です",
        "def add(a, b): return a + b",
    ]:
        ids = enc.encode(text)
        print(f"{len(ids):3d} tokens | {[enc.decode([i]) for i in ids]}")
        assert enc.decode(ids) == text  # lossless round trip, whatever the input

    assert [enc.decode([i]) for i in enc.encode("Hello, world!")] == [
        "Hello",
        ",",
        " world",
        "!",
    ]
    print("vocabulary size:", enc.n_vocab)


# %% note_line=207
if __name__ == "__main__":
    def gpt_params(n_layers, d_model, vocab, context):
        # weights + biases + 2 layer norms per block
        blocks = n_layers * (12 * d_model**2 + 13 * d_model)
        # token + learned position embeddings
        embeddings = vocab * d_model + context * d_model
        return blocks + embeddings + 2 * d_model  # final layer norm


    configs = {
        "GPT-2 XL": (48, 1600, 50257, 1024, 1.5e9),
        "GPT-3": (96, 12288, 50257, 2048, 175e9),
    }
    for name, (L, d, V, T, published) in configs.items():
        n = gpt_params(L, d, V, T)
        print(
            f"{name:9s} L={L:3d} d={d:6d}: {n / 1e9:7.2f}B parameters (published:"
            f" {published / 1e9:g}B)"
        )
        assert abs(n / published - 1) < 0.05

    n = gpt_params(96, 12288, 50257, 2048)
    for dtype, nbytes in [("float32", 4), ("bfloat16", 2), ("int4", 0.5)]:
        print(f"GPT-3 weights in {dtype:8s}: {n * nbytes / 1e9:6.0f} GB")


# %% note_line=265
if __name__ == "__main__":
    import torch

    torch.manual_seed(0)
    T, d = 6, 16
    x = torch.randn(T, d)
    Wq, Wk, Wv = (torch.randn(d, d) / d**0.5 for _ in range(3))


    def self_attention(x, causal):
        scores = (x @ Wq) @ (x @ Wk).T / d**0.5
        if causal:
            scores = scores.masked_fill(
                torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1), float("-inf")
            )
        return torch.softmax(scores, dim=-1) @ (x @ Wv)


    x_edit = x.clone()
    x_edit[4] = torch.randn(d)  # change the 5th token only
    for causal in [True, False]:
        changed = (self_attention(x, causal) - self_attention(x_edit, causal)).abs().amax(
            dim=1
        ) > 1e-6
        print(
            f"{'causal (GPT)' if causal else 'bidirectional (BERT)':22s} positions whose"
            f" output changed: {changed.nonzero().flatten().tolist()}"
        )
        if causal:
            assert not changed[:4].any() and changed[4:].all()
        else:
            assert changed.all()


# %% note_line=308
if __name__ == "__main__":
    import matplotlib.pyplot as plt

    dist = next_token_distribution("the")
    words = list(dist)
    logits = torch.log(torch.tensor([dist[w] for w in words]))
    fig, ax = plt.subplots(figsize=(7, 3.5))
    entropies = {}
    for i, temp in enumerate([0.5, 1.0, 2.0]):
        p = torch.softmax(logits / temp, dim=0)
        entropies[temp] = float(-(p * p.log()).sum())
        ax.bar(
            [j + (i - 1) * 0.27 for j in range(len(words))],
            p.numpy(),
            width=0.27,
            label=f"T = {temp}",
        )
    ax.set_xticks(range(len(words)), words, rotation=30)
    ax.set_ylabel("P(next word | 'the')")
    ax.legend()
    plt.tight_layout()
    plt.show()
    print({t: round(h, 3) for t, h in entropies.items()}, "(entropy in nats)")
    assert entropies[0.5] < entropies[1.0] < entropies[2.0]
