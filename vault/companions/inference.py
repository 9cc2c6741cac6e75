# generated from vault/How LLMs Work/Inference and Generation.md — do not edit; regenerate with `llm-vault export`
# Import it: `from companions import inference` (the cells marked `export`).
# Run it: `python -m companions.inference` runs the whole note.

# %% note_line=32
if __name__ == "__main__":
    import math
    import time

    import matplotlib.pyplot as plt
    import torch
    import torch.nn.functional as F

    from companions.pretraining import get_pretrained
    from runner.env import seed_everything

    seed_everything(0)
    model, tok, info = get_pretrained()
    draft_model, draft_tok, draft_info = get_pretrained(size="draft")
    dev = next(model.parameters()).device
    cfg = model.config

    print(
        f"target: {model.num_params():,} parameters, {cfg.n_layer} layers, d={cfg.n_embd}, "
        f"context {cfg.block_size}, val loss {info['val_loss']:.3f}"
    )
    print(
        f"draft : {draft_model.num_params():,} parameters, {draft_model.config.n_layer}"
        f" layers, d={draft_model.config.n_embd}, val loss {draft_info['val_loss']:.3f}"
    )
    print(f"vocabulary: {tok.vocab_size} characters; device: {dev}")
    assert (
        draft_tok.vocab_size == tok.vocab_size
        and draft_model.num_params() < model.num_params()
    )


    def encode(text):
        return torch.tensor([tok.encode(text)], device=dev)


# %% export note_line=95
import math
import time

import torch
import torch.nn.functional as F

from companions.llm_architecture import KVCache


def greedy(logits):
    """Index of the largest logit along the last dimension."""
    return logits.argmax(dim=-1)


def filter_top_k(logits, k):
    """Keep the k largest logits of every row; the others become -inf."""
    if k is None or k >= logits.size(-1):
        return logits
    kth_best = torch.topk(logits, k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth_best, float("-inf"))


def filter_top_p(logits, p):
    """Nucleus filter: keep the most probable tokens until their total probability
    reaches p."""
    if p is None or p >= 1.0:
        return logits
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
    probs = sorted_logits.softmax(dim=-1)
    mass_above = probs.cumsum(dim=-1) - probs  # probability of all better-ranked tokens
    drop_sorted = mass_above >= p  # p was already reached without this token
    drop = drop_sorted.scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, float("-inf"))


def next_token_probs(logits, temperature=1.0, top_k=None, top_p=None):
    """The distribution `sample` draws from. temperature=0 gives the one-hot vector of
    the arg-max."""
    logits = logits.float()
    if temperature == 0:
        return F.one_hot(greedy(logits), logits.size(-1)).float()
    logits = filter_top_p(filter_top_k(logits / temperature, top_k), top_p)
    return logits.softmax(dim=-1)


def sample(logits, temperature=1.0, top_k=None, top_p=None, generator=None):
    """One token id for every row of `logits` (..., V)."""
    if temperature == 0:
        return greedy(logits)
    probs = next_token_probs(logits, temperature, top_k, top_p)
    flat = probs.reshape(-1, probs.size(-1))
    return torch.multinomial(flat, 1, generator=generator).reshape(probs.shape[:-1])


# %% note_line=156
if __name__ == "__main__":
    from companions.inference import (
        filter_top_k,
        filter_top_p,
        greedy,
        next_token_probs,
        sample,
    )

    prompt = "The attention mechanism lets every token "
    with torch.no_grad():
        logits = model(encode(prompt))[0][0, -1].float()

    gen = torch.Generator(device=dev).manual_seed(0)
    n_draws = 20_000
    rule = dict(temperature=0.8, top_k=12, top_p=0.9)
    draws = sample(logits.expand(n_draws, -1), generator=gen, **rule)
    freq = torch.bincount(draws, minlength=logits.numel()).float() / n_draws
    probs = next_token_probs(logits, **rule)

    tv = 0.5 * (freq - probs).abs().sum().item()
    kept = int((probs > 0).sum())
    print(f"rule {rule}: {kept} candidate tokens keep nonzero probability")
    print(
        "total-variation distance between sampled frequencies and target probabilities:"
        f" {tv:.4f}"
    )
    assert (freq[probs == 0] == 0).all(), "a filtered token was sampled"
    assert tv < 0.02
    assert kept <= 12

    # top-p keeps the *shortest* prefix reaching p: its mass is >= p, and without its last
    # member it is < p
    p = 0.9
    nucleus = torch.isfinite(filter_top_p(logits, p))
    mass = logits.softmax(-1)[nucleus].sum().item()
    smallest_kept = logits.softmax(-1)[nucleus].min().item()
    print(
        f"nucleus at p={p}: {int(nucleus.sum())} tokens holding {mass:.3f} of the"
        " probability"
    )
    assert mass >= p and mass - smallest_kept < p


