# generated from vault/Basics/History of LLMs.md — do not edit; regenerate with `llm-vault export`
# Import it: `from companions import history_of_llms` (the cells marked `export`).
# Run it: `python -m companions.history_of_llms` runs the whole note.

# %% note_line=98
if __name__ == "__main__":
    import matplotlib.pyplot as plt
    import numpy as np

    # (name, year, month, total params, active params per token, training tokens or None,
    # open weights?)
    MODELS = [
        ("Transformer (big)", 2017, 6, 213e6, 213e6, None, True),
        ("GPT-1", 2018, 6, 117e6, 117e6, None, True),
        ("BERT-Large", 2018, 10, 340e6, 340e6, None, True),
        ("GPT-2", 2019, 2, 1.5e9, 1.5e9, None, True),
        ("Megatron-LM", 2019, 9, 8.3e9, 8.3e9, None, False),
        ("T5-11B", 2019, 10, 11e9, 11e9, None, True),
        ("GPT-3", 2020, 5, 175e9, 175e9, 300e9, False),
        ("Switch-C (MoE)", 2021, 1, 1.571e12, None, None, True),
        ("Gopher", 2021, 12, 280e9, 280e9, 300e9, False),
        ("Chinchilla", 2022, 3, 70e9, 70e9, 1.4e12, False),
        ("PaLM", 2022, 4, 540e9, 540e9, 780e9, False),
        ("LLaMA-65B", 2023, 2, 65e9, 65e9, 1.4e12, True),
        ("Llama 2 70B", 2023, 7, 70e9, 70e9, 2.0e12, True),
        ("Mixtral 8x7B (MoE)", 2023, 12, 46.7e9, 12.9e9, None, True),
        ("Llama 3.1 405B", 2024, 7, 405e9, 405e9, 15.6e12, True),
        ("DeepSeek-V3 (MoE)", 2024, 12, 671e9, 37e9, 14.8e12, True),
        ("Llama 4 Maverick (MoE)", 2025, 4, 400e9, 17e9, None, True),
    ]
    UNDISCLOSED = [
        "GPT-4 (2023)",
        "Claude (2023-)",
        "Gemini (2023-)",
        "GPT-4o (2024)",
        "o1 (2024)",
    ]


    def fmt(n):
        return (
            "-"
            if n is None
            else (
                f"{n / 1e12:.2f}T"
                if n >= 1e12
                else f"{n / 1e9:.1f}B"
                if n >= 1e9
                else f"{n / 1e6:.0f}M"
            )
        )


    print(f"{'model':24s} {'date':8s} {'total':>8s} {'active':>8s} {'tokens':>8s}  weights")
    for name, y, m, total, active, tokens, open_w in MODELS:
        print(
            f"{name:24s} {y}-{m:02d}  {fmt(total):>8s} {fmt(active):>8s} {fmt(tokens):>8s} "
            f" {'open' if open_w else 'closed'}"
        )
    print("not plotted (size never published):", ", ".join(UNDISCLOSED))


# %% note_line=155
if __name__ == "__main__":
    years = np.array([y + (m - 0.5) / 12 for _, y, m, *_ in MODELS])
    total = np.array([r[3] for r in MODELS])
    is_moe = np.array(["MoE" in r[0] for r in MODELS])

    fig, ax = plt.subplots(figsize=(7.5, 4))
    ax.scatter(years[~is_moe], total[~is_moe], label="dense", zorder=3)
    ax.scatter(
        years[is_moe],
        total[is_moe],
        marker="D",
        label="mixture of experts (total)",
        zorder=3,
    )
    offsets = {
        "LLaMA-65B": (-30, -11),
        "Llama 2 70B": (4, 3),
        "Llama 3.1 405B": (-62, 5),
        "Llama 4 Maverick (MoE)": (-20, -11),
    }
    for (name, *_), x, t in zip(MODELS, years, total):
        ax.annotate(
            name.replace(" (MoE)", ""),
            (x, t),
            fontsize=7,
            xytext=offsets.get(name, (4, -3)),
            textcoords="offset points",
        )
    dense = ~is_moe & (years < 2021)
    slope, intercept = np.polyfit(years[dense], np.log10(total[dense]), 1)
    xs = np.linspace(2017.3, 2021, 10)
    ax.plot(
        xs,
        10 ** (slope * xs + intercept),
        "k--",
        lw=1,
        label=f"2017-2020 trend: x{10**slope:.0f} per year",
    )
    ax.set_yscale("log")
    ax.set_xlabel("release date")
    ax.set_ylabel("parameters")
    ax.set_title("Published LLM sizes")
    ax.set_xlim(2017, 2026.3)
    ax.legend(fontsize=8, loc="lower right")
    plt.tight_layout()
    plt.show()
    print(f"dense models 2017-2020 grew about x{10**slope:.0f} per year in parameter count")
    assert 10**slope > 5, "growth before 2021 was faster than 5x per year"


# %% note_line=213
if __name__ == "__main__":
    size = {r[0]: r[3] for r in MODELS}
    r21 = size["GPT-2"] / size["GPT-1"]
    r32 = size["GPT-3"] / size["GPT-2"]
    print(
        f"GPT-2 / GPT-1 = {r21:.1f}x    GPT-3 / GPT-2 = {r32:.0f}x    GPT-3 / GPT-1 ="
        f" {size['GPT-3'] / size['GPT-1']:.0f}x"
    )
    assert 12 < r21 < 14 and 110 < r32 < 120


