# generated from vault/Tools and Frameworks/LangChain Tutorial.md — do not edit; regenerate with `llm-vault export`
# Import it: `from companions import langchain_tutorial` (the cells marked `export`).
# Run it: `python -m companions.langchain_tutorial` runs the whole note.

# %% note_line=30
if __name__ == "__main__":
    import re, warnings
    import langchain_core
    import torch
    from runner.env import seed_everything
    from companions.pretraining import get_pretrained

    seed_everything(0)
    torch.set_num_threads(1)
    gpt, tok, info = get_pretrained()
    cfg = info["config"]
    BLOCK = cfg["block_size"] if isinstance(cfg, dict) else cfg.block_size
    print("langchain-core", langchain_core.__version__)
    print(
        f"tutorial GPT: {sum(p.numel() for p in gpt.parameters()):,} parameters,"
        f" {tok.vocab_size} characters, context {BLOCK}"
    )


# %% note_line=55
if __name__ == "__main__":
    from langchain_core.prompts import (
        ChatPromptTemplate,
        MessagesPlaceholder,
        PromptTemplate,
    )
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

    explain = PromptTemplate.from_template(
        "Explain {topic} to a {audience} in one paragraph."
    )
    print(explain.invoke({"topic": "attention", "audience": "new engineer"}).to_string())

    chat_prompt = ChatPromptTemplate.from_messages(
        [
            ("system", "You are a concise tutor for {subject}."),
            MessagesPlaceholder("history"),
            ("human", "{question}"),
        ]
    )
    value = chat_prompt.invoke(
        {
            "subject": "LLMs",
            "history": [HumanMessage("What is a token?"), AIMessage("A unit of text.")],
            "question": "And a context window?",
        }
    )
    for m in value.to_messages():
        print(f"{m.type:>6}: {m.content}")
    print("variables the template needs:", sorted(chat_prompt.input_variables))
    assert [m.type for m in value.to_messages()] == ["system", "human", "ai", "human"]
    assert sorted(chat_prompt.input_variables) == ["history", "question", "subject"]


# %% export note_line=100
import hashlib
import re
from functools import lru_cache
from typing import Any, Iterator

import torch
from langchain_core.embeddings import Embeddings
from langchain_core.language_models import LLM, BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult, GenerationChunk


@torch.no_grad()
def sample_chars(
    model,
    tokenizer,
    prompt: str,
    max_new_tokens: int,
    temperature: float,
    seed: int,
    block_size: int,
) -> Iterator[str]:
    """Yield one generated character at a time (temperature 0 = greedy)."""
    g = torch.Generator().manual_seed(seed)
    idx = torch.tensor([tokenizer.encode(prompt)], dtype=torch.long)
    for _ in range(max_new_tokens):
        logits = model(idx[:, -block_size:])[0][0, -1].float()
        if temperature <= 0:
            nxt = int(logits.argmax())
        else:
            nxt = int(
                torch.multinomial((logits / temperature).softmax(-1), 1, generator=g)
            )
        idx = torch.cat([idx, torch.tensor([[nxt]])], dim=1)
        yield tokenizer.decode([nxt])


class TutorialLLM(LLM):
    """The vault's character-level GPT as a LangChain text-completion model."""

    model: Any
    tokenizer: Any
    block_size: int = 128
    max_new_tokens: int = 120
    temperature: float = 0.8
    seed: int = 0

    @property
    def _llm_type(self) -> str:
        return "tutorial-char-gpt"

    @property
    def _identifying_params(self) -> dict:
        return {
            "max_new_tokens": self.max_new_tokens,
            "temperature": self.temperature,
            "seed": self.seed,
        }

    def _stream(
        self, prompt, stop=None, run_manager=None, **kwargs
    ) -> Iterator[GenerationChunk]:
        stop = list(stop or [])
        # chars that might be the start of a stop sequence
        hold = max((len(s) for s in stop), default=1) - 1
        buffer = ""
        for ch in sample_chars(
            self.model,
            self.tokenizer,
            prompt,
            kwargs.get("max_new_tokens", self.max_new_tokens),
            kwargs.get("temperature", self.temperature),
            kwargs.get("seed", self.seed),
            self.block_size,
        ):
            buffer += ch
            hits = [buffer.find(s) for s in stop if s in buffer]
            if hits:
                buffer = buffer[: min(hits)]
                break
            if len(buffer) > hold:
                out, buffer = buffer[: len(buffer) - hold], buffer[len(buffer) - hold :]
                if run_manager:
                    run_manager.on_llm_new_token(out)
                yield GenerationChunk(text=out)
        if buffer:
            if run_manager:
                run_manager.on_llm_new_token(buffer)
            yield GenerationChunk(text=buffer)

    def _call(self, prompt, stop=None, run_manager=None, **kwargs) -> str:
        return "".join(
            chunk.text for chunk in self._stream(prompt, stop, run_manager, **kwargs)
        )


