# generated from vault/How LLMs Work/Training Processes Explained.md — do not edit; regenerate with `llm-vault export`
# Import it: `from companions import training_processes` (the cells marked `export`).
# Run it: `python -m companions.training_processes` runs the whole note.

# %% note_line=47
if __name__ == "__main__":
    import math
    import torch
    import torch.nn.functional as F

    vocab = ["<s>", "the", "cat", "sat", "."]
    seq = torch.tensor([0, 1, 2, 3, 4])  # "<s> the cat sat ."
    # predict "the" from "<s>", "cat" from "<s> the", ...
    inputs, targets = seq[:-1], seq[1:]
    # made-up model outputs at the 4 input positions
    logits = torch.tensor(
        [
            [0.1, 2.0, 0.3, 0.2, 0.1],
            [0.0, 0.2, 1.5, 1.0, 0.1],
            [0.1, 0.1, 0.2, 2.5, 0.3],
            [0.3, 0.2, 0.1, 0.4, 1.2],
        ]
    )

    probs = logits.softmax(dim=-1)
    for t in range(4):
        p = probs[t, targets[t]].item()
        print(
            f"after {' '.join(vocab[i] for i in seq[: t + 1]):<16}"
            f" p({vocab[targets[t]]!r:6}) = {p:.3f}   -log p = {-math.log(p):.3f}"
        )
    manual = -probs[torch.arange(4), targets].log().mean()
    library = F.cross_entropy(logits, targets)
    print(
        f"mean NLL by hand {manual:.4f} | F.cross_entropy {library:.4f} | perplexity"
        f" {library.exp():.2f}"
    )
    assert torch.allclose(manual, library)
    print(f"a uniform guess would score ln(5) = {math.log(5):.4f}")
    assert library < math.log(5)


# %% export note_line=105
import math
import time
from contextlib import nullcontext

import torch
import torch.nn.functional as F


def lr_at(step, max_lr, warmup, total, min_lr=0.0):
    """Linear warmup for `warmup` steps, then cosine decay from max_lr to min_lr at step
    `total`."""
    if step < warmup:
        return max_lr * (step + 1) / warmup
    if step >= total:
        return min_lr
    progress = (step - warmup) / max(1, total - warmup)
    return min_lr + 0.5 * (max_lr - min_lr) * (1.0 + math.cos(math.pi * progress))


def param_groups(model, weight_decay):
    """Decay matrices (linear and embedding weights); never decay biases and norm gains
    (1-D tensors)."""
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def make_optimizer(model, lr, weight_decay=0.1, betas=(0.9, 0.95), eps=1e-8):
    fused = next(model.parameters()).device.type == "cuda"
    return torch.optim.AdamW(
        param_groups(model, weight_decay), lr=lr, betas=betas, eps=eps, fused=fused
    )


