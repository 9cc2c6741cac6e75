# generated from vault/Advanced Topics/Current Research Trends.md — do not edit; regenerate with `llm-vault export`
# Import it: `from companions import current_research_trends` (the cells marked `export`).
# Run it: `python -m companions.current_research_trends` runs the whole note.

# %% note_line=29
if __name__ == "__main__":
    import math, time
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import matplotlib.pyplot as plt
    from runner.env import seed_everything

    seed_everything(0)
    torch.set_num_threads(1)  # small tensors: one thread avoids contention overhead
    print("torch", torch.__version__)


# %% export note_line=62
import torch
import torch.nn as nn
import torch.nn.functional as F


def load_balancing_loss(
    probs: torch.Tensor, expert_idx: torch.Tensor, n_experts: int
) -> torch.Tensor:
    """Switch-Transformer auxiliary loss  E * sum_i f_i * P_i.

    f_i = fraction of routing slots sent to expert i (not differentiable),
    P_i = mean router probability of expert i (differentiable). Equals 1.0 for perfectly
    uniform routing.
    """
    counts = torch.bincount(expert_idx.reshape(-1), minlength=n_experts).to(probs.dtype)
    f = counts / counts.sum()
    p = probs.mean(dim=0)
    return n_experts * (f * p).sum()


