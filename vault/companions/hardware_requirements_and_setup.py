# generated from vault/Building LLMs/Hardware Requirements and Setup.md — do not edit; regenerate with `llm-vault export`
# Import it: `from companions import hardware_requirements_and_setup` (the cells marked `export`).
# Run it: `python -m companions.hardware_requirements_and_setup` runs the whole note.

# %% note_line=26
if __name__ == "__main__":
    import os, platform, time, warnings
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from runner.env import device, seed_everything

    seed_everything(0)
    # tqdm's notebook hint, via transformers
    warnings.filterwarnings("ignore", message="IProgress not found")


    def mem_total_gb():
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal"):
                    return int(line.split()[1]) * 1024 / 1e9
        return float("nan")


    print(
        f"python {platform.python_version()}, torch {torch.__version__}, {os.cpu_count()}"
        f" CPU cores, {mem_total_gb():.1f} GB RAM"
    )
    print("device used by this vault run:", device())
    if torch.cuda.is_available():
        p = torch.cuda.get_device_properties(0)
        print(
            f"GPU: {p.name}, {p.total_memory / 1e9:.1f} GB, compute capability"
            f" {p.major}.{p.minor}, bf16 supported: {torch.cuda.is_bf16_supported()}"
        )
    else:
        print(
            "no CUDA GPU visible: the calculator below is exact arithmetic and runs"
            " anywhere"
        )


# %% export note_line=85
BYTES = {"fp32": 4.0, "bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0, "int4": 0.5}

# bytes per parameter: weights, gradients, fp32 master copy, optimizer states (per
# *trainable* parameter except weights)
TRAINING_RECIPES = {
    "fp32 AdamW": dict(weights=4, grads=4, master=0, optimizer=8),
    "mixed bf16 AdamW": dict(weights=2, grads=2, master=4, optimizer=8),
    "mixed bf16 8-bit AdamW": dict(weights=2, grads=2, master=4, optimizer=2),
    "pure bf16 AdamW": dict(weights=2, grads=2, master=0, optimizer=4),
}


def weight_bytes(n_params, precision="bf16", group_size=None, scale_bytes=2):
    """Bytes of the weights; quantised formats add one scale (scale_bytes) per group of
    group_size weights."""
    b = n_params * BYTES[precision]
    if group_size:
        b += n_params / group_size * scale_bytes
    return b


def training_state_bytes(n_params, recipe="mixed bf16 AdamW", trainable=None):
    """Weights + gradients + master weights + optimizer states. trainable < n_params
    models frozen weights."""
    r = TRAINING_RECIPES[recipe]
    trainable = n_params if trainable is None else trainable
    return {
        "weights": r["weights"] * n_params,
        "grads": r["grads"] * trainable,
        "master": r["master"] * trainable,
        "optimizer": r["optimizer"] * trainable,
    }


def activation_bytes(
    n_layers,
    d_model,
    n_heads,
    seq,
    batch,
    bytes_per=2.0,
    flash=False,
    checkpointing=False,
):
    """Activations autograd keeps for backward, GPT block with 4*d GELU MLP and no
    dropout."""
    if checkpointing:
        per_layer = seq * batch * d_model
    else:
        per_layer = 16 * seq * batch * d_model + (
            0 if flash else n_heads * seq * seq * batch
        )
    return n_layers * per_layer * bytes_per


def kv_cache_bytes(n_layers, n_kv_heads, head_dim, tokens, batch=1, precision="bf16"):
    """Keys and values of every layer for `tokens` positions of `batch` sequences."""
    return 2 * n_layers * n_kv_heads * head_dim * tokens * batch * BYTES[precision]


def fmt_gb(b):
    return f"{b / 1e9:,.1f}"


# %% note_line=158
if __name__ == "__main__":
    class Block(nn.Module):
        """Pre-norm GPT block: LayerNorm, causal multi-head attention, LayerNorm, 4*d GELU
    MLP (no dropout)."""

        def __init__(self, d, heads):
            super().__init__()
            self.heads = heads
            self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
            self.fc1, self.fc2 = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

        def forward(self, x):
            B, T, C = x.shape
            q, k, v = self.qkv(self.ln1(x)).split(C, dim=-1)
            q, k, v = (
                t.view(B, T, self.heads, C // self.heads).transpose(1, 2) for t in (q, k, v)
            )
            att = (q @ k.transpose(-2, -1)) * (C // self.heads) ** -0.5
            att = att.masked_fill(
                torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf")
            ).softmax(-1)
            x = x + self.proj((att @ v).transpose(1, 2).reshape(B, T, C))
            return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))


    D, HEADS, LAYERS = 128, 4, 4
    model = nn.Sequential(*[Block(D, HEADS) for _ in range(LAYERS)])
    N = sum(p.numel() for p in model.parameters())


    def nbytes(tensors):
        return sum(t.numel() * t.element_size() for t in tensors)


    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.randn(2, 16, D)).pow(2).mean().backward()
    opt.step()
    measured = {
        "weights": nbytes(model.parameters()),
        "grads": nbytes(p.grad for p in model.parameters()),
        # skip scalar 'step'
        "optimizer": nbytes(
            t for s in opt.state.values() for t in s.values() if t.dim() > 0
        ),
    }
    predicted = training_state_bytes(N, "fp32 AdamW")
    print(f"{N:,} parameters")
    for k in measured:
        print(
            f"  {k:10} measured {measured[k]:>10,} B   predicted {predicted[k]:>12,.0f} B"
        )
        assert measured[k] == predicted[k]
    bf16_bytes = nbytes(p for p in model.to(torch.bfloat16).parameters())
    assert bf16_bytes == weight_bytes(N, "bf16")
    print(f"  same weights in bf16: {bf16_bytes:,} B = 2 bytes/parameter")


