# generated from vault/Troubleshooting and Best Practices/Performance Optimization.md — do not edit; regenerate with `llm-vault export`
# Import it: `from companions import performance_optimization` (the cells marked `export`).
# Run it: `python -m companions.performance_optimization` runs the whole note.

# %% note_line=39
if __name__ == "__main__":
    # datasheet figures of an NVIDIA H100 SXM (dense bf16 tensor-core throughput, HBM3
    # bandwidth)
    peak_flops, bandwidth = 989e12, 3.35e12
    ridge = peak_flops / bandwidth
    print(f"H100 ridge point: {ridge:.0f} FLOP/byte")
    for batch in (1, 8, 64, 256, 512):
        intensity = 2 * batch / 2  # 2·batch FLOPs per weight, 2 bytes per weight
        bound = "compute" if intensity >= ridge else "memory"
        utilisation = min(1.0, intensity / ridge)
        print(
            f"decode batch {batch:>3}: {intensity:>5.0f} FLOP/byte -> {bound}-bound, "
            f"at most {utilisation:6.1%} of peak FLOP/s"
        )
    assert 2 * 1 / 2 < ridge < 2 * 512 / 2


# %% note_line=66
if __name__ == "__main__":
    import json
    import math
    import os
    import statistics
    import subprocess
    import sys
    import tempfile
    import time

    import matplotlib.pyplot as plt
    import torch
    import torch.nn.functional as F

    from companions.llm_architecture import GPT, GPTConfig, KVCache
    from companions.inference import generate
    from runner.env import device, seed_everything

    seed_everything(0)
    dev = device()
    if dev.type == "cuda":
        cfg = GPTConfig(vocab_size=256, block_size=1024, n_layer=8, n_head=8, n_embd=512)
    else:
        cfg = GPTConfig(vocab_size=96, block_size=256, n_layer=4, n_head=4, n_embd=128)
    model = GPT(cfg).to(dev).eval()
    print(
        f"device {dev}, {torch.get_num_threads()} CPU threads; model:"
        f" {model.num_params():,} parameters, {cfg.n_layer} layers, d={cfg.n_embd}"
    )


    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()


    def bench(fn, repeats=5, warmup=1):
        """Median wall time of fn() in seconds, after warm-up calls (first calls pay
    one-time costs)."""
        for _ in range(warmup):
            fn()
        sync()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            sync()
            times.append(time.perf_counter() - start)
        return statistics.median(times)


    results = {}  # every measured ratio, summarised at the end


# %% note_line=130
if __name__ == "__main__":
    import contextlib

    from torch.profiler import ProfilerActivity, profile


    @contextlib.contextmanager
    def quiet_stderr():
        """The profiler's C++ backend logs 'profiler_start/stop' lines on stderr; silence
    them."""
        saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(null)


    activities = [ProfilerActivity.CPU] + (
        [ProfilerActivity.CUDA] if dev.type == "cuda" else []
    )
    x = torch.randint(0, cfg.vocab_size, (8, 128), device=dev)
    model.train()
    _, loss = model(x, x)
    loss.backward()  # warm-up step, not profiled
    with quiet_stderr(), profile(activities=activities) as prof:
        _, loss = model(x, x)
        loss.backward()
        sync()
    model.zero_grad(set_to_none=True)
    model.eval()

    sort_key = "self_device_time_total" if dev.type == "cuda" else "self_cpu_time_total"
    print(prof.key_averages().table(sort_by=sort_key, row_limit=8))

    events = prof.key_averages()
    self_time = {e.key: e.self_cpu_time_total for e in events}
    total = sum(self_time.values())
    matmul = sum(
        t
        for k, t in self_time.items()
        if k in ("aten::mm", "aten::addmm", "aten::bmm", "aten::matmul")
    )
    attention_ops = sorted({k for k in self_time if "scaled_dot_product" in k})
    print(f"share of self CPU time in matrix multiplications: {matmul / total:.1%}")
    print("attention kernels chosen on this machine:", attention_ops)
    assert attention_ops
    # on a GPU the CPU only launches the matmuls; their time shows as device time
    if dev.type == "cpu":
        assert matmul / total > 0.2


# %% note_line=204
if __name__ == "__main__":
    def naive_attention(q, k, v):
        t = q.shape[-2]
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
        future = torch.triu(torch.ones(t, t, dtype=torch.bool, device=q.device), diagonal=1)
        return scores.masked_fill(future, float("-inf")).softmax(dim=-1) @ v


    heads, head_dim = 4, 32
    print(" T     naive ms   SDPA ms   speed-up   score matrix (fp32)")
    for t in (256, 1024):
        q, k, v = (torch.randn(1, heads, t, head_dim, device=dev) for _ in range(3))
        ref, fused = (
            naive_attention(q, k, v),
            F.scaled_dot_product_attention(q, k, v, is_causal=True),
        )
        assert torch.allclose(ref, fused, atol=1e-5)
        t_naive = bench(lambda: naive_attention(q, k, v))
        t_fused = bench(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True))
        results[f"SDPA vs naive attention, T={t}"] = t_naive / t_fused
        print(
            f"{t:>5} {1e3 * t_naive:>9.2f} {1e3 * t_fused:>9.2f} {t_naive / t_fused:>9.2f}x"
            f"   {heads * t * t * 4 / 2**20:.1f} MiB"
        )