def messages_to_transcript(messages: list[BaseMessage]) -> str:
    """Flatten chat messages into the plain-text transcript a base (non-chat) model
    continues."""
    names = {"system": "System", "human": "User", "ai": "Assistant", "tool": "Tool"}
    lines = [f"{names.get(m.type, m.type)}: {m.content}" for m in messages]
    return "\n".join(lines) + "\nAssistant:"


class TutorialChatModel(BaseChatModel):
    """Chat interface over TutorialLLM: messages -> transcript -> continuation, cut at
    the next 'User:' turn."""

    llm: TutorialLLM

    @property
    def _llm_type(self) -> str:
        return "tutorial-char-gpt-chat"

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        text = self.llm._call(
            messages_to_transcript(messages),
            stop=list(stop or []) + ["\nUser:"],
            **kwargs,
        )
        return ChatResult(
            generations=[ChatGeneration(message=AIMessage(content=text.strip()))]
        )


# %% note_line=226
if __name__ == "__main__":
    llm = TutorialLLM(
        model=gpt, tokenizer=tok, block_size=BLOCK, max_new_tokens=80, temperature=0.7
    )
    prompt_text = "## Attention\n\nThe attention mechanism"
    first = llm.invoke(prompt_text)
    again = llm.invoke(prompt_text)
    print(repr(prompt_text + first))
    assert first == again and len(first) > 0  # seeded: reproducible

    chunks = list(llm.stream(prompt_text))
    print(
        f"stream() delivered {len(chunks)} chunks; joined equals invoke():"
        f" {''.join(chunks) == first}"
    )
    assert "".join(chunks) == first

    stopped = llm.invoke(prompt_text, stop=["\n", " the"])
    print("with stop sequences:", repr(stopped))
    assert "\n" not in stopped and " the" not in stopped and first.startswith(stopped)


# %% note_line=259
if __name__ == "__main__":
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.runnables import (
        RunnableLambda,
        RunnableParallel,
        RunnablePassthrough,
        RunnableSequence,
    )

    completion_prompt = PromptTemplate.from_template("## {heading}\n\n")
    chain = completion_prompt | llm | StrOutputParser()
    print(type(chain).__name__, "with steps:", [type(s).__name__ for s in chain.steps])
    assert isinstance(chain, RunnableSequence)

    # many inputs; runs in a thread pool
    outs = chain.batch([{"heading": "Tokens"}, {"heading": "Training"}])
    for o in outs:
        print("-", repr(o[:60]))

    analysis = RunnableParallel(
        text=RunnablePassthrough(),
        n_chars=RunnableLambda(len),
        n_words=RunnableLambda(lambda s: len(s.split())),
    )
    report = (chain | analysis).invoke({"heading": "Tokens"})
    print({k: v for k, v in report.items() if k != "text"})
    assert report["text"] == outs[0] and report["n_chars"] == len(outs[0])


# %% note_line=292
if __name__ == "__main__":
    from langchain_core.language_models import FakeListChatModel
    from langchain_core.output_parsers import JsonOutputParser

    fake = FakeListChatModel(responses=['{"sentiment": "positive", "confidence": 0.9}'])
    classify = (
        ChatPromptTemplate.from_template(
            "Classify the sentiment of: {text}. Answer in JSON."
        )
        | fake
        | JsonOutputParser()
    )
    parsed = classify.invoke({"text": "I love this note"})
    print(parsed)
    assert parsed == {"sentiment": "positive", "confidence": 0.9}


    def flaky_model(_):
        raise TimeoutError("provider timed out")


    backup = FakeListChatModel(responses=["answer from the backup model"])
    robust = (
        ChatPromptTemplate.from_template("{q}") | RunnableLambda(flaky_model)
    ).with_fallbacks([ChatPromptTemplate.from_template("{q}") | backup])
    print(robust.invoke({"q": "hello"}).content)
    assert robust.invoke({"q": "hello"}).content == "answer from the backup model"