# %% note_line=221
if __name__ == "__main__":
    def rss_bytes():
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS"):
                    return int(line.split()[1]) * 1024
        return 0


    before = rss_bytes()
    # init writes every value
    big = nn.Sequential(
        nn.Linear(4096, 4096, bias=False), nn.Linear(4096, 4096, bias=False)
    )
    grown = rss_bytes() - before
    n_big = sum(p.numel() for p in big.parameters())
    print(
        f"{n_big:,} fp32 parameters: predicted {weight_bytes(n_big, 'fp32') / 1e6:.1f} MB, "
        f"RSS grew by {grown / 1e6:.1f} MB"
    )
    assert 0.9 < grown / weight_bytes(n_big, "fp32") < 1.2
    del big


# %% note_line=254
if __name__ == "__main__":
    from torch.utils.checkpoint import checkpoint


    def saved_activation_bytes(fn, x, params):
        param_ptrs = {p.untyped_storage().data_ptr() for p in params}
        storages = {}

        def pack(t):
            s = t.untyped_storage()
            if s.data_ptr() not in param_ptrs:
                storages[s.data_ptr()] = s.nbytes()
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            fn(x)
        return sum(storages.values())


    model = model.float()


    def plain(x):
        return model(x)


    def checkpointed(x):
        for block in model:
            x = checkpoint(block, x, use_reentrant=False)
        return x


    print(
        f"{'batch':>5}{'seq':>6}{'measured':>12}{'formula':>12}{'ratio':>7}"
        f"{'ckpt measured':>15}{'ckpt formula':>14}"
    )
    for b, s in [(1, 64), (4, 64), (1, 256), (2, 128)]:
        x = torch.randn(b, s, D, requires_grad=True)
        got = saved_activation_bytes(plain, x, model.parameters())
        est = activation_bytes(LAYERS, D, HEADS, s, b, bytes_per=4)
        got_ck = saved_activation_bytes(checkpointed, x, model.parameters())
        est_ck = activation_bytes(LAYERS, D, HEADS, s, b, bytes_per=4, checkpointing=True)
        print(
            f"{b:>5}{s:>6}{got:>12,}{est:>12,.0f}{got / est:>7.3f}{got_ck:>15,}"
            f"{est_ck:>14,.0f}"
        )
        # the remainder: LayerNorm statistics and the causal mask
        assert 0.98 < got / est < 1.05
        assert got_ck == est_ck