# %% note_line=234
if __name__ == "__main__":
    def saved_bytes(fn, *inputs):
        seen, total = set(), 0

        def pack(tensor):
            nonlocal total
            storage = tensor.untyped_storage()
            if storage.data_ptr() not in seen:
                seen.add(storage.data_ptr())
                total += storage.nbytes()
            return tensor

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            fn(*inputs)
        return total


    for t in (256, 1024):
        qkv = [
            torch.randn(1, heads, t, head_dim, device=dev, requires_grad=True)
            for _ in range(3)
        ]
        naive_b = saved_bytes(naive_attention, *qkv)
        fused_b = saved_bytes(
            lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True), *qkv
        )
        print(
            f"T={t:>4}: saved for backward  naive {naive_b / 2**20:6.2f} MiB   SDPA"
            f" {fused_b / 2**20:5.2f} MiB   ratio {naive_b / fused_b:.1f}x"
        )
        results[f"attention memory saved, T={t}"] = naive_b / fused_b
    assert (
        results["attention memory saved, T=1024"]
        > results["attention memory saved, T=256"]
        > 1.5
    )


# %% note_line=281
if __name__ == "__main__":
    @torch.no_grad()
    def decode_step_time(batch, context=32, steps=4):
        prompt = torch.randint(0, cfg.vocab_size, (batch, context), device=dev)
        cache = KVCache()
        logits, _ = model(prompt, kv_cache=cache)  # prefill
        nxt = logits[:, -1:].argmax(-1)

        def run():
            cache.crop(context)  # rewind to the prompt
            token = nxt
            for _ in range(steps):
                out, _ = model(token, kv_cache=cache)
                token = out[:, -1:].argmax(-1)

        return bench(run, repeats=3) / steps


    batch_sizes = [1, 2, 4, 8, 16, 32, 64]
    step_ms = [1e3 * decode_step_time(b) for b in batch_sizes]
    throughput = [b / (ms / 1e3) for b, ms in zip(batch_sizes, step_ms)]
    for b, ms, tps in zip(batch_sizes, step_ms, throughput):
        print(f"batch {b:>2}: {ms:6.2f} ms per step, {tps:8.0f} tokens/s")
    results["decode throughput, batch 64 vs 1"] = throughput[-1] / throughput[0]

    fig, ax = plt.subplots(1, 2, figsize=(7, 3.5))
    ax[0].plot(batch_sizes, step_ms, "o-")
    ax[0].set(
        xscale="log",
        xlabel="batch size",
        ylabel="ms per decode step",
        title="latency per step",
    )
    ax[1].plot(batch_sizes, throughput, "o-")
    ax[1].set(
        xscale="log",
        yscale="log",
        xlabel="batch size",
        ylabel="tokens / s",
        title="throughput",
    )
    plt.tight_layout()
    plt.show()
    assert throughput[-1] > 3 * throughput[0]


# %% note_line=336
if __name__ == "__main__":
    prompts = torch.randint(0, cfg.vocab_size, (8, 16), device=dev)
    with torch.no_grad():
        one_by_one = bench(
            lambda: [generate(model, prompts[i : i + 1], 24) for i in range(len(prompts))],
            repeats=1,
            warmup=0,
        )
        batched = bench(lambda: generate(model, prompts, 24), repeats=1, warmup=0)
        # batching must not change the numbers: the logits of one row alone and inside the
        # batch agree
        alone, _ = model(prompts[:1])
        together, _ = model(prompts)
    results["generation, batch of 8 vs one at a time"] = one_by_one / batched
    print(
        f"8 prompts x 24 new tokens: one at a time {one_by_one:.2f} s, batched"
        f" {batched:.2f} s -> {one_by_one / batched:.1f}x"
    )
    assert torch.allclose(alone, together[:1], atol=1e-4)
    assert one_by_one > 1.5 * batched


