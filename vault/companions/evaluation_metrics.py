# generated from vault/Advanced Topics/Evaluation Metrics.md — do not edit; regenerate with `llm-vault export`
# Import it: `from companions import evaluation_metrics` (the cells marked `export`).
# Run it: `python -m companions.evaluation_metrics` runs the whole note.

# %% note_line=25
if __name__ == "__main__":
    import math, re, string
    from collections import Counter
    import numpy as np
    import torch
    import torch.nn.functional as F
    import matplotlib.pyplot as plt
    from runner.env import seed_everything
    from companions.pretraining import get_pretrained

    seed_everything(0)
    torch.set_num_threads(1)  # small model: one thread is fastest on a shared CPU
    model, tok, info = get_pretrained()
    cfg = info["config"]
    block_size = cfg["block_size"] if isinstance(cfg, dict) else cfg.block_size
    val_text = info["val_text"][:20000]
    print(
        f"tutorial model: {sum(p.numel() for p in model.parameters()):,} parameters, vocab"
        f" {tok.vocab_size}, context {block_size}; scoring {len(val_text):,} held-out"
        " characters"
    )


# %% export note_line=65
import math
import torch
import torch.nn.functional as F


@torch.no_grad()
def score_tokens(
    model, ids, block_size: int, stride: int | None = None, batch_size: int = 16
):
    """Logits for every next-token prediction in `ids` (targets ids[1:]).

    Windows of up to block_size inputs start every `stride` tokens; each target is
    scored once, in the first
    window where it was not yet scored (so with stride < block_size it gets at least
    block_size - stride context).
    Returns (logits (N-1, V), targets (N-1,)).
    """
    ids = torch.as_tensor(ids, dtype=torch.long)
    n_targets = len(ids) - 1
    stride = stride or block_size
    jobs, done, s = [], 0, 0  # (start, length, first position to keep)
    while done < n_targets:
        length = min(block_size, n_targets - s)
        jobs.append((s, length, done - s))
        done, s = s + length, s + stride
    out = [None] * len(jobs)
    for length in sorted({j[1] for j in jobs}):
        group = [i for i, j in enumerate(jobs) if j[1] == length]
        for b in range(0, len(group), batch_size):
            chunk = group[b : b + batch_size]
            x = torch.stack([ids[jobs[i][0] : jobs[i][0] + length] for i in chunk])
            logits = model(x)[0]
            for row, i in enumerate(chunk):
                out[i] = logits[row, jobs[i][2] :]
    return torch.cat(out).float(), ids[1:]


def perplexity_from_logits(logits: torch.Tensor, targets: torch.Tensor) -> dict:
    nll = F.cross_entropy(logits, targets).item()
    return {"nll": nll, "ppl": math.exp(nll), "bits": nll / math.log(2)}


# %% note_line=108
if __name__ == "__main__":
    val_ids = tok.encode(val_text)
    logits, targets = score_tokens(model, val_ids, block_size)  # non-overlapping windows
    sliding_logits, sliding_targets = score_tokens(
        model, val_ids, block_size, stride=block_size // 2
    )
    ppl = perplexity_from_logits(logits, targets)
    ppl_sliding = perplexity_from_logits(sliding_logits, sliding_targets)

    counts = Counter(val_ids[1:])  # unigram model fitted on the test text itself
    probs = np.array([c / len(targets) for c in counts.values()])
    unigram_bits = -(probs * np.log2(probs)).sum()
    print(
        f"uniform over vocab          : ppl {tok.vocab_size:7.2f}  "
        f" {math.log2(tok.vocab_size):.3f} bits/char"
    )
    print(
        f"unigram (peeked at the test): ppl {2**unigram_bits:7.2f}   {unigram_bits:.3f}"
        " bits/char"
    )
    print(
        f"tutorial GPT, windows       : ppl {ppl['ppl']:7.2f}   {ppl['bits']:.3f} bits/char"
    )
    print(
        f"tutorial GPT, sliding       : ppl {ppl_sliding['ppl']:7.2f}  "
        f" {ppl_sliding['bits']:.3f} bits/char"
    )
    print(
        f"(training reported val_loss {info['val_loss']:.3f} nats = ppl"
        f" {math.exp(info['val_loss']):.2f})"
    )
    assert len(targets) == len(sliding_targets) == len(val_ids) - 1 and torch.equal(
        targets, sliding_targets
    )
    assert ppl["ppl"] < 2**unigram_bits < tok.vocab_size
    # more context never hurts on average here
    assert ppl_sliding["nll"] <= ppl["nll"] + 1e-3