class TopKMoE(nn.Module):
    """Top-k routed mixture of GELU feed-forward experts (token-choice routing, no
    capacity limit)."""

    def __init__(self, d_model: int, d_hidden: int, n_experts: int, k: int = 2):
        super().__init__()
        self.n_experts, self.k = n_experts, k
        self.router = nn.Linear(d_model, n_experts, bias=False)
        self.w_in = nn.Parameter(
            torch.randn(n_experts, d_model, d_hidden) * d_model**-0.5
        )
        self.w_out = nn.Parameter(
            torch.randn(n_experts, d_hidden, d_model) * d_hidden**-0.5
        )
        self.aux_loss = torch.tensor(0.0)
        self.last_counts = None

    def expert(self, e: int, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(x @ self.w_in[e]) @ self.w_out[e]

    def route(self, x: torch.Tensor):
        probs = self.router(x).softmax(dim=-1)  # (N, E)
        top_p, top_i = probs.topk(self.k, dim=-1)  # (N, k)
        # renormalise over the kept experts
        gates = top_p / top_p.sum(dim=-1, keepdim=True)
        return gates, top_i, probs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        x = x.reshape(-1, shape[-1])
        n_tok = x.shape[0]
        gates, top_i, probs = self.route(x)
        flat_expert = top_i.reshape(-1)  # (N*k,)
        # which token each slot belongs to
        flat_token = torch.arange(n_tok).repeat_interleave(self.k)
        flat_gate = gates.reshape(-1)
        order = flat_expert.argsort(stable=True)  # group slots by expert
        counts = torch.bincount(flat_expert, minlength=self.n_experts)
        out = torch.zeros_like(x)
        for e, slots in enumerate(order.split(counts.tolist())):
            if slots.numel() == 0:
                continue
            tok = flat_token[slots]
            out.index_add_(0, tok, self.expert(e, x[tok]) * flat_gate[slots, None])
        self.aux_loss = load_balancing_loss(probs, top_i, self.n_experts)
        self.last_counts = counts
        return out.reshape(shape)


def moe_reference(moe: TopKMoE, x: torch.Tensor) -> torch.Tensor:
    """Slow, obviously-correct version: loop over tokens and their k experts."""
    x2 = x.reshape(-1, x.shape[-1])
    gates, top_i, _ = moe.route(x2)
    rows = []
    for n in range(x2.shape[0]):
        y = torch.zeros(x2.shape[1])
        for j in range(moe.k):
            y = y + gates[n, j] * moe.expert(int(top_i[n, j]), x2[n])
        rows.append(y)
    return torch.stack(rows).reshape(x.shape)


# %% note_line=148
if __name__ == "__main__":
    seed_everything(0)
    d_model, d_hidden, n_experts, k = 32, 64, 8, 2
    moe = TopKMoE(d_model, d_hidden, n_experts, k)
    x = torch.randn(4, 16, d_model)  # (batch, time, d_model) -> 64 tokens

    with torch.no_grad():
        fast = moe(x)
        slow = moe_reference(moe, x)
        gates, top_i, probs = moe.route(x.reshape(-1, d_model))
        logits = moe.router(x.reshape(-1, d_model))
        mixtral_gates = logits.gather(-1, top_i).softmax(-1)

    print("max |grouped - loop|      :", (fast - slow).abs().max().item())
    print("max |renorm - topk-softmax|:", (gates - mixtral_gates).abs().max().item())
    print("tokens per expert          :", moe.last_counts.tolist())
    assert torch.allclose(fast, slow, atol=1e-5)
    assert torch.allclose(gates, mixtral_gates, atol=1e-6)
    assert int(moe.last_counts.sum()) == x.shape[0] * x.shape[1] * k


# %% note_line=171
if __name__ == "__main__":
    def moe_param_counts(d_model, d_hidden, n_experts, k):
        per_expert = 2 * d_model * d_hidden
        router = d_model * n_experts
        return n_experts * per_expert + router, k * per_expert + router


    total, active = moe_param_counts(d_model, d_hidden, n_experts, k)
    counted = sum(p.numel() for p in moe.parameters())
    print(
        f"toy layer : total {total:,}  active/token {active:,}  ratio {total / active:.2f}"
    )
    assert counted == total

    # The same arithmetic at Mixtral-like scale (d_model 4096, FFN 14336, 8 experts, top-2);
    # SwiGLU experts have 3 matrices.
    d, h, E, kk = 4096, 14336, 8, 2
    total_ffn, active_ffn = E * 3 * d * h, kk * 3 * d * h
    print(
        f"Mixtral-like FFN block: {total_ffn / 1e6:.0f}M total vs {active_ffn / 1e6:.0f}M"
        f" active per layer ({total_ffn / active_ffn:.1f}x)"
    )
    assert total_ffn / active_ffn == E / kk


# %% note_line=205
if __name__ == "__main__":
    N = 1000
    uniform_probs = torch.full((N, n_experts), 1 / n_experts)
    uniform_idx = torch.arange(N * k).remainder(n_experts).reshape(N, k)
    collapsed_probs = torch.zeros(N, n_experts)
    collapsed_probs[:, 0] = 1.0
    collapsed_idx = torch.zeros(N, k, dtype=torch.long)

    aux_uniform = load_balancing_loss(uniform_probs, uniform_idx, n_experts).item()
    aux_collapsed = load_balancing_loss(collapsed_probs, collapsed_idx, n_experts).item()
    print(
        f"aux loss uniform {aux_uniform:.3f}   collapsed {aux_collapsed:.3f}   (E ="
        f" {n_experts})"
    )
    assert abs(aux_uniform - 1.0) < 1e-6 and abs(aux_collapsed - n_experts) < 1e-6

    # Train only the router of a fresh layer, on inputs whose mean direction makes it favour
    # some experts,
    # with the auxiliary loss alone: the imbalance (max/mean tokens per expert) must fall.
    seed_everything(1)
    moe2 = TopKMoE(d_model, d_hidden, n_experts, k)
    # shared offset -> skewed routing
    xb = torch.randn(512, d_model) + 2.0 * torch.randn(d_model)
    opt = torch.optim.Adam(moe2.router.parameters(), lr=3e-2)


    def imbalance():
        with torch.no_grad():
            moe2(xb)
        c = moe2.last_counts.float()
        return (c.max() / c.mean()).item()


    before = imbalance()
    for step in range(150):
        # the aux loss needs only the router, not the experts
        _, top_i2, probs2 = moe2.route(xb)
        loss = load_balancing_loss(probs2, top_i2, n_experts)
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = imbalance()
    print(f"max/mean tokens per expert: before {before:.2f} -> after {after:.2f}")
    assert after < before


# %% export note_line=278
def linear_recurrence_loop(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """h_t = a_t * h_{t-1} + b_t with h_{-1} = 0, one time step at a time. a, b: (batch,
    T, dim)."""
    h = torch.zeros_like(b[:, 0])
    out = []
    for t in range(b.shape[1]):
        h = a[:, t] * h + b[:, t]
        out.append(h)
    return torch.stack(out, dim=1)


def linear_recurrence_scan(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Same result with a Hillis-Steele inclusive scan: ceil(log2 T) steps of
    whole-tensor operations."""
    A, B = a.clone(), b.clone()
    T, shift = b.shape[1], 1
    while shift < T:
        # identity element (1, 0)
        A_prev = torch.cat([torch.ones_like(A[:, :shift]), A[:, :-shift]], dim=1)
        B_prev = torch.cat([torch.zeros_like(B[:, :shift]), B[:, :-shift]], dim=1)
        B = A * B_prev + B  # combine (A_prev, B_prev) followed by (A, B)
        A = A * A_prev
        shift *= 2
    return B


# %% note_line=308
if __name__ == "__main__":
    seed_everything(0)
    Bsz, T, D = 1, 4096, 16
    x = torch.randn(Bsz, T, D)
    to_delta = nn.Linear(D, D)
    lam = torch.rand(D) + 0.1  # per-channel decay rates (positive)
    with torch.no_grad():
        delta = F.softplus(to_delta(x))  # input-dependent step size  (selectivity)
        a = torch.exp(-delta * lam)  # in (0, 1): how much of the old state to keep
        b = delta * x  # how much of the new input to write

        def cpu_seconds(fn, repeats=3):  # CPU time, best of 3: robust on a busy machine
            best = float("inf")
            for _ in range(repeats):
                t0 = time.process_time()
                out = fn()
                best = min(best, time.process_time() - t0)
            return out, best

        h_loop, t_loop = cpu_seconds(lambda: linear_recurrence_loop(a, b))
        h_scan, t_scan = cpu_seconds(lambda: linear_recurrence_scan(a, b))

    steps = math.ceil(math.log2(T))
    print(
        f"T={T}: loop {T} sequential steps in {t_loop * 1e3:.1f} ms; scan {steps} parallel"
        f" steps in {t_scan * 1e3:.1f} ms"
    )
    print("max |loop - scan| =", (h_loop - h_scan).abs().max().item())
    assert torch.allclose(h_loop, h_scan, atol=1e-4, rtol=1e-4)
    assert t_scan < t_loop


# %% note_line=355
if __name__ == "__main__":
    def phi(t):
        return F.elu(t) + 1


    seed_everything(0)
    T, dk, dv = 256, 16, 16
    q, kk_, v = torch.randn(T, dk), torch.randn(T, dk), torch.randn(T, dv)

    scores = (phi(q) @ phi(kk_).T).tril()  # causal mask, no softmax
    parallel = (scores @ v) / scores.sum(-1, keepdim=True)

    S, z, rec = torch.zeros(dk, dv), torch.zeros(dk), []
    for t in range(T):
        S = S + torch.outer(phi(kk_[t]), v[t])
        z = z + phi(kk_[t])
        rec.append(phi(q[t]) @ S / (phi(q[t]) @ z))
    recurrent = torch.stack(rec)

    print("max |parallel - recurrent| =", (parallel - recurrent).abs().max().item())
    print(
        f"state carried per head: {S.numel() + z.numel()} numbers, independent of T "
        f"(a KV cache at T={T} holds {T * (dk + dv)})"
    )
    assert torch.allclose(parallel, recurrent, atol=1e-5)


# %% export note_line=396
def flops_per_layer(T: int, d: int) -> dict:
    """Forward FLOPs of one transformer layer over T tokens (multiply-add = 2 FLOPs, MLP
    ratio 4)."""
    return {"dense": 24 * T * d * d, "attention": 4 * T * T * d}


def kv_cache_bytes(
    T: int, n_layer: int, n_kv_head: int, head_dim: int, bytes_per: int = 2
) -> int:
    """Bytes of K and V cached for T tokens of one sequence."""
    return 2 * n_layer * n_kv_head * head_dim * bytes_per * T


def latent_cache_bytes(
    T: int, n_layer: int, latent_dim: int, rope_dim: int, bytes_per: int = 2
) -> int:
    """Multi-head latent attention (DeepSeek-V2/V3 style): one compressed vector + a
    small RoPE key per token."""
    return n_layer * (latent_dim + rope_dim) * bytes_per * T


# %% note_line=418
if __name__ == "__main__":
    d = 4096
    crossover = next(
        T
        for T in range(1, 10**6)
        if flops_per_layer(T, d)["attention"] > flops_per_layer(T, d)["dense"]
    )
    print(
        f"d={d}: attention FLOPs exceed all dense FLOPs beyond T = {crossover:,} tokens (6d"
        f" = {6 * d:,})"
    )
    assert crossover == 6 * d + 1

    lengths = np.array([2**p for p in range(10, 21)])  # 1K .. 1M tokens
    att_share = [
        flops_per_layer(T, d)["attention"] / sum(flops_per_layer(T, d).values())
        for T in lengths
    ]

    # A 32-layer, 4096-wide model with 32 query heads of size 128, caching in bf16, under
    # three cache designs.
    designs = {
        "MHA (32 KV heads)": lambda T: kv_cache_bytes(T, 32, 32, 128),
        "GQA (8 KV heads)": lambda T: kv_cache_bytes(T, 32, 8, 128),
        "latent (512+64)": lambda T: latent_cache_bytes(T, 32, 512, 64),
    }
    for name, f in designs.items():
        print(
            f"{name:18s}: {f(1) / 1024:6.1f} KiB/token   {f(128 * 1024) / 2**30:6.1f} GiB"
            f" at 128K   {f(2**20) / 2**30:7.1f} GiB at 1M"
        )
    assert designs["MHA (32 KV heads)"](1) == 4 * designs["GQA (8 KV heads)"](1)

    fig, ax = plt.subplots(1, 2, figsize=(9, 3.5))
    ax[0].semilogx(lengths, np.array(att_share) * 100, "o-")
    ax[0].axvline(6 * d, ls="--", c="gray")
    ax[0].set_xlabel("context length T")
    ax[0].set_ylabel("% of layer FLOPs")
    ax[0].set_title("attention share of compute (d=4096)")
    for name, f in designs.items():
        ax[1].loglog(lengths, [f(T) / 2**30 for T in lengths], "o-", label=name)
    ax[1].axhline(141e9 / 2**30, ls=":", c="k", label="memory of one 141 GB GPU")
    ax[1].set_xlabel("context length T")
    ax[1].set_ylabel("KV cache, GiB / sequence")
    ax[1].legend(fontsize=7)
    ax[1].set_title("KV cache of one sequence")
    plt.tight_layout()
    plt.show()


# %% note_line=491
if __name__ == "__main__":
    rng = np.random.default_rng(0)


    def vote_accuracy(p, n, n_wrong=8, trials=4000):
        correct = rng.random((trials, n)) < p
        # wrong answers: values 1..n_wrong
        wrong_vals = rng.integers(1, n_wrong + 1, size=(trials, n))
        answers = np.where(correct, 0, wrong_vals)  # value 0 = the right answer
        counts = np.stack([(answers == v).sum(1) for v in range(n_wrong + 1)], axis=1)
        # plurality vote, ties broken at random
        winner = (counts + rng.random(counts.shape) * 0.5).argmax(1)
        return (winner == 0).mean()


    ns = [1, 3, 5, 9, 17, 33]
    curves = {p: [vote_accuracy(p, n) for n in ns] for p in (0.3, 0.5, 0.7)}
    for p, accs in curves.items():
        print(f"p={p}: " + "  ".join(f"n={n}:{a:.2f}" for n, a in zip(ns, accs)))
    # voting helps a lot even below 50% per-sample accuracy
    assert curves[0.3][-1] > curves[0.3][0] + 0.2

    # GRPO's advantage for one prompt: rewards of a group of 8 sampled answers (1 = verified
    # correct).
    rewards = torch.tensor([1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0])
    adv = (rewards - rewards.mean()) / (rewards.std() + 1e-6)
    print("GRPO advantages:", [round(a, 2) for a in adv.tolist()])
    assert abs(adv.sum().item()) < 1e-5 and (adv[rewards == 1] > 0).all()

    plt.figure(figsize=(6, 3.5))
    for p, accs in curves.items():
        plt.semilogx(ns, accs, "o-", label=f"per-sample accuracy {p}")
    plt.xlabel("samples voted (n)")
    plt.ylabel("accuracy of the vote")
    plt.legend()
    plt.title("self-consistency")
    plt.tight_layout()
    plt.show()
