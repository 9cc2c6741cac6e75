# generated from vault/Tools and Frameworks/CUDA Setup and Optimization.md — do not edit; regenerate with `llm-vault export`
# Import it: `from companions import cuda_setup_and_optimization` (the cells marked `export`).
# Run it: `python -m companions.cuda_setup_and_optimization` runs the whole note.

# %% note_line=17
if __name__ == "__main__":
    import math, os, platform, time
    import torch
    import torch.nn.functional as F
    import matplotlib.pyplot as plt
    from runner.env import device, seed_everything

    seed_everything(0)
    dev = device()
    HAS_CUDA = torch.cuda.is_available()
    print(f"selected device: {dev}   CUDA available: {HAS_CUDA}")


# %% export note_line=66
import platform

import torch


def device_report() -> dict:
    """Versions and hardware facts that decide what will run and how fast."""
    rep = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch built with CUDA": torch.version.cuda,  # None for CPU-only builds
        "cuDNN": torch.backends.cudnn.version()
        if torch.backends.cudnn.is_available()
        else None,
        "CUDA available": torch.cuda.is_available(),
        "CPU threads": torch.get_num_threads(),
        "CPU SIMD": torch.backends.cpu.get_cpu_capability(),
        "float32 matmul precision": torch.get_float32_matmul_precision(),
    }
    if torch.cuda.is_available():
        rep["driver-supported CUDA"] = getattr(
            torch._C, "_cuda_getDriverVersion", lambda: None
        )()
        for i in range(torch.cuda.device_count()):
            p = torch.cuda.get_device_properties(i)
            rep[f"gpu{i}"] = (
                f"{p.name}, compute capability {p.major}.{p.minor}, "
                f"{p.total_memory / 2**30:.1f} GiB, {p.multi_processor_count} SMs"
            )
        rep["bf16 supported"] = torch.cuda.is_bf16_supported()
        rep["compiled archs"] = " ".join(torch.cuda.get_arch_list())
    return rep


# %% note_line=101
if __name__ == "__main__":
    report = device_report()
    for key, value in report.items():
        print(f"{key:26s} {value}")
    if not HAS_CUDA:
        print(
            "\nNo CUDA GPU here: the GPU branches below print a message instead of running."
        )


# %% export note_line=119
import torch.utils.benchmark as tbench


def bench(fn, min_run_time: float = 0.2) -> float:
    """Median seconds per call of fn(), with warm-up and CUDA synchronisation handled by
    torch.utils.benchmark."""
    fn()  # warm-up
    timer = tbench.Timer(
        stmt="fn()", globals={"fn": fn}, num_threads=torch.get_num_threads()
    )
    return timer.blocked_autorange(min_run_time=min_run_time).median


def matmul_tflops(n: int, seconds: float) -> float:
    return 2 * n**3 / seconds / 1e12


# %% note_line=137
if __name__ == "__main__":
    def wrong_vs_right_timing(d):
        a = torch.randn(1024, 1024, device=d)
        b = torch.randn(1024, 1024, device=d)
        a @ b  # warm-up
        # no synchronisation
        t0 = time.perf_counter()
        c = a @ b
        naive = time.perf_counter() - t0
        if d.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        c = a @ b
        if d.type == "cuda":
            torch.cuda.synchronize()
        synced = time.perf_counter() - t0
        return naive, synced


    for d in [torch.device("cpu")] + ([torch.device("cuda")] if HAS_CUDA else []):
        naive, synced = wrong_vs_right_timing(d)
        print(
            f"{d.type}: timing without sync {naive * 1e3:7.3f} ms, with sync"
            f" {synced * 1e3:7.3f} ms"
        )
    if not HAS_CUDA:
        print(
            "(on a CPU both are the same: CPU operations are synchronous; on a GPU the"
            " unsynchronised number is just the kernel launch)"
        )