# %% note_line=154
if __name__ == "__main__":
    import tiktoken

    total_nll = ppl["nll"] * len(targets)  # nats for the whole scored text
    scored = val_text[1:]
    n_bpe = len(tiktoken.get_encoding("cl100k_base").encode(scored))
    n_bytes = len(scored.encode("utf-8"))
    per_bpe_token_ppl = math.exp(total_nll / n_bpe)
    bits_per_byte = total_nll / math.log(2) / n_bytes
    print(f"{len(targets):,} characters = {n_bytes:,} bytes = {n_bpe:,} cl100k tokens")
    print(
        f"same likelihood as per-character ppl {ppl['ppl']:.2f}, per-cl100k-token ppl"
        f" {per_bpe_token_ppl:.1f}, {bits_per_byte:.3f} bits per byte"
    )
    assert per_bpe_token_ppl > ppl["ppl"]


# %% export note_line=187
import re
from collections import Counter


def ngrams(tokens, n):
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def corpus_bleu(hypotheses, references, max_n: int = 4) -> dict:
    """Corpus BLEU on whitespace tokens. references: list (one per hypothesis) of lists
    of reference strings."""
    matches, totals = [0] * max_n, [0] * max_n
    hyp_len = ref_len = 0
    for hyp, refs in zip(hypotheses, references):
        h = hyp.split()
        rs = [r.split() for r in refs]
        hyp_len += len(h)
        # closest length, ties -> shorter
        ref_len += min((abs(len(r) - len(h)), len(r)) for r in rs)[1]
        for n in range(1, max_n + 1):
            h_counts = ngrams(h, n)
            max_ref = Counter()
            for r in rs:
                max_ref |= ngrams(r, n)  # elementwise max over references
            matches[n - 1] += sum(min(c, max_ref[g]) for g, c in h_counts.items())
            totals[n - 1] += max(len(h) - n + 1, 0)
    precisions = [m / t if t else 0.0 for m, t in zip(matches, totals)]
    bp = 1.0 if hyp_len > ref_len else math.exp(1 - ref_len / max(hyp_len, 1))
    if min(precisions) == 0:
        return {"bleu": 0.0, "precisions": precisions, "bp": bp}
    geo = math.exp(sum(math.log(p) for p in precisions) / max_n)
    return {
        "bleu": 100 * bp * geo,
        "precisions": [100 * p for p in precisions],
        "bp": bp,
    }


def rouge_tokens(text: str):
    """Tokenisation used by Google's rouge-score: lowercase, non-alphanumerics become
    spaces."""
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).split()


def lcs_length(a, b) -> int:
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def _f1(overlap, n_pred, n_ref):
    p = overlap / n_pred if n_pred else 0.0
    r = overlap / n_ref if n_ref else 0.0
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def rouge(prediction: str, reference: str) -> dict:
    """ROUGE-1, ROUGE-2 and ROUGE-L F1 for one pair."""
    p, r = rouge_tokens(prediction), rouge_tokens(reference)
    out = {}
    for n in (1, 2):
        pn, rn = ngrams(p, n), ngrams(r, n)
        out[f"rouge{n}"] = _f1(
            sum((pn & rn).values()), sum(pn.values()), sum(rn.values())
        )
    out["rougeL"] = _f1(lcs_length(p, r), len(p), len(r))
    return out


