"""The Obsidian plugin: what the runner writes for it (runner/obsidian.py), and the plugin rendering those files.

A small vault runs through the real runner once; the Python tests check the files it wrote, then the plugin's own
Node tests (tests/obsidian_plugin/, node --test with jsdom) render them and assert what a reader sees. The Obsidian
app itself is not run here. The Node parts are skipped, with the reason, where Node or the npm packages are missing
(`npm ci` in tests/obsidian_plugin/ installs them; `.ci/run` does).
"""
import json
import os
import shutil
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from conftest import write_vault
from runner.execute import run_vault
from runner.index import read_vault
from runner.cache import Cache
from runner.obsidian import OUTPUT_DIR, source_hash, write_outputs

REPO = Path(__file__).resolve().parent.parent
PLUGIN_DIR = REPO / "vault" / ".obsidian" / "plugins" / "llm-vault-outputs"
JS_TESTS = REPO / "tests" / "obsidian_plugin"
NODE = shutil.which("node")

DEMO = '''
---
companion: demo_mod
---
# Demo

```python export
def double(x):
    return 2 * x
```

```python
import sys
print("doubled:", double(21))
print("careful", file=sys.stderr)
```

```python
class Table:
    def _repr_html_(self):
        return ("<table onclick='alert(1)'><tr><th>name</th><th>value</th></tr>"
                "<tr><td>answer</td><td>42 &amp; more</td></tr></table><script>alert(2)</script>")
Table()
```

```python
import matplotlib.pyplot as plt
plt.figure(figsize=(2, 1))
plt.plot([1, 2, 3])
plt.show()
```

```python raises="KeyError"
{}["missing"]
```

```python skip="needs 8 GPUs"
print("never runs")
```

```python
print("before the edit")
```
'''

BROKEN = '''
# Broken

```python
print("first cell ran")
```

```python
x = 1
y = x / 0
```

```python
print("after the failure")
```
'''

NEVER = '''
# Never

```python
print("this note was never run")
```
'''

LATER = '''
# Later

```python
print("run from Obsidian")
```
'''


