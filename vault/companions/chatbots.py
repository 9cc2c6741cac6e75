# generated from vault/Applications/Building Chatbots.md — do not edit; regenerate with `llm-vault export`
# Import it: `from companions import chatbots` (the cells marked `export`).
# Run it: `python -m companions.chatbots` runs the whole note.

# %% export note_line=50
import random
import re
from typing import Callable, Iterable

ROLES = ("system", "user", "assistant")

CHATML_JINJA = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content']"
    " }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{%"
    " endif %}"
)


def validate(messages: list[dict]) -> None:
    """Reject conversations a strict template would reject: unknown roles, or turns that
    do not alternate."""
    seen_dialogue = False
    previous = None
    for m in messages:
        if m["role"] not in ROLES:
            raise ValueError(f"unknown role {m['role']!r}")
        if m["role"] == "system":
            if seen_dialogue:
                raise ValueError("system messages must come first")
            continue
        if not seen_dialogue and m["role"] != "user":
            raise ValueError("the dialogue must start with a user message")
        if m["role"] == previous:
            raise ValueError(f"two {m['role']} messages in a row")
        seen_dialogue, previous = True, m["role"]


def render_chatml(messages: list[dict], add_generation_prompt: bool = True) -> str:
    parts = [f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages]
    if add_generation_prompt:
        parts.append("<|im_start|>assistant\n")
    return "".join(parts)


def render_plain(messages: list[dict], add_generation_prompt: bool = True) -> str:
    """Role-tagged plain text, for a base model whose vocabulary has no special
    tokens."""
    names = {"system": "System", "user": "User", "assistant": "Assistant"}
    parts = [f"{names[m['role']]}: {m['content']}\n" for m in messages]
    if add_generation_prompt:
        parts.append("Assistant:")
    return "".join(parts)


# %% note_line=100
if __name__ == "__main__":
    import jinja2

    conversation = [
        {"role": "system", "content": "You are a concise tutor for this vault."},
        {"role": "user", "content": "What is a KV cache?"},
        {
            "role": "assistant",
            "content": (
                "Stored keys and values of past tokens, so each step attends without"
                " recomputing them."
            ),
        },
        {"role": "user", "content": "Why does it use memory?"},
    ]
    validate(conversation)
    ours = render_chatml(conversation)
    template = jinja2.Environment(trim_blocks=True, lstrip_blocks=True).from_string(
        CHATML_JINJA
    )
    theirs = template.render(messages=conversation, add_generation_prompt=True)
    assert ours == theirs
    print(ours)
    print(render_plain(conversation))


# %% note_line=129
if __name__ == "__main__":
    try:
        validate([{"role": "user", "content": "hi"}, {"role": "user", "content": "hello?"}])
    except ValueError:
        pass  # the note shows this error on purpose


# %% export note_line=145
def tiktoken_counter(
    render: Callable = render_chatml, encoding: str = "cl100k_base"
) -> Callable[[list[dict]], int]:
    """count(messages) = number of tokens of the rendered prompt, generation prompt
    included."""
    import tiktoken

    enc = tiktoken.get_encoding(encoding)

    def count(messages: list[dict]) -> int:
        return len(
            enc.encode(
                render(messages, add_generation_prompt=True), disallowed_special=()
            )
        )

    return count


# %% note_line=165
if __name__ == "__main__":
    import tiktoken

    enc = tiktoken.get_encoding("cl100k_base")
    count = tiktoken_counter()
    content_only = sum(len(enc.encode(m["content"])) for m in conversation)
    total = count(conversation)
    overhead = (total - content_only) / len(conversation)
    print(
        f"content tokens: {content_only}, rendered prompt: {total}, overhead per message ≈"
        f" {overhead:.1f} tokens"
    )
    assert total > content_only