# %% note_line=205
if __name__ == "__main__":
    prompt = "Large language models are trained to predict the next "
    with torch.no_grad():
        logits = model(encode(prompt))[0][0, -1].float()

    temps = [0.3, 0.7, 1.0, 1.5, 2.5]
    top = logits.softmax(-1).argsort(descending=True)[:12]
    labels = [repr(tok.decode([i]))[1:-1] or "?" for i in top.tolist()]

    fig, axes = plt.subplots(1, len(temps), figsize=(12, 2.8), sharey=True)
    entropies = []
    for ax, t in zip(axes, temps):
        pr = next_token_probs(logits, temperature=t)
        ent = -(pr * pr.clamp_min(1e-12).log2()).sum().item()
        entropies.append(ent)
        ax.bar(range(len(top)), pr[top].cpu())
        ax.set_xticks(range(len(top)), labels, fontsize=7)
        ax.set_title(f"T={t}  H={ent:.2f} bits", fontsize=9)
    axes[0].set_ylabel("probability")
    fig.suptitle(f"next character after {prompt[-24:]!r}", fontsize=9)
    plt.tight_layout()
    plt.show()

    for t, ent in zip(temps, entropies):
        print(f"T={t:<4}  entropy {ent:5.2f} bits  ~ {2**ent:5.1f} equally likely choices")
    assert all(a < b for a, b in zip(entropies, entropies[1:])), (
        "entropy must grow with temperature"
    )


# %% note_line=244
if __name__ == "__main__":
    contexts = {"confident": "The transformer architec", "open": "In this note we "}
    p = 0.9
    fig, ax = plt.subplots(figsize=(7, 3.5))
    sizes = {}
    for name, text in contexts.items():
        with torch.no_grad():
            lg = model(encode(text))[0][0, -1].float()
        cum = lg.softmax(-1).sort(descending=True).values.cumsum(0).cpu()
        sizes[name] = int(torch.isfinite(filter_top_p(lg, p)).sum())
        ax.plot(
            range(1, 31),
            cum[:30],
            marker=".",
            label=f"{name}: ...{text[-12:]!r} -> nucleus {sizes[name]}",
        )
        ax.axvline(sizes[name], ls=":", color=ax.lines[-1].get_color())
    ax.axhline(p, color="gray", ls="--", lw=1)
    ax.set_xlabel("number of most probable tokens kept")
    ax.set_ylabel("cumulative probability")
    ax.set_title(f"top-p cut-off at p={p}")
    ax.legend(fontsize=8)
    plt.tight_layout()
    plt.show()

    print(
        "nucleus sizes at p=0.9:",
        ", ".join(
            f"{name} context -> {n} of {tok.vocab_size} characters"
            for name, n in sizes.items()
        ),
    )
    assert sizes["confident"] < sizes["open"]


# %% export note_line=296
def _window_start(length, start, block):
    """First position of the context window once `length` tokens exist: shift by half a
    window when full."""
    if length - start > block:
        start = length - block // 2
    return start


