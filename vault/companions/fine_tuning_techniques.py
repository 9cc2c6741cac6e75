# generated from vault/Building LLMs/Fine-tuning Techniques.md — do not edit; regenerate with `llm-vault export`
# Import it: `from companions import fine_tuning_techniques` (the cells marked `export`).
# Run it: `python -m companions.fine_tuning_techniques` runs the whole note.

# %% note_line=64
if __name__ == "__main__":
    import copy, math, time
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from runner.env import seed_everything
    from companions.pretraining import get_pretrained

    seed_everything(0)
    torch.set_num_threads(min(4, torch.get_num_threads()))
    base, tok, info = get_pretrained()
    base.eval()
    n_base = sum(p.numel() for p in base.parameters())
    print(
        f"pretrained model: {n_base:,} parameters, vocabulary {tok.vocab_size} characters, "
        f"validation loss {info['val_loss']:.3f}"
    )


# %% export note_line=94
import math
import torch
import torch.nn as nn
import torch.nn.functional as F

IGNORE = -100  # target value skipped by F.cross_entropy (its default ignore_index)
PROMPT_TEMPLATE = "### Instruction:\n{instruction}\n### Response:\n"
# a response ends at the first newline; it acts as our end-of-sequence marker
END = "\n"


def encode_pair(tok, instruction, response):
    """Return (prompt_ids, response_ids) for one example; the response includes the END
    marker."""
    return tok.encode(PROMPT_TEMPLATE.format(instruction=instruction)), tok.encode(
        response + END
    )


def make_batch(pairs, pad_id=0):
    """Right-padded next-token batch. Targets are IGNORE on prompt positions and on
    padding.

    For a sequence ids = prompt + response, input x[t] = ids[t] and target y[t] = ids[t
    + 1];
    the targets that are response tokens start at index len(prompt) - 1.
    """
    T = max(len(p) + len(r) for p, r in pairs) - 1
    x = torch.full((len(pairs), T), pad_id, dtype=torch.long)
    y = torch.full((len(pairs), T), IGNORE, dtype=torch.long)
    for i, (p, r) in enumerate(pairs):
        ids = torch.tensor(p + r)
        n = len(ids) - 1
        x[i, :n], y[i, :n] = ids[:-1], ids[1:]
        y[i, : len(p) - 1] = IGNORE  # do not learn to predict the prompt
    return x, y


def all_logits(model, x):
    """Logits at every position. Passing targets makes GPT-style models return the full
    sequence of logits
    (without targets some implementations return only the last position); the loss they
    compute is ignored."""
    logits, _ = model(x, targets=x)
    return logits


def sft_loss(logits, y):
    """Mean cross-entropy over the non-ignored (response) targets of the whole batch."""
    return F.cross_entropy(
        logits.flatten(0, 1).float(), y.flatten(), ignore_index=IGNORE
    )