# %% note_line=183
if __name__ == "__main__":
    from runner.env import seed_everything

    seed_everything(0)
    rng = random.Random(0)
    TOPICS = [
        "tokenizers",
        "attention heads",
        "learning rates",
        "quantization",
        "batch sizes",
        "KV caches",
        "retrieval",
        "fine-tuning",
        "evaluation",
        "GPU memory",
    ]


    def synthetic_conversation(n_turns: int, rng: random.Random) -> list[dict]:
        msgs = [
            {"role": "system", "content": "You are a helpful assistant for an LLM course."},
            {
                "role": "user",
                "content": (
                    "My name is Ada and I train models on a single GPU. Can you help me?"
                ),
            },
            {
                "role": "assistant",
                "content": "Of course, Ada. Ask me anything about training on one GPU.",
            },
        ]
        for _ in range(n_turns - 1):
            topic = rng.choice(TOPICS)
            q = f"I have a question about {topic}. " + " ".join(
                rng.choice(TOPICS) for _ in range(rng.randint(5, 25))
            )
            a = f"Here is how {topic} works. " + " ".join(
                rng.choice(TOPICS) for _ in range(rng.randint(20, 60))
            )
            msgs += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
        return msgs


    long_chat = synthetic_conversation(40, rng)
    validate(long_chat)
    # prompt sent at user turn t (system + history + new question)
    per_turn = [count(long_chat[: 2 * t + 2]) for t in range(1, 41)]
    print(f"prompt at turn 1: {per_turn[0]} tokens, at turn 40: {per_turn[-1]} tokens")
    print(f"total input tokens over 40 turns without any policy: {sum(per_turn)}")
    assert per_turn == sorted(per_turn)


# %% export note_line=252
def split_system(messages: list[dict]) -> tuple[list[dict], list[dict]]:
    i = 0
    while i < len(messages) and messages[i]["role"] == "system":
        i += 1
    return list(messages[:i]), list(messages[i:])


def group_turns(history: list[dict]) -> list[list[dict]]:
    """Group the dialogue into turns, each starting at a user message."""
    turns: list[list[dict]] = []
    for m in history:
        if m["role"] == "user" or not turns:
            turns.append([m])
        else:
            turns[-1].append(m)
    return turns


def fit_truncate(
    messages: list[dict], budget: int, count: Callable[[list[dict]], int]
) -> list[dict]:
    """Drop the oldest whole turns until count(messages) <= budget; system messages are
    always kept."""
    system, history = split_system(messages)
    turns = group_turns(history)
    while turns:
        kept = system + [m for turn in turns for m in turn]
        if count(kept) <= budget:
            return kept
        if len(turns) == 1:
            break
        turns.pop(0)
    raise ValueError(
        f"the system prompt and the newest turn alone exceed the budget of {budget}"
        " tokens"
    )


def extractive_summary(
    messages: list[dict], max_tokens: int, encode: Callable, decode: Callable
) -> str:
    """A stand-in for an LLM summariser: earlier summary first, then each user message's
    first sentence, deduplicated."""
    pieces = []
    for m in messages:
        if m.get("summary"):
            pieces.append(
                m["content"].removeprefix("Summary of earlier conversation: ")
            )
        elif m["role"] == "user":
            first = re.split(r"(?<=[.?!])\s", m["content"].strip(), maxsplit=1)[0]
            pieces.append("User: " + first)
    pieces = list(dict.fromkeys(pieces))  # repeated sentences carry no new information
    ids = encode("Summary of earlier conversation: " + " ".join(pieces))
    return decode(ids[:max_tokens])


def fit_summarize(
    messages: list[dict],
    budget: int,
    count: Callable[[list[dict]], int],
    summarize: Callable[[list[dict], int], str],
    summary_budget: int = 64,
) -> list[dict]:
    """Replace the fewest oldest turns by one summary message so that the prompt fits
    the budget."""
    if count(messages) <= budget:
        return list(messages)
    system, history = split_system(messages)
    base = [m for m in system if not m.get("summary")]
    previous = [m for m in system if m.get("summary")]
    turns = group_turns(history)
    for k in range(1, len(turns)):
        rest = [m for turn in turns[k:] for m in turn]
        if count(base + rest) + summary_budget > budget:
            # even a full-size summary would not fit next to these turns: drop more
            continue
        dropped = previous + [m for turn in turns[:k] for m in turn]
        summary = {
            "role": "system",
            "content": summarize(dropped, summary_budget),
            "summary": True,
        }
        candidate = base + [summary] + rest
        if count(candidate) <= budget:
            return candidate
    return fit_truncate(base + history, budget, count)