@torch.no_grad()
def generate(
    model,
    idx,
    max_new_tokens,
    temperature=0.0,
    top_k=None,
    top_p=None,
    use_cache=True,
    generator=None,
):
    """Extend idx (B, T) by max_new_tokens tokens; temperature=0 is greedy decoding."""
    block = model.config.block_size
    start = max(0, idx.size(1) - block)  # a long prompt keeps its last full window
    cache, feed = None, None
    for _ in range(max_new_tokens):
        new_start = _window_start(idx.size(1), start, block)
        if use_cache:
            # prefill (again after a context shift)
            if cache is None or new_start != start:
                cache, feed = KVCache(), idx[:, new_start:]
            logits, _ = model(feed, kv_cache=cache)
        else:
            logits, _ = model(idx[:, new_start:])  # recompute the whole window
        start = new_start
        nxt = sample(logits[:, -1], temperature, top_k, top_p, generator)[:, None]
        idx = torch.cat([idx, nxt], dim=1)
        feed = nxt  # decode: only the new token goes in next time
    return idx


@torch.no_grad()
def sequence_logprob(model, prompt_ids, new_ids):
    """Sum of log p(new_ids[i] | prompt, new_ids[:i]) from one ordinary forward pass."""
    dev = next(model.parameters()).device
    full = torch.tensor([list(prompt_ids) + list(new_ids)], device=dev)
    logits, _ = model(full[:, :-1])
    logp = F.log_softmax(logits[0].float(), dim=-1)
    start = len(prompt_ids) - 1  # position whose logits predict new_ids[0]
    rows = torch.arange(start, start + len(new_ids), device=dev)
    return logp[rows, torch.tensor(list(new_ids), device=dev)].sum().item()


# %% note_line=353
if __name__ == "__main__":
    from companions.inference import generate, sequence_logprob

    prompt = "A language model generates text "
    x = encode(prompt)
    greedy_out = generate(model, x, 80, temperature=0)
    for seed in range(2):
        g = torch.Generator(device=dev).manual_seed(seed)
        cold = generate(model, x, 80, temperature=1e-4, generator=g)
        top1 = generate(model, x, 80, temperature=1.3, top_k=1, generator=g)
        assert torch.equal(cold, greedy_out) and torch.equal(top1, greedy_out)
    print(
        "temperature 1e-4 and top_k=1 reproduce greedy decoding (2 seeds x 80 tokens each)"
    )
    print("greedy:", repr(tok.decode(greedy_out[0, x.size(1) :].tolist())))


# %% note_line=376
if __name__ == "__main__":
    def distinct_ngrams(ids, n=4):
        grams = [tuple(ids[i : i + n]) for i in range(len(ids) - n + 1)]
        return len(set(grams)) / len(grams)


    strategies = {
        "greedy": dict(temperature=0),
        "T=0.7": dict(temperature=0.7),
        "T=1.0": dict(temperature=1.0),
        "top-k=10": dict(temperature=1.0, top_k=10),
        "top-p=0.9": dict(temperature=1.0, top_p=0.9),
        "T=0.8,k=40,p=0.95": dict(temperature=0.8, top_k=40, top_p=0.95),
    }
    prompt_ids = tok.encode("Tokens are ")
    # one window, so sequence_logprob can score it in one pass
    n_new = cfg.block_size - len(prompt_ids)
    rows = {}
    for name, rule in strategies.items():
        g = torch.Generator(device=dev).manual_seed(0)
        out = generate(
            model, torch.tensor([prompt_ids], device=dev), n_new, generator=g, **rule
        )[0, len(prompt_ids) :]
        new = out.tolist()
        rows[name] = (
            sequence_logprob(model, prompt_ids, new) / len(new),
            distinct_ngrams(new),
            tok.decode(new),
        )

    print(f"{'strategy':<20}{'logprob/token':>14}{'distinct 4-grams':>18}")
    for name, (lp, d4, _) in rows.items():
        print(f"{name:<20}{lp:>14.3f}{d4:>18.2f}")
    for name in ("greedy", "T=0.8,k=40,p=0.95"):
        print(f"\n[{name}] {rows[name][2]!r}")
    assert rows["greedy"][0] > rows["T=1.0"][0]


