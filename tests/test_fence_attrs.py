"""Fence attributes are read as jupytext reads them; a malformed one is a `check` error and fails its note alone."""
from runner.check import check_vault
from runner.execute import run_vault
from runner.fences import parse_fence_attrs
from runner.index import read_vault


def test_values_are_json_as_in_jupytext():
    lang, attrs = parse_fence_attrs('python tags=["parameters"] editable=false run_control={"frozen": true}')
    assert lang == "python"
    assert attrs == {"tags": ["parameters"], "editable": False, "run_control": {"frozen": True}}
    assert parse_fence_attrs('python export timeout=2.5 skip="needs 8 GPUs"') == (
        "python", {"export": None, "timeout": 2.5, "skip": "needs 8 GPUs"})
    assert parse_fence_attrs("text") == ("text", {})


BAD = """
# Bad

```python export timeout=abc
x = 1
```

```python raises=NotAnException
1 / 0
```

```python timout=30
y = 2
```

```python timeout=-5 raises="print" tags="x"
z = 3
```
"""

JUPYTER_ONLY = """
# Differs in Jupyter

```python skip="needs a cluster"
launch()
```

```python tags=["raises-exception"]
1 / 0
```

```bash
rm -rf build
```

```shell
echo shown, never run
```
"""


def test_malformed_attributes_are_check_errors_at_their_line(make_vault):
    cfg = make_vault({"Bad.md": BAD, "Jupyter.md": JUPYTER_ONLY})
    found = [(d.path, d.line, d.message) for d in check_vault(cfg) if "companion module" not in d.message]
    bad = [(line, message) for path, line, message in found if path == "Bad.md"]
    assert [line for line, _ in bad] == [3, 7, 11, 15, 15, 15]
    assert bad[0][1].startswith("jupytext cannot read the attributes 'export timeout=abc': values are JSON")
    assert bad[1][1].startswith("jupytext cannot read the attributes 'raises=NotAnException'")
    assert bad[2][1].startswith("unknown fence attribute timout (known: export, raises, skip, timeout")
    assert sorted(m.split(":")[0] for _, m in bad[3:]) == sorted(["timeout=-5", 'raises="print"', "tags='x'"])
    jupyter = [(line, message) for path, line, message in found if path == "Jupyter.md"]
    assert [line for line, _ in jupyter] == [3, 7, 11]
    assert jupyter[0][1].startswith('`skip` without tag "skip-execution"')
    assert jupyter[1][1].startswith('tag "raises-exception" without `raises`')
    assert jupyter[2][1].startswith("jupytext reads a ```bash fence as a `%%bash` code cell")


def test_run_fails_the_malformed_note_alone_with_the_check_message(make_vault):
    good = '# Good\n\n```python\nprint("good ran")\n```\n'
    cfg = make_vault({"Bad.md": BAD, "Good.md": good})
    results = {r.note: r for r in run_vault(cfg, jobs=1, progress_display=False)}
    assert results["Good.md"].ok
    bad = results["Bad.md"]
    assert bad.status == "failed" and bad.line == 3
    lines = bad.report.splitlines()
    check = sorted({f"{d.path}:{d.line}: {d.message}" for d in check_vault(cfg) if d.path == "Bad.md"
                    and "companion module" not in d.message})
    assert sorted(lines) == check  # the same messages at the same lines as `check`
    assert lines[0].startswith("Bad.md:3: jupytext cannot read the attributes 'export timeout=abc'")


def test_a_python_fence_in_a_region_is_markdown_as_in_jupytext(make_vault):
    cfg = make_vault({"Region.md": """
        # Region

        <!-- #region -->
        Shown, not run:
        ```python
        raise SystemExit("a region's fence ran")
        ```
        <!-- #endregion -->

        ```python
        print("the only cell")
        ```
        """})
    note = read_vault(cfg.vault).notes[0]
    assert [c.line for c in note.cells] == [10]
    result = run_vault(cfg, progress_display=False)[0]
    assert result.ok and result.cells == 1


def test_a_python3_fence_is_a_cell_magic_for_jupytext_and_check_says_so(make_vault):
    cfg = make_vault({"P.md": "# P\n\n```python3\nx = 1\n```\n\n```PYTHON\ny = 2\n```\n"})
    found = [(d.line, d.message) for d in check_vault(cfg)]
    assert [line for line, _ in found] == [3, 7]
    assert all(m.endswith("the runner runs only ```python fences: write ```python") for _, m in found)
