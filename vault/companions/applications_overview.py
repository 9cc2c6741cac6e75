# generated from vault/Applications/LLM Applications Overview.md — do not edit; regenerate with `llm-vault export`
# Import it: `from companions import applications_overview` (the cells marked `export`).
# Run it: `python -m companions.applications_overview` runs the whole note.

# %% export note_line=48
from dataclasses import dataclass


@dataclass
class CallProfile:
    """One application request: how many model calls, and the tokens of each (averaged
    over calls)."""

    pattern: str
    input_tokens: int
    output_tokens: int
    calls: int = 1


@dataclass
class ServingAssumptions:
    """Illustrative serving numbers: set them from your provider's prices and your own
    measurements."""

    prefill_tokens_per_s: float = 5000.0  # prompt processing speed
    decode_tokens_per_s: float = 50.0  # generation speed of one stream
    overhead_s: float = 0.2  # network + queueing per call
    usd_per_m_input: float = 0.50  # price per million input tokens
    usd_per_m_output: float = 1.50  # price per million output tokens


def estimate(profile: CallProfile, a: ServingAssumptions) -> dict:
    """Latency (sequential calls) and cost of one request under the assumptions."""
    per_call = (
        a.overhead_s
        + profile.input_tokens / a.prefill_tokens_per_s
        + profile.output_tokens / a.decode_tokens_per_s
    )
    cost = (
        profile.calls
        * (
            profile.input_tokens * a.usd_per_m_input
            + profile.output_tokens * a.usd_per_m_output
        )
        / 1e6
    )
    return {
        "latency_s": profile.calls * per_call,
        "ttft_s": a.overhead_s + profile.input_tokens / a.prefill_tokens_per_s,
        "usd": cost,
    }


# %% note_line=97
if __name__ == "__main__":
    import tiktoken

    from runner.env import seed_everything, vault_notes

    seed_everything(0)
    enc = tiktoken.get_encoding("cl100k_base")
    # vault text may contain "<|endoftext|>"
    n = lambda text: len(enc.encode(text, disallowed_special=()))

    ticket = (
        "Hi, I'm on the Pro plan. Since yesterday's update the export button produces an"
        " empty CSV file for any dataset larger than 10,000 rows. Smaller exports work. I"
        " need this fixed before Friday's report. — Sam"
    )
    # stand-in for retrieved context: the first 1,500 tokens of this vault's notes
    corpus = "\n\n".join(p.read_text(encoding="utf-8") for p in vault_notes())
    context = enc.decode(enc.encode(corpus, disallowed_special=())[:1500])

    prompts = {
        "chat": "System: You are a friendly support assistant.\n"
        + "User: earlier question…\nAssistant: earlier answer…\n" * 6
        + f"User: {ticket}\nAssistant:",
        "RAG": (
            "Answer only from the sources and cite"
            f" them.\n\nSources:\n{context}\n\nQuestion: {ticket}\nAnswer:"
        ),
        "agent (per step)": (
            "You can call tools: search_docs(query), get_account(id), create_bug(title,"
            f" body).\nTask: resolve this ticket.\n{ticket}\n"
        )
        + "Thought/Action/Observation …\n" * 4,
        "extraction": (
            'Extract JSON {"plan": str, "feature": str, "threshold_rows": int, "deadline":'
            " str} from:\n"
        )
        + ticket,
        "code": (
            "Write a Python function that streams a CSV export in chunks so that large"
            f" exports work.\n{ticket}"
        ),
        "summarisation": "Summarise these 20 tickets for the weekly report:\n"
        + "\n".join([ticket] * 20),
        "classification": (
            "Label the ticket as one of: billing, bug, feature_request, account. Ticket:"
            f" {ticket}\nLabel:"
        ),
    }
    design = {  # (output tokens, calls): assumptions of each pattern, not measurements
        "chat": (150, 1),
        "RAG": (200, 1),
        "agent (per step)": (80, 5),
        "extraction": (40, 1),
        "code": (400, 1),
        "summarisation": (250, 1),
        "classification": (2, 1),
    }
    profiles = [
        CallProfile(name, n(prompt), *design[name]) for name, prompt in prompts.items()
    ]
    for p in profiles:
        print(
            f"{p.pattern:17} prompt = {p.input_tokens:5d} tokens (counted)   output ="
            f" {p.output_tokens:4d} (assumed)   calls = {p.calls}"
        )