# %% note_line=264
if __name__ == "__main__":
    import sacrebleu
    from rouge_score import rouge_scorer

    hyps = [
        "the cat sat on the mat",
        "a dog is running in the park",
        "it is raining heavily today",
        "the meeting was moved to friday afternoon",
        "she reads a book every night before sleeping",
    ]
    refs = [
        ["the cat was sitting on the mat", "a cat sat on the mat"],
        ["a dog runs in the park", "the dog is running through the park"],
        ["today it is raining heavily", "there is heavy rain today"],
        [
            "the meeting has been moved to friday afternoon",
            "they moved the meeting to friday afternoon",
        ],
        [
            "every night she reads a book before she sleeps",
            "she reads a book each night before sleep",
        ],
    ]

    mine = corpus_bleu(hyps, refs)
    # sacrebleu wants one list per reference "stream"
    ref_streams = [list(r) for r in zip(*refs)]
    theirs = sacrebleu.metrics.BLEU(tokenize="none", smooth_method="none").corpus_score(
        hyps, ref_streams
    )
    print(f"BLEU from scratch {mine['bleu']:.4f}  sacrebleu {theirs.score:.4f}")
    print(
        "precisions (1-4):",
        [round(p, 2) for p in mine["precisions"]],
        " sacrebleu:",
        [round(p, 2) for p in theirs.precisions],
    )
    print(f"brevity penalty {mine['bp']:.4f} vs {theirs.bp:.4f}")
    assert abs(mine["bleu"] - theirs.score) < 1e-6 and abs(mine["bp"] - theirs.bp) < 1e-9

    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=False)
    worst = 0.0
    for h, rs in zip(hyps, refs):
        # rouge-score's order: (target, prediction)
        a, b = rouge(h, rs[0]), scorer.score(rs[0], h)
        worst = max(worst, *(abs(a[k] - b[k].fmeasure) for k in a))
        print(
            f"{h[:38]:40s} R1 {a['rouge1']:.3f}  R2 {a['rouge2']:.3f}  RL {a['rougeL']:.3f}"
        )
    print("max difference from rouge-score:", worst)
    assert worst < 1e-9


# %% note_line=321
if __name__ == "__main__":
    reference = ["the committee approved the new budget on monday"]
    paraphrase = "on monday the panel gave its approval to the new spending plan"
    scrambled = "the budget approved the committee on new monday"
    for name, h in [("paraphrase", paraphrase), ("scrambled", scrambled)]:
        # default smoothing for one sentence
        b = sacrebleu.sentence_bleu(h, reference).score
        r = rouge(h, reference[0])
        print(
            f"{name:10s}: sentence BLEU {b:5.1f}   ROUGE-1 {r['rouge1']:.2f}   ROUGE-L"
            f" {r['rougeL']:.2f}"
        )
    assert (
        rouge(scrambled, reference[0])["rouge1"] > rouge(paraphrase, reference[0])["rouge1"]
    )


# %% note_line=351
if __name__ == "__main__":
    def normalize_answer(s: str) -> str:
        s = "".join(ch for ch in s.lower() if ch not in set(string.punctuation))
        s = re.sub(r"\b(a|an|the)\b", " ", s)
        return " ".join(s.split())


    def exact_match(pred: str, gold: str) -> float:
        return float(normalize_answer(pred) == normalize_answer(gold))


    def token_f1(pred: str, gold: str) -> float:
        p, g = normalize_answer(pred).split(), normalize_answer(gold).split()
        common = sum((Counter(p) & Counter(g)).values())
        return 0.0 if common == 0 else 2 * common / (len(p) + len(g))


    qa = [
        ("The Eiffel Tower.", "Eiffel Tower"),
        ("1969", "in 1969"),
        ("Paris, France", "Paris"),
        ("blue", "Blue"),
    ]
    for pred, gold in qa:
        print(
            f"pred {pred!r:22s} gold {gold!r:16s} EM {exact_match(pred, gold):.0f}  F1"
            f" {token_f1(pred, gold):.2f}"
        )
    assert [exact_match(p, g) for p, g in qa] == [1.0, 0.0, 0.0, 1.0]
    assert token_f1("Paris, France", "Paris") == 2 / 3


