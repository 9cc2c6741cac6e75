# generated from vault/Troubleshooting and Best Practices/Scaling LLM Applications.md — do not edit; regenerate with `llm-vault export`
# Import it: `from companions import serving_simulation` (the cells marked `export`).
# Run it: `python -m companions.serving_simulation` runs the whole note.

# %% export note_line=54
import math
import random
from collections import deque
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CostModel:
    """Seconds of accelerator time per serving step (affine in batch size and prompt
    tokens)."""

    decode_fixed: float
    decode_per_seq: float
    prefill_fixed: float
    prefill_per_token: float

    def decode(self, batch):
        return self.decode_fixed + self.decode_per_seq * batch

    def prefill(self, tokens):
        return self.prefill_fixed + self.prefill_per_token * tokens if tokens else 0.0


def fit_cost_model(batches, decode_s, prompt_tokens, prefill_s):
    """Least-squares lines through measured step times; slopes and intercepts kept
    non-negative."""
    d_slope, d_icpt = np.polyfit(batches, decode_s, 1)
    p_slope, p_icpt = np.polyfit(prompt_tokens, prefill_s, 1)
    return CostModel(
        max(float(d_icpt), 1e-5),
        max(float(d_slope), 0.0),
        max(float(p_icpt), 0.0),
        max(float(p_slope), 0.0),
    )


# %% note_line=96
if __name__ == "__main__":
    import statistics
    import time

    import matplotlib.pyplot as plt
    import torch

    from companions.llm_architecture import GPT, GPTConfig, KVCache
    from runner.env import seed_everything

    seed_everything(0)
    model = GPT(
        GPTConfig(vocab_size=96, block_size=320, n_layer=4, n_head=4, n_embd=128)
    ).eval()


    def median_time(fn, repeats=3):
        fn()  # warm-up
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return statistics.median(times)


    @torch.no_grad()
    def decode_time(batch, context=64, steps=4):
        cache = KVCache()
        model(torch.randint(0, 96, (batch, context)), kv_cache=cache)
        token = torch.zeros(batch, 1, dtype=torch.long)

        def run():
            cache.crop(context)
            for _ in range(steps):
                model(token, kv_cache=cache)

        return median_time(run) / steps


    @torch.no_grad()
    def prefill_time(tokens):
        prompt = torch.randint(0, 96, (1, tokens))
        return median_time(lambda: model(prompt))


    batches = [1, 4, 8, 16, 32]
    decode_s = [decode_time(b) for b in batches]
    prompt_tokens = [32, 128, 256]
    prefill_s = [prefill_time(n) for n in prompt_tokens]
    cost = fit_cost_model(batches, decode_s, prompt_tokens, prefill_s)

    for b, s in zip(batches, decode_s):
        print(
            f"decode step, batch {b:>2}: measured {1e3 * s:6.2f} ms, model"
            f" {1e3 * cost.decode(b):6.2f} ms"
        )
    for n, s in zip(prompt_tokens, prefill_s):
        print(
            f"prefill {n:>3} tokens:    measured {1e3 * s:6.2f} ms, model"
            f" {1e3 * cost.prefill(n):6.2f} ms"
        )
    print(
        f"fitted: decode = {1e3 * cost.decode_fixed:.2f} ms +"
        f" {1e3 * cost.decode_per_seq:.3f} ms/seq; prefill = {1e3 * cost.prefill_fixed:.2f}"
        f" ms + {1e6 * cost.prefill_per_token:.1f} µs/token"
    )
    print(
        f"one decode step at batch 16 costs {cost.decode(16) / cost.decode(1):.1f}x a step"
        " at batch 1, for 16x the tokens"
    )
    # the fixed part dominates: batching is cheap
    assert cost.decode(16) < 8 * cost.decode(1)


# %% export note_line=190
@dataclass
class Request:
    rid: int
    arrival: float
    prompt_len: int
    output_len: int
    key: int  # identifies the prompt text: equal keys = identical prompts
    start: float = math.nan  # scheduled (prefill begins)
    first_token: float = math.nan
    done: float = math.nan
    cached: bool = False