# %% note_line=172
if __name__ == "__main__":
    a = ServingAssumptions()
    print(f"assumptions: {a}\n")
    print(
        f"{'pattern':17} {'TTFT s':>7} {'total s':>8} {'$ / request':>12}"
        f" {'$ / 1M requests':>16}"
    )
    results = {}
    for p in profiles:
        r = estimate(p, a)
        results[p.pattern] = r
        print(
            f"{p.pattern:17} {r['ttft_s']:7.2f} {r['latency_s']:8.2f} {r['usd']:12.6f}"
            f" {r['usd'] * 1e6:16,.0f}"
        )

    # claims about the table, checked rather than asserted in prose
    fastest = min(results, key=lambda k: results[k]["latency_s"])
    slowest = max(results, key=lambda k: results[k]["latency_s"])
    print(f"\nfastest: {fastest}; slowest: {slowest}")
    assert fastest == "classification"
    # for every pattern except pure prompt-reading, decoding dominates the latency
    for p in profiles:
        decode_time = p.output_tokens / a.decode_tokens_per_s
        prefill_time = p.input_tokens / a.prefill_tokens_per_s
        if p.output_tokens >= 40:
            assert decode_time > prefill_time, p.pattern


# %% note_line=214
if __name__ == "__main__":
    import matplotlib.pyplot as plt

    speeds = [25, 50, 100, 200]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for p in profiles:
        lat = [
            estimate(p, ServingAssumptions(decode_tokens_per_s=s))["latency_s"]
            for s in speeds
        ]
        ax.plot(speeds, lat, marker="o", label=p.pattern)
        if p.pattern == "code":
            print(
                f"code generation: {lat[0]:.1f} s at 25 tok/s -> {lat[-1]:.1f} s at 200"
                " tok/s"
            )
            assert lat[-1] < lat[0] / 4
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("decode speed (tokens/s)")
    ax.set_ylabel("latency per request (s)")
    ax.legend(fontsize=7, ncol=2)
    ax.set_title("Latency vs decode speed, by pattern")
    plt.show()


# %% export note_line=248
import json
import re

SCHEMA = {"plan": str, "feature": str, "threshold_rows": int, "deadline": str}


def parse_json_reply(text: str, schema: dict = SCHEMA) -> dict:
    """Find the JSON object in a model reply and validate it; raise ValueError with a
    message a retry can use."""
    fenced = re.search(r"```(?:json)?\s*(\{.*?\})\s*```", text, re.S)
    candidate = (
        fenced.group(1) if fenced else text[text.find("{") : text.rfind("}") + 1]
    )
    if not candidate:
        raise ValueError("no JSON object found; reply with a single JSON object")
    try:
        data = json.loads(candidate)
    except json.JSONDecodeError as e:
        raise ValueError(
            f"invalid JSON ({e.msg} at position {e.pos}); use double quotes and no"
            " trailing commas"
        )
    missing = [k for k in schema if k not in data]
    wrong = [k for k, t in schema.items() if k in data and not isinstance(data[k], t)]
    if missing or wrong:
        raise ValueError(
            f"missing fields {missing}, wrong types {wrong}; schema: "
            + json.dumps({k: t.__name__ for k, t in schema.items()})
        )
    return data


# %% note_line=284
if __name__ == "__main__":
    replies = {
        "clean": (
            '{"plan": "Pro", "feature": "CSV export", "threshold_rows": 10000, "deadline":'
            ' "Friday"}'
        ),
        "fenced": (
            'Here is the data:\n```json\n{"plan": "Pro", "feature": "CSV export",'
            ' "threshold_rows": 10000, "deadline": "Friday"}\n```'
        ),
        "chatty": (
            'Sure! {"plan": "Pro", "feature": "CSV export", "threshold_rows": 10000,'
            ' "deadline": "Friday"} Hope this helps.'
        ),
        "single quotes": (
            "{'plan': 'Pro', 'feature': 'CSV export', 'threshold_rows': 10000, 'deadline':"
            " 'Friday'}"
        ),
        "string number": (
            '{"plan": "Pro", "feature": "CSV export", "threshold_rows": "10,000",'
            ' "deadline": "Friday"}'
        ),
        "missing field": '{"plan": "Pro", "feature": "CSV export"}',
        "no json": "The customer is on the Pro plan and the export fails above 10k rows.",
    }
    verdicts = {}
    for name, reply in replies.items():
        try:
            parse_json_reply(reply)
            verdicts[name] = "ok"
        except ValueError as e:
            verdicts[name] = "retry: " + str(e)[:80]
        print(f"{name:14} -> {verdicts[name]}")
    assert [k for k, v in verdicts.items() if v == "ok"] == ["clean", "fenced", "chatty"]
