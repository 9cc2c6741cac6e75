"""`jupytext --sync` round-trips every note through its paired `.ipynb` without changing a byte of the `.md`."""
import os
import shutil
from pathlib import Path

import nbformat
import pytest
from jupytext.cli import jupytext as jupytext_cli

from runner.export import to_notebook
from runner.index import read_note, read_vault

VAULT = Path(__file__).resolve().parent.parent / "vault"
NOTES = [note.rel for note in read_vault(VAULT).notes]


def _newer(path: Path, than: Path) -> None:
    stamp = than.stat().st_mtime + 5
    os.utime(path, (stamp, stamp))


@pytest.mark.parametrize("rel", NOTES)
def test_sync_from_the_runners_notebook_keeps_the_note_byte_for_byte(rel, tmp_path):
    md = tmp_path / Path(rel).name
    shutil.copyfile(VAULT / rel, md)
    original = md.read_bytes()
    ipynb = md.with_suffix(".ipynb")
    nbformat.write(to_notebook(read_note(md, tmp_path)), ipynb)  # what `llm-vault notebook NOTE -o …` writes
    _newer(ipynb, md)  # as after editing and saving the notebook in Jupyter
    assert jupytext_cli(["--sync", "--quiet", str(ipynb)]) == 0
    assert md.read_bytes() == original


def test_sync_of_a_notebook_jupytext_itself_made(tmp_path):
    """jupytext's own pairing, with the header kept out of the note, round-trips the same way (one note: the
    one with most kinds of fence attributes)."""
    rel = "Tools and Frameworks/Hugging Face Transformers Guide.md"
    md = tmp_path / Path(rel).name
    shutil.copyfile(VAULT / rel, md)
    original = md.read_bytes()
    pairing = '{"jupytext": {"formats": "ipynb,md", "notebook_metadata_filter": "-all"}}'
    assert jupytext_cli(["--quiet", "--to", "ipynb", "--update-metadata", pairing, str(md)]) == 0
    ipynb = md.with_suffix(".ipynb")
    assert [c.metadata.get("tags") for c in nbformat.read(ipynb, 4).cells if "skip" in c.metadata] \
        == [["skip-execution"]]
    _newer(ipynb, md)
    assert jupytext_cli(["--sync", "--quiet", str(ipynb)]) == 0
    assert md.read_bytes() == original


def test_an_edit_in_the_notebook_reaches_the_note_and_nothing_else_changes(tmp_path):
    rel = "Applications/Building Chatbots.md"
    md = tmp_path / Path(rel).name
    shutil.copyfile(VAULT / rel, md)
    original = md.read_text(encoding="utf-8").split("\n")
    nb = to_notebook(read_note(md, tmp_path))
    cell = next(c for c in nb.cells if c.cell_type == "code" and "raises" in c.metadata)
    cell.source = "# edited in Jupyter\n" + cell.source
    ipynb = md.with_suffix(".ipynb")
    nbformat.write(nb, ipynb)
    _newer(ipynb, md)
    assert jupytext_cli(["--sync", "--quiet", str(ipynb)]) == 0
    line = cell.metadata["llm_vault"]["line"]
    edited = original[:line - 1] + ["# edited in Jupyter"] + original[line - 1:]
    assert md.read_text(encoding="utf-8").split("\n") == edited
