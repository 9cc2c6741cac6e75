"""`llm-vault fmt`: the notes' python cells fit the site's code column, print the same, and stay put once formatted."""
from __future__ import annotations

import contextlib
import io

import pytest
from pathlib import Path

from runner.fmt import LINE_LENGTH, fmt_vault, format_notes, long_lines
from runner.index import read_vault

PROSE = "A line of prose far longer than the code column, which the formatter must leave exactly as it is written" * 2
NOTE = f'''---
tags: [demo]
---
# Demo

{PROSE}

```python export
def table(rows):
    """Print the rows as a table whose header is one long f-string without a single space in it, and a docstring line that runs past the column."""
    print(f"{{'model':<13}}{{'counted (meta)':>16}}{{'formula':>16}}{{'non-emb':>9}}{{'KV bytes/token (bf16)':>23}}")
    for name, counted, formula in rows:  # a trailing comment long enough that the line no longer fits the column of the site
        print(f"{{name:<13}}{{counted:>16,}}{{formula:>16,}}{{counted / formula:>9.1%}}{{counted * 2:>23,}}")
```

```text
a text fence is not code: {"x" * 120}
```

```python
# a comment on a line of its own that is much too long for the column, so it must be wrapped onto two lines or more
table([("tiny", 1000, 1200), ("small", 123456, 120000)])
print("a long message that a reader should see on the site without scrolling sideways, with numbers", 1, 2)
```
'''


def _run(sources: list[str]) -> str:
    out = io.StringIO()
    scope: dict = {}
    with contextlib.redirect_stdout(out):
        for source in sources:
            exec(source, scope)
    return out.getvalue()


@pytest.fixture
def vault(tmp_path):
    (tmp_path / "Demo.md").write_text(NOTE, encoding="utf-8")
    (tmp_path / "Prose.md").write_text("# Prose\n\nNo code here.\n", encoding="utf-8")
    return tmp_path


def test_formatted_cells_fit_the_column_and_print_the_same(vault):
    before = read_vault(vault).note("Demo.md")
    assert long_lines([before])  # the fixture starts too wide
    assert fmt_vault(vault) == 0
    after = read_vault(vault).note("Demo.md")
    assert long_lines([after]) == []
    assert _run([f.source for f in after.cells]) == _run([f.source for f in before.cells])
    text = after.text
    assert PROSE in text and 'a text fence is not code: ' + "x" * 120 in text
    assert "```python export\n" in text and text.startswith("---\ntags: [demo]\n---\n# Demo\n")
    assert "# a trailing comment long enough" in text  # moved above its line, not dropped


def test_formatting_is_idempotent(vault):
    fmt_vault(vault)
    formatted = (vault / "Demo.md").read_text()
    assert format_notes(read_vault(vault).notes) == {}
    assert fmt_vault(vault, check=True) == 0 and (vault / "Demo.md").read_text() == formatted


def test_check_reports_without_writing(vault):
    assert fmt_vault(vault, check=True) == 1
    assert (vault / "Demo.md").read_text() == NOTE


def test_a_cell_that_is_not_python_is_named(vault):
    (vault / "Bad.md").write_text("# Bad\n\ntext\n\n```python\ndef broken(:\n```\n")
    with pytest.raises(SystemExit, match=r"Bad\.md:5: cannot format this cell"):
        format_notes(read_vault(vault).notes)



def test_every_note_of_the_vault_fits_the_code_column():
    from runner import config

    found = long_lines(read_vault(config.load(Path(__file__).resolve().parent.parent / "vault").vault).notes)
    assert found == [], "\n".join(map(str, found[:20])) + f"\n({len(found)} lines: run `llm-vault fmt`)"
    assert LINE_LENGTH == 88