# %% note_line=392
if __name__ == "__main__":
    rng = np.random.default_rng(0)
    CTX = 64
    words = [
        (m.start(), m.group())
        for m in re.finditer(r"(?<=[ \n])[a-z]{3,12}(?=[ ,.\n])", val_text)
        if m.start() >= CTX
    ]
    vocab_words = sorted({w for _, w in words})
    items = [words[i] for i in rng.choice(len(words), 160, replace=False)]

    seqs, spans = [], []
    for pos, gold in items:
        context = val_text[pos - CTX : pos]
        distractors = rng.choice(
            [w for w in vocab_words if w != gold], 3, replace=False
        ).tolist()
        cands = [gold] + distractors
        for c in cands:
            seqs.append(tok.encode(context + c))
            spans.append((CTX, len(c)))
    width = max(map(len, seqs))
    x = torch.tensor([s + [0] * (width - len(s)) for s in seqs])
    with torch.no_grad():
        logp = torch.cat(
            [model(x[i : i + 100])[0].log_softmax(-1) for i in range(0, len(x), 100)]
        )
    cand_lp = torch.tensor(
        [
            logp[i, s - 1 : s - 1 + n].gather(1, x[i, s : s + n, None]).sum().item()
            for i, (s, n) in enumerate(spans)
        ]
    ).view(len(items), 4)
    cand_len = torch.tensor([n for _, n in spans], dtype=torch.float).view(len(items), 4)
    correct_sum = (cand_lp.argmax(1) == 0).numpy()  # gold is candidate 0
    correct_norm = ((cand_lp / cand_len).argmax(1) == 0).numpy()


    def bootstrap_ci(values, n_boot=2000, seed=0):
        r = np.random.default_rng(seed)
        means = r.choice(values, (n_boot, len(values))).mean(1)
        return np.percentile(means, [2.5, 97.5])


    cis = {}
    for name, correct in [("total log-prob", correct_sum), ("per-character", correct_norm)]:
        cis[name] = bootstrap_ci(correct.astype(float))
        print(
            f"cloze accuracy (exact match of the chosen word), {name:14s}:"
            f" {correct.mean():.3f}  [95% CI {cis[name][0]:.3f}-{cis[name][1]:.3f}]  "
            " chance 0.25"
        )
    # paired comparison on the same items
    diff = correct_norm.astype(float) - correct_sum.astype(float)
    dlo, dhi = bootstrap_ci(diff)
    print(
        f"per-character minus total, paired: {diff.mean():+.3f}  [95% CI {dlo:+.3f} to"
        f" {dhi:+.3f}]"
    )
    assert max(lo for lo, _ in cis.values()) > 0.25  # clearly better than guessing


# %% note_line=466
if __name__ == "__main__":
    def pass_at_k(n: int, c: int, k: int) -> float:
        if n - c < k:
            return 1.0
        # numerically stable product form
        return 1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1))


    n, k, p = 20, 5, 0.15
    pmf = [math.comb(n, c) * p**c * (1 - p) ** (n - c) for c in range(n + 1)]
    expected_unbiased = sum(w * pass_at_k(n, c, k) for c, w in enumerate(pmf))
    expected_plugin = sum(w * (1 - (1 - c / n) ** k) for c, w in enumerate(pmf))
    truth = 1 - (1 - p) ** k
    print(
        f"true pass@{k} {truth:.6f}; E[unbiased] {expected_unbiased:.6f}; E[plug-in]"
        f" {expected_plugin:.6f}"
    )
    assert abs(expected_unbiased - truth) < 1e-12 and abs(expected_plugin - truth) > 1e-3