# %% note_line=314
if __name__ == "__main__":
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(
        vocab_size=256,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        max_position_embeddings=128,
    )
    llama = LlamaForCausalLM(cfg).eval()
    batch, tokens = 3, 40
    with torch.no_grad():
        out = llama(torch.randint(0, 256, (batch, tokens)), use_cache=True)
    # the field was renamed in transformers 5
    cache = out["cache"] if "cache" in out else out["past_key_values"]
    got = sum(nbytes([layer.keys, layer.values]) for layer in cache.layers)
    est = kv_cache_bytes(
        cfg.num_hidden_layers, cfg.num_key_value_heads, cfg.head_dim, tokens, batch, "fp32"
    )
    print(f"KV cache: measured {got:,} B, predicted {est:,.0f} B")
    assert got == est


# %% note_line=347
if __name__ == "__main__":
    MODELS = {  # name: (parameters, layers, kv_heads, head_dim)
        "Llama-2-7B": (6.74e9, 32, 32, 128),
        "Mistral-7B": (7.24e9, 32, 8, 128),
        "Llama-3.1-8B": (8.03e9, 32, 8, 128),
        "Llama-2-13B": (13.0e9, 40, 40, 128),
        "Mixtral-8x7B": (46.7e9, 32, 8, 128),
        "Llama-2-70B": (69.0e9, 80, 8, 128),
        "Llama-3.1-405B": (405e9, 126, 8, 128),
    }
    print("Inference memory in GB: weights by precision, and KV cache per sequence (bf16)")
    print(
        f"{'model':16}{'bf16':>8}{'int8':>8}{'int4':>8}{'KV@4k':>8}{'KV@32k':>8}"
        f"{'KV/token':>10}"
    )
    for name, (n, L, kv, hd) in MODELS.items():
        kv_tok = kv_cache_bytes(L, kv, hd, 1)
        print(
            f"{name:16}{fmt_gb(weight_bytes(n, 'bf16')):>8}"
            f"{fmt_gb(weight_bytes(n, 'int8')):>8}"
            f"{fmt_gb(weight_bytes(n, 'int4', group_size=64)):>8}"
            f"{fmt_gb(kv_tok * 4096):>8}{fmt_gb(kv_tok * 32768):>8}{kv_tok / 1e6:>8.2f}MB"
        )

    # GQA 8 vs 32 KV heads
    assert kv_cache_bytes(32, 8, 128, 4096) * 4 == kv_cache_bytes(32, 32, 128, 4096)


# %% note_line=387
if __name__ == "__main__":
    def lora_bytes(n, trainable_frac=0.005, base="bf16"):
        trainable = n * trainable_frac
        base_b = (
            weight_bytes(n, "bf16")
            if base == "bf16"
            else weight_bytes(n, "int4", group_size=64, scale_bytes=1) + n / 64 / 256 * 4
        )
        return base_b + trainable * 16  # adapters: fp32 weight + grad + two Adam moments


    print(
        f"{'model':16}{'full FT (16 B/param)':>22}{'LoRA':>8}{'QLoRA':>8}   GB, before"
        " activations"
    )
    for name, (n, *_) in MODELS.items():
        full = sum(training_state_bytes(n, "mixed bf16 AdamW").values())
        print(
            f"{name:16}{fmt_gb(full):>22}{fmt_gb(lora_bytes(n)):>8}"
            f"{fmt_gb(lora_bytes(n, base='int4')):>8}"
        )
    full_7b = sum(training_state_bytes(6.74e9, "mixed bf16 AdamW").values())
    assert full_7b / 6.74e9 == 16
    # QLoRA: a 70B-class model on one 48 GB card (before activations)
    assert lora_bytes(69.0e9, base="int4") < 48e9


