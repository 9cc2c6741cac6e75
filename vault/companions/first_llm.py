# generated from vault/Building LLMs/Building Your First LLM.md — do not edit; regenerate with `llm-vault export`
# Import it: `from companions import first_llm` (the cells marked `export`).
# Run it: `python -m companions.first_llm` runs the whole note.

# %% note_line=42
if __name__ == "__main__":
    import time

    import matplotlib.pyplot as plt
    import tiktoken
    import torch

    from companions import inference, llm_architecture as arch, parameters_vs_tokens as pvt
    from companions import (
        pretraining as pt,
        quantization as quant,
        training_processes as tp,
    )
    from runner.env import device, seed_everything

    seed_everything(0)
    dev = device()
    corpus = pt.load_corpus()
    char_tok = pt.CharTokenizer()

    sample_text = "Attention lets every token look back at the tokens before it."
    assert char_tok.decode(char_tok.encode(sample_text)) == sample_text
    print(f"corpus: {len(corpus):,} characters from the vault's notes")
    print(
        f"character tokenizer: {char_tok.vocab_size} ids; {sample_text[:20]!r} ->"
        f" {char_tok.encode(sample_text)[:20]}"
    )


# %% note_line=76
if __name__ == "__main__":
    t0 = time.perf_counter()
    merges = pvt.train_bpe(corpus[:30_000], vocab_size=512)
    bpe = pvt.RegexTokenizer.from_merges(merges)
    bpe_seconds = time.perf_counter() - t0
    gpt4 = tiktoken.get_encoding("cl100k_base")

    held_out = corpus[-20_000:]  # text the BPE merges were not learned from
    rows = [
        ("characters", char_tok.vocab_size, len(char_tok.encode(held_out))),
        ("our BPE (512 ids)", bpe.vocab_size, len(bpe.encode(held_out))),
        ("cl100k_base (GPT-4)", gpt4.n_vocab, len(gpt4.encode(held_out))),
    ]
    print(f"BPE trained on 30,000 characters in {bpe_seconds:.2f} s ({len(merges)} merges)")
    print(f"{'tokenizer':<22}{'vocabulary':>11}{'tokens':>9}{'chars/token':>13}")
    for name, vocab, n in rows:
        print(f"{name:<22}{vocab:>11,}{n:>9,}{len(held_out) / n:>13.2f}")
    print(
        "our BPE splits the sample as:", [bpe.decode([i]) for i in bpe.encode(sample_text)]
    )
    assert bpe.decode(bpe.encode(held_out)) == held_out
    assert rows[0][2] > rows[1][2] > rows[2][2]  # bigger vocabulary -> shorter sequences


# %% note_line=111
if __name__ == "__main__":
    mini_cfg = arch.GPTConfig(
        vocab_size=char_tok.vocab_size, block_size=64, n_layer=2, n_head=4, n_embd=64
    )
    torch.manual_seed(0)
    mini = arch.GPT(mini_cfg).to(dev)
    print(mini_cfg)
    print(
        f"{mini.num_params():,} parameters (formula:"
        f" {arch.param_count_formula(mini_cfg):,})"
    )
    assert mini.num_params() == arch.param_count_formula(mini_cfg)


# %% note_line=131
if __name__ == "__main__":
    ids = torch.tensor(char_tok.encode(corpus))
    train_ids, val_split = pt.split_ids(ids)
    g = torch.Generator().manual_seed(0)
    STEPS, BATCH = 120, 16
    result = tp.train(
        mini,
        lambda: pt.get_batch(train_ids, mini_cfg.block_size, BATCH, g, dev),
        steps=STEPS,
        max_lr=3e-3,
        warmup=10,
        weight_decay=0.1,
        grad_clip=1.0,
        eval_fn=lambda m: pt.estimate_loss(m, val_split, mini_cfg.block_size, iters=4),
        eval_every=25,
        log=None,
    )

    steps_, train_loss, val_loss = zip(*result["history"])
    print(
        f"{STEPS} steps x {BATCH} x {mini_cfg.block_size} characters in"
        f" {result['train_seconds']:.1f} s ({result['tokens_per_second']:,.0f}"
        " characters/s)"
    )
    print(
        f"validation loss {val_loss[0]:.3f} -> {val_loss[-1]:.3f} nats/char (uniform"
        f" guessing would be ln {char_tok.vocab_size} ="
        f" {torch.tensor(char_tok.vocab_size).log():.3f})"
    )

    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot(
        range(len(result["losses"])), result["losses"], lw=0.8, label="training batch loss"
    )
    ax.plot(steps_, val_loss, "o-", label="validation loss")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (nats/char)")
    ax.set_title("the miniature model learning")
    ax.legend()
    plt.tight_layout()
    plt.show()
    assert val_loss[-1] < val_loss[0] - 0.5