def make_workload(n, rate, seed=0, repeat_frac=0.0, n_popular=20):
    """n requests with Poisson arrivals at `rate` per second; a fraction repeats popular
    prompts."""
    rng = random.Random(seed)

    def output_len():
        # median ~67 tokens, long tail
        return max(8, min(512, int(rng.lognormvariate(4.2, 0.8))))

    popular = [(rng.randint(32, 256), output_len()) for _ in range(n_popular)]
    weights = [1.0 / (k + 1) for k in range(n_popular)]
    t, requests = 0.0, []
    for i in range(n):
        t += rng.expovariate(rate)
        if rng.random() < repeat_frac:
            key = rng.choices(range(n_popular), weights)[0]
            prompt_len, out_len = popular[key]
        else:
            key, prompt_len, out_len = n_popular + i, rng.randint(32, 256), output_len()
        requests.append(Request(i, t, prompt_len, out_len, key))
    return requests


def simulate(
    requests,
    cost,
    policy="continuous",
    max_batch=16,
    max_wait=0.0,
    cache=False,
    hit_latency=1e-3,
):
    """Run one server over the requests (sorted by arrival); returns copies with their
    timestamps filled in."""
    reqs = [
        Request(r.rid, r.arrival, r.prompt_len, r.output_len, r.key) for r in requests
    ]
    n, nxt, clock = len(reqs), 0, 0.0
    queue, running, completed_at = deque(), [], {}

    def admit_arrivals(until):
        nonlocal nxt
        while nxt < n and reqs[nxt].arrival <= until:
            r = reqs[nxt]
            nxt += 1
            if cache and completed_at.get(r.key, math.inf) <= r.arrival:
                r.cached, r.start = True, r.arrival
                r.first_token = r.done = r.arrival + hit_latency
            else:
                queue.append(r)

    def finish(r, t):
        r.done = t
        completed_at.setdefault(r.key, t)

    while nxt < n or queue or running:
        if not queue and not running:
            clock = max(clock, reqs[nxt].arrival)  # idle: jump to the next arrival
        admit_arrivals(clock)
        if policy == "static":
            if not queue:
                continue
            missing = max_batch - len(queue)
            if missing <= 0:
                full_at = clock
            elif nxt + missing - 1 < n:
                # when the batch would be full
                full_at = reqs[nxt + missing - 1].arrival
            else:
                full_at = math.inf
            start = max(clock, min(queue[0].arrival + max_wait, full_at))
            admit_arrivals(start)
            batch = [queue.popleft() for _ in range(min(max_batch, len(queue)))]
            clock = start + cost.prefill(sum(r.prompt_len for r in batch))
            step = cost.decode(len(batch))
            for r in batch:
                r.start, r.first_token = start, clock + step
            # everyone waits for the longest answer
            clock += step * max(r.output_len for r in batch)
            for r in batch:
                finish(r, clock)
        elif policy == "continuous":
            joining = []
            while queue and len(running) + len(joining) < max_batch:
                r = queue.popleft()
                r.start = clock
                joining.append(r)
            clock += cost.prefill(sum(r.prompt_len for r in joining)) + cost.decode(
                len(running) + len(joining)
            )
            running += [[r, 0] for r in joining]
            still_running = []
            for item in running:
                item[1] += 1  # one more token for every running sequence
                r = item[0]
                if item[1] == 1:
                    r.first_token = clock
                if item[1] >= r.output_len:
                    finish(r, clock)  # leaves the batch at once
                else:
                    still_running.append(item)
            running = still_running
        else:
            raise ValueError(f"unknown policy {policy!r}")
    return reqs


def summarize(reqs):
    latency = np.array([r.done - r.arrival for r in reqs])
    ttft = np.array([r.first_token - r.arrival for r in reqs])
    span = max(r.done for r in reqs) - min(r.arrival for r in reqs)
    out = {"throughput": sum(r.output_len for r in reqs) / span}
    for q in (50, 95, 99):
        out[f"p{q}"] = float(np.percentile(latency, q))
    out["ttft_p50"], out["ttft_p95"] = (
        float(np.percentile(ttft, 50)),
        float(np.percentile(ttft, 95)),
    )
    out["hit_rate"] = sum(r.cached for r in reqs) / len(reqs)
    return out