# %% export note_line=442
@torch.no_grad()
def beam_search(
    model, idx, max_new_tokens, num_beams=4, length_penalty=1.0, eos_id=None
):
    """Beam search for one prompt idx (1, T).

    Returns up to num_beams hypotheses, best first, as dicts with the generated `tokens`
    (eos included),
    their summed `logprob`, and `score` = logprob / len(tokens) ** length_penalty.
    """
    block, prompt_len = model.config.block_size, idx.size(1)
    beams = idx  # (n, T): running hypotheses
    beam_logp = torch.zeros(1, device=idx.device)  # their summed log-probabilities
    finished = []

    def finish(tokens, logp):
        finished.append(
            {
                "tokens": tokens,
                "logprob": logp,
                "score": logp / len(tokens) ** length_penalty,
            }
        )

    for step in range(max_new_tokens):
        logits, _ = model(beams[:, -block:])
        logp = F.log_softmax(logits[:, -1].float(), dim=-1)  # (n, V)
        vocab = logp.size(-1)
        candidates = (beam_logp[:, None] + logp).flatten()
        # 2 * num_beams leaves num_beams to extend even if half of them end; a small
        # vocabulary may offer fewer
        top_logp, top_flat = candidates.topk(min(2 * num_beams, candidates.numel()))
        rows, toks, new_logp = [], [], []
        for lp, flat in zip(top_logp.tolist(), top_flat.tolist()):
            row, t = divmod(flat, vocab)
            if t == eos_id:  # a hypothesis ends here
                finish(beams[row, prompt_len:].tolist() + [t], lp)
            else:
                rows.append(row)
                toks.append(t)
                new_logp.append(lp)
            if len(rows) == num_beams:
                break
        if not rows:  # every candidate ended: nothing left to extend
            beams, beam_logp = beams[:0], beam_logp[:0]
            break
        beams = torch.cat(
            [beams[rows], torch.tensor(toks, device=idx.device)[:, None]], dim=1
        )
        beam_logp = torch.tensor(new_logp, device=idx.device)
        # exact early stop: a running beam can only lose log-probability, so its best
        # possible final score is
        # its current sum divided by the largest length factor it could still reach
        if len(finished) >= num_beams:
            worst_kept = sorted(h["score"] for h in finished)[-num_beams]
            n_now = step + 1
            factor = (
                max_new_tokens**length_penalty
                if length_penalty > 0
                else (n_now + 1) ** length_penalty
            )
            if beam_logp.max().item() / factor < worst_kept:
                break
    for row in range(beams.size(0)):  # unfinished beams compete as they are
        finish(beams[row, prompt_len:].tolist(), beam_logp[row].item())
    return sorted(finished, key=lambda h: h["score"], reverse=True)[:num_beams]


# %% note_line=515
if __name__ == "__main__":
    from companions.inference import beam_search

    newline = tok.encode("\n")[0]
    prompt = "## Key Takeaways\n\n- The "
    prompt_ids = tok.encode(prompt)
    x = encode(prompt)

    n_checked = 0
    for alpha in (0.0, 1.0, 2.0):
        hyps = beam_search(model, x, 48, num_beams=4, length_penalty=alpha, eos_id=newline)
        for h in hyps:
            direct = sequence_logprob(model, prompt_ids, h["tokens"])
            assert abs(direct - h["logprob"]) < 1e-3, (direct, h["logprob"])
            assert abs(h["score"] - direct / len(h["tokens"]) ** alpha) < 1e-3
            n_checked += 1
        best = hyps[0]
        ending = (
            "ended by a newline"
            if best["tokens"][-1] == newline
            else "stopped at the 48-token limit"
        )
        print(
            f"length_penalty={alpha}: best has {len(best['tokens']):2d} tokens ({ending}),"
            f" log-prob {best['logprob']:7.2f}, score {best['score']:7.3f} ->"
            f" {tok.decode(best['tokens'])!r}"
        )
    print(
        f"{n_checked} hypotheses: reported log-probs and scores match a direct"
        " recomputation"
    )

    one_beam = beam_search(model, x, 40, num_beams=1, length_penalty=0.0)[0]["tokens"]
    assert one_beam == generate(model, x, 40, temperature=0)[0, x.size(1) :].tolist()
    print("num_beams=1 reproduces greedy decoding")


