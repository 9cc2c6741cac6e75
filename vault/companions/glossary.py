# generated from vault/Reference/Glossary.md — do not edit; regenerate with `llm-vault export`
# Import it: `from companions import glossary` (the cells marked `export`).
# Run it: `python -m companions.glossary` runs the whole note.

# %% note_line=344
if __name__ == "__main__":
    import re
    from collections import Counter

    from runner.env import vault_dir

    root = vault_dir()
    text = (root / "Reference" / "Glossary.md").read_text(encoding="utf-8")
    entries = re.findall(r"^- \*\*(.+?)\*\*(.*?)\^([a-z0-9-]+)$", text, flags=re.M | re.S)
    print(f"{len(entries)} terms")

    notes = {p.stem: p for p in root.rglob("*.md") if "companions" not in p.parts}


    def headings(path):
        return {
            line.lstrip("#").strip()
            for line in path.read_text(encoding="utf-8").splitlines()
            if re.match(r"#{1,6} ", line)
        }


    ids, targets, problems = Counter(), Counter(), []
    for term, body, block_id in entries:
        ids[block_id] += 1
        links = re.findall(r"\[\[([^\]|]+)(?:\|[^\]]*)?\]\]", body)
        if not links:
            problems.append(f"{term}: no link")
        for link in links:
            note, _, heading = link.partition("#")
            targets[note] += 1
            if note not in notes:
                problems.append(f"{term}: note '{note}' not written yet")
            elif heading and heading not in headings(notes[note]):
                problems.append(f"{term}: no heading '{heading}' in '{note}'")

    letters = re.split(r"^## ", text, flags=re.M)
    for block in letters[1:]:
        names = [
            re.sub(r"[^a-z0-9 ]", "", t.lower())
            for t in re.findall(r"^- \*\*(.+?)\*\*", block, flags=re.M)
        ]
        if names != sorted(names):
            problems.append(f"section {block.splitlines()[0]}: not in alphabetical order")

    print(
        f"{sum(targets.values())} links into {len(targets)} notes; problems:"
        f" {problems or 'none'}"
    )
    print("\nterms per linked note:")
    for note, n in targets.most_common():
        print(f"{n:>3}  {note}")
    assert len(entries) >= 100
    assert all(c == 1 for c in ids.values()), [i for i, c in ids.items() if c > 1]
    assert not [p for p in problems if "not written yet" not in p], problems