# %% note_line=232
if __name__ == "__main__":
    tokens = {r[0]: r[5] for r in MODELS}
    published_flops = {"GPT-3": 3.14e23, "Llama 3.1 405B": 3.8e25}
    for name, reported in published_flops.items():
        estimate = 6 * size[name] * tokens[name]
        print(
            f"{name:16s} 6ND = {estimate:.3g} FLOPs, paper: {reported:.3g}"
            f" ({estimate / reported - 1:+.1%})"
        )
        assert abs(estimate / reported - 1) < 0.02

    gopher, chinchilla = (
        6 * size["Gopher"] * tokens["Gopher"],
        6 * size["Chinchilla"] * tokens["Chinchilla"],
    )
    print(
        f"Gopher {gopher:.2g} FLOPs vs Chinchilla {chinchilla:.2g} FLOPs: ratio"
        f" {chinchilla / gopher:.2f}"
    )
    # a similar budget, spent on 4x fewer parameters and 4.7x more tokens
    assert 0.8 < chinchilla / gopher < 1.3


# %% note_line=259
if __name__ == "__main__":
    TRANSFORMER_2017_FLOPS = 2.3e19
    BOOKSCORPUS_TOKENS = 800e6 * 1.3
    growth = {
        "parameters, GPT-1 -> Llama 3.1 405B": size["Llama 3.1 405B"] / size["GPT-1"],
        "parameters, GPT-1 -> Switch-C (MoE)": size["Switch-C (MoE)"] / size["GPT-1"],
        "training tokens, GPT-1 -> Llama 3.1 405B": tokens["Llama 3.1 405B"]
        / BOOKSCORPUS_TOKENS,
        "training compute, Transformer -> Llama 3.1": published_flops["Llama 3.1 405B"]
        / TRANSFORMER_2017_FLOPS,
    }
    orders = {what: np.log10(g) for what, g in growth.items()}
    for what, g in growth.items():
        print(f"{what:42s} x{g:9.2e}  = {orders[what]:.1f} orders of magnitude")
    assert (
        3.5 <= orders["parameters, GPT-1 -> Llama 3.1 405B"]
        and orders["parameters, GPT-1 -> Switch-C (MoE)"] < 4.5
    )
    assert 3.5 <= orders["training tokens, GPT-1 -> Llama 3.1 405B"] < 4.5
    assert 5.5 <= orders["training compute, Transformer -> Llama 3.1"] < 6.5


# %% note_line=284
if __name__ == "__main__":
    rows = [
        (r[0], r[1] + (r[2] - 0.5) / 12, r[5] / r[4])
        for r in MODELS
        if r[5] is not None and r[4] is not None
    ]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for name, x, ratio in rows:
        ax.scatter(x, ratio, color="C0")
        ax.annotate(
            name.replace(" (MoE)", ""),
            (x, ratio),
            fontsize=7,
            xytext=(4, 2),
            textcoords="offset points",
        )
    ax.axhline(
        20,
        color="k",
        ls="--",
        lw=1,
        label="Chinchilla rule of thumb: ~20 tokens per parameter",
    )
    ax.set_yscale("log")
    ax.set_xlabel("release date")
    ax.set_ylabel("training tokens per active parameter")
    ax.legend(fontsize=8)
    plt.tight_layout()
    plt.show()
    ratio = {name: r for name, _, r in rows}
    for name in ["GPT-3", "Chinchilla", "Llama 3.1 405B", "DeepSeek-V3 (MoE)"]:
        print(f"{name:18s} {ratio[name]:7.1f} tokens per (active) parameter")
    assert (
        ratio["GPT-3"] < 2
        and 19 < ratio["Chinchilla"] < 21
        and ratio["Llama 3.1 405B"] > 20
    )


# %% note_line=332
if __name__ == "__main__":
    CONTEXT = [
        ("GPT-1", 2018, 6, 512),
        ("GPT-2", 2019, 2, 1024),
        ("GPT-3", 2020, 5, 2048),
        ("GPT-4 (32k)", 2023, 3, 32768),
        ("Claude (100k)", 2023, 5, 100_000),
        ("Claude 2.1", 2023, 11, 200_000),
        ("GPT-4 Turbo", 2023, 11, 128_000),
        ("Gemini 1.5 Pro", 2024, 2, 1_000_000),
        ("Llama 3.1", 2024, 7, 128_000),
        ("Llama 4 Scout", 2025, 4, 10_000_000),
    ]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for name, y, m, ctx in CONTEXT:
        ax.scatter(y + (m - 0.5) / 12, ctx, color="C1")
        ax.annotate(
            name,
            (y + (m - 0.5) / 12, ctx),
            fontsize=7,
            xytext=(4, -3),
            textcoords="offset points",
        )
    ax.set_yscale("log")
    ax.set_xlabel("release date")
    ax.set_ylabel("context window (tokens)")
    plt.tight_layout()
    plt.show()
    growth = CONTEXT[-1][3] / CONTEXT[0][3]
    print(f"largest advertised context grew {growth:,.0f}x from GPT-1 to Llama 4 Scout")
    assert growth > 10_000
