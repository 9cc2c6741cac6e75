# generated from vault/Reference/Useful Resources.md — do not edit; regenerate with `llm-vault export`
# Import it: `from companions import useful_resources` (the cells marked `export`).
# Run it: `python -m companions.useful_resources` runs the whole note.

# %% note_line=77
if __name__ == "__main__":
    # (parameters, training tokens)
    LLAMA_1 = {"LLaMA-7B": (6.7e9, 1.0e12), "LLaMA-65B": (65.2e9, 1.4e12)}
    CHINCHILLA_TOKENS_PER_PARAM = 20
    per_param = {name: tokens / params for name, (params, tokens) in LLAMA_1.items()}
    for name, ratio in per_param.items():
        print(
            f"{name:10s} {ratio:6.1f} tokens per parameter ="
            f" {ratio / CHINCHILLA_TOKENS_PER_PARAM:.1f}x Chinchilla"
        )
    assert per_param["LLaMA-7B"] > 5 * CHINCHILLA_TOKENS_PER_PARAM
    assert abs(per_param["LLaMA-65B"] / CHINCHILLA_TOKENS_PER_PARAM - 1) < 0.15


# %% note_line=331
if __name__ == "__main__":
    import re
    from collections import Counter

    from runner.env import vault_dir

    text = (vault_dir() / "Reference" / "Useful Resources.md").read_text(encoding="utf-8")
    body = text.split("## Checking this list")[0]

    per_section, urls, section = Counter(), [], None
    for line in body.splitlines():
        if line.startswith("## "):
            section = line[3:]
        for url in re.findall(r"\]\((https?://[^)\s]+)\)", line):
            urls.append(url)
            per_section[section] += 1

    for name, n in per_section.items():
        print(f"{n:>3}  {name}")
    duplicates = [u for u, c in Counter(urls).items() if c > 1]
    print(
        f"{len(urls)} links, {len(set(urls))} distinct; duplicates: {duplicates or 'none'}"
    )
    assert not duplicates and all(u.startswith("https://") for u in urls)

    # each arXiv link must agree (within a year: conference vs. preprint dating) with the
    # year written before it
    checked = 0
    entries = re.split(r"\n- ", body)
    for entry in entries:
        for year, arxiv_id in re.findall(
            r"\((\d{4})\),\s*\[arXiv:(\d{4}\.\d{4,5})\]", entry
        ):
            yy = 2000 + int(arxiv_id[:2])
            month = int(arxiv_id[2:4])
            assert 1 <= month <= 12, arxiv_id
            assert abs(int(year) - yy) <= 1, (year, arxiv_id)
            assert f"https://arxiv.org/abs/{arxiv_id}" in entry, arxiv_id
            checked += 1
    print(f"{checked} arXiv identifiers consistent with their years and link targets")
    assert checked >= 60

    notes = {p.stem for p in vault_dir().rglob("*.md") if "companions" not in p.parts}
    targets = {t.split("#")[0].split("|")[0] for t in re.findall(r"\[\[([^\]]+)\]\]", body)}
    missing = sorted(t for t in targets if t not in notes)
    print(
        f"{len(targets)} notes of this vault referenced; not written yet:"
        f" {missing or 'none'}"
    )
