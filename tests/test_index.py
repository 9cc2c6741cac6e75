"""Stage 1: what the parser finds in a note, and where."""
from runner.index import parse_fence_attrs, read_vault
from runner.links import Resolver


def test_links_of_every_form_with_their_lines(make_vault):
    cfg = make_vault({"A.md": """
        ---
        tags: [x]
        ---
        # Title
        See [[B]], [[B|the b note]] and
        [[B#Part two]], [[B#^blk]], [[Folder/C]].
        ![[pic.png|200]] ![[B#Part two]] [plain](Folder/C.md#c)
        """})
    note = read_vault(cfg.vault).notes[0]
    got = [(l.target, l.heading, l.block, l.alias, l.embed, l.line) for l in note.links]
    assert got == [
        ("B", None, None, None, False, 5),
        ("B", None, None, "the b note", False, 5),
        ("B", "Part two", None, None, False, 6),
        ("B", None, "blk", None, False, 6),
        ("Folder/C", None, None, None, False, 6),
        ("pic.png", None, None, "200", True, 7),
        ("B", "Part two", None, None, True, 7),
        ("Folder/C.md", "c", None, None, False, 7),
    ]


def test_nothing_inside_code_counts(make_vault):
    cfg = make_vault({"A.md": """
        Inline `[[NotALink]]` code.

        ```python
        print("[[AlsoNot]]")
        ```

            [[IndentedCode]]
        """})
    assert read_vault(cfg.vault).notes[0].links == []


def test_headings_blocks_tags_and_table_links(make_vault):
    cfg = make_vault({"A.md": """
        # Top
        A paragraph with an id. ^para-1

        ## Second #tagged
        Some #inline-tag text, not a #1 number.

        | col |
        |-----|
        | [[B\\|alias]] |
        """})
    note = read_vault(cfg.vault).notes[0]
    assert [(h.level, h.text, h.line) for h in note.headings] == [(1, "Top", 1), (2, "Second #tagged", 4)]
    assert note.blocks == {"para-1": 2}
    assert note.inline_tags == ["tagged", "inline-tag"]  # Obsidian reads tags in headings too
    assert [(l.target, l.alias, l.line) for l in note.links] == [("B", "alias", 9)]


def test_fence_attributes_and_cells():
    assert parse_fence_attrs('python export timeout=30 skip="needs 8 GPUs"') == (
        "python", {"export": None, "timeout": 30, "skip": "needs 8 GPUs"})
    assert parse_fence_attrs("") == ("", {})


def test_only_top_level_python_fences_are_cells(make_vault):
    cfg = make_vault({"A.md": """
        ```python
        a = 1
        ```

        ```bash
        echo no
        ```

        > [!note]
        > ```python
        > b = 2
        > ```
        """})
    note = read_vault(cfg.vault).notes[0]
    assert [c.source for c in note.cells] == ["a = 1\n"]
    assert [(d.line, "inside a list, quote or callout" in d.message) for d in note.diagnostics] == [(10, True)]


def test_hidden_folders_and_companions_are_not_notes(make_vault):
    cfg = make_vault({"A.md": "a", ".obsidian/x.md": "x", "companions/readme.md": "c", "img/p.png": b"\x89PNG"})
    vault = read_vault(cfg.vault)
    assert [n.rel for n in vault.notes] == ["A.md"]
    assert vault.attachments == ["img/p.png"]


def test_a_code_span_inside_a_wikilink_belongs_to_the_link(make_vault):
    cfg = make_vault({"A.md": "See [[B#`torch.compile`]] and `[[not a link]]`.\n", "B.md": "## `torch.compile`\n"})
    vault = read_vault(cfg.vault)
    links = vault.note("A.md").links
    assert [(l.target, l.heading) for l in links] == [("B", "`torch.compile`")]  # as written
    assert Resolver(vault).resolve(links[0], vault.note("A.md")).heading.line == 1


def test_a_kept_parse_is_the_same_note_and_follows_every_edit(tmp_path, monkeypatch):
    """plan() keeps each note's parse between runs (parse_cache.py): reused only for the same bytes at the
    same path with the same parser; what it gives is exactly what parsing gives."""
    from runner import index, parse_cache
    from runner.index import read_vault

    vault = tmp_path / "vault"
    (vault / "Sub").mkdir(parents=True)
    (vault / "A.md").write_text("---\naliases: [Alpha]\n---\n# A\n\nSee [[Sub/B#Part]] and #tag.\n")
    (vault / "Sub/B.md").write_text("# B\n\n## Part\n\n```python\nprint(1)\n```\n")
    kept = tmp_path / "cache/parsed.pickle"
    parsed = []
    real = index.read_note
    monkeypatch.setattr(index, "read_note", lambda path, root: parsed.append(path.name) or real(path, root))

    first = read_vault(vault, parsed=kept)
    assert sorted(parsed) == ["A.md", "B.md"] and kept.is_file()
    parsed.clear()
    again = read_vault(vault, parsed=kept)
    assert parsed == [] and again.notes == first.notes == read_vault(vault).notes
    parsed.clear()
    (vault / "Sub/B.md").write_text("# B\n\n## Part two\n")
    (vault / "A.md").rename(vault / "Sub/A.md")  # same bytes, another path: its links resolve from elsewhere
    edited = read_vault(vault, parsed=kept)
    assert sorted(parsed) == ["A.md", "B.md"]
    assert [n.rel for n in edited.notes] == ["Sub/A.md", "Sub/B.md"]
    assert edited.notes[1].headings[-1].text == "Part two"
    parsed.clear()
    monkeypatch.setattr(parse_cache, "_parser_version", lambda: "another parser")
    read_vault(vault, parsed=kept)
    assert sorted(parsed) == ["A.md", "B.md"]
    kept.write_bytes(b"not a pickle")
    assert read_vault(vault, parsed=kept).notes == edited.notes


def test_frontmatter_reads_the_same_with_libyaml_as_with_pyyaml():
    """index.py parses frontmatter with libyaml for speed: what it reads must be what PyYAML's own parser reads."""
    from pathlib import Path

    import yaml

    from runner.index import FAST_YAML, split_frontmatter

    texts = [split_frontmatter(p.read_text())[0] for p in Path("vault").rglob("*.md")]
    texts = [t for t in texts if t is not None]
    assert len(texts) >= 30
    texts += ["tags: [a, 'b c', \"d\\te\"]\naliases: |\n  two\n  lines\n", "n: 1e3\nday: 2026-12-02\nyes: no\n",
              "x: ~\ny: &a [1, 2]\nz: *a\n", "é: ü\n"]
    for text in texts:
        assert yaml.load(text, Loader=FAST_YAML) == yaml.safe_load(text), text