def _md(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    """The vault after `run` of Demo and Broken (not Never, not Later); then one cell of Demo is edited (stale)."""
    root = tmp_path_factory.mktemp("obsidian")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LLM_VAULT_CACHE", str(root / ".llm-vault"))
        cfg = write_vault(root, {"Demo.md": DEMO, "Broken.md": BROKEN, "Never.md": NEVER,
                                 "Later.md": LATER})
        before = {n.rel: n for n in read_vault(cfg.vault).notes}
        results = {r.note: r for r in run_vault(cfg, ["Demo.md", "Broken.md"], jobs=2, progress_display=False)}
        demo = cfg.vault / "Demo.md"
        demo.write_text(demo.read_text().replace("before the edit", "after the edit"))
        yield cfg, results, before, mp


def _outputs(cfg, rel):
    return json.loads((cfg.vault / OUTPUT_DIR / "notes" / f"{rel}.json").read_text())


def test_run_writes_each_cell_for_the_plugin(ran):
    cfg, results, before, _ = ran
    assert results["Demo.md"].ok and not results["Broken.md"].ok
    data = _outputs(cfg, "Demo.md")
    assert data["run"]["key"] == results["Demo.md"].key and data["companion"] == "demo_mod"
    assert data["command"] == 'llm-vault run "Demo.md"'
    # the hash of the code that ran is the hash of each fence as the note had it
    assert [c["hash"] for c in data["cells"]] == [source_hash(f.source) for f in before["Demo.md"].cells]
    assert [c["line"] for c in data["cells"]] == [f.line + 1 for f in before["Demo.md"].cells]
    export, printed, table, figure, raises, skip, _last = data["cells"]
    assert export["attrs"] == {"export": True} and export["outputs"] == []
    assert printed["outputs"] == [{"kind": "stream", "name": "stdout", "text": "doubled: 42\n"},
                                  {"kind": "stream", "name": "stderr", "text": "careful\n"}]
    html = table["outputs"][0]
    assert html["kind"] == "html" and "<td>42 &amp; more</td>" in html["html"]
    assert "script" not in html["html"] and "onclick" not in html["html"]  # sanitised by the site's allow-list
    image = figure["outputs"][0]
    assert image["kind"] == "figure" and image["src"].startswith("figures/") and image["src"].endswith(".png")
    assert (cfg.vault / OUTPUT_DIR / image["src"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    error = raises["outputs"][0]
    assert raises["attrs"] == {"raises": "KeyError"} and error["ename"] == "KeyError" and error["expected"]
    assert error["line"] == _line_of(cfg, "Demo.md", '{}["missing"]')
    assert skip["attrs"] == {"skip": "needs 8 GPUs"} and skip["outputs"] == []
    assert not (cfg.vault / OUTPUT_DIR / "notes" / "Never.md.json").exists()


def test_a_failure_points_at_the_notes_own_line(ran):
    cfg, _, _, _ = ran
    data = _outputs(cfg, "Broken.md")
    line = _line_of(cfg, "Broken.md", "y = x / 0")
    assert data["run"]["status"] == "failed" and data["run"]["line"] == line
    first, failing, after = data["cells"]
    assert first["executed"] and first["outputs"][0]["text"] == "first cell ran\n"
    error = failing["outputs"][0]
    assert error["ename"] == "ZeroDivisionError" and error["line"] == line and not error["expected"]
    assert f"Broken.md:{line}" in error["text"] and "Cell In[" not in error["text"]
    assert not after["executed"] and after["outputs"] == []


def test_unchanged_run_rewrites_nothing_and_stale_files_are_removed(ran):
    cfg, results, _, mp = ran
    out = cfg.vault / OUTPUT_DIR
    broken = out / "notes" / "Broken.md.json"
    stamp = broken.stat().st_mtime_ns
    gone = out / "notes" / "Sub" / "Gone.md.json"
    gone.parent.mkdir(parents=True, exist_ok=True)
    gone.write_text("{}")
    old_figure = out / "figures" / "0000000000000000.png"
    old_figure.write_bytes(b"x")
    os.utime(old_figure, (time.time() - 3600, time.time() - 3600))
    shown = _outputs(cfg, "Demo.md")["cells"][3]["outputs"][0]["src"]
    # the same results again (as a run answered from the cache gives them; a failure now re-runs instead)
    written = write_outputs(read_vault(cfg.vault), list(results.values()), Cache(cfg.cache_dir))
    assert written == [] and broken.stat().st_mtime_ns == stamp
    assert not gone.exists() and not old_figure.exists()  # a note that is gone, a figure nothing shows
    assert (out / shown).exists()


def _line_of(cfg, rel: str, text: str) -> int:
    lines = (cfg.vault / rel).read_text().split("\n")
    return next(i + 1 for i, line in enumerate(lines) if text in line)


def test_outputs_stay_out_of_git_and_the_plugin_is_enabled():
    probe = "vault/.llm-vault-outputs/notes/Basics/X.md.json"
    assert subprocess.run(["git", "check-ignore", "-q", probe], cwd=REPO).returncode == 0
    assert subprocess.run(["git", "check-ignore", "-q", "tests/obsidian_plugin/node_modules/x"], cwd=REPO).returncode == 0
    manifest = json.loads((PLUGIN_DIR / "manifest.json").read_text())
    assert manifest["id"] == PLUGIN_DIR.name and manifest["isDesktopOnly"] is False
    assert manifest["id"] in json.loads((REPO / "vault" / ".obsidian" / "community-plugins.json").read_text())
    filters = json.loads((REPO / "vault" / ".obsidian" / "app.json").read_text())["userIgnoreFilters"]
    assert "companions/" in filters
    # the plugin loads on mobile: Node's modules are required only inside the desktop-only run command
    source = (PLUGIN_DIR / "main.js").read_text()
    top_level = source.split("  runNote(file) {")[0]
    assert "require(\"child_process\")" not in top_level and "require(\"path\")" not in top_level


def _need_node() -> None:
    if NODE is None:
        pytest.skip("node is not installed: the plugin's type-check and DOM tests need Node 20 and npm")
    if not (JS_TESTS / "node_modules" / "jsdom").is_dir() or not (JS_TESTS / "node_modules" / "obsidian").is_dir():
        pytest.skip("the plugin's npm packages are missing: run `npm ci` in tests/obsidian_plugin/")


def test_plugin_type_checks_against_obsidians_declarations():
    _need_node()
    tsc = JS_TESTS / "node_modules" / "typescript" / "bin" / "tsc"
    done = subprocess.run([NODE, str(tsc), "-p", str(JS_TESTS / "tsconfig.json")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_plugin_renders_what_the_runner_wrote(ran):
    _need_node()
    cfg, _, _, _ = ran
    runner = shutil.which("llm-vault")
    if runner is None:
        pytest.skip("the llm-vault script is not on the PATH (pip install -e .): the run command's test needs it")
    tests = sorted(str(p) for p in JS_TESTS.glob("*.test.js"))
    # the runner the plugin starts must import this checkout's runner, as `llm-vault` does after `pip install -e .`
    pythonpath = os.pathsep.join([str(REPO), str(REPO / "vault"), os.environ.get("PYTHONPATH", "")])
    done = subprocess.run([NODE, "--test", *tests], capture_output=True, text=True, cwd=JS_TESTS, timeout=300,
                          env={**os.environ, "LLM_VAULT_TEST_VAULT": str(cfg.vault), "LLM_VAULT_RUNNER": runner,
                               "PYTHONPATH": pythonpath})
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert "# skipped 0" in done.stdout and "# fail 0" in done.stdout


def test_plugin_reads_fences_like_the_runner():
    """Every note of the real vault: the plugin's fence scanner finds the cells markdown-it finds, same code hash."""
    _need_node()
    vault = read_vault(REPO / "vault")
    paths = [str(n.path) for n in vault.notes]
    done = subprocess.run([NODE, str(JS_TESTS / "fences.js"), *paths], capture_output=True, text=True, check=True)
    found = json.loads(done.stdout)
    for note in vault.notes:
        want = [{"line": f.line, "end_line": f.end_line, "hash": source_hash(f.source),
                 "attrs": {k: (True if k == "export" else str(v if v is not None else
                                                               ("marked not to run" if k == "skip" else "Exception")))
                           for k, v in f.attrs.items() if k in ("export", "skip", "raises")}}
                for f in note.cells]
        assert found[str(note.path)] == want, note.rel