# %% note_line=330
if __name__ == "__main__":
    MAX_BATCH = 16
    sample = make_workload(20_000, rate=1.0, seed=123)
    mean_output = statistics.mean(r.output_len for r in sample)
    capacity = MAX_BATCH / cost.decode(MAX_BATCH) / mean_output  # requests per second
    MAX_WAIT = 5 * cost.decode(1)  # static batching window
    print(
        f"mean output length {mean_output:.1f} tokens; longest"
        f" {max(r.output_len for r in sample)}"
    )
    print(
        f"nominal capacity: {capacity:.2f} requests/s = {capacity * mean_output:.0f}"
        " tokens/s"
    )


    def row(name, s):
        return (
            f"{name:<22} {s['throughput']:>8.0f} {s['p50']:>8.2f} {s['p95']:>8.2f}"
            f" {s['p99']:>8.2f} {s['ttft_p50']:>9.3f} {s['ttft_p95']:>9.3f}"
        )


    HEADER = (
        f"{'':<22} {'tok/s':>8} {'p50 s':>8} {'p95 s':>8} {'p99 s':>8} {'TTFT p50':>9}"
        f" {'TTFT p95':>9}"
    )

    first = summarize(simulate(make_workload(300, 0.3 * capacity, seed=7), cost))
    again = summarize(simulate(make_workload(300, 0.3 * capacity, seed=7), cost))
    assert first == again  # same seed, same result


# %% note_line=368
if __name__ == "__main__":
    workload = make_workload(800, 0.2 * capacity, seed=1)
    static = summarize(simulate(workload, cost, "static", MAX_BATCH, max_wait=MAX_WAIT))
    continuous = summarize(simulate(workload, cost, "continuous", MAX_BATCH))
    print(f"offered: {0.2 * capacity * mean_output:.0f} tokens/s")
    print(HEADER)
    print(row("static batching", static))
    print(row("continuous batching", continuous))
    print(
        f"p95 latency: static / continuous = {static['p95'] / continuous['p95']:.1f}x; "
        f"TTFT p50: {static['ttft_p50'] / continuous['ttft_p50']:.0f}x"
    )
    assert continuous["p95"] < static["p95"] and continuous["ttft_p50"] < static["ttft_p50"]


# %% note_line=391
if __name__ == "__main__":
    flood = make_workload(600, rate=1e9, seed=2)  # everything arrives at t ≈ 0
    sat_static = summarize(simulate(flood, cost, "static", MAX_BATCH))
    sat_cont = summarize(simulate(flood, cost, "continuous", MAX_BATCH))
    useful = sum(r.output_len for r in flood)
    slots = sum(
        max(b.output_len for b in flood[i : i + MAX_BATCH]) * len(flood[i : i + MAX_BATCH])
        for i in range(0, len(flood), MAX_BATCH)
    )
    print(
        f"saturated throughput: static {sat_static['throughput']:.0f} tok/s, continuous"
        f" {sat_cont['throughput']:.0f} tok/s ->"
        f" {sat_cont['throughput'] / sat_static['throughput']:.1f}x"
    )
    print(
        f"static batching spends {1 - useful / slots:.0%} of its sequence-steps on padding "
        "(rows whose answer is already complete)"
    )
    assert sat_cont["throughput"] > 1.5 * sat_static["throughput"]


