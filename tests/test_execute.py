"""Stages 4-6 through real kernels: execution, failures at the note's line, timeouts, the cache, concurrency."""
import base64
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from runner.cache import Cache
from runner.execute import run_vault

LIB = """
---
companion: lib
---
# Lib
```python export
def double(x):
    return 2 * x
```
```python
print("lib demo", double(21))
```
"""

USER = """
# User
Uses [[Lib]].
```python
from companions import lib
import os, random, torch
print(lib.double(5), os.path.basename(os.getcwd()), os.environ["LLM_VAULT_DEVICE"])
print(random.random(), torch.rand(2).tolist())
```
"""

OTHER = """
# Other
```python
print("independent")
```
"""


def _by_note(results):
    return {r.note: r for r in results}


def _processes_with(marker: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if marker in cmd and str(os.getpid()) != proc.name:
            found.append(cmd)
    return found


def _run_without_kernels(cfg, **kwargs):
    """A run in which starting a kernel or the fork server is an error: only cache hits can pass."""
    from runner import kernels

    def refuse(*args, **kw):
        raise AssertionError("a kernel was started although nothing changed")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(kernels, "start_kernel", refuse)
        mp.setattr(kernels.ForkServer, "start", refuse)
        return run_vault(cfg, jobs=2, progress_display=False, **kwargs)


def test_run_cache_and_invalidation_through_an_imported_companion(make_vault):
    cfg = make_vault({"A/Lib.md": LIB, "B/User.md": USER, "B/Other.md": OTHER})
    first = _by_note(run_vault(cfg, jobs=2, progress_display=False))
    assert all(r.ok and not r.cached for r in first.values()), [r.report for r in first.values()]
    nb = Cache(cfg.cache_dir).load(first["B/User.md"].key)[1]
    out = nb.cells[[c.cell_type for c in nb.cells].index("code")].outputs[0].text
    assert out.startswith("10 B cpu\n")  # companion imported, cwd = the note's folder, device passed on

    again = _by_note(_run_without_kernels(cfg))
    assert all(r.cached for r in again.values())

    # prose is not part of the key; code is
    user = cfg.vault / "B/User.md"
    user.write_text(user.read_text().replace("Uses [[Lib]].", "Uses [[Lib]], reworded."))
    assert all(r.cached for r in _run_without_kernels(cfg))

    lib = cfg.vault / "A/Lib.md"
    lib.write_text(lib.read_text().replace("return 2 * x", "return x + x"))
    third = _by_note(run_vault(cfg, jobs=2, progress_display=False))
    assert {rel: r.cached for rel, r in third.items()} == {"A/Lib.md": False, "B/User.md": False,
                                                           "B/Other.md": True}


def test_seeds_make_two_runs_print_the_same(make_vault):
    cfg = make_vault({"A/Lib.md": LIB, "B/User.md": USER})
    cache = Cache(cfg.cache_dir)

    def printed():
        r = _by_note(run_vault(cfg, ["B/User.md"], force=True, progress_display=False))["B/User.md"]
        cells = [c for c in cache.load(r.key)[1].cells if c.cell_type == "code"]
        return cells[0].outputs[0].text

    assert printed() == printed()


FAILING = """
# Fails
```python
def helper():
    return missing_name
```
Some prose.
```python
x = 1
print("before the failure")
helper()
```
```python
print("never reached")
```
"""


def test_failure_names_the_md_line_and_other_notes_still_run(make_vault, capsys):
    cfg = make_vault({"Fails.md": FAILING, "Other.md": OTHER})
    results = _by_note(run_vault(cfg, jobs=2, progress_display=False))
    assert results["Other.md"].ok
    failed = results["Fails.md"]
    assert failed.status == "failed" and failed.line == 10
    assert failed.report.splitlines()[0] == "Fails.md:10: NameError: name 'missing_name' is not defined"
    assert "in code cell 2 of 3, which starts at line 8" in failed.report
    assert "    10 | helper()" in failed.report
    assert "Fails.md:4, in helper()" in failed.report  # frames in earlier cells point into the note too
    # a failure is not final: the next run runs the note again (and the site still has the failed run to show)
    stored = Cache(cfg.cache_dir).load(failed.key)[0]
    assert stored.status == "failed" and stored.report == failed.report
    again = _by_note(run_vault(cfg, progress_display=False))
    assert not again["Fails.md"].cached and again["Fails.md"].report == failed.report
    assert again["Other.md"].cached


def test_cli_exit_status_table_and_json(make_vault):
    cfg = make_vault({"Fails.md": FAILING, "Other.md": OTHER})
    cmd = [sys.executable, "-m", "runner.cli", "--vault", str(cfg.vault), "run", "--jobs", "2"]
    table = subprocess.run(cmd, capture_output=True, text=True)
    assert table.returncode == 1
    assert "1 passed, 1 failed" in table.stdout and "FAILED Fails.md" in table.stdout
    as_json = subprocess.run(cmd + ["--json"], capture_output=True, text=True)
    rows = {r["note"]: r for r in json.loads(as_json.stdout)}
    assert rows["Fails.md"]["line"] == 10 and rows["Other.md"]["status"] == "passed"


ATTRS = """
# Attributes
```python skip="needs a cluster"
open("skipped-ran.txt", "w").write("x")
```
```python raises="ZeroDivisionError"
1 / 0
```
```python
import os
print("skip cell ran:", os.path.exists("skipped-ran.txt"))
```
"""


def test_skip_and_expected_errors(make_vault):
    cfg = make_vault({"Attrs.md": ATTRS,
                      "NoRaise.md": '# N\n```python raises="ValueError"\nx = 1\n```\n',
                      "WrongRaise.md": '# W\n```python raises="ValueError"\n1 / 0\n```\n'})
    results = _by_note(run_vault(cfg, jobs=2, progress_display=False))
    assert results["Attrs.md"].ok and results["Attrs.md"].skipped == [{"line": 3, "reason": "needs a cluster"}]
    assert not (cfg.vault / "skipped-ran.txt").exists()
    assert "should raise ValueError, but it ran without error" in results["NoRaise.md"].report
    assert "should raise ValueError, but it raised ZeroDivisionError" in results["WrongRaise.md"].report


def test_timeout_kills_the_kernel_and_its_children(make_vault):
    marker = f"llmvault-{uuid.uuid4().hex}"
    cfg = make_vault({"Hang.md": f"""
        # Hang
        ```python timeout=3
        import subprocess, time
        child = subprocess.Popen(["sleep", "300", "{marker}"][:2] + [], env={{"M": "{marker}"}})
        open("child.pid", "w").write(str(child.pid))
        time.sleep(300)
        ```
        """})
    result = run_vault(cfg, progress_display=False)[0]
    assert result.status == "failed" and "timed out" in result.report and result.line == 6  # the sleep
    child = int((cfg.vault / "child.pid").read_text())
    time.sleep(0.5)
    assert not Path(f"/proc/{child}").exists() or "Z" in Path(f"/proc/{child}/stat").read_text().split()[2]


def test_interrupted_run_leaves_no_kernel_and_no_entry(make_vault):
    marker = f"llmvault-{uuid.uuid4().hex}"
    cfg = make_vault({"Slow.md": f"""
        # Slow
        ```python
        import sys, time
        open("started", "w").write("{marker}")
        time.sleep(120)
        ```
        """})
    proc = subprocess.Popen([sys.executable, "-m", "runner.cli", "--vault", str(cfg.vault), "run"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "MARK": marker})
    started = cfg.vault / "started"
    deadline = time.time() + 90
    while not started.exists() and time.time() < deadline:
        time.sleep(0.2)
    assert started.exists(), proc.communicate(timeout=5)
    kernels = [p for p in _processes_with("ipykernel")]
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=30)
    time.sleep(1)
    assert proc.returncode != 0
    runs = cfg.cache_dir / "runs"
    assert not runs.exists() or list(runs.iterdir()) == []
    env_marked = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _environ_has(p, marker)]
    assert env_marked == [], f"left behind: {env_marked} (kernels before: {len(kernels)})"