# %% note_line=325
if __name__ == "__main__":
    from langchain_core.callbacks import BaseCallbackHandler


    class TokenCounter(BaseCallbackHandler):
        def __init__(self):
            self.starts, self.tokens = 0, 0

        def on_llm_start(self, serialized, prompts, **kwargs):
            self.starts += 1

        def on_llm_new_token(self, token, **kwargs):
            self.tokens += 1


    counter = TokenCounter()
    text = chain.invoke(
        {"heading": "Inference"}, config={"callbacks": [counter], "run_name": "demo"}
    )
    print(
        f"model calls: {counter.starts}, streamed pieces: {counter.tokens}, characters:"
        f" {len(text)}"
    )
    assert counter.starts == 1 and counter.tokens > 0


# %% note_line=359
if __name__ == "__main__":
    from langchain_core.chat_history import InMemoryChatMessageHistory
    from langchain_core.runnables.history import RunnableWithMessageHistory

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        RunnableWithMessageHistory(
            chat_prompt | FakeListChatModel(responses=["x"]),
            lambda sid: InMemoryChatMessageHistory(),
            input_messages_key="question",
            history_messages_key="history",
        )
        InMemoryChatMessageHistory()
    deprecated = sorted(
        {str(w.message)[:100] for w in caught if "deprecat" in str(w.message).lower()}
    )
    for d in deprecated:
        print("deprecated:", d)
    assert any("RunnableWithMessageHistory" in d for d in deprecated)
    assert any("InMemoryChatMessageHistory" in d for d in deprecated)


# %% note_line=385
if __name__ == "__main__":
    from langchain_core.messages import trim_messages

    chat_model = TutorialChatModel(
        llm=TutorialLLM(model=gpt, tokenizer=tok, block_size=BLOCK, max_new_tokens=60)
    )
    seen_by_model = []
    spy = RunnableLambda(lambda pv: seen_by_model.append(pv.to_messages()) or pv)
    tutor = chat_prompt | spy | chat_model


    class Threads:
        """Per-thread message store with a budget of `max_messages` history messages."""

        def __init__(self, max_messages=4):
            self.store, self.max_messages = {}, max_messages

        def ask(self, thread_id, question, subject="LLMs"):
            history = self.store.setdefault(thread_id, [])
            window = trim_messages(
                history,
                max_tokens=self.max_messages,
                token_counter=len,
                strategy="last",
                start_on="human",
            )
            reply = tutor.invoke(
                {"subject": subject, "history": window, "question": question}
            )
            history += [HumanMessage(question), reply]
            return reply.content


    threads = Threads(max_messages=4)
    for q in [
        "What is a token?",
        "What is attention?",
        "What is a KV cache?",
        "Why use GQA?",
    ]:
        threads.ask("alice", q)
    threads.ask("bob", "Hello")
    sizes = [len(m) for m in seen_by_model]
    print("messages sent to the model per call:", sizes)
    print(
        "stored: alice",
        len(threads.store["alice"]),
        "messages, bob",
        len(threads.store["bob"]),
    )
    print("last reply to alice:", repr(threads.store["alice"][-1].content[:80]))
    # system + trimmed history + question; bob's thread starts empty
    assert sizes == [2, 4, 6, 6, 2]
    assert len(threads.store["alice"]) == 8


# %% export note_line=455
_STOP = frozenset(
    "a an the is are was of to in on for and or what which how why does do with by it"
    " its this that be as at".split()
)


@lru_cache(maxsize=200_000)
def _bucket(feature: str, dim: int) -> tuple[int, float]:
    # hashlib, not hash(): Python's str hash is salted per process, which would change
    # vectors between runs
    h = int.from_bytes(
        hashlib.blake2b(feature.encode(), digest_size=8).digest(), "little"
    )
    return h % dim, (1.0 if (h >> 63) & 1 else -1.0)