# %% note_line=558
if __name__ == "__main__":
    import itertools

    from companions.llm_architecture import GPT, GPTConfig

    torch.manual_seed(0)
    tiny = GPT(
        GPTConfig(vocab_size=6, block_size=16, n_layer=1, n_head=2, n_embd=16)
    ).eval()
    start = torch.tensor([[0, 1]])
    four = beam_search(tiny, start, 3, num_beams=4, length_penalty=0.0)
    print(
        f"V=6, 4 beams: {len(four)} hypotheses, best {four[0]['tokens']} (log-prob"
        f" {four[0]['logprob']:.3f})"
    )
    assert len(four) == 4 and all(len(h["tokens"]) == 3 for h in four)

    exhaustive = sorted(
        (sequence_logprob(tiny, [0, 1], seq), list(seq))
        for seq in itertools.product(range(6), repeat=3)
    )
    wide = beam_search(tiny, start, 3, num_beams=36, length_penalty=0.0)
    assert [h["tokens"] for h in wide] == [seq for _, seq in exhaustive[::-1][:36]]
    assert all(abs(h["logprob"] - lp) < 1e-4 for h, (lp, _) in zip(wide, exhaustive[::-1]))
    # four beams can only miss the optimum, never beat it
    assert four[0]["logprob"] <= exhaustive[-1][0] + 1e-4
    print(
        f"36 beams = the 36 best of all {len(exhaustive)} continuations; best log-prob"
        f" {exhaustive[-1][0]:.3f}"
    )

    ending = beam_search(tiny, start, 3, num_beams=8, eos_id=0, length_penalty=0.0)
    print(
        f"8 beams, 6 tokens, token 0 ends a hypothesis: {len(ending)} hypotheses, "
        f"{sum(h['tokens'][-1] == 0 for h in ending)} of them ended"
    )
    assert len(ending) == 8 and any(h["tokens"][-1] == 0 for h in ending)
    assert all(
        abs(h["logprob"] - sequence_logprob(tiny, [0, 1], h["tokens"])) < 1e-4
        for h in ending
    )

    one_token = GPT(
        GPTConfig(vocab_size=1, block_size=16, n_layer=1, n_head=2, n_embd=16)
    ).eval()
    only = beam_search(one_token, torch.tensor([[0]]), 3, num_beams=2, eos_id=0)
    assert [h["tokens"] for h in only] == [[0]] and abs(only[0]["logprob"]) < 1e-6


# %% note_line=631
if __name__ == "__main__":
    from companions.llm_architecture import KVCache

    N_NEW = 256
    x = encode("Attention")
    fed = []
    hook = model.register_forward_pre_hook(lambda module, args: fed.append(args[0].size(1)))


    def timed(fn):
        fed.clear()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        out = fn()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        return out, time.perf_counter() - t0, sum(fed)


    generate(model, x, 8)  # warm-up
    # the two loops take turns, three times, and each keeps its best time: a moment when
    # the machine is busy slows one try of each, not all the tries of one
    tries = [
        (
            timed(lambda: generate(model, x, N_NEW, use_cache=False)),
            timed(lambda: generate(model, x, N_NEW, use_cache=True)),
        )
        for _ in range(3)
    ]
    out_plain, t_plain, work_plain = min((p for p, c in tries), key=lambda r: r[1])
    out_cache, t_cache, work_cache = min((c for p, c in tries), key=lambda r: r[1])
    hook.remove()
    assert torch.equal(out_plain, out_cache), "the KV cache changed the output"

    # step-by-step cached logits == one full forward pass over the same (one-window)
    # sequence
    seq = out_cache[:, : cfg.block_size]
    cache, steps = KVCache(), []
    with torch.no_grad():
        for i in range(seq.size(1)):
            steps.append(model(seq[:, i : i + 1], kv_cache=cache)[0])
        full = model(seq)[0]
    max_diff = (torch.cat(steps, dim=1) - full).abs().max().item()
    assert max_diff < 1e-4

    speedup = t_plain / t_cache
    print(
        f"{N_NEW} new tokens, window {cfg.block_size}: identical outputs; cached vs"
        f" full-pass logits differ by at most {max_diff:.1e}"
    )
    print(
        f"positions processed: uncached {work_plain:,}, cached {work_cache:,}"
        f" ({work_plain / work_cache:.0f}x fewer)"
    )
    print(
        f"time: uncached {t_plain:.2f} s, cached {t_cache:.2f} s -> speedup {speedup:.1f}x"
    )

    kv_bytes = cache.nbytes()
    # K and V, fp32
    formula = 2 * cfg.n_layer * cfg.n_kv_head * cfg.head_dim * cache.length * 4
    print(
        f"KV cache of a full window ({cache.length} positions): {kv_bytes / 1024:.0f} KiB ="
        f" 2 (K, V) x {cfg.n_layer} layers x {cfg.n_kv_head} KV heads x {cfg.head_dim} dims"
        " x positions x 4 bytes"
    )
    assert kv_bytes == formula
    assert speedup >= 1.5