# %% note_line=186
if __name__ == "__main__":
    def roofline_points(d, dtype=torch.float32, sizes=(64, 128, 256, 512, 1024), big=4096):
        torch.manual_seed(0)
        bytes_per = torch.finfo(dtype).bits // 8
        x = torch.randn(big * big, device=d, dtype=dtype)
        y = torch.empty_like(x)  # preallocated: measure copying, not allocation
        t_copy = bench(lambda: y.copy_(x))
        bandwidth = 2 * x.numel() * bytes_per / t_copy  # read + write
        W = torch.randn(big, big, device=d, dtype=dtype)
        v = torch.randn(big, device=d, dtype=dtype)
        t_mv = bench(lambda: W @ v)
        points = [
            (
                "matvec %d" % big,
                2 * big * big / (big * big * bytes_per),
                2 * big * big / t_mv,
            )
        ]
        for n in sizes:
            a = torch.randn(n, n, device=d, dtype=dtype)
            b = torch.randn(n, n, device=d, dtype=dtype)
            t = bench(lambda: a @ b)
            points.append((f"matmul {n}", 2 * n**3 / (3 * n * n * bytes_per), 2 * n**3 / t))
        return bandwidth, points


    results = {"cpu": roofline_points(torch.device("cpu"))}
    if HAS_CUDA:
        results["cuda"] = roofline_points(
            torch.device("cuda"), sizes=(256, 1024, 4096, 8192), big=8192
        )

    for name, (bw, pts) in results.items():
        print(f"\n{name}: measured copy bandwidth {bw / 1e9:.1f} GB/s")
        for label, intensity, flops in pts:
            print(
                f"  {label:12s} intensity {intensity:7.1f} FLOP/byte   {flops / 1e9:9.2f}"
                " GFLOP/s"
            )
    cpu_bw, cpu_pts = results["cpu"]
    matvec_gflops = cpu_pts[0][2]
    best_matmul = max(p[2] for p in cpu_pts[1:])
    print(
        f"\nCPU: best matmul is {best_matmul / matvec_gflops:.1f}x the matrix-vector FLOP"
        " rate"
    )
    # compute-bound beats memory-bound, even on a busy CPU
    assert best_matmul > 2 * matvec_gflops


# %% note_line=236
if __name__ == "__main__":
    fig, axes = plt.subplots(
        1, len(results), figsize=(5 * len(results), 3.6), squeeze=False
    )
    for ax, (name, (bw, pts)) in zip(axes[0], results.items()):
        peak = max(p[2] for p in pts)
        xs = torch.logspace(-2, 3, 100)
        ax.loglog(
            xs,
            torch.clamp(xs * bw, max=peak) / 1e9,
            "k-",
            lw=1,
            label="roofline (measured)",
        )
        for label, intensity, flops in pts:
            ax.loglog(intensity, flops / 1e9, "o")
            ax.annotate(
                label,
                (intensity, flops / 1e9),
                fontsize=7,
                xytext=(3, -8),
                textcoords="offset points",
            )
        ax.set_xlabel("arithmetic intensity (FLOP/byte)")
        ax.set_ylabel("GFLOP/s")
        ax.set_title(f"{name} roofline")
        ax.legend(fontsize=7)
    plt.tight_layout()
    plt.show()


# %% note_line=275
if __name__ == "__main__":
    def naive_attention(q, k, v):
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])
        mask = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool, device=q.device).triu(
            1
        )
        return scores.masked_fill(mask, float("-inf")).softmax(-1) @ v


    def attention_bench(d, B=2, H=8, T=512, hd=64, dtype=torch.float32):
        torch.manual_seed(0)
        q, k, v = (torch.randn(B, H, T, hd, device=d, dtype=dtype) for _ in range(3))
        ref = naive_attention(q, k, v)
        fused = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        err = (ref - fused).abs().max().item()
        t_naive, t_fused = (
            bench(lambda: naive_attention(q, k, v)),
            bench(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True)),
        )
        score_mib = B * H * T * T * torch.finfo(dtype).bits / 8 / 2**20
        return err, t_naive, t_fused, score_mib


    configs = [("cpu", torch.float32)] + (
        [("cuda", torch.float32), ("cuda", torch.bfloat16)] if HAS_CUDA else []
    )
    for dname, dtype in configs:
        err, tn, tf, mib = attention_bench(
            torch.device(dname), dtype=dtype, T=512 if dname == "cpu" else 4096
        )
        print(
            f"{dname} {str(dtype):15s} naive {tn * 1e3:8.2f} ms | SDPA {tf * 1e3:8.2f} ms |"
            f" speed-up {tn / tf:4.1f}x | max diff {err:.1e} | score matrix the naive"
            f" version stores: {mib:.0f} MiB"
        )
        assert err < (1e-4 if dtype == torch.float32 else 5e-2)