# %% note_line=181
if __name__ == "__main__":
    t0 = time.perf_counter()
    model, tok, info = pt.get_pretrained()
    draft, _, draft_info = pt.get_pretrained(size="draft")
    load_seconds = time.perf_counter() - t0
    cfg = model.config
    print(
        f"loaded in {load_seconds:.1f} s; checkpoint trained for"
        f" {info['train_seconds']:.0f} s at {info['tokens_per_second']:,.0f} characters/s"
    )
    print(
        f"pre-trained: {model.num_params():,} parameters, {cfg.n_layer} layers,"
        f" d={cfg.n_embd}, context {cfg.block_size}, validation loss {info['val_loss']:.3f}"
    )
    print(
        f"draft:       {draft.num_params():,} parameters, validation loss"
        f" {draft_info['val_loss']:.3f}"
    )


# %% note_line=207
if __name__ == "__main__":
    prompt = "## Next Steps\n\n- [["
    x = torch.tensor([char_tok.encode(prompt)], device=dev)
    for name, m in (("miniature", mini), ("pre-trained", model)):
        n = min(100, m.config.block_size - x.size(1))
        greedy = inference.generate(m, x, n, temperature=0)
        g = torch.Generator(device=dev).manual_seed(0)
        nucleus = inference.generate(m, x, n, temperature=0.8, top_p=0.9, generator=g)
        print(
            f"--- {name},"
            f" greedy:\n{prompt}{char_tok.decode(greedy[0, x.size(1) :].tolist())}"
        )
        print(
            f"--- {name}, temperature 0.8, top-p"
            f" 0.9:\n{prompt}{char_tok.decode(nucleus[0, x.size(1) :].tolist())}\n"
        )


# %% note_line=234
if __name__ == "__main__":
    model_cpu = model.cpu()
    q8 = quant.quantize_model(model_cpu, "int8_absmax_row")
    q4 = quant.quantize_model(model_cpu, "int4_group32")
    for name, m in (("fp32", model_cpu), ("int8 per row", q8), ("int4 group 32", q4)):
        print(
            f"{name:<14} Linear weights {quant.weight_bytes(m) / 1024:7.1f} KiB, whole"
            f" model {quant.model_bytes(m) / 1024:7.1f} KiB"
        )


# %% export note_line=250
import time

import torch

from companions import inference, quantization as quant


@torch.no_grad()
def measure(name, model, val_ids, prompt_ids, n_new=64):
    """One comparison row: parameters, stored bytes, validation perplexity, cached
    greedy decoding speed."""
    model = model.eval()
    dev = next(model.parameters()).device
    block = model.config.block_size
    ppl = quant.perplexity(model, val_ids, block)
    x = torch.tensor([prompt_ids], device=dev)
    inference.generate(model, x, 4)  # warm-up
    t0 = time.perf_counter()
    inference.generate(model, x, n_new)
    seconds = time.perf_counter() - t0
    # quantized weights are buffers
    n_params = sum(p.numel() for p in model.parameters()) + sum(
        m.in_features * m.out_features
        for m in model.modules()
        if isinstance(m, quant.QuantLinear)
    )
    return {
        "model": name,
        "params": n_params,
        "KiB": quant.model_bytes(model) / 1024,
        "perplexity": ppl,
        "tokens/s": n_new / seconds,
    }


def print_table(rows):
    print(
        f"{'model':<26}{'parameters':>12}{'KiB':>10}{'perplexity':>12}{'tokens/s':>10}"
    )
    for r in rows:
        print(
            f"{r['model']:<26}{r['params']:>12,}{r['KiB']:>10.1f}"
            f"{r['perplexity']:>12.3f}{r['tokens/s']:>10.0f}"
        )


# %% note_line=297
if __name__ == "__main__":
    from companions.first_llm import measure, print_table

    val_ids = torch.tensor(char_tok.encode(info["val_text"]))
    prompt_ids = char_tok.encode("The model ")
    torch.manual_seed(0)
    untrained = arch.GPT(arch.GPTConfig(**vars(cfg)))
    rows = [
        measure("untrained (random init)", untrained, val_ids, prompt_ids),
        measure("miniature (trained above)", mini.cpu(), val_ids, prompt_ids),
        measure("draft (pre-trained)", draft.cpu(), val_ids, prompt_ids),
        measure("pre-trained, fp32", model_cpu, val_ids, prompt_ids),
        measure("pre-trained, int8 row", q8, val_ids, prompt_ids),
        measure("pre-trained, int4 g32", q4, val_ids, prompt_ids),
    ]
    print_table(rows)
    ppl = {r["model"]: r["perplexity"] for r in rows}
    kib = {r["model"]: r["KiB"] for r in rows}
    # about uniform guessing
    assert 0.8 * cfg.vocab_size < ppl["untrained (random init)"] < 1.2 * cfg.vocab_size
    assert ppl["miniature (trained above)"] < ppl["untrained (random init)"] / 2
    assert ppl["pre-trained, fp32"] < ppl["miniature (trained above)"] / 2
    assert ppl["pre-trained, int4 g32"] <= 1.02 * ppl["pre-trained, fp32"]
    assert (
        kib["pre-trained, fp32"] > 3 * kib["pre-trained, int8 row"]
        and kib["pre-trained, fp32"] > 6 * kib["pre-trained, int4 g32"]
    )
