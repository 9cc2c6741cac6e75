"""jupytext is the oracle: the runner's notebook of a note is `jupytext.reads(text, fmt="md")`, cell for cell.

Compared: each cell's type, source and metadata, after removing only what README ("In Jupyter") says the runner
adds: `metadata.llm_vault` on ```python cells, the nbclient tags a note lacks, and notebook-level keys.
"""
from pathlib import Path

import jupytext
import pytest

from runner.export import ExportError, to_notebook
from runner.fences import RAISES_TAG, SKIP_TAG
from runner.index import read_note, read_vault

VAULT = Path(__file__).resolve().parent.parent / "vault"


def without_additions(cell) -> dict:
    """The runner's cell with what the runner documents that it adds taken off again."""
    meta = {k: v for k, v in cell.metadata.items() if k != "llm_vault"}
    added = cell.metadata.get("llm_vault", {})
    if cell.cell_type == "code":
        assert set(added) <= {"line", "export", "skip", "timeout", "raises"}
    tags = [t for t in meta.get("tags", []) if not (t == SKIP_TAG and "skip" in added)
            and not (t == RAISES_TAG and "raises" in added)]
    original = meta.get("tags", [])
    if tags != original:  # an added tag: jupytext has the same list without it, or no `tags` key at all
        meta = {**meta, "tags": tags} if tags else {k: v for k, v in meta.items() if k != "tags"}
    return {"cell_type": cell.cell_type, "source": cell.source, "metadata": meta}


def as_dict(cell) -> dict:
    return {"cell_type": cell.cell_type, "source": cell.source, "metadata": dict(cell.metadata)}


def compare(note) -> int:
    ours, theirs = to_notebook(note), jupytext.reads(note.text, fmt="md")
    assert len(ours.cells) == len(theirs.cells), note.rel
    for n, (a, b) in enumerate(zip(ours.cells, theirs.cells)):
        ref = as_dict(b)
        if without_additions(a) != ref:
            # an added tag may also stand in the note itself: then jupytext has it and nothing was added
            assert as_dict(a) | {"metadata": {k: v for k, v in a.metadata.items() if k != "llm_vault"}} == ref, \
                f"{note.rel}, cell {n}"
    added = set(ours.metadata) - set(theirs.metadata)
    assert added <= {"kernelspec", "language_info", "llm_vault"}, added
    assert {k: v for k, v in ours.metadata["jupytext"].items() if k != "formats"} == theirs.metadata["jupytext"]
    return len(ours.cells)


def test_every_note_of_the_vault_is_read_as_jupytext_reads_it():
    vault = read_vault(VAULT)
    compared = sum(compare(note) for note in vault.notes)
    code = sum(len(note.cells) for note in vault.notes)
    print(f"{compared} cells compared in {len(vault.notes)} notes, {code} of them code")
    assert len(vault.notes) >= 33 and code > 300


