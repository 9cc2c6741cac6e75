# generated from vault/Tools and Frameworks/Hugging Face Transformers Guide.md — do not edit; regenerate with `llm-vault export`
# Import it: `from companions import hugging_face_transformers_guide` (the cells marked `export`).
# Run it: `python -m companions.hugging_face_transformers_guide` runs the whole note.

# %% note_line=17
if __name__ == "__main__":
    import math, random, tempfile, time, warnings
    from pathlib import Path
    import torch

    warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm's notebook hint
    import transformers
    from transformers.utils import logging as hf_logging
    from runner.env import device, seed_everything

    seed_everything(0)
    hf_logging.set_verbosity_error()  # keep the output to what the cells print
    hf_logging.disable_progress_bar()
    DEV = device()
    print(
        "transformers",
        transformers.__version__,
        "| torch",
        torch.__version__,
        "| device",
        DEV,
    )


# %% note_line=49
if __name__ == "__main__":
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    rng = random.Random(0)
    SUBJECTS = [
        "the model",
        "a tokenizer",
        "the trainer",
        "an adapter",
        "the GPU",
        "the researcher",
    ]
    VERBS = ["reads", "writes", "learns", "predicts", "compresses", "generates"]
    OBJECTS = ["tokens", "text", "gradients", "weights", "answers", "batches"]
    corpus = [
        f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}."
        for _ in range(3000)
    ]
    print(corpus[:3])

    SPECIALS = ["<|pad|>", "<|bos|>", "<|eos|>"]
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(
        corpus,
        trainers.BpeTrainer(
            vocab_size=400,
            special_tokens=SPECIALS,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        ),
    )
    print(
        "vocabulary:",
        bpe.get_vocab_size(),
        "| 'the researcher generates answers.' ->",
        bpe.encode("the researcher generates answers.").tokens,
    )


# %% note_line=100
if __name__ == "__main__":
    from transformers import PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast(
        tokenizer_object=bpe, bos_token="<|bos|>", eos_token="<|eos|>", pad_token="<|pad|>"
    )
    batch = tok(
        ["the model learns weights.", "an adapter reads text and writes answers."],
        padding=True,
        return_tensors="pt",
    )
    print("input_ids:\n", batch["input_ids"])
    print("attention_mask:\n", batch["attention_mask"])
    print("round trip:", tok.decode(batch["input_ids"][1], skip_special_tokens=True))
    assert (
        tok.decode(batch["input_ids"][1], skip_special_tokens=True)
        == "an adapter reads text and writes answers."
    )
    assert tok.pad_token_id != tok.eos_token_id


