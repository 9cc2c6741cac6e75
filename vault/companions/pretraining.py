# generated from vault/Building LLMs/Pre-training from Scratch.md — do not edit; regenerate with `llm-vault export`
# Import it: `from companions import pretraining` (the cells marked `export`).
# Run it: `python -m companions.pretraining` runs the whole note.

# %% export note_line=51
import importlib
import inspect
import re
from dataclasses import asdict
from pathlib import Path

import torch

from runner.env import artifact, fingerprint, vault_notes, device as default_device
from companions import llm_architecture as arch
from companions import training_processes as tp

ALPHABET = "\n" + "".join(chr(c) for c in range(32, 127))  # newline + printable ASCII
UNK = "\ufffd"  # every other character maps to this one id


class CharTokenizer:
    def __init__(self, chars=ALPHABET):
        self.chars = list(chars) + [UNK]
        self.stoi = {c: i for i, c in enumerate(self.chars)}
        self.unk_id = len(self.chars) - 1

    @property
    def vocab_size(self):
        return len(self.chars)

    def encode(self, text):
        return [self.stoi.get(c, self.unk_id) for c in text]

    def decode(self, ids):
        return "".join(self.chars[int(i)] for i in ids)


def load_corpus():
    """All notes of the vault, sorted by path, front matter removed, separated by blank
    lines."""
    parts = []
    for path in vault_notes():
        text = path.read_text(encoding="utf-8")
        text = re.sub(r"\A---\n.*?\n---\n", "", text, flags=re.S)
        parts.append(text.strip())
    return "\n\n".join(parts) + "\n"


