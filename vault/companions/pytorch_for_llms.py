# generated from vault/Tools and Frameworks/PyTorch for LLMs.md — do not edit; regenerate with `llm-vault export`
# Import it: `from companions import pytorch_for_llms` (the cells marked `export`).
# Run it: `python -m companions.pytorch_for_llms` runs the whole note.

# %% note_line=17
if __name__ == "__main__":
    import math, os, tempfile, time
    from pathlib import Path
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from runner.env import device, seed_everything

    seed_everything(0)
    DEV = device()
    print(
        "torch",
        torch.__version__,
        "| device for this run:",
        DEV,
        "| threads:",
        torch.get_num_threads(),
    )


# %% note_line=47
if __name__ == "__main__":
    B, T, C, H = 2, 5, 16, 4
    x = torch.randn(B, T, C)
    heads = x.view(B, T, H, C // H).transpose(1, 2)  # (B, H, T, head_dim): a view, no copy
    print(
        "shape",
        tuple(heads.shape),
        "strides",
        heads.stride(),
        "contiguous:",
        heads.is_contiguous(),
    )
    # same memory
    assert heads.untyped_storage().data_ptr() == x.untyped_storage().data_ptr()

    # undoing the transpose: contiguous again, still no copy
    merged = heads.transpose(1, 2).reshape(B, T, C)
    assert (
        torch.equal(merged, x)
        and merged.untyped_storage().data_ptr() == x.untyped_storage().data_ptr()
    )

    try:  # flattening (B, H) of the transposed view needs a real copy
        heads.view(B * H, T, C // H)
    except RuntimeError as e:
        print("view on a non-contiguous tensor:", str(e).split(".")[0])
    flat = heads.contiguous().view(B * H, T, C // H)
    # .contiguous() copied
    assert flat.untyped_storage().data_ptr() != x.untyped_storage().data_ptr()

    for dt in (torch.float32, torch.bfloat16, torch.float16, torch.int8):
        info = torch.finfo(dt) if dt.is_floating_point else torch.iinfo(dt)
        print(
            f"{str(dt):15} {torch.empty(0, dtype=dt).element_size()} bytes  max"
            f" {float(info.max):.3e}"
        )

    # broadcasting: a (T, T) causal mask applies to every batch and head of (B, H, T, T)
    # scores
    scores = torch.randn(B, H, T, T)
    mask = torch.ones(T, T, dtype=torch.bool).tril()
    masked = scores.masked_fill(~mask, float("-inf"))
    assert torch.isinf(masked[1, 3, 0, 1]) and not torch.isinf(masked[1, 3, 1, 0])

    # einsum states the contraction explicitly; it must agree with matmul
    q, k = torch.randn(B, H, T, 8), torch.randn(B, H, T, 8)
    assert torch.allclose(
        torch.einsum("bhqd,bhkd->bhqk", q, k), q @ k.transpose(-2, -1), atol=1e-6
    )


# %% note_line=105
if __name__ == "__main__":
    torch.manual_seed(0)
    X = torch.randn(6, 4, dtype=torch.float64)
    y = torch.tensor([0, 2, 1, 2, 0, 1])
    W = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)


    def loss_fn(W):
        return F.cross_entropy(torch.tanh(X @ W), y)


    loss = loss_fn(W)
    loss.backward()
    eps = 1e-6
    fd = torch.zeros_like(W)
    with torch.no_grad():
        for i in range(W.shape[0]):
            for j in range(W.shape[1]):
                Wp, Wm = W.clone(), W.clone()
                Wp[i, j] += eps
                Wm[i, j] -= eps
                fd[i, j] = (loss_fn(Wp) - loss_fn(Wm)) / (2 * eps)
    rel = ((W.grad - fd).norm() / fd.norm()).item()
    print(
        f"loss {loss.item():.4f}; relative difference autograd vs finite difference:"
        f" {rel:.2e}"
    )
    assert rel < 1e-6

    # the gradient of cross-entropy w.r.t. the logits has a closed form: softmax(z) -
    # onehot(y), averaged
    z = torch.randn(6, 3, dtype=torch.float64, requires_grad=True)
    F.cross_entropy(z, y).backward()
    assert torch.allclose(z.grad, (z.softmax(-1) - F.one_hot(y, 3)) / len(y))
    print("dL/dlogits = (softmax - onehot) / N: checked")


# %% note_line=148
if __name__ == "__main__":
    class RMSNormFn(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, weight, eps=1e-6):
            rstd = torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)
            ctx.save_for_backward(x, weight, rstd)
            return x * rstd * weight

        @staticmethod
        def backward(ctx, grad_out):
            x, weight, rstd = ctx.saved_tensors
            xhat = x * rstd
            grad_weight = (grad_out * xhat).reshape(-1, x.shape[-1]).sum(0)
            g = grad_out * weight
            # d/dx of x * rstd(x): rstd * (g - xhat * mean(g * xhat))
            grad_x = rstd * (g - xhat * (g * xhat).mean(-1, keepdim=True))
            return grad_x, grad_weight, None


    xs = torch.randn(3, 5, 8, dtype=torch.float64, requires_grad=True)
    ws = torch.randn(8, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(RMSNormFn.apply, (xs, ws))
    reference = xs * torch.rsqrt(xs.pow(2).mean(-1, keepdim=True) + 1e-6) * ws
    assert torch.allclose(RMSNormFn.apply(xs, ws), reference)
    print("custom RMSNorm backward passes gradcheck")


# %% note_line=183
if __name__ == "__main__":
    class Block(nn.Module):
        def __init__(self, d, n_head):
            super().__init__()
            self.n_head = n_head
            self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
            self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

        def forward(self, x):
            B, T, C = x.shape
            q, k, v = self.qkv(self.ln1(x)).split(C, dim=-1)
            q, k, v = (
                t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
                for t in (q, k, v)
            )
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.proj(y.transpose(1, 2).reshape(B, T, C))
            return x + self.mlp(self.ln2(x))


    class TinyLM(nn.Module):
        def __init__(self, vocab, d=64, n_head=4, n_layer=2, block_size=64):
            super().__init__()
            self.tok = nn.Embedding(vocab, d)
            self.pos = nn.Embedding(block_size, d)
            self.blocks = nn.ModuleList(Block(d, n_head) for _ in range(n_layer))
            self.ln_f = nn.LayerNorm(d)
            self.head = nn.Linear(d, vocab, bias=False)
            self.head.weight = self.tok.weight  # weight tying: one tensor, two uses
            self.register_buffer("positions", torch.arange(block_size), persistent=False)
            for module in self.modules():  # GPT-2 style init: small weights, so the
                # untrained model predicts ~uniformly
                if isinstance(module, (nn.Linear, nn.Embedding)):
                    nn.init.normal_(module.weight, std=0.02)
                if isinstance(module, nn.Linear) and module.bias is not None:
                    nn.init.zeros_(module.bias)

        def forward(self, idx, targets=None):
            x = self.tok(idx) + self.pos(self.positions[: idx.shape[1]])
            for block in self.blocks:
                x = block(x)
            logits = self.head(self.ln_f(x))
            loss = (
                None
                if targets is None
                else F.cross_entropy(logits.flatten(0, 1), targets.flatten())
            )
            return logits, loss


    # SDPA equals softmax(QK^T / sqrt(d) + causal mask) V
    q, k, v = torch.randn(3, 2, 4, 7, 16).unbind(0)
    manual = (q @ k.transpose(-2, -1) / math.sqrt(16)).masked_fill(
        ~torch.ones(7, 7, dtype=torch.bool).tril(), float("-inf")
    ).softmax(-1) @ v
    assert torch.allclose(
        F.scaled_dot_product_attention(q, k, v, is_causal=True), manual, atol=1e-5
    )

    probe = TinyLM(vocab=50)
    n_params = sum(p.numel() for p in probe.parameters())  # tied weight counted once
    print(
        f"TinyLM: {n_params:,} parameters; state_dict has {len(probe.state_dict())}"
        " entries, e.g.",
        list(probe.state_dict())[:4],
    )
    assert probe.head.weight is probe.tok.weight


# %% note_line=260
if __name__ == "__main__":
    from torch.utils.data import Dataset, DataLoader

    text = Path("PyTorch for LLMs.md").read_text(encoding="utf-8")
    data = torch.tensor(list(text.encode("utf-8")), dtype=torch.long)
    split = int(0.9 * len(data))
    train_data, val_data = data[:split], data[split:]


    class Windows(Dataset):
        def __init__(self, tokens, block):
            self.tokens, self.block = tokens, block

        def __len__(self):
            return len(self.tokens) - self.block - 1

        def __getitem__(self, i):
            chunk = self.tokens[i : i + self.block + 1]
            return chunk[:-1], chunk[1:]


    BLOCK = 64
    loader = DataLoader(
        Windows(train_data, BLOCK),
        batch_size=16,
        shuffle=True,
        drop_last=True,
        generator=torch.Generator().manual_seed(0),
    )
    xb, yb = next(iter(loader))
    print(f"{len(data):,} byte tokens; {len(loader)} batches of shape {tuple(xb.shape)}")
    assert torch.equal(xb[:, 1:], yb[:, :-1])  # targets are the inputs shifted by one

    # variable-length examples (fine-tuning, chat) need padding plus a mask
    from torch.nn.utils.rnn import pad_sequence

    seqs = [torch.tensor([5, 6, 7]), torch.tensor([8, 9]), torch.tensor([1, 2, 3, 4])]
    padded = pad_sequence(seqs, batch_first=True, padding_value=0)
    attention_mask = pad_sequence(
        [torch.ones(len(s), dtype=torch.long) for s in seqs], batch_first=True
    )
    print(padded.tolist(), attention_mask.tolist())


# %% note_line=314
if __name__ == "__main__":
    seed_everything(0)
    model = TinyLM(vocab=256, block_size=BLOCK).to(DEV)

    # gradient accumulation == big batch (same data, mean loss)
    xb, yb = xb.to(DEV), yb.to(DEV)
    model.zero_grad()
    model(xb, yb)[1].backward()
    big = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    for xm, ym in zip(xb.chunk(4), yb.chunk(4)):
        (model(xm, ym)[1] / 4).backward()
    assert all(
        torch.allclose(g, p.grad, atol=1e-6) for g, p in zip(big, model.parameters())
    )
    print("4 accumulated micro-batches give the big-batch gradient: checked")
    model.zero_grad()

    decay = [
        p
        for n, p in model.named_parameters()
        if p.dim() >= 2 and "tok" not in n and "pos" not in n
    ]
    no_decay = [
        p
        for n, p in model.named_parameters()
        if not (p.dim() >= 2 and "tok" not in n and "pos" not in n)
    ]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
        lr=3e-3,
        betas=(0.9, 0.95),
    )
    STEPS, WARMUP = 80, 8
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt,
        lambda s: (
            (s + 1) / WARMUP
            if s < WARMUP
            else 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (s - WARMUP) / (STEPS - WARMUP)))
        ),
    )


    @torch.no_grad()
    def val_loss(m, n=4):
        m.eval()
        g = torch.Generator().manual_seed(1)
        ix = torch.randint(len(val_data) - BLOCK - 1, (n * 8,), generator=g)
        xv = torch.stack([val_data[i : i + BLOCK] for i in ix]).to(DEV)
        yv = torch.stack([val_data[i + 1 : i + BLOCK + 1] for i in ix]).to(DEV)
        m.train()
        return m(xv, yv)[1].item()


    start = val_loss(model)
    t0 = time.perf_counter()
    batches = iter(loader)
    for step in range(STEPS):
        xb, yb = next(batches)
        _, loss = model(xb.to(DEV), yb.to(DEV))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
    end = val_loss(model)
    print(
        f"{STEPS} steps in {time.perf_counter() - t0:.1f} s: val loss {start:.3f} ->"
        f" {end:.3f} (uniform over 256 bytes: {math.log(256):.3f}); last grad norm"
        f" {gnorm:.2f}, lr now {sched.get_last_lr()[0]:.2e}"
    )
    assert abs(start - math.log(256)) < 0.1  # untrained: close to uniform
    assert end < start - 1.0