def _environ_has(proc: Path, marker: str) -> bool:
    try:
        return marker.encode() in (proc / "environ").read_bytes()
    except OSError:
        return False


def test_two_runs_at_once_are_safe(make_vault):
    cfg = make_vault({"A/Lib.md": LIB, "B/User.md": USER})
    cmd = [sys.executable, "-m", "runner.cli", "--vault", str(cfg.vault), "run", "--jobs", "1", "--json"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    keys = {r["key"] for out, _ in outs for r in json.loads(out)}
    runs = cfg.cache_dir / "runs"
    assert sorted(p.name for p in runs.iterdir()) == sorted(keys)  # one whole entry per note, no leftovers
    assert all(Cache(cfg.cache_dir).load(k) for k in keys)


def test_figures_and_rich_output_are_captured(make_vault):
    cfg = make_vault({"Plot.md": """
        # Plot
        ```python
        import matplotlib.pyplot as plt
        plt.plot([1, 2, 3])
        plt.show()

        class Table:
            def _repr_html_(self):
                return "<table><tr><td>1</td></tr></table>"
        Table()
        ```
        """})
    result = run_vault(cfg, progress_display=False)[0]
    assert result.ok, result.report
    cell = next(c for c in Cache(cfg.cache_dir).load(result.key)[1].cells if c.cell_type == "code")
    kinds = [sorted(o.get("data", {})) for o in cell.outputs]
    assert ["image/png", "text/plain"] in kinds and ["text/html", "text/plain"] in kinds
    # 2x ("retina", set on the kernel's command line): twice as many pixels as the CSS size it declares
    figure = next(o for o in cell.outputs if "image/png" in o.get("data", {}))
    png = base64.b64decode(figure["data"]["image/png"])
    pixels = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    declared = figure["metadata"]["image/png"]
    assert pixels == (2 * declared["width"], 2 * declared["height"]), (pixels, declared)


def test_the_fork_server_preloads_matplotlib_only_for_runs_that_use_it(make_vault):
    # the probe must not name the package itself: any mention in a note's code counts as a use
    probe = '# Probe\n```python\nimport sys\nprint("matplot" + "lib" in sys.modules, "torch" in sys.modules)\n```\n'
    cfg = make_vault({"Probe.md": probe})
    result = run_vault(cfg, progress_display=False)[0]
    assert _stdout(cfg, result) == "False True\n"  # torch always (the runner seeds it); matplotlib not needed here
    (cfg.vault / "Plot.md").write_text("# Plot\n```python\nimport matplotlib\n```\n")
    results = _by_note(run_vault(cfg, force=True, jobs=2, progress_display=False))
    assert _stdout(cfg, results["Probe.md"]) == "True True\n"  # imported by the server, before the fork


def _stdout(cfg, result) -> str:
    cell = next(c for c in Cache(cfg.cache_dir).load(result.key)[1].cells if c.cell_type == "code")
    return "".join(o.get("text", "") for o in cell.outputs if o.get("name") == "stdout")


def test_notebook_command_writes_ipynb_with_cached_outputs(make_vault, tmp_path):
    from runner.execute import notebook_for

    cfg = make_vault({"B/Other.md": OTHER})
    before = nbformat_read(notebook_for(cfg, "Other", tmp_path / "before.ipynb"))
    assert [c.get("outputs") for c in before.cells if c.cell_type == "code"] == [[]]
    run_vault(cfg, progress_display=False)
    after = nbformat_read(notebook_for(cfg, "B/Other.md", tmp_path / "after.ipynb"))
    assert [c.outputs[0].text for c in after.cells if c.cell_type == "code"] == ["independent\n"]


def nbformat_read(path):
    import nbformat
    return nbformat.read(path, as_version=4)


def test_an_exclusive_holder_waits_for_every_slot():
    import asyncio

    from runner.schedule import CoreSlots

    async def scenario():
        slots, log = CoreSlots(2), []

        async def worker(name, count, hold_for):
            async with slots.hold(count):
                log.append(f"{name} in")
                await asyncio.sleep(hold_for)
                log.append(f"{name} out")

        await asyncio.gather(worker("a", 1, 0.05), worker("exclusive", 2, 0.01), worker("b", 1, 0.01))
        return log

    log = asyncio.run(scenario())
    start, end = log.index("exclusive in"), log.index("exclusive out")
    assert end == start + 1 and log.index("a out") < start  # nobody else ran while it held both slots


def test_a_kernel_that_cannot_start_fails_its_note_only(make_vault, monkeypatch):
    from runner import kernels

    async def broken(env, **options):
        raise RuntimeError("no kernel today")

    monkeypatch.setattr(kernels, "start_kernel", broken)
    monkeypatch.setenv("LLM_VAULT_FORK", "0")
    cfg = make_vault({"B/Other.md": OTHER, "C.md": OTHER.replace("independent", "second")})
    results = run_vault(cfg, jobs=2, progress_display=False)
    assert [r.status for r in results] == ["failed", "failed"]
    assert all("no kernel could be started: RuntimeError('no kernel today')" in r.report for r in results)
    assert not (cfg.cache_dir / "runs").exists()  # a machine problem is not the note's result: nothing cached