def split_ids(ids, chunk=1000, every=10):
    """Every `every`-th chunk of `chunk` tokens goes to validation, so both splits cover
    every note."""
    ids = torch.as_tensor(ids, dtype=torch.long)
    is_val = torch.zeros(len(ids), dtype=torch.bool)
    for c in range(every - 1, len(ids) // chunk, every):
        is_val[c * chunk : (c + 1) * chunk] = True
    return ids[~is_val], ids[is_val]


# %% note_line=106
if __name__ == "__main__":
    from runner.env import device, seed_everything

    seed_everything(0)
    tok = CharTokenizer()
    text = load_corpus()
    ids = tok.encode(text)
    train_ids, val_ids = split_ids(ids)
    n_unk = sum(i == tok.unk_id for i in ids)
    print(
        f"{len(vault_notes())} notes, {len(text):,} characters, vocabulary {tok.vocab_size}"
    )
    print(
        f"train {len(train_ids):,} / validation {len(val_ids):,} characters; "
        f"{n_unk / len(ids):.2%} of characters fall back to the unknown id"
    )
    sample = "Attention is all you need\n"
    assert tok.decode(tok.encode(sample)) == sample
    assert tok.encode("→ é") == [tok.unk_id, tok.stoi[" "], tok.unk_id]


# %% export note_line=136
def get_batch(split_ids, block_size, batch_size, generator, device="cpu"):
    starts = torch.randint(
        len(split_ids) - block_size - 1, (batch_size,), generator=generator
    )
    x = torch.stack([split_ids[s : s + block_size] for s in starts.tolist()])
    y = torch.stack([split_ids[s + 1 : s + block_size + 1] for s in starts.tolist()])
    return x.to(device), y.to(device)


@torch.no_grad()
def estimate_loss(model, split_ids, block_size, batch_size=32, iters=10, seed=1234):
    """Mean loss over `iters` batches drawn with a fixed seed: the same batches every
    time it is called."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    g = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(iters):
        x, y = get_batch(split_ids, block_size, batch_size, g, device)
        with tp.autocast(device):
            losses.append(model(x, y)[1].item())
    model.train(was_training)
    return sum(losses) / len(losses)


# %% note_line=165
if __name__ == "__main__":
    import math

    x, y = get_batch(train_ids, 24, 2, torch.Generator().manual_seed(0))
    print("input :", repr(tok.decode(x[0].tolist())))
    print("target:", repr(tok.decode(y[0].tolist())))
    assert torch.equal(x[0, 1:], y[0, :-1])

    V = tok.vocab_size
    uniform = math.log(V)
    counts = torch.bincount(train_ids, minlength=V).float() + 0.1
    unigram = -(counts / counts.sum()).log()[val_ids].mean().item()
    pairs = (
        torch.bincount(train_ids[:-1] * V + train_ids[1:], minlength=V * V)
        .float()
        .view(V, V)
        + 0.1
    )
    bigram_logp = (pairs / pairs.sum(dim=1, keepdim=True)).log()
    bigram = -bigram_logp[val_ids[:-1], val_ids[1:]].mean().item()
    baselines = {"uniform": uniform, "unigram": unigram, "bigram": bigram}
    for name, value in baselines.items():
        print(
            f"{name:8} baseline: {value:.3f} nats/char  (perplexity {math.exp(value):5.1f})"
        )
    assert uniform > unigram > bigram


# %% export note_line=202
# (model config, training recipe) per size and device type
SPECS = {
    ("small", "cpu"): (
        dict(n_layer=4, n_head=4, n_embd=128, block_size=128),
        dict(steps=800, batch_size=8, max_lr=4e-3, warmup=40),
    ),
    ("draft", "cpu"): (
        dict(n_layer=2, n_head=4, n_embd=64, block_size=128),
        dict(steps=600, batch_size=8, max_lr=1e-2, warmup=30),
    ),
    ("small", "cuda"): (
        dict(n_layer=6, n_head=8, n_kv_head=4, n_embd=256, block_size=256),
        dict(steps=3000, batch_size=64, max_lr=2e-3, warmup=100),
    ),
    ("draft", "cuda"): (
        dict(n_layer=2, n_head=4, n_embd=96, block_size=256),
        dict(steps=600, batch_size=64, max_lr=3e-3, warmup=30),
    ),
}


def _code(module):
    """The `export` cells of a companion without comment lines: editing a note's prose
    or one of its
    demonstration cells (the `if __name__ == "__main__":` parts) never invalidates the
    checkpoint."""
    src = Path(inspect.getsourcefile(module)).read_text()
    cells = re.split(r"^# %%", src, flags=re.M)
    if len(cells) > 1:
        src = "\n".join(
            c.split("\n", 1)[-1] for c in cells[1:] if c.startswith(" export")
        )
    return "\n".join(
        line for line in src.splitlines() if not line.lstrip().startswith("#")
    )


def training_fingerprint(size, device_type):
    modules = [arch, tp, importlib.import_module("companions.pretraining")]
    return fingerprint(*map(_code, modules), size, device_type)


def pretrain(size="small", device=None, log=print, seed=0):
    """Train a character-level GPT on the vault; returns (model, tokenizer, info)."""
    device = torch.device(device or default_device())
    model_kw, recipe = SPECS[(size, device.type)]
    tok = CharTokenizer()
    text = load_corpus()
    train_ids, val_ids = split_ids(tok.encode(text))
    torch.manual_seed(seed)
    cfg = arch.GPTConfig(vocab_size=tok.vocab_size, **model_kw)
    model = arch.GPT(cfg).to(device)
    g = torch.Generator().manual_seed(seed)
    T, B = cfg.block_size, recipe["batch_size"]
    result = tp.train(
        model,
        lambda: get_batch(train_ids, T, B, g, device),
        steps=recipe["steps"],
        max_lr=recipe["max_lr"],
        warmup=recipe["warmup"],
        weight_decay=0.1,
        grad_clip=1.0,
        eval_fn=lambda m: estimate_loss(m, val_ids, T),
        eval_every=max(1, recipe["steps"] // 10),
        log=log,
    )
    info = dict(
        size=size,
        device=device.type,
        config=asdict(cfg),
        recipe=recipe,
        num_params=model.num_params(),
        val_loss=result["history"][-1][2],
        train_loss=result["history"][-1][1],
        train_seconds=result["train_seconds"],
        tokens_per_second=result["tokens_per_second"],
        tokens_seen=result["tokens"],
        history=result["history"],
        lrs=result["lrs"],
        grad_norms=result["grad_norms"],
        corpus_chars=len(text),
        train_chars=len(train_ids),
        val_text=tok.decode(val_ids[:8000].tolist()),
    )
    return model.eval(), tok, info


def get_pretrained(size="small", device=None):
    """The cached character-level GPT trained on this vault: (model in eval mode,
    tokenizer, info)."""
    device = torch.device(device or default_device())

    def build(path):
        model, tok, info = pretrain(size, device)
        torch.save(
            {
                "config": info["config"],
                "chars": "".join(tok.chars[:-1]),
                "info": info,
                "state_dict": {k: v.cpu() for k, v in model.state_dict().items()},
            },
            path,
        )

    path = artifact(
        f"char_gpt_{size}_{device.type}.pt",
        training_fingerprint(size, device.type),
        build,
    )
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    model = arch.GPT(arch.GPTConfig(**ckpt["config"]))
    model.load_state_dict(ckpt["state_dict"])
    return model.to(device).eval(), CharTokenizer(ckpt["chars"]), ckpt["info"]


# %% note_line=321
if __name__ == "__main__":
    dev = device()
    model, tok, info = get_pretrained("small", dev)
    print(
        f"device {info['device']}: {info['num_params']:,} parameters, config"
        f" {info['config']}"
    )
    print(f"recipe {info['recipe']}")
    print(
        f"trained on {info['tokens_seen']:,} characters"
        f" ({info['tokens_seen'] / info['train_chars']:.1f} epochs of"
        f" {info['train_chars']:,}) in {info['train_seconds']:.1f} s ="
        f" {info['tokens_per_second']:,.0f} tokens/s"
    )
    print(f"\n{'step':>5} {'train':>7} {'val':>7}")
    for step, tr, va in info["history"]:
        print(f"{step:>5} {tr:>7.3f} {va:>7.3f}")
    print(
        f"\nfinal validation loss {info['val_loss']:.3f} nats/char (perplexity"
        f" {math.exp(info['val_loss']):.2f}); bigram baseline {baselines['bigram']:.3f}"
    )
    assert (
        model.num_params() == info["num_params"] == arch.param_count_formula(model.config)
    )
    if dev.type == "cpu":
        assert 0.7e6 < info["num_params"] < 0.9e6
    assert info["val_loss"] <= 2.0
    assert info["val_loss"] < baselines["bigram"] - 0.3


# %% note_line=351
if __name__ == "__main__":
    import matplotlib.pyplot as plt

    steps_, train_, val_ = zip(*info["history"])
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.5))
    ax[0].plot(steps_, train_, "o-", label="train (mean since last eval)")
    ax[0].plot(steps_, val_, "s-", label="validation")
    for name, value in baselines.items():
        ax[0].axhline(value, ls=":", color="gray")
        ax[0].text(
            steps_[-1], value, f" {name}", va="bottom", ha="right", fontsize=8, color="gray"
        )
    ax[0].set_xlabel("step")
    ax[0].set_ylabel("nats / character")
    ax[0].set_title("Loss curves")
    ax[0].legend()
    ax[1].plot(info["lrs"], label="learning rate")
    ax1b = ax[1].twinx()
    ax1b.plot(info["grad_norms"], color="tab:orange", lw=0.7, alpha=0.8)
    ax[1].set_xlabel("step")
    ax[1].set_title("LR (blue) and gradient norm before clipping (orange)")
    plt.tight_layout()
    plt.show()

    print(f"first evaluations: {[round(v, 3) for _, _, v in info['history'][:3]]}")
    assert (
        info["history"][1][2] < baselines["unigram"]
        and info["history"][2][2] < baselines["bigram"]
    )
    print(f"final train {info['train_loss']:.3f} vs validation {info['val_loss']:.3f}")
    assert abs(info["train_loss"] - info["val_loss"]) < 0.1


# %% note_line=397
if __name__ == "__main__":
    @torch.no_grad()
    def sample_text(model, tok, prompt, n_chars=300, temperature=0.8, seed=0):
        g = torch.Generator().manual_seed(seed)
        dev = next(model.parameters()).device
        idx = torch.tensor([tok.encode(prompt)], device=dev)
        for _ in range(n_chars):
            logits, _ = model(idx[:, -model.config.block_size :])
            probs = (logits[0, -1].float() / temperature).softmax(dim=-1).cpu()
            next_id = torch.multinomial(probs, 1, generator=g).to(dev)
            idx = torch.cat([idx, next_id[None]], dim=1)
        return tok.decode(idx[0].tolist())


    for prompt in ("## Attention\n\nThe ", "```python\nimport torch\n"):
        out = sample_text(model, tok, prompt)
        print(out, "\n" + "-" * 60)
        assert out.startswith(prompt) and len(out) == len(prompt) + 300


# %% note_line=426
if __name__ == "__main__":
    sentence = "The model reads every token."
    layer = model.blocks[-1].attn
    layer.store_attn = True
    with torch.no_grad():
        model(torch.tensor([tok.encode(sentence)], device=next(model.parameters()).device))
    layer.store_attn = False
    weights = layer.last_attn[0].float().cpu()  # (heads, T, T)
    T = len(sentence)
    assert torch.allclose(weights.sum(-1), torch.ones(weights.shape[:2]), atol=1e-5)
    assert (weights.triu(diagonal=1) == 0).all()  # causal: nothing above the diagonal

    fig, axes = plt.subplots(1, weights.shape[0], figsize=(3 * weights.shape[0], 3.4))
    labels = [c if c != " " else "␣" for c in sentence]
    for h, ax in enumerate(axes):
        ax.imshow(weights[h], cmap="viridis")
        ax.set_title(f"layer {len(model.blocks) - 1}, head {h}")
        ax.set_xticks(range(T))
        ax.set_xticklabels(labels, fontsize=6)
        ax.set_yticks(range(T))
        ax.set_yticklabels(labels, fontsize=6)
    plt.tight_layout()
    plt.show()

    pos = torch.arange(T)
    distance = (
        (weights * (pos[:, None] - pos[None, :]).clamp(min=0)).sum(-1)[:, 5:].mean(-1)
    )
    previous = weights[:, pos[1:], pos[:-1]].mean(-1)
    for h in range(weights.shape[0]):
        print(
            f"head {h}: mean attention distance {distance[h]:.1f} characters, weight on the"
            f" previous character {previous[h]:.2f}"
        )


# %% note_line=472
if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ckpt.pt"
        torch.save(
            {
                "config": asdict(model.config),
                "chars": "".join(tok.chars[:-1]),
                "state_dict": model.state_dict(),
            },
            path,
        )
        size_kb = path.stat().st_size / 1024
        ck = torch.load(path, map_location="cpu", weights_only=True)
    restored = (
        arch.GPT(arch.GPTConfig(**ck["config"])).to(next(model.parameters()).device).eval()
    )
    restored.load_state_dict(ck["state_dict"])
    probe = torch.tensor(
        [tok.encode("Checkpoints make training restartable.")],
        device=next(model.parameters()).device,
    )
    with torch.no_grad():
        same = torch.equal(model(probe)[0], restored(probe)[0])
    print(
        f"checkpoint {size_kb:.0f} KiB, {len(ck['state_dict'])} tensors; identical logits"
        f" after reload: {same}"
    )
    assert same and CharTokenizer(ck["chars"]).encode("abc") == tok.encode("abc")


# %% note_line=513
if __name__ == "__main__":
    draft, draft_tok, draft_info = get_pretrained("draft", dev)
    print(
        f"draft: {draft_info['num_params']:,} parameters"
        f" ({draft_info['num_params'] / info['num_params']:.1%} of the small model), val"
        f" loss {draft_info['val_loss']:.3f}, trained {draft_info['train_seconds']:.1f} s"
        f" at {draft_info['tokens_per_second']:,.0f} tokens/s"
    )
    assert draft_tok.chars == tok.chars and draft.num_params() < info["num_params"] / 5
    assert draft_info["val_loss"] < baselines["bigram"]


# %% note_line=548
if __name__ == "__main__":
    import os, socket, subprocess, sys, tempfile, textwrap
    from runner.env import vault_dir

    ddp_script = textwrap.dedent("""
    import os, sys, torch, torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP
    from companions import llm_architecture as arch, training_processes as tp
    from companions.pretraining import get_batch

    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    data, out_dir = torch.load(sys.argv[1]), sys.argv[2]
    steps, vocab = int(sys.argv[3]), int(sys.argv[4])
    torch.manual_seed(0)  # DDP also broadcasts rank 0's weights at wrap time
    config = arch.GPTConfig(
        vocab_size=vocab, block_size=64, n_layer=2, n_head=4, n_embd=64
    )
    model = DDP(arch.GPT(config))
    opt = tp.make_optimizer(model.module, lr=1e-3)
    g = torch.Generator().manual_seed(100 + rank)  # each rank draws different batches
    losses = []
    for step in range(steps):
        x, y = get_batch(data, 64, 8, g)
        _, loss = model(x, y)
        loss.backward()  # gradients are all-reduced (averaged) here
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step(); opt.zero_grad()
        losses.append(loss.item())
    state = {"state_dict": model.module.state_dict(), "losses": losses, "world": world}
    torch.save(state, os.path.join(out_dir, f"rank{rank}.pt"))
    dist.destroy_process_group()
""")


    def free_port():
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]


    STEPS = 5
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "ddp_train.py").write_text(ddp_script)
        torch.save(train_ids[:100_000].clone(), Path(tmp, "data.pt"))
        env = dict(
            os.environ,
            OMP_NUM_THREADS="1",
            PYTHONPATH=os.pathsep.join(
                [
                    str(vault_dir()),
                    str(vault_dir().parent),
                    os.environ.get("PYTHONPATH", ""),
                ]
            ),
        )
        cmd = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node=2",
            f"--master_port={free_port()}",
            str(Path(tmp, "ddp_train.py")),
            str(Path(tmp, "data.pt")),
            tmp,
            str(STEPS),
            str(tok.vocab_size),
        ]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
        assert proc.returncode == 0, proc.stderr[-3000:]
        ranks = [torch.load(Path(tmp, f"rank{r}.pt"), weights_only=True) for r in range(2)]
        data = torch.load(Path(tmp, "data.pt"))

    for r, res in enumerate(ranks):
        print(
            f"rank {r}: world size {res['world']}, losses on its own batches",
            [f"{l:.3f}" for l in res["losses"]],
        )
    diff = max(
        (ranks[0]["state_dict"][k] - ranks[1]["state_dict"][k]).abs().max().item()
        for k in ranks[0]["state_dict"]
    )
    print(f"max |rank 0 - rank 1| over all weights after {STEPS} steps: {diff}")
    assert diff == 0.0

    # the same 5 steps in one process, on both ranks' batches concatenated (16 sequences per
    # step)
    torch.manual_seed(0)
    single = arch.GPT(
        arch.GPTConfig(
            vocab_size=tok.vocab_size, block_size=64, n_layer=2, n_head=4, n_embd=64
        )
    )
    opt = tp.make_optimizer(single, lr=1e-3)
    gens = [torch.Generator().manual_seed(100 + r) for r in range(2)]
    for step in range(STEPS):
        xs, ys = zip(*(get_batch(data, 64, 8, g) for g in gens))
        _, loss = single(torch.cat(xs), torch.cat(ys))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(single.parameters(), 1.0)
        opt.step()
        opt.zero_grad()
    gap = max(
        (single.state_dict()[k] - v).abs().max().item()
        for k, v in ranks[0]["state_dict"].items()
    )
    print(f"max |DDP weights - single-process large-batch weights| = {gap:.2e}")
    assert gap < 1e-5