# %% note_line=344
if __name__ == "__main__":
    BUDGET = 600
    summarize = lambda msgs, n: extractive_summary(
        msgs, n, lambda s: enc.encode(s, disallowed_special=()), enc.decode
    )
    question = {"role": "user", "content": "By the way, what is my name?"}
    history = long_chat + [question]

    truncated = fit_truncate(history, BUDGET, count)
    summarized = fit_summarize(history, BUDGET, count, summarize)
    for name, kept in [("truncate", truncated), ("summarize", summarized)]:
        text = render_chatml(kept)
        print(
            f"{name:9s}: {len(kept):2d} of {len(history)} messages, {count(kept)} tokens,"
            f" mentions 'Ada': {'Ada' in text}"
        )
    print("\nsummary message:", summarized[1]["content"][:300], "…")
    assert count(truncated) <= BUDGET and count(summarized) <= BUDGET
    assert "Ada" not in render_chatml(truncated) and "Ada" in render_chatml(summarized)


# %% note_line=374
if __name__ == "__main__":
    def check_invariants(original: list[dict], kept: list[dict], budget: int) -> None:
        assert count(kept) <= budget, "over budget"
        assert kept[0] == original[0], "system prompt lost"
        assert kept[-1] == original[-1], "newest message lost"
        plain = [m for m in kept if not m.get("summary")]
        positions = [original.index(m) for m in plain]
        assert positions == sorted(positions), "order changed"


    trials = raised = 0
    rng = random.Random(1)
    for _ in range(150):
        msgs = synthetic_conversation(rng.randint(1, 12), rng)
        budget = rng.randint(30, 900)
        for policy in (
            lambda m, b: fit_truncate(m, b, count),
            lambda m, b: fit_summarize(m, b, count, summarize, 48),
        ):
            try:
                kept = policy(msgs, budget)
            except ValueError:
                raised += 1
                system, history = split_system(msgs)
                # raising is only allowed when nothing fits
                assert count(system + group_turns(history)[-1]) > budget
                continue
            check_invariants(msgs, kept, budget)
            trials += 1
    print(
        f"{trials} policy results satisfied every invariant; {raised} impossible budgets"
        " raised ValueError"
    )
    assert trials > 100


# %% note_line=414
if __name__ == "__main__":
    from langchain_core.messages import (
        AIMessage,
        HumanMessage,
        SystemMessage,
        trim_messages,
    )

    LC = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}
    LC_ROLE = {"system": "system", "human": "user", "ai": "assistant"}
    per_message = lambda role, content: len(
        enc.encode(f"<|im_start|>{role}\n{content}<|im_end|>\n")
    )
    additive = lambda msgs: sum(per_message(m["role"], m["content"]) for m in msgs)
    lc_counter = lambda msgs: sum(per_message(LC_ROLE[m.type], m.content) for m in msgs)

    rng = random.Random(2)
    agree = 0
    for _ in range(40):
        msgs = synthetic_conversation(rng.randint(2, 10), rng)
        budget = rng.randint(120, 800)
        try:
            ours = fit_truncate(msgs, budget, additive)
        except ValueError:
            continue
        theirs = trim_messages(
            [LC[m["role"]](m["content"]) for m in msgs],
            max_tokens=budget,
            token_counter=lc_counter,
            strategy="last",
            include_system=True,
            start_on="human",
        )
        assert [m["content"] for m in ours] == [m.content for m in theirs]
        agree += 1
    print(
        f"fit_truncate and langchain_core.trim_messages agree on {agree} random"
        " conversations"
    )
    assert agree >= 20


# %% note_line=458
if __name__ == "__main__":
    import matplotlib.pyplot as plt

    sizes = {"no policy": [], "truncate": [], "summarize": []}
    for t in range(1, 41):
        h = long_chat[: 2 * t + 2]
        sizes["no policy"].append(count(h))
        sizes["truncate"].append(count(fit_truncate(h, BUDGET, count)))
        sizes["summarize"].append(count(fit_summarize(h, BUDGET, count, summarize)))
    for name, s in sizes.items():
        print(f"{name:9s}: total input tokens over 40 turns = {sum(s)}")
    assert max(sizes["truncate"]) <= BUDGET and max(sizes["summarize"]) <= BUDGET
    assert sum(sizes["truncate"]) < sum(sizes["no policy"]) / 2

    fig, ax = plt.subplots(figsize=(7, 3.5))
    for name, s in sizes.items():
        ax.plot(range(1, 41), s, label=name)
    ax.axhline(BUDGET, color="gray", ls=":", label="budget")
    ax.set_xlabel("turn")
    ax.set_ylabel("prompt tokens")
    ax.legend()
    ax.set_title("Prompt size per turn")
    plt.show()