# %% export note_line=741
def accept_or_resample(p, q, token, generator=None):
    """One verification step. Returns (accepted, token_to_emit); the emitted token is
    distributed as p."""
    ratio = (p[token] / q[token]).item()
    u = torch.rand((), generator=generator, device=p.device).item()
    if u < min(1.0, ratio):
        return True, token
    residual = (p - q).clamp(min=0)
    return False, torch.multinomial(
        residual / residual.sum(), 1, generator=generator
    ).item()


@torch.no_grad()
def speculative_generate(
    target,
    draft,
    idx,
    max_new_tokens,
    k=4,
    temperature=0.0,
    top_k=None,
    top_p=None,
    generator=None,
):
    """Generate max_new_tokens for one prompt idx (1, T) with draft proposals verified
    by the target.

    Returns (ids (1, T + max_new_tokens), stats): drafted tokens proposed, accepted and
    rejected (a round stops at
    its first rejection, so later proposals of that round are never checked), and model
    calls.
    """
    assert idx.size(0) == 1, "one sequence at a time"
    limit = min(target.config.block_size, draft.config.block_size)
    if idx.size(1) + max_new_tokens + k > limit:
        raise ValueError("prompt + new tokens + lookahead must fit the context window")
    dev = idx.device
    seq = idx[0].tolist()
    goal = len(seq) + max_new_tokens
    t_cache, d_cache = KVCache(), KVCache()
    stats = {
        "proposed": 0,
        "accepted": 0,
        "rejected": 0,
        "target_calls": 0,
        "draft_calls": 0,
    }
    rule = dict(temperature=temperature, top_k=top_k, top_p=top_p)
    while len(seq) < goal:
        # 1) the draft proposes k tokens; its cache first catches up on tokens it has
        # not seen
        proposals, qs, feed = [], [], seq[d_cache.length :]
        for _ in range(k):
            logits, _ = draft(torch.tensor([feed], device=dev), kv_cache=d_cache)
            q = next_token_probs(logits[0, -1], **rule)
            t = torch.multinomial(q, 1, generator=generator).item()
            proposals.append(t)
            qs.append(q)
            feed = [t]
        stats["draft_calls"] += k
        # 2) the target scores every proposal (and one extra position) in a single pass
        logits, _ = target(
            torch.tensor([seq[t_cache.length :] + proposals], device=dev),
            kv_cache=t_cache,
        )
        ps = next_token_probs(logits[0, -(k + 1) :], **rule)
        stats["target_calls"] += 1
        # 3) accept left to right; the first rejection is replaced by a residual sample
        n_ok, emitted = 0, None
        for i, t in enumerate(proposals):
            ok, emitted = accept_or_resample(ps[i], qs[i], t, generator)
            if not ok:
                break
            n_ok += 1
        if n_ok == k:  # all accepted: a bonus token from the target
            emitted = torch.multinomial(ps[k], 1, generator=generator).item()
        seq += proposals[:n_ok] + [emitted]
        stats["proposed"] += k
        stats["accepted"] += n_ok
        stats["rejected"] += int(n_ok < k)
        # 4) forget the keys/values of rejected positions (the last token is fed next
        # round)
        t_cache.crop(len(seq) - 1)
        d_cache.crop(min(d_cache.length, len(seq) - 1))
    return torch.tensor([seq[:goal]], device=dev), stats