# %% note_line=335
if __name__ == "__main__":
    torch.manual_seed(0)
    a, b = torch.randn(512, 512), torch.randn(512, 512)
    exact = a.double() @ b.double()


    def rel_err(x):
        return ((x.double() - exact).norm() / exact.norm()).item()


    with torch.autocast("cpu", dtype=torch.bfloat16):
        c_bf16 = a @ b
    errors = {
        "fp32": rel_err(a @ b),
        "bf16 autocast": rel_err(c_bf16),
        "fp16 inputs": rel_err(a.half().float() @ b.half().float()),
    }
    for k, e in errors.items():
        print(f"{k:14s} relative error {e:.2e}")
    print(
        "autocast output dtype:",
        c_bf16.dtype,
        "| bf16 machine epsilon",
        torch.finfo(torch.bfloat16).eps,
        "| fp16 max",
        torch.finfo(torch.float16).max,
    )
    assert (
        c_bf16.dtype == torch.bfloat16
        and errors["fp32"] < 1e-5 < errors["bf16 autocast"] < 1e-2
    )

    if HAS_CUDA:
        torch.set_float32_matmul_precision("high")  # allow TF32
        n = 8192
        ga, gb = torch.randn(n, n, device="cuda"), torch.randn(n, n, device="cuda")
        ha, hb = ga.bfloat16(), gb.bfloat16()
        for label, fn in [("fp32/tf32", lambda: ga @ gb), ("bf16", lambda: ha @ hb)]:
            print(f"cuda {label:10s} {matmul_tflops(n, bench(fn)):6.1f} TFLOP/s at n={n}")
        torch.set_float32_matmul_precision("highest")
    else:
        print("No CUDA GPU: skipping the TF32/BF16 Tensor Core throughput comparison.")


# %% export note_line=390
def training_bytes_per_param(weights=2, grads=2, master=4, adam=8) -> int:
    return weights + grads + master + adam


def memory_estimate_gib(n_params: float, mode: str = "train") -> float:
    """Weights-and-optimizer memory (no activations, no KV cache) in GiB."""
    per = training_bytes_per_param() if mode == "train" else 2
    return n_params * per / 2**30


# %% note_line=401
if __name__ == "__main__":
    for name, n in [("125M", 125e6), ("1B", 1e9), ("7B", 7e9), ("70B", 70e9)]:
        print(
            f"{name:12s} inference (bf16 weights) {memory_estimate_gib(n, 'infer'):9.2f}"
            f" GiB | full training with Adam {memory_estimate_gib(n, 'train'):9.2f} GiB"
        )
    assert training_bytes_per_param() == 16

    model = torch.nn.Sequential(
        torch.nn.Linear(1024, 4096), torch.nn.GELU(), torch.nn.Linear(4096, 1024)
    )
    n_params = sum(p.numel() for p in model.parameters())
    if HAS_CUDA:
        model = model.cuda().to(torch.bfloat16)
        opt = torch.optim.AdamW(model.parameters())
        torch.cuda.reset_peak_memory_stats()
        x = torch.randn(64, 512, 1024, device="cuda", dtype=torch.bfloat16)
        model(x).float().pow(2).mean().backward()
        opt.step()
        print(
            f"measured peak {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB for"
            f" {n_params:,} parameters (weights+grads+Adam alone:"
            f" {n_params * (2 + 2 + 2 * 2) / 2**20:.0f} MiB in bf16)"
        )
    else:
        print(
            "No CUDA GPU: measured peak memory needs torch.cuda.max_memory_allocated();"
            f" this {n_params:,}-parameter MLP would need {n_params * 16 / 2**20:.0f} MiB"
            " for mixed-precision Adam state."
        )


# %% note_line=454
if __name__ == "__main__":
    if HAS_CUDA:
        host = torch.randn(64 * 2**20 // 4)  # 64 MiB
        pinned = host.pin_memory()
        for label, src in [("pageable", host), ("pinned", pinned)]:
            t = bench(lambda: src.to("cuda", non_blocking=True))
            print(f"host->device {label:8s}: {host.numel() * 4 / t / 1e9:5.1f} GB/s")

        def gelu_mlp(x, w1, w2):
            return F.gelu(x @ w1) @ w2

        x = torch.randn(4096, 1024, device="cuda")
        w1 = torch.randn(1024, 4096, device="cuda")
        w2 = torch.randn(4096, 1024, device="cuda")
        compiled = torch.compile(gelu_mlp)
        compiled(x, w1, w2)  # compile once
        print(
            f"eager {bench(lambda: gelu_mlp(x, w1, w2)) * 1e3:.3f} ms, compiled"
            f" {bench(lambda: compiled(x, w1, w2)) * 1e3:.3f} ms"
        )
    else:
        print(
            "No CUDA GPU: skipping pinned-memory transfer and torch.compile timings"
            " (torch.compile on CPU also works but needs a C++ compiler and tens of seconds"
            " to compile)."
        )


# %% note_line=486
if __name__ == "__main__":
    from torch.profiler import ProfilerActivity, profile

    layer = torch.nn.TransformerEncoderLayer(
        d_model=256, nhead=4, dim_feedforward=1024, batch_first=True
    ).eval()
    x = torch.randn(8, 128, 256)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if HAS_CUDA else [])
    with torch.no_grad(), profile(activities=activities) as prof:
        for _ in range(3):
            layer(x)
    table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=6)
    print("\n".join(line[:110] for line in table.splitlines()))
    assert any(
        "addmm" in e.key or "linear" in e.key or "matmul" in e.key
        for e in prof.key_averages()
    )