# %% export note_line=495
def sample_next(
    logits, temperature: float = 0.8, top_k: int | None = 20, generator=None
) -> int:
    import torch

    if temperature == 0:
        return int(torch.argmax(logits))
    logits = logits / temperature
    if top_k is not None:
        kth = torch.topk(logits, min(top_k, logits.numel())).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    return int(torch.multinomial(probs, 1, generator=generator))


def stream_reply(
    model,
    tokenizer,
    prompt: str,
    max_new_tokens: int,
    block_size: int,
    stops: tuple[str, ...] = ("\nUser:", "\nAssistant:"),
    temperature: float = 0.8,
    top_k: int | None = 20,
    generator=None,
) -> Iterable[str]:
    """Yield the reply piece by piece; never yield any part of a stop sequence."""
    import torch

    ids = tokenizer.encode(prompt)
    out, emitted = "", 0
    with torch.no_grad():
        for _ in range(max_new_tokens):
            logits, _ = model(torch.tensor([ids[-block_size:]]))
            nxt = sample_next(logits[0, -1], temperature, top_k, generator)
            ids.append(nxt)
            out += tokenizer.decode([nxt])
            hits = [out.find(s) for s in stops if s in out]
            if hits:
                if min(hits) > emitted:
                    yield out[emitted : min(hits)]
                return
            # hold back a tail that could be the start of a stop sequence ("\nUs" might
            # become "\nUser:")
            hold = max(
                (k for s in stops for k in range(1, len(s)) if out.endswith(s[:k])),
                default=0,
            )
            if len(out) - hold > emitted:
                yield out[emitted : len(out) - hold]
                emitted = len(out) - hold
    if emitted < len(out):
        yield out[emitted:]


class ChatSession:
    """A chatbot = messages + a context policy + a generation loop."""

    def __init__(
        self,
        model,
        tokenizer,
        block_size: int,
        system: str,
        max_new_tokens: int = 80,
        seed: int = 0,
    ):
        import torch

        self.model, self.tokenizer, self.block_size = model, tokenizer, block_size
        self.messages = [{"role": "system", "content": system}]
        self.max_new_tokens = max_new_tokens
        self.budget = block_size - max_new_tokens
        self.count = lambda msgs: len(tokenizer.encode(render_plain(msgs)))
        self.generator = torch.Generator().manual_seed(seed)
        self.last_prompt_tokens = 0

    def send(self, text: str) -> str:
        self.messages.append({"role": "user", "content": text})
        context = fit_truncate(self.messages, self.budget, self.count)
        prompt = render_plain(context)
        self.last_prompt_tokens = len(self.tokenizer.encode(prompt))
        pieces = stream_reply(
            self.model,
            self.tokenizer,
            prompt,
            self.max_new_tokens,
            self.block_size,
            generator=self.generator,
        )
        reply = "".join(pieces).strip()
        self.messages.append({"role": "assistant", "content": reply})
        return reply


# %% note_line=591
if __name__ == "__main__":
    from companions.pretraining import get_pretrained

    model, tokenizer, info = get_pretrained()
    cfg = info["config"]
    block_size = cfg["block_size"] if isinstance(cfg, dict) else cfg.block_size
    print(
        f"tutorial model: {sum(p.numel() for p in model.parameters()):,} parameters,"
        f" context {block_size} characters"
    )

    bot = ChatSession(
        model,
        tokenizer,
        block_size,
        system="Answer briefly.",
        max_new_tokens=block_size // 4,
    )
    for question in ["What is attention?", "How is a model trained?", "Explain tokens."]:
        answer = bot.send(question)
        print(
            f"User: {question}\nAssistant: {answer}\n   [prompt: {bot.last_prompt_tokens}"
            f" of {block_size} characters, history: {len(bot.messages)} messages]"
        )
        assert bot.last_prompt_tokens <= bot.budget
        assert "\nUser:" not in answer