class HashingEmbeddings(Embeddings):
    """Deterministic bag-of-features embedding: words, word bigrams and character
    trigrams, signed feature hashing."""

    def __init__(self, dim: int = 512, trigram_weight: float = 0.3):
        self.dim, self.trigram_weight = dim, trigram_weight

    def _embed(self, text: str) -> list[float]:
        words = [w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _STOP]
        feats = [(w, 1.0) for w in words] + [
            (f"{a} {b}", 0.5) for a, b in zip(words, words[1:])
        ]
        for w in words:
            padded = f"#{w}#"
            feats += [
                (padded[i : i + 3], self.trigram_weight) for i in range(len(padded) - 2)
            ]
        v = [0.0] * self.dim
        for f, weight in feats:
            i, sign = _bucket(f, self.dim)
            v[i] += sign * weight
        norm = sum(x * x for x in v) ** 0.5 or 1.0
        return [x / norm for x in v]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._embed(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._embed(text)


# %% note_line=503
if __name__ == "__main__":
    from langchain_core.documents import Document
    from langchain_core.vectorstores import InMemoryVectorStore

    facts = {
        "flash-attention": (
            "FlashAttention computes exact attention tile by tile in on-chip SRAM, so the"
            " full score matrix is never written to GPU memory."
        ),
        "gqa": (
            "Grouped-query attention lets several query heads share one key/value head,"
            " which shrinks the KV cache."
        ),
        "bleu": (
            "BLEU multiplies the geometric mean of clipped n-gram precisions by a brevity"
            " penalty for short outputs."
        ),
        "rouge": (
            "ROUGE-L scores a summary by the longest common subsequence it shares with the"
            " reference."
        ),
        "lora": (
            "LoRA freezes the pretrained weights and trains a low-rank update, two small"
            " matrices per adapted layer."
        ),
        "calibration": (
            "Temperature scaling divides all logits by one fitted constant to make"
            " confidences match accuracy."
        ),
        "moe": (
            "A mixture-of-experts layer sends each token to a few expert networks picked by"
            " a learned router."
        ),
        "bpe": (
            "Byte-pair encoding builds its vocabulary by repeatedly merging the most"
            " frequent adjacent pair of symbols."
        ),
        "speculative": (
            "Speculative decoding drafts tokens with a small model and verifies them with"
            " the large model in one pass."
        ),
        "perplexity": (
            "Perplexity is the exponential of the average negative log-likelihood per token"
            " on held-out text."
        ),
    }
    docs = [Document(page_content=t, metadata={"topic": k}) for k, t in facts.items()]
    store = InMemoryVectorStore(embedding=HashingEmbeddings())
    ids = store.add_documents(docs, ids=list(facts))
    retriever = store.as_retriever(search_kwargs={"k": 2})

    queries = {
        "What does LoRA train instead of the pretrained weights?": "lora",
        "What does the brevity penalty do?": "bleu",
        "why is the KV cache smaller when heads are shared": "gqa",
        "how are tokens merged when building a tokenizer vocabulary": "bpe",
    }
    for q, expected in queries.items():
        hits = retriever.invoke(q)
        scored = store.similarity_search_with_score(q, k=1)[0]
        print(
            f"{q[:55]:57s} -> {[d.metadata['topic'] for d in hits]}  (cosine"
            f" {scored[1]:.2f})"
        )
        assert hits[0].metadata["topic"] == expected


# %% note_line=576
if __name__ == "__main__":
    from runner.env import vault_notes


    def split_sections(path):
        text = path.read_text(encoding="utf-8")
        text = re.sub(r"^---\n.*?\n---\n", "", text, flags=re.S)  # drop frontmatter
        text = re.sub(r"```.*?```", " ", text, flags=re.S)  # drop code blocks
        for part in re.split(r"\n(?=## )", text):
            m = re.search(r"^#+\s*(.+)$", part, flags=re.M)
            heading = m.group(1).strip() if m else ""
            if len(part.split()) > 30:
                yield Document(
                    page_content=part[:1500],
                    metadata={"note": path.stem, "section": heading},
                )


    vault_docs = [d for p in vault_notes() for d in split_sections(p)]
    vault_store = InMemoryVectorStore.from_documents(vault_docs, HashingEmbeddings())
    vault_retriever = vault_store.as_retriever(search_kwargs={"k": 3})
    print(f"indexed {len(vault_docs)} sections from {len(vault_notes())} notes")
    for q in ["brevity penalty of BLEU", "mixture of experts router load balancing"]:
        print(
            q,
            "->",
            [
                f"{d.metadata['note']} / {d.metadata['section'][:30]}"
                for d in vault_retriever.invoke(q)
            ],
        )
    assert len(vault_retriever.invoke("attention")) == 3


# %% note_line=617
if __name__ == "__main__":
    from langchain_core.outputs import ChatGeneration, ChatResult


    class ExtractiveReader(BaseChatModel):
        """Answers with the context sentence sharing most content words with the question (a
    testing stand-in)."""

        @property
        def _llm_type(self):
            return "extractive-reader"

        def _generate(self, messages, stop=None, run_manager=None, **kwargs):
            text = messages[-1].content
            context, question = text.split("Question:", 1)
            q_words = {w for w in re.findall(r"[a-z]+", question.lower()) if len(w) > 3}
            sentences = [
                s.strip()
                for s in re.split(r"(?<=\.)\s+", context.replace("Context:", ""))
                if s.strip()
            ]
            best = max(
                sentences,
                key=lambda s: len(q_words & set(re.findall(r"[a-z]+", s.lower()))),
            )
            return ChatResult(generations=[ChatGeneration(message=AIMessage(content=best))])


    def format_docs(documents):
        return "\n".join(d.page_content for d in documents)


    rag_prompt = ChatPromptTemplate.from_messages(
        [
            (
                "system",
                "Answer only from the context. If it is not there, say you do not know.",
            ),
            ("human", "Context:\n{context}\n\nQuestion: {question}"),
        ]
    )


    def rag_chain(model):
        return (
            {"context": retriever | format_docs, "question": RunnablePassthrough()}
            | rag_prompt
            | model
            | StrOutputParser()
        )


    question = "What does FlashAttention avoid writing to GPU memory?"
    answer = rag_chain(ExtractiveReader()).invoke(question)
    print("extractive reader:", answer)
    assert answer == facts["flash-attention"]

    generative = rag_chain(
        TutorialChatModel(
            llm=TutorialLLM(
                model=gpt,
                tokenizer=tok,
                block_size=BLOCK,
                max_new_tokens=60,
                temperature=0.5,
            )
        )
    )
    print("tutorial GPT    :", repr(generative.invoke(question)))


# %% note_line=701
if __name__ == "__main__":
    from langchain_core.tools import tool
    from langchain_core.messages import ToolMessage
    from langchain_core.utils.function_calling import convert_to_openai_tool
    from langchain_core.language_models import GenericFakeChatModel


    @tool
    def kv_cache_gib(n_layer: int, n_kv_head: int, head_dim: int, tokens: int) -> float:
        """Size in GiB of a bf16 KV cache for one sequence."""
        return 2 * n_layer * n_kv_head * head_dim * 2 * tokens / 2**30


    schema = convert_to_openai_tool(kv_cache_gib)
    print(schema["function"]["name"], "-", schema["function"]["description"])
    print("parameters:", schema["function"]["parameters"]["properties"])

    call = {
        "name": "kv_cache_gib",
        "args": {"n_layer": 32, "n_kv_head": 8, "head_dim": 128, "tokens": 131072},
        "id": "call_1",
    }
    model_with_tools = GenericFakeChatModel(
        messages=iter(
            [
                AIMessage(content="", tool_calls=[call]),
                AIMessage(content="About 16 GiB per sequence."),
            ]
        )
    )
    conversation = [
        HumanMessage("How big is the KV cache of a Llama-3-8B-like model at 128K tokens?")
    ]
    ai = model_with_tools.invoke(conversation)
    conversation.append(ai)
    for tc in ai.tool_calls:  # the application executes the requested tools
        result = {"kv_cache_gib": kv_cache_gib}[tc["name"]].invoke(tc["args"])
        conversation.append(ToolMessage(content=str(result), tool_call_id=tc["id"]))
    final = model_with_tools.invoke(conversation)
    print("tool result:", conversation[-1].content, "| final answer:", final.content)
    assert float(conversation[-1].content) == 16.0
