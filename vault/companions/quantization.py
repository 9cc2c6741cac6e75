# generated from vault/Advanced Topics/Quantization and Optimization.md — do not edit; regenerate with `llm-vault export`
# Import it: `from companions import quantization` (the cells marked `export`).
# Run it: `python -m companions.quantization` runs the whole note.

# %% note_line=33
if __name__ == "__main__":
    import copy
    import math
    import time
    import warnings

    import matplotlib.pyplot as plt
    import torch
    import torch.nn as nn

    from runner.env import seed_everything

    seed_everything(0)

    n_params = 7e9  # a "7B" model
    formats = {  # bits per weight, scales included
        "fp32": 32,
        "fp16 / bf16": 16,
        "int8, one fp32 scale per row of 4096": 8 + 32 / 4096,
        "int4, one fp16 scale per group of 32": 4 + 16 / 32,
        "int4, one fp16 scale per group of 128": 4 + 16 / 128,
    }
    for name, bits in formats.items():
        print(f"{name:<40} {bits:6.3f} bits/weight -> {n_params * bits / 8 / 1e9:6.2f} GB")


# %% export note_line=68
import copy
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


@torch.no_grad()
def perplexity(model, ids, block_size, batch_size=16):
    """exp(mean next-token cross-entropy) over non-overlapping windows of the 1-D tensor
    `ids`."""
    dev = next(model.parameters()).device
    n_win = (len(ids) - 1) // block_size
    x = ids[: n_win * block_size].view(n_win, block_size)
    y = ids[1 : n_win * block_size + 1].view(n_win, block_size)
    total, count = 0.0, 0
    for i in range(0, n_win, batch_size):
        logits, _ = model(x[i : i + batch_size].to(dev))
        loss = F.cross_entropy(
            logits.float().flatten(0, 1),
            y[i : i + batch_size].to(dev).flatten(),
            reduction="sum",
        )
        total, count = total + loss.item(), count + y[i : i + batch_size].numel()
    return math.exp(total / count)


# %% note_line=98
if __name__ == "__main__":
    from companions.pretraining import get_pretrained
    from companions.quantization import perplexity

    model, tok, info = get_pretrained()
    model = model.cpu().eval()  # this note measures CPU storage and CPU speed
    block = model.config.block_size
    val_ids = torch.tensor(tok.encode(info["val_text"]))[: 48 * block + 1]
    ppl_fp32 = perplexity(model, val_ids, block)
    print(
        f"model: {model.num_params():,} parameters; evaluating on {len(val_ids) - 1:,}"
        " validation characters"
    )
    print(f"fp32 perplexity: {ppl_fp32:.4f} (val loss {math.log(ppl_fp32):.4f} nats)")


# %% export note_line=131
def quantize_absmax_int8(w, per_row=False):
    """Symmetric int8: q = round(w / s), s = max|w| / 127 per tensor or per output row.
    Returns (q, scale)."""
    amax = w.abs().amax(dim=1, keepdim=True) if per_row else w.abs().max()
    scale = (amax.float() / 127).clamp(min=1e-12)
    q = torch.round(w / scale).clamp(-127, 127).to(torch.int8)
    return q, scale


def dequantize_absmax_int8(q, scale):
    return q.float() * scale


def quantize_zeropoint_int8(w, per_row=False):
    """Asymmetric int8: [min, max] (widened to include 0) -> [-128, 127]. Returns (q,
    scale, zero_point)."""
    lo = w.amin(dim=1, keepdim=True) if per_row else w.min()
    hi = w.amax(dim=1, keepdim=True) if per_row else w.max()
    lo, hi = lo.float().clamp(max=0), hi.float().clamp(min=0)
    scale = ((hi - lo) / 255).clamp(min=1e-12)
    zero = (-128 - torch.round(lo / scale)).clamp(-128, 127)
    q = (torch.round(w / scale) + zero).clamp(-128, 127).to(torch.int8)
    return q, scale, zero.to(torch.int8)


def dequantize_zeropoint_int8(q, scale, zero):
    return (q.float() - zero.float()) * scale


def pack_int4(q):
    """int8 values in [-8, 7], shape (rows, even cols) -> uint8 (rows, cols // 2), two
    nibbles per byte."""
    u = (q + 8).to(torch.uint8)
    return u[:, 0::2] | (u[:, 1::2] << 4)