# %% note_line=427
if __name__ == "__main__":
    GPUS = {  # name: (memory GB, bandwidth GB/s, dense bf16 TFLOP/s or None)
        "RTX 4090": (24, 1008, None),
        "L40S": (48, 864, None),
        "A100 80GB SXM": (80, 2039, 312),
        "H100 SXM": (80, 3350, 989),
        "H200": (141, 4800, 989),
        "MI300X": (192, 5300, 1307),
    }
    # CUDA context, allocator fragmentation, temporary buffers: a rule-of-thumb margin
    OVERHEAD = 1.15


    def gpus_needed(total_bytes, gpu):
        mem_gb = GPUS[gpu][0]
        return -(-total_bytes * OVERHEAD // (mem_gb * 1e9))  # ceiling division


    print(
        "Batch-1 decode ceiling (tokens/s) and number of GPUs for weights + 8k-token KV"
        " cache"
    )
    print(f"{'model / precision':26}" + "".join(f"{g:>15}" for g in GPUS))
    for name, prec in [
        ("Llama-3.1-8B", "bf16"),
        ("Llama-3.1-8B", "int4"),
        ("Llama-2-70B", "bf16"),
        ("Llama-2-70B", "int4"),
        ("Llama-3.1-405B", "fp8"),
    ]:
        n, L, kv, hd = MODELS[name]
        w = weight_bytes(n, prec, group_size=64 if prec == "int4" else None)
        total = w + kv_cache_bytes(L, kv, hd, 8192)
        cells = [
            f"{GPUS[g][1] * 1e9 / w:>7.0f} x{int(gpus_needed(total, g)):<3}" for g in GPUS
        ]
        print(f"{name + ' ' + prec:26}" + "".join(f"{c:>15}" for c in cells))


# %% note_line=476
if __name__ == "__main__":
    # Touvron et al., 2023
    REPORTED_GPU_HOURS = {
        "Llama-2-7B": 184_320,
        "Llama-2-13B": 368_640,
        "Llama-2-70B": 1_720_320,
    }
    tokens = 2.0e12
    peak = GPUS["A100 80GB SXM"][2] * 1e12
    for name, hours in REPORTED_GPU_HOURS.items():
        flops = 6 * MODELS[name][0] * tokens
        mfu = flops / (hours * 3600 * peak)
        print(
            f"{name:12} 6ND = {flops:.2e} FLOP; at 40% MFU:"
            f" {flops / (0.4 * peak) / 3600:>12,.0f} GPU-hours; reported {hours:>10,} ->"
            f" implied MFU {mfu:.0%}"
        )
        assert 0.3 < mfu < 0.6


# %% note_line=504
if __name__ == "__main__":
    def measure_bandwidth_gbs(n_bytes=64 * 2**20, reps=5):
        src = torch.empty(n_bytes // 4, dtype=torch.float32).fill_(1.0)
        dst = torch.empty_like(src)
        dst.copy_(src)
        t0 = time.perf_counter()
        for _ in range(reps):
            dst.copy_(src)
        return 2 * n_bytes * reps / (time.perf_counter() - t0) / 1e9  # read + write


    def measure_matmul_gflops(n=512, reps=5):
        a, b = torch.randn(n, n), torch.randn(n, n)
        a @ b
        t0 = time.perf_counter()
        for _ in range(reps):
            a @ b
        return 2 * n**3 * reps / (time.perf_counter() - t0) / 1e9


    bw, gf = measure_bandwidth_gbs(), measure_matmul_gflops()
    w8b_int4 = weight_bytes(8.03e9, "int4", group_size=64)
    print(f"this machine: ~{bw:.1f} GB/s copy bandwidth, ~{gf:.1f} GFLOP/s fp32 matmul")
    print(
        f"-> batch-1 ceiling for an 8B model in int4 here: ~{bw * 1e9 / w8b_int4:.1f}"
        f" tokens/s (an H100 SXM: ~{GPUS['H100 SXM'][1] * 1e9 / w8b_int4:.0f})"
    )


# %% note_line=571
if __name__ == "__main__":
    def environment_report():
        r = {
            "torch": torch.__version__,
            "cuda_available": torch.cuda.is_available(),
            "threads": torch.get_num_threads(),
            "bf16_cpu_matmul": True,
        }
        try:
            torch.ones(2, 2, dtype=torch.bfloat16) @ torch.ones(2, 2, dtype=torch.bfloat16)
        except RuntimeError:
            r["bf16_cpu_matmul"] = False
        if torch.cuda.is_available():
            r.update(
                cuda_runtime=torch.version.cuda,
                cudnn=torch.backends.cudnn.version(),
                gpus=[
                    torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())
                ],
                bf16=torch.cuda.is_bf16_supported(),
                flash_sdp=torch.backends.cuda.flash_sdp_enabled(),
            )
            x = torch.randn(1024, 1024, device="cuda")
            torch.cuda.synchronize()
            r["gpu_matmul_ok"] = bool(torch.isfinite(x @ x).all())
        return r


    for k, v in environment_report().items():
        print(f"{k:>16}: {v}")