def autocast(device):
    """bf16 autocast on CUDA; a no-op context on CPU (where bf16 matmuls are usually
    slower than fp32)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


# %% note_line=159
if __name__ == "__main__":
    import matplotlib.pyplot as plt

    total, warmup, peak, floor = 1000, 50, 3e-3, 3e-4
    lrs = [lr_at(s, peak, warmup, total, floor) for s in range(total)]
    print(
        f"step 0: {lrs[0]:.2e}   step {warmup - 1}: {lrs[warmup - 1]:.2e}   step"
        f" {total // 2}: {lrs[total // 2]:.2e}   last step: {lrs[-1]:.2e}"
    )
    assert max(lrs) == lrs[warmup - 1] == peak
    # never increases after warmup
    assert all(a >= b for a, b in zip(lrs[warmup - 1 :], lrs[warmup:]))
    assert abs(lrs[-1] - floor) < 1e-6 and lr_at(total, peak, warmup, total, floor) == floor

    plt.figure(figsize=(7, 3.5))
    plt.plot(lrs)
    plt.axvline(warmup, color="gray", ls=":", label="end of warmup")
    plt.xlabel("step")
    plt.ylabel("learning rate")
    plt.title("Linear warmup + cosine decay")
    plt.legend()
    plt.tight_layout()
    plt.show()


# %% note_line=195
if __name__ == "__main__":
    from companions.llm_architecture import GPT, GPTConfig

    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=64, block_size=32, n_layer=2, n_head=4, n_embd=64))
    x = torch.randint(0, 64, (8, 32))
    y = torch.roll(x, -1, dims=1)


    def grad_vector(m):
        return torch.cat([p.grad.flatten() for p in m.parameters() if p.grad is not None])


    for scale in (1.0, 50.0):
        model.zero_grad()
        (scale * model(x, y)[1]).backward()
        before = grad_vector(model).clone()
        reported = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
        after = grad_vector(model)
        cos = F.cosine_similarity(before, after, dim=0).item()
        print(
            f"loss x{scale:>4}: norm before {before.norm():8.3f} (returned {reported:8.3f})"
            f"  after {after.norm():.3f}  direction cosine {cos:.6f}"
        )
        assert torch.isclose(reported, before.norm())
        assert after.norm() <= 1.0 + 1e-4 and cos > 0.9999


# %% note_line=238
if __name__ == "__main__":
    groups = param_groups(model, weight_decay=0.1)
    n_decay, n_plain = (sum(p.numel() for p in g["params"]) for g in groups)
    no_decay_names = [n for n, p in model.named_parameters() if p.dim() < 2]
    print(
        f"decayed: {len(groups[0]['params'])} tensors, {n_decay:,} values | not decayed:"
        f" {len(groups[1]['params'])} tensors, {n_plain:,} values"
    )
    print("not decayed:", no_decay_names)
    assert n_decay + n_plain == model.num_params() and all(
        "norm" in n for n in no_decay_names
    )

    # one tensor, three steps: by hand vs torch.optim.AdamW
    torch.manual_seed(0)
    w_torch = torch.randn(5, requires_grad=True)
    w_hand = w_torch.detach().clone()
    opt = torch.optim.AdamW(
        [w_torch], lr=0.1, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1
    )
    m, v, lr, b1, b2, wd = torch.zeros(5), torch.zeros(5), 0.1, 0.9, 0.95, 0.1
    for t in range(1, 4):
        grad = torch.randn(5)
        w_torch.grad = grad.clone()
        opt.step()
        w_hand = w_hand * (1 - lr * wd)  # decoupled weight decay
        m = b1 * m + (1 - b1) * grad
        v = b2 * v + (1 - b2) * grad**2
        # bias correction for the zero initialisation
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        w_hand = w_hand - lr * m_hat / (v_hat.sqrt() + 1e-8)
        print(
            f"step {t}: max |hand - torch| = {(w_hand - w_torch.detach()).abs().max():.2e}"
        )
    assert torch.allclose(w_hand, w_torch.detach(), atol=1e-6)


# %% note_line=284
if __name__ == "__main__":
    for dt in (torch.float32, torch.float16, torch.bfloat16):
        fi = torch.finfo(dt)
        print(
            f"{str(dt):15} bits {fi.bits:2}  max {fi.max:10.3e}  smallest normal"
            f" {fi.tiny:10.3e}  epsilon {fi.eps:.2e}"
        )

    small_grad = torch.tensor(1e-8)
    print(
        "1e-8 stored as float16:",
        small_grad.half().item(),
        "| as bfloat16:",
        small_grad.bfloat16().item(),
    )
    print(
        "70000 stored as float16:",
        torch.tensor(70000.0).half().item(),
        "| as bfloat16:",
        torch.tensor(70000.0).bfloat16().item(),
    )
    # fp16 underflows, bf16 does not
    assert small_grad.half().item() == 0.0 and small_grad.bfloat16().item() > 0
    assert torch.tensor(70000.0).half().isinf()


# %% note_line=322
if __name__ == "__main__":
    from runner.env import device

    dev = device()
    torch.manual_seed(0)
    with torch.no_grad():
        logits32, loss32 = model(x, y)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            logits16, loss16 = model(x, y)
    print(
        f"this run's device: {dev.type}; companion autocast ->"
        f" {type(autocast(dev)).__name__}"
    )
    print(f"CPU autocast: logits dtype {logits16.dtype}, loss dtype {loss16.dtype}")
    print(
        f"loss fp32 {loss32:.5f} vs bf16 autocast {loss16:.5f}  (|diff|"
        f" {abs(loss32 - loss16):.1e})"
    )
    print(f"max |logit difference| {(logits16.float() - logits32).abs().max():.3f}")
    assert logits16.dtype == torch.bfloat16 and loss16.dtype == torch.float32
    assert abs(loss32 - loss16) < 0.02


# %% export note_line=354
def train(
    model,
    get_batch,
    steps,
    max_lr,
    warmup=None,
    min_lr=None,
    weight_decay=0.1,
    betas=(0.9, 0.95),
    grad_clip=1.0,
    grad_accum=1,
    eval_fn=None,
    eval_every=None,
    log_every=None,
    time_budget=None,
    log=print,
):
    """Generic loop: `get_batch()` returns (x, y) on the model's device;
    `eval_fn(model)` returns a val loss.

    Returns a dict with history [(step, train_loss, val_loss)], per-step lrs, grad norms
    and losses,
    train_seconds (evaluation excluded), tokens and tokens_per_second.
    """
    device = next(model.parameters()).device
    warmup = max(1, steps // 20) if warmup is None else warmup
    min_lr = max_lr / 10 if min_lr is None else min_lr
    eval_every = eval_every or max(1, steps // 10)
    opt = make_optimizer(model, max_lr, weight_decay, betas)
    out = {"history": [], "lrs": [], "grad_norms": [], "losses": [], "tokens": 0}
    train_seconds, recent = 0.0, []
    for step in range(steps):
        t0 = time.perf_counter()
        model.train()
        lr = lr_at(step, max_lr, warmup, steps, min_lr)
        for group in opt.param_groups:
            group["lr"] = lr
        loss_sum = 0.0
        for _ in range(grad_accum):
            x, y = get_batch()
            with autocast(device):
                _, loss = model(x, y)
            (loss / grad_accum).backward()
            loss_sum += loss.item() / grad_accum
            out["tokens"] += y.numel()
        norm = torch.nn.utils.clip_grad_norm_(
            model.parameters(), grad_clip if grad_clip else float("inf")
        )
        opt.step()
        opt.zero_grad(set_to_none=True)
        train_seconds += time.perf_counter() - t0
        out["lrs"].append(lr)
        out["grad_norms"].append(norm.item())
        out["losses"].append(loss_sum)
        recent.append(loss_sum)
        last = step == steps - 1
        if eval_fn is not None and (step % eval_every == 0 or last):
            val = eval_fn(model)
            out["history"].append((step, sum(recent) / len(recent), val))
            recent = []
            if log:
                log(
                    f"step {step:5d}  lr {lr:.2e}  train {out['history'][-1][1]:.3f} "
                    f" val {val:.3f}  {out['tokens'] / train_seconds:,.0f} tok/s"
                )
        elif log and log_every and step % log_every == 0:
            log(
                f"step {step:5d}  lr {lr:.2e}  loss {loss_sum:.3f}  grad-norm"
                f" {norm.item():.2f}"
            )
        if time_budget is not None and train_seconds > time_budget:
            break
    model.eval()
    out.update(
        steps=step + 1,
        train_seconds=train_seconds,
        tokens_per_second=out["tokens"] / train_seconds,
    )
    return out


# %% note_line=439
if __name__ == "__main__":
    import copy

    torch.manual_seed(1)
    base = GPT(GPTConfig(vocab_size=64, block_size=32, n_layer=2, n_head=4, n_embd=64))
    data = [torch.randint(0, 64, (16, 33)) for _ in range(3)]  # 3 steps x 16 sequences


    def full_batches():
        for b in data:
            yield b[:, :-1], b[:, 1:]


    def micro_batches():
        for b in data:
            for i in range(0, 16, 4):
                yield b[i : i + 4, :-1], b[i : i + 4, 1:]


    runs = {}
    for name, batches, accum in (
        ("1 x 16", full_batches(), 1),
        ("4 x 4", micro_batches(), 4),
    ):
        m = copy.deepcopy(base)
        runs[name] = (
            m,
            train(
                m,
                lambda: next(batches),
                steps=3,
                max_lr=1e-3,
                warmup=1,
                grad_accum=accum,
                log=None,
            ),
        )

    (m_full, r_full), (m_acc, r_acc) = runs.values()
    print("losses  full batch:", [f"{l:.5f}" for l in r_full["losses"]])
    print("losses  4 micro   :", [f"{l:.5f}" for l in r_acc["losses"]])
    print("grad norms full   :", [f"{g:.5f}" for g in r_full["grad_norms"]])
    print("grad norms micro  :", [f"{g:.5f}" for g in r_acc["grad_norms"]])
    max_diff = max(
        (p - q).abs().max().item() for p, q in zip(m_full.parameters(), m_acc.parameters())
    )
    moved = max(
        (p - q).abs().max().item() for p, q in zip(m_full.parameters(), base.parameters())
    )
    print(
        f"largest weight change during training {moved:.2e}; max difference between the two"
        f" runs {max_diff:.2e}"
    )
    assert all(abs(a - b) < 1e-5 for a, b in zip(r_full["losses"], r_acc["losses"]))
    assert all(abs(a - b) < 1e-5 for a, b in zip(r_full["grad_norms"], r_acc["grad_norms"]))
    assert max_diff < 0.01 * moved


# %% note_line=515
if __name__ == "__main__":
    from companions.pretraining import (
        CharTokenizer,
        load_corpus,
        split_ids,
        get_batch,
        estimate_loss,
    )

    torch.manual_seed(0)
    tok = CharTokenizer()
    train_ids, val_ids = split_ids(tok.encode(load_corpus()))
    tiny = GPT(
        GPTConfig(vocab_size=tok.vocab_size, block_size=64, n_layer=2, n_head=4, n_embd=64)
    )
    gen = torch.Generator().manual_seed(0)
    run = train(
        tiny,
        lambda: get_batch(train_ids, 64, 16, gen),
        steps=300,
        max_lr=1e-2,
        warmup=15,
        eval_fn=lambda m: estimate_loss(m, val_ids, 64, iters=4),
        eval_every=50,
    )
    flops = 6 * tiny.num_params() * run["tokens"]
    print(
        f"{tiny.num_params():,} parameters, {run['tokens']:,} tokens in"
        f" {run['train_seconds']:.1f} s = {run['tokens_per_second']:,.0f} tokens/s, about"
        f" {flops / run['train_seconds'] / 1e9:.1f} GFLOP/s (6ND)"
    )
    first_val, last_val = run["history"][0][2], run["history"][-1][2]
    assert last_val < first_val - 1.2

    fig, ax = plt.subplots(1, 3, figsize=(10, 3))
    ax[0].plot(run["losses"], lw=0.8, label="train (per step)")
    ax[0].plot(
        [h[0] for h in run["history"]], [h[2] for h in run["history"]], "o-", label="val"
    )
    ax[0].set_title("loss (nats/char)")
    ax[0].legend()
    ax[1].plot(run["lrs"])
    ax[1].set_title("learning rate")
    ax[2].plot(run["grad_norms"], lw=0.8)
    ax[2].axhline(1.0, color="gray", ls=":")
    ax[2].set_title("grad norm (clip 1.0)")
    for a in ax:
        a.set_xlabel("step")
    plt.tight_layout()
    plt.show()


# %% export note_line=575
def sft_example(prompt_ids, response_ids):
    """(inputs, targets, loss_mask) for one example; the mask is 1 only where the target
    is a response token."""
    ids = torch.tensor(list(prompt_ids) + list(response_ids))
    mask = torch.zeros(len(ids) - 1)
    mask[len(prompt_ids) - 1 :] = 1.0
    return ids[:-1], ids[1:], mask


def sft_loss(logits, targets, loss_mask):
    """Mean next-token loss over the positions where loss_mask is 1."""
    per_token = F.cross_entropy(
        logits.float().reshape(-1, logits.size(-1)),
        targets.reshape(-1),
        reduction="none",
    )
    loss_mask = loss_mask.reshape(-1).float()
    return (per_token * loss_mask).sum() / loss_mask.sum().clamp(min=1)


# %% note_line=596
if __name__ == "__main__":
    prompt, response = "Q: What is 2+2?\nA:", " 4\n"
    inp, tgt, mask = sft_example(tok.encode(prompt), tok.encode(response))
    print(
        "targets counted:",
        repr(tok.decode(tgt[mask.bool()].tolist())),
        f"({int(mask.sum())} of {len(tgt)} positions)",
    )
    assert tok.decode(tgt[mask.bool()].tolist()) == response

    torch.manual_seed(0)
    sft_logits = torch.randn(len(tgt), tok.vocab_size, requires_grad=True)
    loss = sft_loss(sft_logits, tgt, mask)
    by_ignore_index = F.cross_entropy(sft_logits, tgt.masked_fill(mask == 0, -100))
    response_only = F.cross_entropy(sft_logits[mask.bool()], tgt[mask.bool()])
    print(
        f"masked loss {loss:.4f} | ignore_index=-100 {by_ignore_index:.4f} | CE on response"
        f" positions {response_only:.4f}"
    )
    assert torch.allclose(loss, by_ignore_index) and torch.allclose(loss, response_only)
    loss.backward()
    prompt_grad = sft_logits.grad[~mask.bool()].abs().max().item()
    print(f"largest gradient reaching a prompt position: {prompt_grad}")
    assert prompt_grad == 0.0


# %% export note_line=637
def sequence_logprob(logits, targets, loss_mask):
    """Sum of log p(target) over the masked (response) positions, one value per
    sequence: (B, T, V) -> (B,)."""
    logp = (
        logits.float().log_softmax(dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    )
    return (logp * loss_mask).sum(dim=-1)


def dpo_loss(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta=0.1):
    """DPO loss (mean over pairs) and the implicit rewards beta * (log pi - log pi_ref)
    of both answers."""
    chosen_reward = beta * (policy_chosen - ref_chosen)
    rejected_reward = beta * (policy_rejected - ref_rejected)
    loss = -F.logsigmoid(chosen_reward - rejected_reward).mean()
    return loss, chosen_reward.detach(), rejected_reward.detach()


# %% note_line=659
if __name__ == "__main__":
    ref_c, ref_r = torch.tensor([-12.0, -30.0]), torch.tensor([-11.0, -28.0])
    pol_c, pol_r = ref_c.clone().requires_grad_(), ref_r.clone().requires_grad_()
    loss, rc, rr = dpo_loss(pol_c, pol_r, ref_c, ref_r, beta=0.1)
    loss.backward()
    print(
        f"policy == reference: loss {loss:.4f} (ln 2 = {math.log(2):.4f}); d loss/d chosen"
        f" {pol_c.grad.tolist()}, d loss/d rejected {pol_r.grad.tolist()}"
    )
    assert (
        abs(loss.item() - math.log(2)) < 1e-6
        and (pol_c.grad < 0).all()
        and (pol_r.grad > 0).all()
    )

    for shift in (0.0, 2.0, 5.0, 10.0):
        l, _, _ = dpo_loss(ref_c + shift, ref_r - shift, ref_c, ref_r, beta=0.1)
        print(
            f"chosen +{shift:4.1f} nats, rejected -{shift:4.1f} nats relative to reference"
            f" -> loss {l:.4f}"
        )


# %% note_line=685
if __name__ == "__main__":
    torch.manual_seed(0)
    policy = GPT(
        GPTConfig(vocab_size=tok.vocab_size, block_size=128, n_layer=2, n_head=4, n_embd=64)
    )
    reference = copy.deepcopy(policy).requires_grad_(False)
    question = "Q: Is the loss averaged over prompt tokens?\nA:"
    pairs = [(" No, only response tokens.\n", " Yes, all of them.\n")]
    batch = [
        sft_example(tok.encode(question), tok.encode(ans)) for pair in pairs for ans in pair
    ]
    opt = torch.optim.AdamW(policy.parameters(), lr=1e-3)


    def logps(model):
        return torch.stack(
            [sequence_logprob(model(i[None])[0], t[None], m[None])[0] for i, t, m in batch]
        )


    for step in range(6):
        lp = logps(policy)
        with torch.no_grad():
            lr_ = logps(reference)
        loss, r_c, r_r = dpo_loss(lp[0::2], lp[1::2], lr_[0::2], lr_[1::2], beta=0.1)
        if step == 0:
            assert abs(loss.item() - math.log(2)) < 1e-5
        print(f"step {step}: DPO loss {loss:.4f}   reward margin {(r_c - r_r).item():+.4f}")
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert (r_c - r_r).item() > 0


# %% note_line=735
if __name__ == "__main__":
    from companions.llm_architecture import param_count_formula

    ASSUMED = {
        "A100 bf16 dense peak TFLOPS": 312,
        "H100 SXM bf16 dense peak TFLOPS": 989,
        "MFU": 0.40,
        "USD per H100-hour": 2.50,
    }
    print("assumptions:", ASSUMED)


    def chinchilla_loss(N, D):
        return 1.69 + 406.4 / N**0.34 + 410.7 / D**0.28


    runs = {
        "GPT-3 175B": (175e9, 300e9),
        "Chinchilla 70B": (70e9, 1.4e12),
        "Llama-2 7B": (
            param_count_formula(
                GPTConfig(
                    vocab_size=32000,
                    block_size=4096,
                    n_layer=32,
                    n_head=32,
                    n_embd=4096,
                    ffn_hidden=11008,
                    tie_weights=False,
                )
            ),
            2e12,
        ),
        "Llama-2 70B": (
            param_count_formula(
                GPTConfig(
                    vocab_size=32000,
                    block_size=4096,
                    n_layer=80,
                    n_head=64,
                    n_kv_head=8,
                    n_embd=8192,
                    ffn_hidden=28672,
                    tie_weights=False,
                )
            ),
            2e12,
        ),
    }
    print(
        f"{'run':<15}{'params':>9}{'tokens':>9}{'tok/param':>10}{'6ND FLOPs':>11}"
        f"{'H100-hours @MFU':>17}{'cost USD':>12}"
    )
    for name, (N, D) in runs.items():
        C = 6 * N * D
        h100_hours = (
            C / (ASSUMED["H100 SXM bf16 dense peak TFLOPS"] * 1e12 * ASSUMED["MFU"]) / 3600
        )
        print(
            f"{name:<15}{N / 1e9:>8.1f}B{D / 1e12:>8.2f}T{D / N:>10.0f}{C:>11.2e}"
            f"{h100_hours:>17,.0f}"
            f"{h100_hours * ASSUMED['USD per H100-hour']:>12,.0f}"
        )

    # Meta reported 184,320 (7B) and 1,720,320 (70B) A100-80GB GPU-hours for Llama 2: the
    # implied MFU
    for name, reported_hours in (("Llama-2 7B", 184_320), ("Llama-2 70B", 1_720_320)):
        N, D = runs[name]
        mfu = (
            6
            * N
            * D
            / (reported_hours * 3600 * ASSUMED["A100 bf16 dense peak TFLOPS"] * 1e12)
        )
        print(f"{name}: implied MFU from reported GPU-hours = {mfu:.0%}")
        assert 0.25 < mfu < 0.6

    C_gpt3 = 6 * 175e9 * 300e9
    N_opt = math.sqrt(C_gpt3 / 120)
    D_opt = 20 * N_opt
    print(
        f"\nGPT-3's budget {C_gpt3:.2e} FLOPs, Chinchilla-optimal: {N_opt / 1e9:.0f}B"
        f" params on {D_opt / 1e12:.2f}T tokens"
    )
    print(
        f"fitted loss: GPT-3 allocation {chinchilla_loss(175e9, 300e9):.3f} vs optimal"
        f" {chinchilla_loss(N_opt, D_opt):.3f}"
    )
    assert abs(6 * N_opt * D_opt - C_gpt3) / C_gpt3 < 1e-9
    assert chinchilla_loss(N_opt, D_opt) < chinchilla_loss(175e9, 300e9)