# %% note_line=425
if __name__ == "__main__":
    loads = [0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 1.0]
    sweep = {"static": [], "continuous": []}
    for load in loads:
        w = make_workload(600, load * capacity, seed=3)
        sweep["static"].append(
            summarize(simulate(w, cost, "static", MAX_BATCH, max_wait=MAX_WAIT))
        )
        sweep["continuous"].append(summarize(simulate(w, cost, "continuous", MAX_BATCH)))

    print(
        f"{'load':>5} {'static p95 s':>13} {'continuous p95 s':>17}"
        f" {'continuous p99 s':>17} {'tok/s cont.':>12}"
    )
    for load, s, c in zip(loads, sweep["static"], sweep["continuous"]):
        print(
            f"{load:>5.1f} {s['p95']:>13.2f} {c['p95']:>17.2f} {c['p99']:>17.2f}"
            f" {c['throughput']:>12.0f}"
        )

    fig, ax = plt.subplots(1, 2, figsize=(7, 3.5))
    for name, style in (("static", "s--"), ("continuous", "o-")):
        ax[0].plot(loads, [s["p95"] for s in sweep[name]], style, label=name)
        ax[1].plot(loads, [s["throughput"] for s in sweep[name]], style, label=name)
    ax[0].set(
        yscale="log", xlabel="offered load (fraction of capacity)", ylabel="p95 latency (s)"
    )
    ax[1].plot(
        loads,
        [l * capacity * mean_output for l in loads],
        ":",
        color="gray",
        label="offered",
    )
    ax[1].set(xlabel="offered load", ylabel="throughput (tokens/s)")
    ax[0].legend()
    ax[1].legend()
    plt.tight_layout()
    plt.show()

    cont_p95 = [c["p95"] for c in sweep["continuous"]]
    assert cont_p95[-1] > 2 * cont_p95[0]  # latency rises as load approaches capacity
    assert all(c["p95"] <= s["p95"] for s, c in zip(sweep["static"], sweep["continuous"]))


# %% note_line=479
if __name__ == "__main__":
    w = make_workload(2000, 0.7 * capacity, seed=4)
    done = simulate(w, cost, "continuous", MAX_BATCH)
    t_end = max(r.done for r in done)
    lam = len(done) / t_end
    mean_latency = statistics.mean(r.done - r.arrival for r in done)
    probe = random.Random(0)
    samples = [probe.uniform(0, t_end) for _ in range(4000)]
    arrivals = np.array([r.arrival for r in done])
    finishes = np.array([r.done for r in done])
    in_system = statistics.mean(
        int(((arrivals <= t) & (finishes > t)).sum()) for t in samples
    )
    print(
        f"measured average in system L = {in_system:.2f};  λ·W = {lam:.2f}/s ×"
        f" {mean_latency:.3f} s = {lam * mean_latency:.2f}"
    )
    assert abs(in_system - lam * mean_latency) / (lam * mean_latency) < 0.1


# %% note_line=505
if __name__ == "__main__":
    w = make_workload(1000, 0.7 * capacity, seed=5, repeat_frac=0.3)
    no_cache = summarize(simulate(w, cost, "continuous", MAX_BATCH))
    with_cache = summarize(simulate(w, cost, "continuous", MAX_BATCH, cache=True))
    print(HEADER)
    print(row("continuous", no_cache))
    print(row("continuous + cache", with_cache))
    print(
        f"cache hit rate {with_cache['hit_rate']:.0%}; p50 latency {no_cache['p50']:.2f} s"
        f" -> {with_cache['p50']:.2f} s"
    )
    assert with_cache["hit_rate"] > 0.15
    assert with_cache["p50"] < no_cache["p50"] and with_cache["p95"] <= no_cache["p95"]


# %% note_line=542
if __name__ == "__main__":
    baseline_p95 = sweep["continuous"][0]["p95"]
    # target: p95 at most twice that of a lightly loaded server
    slo_p95 = 2.0 * baseline_p95
    peak_rate = 5.0 * capacity  # expected peak: five servers' nominal capacity

    replicas, history = 0, []
    while True:
        replicas += 1
        s = summarize(
            simulate(
                make_workload(1000, peak_rate / replicas, seed=6),
                cost,
                "continuous",
                MAX_BATCH,
            )
        )
        history.append((replicas, s["p95"]))
        if s["p95"] <= slo_p95:
            break
    for k, p95 in history:
        print(
            f"{k} replica(s): load per replica {peak_rate / k / capacity:.2f}, p95"
            f" {p95:8.2f} s {'meets' if p95 <= slo_p95 else 'misses'} the SLO of"
            f" {slo_p95:.2f} s"
        )
    print(
        f"-> {replicas} replicas for a peak of {peak_rate:.1f} requests/s "
        f"({peak_rate / replicas / capacity:.0%} of nominal capacity each)"
    )
    assert replicas > 5  # the SLO needs headroom: no replica can run at 100%