# %% note_line=401
if __name__ == "__main__":
    big_value = torch.tensor(70000.0)
    print(
        "70000 in fp16:", big_value.half().item(), "| in bf16:", big_value.bfloat16().item()
    )
    assert torch.isinf(big_value.half()) and torch.isfinite(big_value.bfloat16())
    print(
        "1 + 2^-8 in bf16:",
        (torch.tensor(1.0) + 2**-8).bfloat16().item(),
        "(7 mantissa bits: the increment is lost)",
    )

    model.eval()
    xb, yb = next(iter(loader))
    xb, yb = xb.to(DEV), yb.to(DEV)
    with torch.no_grad():
        logits32, loss32 = model(xb, yb)
        with torch.autocast(device_type=DEV.type, dtype=torch.bfloat16):
            h = model.blocks[0].qkv(torch.randn(2, 3, 64, device=DEV))
            logits16, loss16 = model(xb, yb)
    print(
        "inside autocast: linear output",
        h.dtype,
        "| logits",
        logits16.dtype,
        "| parameters",
        next(model.parameters()).dtype,
    )
    rel = ((logits16.float() - logits32).norm() / logits32.norm()).item()
    print(
        f"bf16 autocast vs fp32: relative logit error {rel:.2e}, loss {loss16.item():.4f}"
        f" vs {loss32.item():.4f}"
    )
    assert h.dtype == torch.bfloat16 and next(model.parameters()).dtype == torch.float32
    assert rel < 0.05 and abs(loss16.item() - loss32.item()) < 0.05
    model.train()