# %% note_line=133
if __name__ == "__main__":
    from transformers import AutoModelForCausalLM, GPT2Config, LlamaConfig

    common = dict(
        vocab_size=len(tok),
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    gpt2_cfg = GPT2Config(n_embd=64, n_layer=2, n_head=4, n_positions=64, **common)
    llama_cfg = LlamaConfig(
        hidden_size=64,
        intermediate_size=176,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
        tie_word_embeddings=True,
        **common,
    )

    torch.manual_seed(0)
    gpt2 = AutoModelForCausalLM.from_config(gpt2_cfg)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(llama_cfg).to(DEV)
    for m in (gpt2, model):
        layer0 = sorted(
            {n.split(".", 3)[-1] for n, _ in m.named_parameters() if ".0." in n}
        )
        print(
            f"{type(m).__name__:18} {m.num_parameters():>7,} parameters | layer 0: {layer0}"
        )


# %% note_line=177
if __name__ == "__main__":
    enc = tok(corpus[:8], padding=True, return_tensors="pt").to(DEV)
    # no loss on padding
    labels = enc["input_ids"].masked_fill(enc["attention_mask"] == 0, -100)
    model.eval()
    with torch.no_grad():
        out = model(**enc, labels=labels)
    print(
        type(out).__name__, "fields:", list(out.keys()), "| logits", tuple(out.logits.shape)
    )

    manual = torch.nn.functional.cross_entropy(
        out.logits[:, :-1].flatten(0, 1), labels[:, 1:].flatten(), ignore_index=-100
    )
    print(
        f"built-in loss {out.loss.item():.4f} = manual shifted loss {manual.item():.4f}; "
        f"untrained baseline ln(vocab) = {math.log(len(tok)):.4f}"
    )
    assert torch.allclose(out.loss, manual, atol=1e-5)
    assert abs(out.loss.item() - math.log(len(tok))) < 0.5


# %% note_line=208
if __name__ == "__main__":
    from transformers import DataCollatorForLanguageModeling, Trainer, TrainingArguments

    train_texts = [s + tok.eos_token for s in corpus[:2400]]
    eval_enc = tok(
        [s + tok.eos_token for s in corpus[2400:2464]], padding=True, return_tensors="pt"
    ).to(DEV)
    train_dataset = [{"input_ids": ids} for ids in tok(train_texts)["input_ids"]]
    collator = DataCollatorForLanguageModeling(tokenizer=tok, mlm=False)


    @torch.no_grad()
    def eval_loss(m):
        m.eval()
        lab = eval_enc["input_ids"].masked_fill(eval_enc["attention_mask"] == 0, -100)
        return m(**eval_enc, labels=lab).loss.item()


    STEPS, BATCH, LR = 60, 32, 3e-3
    loss_before = eval_loss(model)
    t0 = time.perf_counter()
    args = TrainingArguments(
        output_dir=tempfile.mkdtemp(),
        max_steps=STEPS,
        per_device_train_batch_size=BATCH,
        learning_rate=LR,
        warmup_steps=5,
        logging_steps=20,
        save_strategy="no",
        report_to="none",
        seed=0,
        disable_tqdm=True,
        use_cpu=DEV.type == "cpu",
    )
    trainer = Trainer(
        model=model, args=args, train_dataset=train_dataset, data_collator=collator
    )
    trainer.train()
    logged = [(h["step"], h["loss"]) for h in trainer.state.log_history if "loss" in h]
    how = "transformers.Trainer"
    loss_after = eval_loss(model)
    print(f"trained {STEPS} steps in {time.perf_counter() - t0:.1f} s with {how}")
    print("logged training loss:", [(s, round(l, 3)) for s, l in logged])
    print(f"held-out loss {loss_before:.3f} -> {loss_after:.3f}")
    assert loss_after < loss_before - 1.0


# %% note_line=261
if __name__ == "__main__":
    from transformers import GenerationConfig

    model.eval()
    prompt = tok("the researcher", return_tensors="pt").to(DEV)
    greedy_cfg = GenerationConfig(
        max_new_tokens=6,
        do_sample=False,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    with torch.no_grad():
        greedy = model.generate(**prompt, generation_config=greedy_cfg)
        ids = prompt["input_ids"]
        for _ in range(greedy.shape[1] - ids.shape[1]):
            ids = torch.cat([ids, model(ids).logits[:, -1:].argmax(-1)], dim=1)
    print("greedy :", tok.decode(greedy[0], skip_special_tokens=True))
    assert torch.equal(greedy, ids)

    torch.manual_seed(0)
    with torch.no_grad():
        sampled = model.generate(
            **prompt,
            do_sample=True,
            temperature=1.0,
            top_p=0.9,
            max_new_tokens=6,
            num_return_sequences=3,
            pad_token_id=tok.pad_token_id,
        )
    for s in sampled:
        print("sampled:", tok.decode(s, skip_special_tokens=True))


# %% note_line=301
if __name__ == "__main__":
    prompts = ["the GPU", "an adapter writes", "the model"]
    tok.padding_side = "left"
    batch = tok(prompts, padding=True, return_tensors="pt").to(DEV)
    with torch.no_grad():
        batched = model.generate(**batch, generation_config=greedy_cfg)
        singles = [
            model.generate(
                **tok(p, return_tensors="pt").to(DEV), generation_config=greedy_cfg
            )
            for p in prompts
        ]
    tok.padding_side = "right"
    prompt_len = batch["input_ids"].shape[1]
    for p, row, single in zip(prompts, batched, singles):
        new_batched = tok.decode(row[prompt_len:], skip_special_tokens=True)
        new_single = tok.decode(
            single[0][len(tok(p)["input_ids"]) :], skip_special_tokens=True
        )
        print(f"{p!r:22} -> {new_batched!r}")
        assert new_batched.strip() == new_single.strip()
    print("left-padded batch = one-by-one generation: checked")


# %% note_line=334
if __name__ == "__main__":
    from transformers import AutoTokenizer

    save_dir = Path(tempfile.mkdtemp()) / "tiny-llama"
    model.save_pretrained(save_dir)
    tok.save_pretrained(save_dir)
    print(sorted(p.name for p in save_dir.iterdir()))

    reloaded = AutoModelForCausalLM.from_pretrained(save_dir).to(DEV).eval()
    tok2 = AutoTokenizer.from_pretrained(save_dir)
    with torch.no_grad():
        assert torch.equal(reloaded(**enc).logits, model(**enc).logits)
    assert (
        tok2("the model learns weights.")["input_ids"]
        == tok("the model learns weights.")["input_ids"]
    )
    print(
        type(reloaded).__name__,
        "and",
        type(tok2).__name__,
        "reloaded: identical logits and token ids",
    )


# %% note_line=365
if __name__ == "__main__":
    tok.chat_template = (
        "{% for m in messages %}<|bos|>{{ m['role'] }}\n{{ m['content'] }}<|eos|>\n{%"
        " endfor %}{% if add_generation_prompt %}<|bos|>assistant\n{% endif %}"
    )
    messages = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "What does the trainer learn?"},
    ]
    rendered = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    print(rendered)
    ids = tok.apply_chat_template(messages, add_generation_prompt=True)
    ids = ids["input_ids"] if hasattr(ids, "keys") else ids
    assert tok.decode(ids) == rendered
    assert rendered.endswith("<|bos|>assistant\n")


# %% note_line=390
# not run: needs network and downloads several GB
# from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig
#
# # gated: accept the licence on the Hub, then `hf auth login`
# name = "meta-llama/Llama-3.1-8B-Instruct"
# tok = AutoTokenizer.from_pretrained(name)
# model = AutoModelForCausalLM.from_pretrained(
#     name,
#     dtype=torch.bfloat16,  # 2 bytes/parameter instead of 4
#     device_map="auto",  # spread layers over available GPUs (needs accelerate)
#     # or "flash_attention_2" if installed, "eager" to get weights
#     attn_implementation="sdpa",
#     # quantization_config=BitsAndBytesConfig(load_in_4bit=True,
#     # bnb_4bit_quant_type="nf4"),  # QLoRA-style 4-bit
# )
# messages = [{"role": "user", "content": "Explain the KV cache in two sentences."}]
# inputs = tok.apply_chat_template(
#     messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
# ).to(model.device)
# out = model.generate(
#     **inputs, max_new_tokens=120, do_sample=True, temperature=0.7, top_p=0.9
# )
# print(tok.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True))