# %% export note_line=501
import numpy as np


def expected_calibration_error(confidence, correct, n_bins: int = 15):
    """ECE with equal-width bins; also returns per-bin (mean confidence, accuracy,
    count) for a reliability diagram."""
    confidence, correct = np.asarray(confidence, float), np.asarray(correct, float)
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    ece, table = 0.0, []
    for b in range(n_bins):
        m = bins == b
        if m.any():
            gap = abs(correct[m].mean() - confidence[m].mean())
            ece += m.mean() * gap
            table.append((confidence[m].mean(), correct[m].mean(), int(m.sum())))
    return ece, table


def fit_temperature(logits, targets, steps: int = 100) -> float:
    """One scalar T > 0 minimising NLL of softmax(logits / T) (LBFGS on log T)."""
    log_t = torch.zeros(1, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.1, max_iter=steps)

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(logits / log_t.exp(), targets)
        loss.backward()
        return loss

    opt.step(closure)
    return log_t.exp().item()


# %% note_line=535
if __name__ == "__main__":
    half = len(targets) // 2


    def calib(lg, tg):
        pr = lg.softmax(-1)
        conf, pred = pr.max(-1)
        return expected_calibration_error(conf.numpy(), (pred == tg).numpy())


    ece_raw, table_raw = calib(logits[half:], targets[half:])
    sharp = logits / 0.5  # an overconfident version of the same model
    ece_sharp, table_sharp = calib(sharp[half:], targets[half:])
    T = fit_temperature(sharp[:half], targets[:half])  # fit on the first half only
    ece_fixed, table_fixed = calib(sharp[half:] / T, targets[half:])
    acc = (logits[half:].argmax(-1) == targets[half:]).float().mean().item()
    acc_fixed = ((sharp[half:] / T).argmax(-1) == targets[half:]).float().mean().item()
    print(f"next-char accuracy {acc:.3f} (unchanged after scaling: {acc_fixed:.3f})")
    print(
        f"ECE: model as trained {ece_raw:.4f} | sharpened x2 {ece_sharp:.4f} | after"
        f" temperature scaling (fitted T = {T:.2f}) {ece_fixed:.4f}"
    )
    assert acc == acc_fixed
    assert ece_fixed < ece_sharp and 1.5 < T < 2.5

    fig, axes = plt.subplots(1, 3, figsize=(10, 3.4), sharey=True)
    for ax, (name, table, e) in zip(
        axes,
        [
            ("as trained", table_raw, ece_raw),
            ("sharpened", table_sharp, ece_sharp),
            ("temperature-scaled", table_fixed, ece_fixed),
        ],
    ):
        conf_b, acc_b, n_b = map(np.array, zip(*table))
        ax.bar(
            conf_b, acc_b, width=1 / 15, edgecolor="k", alpha=0.7, label="accuracy in bin"
        )
        ax.plot([0, 1], [0, 1], "k--", lw=1, label="perfect calibration")
        ax.set_title(f"{name}\nECE {e:.3f}", fontsize=9)
        ax.set_xlabel("confidence")
    axes[0].set_ylabel("accuracy")
    axes[0].legend(fontsize=7)
    plt.tight_layout()
    plt.show()


# %% note_line=591
if __name__ == "__main__":
    choice_probs = (cand_lp / cand_len).softmax(1)
    conf_cloze, pick = choice_probs.max(1)
    ece_cloze, _ = expected_calibration_error(
        conf_cloze.numpy(), (pick == 0).numpy(), n_bins=10
    )
    print(
        f"cloze task: mean confidence {conf_cloze.mean():.3f}, accuracy"
        f" {(pick == 0).double().mean():.3f}, ECE {ece_cloze:.3f} over {len(items)} items"
    )
