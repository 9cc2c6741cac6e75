"""Stage 3: notebooks and companion modules generated from notes."""
import subprocess
import sys

from runner.export import companion_source, to_notebook, write_companions
from runner.index import read_vault

NOTE = '''
---
companion: demo_lib
---
# Demo

```python export
import math

def area(r):
    return math.pi * r * r
```

Prose between cells.

```python
poem = """first line
second line, flush left
  third, indented"""
print("demo ran:", area(1) > 3)
print(poem)
```

```bash
echo "never a code cell"
```

```python skip="needs 8 GPUs"
launch_on_many_gpus()
```

```python raises="ZeroDivisionError"
1 / 0
```
'''


def _export(make_vault):
    cfg = make_vault({"Folder/Demo.md": NOTE})
    vault = read_vault(cfg.vault)
    write_companions(vault)
    return cfg, vault, vault.notes[0]


def test_companion_header_markers_and_guard(make_vault):
    cfg, vault, note = _export(make_vault)
    text = (cfg.vault / "companions" / "demo_lib.py").read_text()
    assert text.startswith("# generated from vault/Folder/Demo.md — do not edit")
    markers = [l for l in text.splitlines() if l.startswith("# %%")]
    assert markers == ["# %% export note_line=7", "# %% note_line=16", "# %% note_line=28", "# %% note_line=32"]
    lines = note.text.split("\n")
    assert lines[7 - 1] == "import math" and lines[16 - 1].startswith("poem = ")
    assert "# not run: needs 8 GPUs\n# launch_on_many_gpus()" in text
    assert "echo" not in text


def test_import_runs_only_export_cells_and_script_runs_all(make_vault):
    cfg, vault, note = _export(make_vault)
    env_cmd = [sys.executable, "-c", "from companions import demo_lib; print(round(demo_lib.area(2), 3))"]
    imported = subprocess.run(env_cmd, capture_output=True, text=True, cwd=cfg.vault)
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout == "12.566\n"
    script = subprocess.run([sys.executable, "-m", "companions.demo_lib"], capture_output=True, text=True,
                            cwd=cfg.vault)
    assert script.returncode == 0, script.stderr
    # the multi-line string kept its exact text although its cell was indented under the main guard
    assert script.stdout == "demo ran: True\nfirst line\nsecond line, flush left\n  third, indented\n"


def test_notebook_cells_match_python_fences_only(make_vault):
    cfg, vault, note = _export(make_vault)
    nb = to_notebook(note)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.metadata["llm_vault"]["line"] for c in code] == [7, 16, 28, 32]
    assert code[2].metadata["tags"] == ["skip-execution"]
    assert code[3].metadata["tags"] == ["raises-exception"]
    assert any("```bash" in c.source for c in nb.cells if c.cell_type == "markdown")


def test_export_is_idempotent_and_removes_orphans(make_vault):
    cfg, vault, note = _export(make_vault)
    orphan = cfg.vault / "companions" / "old_note.py"
    orphan.write_text("x = 1\n")
    written = write_companions(read_vault(cfg.vault))
    assert written == [orphan] and not orphan.exists()
    assert write_companions(read_vault(cfg.vault)) == []


def test_unparseable_cell_is_reported_at_its_line(make_vault):
    cfg = make_vault({"Bad.md": "# Bad\n\n```python\nx = (1,\n```\n"})
    note = read_vault(cfg.vault).notes[0]
    try:
        companion_source(note)
    except Exception as exc:
        assert str(exc).startswith("Bad.md:4: cannot parse this cell")
    else:
        raise AssertionError("a cell that does not parse must be reported")


def test_notebook_has_a_kernelspec_and_keeps_jupytexts_cell_metadata(make_vault):
    cfg = make_vault({"P.md": '# P\n\n```python tags=["parameters"] editable=false\nn = 3\n```\n'})
    nb = to_notebook(read_vault(cfg.vault).notes[0])
    assert nb.metadata["kernelspec"]["name"] == "python3" and nb.metadata["language_info"]["name"] == "python"
    assert nb.metadata["jupytext"]["formats"] == "ipynb,md"
    cell = [c for c in nb.cells if c.cell_type == "code"][0]
    assert cell.metadata == {"tags": ["parameters"], "editable": False, "llm_vault": {"line": 4}}