# %% note_line=369
if __name__ == "__main__":
    prompt = torch.randint(0, cfg.vocab_size, (1, 32), device=dev)
    n_new = 96
    with torch.no_grad():
        cached_ids = generate(model, prompt, n_new, use_cache=True)
        full_logits, _ = model(cached_ids[:, :-1])  # one ordinary forward pass
        cache = KVCache()
        step_logits = [model(cached_ids[:, :32], kv_cache=cache)[0]]
        for i in range(32, cached_ids.shape[1] - 1):  # then one token at a time
            step_logits.append(model(cached_ids[:, i : i + 1], kv_cache=cache)[0])
        incremental = torch.cat(step_logits, dim=1)
        t_cached = bench(lambda: generate(model, prompt, n_new, use_cache=True), repeats=1)
        t_full = bench(lambda: generate(model, prompt, n_new, use_cache=False), repeats=1)
        uncached_ids = generate(model, prompt, n_new, use_cache=False)

    print(f"max |incremental - full| logits: {(incremental - full_logits).abs().max():.2e}")
    print(
        f"same tokens with and without the cache: {torch.equal(cached_ids, uncached_ids)}"
    )
    print(
        f"{n_new} new tokens: without cache {t_full:.2f} s, with cache {t_cached:.2f} s "
        f"-> {t_full / t_cached:.1f}x"
    )
    results[f"KV cache, {n_new} tokens"] = t_full / t_cached
    assert torch.allclose(incremental, full_logits, atol=1e-4)
    assert t_full > t_cached


# %% note_line=415
if __name__ == "__main__":
    CHILD = r"""
import json, statistics, sys, time, warnings
warnings.filterwarnings("ignore")
import torch
dev = sys.argv[1]
torch.manual_seed(0)

def rmsnorm_swiglu(x, w, gate):
    h = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * w
    return torch.nn.functional.silu(h) * gate + x

def with_break(x):
    y = torch.nn.functional.silu(x) * x
    # a Python branch on a tensor value: Dynamo must break the graph
    if y.sum().item() > 0:
        y = y * 2
    return y.cos()

def bench(fn, *args, n=10):
    times = []
    for _ in range(n):
        start = time.perf_counter(); fn(*args)
        if dev == "cuda": torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)

x = torch.randn(64, 256, 256, device=dev)
w = torch.randn(256, device=dev)
gate = torch.randn_like(x)
bench(rmsnorm_swiglu, x, w, gate, n=2)
print(json.dumps({"eager_ms": 1e3 * bench(rmsnorm_swiglu, x, w, gate)}), flush=True)
import torch._dynamo
ex = torch._dynamo.explain(with_break)(torch.randn(10))
reason = str(ex.break_reasons[0].reason).splitlines()[0][:90]
graphs = {"graphs": ex.graph_count, "breaks": ex.graph_break_count, "reason": reason}
print(json.dumps(graphs), flush=True)
start = time.perf_counter()
compiled = torch.compile(rmsnorm_swiglu)
err = (compiled(x, w, gate) - rmsnorm_swiglu(x, w, gate)).abs().max().item()
compile_s = time.perf_counter() - start
print(json.dumps({"compile_s": compile_s, "max_err": err}), flush=True)
print(json.dumps({"compiled_ms": 1e3 * bench(compiled, x, w, gate)}), flush=True)
"""

    LIMIT_S = 30
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(CHILD)
    env = dict(os.environ, TORCHINDUCTOR_COMPILE_THREADS="1")  # no pool of compile workers
    proc = subprocess.Popen(
        [sys.executable, f.name, dev.type],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=LIMIT_S)
        finished = proc.returncode == 0
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)  # the child and anything it started
        out, _ = proc.communicate()
        finished = False
    os.unlink(f.name)

    compile_report = {}
    for line in out.splitlines():
        if line.startswith("{"):
            compile_report.update(json.loads(line))
    print("finished within the limit:", finished, "| measured:", compile_report)
    if "graphs" in compile_report:
        print(
            f"explain(): {compile_report['graphs']} graphs, {compile_report['breaks']}"
            f" graph break(s); reason: {compile_report['reason']}"
        )
    if "compiled_ms" in compile_report:
        speedup = compile_report["eager_ms"] / compile_report["compiled_ms"]
        results["torch.compile, RMSNorm+SwiGLU"] = speedup
        print(
            f"compile took {compile_report['compile_s']:.1f} s; eager"
            f" {compile_report['eager_ms']:.1f} ms, compiled"
            f" {compile_report['compiled_ms']:.1f} ms -> {speedup:.1f}x (max difference"
            f" {compile_report['max_err']:.1e})"
        )
        assert compile_report["max_err"] < 1e-3
    else:
        print(
            f"torch.compile did not finish within {LIMIT_S} s on this machine (Inductor"
            " generates and compiles C++ or Triton code on first use); the eager timing"
            " above is the baseline it would be compared with"
        )


# %% note_line=531
if __name__ == "__main__":
    print(f"{'measurement':<45} ratio")
    for name, ratio in results.items():
        print(f"{name:<45} {ratio:6.2f}x")
    assert results["decode throughput, batch 64 vs 1"] > 3