# jupytext's own Markdown edge cases (the topics of its test-suite: cell metadata, regions, raw cells, `.noeval`,
# fences it does not read as code), written here for this test.
EDGE_CASES = {
    "metadata values": '```python tags=["parameters"] editable=false run_control={"frozen": true} key="v"\n'
                       "a = 2\n```\n",
    "json metadata": '```python {"tags": ["x"], "k": 1}\na = 2\n```\n',
    "runner attributes": '```python export timeout=2.5 skip="why" tags=["skip-execution"]\nx = 1\n```\n',
    "tags added by the runner": '```python raises="KeyError"\n{}["k"]\n```\n\n```python skip="later"\nx = 1\n```\n',
    "region": "<!-- #region -->\nNot run:\n```python\n2 + 2\n```\n<!-- #endregion -->\n\n```python\n1 + 1\n```\n",
    "titled region with metadata": '<!-- #region Title key="value" -->\n```python\nx = 1\n```\n<!-- #endregion -->\n',
    "md region": "<!-- #md -->\n```python\nx = 1\n```\n<!-- #endmd -->\n",
    "raw region": "<!-- #raw -->\n```python\nx = 1\n```\n<!-- #endraw -->\n",
    "unclosed region": "<!-- #region -->\n```python\nx = 1\n```\n",
    "region marker inside a text fence": "```text\n<!-- #region -->\n```\n\n```python\nx = 1\n```\n",
    "noeval": "```python .noeval\nx = 1\n```\n",
    "tilde fence": "~~~python\nx = 1\n~~~\n",
    "indented fence": "   ```python\n   x = 1\n   ```\n",
    "fence in a list": "- item\n\n  ```python\n  x = 1\n  ```\n",
    "fence in a quote": "> ```python\n> x = 1\n> ```\n",
    "four backticks": "````python\ns = '''\n```\n'''\n````\n",
    "blank lines in code": "```python\na = 1\n\n\nb = 2\n```\n",
    "empty cell": "```python\n```\n",
    "space before language": "``` python\nx = 1\n```\n",
    "other case": "```Python\nx = 1\n```\n",
    "text fences and prose": "Prose\n\n\nafter two blank lines\n\n```text\nnot code\n```\n\n```\nplain\n```\n",
    "frontmatter and a raw cell": "---\ntags: [a]\n---\n# T\n\n<!-- #raw -->\nraw\n<!-- #endraw -->\n",
    "indented code block": "Text\n\n    ```python\n    x = 1\n    ```\n\n```python\ny = 2\n```\n",
}


@pytest.mark.parametrize("name", EDGE_CASES)
def test_edge_case_is_read_as_jupytext_reads_it(name, tmp_path):
    path = tmp_path / "Edge.md"
    path.write_text(EDGE_CASES[name], encoding="utf-8")
    note = read_note(path, tmp_path)
    compare(note)
    theirs = jupytext.reads(note.text, fmt="md")
    assert len(note.cells) == sum(c.cell_type == "code" for c in theirs.cells)


def test_the_runner_adds_the_tags_nbclient_honours(tmp_path):
    path = tmp_path / "Edge.md"
    path.write_text(EDGE_CASES["tags added by the runner"], encoding="utf-8")
    code = [c for c in to_notebook(read_note(path, tmp_path)).cells if c.cell_type == "code"]
    assert [c.metadata.get("tags") for c in code] == [[RAISES_TAG], [SKIP_TAG]]
    assert code[0].metadata["llm_vault"] == {"line": 2, "raises": "KeyError"}


# Where the runner knowingly differs from jupytext (README, "In Jupyter").

def test_a_bash_fence_stays_markdown_where_jupytext_makes_a_bash_cell(tmp_path):
    path = tmp_path / "Bash.md"
    path.write_text("```python\nx = 1\n```\n\n```bash\nrm -rf build\n```\n", encoding="utf-8")
    note = read_note(path, tmp_path)
    ours, theirs = to_notebook(note), jupytext.reads(note.text, fmt="md")
    assert [(c.cell_type, c.source) for c in theirs.cells] == [("code", "x = 1"), ("code", "%%bash\nrm -rf build")]
    assert [(c.cell_type, c.source) for c in ours.cells] == [("code", "x = 1"),
                                                              ("markdown", "```bash\nrm -rf build\n```")]


def test_a_fence_markdown_hides_in_html_is_an_error_at_its_line(tmp_path):
    path = tmp_path / "Html.md"
    path.write_text("# H\n\n<div>\n```python\nx = 1\n```\n</div>\n", encoding="utf-8")
    note = read_note(path, tmp_path)
    assert [c.cell_type for c in jupytext.reads(note.text, fmt="md").cells].count("code") == 1
    with pytest.raises(ExportError) as err:
        to_notebook(note)
    assert str(err.value).startswith("Html.md:5: jupytext reads a code cell here that is no fence in Markdown")