# %% note_line=449
if __name__ == "__main__":
    tmp = Path(tempfile.mkdtemp())
    ckpt_path = tmp / "ckpt.pt"


    def save_checkpoint(path, model, opt, sched, step):
        torch.save(
            {
                "model": model.state_dict(),
                "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(),
                "step": step,
                "rng": torch.get_rng_state(),
            },
            path,
        )


    def load_checkpoint(path, model, opt, sched):
        ck = torch.load(path, weights_only=True)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        torch.set_rng_state(ck["rng"])
        return ck["step"]


    def train_steps(model, opt, sched, n):
        for _ in range(n):
            # uses the global RNG: part of the state
            ix = torch.randint(len(train_data) - BLOCK - 1, (8,))
            xs = torch.stack([train_data[i : i + BLOCK] for i in ix]).to(DEV)
            ys = torch.stack([train_data[i + 1 : i + BLOCK + 1] for i in ix]).to(DEV)
            loss = model(xs, ys)[1]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()


    save_checkpoint(ckpt_path, model, opt, sched, STEPS)
    train_steps(model, opt, sched, 5)  # run A: continue directly
    after_a = {k: v.clone() for k, v in model.state_dict().items()}

    # run B: fresh objects, resumed from disk
    model_b = TinyLM(vocab=256, block_size=BLOCK).to(DEV)
    opt_b = torch.optim.AdamW(
        [
            {
                "params": [
                    p
                    for n, p in model_b.named_parameters()
                    if p.dim() >= 2 and "tok" not in n and "pos" not in n
                ],
                "weight_decay": 0.1,
            },
            {
                "params": [
                    p
                    for n, p in model_b.named_parameters()
                    if not (p.dim() >= 2 and "tok" not in n and "pos" not in n)
                ],
                "weight_decay": 0.0,
            },
        ],
        lr=3e-3,
        betas=(0.9, 0.95),
    )
    sched_b = torch.optim.lr_scheduler.LambdaLR(opt_b, sched.lr_lambdas[0])
    step = load_checkpoint(ckpt_path, model_b, opt_b, sched_b)
    train_steps(model_b, opt_b, sched_b, 5)
    # on CPU the resumed run is bit-identical; some CUDA kernels (e.g. embedding backward)
    # use atomics and are only
    # reproducible with torch.use_deterministic_algorithms(True)
    same = (
        (lambda a, b: torch.equal(a, b))
        if DEV.type == "cpu"
        else (lambda a, b: torch.allclose(a, b, atol=1e-5))
    )
    assert all(same(after_a[k], v) for k, v in model_b.state_dict().items())
    print(
        f"checkpoint {ckpt_path.stat().st_size / 1e6:.2f} MB at step {step}; resumed run"
        " matches the uninterrupted one"
    )

    # safetensors: the format of the Hugging Face Hub (no pickle, memory-mappable). Tied
    # weights must be stored once.
    from safetensors.torch import save_model, load_model

    save_model(model, str(tmp / "model.safetensors"))
    fresh = TinyLM(vocab=256, block_size=BLOCK).to(DEV)
    load_model(fresh, str(tmp / "model.safetensors"))
    model.eval()
    fresh.eval()
    with torch.no_grad():
        assert torch.equal(model(xb)[0], fresh(xb)[0])
    print("safetensors round trip: identical logits")