def unpack_int4(packed):
    low = (packed & 0x0F).to(torch.int8) - 8
    high = (packed >> 4).to(torch.int8) - 8
    return torch.stack([low, high], dim=-1).reshape(packed.size(0), -1)


def quantize_int4_groupwise(w, group_size=32):
    """Symmetric 4-bit with one fp16 scale per group of `group_size` weights of a row.
    Returns (packed, scales)."""
    rows, cols = w.shape
    assert cols % group_size == 0 and group_size % 2 == 0
    groups = w.float().reshape(rows, cols // group_size, group_size)
    scale = (groups.abs().amax(dim=-1, keepdim=True) / 7).clamp(min=1e-6).half()
    q = (
        torch.round(groups / scale.float())
        .clamp(-8, 7)
        .to(torch.int8)
        .reshape(rows, cols)
    )
    return pack_int4(q), scale.squeeze(-1)


def dequantize_int4_groupwise(packed, scale, group_size=32):
    q = unpack_int4(packed).float()
    rows, cols = q.shape
    return (
        q.reshape(rows, cols // group_size, group_size) * scale.float()[..., None]
    ).reshape(rows, cols)


# %% note_line=203
if __name__ == "__main__":
    from companions.quantization import (
        dequantize_absmax_int8,
        dequantize_int4_groupwise,
        dequantize_zeropoint_int8,
        pack_int4,
        quantize_absmax_int8,
        quantize_int4_groupwise,
        quantize_zeropoint_int8,
        unpack_int4,
    )

    linears = {
        name: m
        for name, m in model.named_modules()
        if isinstance(m, nn.Linear) and name != "lm_head"
    }
    name, layer = max(linears.items(), key=lambda kv: kv[1].weight.numel())
    W = layer.weight.detach().float()
    print(f"largest Linear: {name} {tuple(W.shape)}")

    q, s = quantize_absmax_int8(W, per_row=True)
    assert q.dtype == torch.int8 and q.element_size() == 1
    # at most half a step
    assert ((dequantize_absmax_int8(q, s) - W).abs() <= s / 2 + 1e-7).all()

    W_zeros = W.clone()
    W_zeros[:, ::5] = 0.0  # plant exact zeros
    qz, sz, z = quantize_zeropoint_int8(W_zeros, per_row=True)
    W_back = dequantize_zeropoint_int8(qz, sz, z)
    assert (W_back[W_zeros == 0] == 0).all()  # 0 is stored exactly
    assert ((W_back - W_zeros).abs() <= sz / 2 + 1e-7).all()

    levels = torch.randint(-8, 8, (64, 128), dtype=torch.int8)
    packed = pack_int4(levels)
    assert (
        packed.dtype == torch.uint8
        and packed.shape == (64, 64)
        and torch.equal(unpack_int4(packed), levels)
    )

    q4, s4 = quantize_int4_groupwise(W, 32)
    err4 = (dequantize_int4_groupwise(q4, s4, 32) - W).abs().reshape(W.size(0), -1, 32)
    assert (err4 <= s4.float()[..., None] / 2 + 1e-6).all()
    print(
        f"int4: {W.numel():,} weights -> {q4.numel():,} bytes of packed values +"
        f" {s4.numel():,} fp16 scales"
    )
    print("all round-trip guarantees hold")


# %% note_line=262
if __name__ == "__main__":
    def rms(a):
        return a.pow(2).mean().sqrt().item()


    def reconstruct(w, how):
        if how == "int8 per tensor":
            return dequantize_absmax_int8(*quantize_absmax_int8(w))
        if how == "int8 per row":
            return dequantize_absmax_int8(*quantize_absmax_int8(w, per_row=True))
        return dequantize_int4_groupwise(*quantize_int4_groupwise(w, 32), 32)


    W_out = W.clone()
    W_out[0, 0] = 40 * W.abs().max()  # one outlier, in row 0
    columns = (
        "other rows, clean",
        "other rows, outlier",
        "its group, outlier",
        "rest of row 0, outlier",
    )
    print(f"{'scheme':<17}" + "".join(f"{c:>24}" for c in columns))
    errors = {}
    for how in ("int8 per tensor", "int8 per row", "int4 group 32"):
        err_clean = reconstruct(W, how) - W
        err_dirty = reconstruct(W_out, how) - W_out
        errors[how] = (
            rms(err_clean[1:]),
            rms(err_dirty[1:]),
            rms(err_dirty[0, 1:32]),
            rms(err_dirty[0, 32:]),
        )
        print(f"{how:<17}" + "".join(f"{e:>24.2e}" for e in errors[how]))
    clean_row0_outside = rms((reconstruct(W, "int4 group 32") - W)[0, 32:])
    # one weight hurts every row
    assert errors["int8 per tensor"][1] > 10 * errors["int8 per tensor"][0]
    for how in ("int8 per row", "int4 group 32"):
        # other rows untouched
        assert math.isclose(errors[how][0], errors[how][1], rel_tol=1e-6)
    # ...but its own row suffers
    assert errors["int8 per row"][3] > 10 * errors["int8 per row"][0]
    # int4: only its group suffers
    assert math.isclose(errors["int4 group 32"][3], clean_row0_outside, rel_tol=1e-6)
    assert errors["int4 group 32"][3] < errors["int8 per row"][3] / 2


# %% note_line=317
if __name__ == "__main__":
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for how in ("int8 per tensor", "int8 per row", "int4 group 32"):
        e = (reconstruct(W, how) - W).flatten()
        ax.hist(
            e.numpy(),
            bins=80,
            histtype="step",
            label=f"{how} (RMS {rms(e):.1e})",
            density=True,
        )
    ax.set_yscale("log")
    ax.set_xlabel("reconstruction error  ŵ − w")
    ax.set_ylabel("density (log)")
    ax.set_title(f"quantization error of {name}")
    ax.legend(fontsize=8)
    plt.tight_layout()
    plt.show()
    assert rms(reconstruct(W, "int8 per row") - W) <= rms(
        reconstruct(W, "int8 per tensor") - W
    )


# %% export note_line=357
SCHEMES = [
    "int8_absmax_tensor",
    "int8_absmax_row",
    "int8_zeropoint_tensor",
    "int8_zeropoint_row",
    "int4_group32",
]


class QuantLinear(nn.Module):
    """Linear layer with a quantized weight stored as integers and dequantized on the
    fly."""

    def __init__(self, linear, scheme, group_size=32):
        super().__init__()
        assert scheme in SCHEMES, scheme
        self.scheme, self.group_size = scheme, group_size
        self.in_features, self.out_features = linear.in_features, linear.out_features
        w = linear.weight.detach().float()
        per_row = scheme.endswith("_row")
        zero = None
        if scheme.startswith("int8_absmax"):
            q, scale = quantize_absmax_int8(w, per_row)
        elif scheme.startswith("int8_zeropoint"):
            q, scale, zero = quantize_zeropoint_int8(w, per_row)
        else:
            q, scale = quantize_int4_groupwise(w, group_size)
        self.register_buffer("qweight", q)
        self.register_buffer("scale", scale)
        self.register_buffer("zero_point", zero)
        self.bias = (
            None if linear.bias is None else nn.Parameter(linear.bias.detach().clone())
        )

    def dequantized_weight(self):
        if self.scheme.startswith("int8_absmax"):
            return dequantize_absmax_int8(self.qweight, self.scale)
        if self.scheme.startswith("int8_zeropoint"):
            return dequantize_zeropoint_int8(self.qweight, self.scale, self.zero_point)
        return dequantize_int4_groupwise(self.qweight, self.scale, self.group_size)

    def forward(self, x):
        return F.linear(x, self.dequantized_weight().to(x.dtype), self.bias)

    def storage_bytes(self):
        return sum(
            t.numel() * t.element_size()
            for t in (self.qweight, self.scale, self.zero_point)
            if t is not None
        )


def quantize_model(model, scheme, skip=("lm_head",)):
    """A copy of `model` whose nn.Linear layers (except those named in `skip`) are
    QuantLinear(scheme)."""
    qmodel = copy.deepcopy(model)
    for name, module in list(qmodel.named_modules()):
        for child_name, child in list(module.named_children()):
            full = f"{name}.{child_name}" if name else child_name
            if isinstance(child, nn.Linear) and full not in skip:
                setattr(module, child_name, QuantLinear(child, scheme))
    return qmodel.eval()


def weight_bytes(model, skip=("lm_head",)):
    """Bytes of the weight matrices of the (quantizable) Linear layers, scales and zero
    points included."""
    total = 0
    for name, module in model.named_modules():
        if name in skip:
            continue
        if isinstance(module, QuantLinear):
            total += module.storage_bytes()
        elif isinstance(module, nn.Linear):
            total += module.weight.numel() * module.weight.element_size()
    return total


def model_bytes(model):
    """Bytes of everything in the model's state_dict (tied tensors counted once)."""
    seen, total = set(), 0
    for t in model.state_dict().values():
        if t.data_ptr() not in seen:
            seen.add(t.data_ptr())
            total += t.numel() * t.element_size()
    return total


# %% note_line=448
if __name__ == "__main__":
    from companions.quantization import (
        SCHEMES,
        QuantLinear,
        model_bytes,
        quantize_model,
        weight_bytes,
    )

    fp32_linear = weight_bytes(model)
    n_linear_weights = fp32_linear // 4
    in_scope = [
        n for n, m in model.named_modules() if isinstance(m, nn.Linear) and n != "lm_head"
    ]
    print(
        f"quantized scope: {len(in_scope)} Linear layers, {n_linear_weights:,} weights ="
        f" {fp32_linear / 1024:.1f} KiB in fp32 (whole model"
        f" {model_bytes(model) / 1024:.1f} KiB)"
    )
    print()
    print(
        f"{'scheme':<24}{'Linear KiB':>11}{'bits/w':>8}{'smaller':>9}{'model KiB':>11}"
        f"{'perplexity':>12}{'change':>9}"
    )
    print(
        f"{'fp32':<24}{fp32_linear / 1024:>11.1f}{32:>8.2f}{1:>8.2f}x"
        f"{model_bytes(model) / 1024:>11.1f}"
        f"{ppl_fp32:>12.4f}{0:>8.2f}%"
    )
    results = {}
    for scheme in SCHEMES:
        qm = quantize_model(model, scheme)
        nbytes = weight_bytes(qm)
        ppl = perplexity(qm, val_ids, block)
        results[scheme] = dict(
            ratio=fp32_linear / nbytes, ppl=ppl, change=100 * (ppl / ppl_fp32 - 1)
        )
        print(
            f"{scheme:<24}{nbytes / 1024:>11.1f}{8 * nbytes / n_linear_weights:>8.2f}"
            f"{fp32_linear / nbytes:>8.2f}x"
            f"{model_bytes(qm) / 1024:>11.1f}{ppl:>12.4f}{results[scheme]['change']:>8.2f}%"
        )

    first = next(
        m
        for m in quantize_model(model, "int4_group32").modules()
        if isinstance(m, QuantLinear)
    )
    print(
        f"\nstorage of one int4 layer: qweight {first.qweight.dtype}"
        f" {tuple(first.qweight.shape)}, scales {first.scale.dtype}"
        f" {tuple(first.scale.shape)}"
    )

    r8, r4 = results["int8_absmax_row"], results["int4_group32"]
    assert r8["ratio"] >= 3.5 and r8["ppl"] <= ppl_fp32 * 1.005, r8
    assert r4["ratio"] >= 6.0 and r4["ppl"] <= ppl_fp32 * 1.02, r4
    # the fp16 scales cost half a bit per weight
    assert math.isclose(r4["ratio"], 32 / 4.5, rel_tol=0.01)


# %% note_line=527
if __name__ == "__main__":
    def forward_seconds(m, x, repeats=5):
        with torch.no_grad():
            m(x)  # warm-up
            best = float("inf")
            for _ in range(repeats):
                t0 = time.perf_counter()
                m(x)
                best = min(best, time.perf_counter() - t0)
        return best


    x_speed = val_ids[: 8 * block].view(8, block)
    t_fp32 = forward_seconds(model, x_speed)
    t_ours = forward_seconds(quantize_model(model, "int8_absmax_row"), x_speed)
    print(
        f"fp32 forward of 8x{block} tokens: {t_fp32 * 1e3:.1f} ms; our int8 (dequantize,"
        f" then fp32 matmul): {t_ours * 1e3:.1f} ms -> {t_fp32 / t_ours:.2f}x"
    )

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from torch.ao.quantization import quantize_dynamic

            dyn = quantize_dynamic(copy.deepcopy(model), {nn.Linear}, dtype=torch.qint8)
            ppl_dyn = perplexity(dyn, val_ids, block)
            t_dyn = forward_seconds(dyn, x_speed)
        print(
            f"torch dynamic int8: perplexity {ppl_dyn:.4f}"
            f" ({100 * (ppl_dyn / ppl_fp32 - 1):+.2f}%), forward {t_dyn * 1e3:.1f} ms ->"
            f" {t_fp32 / t_dyn:.2f}x the fp32 speed"
        )
    except Exception as exc:  # removed or unsupported in this torch build
        print(
            "torch.ao.quantization.quantize_dynamic is not available here:"
            f" {type(exc).__name__}: {exc}"
        )


# %% note_line=606
if __name__ == "__main__":
    def prune_copy(m, sparsity):
        pruned = copy.deepcopy(m)
        with torch.no_grad():
            for name, lin in pruned.named_modules():
                if isinstance(lin, nn.Linear) and name != "lm_head":
                    k = int(sparsity * lin.weight.numel())
                    threshold = lin.weight.abs().flatten().kthvalue(k).values
                    lin.weight.mul_(lin.weight.abs() > threshold)
        return pruned


    for sparsity in (0.3, 0.5, 0.7):
        ppl = perplexity(prune_copy(model, sparsity), val_ids, block)
        print(
            f"unstructured magnitude pruning {sparsity:.0%}: perplexity {ppl:.4f}"
            f" ({100 * (ppl / ppl_fp32 - 1):+.1f}%)"
        )

    # storage per original weight, in bits
    dense_fp16 = 16
    # kept fp16 value + 32-bit column index (row pointers negligible)
    csr_50 = 0.5 * (16 + 32)
    two_four = 0.5 * (16 + 2)  # 2:4 structured: 2 of every 4 kept, 2-bit position each
    print(
        f"fp16 dense {dense_fp16} bits/weight; 50% sparse CSR {csr_50:.0f}; 2:4 structured"
        f" {two_four:.0f} ({dense_fp16 / two_four:.2f}x smaller than dense)"
    )
    assert csr_50 >= dense_fp16


# %% note_line=650
if __name__ == "__main__":
    draft, _, _ = get_pretrained(size="draft")
    draft = draft.cpu().eval()
    with torch.no_grad():
        x = val_ids[: 8 * block].view(8, block)
        log_p = model(x)[0].float().log_softmax(-1)
        log_q = draft(x)[0].float().log_softmax(-1)
        kl = (log_p.exp() * (log_p - log_q)).sum(-1).mean().item()
    ppl_draft = perplexity(draft, val_ids, block)
    print(f"teacher {model.num_params():,} params, perplexity {ppl_fp32:.3f}")
    print(
        f"student {draft.num_params():,} params"
        f" ({model.num_params() / draft.num_params():.1f}x fewer), perplexity"
        f" {ppl_draft:.3f}"
    )
    print(
        f"KL(teacher || student) = {kl:.3f} nats per character; "
        f"cross-entropy gap = {math.log(ppl_draft) - math.log(ppl_fp32):.3f} nats"
    )
    assert kl > 0


# %% note_line=681
if __name__ == "__main__":
    def kv_bytes_per_token(n_layer, n_kv_head, head_dim, bytes_per_number=2):
        return 2 * n_layer * n_kv_head * head_dim * bytes_per_number


    cfg = model.config
    ours = kv_bytes_per_token(cfg.n_layer, cfg.n_kv_head, cfg.head_dim, 4)
    print(
        f"our model (fp32): {ours:,} bytes/token -> {ours * cfg.block_size / 1024:.0f} KiB"
        f" for a full {cfg.block_size}-token window"
    )

    configs = {  # layers, KV heads, head dim (published configs)
        "Llama-2-7B  (MHA, 32 KV heads)": (32, 32, 128),
        "Llama-3-8B  (GQA, 8 KV heads)": (32, 8, 128),
    }
    ctx, batch = 8192, 16
    for name, (n_layer, n_kv, hd) in configs.items():
        per_tok = kv_bytes_per_token(n_layer, n_kv, hd)
        total = per_tok * ctx * batch
        print(
            f"{name}: {per_tok / 1024:.0f} KiB/token fp16; {batch} sequences x {ctx} tokens"
            f" = {total / 2**30:.1f} GiB (int8 cache: {total / 2 / 2**30:.1f} GiB)"
        )