# %% note_line=836
if __name__ == "__main__":
    from companions.inference import accept_or_resample, speculative_generate

    g = torch.Generator().manual_seed(0)
    p = torch.rand(6, generator=g) ** 3
    p /= p.sum()
    q = torch.rand(6, generator=g)
    q /= q.sum()

    accept_prob = torch.minimum(torch.ones(6), p / q)  # per drafted token
    residual = (p - q).clamp(min=0)
    reject_total = (q * (1 - accept_prob)).sum()
    exact = q * accept_prob + reject_total * residual / residual.sum()
    print("p        :", [f"{v:.3f}" for v in p.tolist()])
    print("rule gives:", [f"{v:.3f}" for v in exact.tolist()])
    assert torch.allclose(exact, p, atol=1e-6)
    print(f"expected acceptance = sum(min(p, q)) = {torch.minimum(p, q).sum():.3f}")

    counts = torch.zeros(6)
    for _ in range(6000):
        drafted = torch.multinomial(q, 1, generator=g).item()
        counts[accept_or_resample(p, q, drafted, g)[1]] += 1
    tv = 0.5 * (counts / counts.sum() - p).abs().sum().item()
    print(f"Monte Carlo: total-variation distance to p = {tv:.3f}")
    assert tv < 0.03


# %% note_line=872
if __name__ == "__main__":
    K, N_SPEC = 4, 64
    spec_prompts = [
        "The model ",
        "## Next Steps\n\n- [[",
        "Attention weights are ",
        "def generate(",
        "In practice, ",
    ]
    totals = {
        "proposed": 0,
        "accepted": 0,
        "rejected": 0,
        "target_calls": 0,
        "draft_calls": 0,
    }
    t_spec = t_base = 0.0
    for text in spec_prompts:
        x = encode(text)
        t0 = time.perf_counter()
        base = generate(model, x, N_SPEC, temperature=0)
        t_base += time.perf_counter() - t0
        t0 = time.perf_counter()
        spec, stats = speculative_generate(
            model, draft_model, x, N_SPEC, k=K, temperature=0
        )
        t_spec += time.perf_counter() - t0
        assert torch.equal(spec, base), (
            f"speculative output differs from greedy for {text!r}"
        )
        for key in totals:
            totals[key] += stats[key]

    alpha = totals["accepted"] / (totals["accepted"] + totals["rejected"])
    per_call = len(spec_prompts) * N_SPEC / totals["target_calls"]
    predicted = (1 - alpha ** (K + 1)) / (1 - alpha) if alpha < 1 else K + 1
    print(f"greedy speculative == greedy target on all {len(spec_prompts)} prompts")
    print(
        f"acceptance rate: {alpha:.1%} of {totals['accepted'] + totals['rejected']}"
        f" verified drafted tokens ({totals['accepted']} of {totals['proposed']} proposals"
        " kept)"
    )
    print(
        f"tokens per target pass: {per_call:.2f} measured, {predicted:.2f} predicted from"
        " the acceptance rate"
    )
    print(
        f"target passes: {totals['target_calls']} instead of {len(spec_prompts) * N_SPEC}"
    )
    print(
        f"wall time on this machine: plain {t_base:.2f} s, speculative {t_spec:.2f} s "
        f"(ratio {t_base / t_spec:.2f})"
    )
    assert per_call > 1


# %% note_line=937
if __name__ == "__main__":
    g = torch.Generator(device=dev).manual_seed(0)
    x = encode("The model ")
    _, stats = speculative_generate(
        model, draft_model, x, 100, k=K, temperature=1.0, generator=g
    )
    measured = stats["accepted"] / (stats["accepted"] + stats["rejected"])

    ids = torch.tensor(tok.encode(info["val_text"]), device=dev)
    n_win = min(8, len(ids) // cfg.block_size)
    windows = ids[: n_win * cfg.block_size].view(n_win, cfg.block_size)
    with torch.no_grad():
        p_val = model(windows)[0].float().softmax(-1)
        q_val = draft_model(windows)[0].float().softmax(-1)
    expected = torch.minimum(p_val, q_val).sum(-1).mean().item()
    print(
        f"temperature 1: acceptance {measured:.1%} measured while generating; "
        f"mean sum(min(p, q)) on validation text {expected:.1%}"
    )