# %% note_line=555
if __name__ == "__main__":
    def try_compile(model, x, backend="inductor"):
        try:
            t0 = time.perf_counter()
            cm = torch.compile(model, backend=backend)
            with torch.no_grad():
                out = cm(x)[0]
            first = time.perf_counter() - t0
            t0 = time.perf_counter()
            with torch.no_grad():
                for _ in range(5):
                    cm(x)
            return out, first, (time.perf_counter() - t0) / 5, None
        except Exception as e:  # missing compiler, unsupported platform, ...
            return None, None, None, f"{type(e).__name__}: {str(e).splitlines()[0][:120]}"


    model.eval()
    xc = xb[:4]
    with torch.no_grad():
        ref_out = model(xc)[0]
        t0 = time.perf_counter()
        for _ in range(5):
            model(xc)
        eager_s = (time.perf_counter() - t0) / 5

    backend = (
        "inductor"
        if (DEV.type == "cuda" or os.environ.get("LLM_VAULT_COMPILE") == "inductor")
        else "aot_eager"
    )
    out, first, per_call, err = try_compile(model, xc, backend)
    if err:
        print(
            f"torch.compile({backend}) did not work here -> {err}; eager mode is the"
            " fallback"
        )
    else:
        assert torch.allclose(out, ref_out, atol=1e-4)
        print(
            f"torch.compile(backend={backend!r}): first call {first:.2f} s (includes"
            f" compilation), then {per_call * 1e3:.1f} ms/call vs eager {eager_s * 1e3:.1f}"
            " ms/call; outputs match"
        )