def sequence_logprob(model, x, y):
    """Sum of log p(target) over the non-ignored targets of each row: log pi(response |
    prompt)."""
    logp = torch.log_softmax(all_logits(model, x).float(), dim=-1)
    mask = y != IGNORE
    tok_logp = logp.gather(-1, y.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return (tok_logp * mask).sum(-1)


def response_exact_match(model, x, y):
    """Per example: does the argmax at every response position equal the target?

    Under teacher forcing this is exactly the condition for greedy decoding to reproduce
    the response."""
    pred = all_logits(model, x).argmax(-1)
    mask = y != IGNORE
    return ((pred == y) | ~mask).all(-1)


# %% note_line=172
if __name__ == "__main__":
    SFT_DATA = [
        ("What does LoRA stand for?", "Low-Rank Adaptation."),
        ("What does SFT stand for?", "Supervised fine-tuning."),
        ("What does DPO stand for?", "Direct Preference Optimization."),
        ("What does RLHF stand for?", "Reinforcement learning from human feedback."),
        (
            "Which LoRA matrix starts at zero?",
            "The B matrix, so training starts from the base model.",
        ),
        ("What does QLoRA keep in 4 bits?", "The frozen base weights."),
        ("Which tokens does SFT learn from?", "Only the response tokens."),
        ("What does DPO compare against?", "A frozen reference model."),
        ("Why merge a LoRA adapter?", "To serve it with no extra latency."),
        ("What does a loss mask do?", "It hides the prompt from the loss."),
        ("What is catastrophic forgetting?", "Losing old skills while learning new ones."),
        ("What is a chat template?", "The exact text format of a conversation."),
    ]
    pairs = [encode_pair(tok, q, a) for q, a in SFT_DATA]
    x_sft, y_sft = make_batch(pairs)
    cfg = info["config"]
    block_size = cfg["block_size"] if isinstance(cfg, dict) else cfg.block_size
    assert x_sft.shape[1] <= block_size, "examples must fit the model's context"
    print(
        "batch:",
        tuple(x_sft.shape),
        "| response targets:",
        int((y_sft != IGNORE).sum()),
        "of",
        int((x_sft != 0).sum()),
        "non-padding positions",
    )

    # the first example as the model sees it, and the part of it that carries loss
    p0, r0 = pairs[0]
    print("full sequence :", repr(tok.decode(p0 + r0)))
    print(
        "trained chars :", repr(tok.decode([t for t in y_sft[0].tolist() if t != IGNORE]))
    )


# %% note_line=217
if __name__ == "__main__":
    logits = all_logits(base, x_sft).detach().requires_grad_(True)
    loss = sft_loss(logits, y_sft)
    loss.backward()
    masked = y_sft == IGNORE
    print(f"masked SFT loss of the base model: {loss.item():.3f} nats/char")
    print("max |dL/dlogits| at masked positions:", logits.grad[masked].abs().max().item())
    assert torch.all(logits.grad[masked] == 0)

    scrambled = logits.detach().clone()
    scrambled[masked] = torch.randn_like(scrambled[masked]) * 10
    assert torch.allclose(sft_loss(scrambled, y_sft), loss.detach())

    # and it equals the average over response tokens computed by hand
    logp = torch.log_softmax(logits.detach(), -1)
    manual = -logp[~masked].gather(-1, y_sft[~masked].unsqueeze(-1)).mean()
    assert torch.allclose(manual, loss.detach(), atol=1e-6)
    print("masked positions contribute nothing: checked")


# %% note_line=248
if __name__ == "__main__":
    val_ids = torch.tensor(tok.encode(info["val_text"]))[: 8 * 129]
    x_val, y_val = val_ids.view(8, 129)[:, :-1], val_ids.view(8, 129)[:, 1:]


    @torch.no_grad()
    def evaluate(model):
        model.eval()
        sft = sft_loss(all_logits(model, x_sft), y_sft).item()
        pre = F.cross_entropy(
            all_logits(model, x_val).flatten(0, 1), y_val.flatten()
        ).item()
        em = response_exact_match(model, x_sft, y_sft).float().mean().item()
        return {"sft_loss": sft, "pretrain_val_loss": pre, "exact_match": em}


    def train(model, x, y, steps, lr):
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
        model.train()
        t0, losses = time.perf_counter(), []
        for _ in range(steps):
            loss = sft_loss(all_logits(model, x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            losses.append(loss.item())
        state_bytes = sum(
            t.numel() * t.element_size()
            for s in opt.state.values()
            for t in s.values()
            if t.dim() > 0
        )
        return time.perf_counter() - t0, state_bytes, losses


    STEPS = 60
    before = evaluate(base)
    full = copy.deepcopy(base)
    full_trainable = sum(p.numel() for p in full.parameters() if p.requires_grad)
    full_time, full_state, full_curve = train(full, x_sft, y_sft, STEPS, lr=2e-3)
    after_full = evaluate(full)
    print(
        f"full FT: {full_trainable:,} trainable parameters, AdamW state"
        f" {full_state / 1e6:.2f} MB, {full_time:.1f} s"
    )
    print("before:", {k: round(v, 3) for k, v in before.items()})
    print("after :", {k: round(v, 3) for k, v in after_full.items()})
    assert after_full["sft_loss"] < 0.5 * before["sft_loss"]


# %% export note_line=314
class LoRALinear(nn.Module):
    """A frozen nn.Linear plus a trainable low-rank update (alpha / r) * B @ A."""

    def __init__(
        self, base: nn.Linear, r: int = 8, alpha: float = 16.0, dropout: float = 0.0
    ):
        super().__init__()
        self.base = base
        for p in self.base.parameters():
            p.requires_grad_(False)
        self.r, self.alpha, self.scaling = r, alpha, alpha / r
        self.lora_A = nn.Parameter(torch.empty(r, base.in_features))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, r))
        # same init as nn.Linear (and the reference code)
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.dropout = nn.Dropout(dropout)

    def delta_weight(self) -> torch.Tensor:
        return (self.lora_B @ self.lora_A) * self.scaling

    def forward(self, x):
        return (
            self.base(x)
            + (self.dropout(x) @ self.lora_A.T @ self.lora_B.T) * self.scaling
        )

    def merged(self) -> nn.Linear:
        """An ordinary nn.Linear whose weight is W0 + (alpha / r) B A."""
        out = nn.Linear(
            self.base.in_features,
            self.base.out_features,
            bias=self.base.bias is not None,
        )
        with torch.no_grad():
            out.weight.copy_(self.base.weight + self.delta_weight())
            if self.base.bias is not None:
                out.bias.copy_(self.base.bias)
        return out.to(self.base.weight.device, self.base.weight.dtype)


def default_lora_target(name: str, module: nn.Module, vocab_size: int) -> bool:
    """Every linear layer except the output projection onto the vocabulary."""
    return isinstance(module, nn.Linear) and module.out_features != vocab_size


def apply_lora(
    model: nn.Module,
    vocab_size: int,
    r: int = 8,
    alpha: float = 16.0,
    target=default_lora_target,
):
    """Freeze the whole model, then wrap each targeted nn.Linear in a LoRALinear (in
    place). Returns wrapped names."""
    for p in model.parameters():
        p.requires_grad_(False)
    wrapped = []
    for name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            full = f"{name}.{child_name}" if name else child_name
            if target(full, child, vocab_size):
                setattr(module, child_name, LoRALinear(child, r=r, alpha=alpha))
                wrapped.append(full)
    return wrapped


def merge_lora(model: nn.Module) -> nn.Module:
    """Replace every LoRALinear by its merged nn.Linear (in place) and return the
    model."""
    for module in list(model.modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, LoRALinear):
                setattr(module, child_name, child.merged())
    return model


def lora_state_dict(model: nn.Module) -> dict:
    """Only the adapter tensors: what you save and ship for a LoRA fine-tune."""
    return {k: v for k, v in model.state_dict().items() if "lora_" in k}


# %% note_line=399
if __name__ == "__main__":
    R, ALPHA = 8, 16
    lora = copy.deepcopy(base)
    wrapped = apply_lora(lora, tok.vocab_size, r=R, alpha=ALPHA)
    lora_trainable = sum(p.numel() for p in lora.parameters() if p.requires_grad)
    formula = sum(
        R * (m.base.in_features + m.base.out_features)
        for m in lora.modules()
        if isinstance(m, LoRALinear)
    )
    print(f"wrapped {len(wrapped)} linear layers, e.g. {wrapped[:3]}")
    print(
        f"LoRA r={R}: {lora_trainable:,} trainable parameters ="
        f" {100 * lora_trainable / n_base:.2f}% of the model"
    )
    assert lora_trainable == formula

    # the same formula at real scale: r=8 on every linear layer of Llama-2-7B (d=4096, MLP
    # 11008, 32 layers)
    d, ff, layers = 4096, 11008, 32
    # q,k,v,o + gate,up + down
    per_layer = 4 * R * (d + d) + 2 * R * (d + ff) + R * (ff + d)
    print(
        f"Llama-2-7B, r={R} on all linear layers: {per_layer * layers / 1e6:.1f}M trainable"
        f" = {100 * per_layer * layers / 6.74e9:.2f}% of 6.74B"
    )

    with torch.no_grad():
        assert torch.allclose(all_logits(lora, x_sft), all_logits(base, x_sft), atol=1e-6)
    print("B = 0 at initialisation: the adapted model equals the base model")


# %% note_line=434
if __name__ == "__main__":
    lora_time, lora_state, lora_curve = train(lora, x_sft, y_sft, STEPS, lr=6e-3)
    after_lora = evaluate(lora)
    print(
        f"LoRA: {lora_trainable:,} trainable parameters, AdamW state {lora_state / 1e6:.3f}"
        f" MB, {lora_time:.1f} s"
    )
    print("after:", {k: round(v, 3) for k, v in after_lora.items()})
    assert after_lora["sft_loss"] < 0.7 * before["sft_loss"]
    # optimizer memory scales with the trainable parameters
    assert lora_state * 5 < full_state


# %% note_line=452
if __name__ == "__main__":
    merged = merge_lora(copy.deepcopy(lora)).eval()
    with torch.no_grad():
        l_adapted, l_merged = all_logits(lora.eval(), x_sft), all_logits(merged, x_sft)
    diff = (l_adapted - l_merged).abs().max().item()
    relative = diff / l_adapted.abs().max().item()
    print(
        f"max |logit difference| adapted vs merged: {diff:.2e} ({relative:.1e} of the"
        " largest logit)"
    )
    assert torch.allclose(l_adapted, l_merged, atol=1e-4)
    assert 0 < relative < 1e-5  # not bit-identical, but rounding-sized
    assert sum(p.numel() for p in merged.parameters()) == n_base
    assert not any(isinstance(m, LoRALinear) for m in merged.modules())

    adapter = lora_state_dict(lora)
    adapter_bytes = sum(t.numel() * t.element_size() for t in adapter.values())
    model_bytes = sum(t.numel() * t.element_size() for t in base.state_dict().values())
    print(
        f"checkpoint to ship: full model {model_bytes / 1e6:.2f} MB vs adapter"
        f" {adapter_bytes / 1e6:.3f} MB"
    )


# %% note_line=485
if __name__ == "__main__":
    rows = [
        ("base model", before, 0, 0, 0.0),
        ("full fine-tuning", after_full, full_trainable, full_state, full_time),
        (f"LoRA r={R}", after_lora, lora_trainable, lora_state, lora_time),
    ]
    print(
        f"{'':18}{'trainable':>11}{'Adam state':>12}{'SFT loss':>10}{'exact':>7}"
        f"{'pretrain loss':>15}{'time s':>8}"
    )
    for name, m, n, s, t in rows:
        print(
            f"{name:18}{n:>11,}{s / 1e6:>10.2f}MB{m['sft_loss']:>10.3f}"
            f"{m['exact_match']:>7.2f}"
            f"{m['pretrain_val_loss']:>15.3f}{t:>8.1f}"
        )


    @torch.no_grad()
    def greedy_answer(model, instruction, max_new=60):
        ids = tok.encode(PROMPT_TEMPLATE.format(instruction=instruction))
        out = []
        for _ in range(max_new):
            nxt = all_logits(model, torch.tensor([ids + out]))[0, -1].argmax().item()
            if tok.decode([nxt]) == END:
                break
            out.append(nxt)
        return tok.decode(out)


    assert after_lora["pretrain_val_loss"] < after_full["pretrain_val_loss"], (
        "LoRA should forget less here"
    )

    q = SFT_DATA[4][0]
    for name, m in [("base", base), ("full FT", full), ("LoRA (merged)", merged)]:
        print(f"{name:>14} | {q} -> {greedy_answer(m, q)!r}")

    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot(full_curve, label=f"full fine-tuning ({full_trainable:,} trainable)")
    ax.plot(lora_curve, label=f"LoRA r={R} ({lora_trainable:,} trainable)")
    ax.set(
        xlabel="step",
        ylabel="SFT loss (nats/char, response only)",
        yscale="log",
        title="Fitting the instruction data",
    )
    ax.legend()
    plt.tight_layout()
    plt.show()


# %% export note_line=576
def dpo_loss(pi_chosen, pi_rejected, ref_chosen, ref_rejected, beta: float = 0.1):
    """DPO loss from summed response log-probs. Returns (mean loss, implicit rewards
    chosen, rejected)."""
    reward_chosen = beta * (pi_chosen - ref_chosen)
    reward_rejected = beta * (pi_rejected - ref_rejected)
    loss = -F.logsigmoid(reward_chosen - reward_rejected).mean()
    return loss, reward_chosen.detach(), reward_rejected.detach()


# %% note_line=590
if __name__ == "__main__":
    PREFS = [
        ("Is a lower perplexity better?", "Yes, lower is better.", "No, higher is better."),
        (
            "Does LoRA train the base weights?",
            "No, they stay frozen.",
            "Yes, they all change.",
        ),
        ("Does SFT learn from the prompt?", "No, only the answer.", "Yes, from all of it."),
        (
            "Can a merged adapter add latency?",
            "No, it costs nothing.",
            "Yes, it slows layers.",
        ),
        (
            "Does DPO need a reward model?",
            "No, it uses log-probs.",
            "Yes, it trains one first.",
        ),
        (
            "Is the B matrix zero at the start?",
            "Yes, B starts at zero.",
            "No, B starts random.",
        ),
        ("Does RLHF use a KL penalty?", "Yes, to stay close.", "No, it drifts freely."),
        (
            "Does QLoRA store weights in 4 bits?",
            "Yes, in NF4 format.",
            "No, in 32-bit floats.",
        ),
    ]
    chosen = make_batch([encode_pair(tok, q, c) for q, c, _ in PREFS])
    rejected = make_batch([encode_pair(tok, q, r) for q, _, r in PREFS])

    reference = merged.eval()
    for p in reference.parameters():
        p.requires_grad_(False)
    policy = copy.deepcopy(reference)
    apply_lora(policy, tok.vocab_size, r=R, alpha=ALPHA)

    with torch.no_grad():
        ref_c, ref_r = (
            sequence_logprob(reference, *chosen),
            sequence_logprob(reference, *rejected),
        )
        loss0, _, _ = dpo_loss(
            sequence_logprob(policy, *chosen),
            sequence_logprob(policy, *rejected),
            ref_c,
            ref_r,
        )
    print(f"DPO loss at the start: {loss0.item():.6f}  (log 2 = {math.log(2):.6f})")
    assert abs(loss0.item() - math.log(2)) < 1e-5
    print(
        "reference prefers the chosen answer on",
        int((ref_c > ref_r).sum()),
        "of",
        len(PREFS),
        "pairs",
    )


# %% note_line=652
if __name__ == "__main__":
    BETA, DPO_STEPS = 0.1, 30
    opt = torch.optim.AdamW(
        [p for p in policy.parameters() if p.requires_grad], lr=5e-4, weight_decay=0.0
    )
    policy.train()
    history = []
    for step in range(DPO_STEPS):
        loss, rc, rr = dpo_loss(
            sequence_logprob(policy, *chosen),
            sequence_logprob(policy, *rejected),
            ref_c,
            ref_r,
            BETA,
        )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        history.append(
            (loss.item(), (rc > rr).float().mean().item(), (rc - rr).mean().item())
        )
    policy.eval()
    for step in (0, DPO_STEPS // 2, DPO_STEPS - 1):
        l, acc, margin = history[step]
        print(
            f"step {step:>3}: loss {l:.3f}  reward accuracy {acc:.2f}  mean reward margin"
            f" {margin:+.3f}"
        )

    with torch.no_grad():
        pi_c, pi_r = sequence_logprob(policy, *chosen), sequence_logprob(policy, *rejected)
    print(f"{'question':38}{'ref logp c/r':>18}{'policy logp c/r':>20}")
    for i, (q, _, _) in enumerate(PREFS):
        print(f"{q:38}{ref_c[i]:>9.1f}/{ref_r[i]:<8.1f}{pi_c[i]:>11.1f}/{pi_r[i]:<8.1f}")
    implicit_margin = (pi_c - ref_c) - (pi_r - ref_r)
    assert torch.all(implicit_margin > 0), (
        "DPO should raise chosen relative to rejected on every pair"
    )
    assert torch.all(pi_c > pi_r), "after DPO the policy should prefer every chosen answer"
    print(
        "after DPO the policy assigns higher probability to the chosen answer on all",
        len(PREFS),
        "pairs",
    )
    print(
        "mean change in log p(chosen):",
        round((pi_c - ref_c).mean().item(), 2),
        "| in log p(rejected):",
        round((pi_r - ref_r).mean().item(), 2),
    )
