"""Stage 2: Obsidian's resolution rules, and every diagnostic `llm-vault check` gives, with its line."""
import subprocess
import sys
import time

from runner.check import check_vault
from runner.index import read_vault
from runner.links import Resolver


def resolve(cfg, source_rel, text):
    vault = read_vault(cfg.vault)
    source = vault.note(source_rel)
    link = next(l for l in source.links if l.target == text or f"{l.target}#{l.heading}" == text)
    return Resolver(vault, cfg.planned).resolve(link, source)


def messages(cfg):
    return [(d.path, d.line, d.severity, d.message) for d in check_vault(cfg)]


def test_case_insensitive_bare_name_anywhere(make_vault):
    cfg = make_vault({"Deep/Er/Target Note.md": "# T", "A.md": "[[target note]]"})
    assert resolve(cfg, "A.md", "target note").note.rel == "Deep/Er/Target Note.md"


def test_path_qualified_names(make_vault):
    cfg = make_vault({"X/Same.md": "# x", "Y/Same.md": "# y", "A.md": "[[Y/Same]] [[y/same.md]]"})
    vault = read_vault(cfg.vault)
    note = vault.note("A.md")
    got = [Resolver(vault).resolve(l, note).note.rel for l in note.links]
    assert got == ["Y/Same.md", "Y/Same.md"]


def test_ambiguous_name_prefers_same_folder_then_shortest_path(make_vault):
    cfg = make_vault({"Same.md": "top", "X/Same.md": "x", "X/Deeper/Same.md": "deep",
                      "X/Linker.md": "[[Same]]", "Z/Linker2.md": "[[Same]]"})
    same_folder = resolve(cfg, "X/Linker.md", "Same")
    assert same_folder.note.rel == "X/Same.md" and "ambiguous" in same_folder.warning
    shortest = resolve(cfg, "Z/Linker2.md", "Same")
    assert shortest.note.rel == "Same.md" and "ambiguous" in shortest.warning


def test_ambiguous_tie_is_an_error(make_vault):
    cfg = make_vault({"X/Same.md": "x", "Y/Same.md": "y", "Z/L.md": "[[Same]]"})
    assert messages(cfg) == [("Z/L.md", 1, "error", "ambiguous link [[Same]]: it matches X/Same.md, Y/Same.md; "
                                                    "add the folder")]


def test_every_diagnostic_names_file_and_line(make_vault):
    cfg = make_vault({
        "Target.md": "---\naliases: [Tgt]\n---\n# Real heading\nA block. ^real-block\n",
        "Links.md": "intro\n[[Nowhere]]\n[[Tgt]]\n[[Target#No such heading]]\n[[Target#^no-block]]\n"
                    "[[Target#Real heading]] [[Target#^real-block]]\n[[Planned note]]\n![[missing.png]]\n",
        "Zother.md": "---\naliases: [Tgt]\n---\nx\n",
        "Bad yaml.md": "---\ntags: [unclosed\n---\n",
        "Unclosed.md": "text\n\n```python\nprint(1)\n",
        "Latin1.md": "caf\xe9\nline two \xff".encode("latin-1"),
    }, planned=["Planned note"])
    assert messages(cfg) == [
        ("Bad yaml.md", 2, "error", "malformed frontmatter: expected ',' or ']', but got '<stream end>'"),
        ("Latin1.md", 1, "error", "not valid UTF-8 (invalid continuation byte at byte 3): the note is skipped "
                                  "until it is saved as UTF-8"),
        ("Links.md", 2, "error", "dangling link [[Nowhere]]: no note of that name in the vault"),
        ("Links.md", 3, "error", "dangling link [[Tgt]]: no such note; 'Tgt' is an alias of Target — "
                                 "write [[Target|Tgt]]"),
        ("Links.md", 4, "error", "no heading 'No such heading' in Target.md"),
        ("Links.md", 5, "error", "no block ^no-block in Target.md"),
        ("Links.md", 7, "warning", "[[Planned note]] is planned, not written yet"),
        ("Links.md", 8, "error", "missing attachment missing.png: no such file in the vault"),
        ("Unclosed.md", 1, "error", "companion module companions/unclosed.py is missing: run `llm-vault export`"),
        ("Unclosed.md", 3, "error", "unterminated code fence (opened with ``` here, never closed)"),
        ("Zother.md", 2, "warning", "alias 'Tgt' of Zother.md is also an alias of Target.md"),
    ]


def test_stale_companion_is_an_error_until_exported(make_vault):
    cfg = make_vault({"Lib.md": "```python export\nX = 1\n```\n"})
    assert [m[3] for m in messages(cfg)] == ["companion module companions/lib.py is missing: run `llm-vault export`"]
    from runner.export import write_companions
    write_companions(read_vault(cfg.vault))
    assert messages(cfg) == []
    (cfg.vault / "Lib.md").write_text("```python export\nX = 2\n```\n")
    assert [m[3] for m in messages(cfg)] == ["companion module companions/lib.py is out of date: run `llm-vault export`"]


def test_markdown_links_and_attachments(make_vault):
    cfg = make_vault({"img/pic.png": b"\x89PNG", "Sub/B.md": "# Head",
                      "A.md": "[ok](Sub/B.md#head) [bad](Sub/Nope.md) ![[pic.png|200]] [web](https://x.org/a.md)"})
    assert messages(cfg) == [("A.md", 1, "error", "broken link (Sub/Nope.md): Sub/Nope.md does not exist")]


def test_check_cli_exit_status_and_speed(make_vault):
    files = {f"F{i % 8}/Note {i}.md": f"# Note {i}\n\n[[Note {(i + 1) % 300}]] [[Note {i}#Note {i}]]\n"
             for i in range(300)}
    cfg = make_vault(files)
    cmd = [sys.executable, "-m", "runner.cli", "--vault", str(cfg.vault), "check"]
    start = time.perf_counter()
    ok = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "0 errors" in ok.stderr
    print(f"check of 300 notes: {elapsed:.2f}s (process start included)")
    (cfg.vault / "F0" / "Note 0.md").write_text("[[Missing]]\n")
    bad = subprocess.run(cmd, capture_output=True, text=True)
    assert bad.returncode == 1
    assert "F0/Note 0.md:1: error: dangling link [[Missing]]" in bad.stdout
