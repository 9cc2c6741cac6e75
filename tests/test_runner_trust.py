"""Issue 10, the execution core: what the cache may claim, processes and files left behind, bounded outputs,
a full disk, `data:` entries, dependencies of a subset. Each test fails on the runner before these fixes."""
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from runner.cache import Cache
from runner.execute import plan, run_vault


def _by_note(results):
    return {r.note: r for r in results}


def _no_kernels(cfg, **kwargs):
    """A run in which starting a kernel is an error: only cache hits can pass."""
    from runner import kernels

    def refuse(*args, **kw):
        raise AssertionError("a kernel was started although nothing changed")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(kernels, "start_kernel", refuse)
        mp.setattr(kernels.ForkServer, "start", refuse)
        return run_vault(cfg, jobs=2, progress_display=False, **kwargs)


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in "ZX"
    except OSError:
        return False


# ---- 1. a cached result is reported under the note's current path and lines

SKIPPING = """
# Skipping
```python skip="needs a cluster"
import torch.distributed
```
```python
print("same code")
```
"""


def test_cached_results_follow_renames_moves_copies_and_new_prose(make_vault):
    cfg = make_vault({"Old.md": SKIPPING, "Twin.md": SKIPPING})
    first = _by_note(run_vault(cfg, jobs=2, progress_display=False))
    assert set(first) == {"Old.md", "Twin.md"} and first["Old.md"].key == first["Twin.md"].key

    # moved into a folder, renamed, and prose added above the cells: the same code, so the same entry
    old = cfg.vault / "Old.md"
    (cfg.vault / "Sub").mkdir()
    (cfg.vault / "Sub/New.md").write_text(old.read_text().replace("# Skipping\n", "# Skipping\n\nMore.\nProse.\n"))
    old.unlink()
    again = _by_note(_no_kernels(cfg))
    assert set(again) == {"Sub/New.md", "Twin.md"}  # one row each, none twice, none under the old name
    assert all(r.cached for r in again.values())
    assert again["Sub/New.md"].skipped == [{"line": 6, "reason": "needs a cluster"}]
    assert again["Twin.md"].skipped == [{"line": 3, "reason": "needs a cluster"}]

    # the site shows exactly the runs `build` just made: both notes badged as passed
    from runner.site import build_mkdocs
    site = cfg.vault.parent / "site"
    build_mkdocs(cfg, site, "cpu", keys={r.note: r.key for r in again.values()})
    for page in ("Sub/New.html", "Twin.html"):
        assert 'class="llm-badge llm-passed"' in (site / page).read_text(), page


FAILING = """
# Fails
```python
x = 1
missing_name
```
"""


def test_a_stored_failure_is_shown_at_the_notes_current_path_and_line(make_vault):
    cfg = make_vault({"Fail.md": FAILING})
    failed = run_vault(cfg, progress_display=False)[0]
    assert failed.report.startswith("Fail.md:4: NameError") and failed.line == 4

    moved = cfg.vault / "Notes/Failing.md"
    moved.parent.mkdir()
    moved.write_text((cfg.vault / "Fail.md").read_text().replace("# Fails\n", "# Fails\n\nNew prose.\n"))
    (cfg.vault / "Fail.md").unlink()
    vault, jobs = plan(cfg, None)
    result, nb = Cache(cfg.cache_dir).load(jobs[0].key, jobs[0].note)  # what the site and `notebook` show
    assert result.note == "Notes/Failing.md" and result.line == 6
    assert result.report.splitlines()[0] == "Notes/Failing.md:6: NameError: name 'missing_name' is not defined"
    assert "which starts at line 5" in result.report and "    6 | missing_name" in result.report
    assert "Fail.md" not in result.report.replace("Notes/Failing.md", "")
    assert [c.metadata["llm_vault"]["line"] for c in nb.cells if c.cell_type == "code"] == [5]


# ---- 2. failures and timeouts are not final; a changed timeout decides a re-run; the line that was running

SLOW = """
# Slow
```python
import time
started = time.time()
time.sleep(4)
print("slept")
```
"""


def test_timeouts_run_again_and_a_changed_limit_decides(make_vault):
    cfg = make_vault({"Slow.md": SLOW})
    short = run_vault(cfg, timeout=1.5, progress_display=False)[0]
    assert short.status == "failed" and short.timed_out
    # the interrupt's traceback names the line that was running, not the first line of the cell
    assert short.line == 5 and short.report.startswith("Slow.md:5: cell timed out after 1.5 s"), short.report
    assert "    5 | time.sleep(4)" in short.report

    longer = run_vault(cfg, timeout=60, progress_display=False)[0]
    assert longer.ok and not longer.cached, longer.report  # today: "failed (cached)" until --force
    assert _no_kernels(cfg, timeout=60)[0].cached
    # the cell took ~4 s: with a 1.5 s limit it would not pass now, so the stored pass is not reused
    assert not run_vault(cfg, timeout=1.5, progress_display=False)[0].ok


# ---- 3. --device cuda without CUDA

def test_device_cuda_without_cuda_is_one_error_before_anything_runs(make_vault):
    from runner.execute import DeviceError, require_device
    try:
        require_device("cuda")
    except DeviceError:
        pass
    else:
        pytest.skip("this machine has a usable CUDA device")
    cfg = make_vault({"Plain.md": "# Plain\n```python\nprint('no device needed')\n```\n"})
    proc = subprocess.run([sys.executable, "-m", "runner.cli", "--vault", str(cfg.vault), "run", "--device", "cuda"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc
    assert "no CUDA device" in proc.stderr and "Traceback" not in proc.stderr
    assert len([line for line in proc.stderr.splitlines() if "error" in line]) == 1
    assert not (cfg.cache_dir / "runs").exists()


# ---- 4. the same text whatever --jobs is

THREADS = """
# Sum
```python
import torch
torch.manual_seed(0)
x = torch.rand(3_000_000)
print(torch.get_num_threads(), repr(x.sum().item()))
```
"""


def test_the_same_note_prints_the_same_whatever_jobs_is(make_vault):
    cfg = make_vault({"Sum.md": THREADS})
    cache = Cache(cfg.cache_dir)

    def printed(jobs):
        result = run_vault(cfg, jobs=jobs, force=True, progress_display=False)[0]
        assert result.ok, result.report
        return next(c for c in cache.load(result.key)[1].cells if c.cell_type == "code").outputs[0].text

    assert printed(1) == printed(2)


# ---- 5. no process and no socket file outlives the run, even a SIGKILLed one

DETACHED = """
# Detached
```python
import subprocess, time
kids = [subprocess.Popen(["sleep", "300"], start_new_session=True) for _ in range(2)]
open("kids.txt", "w").write(" ".join(str(k.pid) for k in kids))
{rest}
```
"""


def test_a_child_in_its_own_session_dies_with_the_kernel(make_vault):
    cfg = make_vault({"Detached.md": DETACHED.format(rest="print('started')")})
    assert run_vault(cfg, progress_display=False)[0].ok
    pids = [int(p) for p in (cfg.vault / "kids.txt").read_text().split()]
    time.sleep(0.3)
    assert [pid for pid in pids if _alive(pid)] == []


@pytest.mark.parametrize("fork", ["1", "0"])  # kernels forked by the server, or started by it as new Pythons
def test_sigkill_of_the_runner_leaves_no_process_and_no_file(make_vault, fork):
    marker = f"llmvault-{uuid.uuid4().hex}"
    cfg = make_vault({"Detached.md": DETACHED.format(rest="open('ready', 'w')\ntime.sleep(300)")})
    tmp = Path(tempfile.mkdtemp(prefix="w10b-kill-", dir="/tmp"))
    try:
        env = {**os.environ, "TMPDIR": str(tmp), "MARK": marker, "LLM_VAULT_FORK": fork}
        runner = subprocess.Popen([sys.executable, "-m", "runner.cli", "--vault", str(cfg.vault), "run"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 120
        while not (cfg.vault / "ready").exists() and time.time() < deadline:
            time.sleep(0.2)
        assert (cfg.vault / "ready").exists()
        assert list(tmp.iterdir()), "the run keeps its sockets in the temporary folder"
        pids = [int(p) for p in (cfg.vault / "kids.txt").read_text().split()]
        runner.send_signal(signal.SIGKILL)
        runner.wait()
        deadline = time.time() + 15
        while time.time() < deadline and (any(map(_alive, pids)) or _marked(marker) or list(tmp.iterdir())):
            time.sleep(0.2)
        assert [pid for pid in pids if _alive(pid)] == []
        assert _marked(marker) == []
        assert list(tmp.iterdir()) == []
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _marked(marker: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and marker.encode() in (proc / "environ").read_bytes() and _alive(int(proc.name)):
                found.append(int(proc.name))
        except OSError:
            pass
    return found


# ---- 6, 7. bounded output, unshowable characters escaped, one box per stream

LOUD = """
# Loud
```python
import sys, time
for i in range(5):
    print("piece", i, flush=True)
    time.sleep(0.05)
print("nul:a\\x00b", "lone:\\ud800", "escaped:\\udc80")
```
```python
import sys
line = "y" * 99 + "\\n"
for _ in range(50_000):
    sys.stdout.write(line)
```
"""


def test_outputs_are_bounded_escaped_and_one_per_stream(make_vault):
    cfg = make_vault({"Loud.md": LOUD})
    result = run_vault(cfg, progress_display=False)[0]
    assert result.ok, result.report
    first, second = [c for c in Cache(cfg.cache_dir).load(result.key)[1].cells if c.cell_type == "code"]
    assert [o.output_type for o in first.outputs] == ["stream"]  # the loop's flushes coalesced into one output
    assert first.outputs[0].text == ("".join(f"piece {i}\n" for i in range(5)) +
                                     "nul:a\\x00b lone:\\ud800 escaped:\\udc80\n")
    [out] = second.outputs
    assert len(out.text) < 300_000 < 5_000_000
    assert out.text.startswith("y" * 99 + "\n") and out.text.endswith("y" * 99 + "\n")
    assert "output truncated (4.8 MB" in out.text

    from runner.site import build_mkdocs
    site = cfg.vault.parent / "site"
    build_mkdocs(cfg, site, "cpu")
    page = (site / "Loud.html").read_text()
    assert "output truncated (4.8 MB" in page and "nul:a\\x00b lone:\\ud800" in page
    assert (site / "Loud.html").stat().st_size < 1_000_000
    assert (site / "search/search_index.json").stat().st_size < 1_000_000


# ---- 8. a full disk while storing

def test_a_full_disk_is_one_line_and_leaves_nothing_half_written(make_vault, monkeypatch, capsys):
    import nbformat

    from runner import cache as cache_mod

    def full(nb, path, **kw):
        Path(path).write_text('{"cells": [')  # half a notebook, then the disk is full
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(cache_mod.nbformat, "write", full)
    cfg = make_vault({"Plain.md": "# Plain\n```python\nprint('hi')\n```\n"})
    result = run_vault(cfg, progress_display=True)[0]
    assert result.ok
    err = capsys.readouterr().err
    assert "Traceback" not in err
    [line] = [l for l in err.splitlines() if "error" in l]
    assert line.startswith("llm-vault: error: cannot store the result of Plain.md in ")
    assert line.endswith("No space left on device")
    assert list((cfg.cache_dir / "runs").iterdir()) == []  # no entry, no temporary folder
    monkeypatch.setattr(cache_mod.nbformat, "write", nbformat.write)
    assert not run_vault(cfg, progress_display=False)[0].cached  # nothing stale stands in for it


# ---- 9. data: entries

def test_data_entries_must_exist_inside_the_project(make_vault):
    from runner.check import check_vault

    cfg = make_vault({"Data.md": "---\ntags: [x]\ndata: [table.csv, ../../outside.txt, folder, tabel.csv]\n---\n"
                                 "# Data\n```python\nprint(1)\n```\n",
                      "table.csv": "a,b\n", "folder/one.txt": "1\n", "Single.md": "---\ndata: gone.txt\n---\n# S\n"})
    found = [str(d) for d in check_vault(cfg) if d.severity == "error"]
    assert "Data.md:3: error: data file '../../outside.txt' is outside the project (%s/)" % cfg.vault.parent.name \
        in found
    assert "Data.md:3: error: data file 'tabel.csv' does not exist (looked for vault/tabel.csv)" in found
    assert "Single.md:2: error: data file 'gone.txt' does not exist (looked for vault/gone.txt)" in found
    assert not any("table.csv'" in d or "'folder'" in d for d in found)


def test_a_data_folder_is_hashed_by_its_contents_and_a_missing_file_by_its_arrival(make_vault):
    cfg = make_vault({"Data.md": "---\ndata: [folder, later.txt]\n---\n# Data\n```python\nprint(1)\n```\n",
                      "folder/one.txt": "1\n"})

    def key():
        return plan(cfg, None)[1][0].key

    before = key()
    (cfg.vault / "folder/one.txt").write_text("2\n")
    changed = key()
    (cfg.vault / "later.txt").write_text("here now\n")
    arrived = key()
    (cfg.vault / "folder/sub").mkdir()
    (cfg.vault / "folder/sub/two.txt").write_text("x")
    assert len({before, changed, arrived, key()}) == 4


def test_a_data_glob_follows_every_note_it_matches(make_vault):
    """A note that reads the whole vault (the Glossary checks every link against every note) declares
    `data: ["../**/*.md"]`: editing, adding or renaming any note re-runs it; a glob matching nothing is an error."""
    from runner.check import check_vault

    reader = "---\ndata: ['../**/*.md']\n---\n# Reader\n```python\nprint(1)\n```\n"
    cfg = make_vault({"Topics/Reader.md": reader, "Topics/Other.md": "# Other\n", "Deep/er/Third.md": "# Third\n",
                      "Bad.md": "---\ndata: ['nothing/*.csv']\n---\n# Bad\n"})

    def key():
        return next(j.key for j in plan(cfg, None)[1] if j.note.rel == "Topics/Reader.md")

    before = key()
    assert key() == before  # stable
    (cfg.vault / "Deep/er/Third.md").write_text("# Third\nedited\n")
    edited = key()
    (cfg.vault / "Deep/er/Third.md").rename(cfg.vault / "Deep/er/Fourth.md")
    renamed = key()
    (cfg.vault / "New.md").write_text("# New\n")
    assert len({before, edited, renamed, key()}) == 4
    found = [str(d) for d in check_vault(cfg) if d.severity == "error"]
    assert found == ["Bad.md:2: error: data pattern 'nothing/*.csv' matches no file"], found


# ---- 10. a subset runs what it needs first; interrupted artifact builds leave nothing

TRAINER = """
---
companion: trainer
---
# Trainer
```python export
from runner.env import artifact, fingerprint

def model():
    def build(path):
        path.write_text("weights")
    return artifact("model.txt", fingerprint("model v1"), build).read_text()
```
```python
print("trained:", model())
```
"""

USER = """
# User
```python timeout=20
from companions import trainer
print("using", trainer.model())
```
"""


def test_running_one_note_runs_or_reuses_what_it_needs_first(make_vault):
    cfg = make_vault({"Trainer.md": TRAINER, "User.md": USER})
    seen = []

    class Recorder:
        def planned(self, jobs):
            seen.append(("planned", sorted(rel for rel, _ in jobs)))

        def started(self, rel, cells, reason=""):
            seen.append(("started", rel, reason))

        def cell(self, rel, index, total):
            seen.append(("cell", rel, index, total))

        def finished(self, result):
            seen.append(("finished", result.note, result.cached))

        def close(self):
            seen.append(("close",))

    results = _by_note(run_vault(cfg, ["User"], progress=Recorder()))
    assert all(r.ok for r in results.values()), [r.report for r in results.values()]
    assert results["Trainer.md"].artifacts == results["User.md"].artifacts != []
    started = [e for e in seen if e[0] == "started"]
    assert started == [("started", "Trainer.md", "needed by User.md"), ("started", "User.md", "")]
    assert ("cell", "Trainer.md", 2, 2) in seen and seen[-1] == ("close",)
    assert seen.index(("finished", "Trainer.md", False)) < seen.index(("started", "User.md", ""))
    durations = json.loads((cfg.cache_dir / "durations.json").read_text())
    assert set(durations) == {"Trainer.md", "User.md"}

    assert all(r.cached for r in _no_kernels(cfg, selection=["User"]))  # a cached dependency is reused
    shutil.rmtree(cfg.cache_dir / "artifacts")  # the artifact it built is gone: it is built again, first
    again = _by_note(run_vault(cfg, ["User"], progress_display=False))
    assert not again["Trainer.md"].cached and again["User.md"].ok


def test_an_interrupted_artifact_build_leaves_nothing_behind(make_vault):
    cfg = make_vault({"Build.md": """
        # Build
        ```python timeout=2
        import time
        from runner.env import artifact
        def build(path):
            path.write_text("half")
            time.sleep(60)
        artifact("big.bin", "k1", build)
        ```
        """})
    result = run_vault(cfg, progress_display=False)[0]
    assert result.timed_out and result.line == 8, result.report  # the call that was running
    artifacts = cfg.cache_dir / "artifacts"
    assert not artifacts.exists() or list(artifacts.rglob("*")) == []


def test_an_artifact_build_killed_outright_is_cleared_by_the_next_build(tmp_path, monkeypatch):
    monkeypatch.setenv("LLM_VAULT_CACHE", str(tmp_path))
    script = ("import time\nfrom runner.env import artifact\n"
              "artifact('m.bin', 'k', lambda p: (p.write_text('half'), open(p.parent.parent / 'go', 'w'), "
              "time.sleep(60)))\n")
    proc = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, "LLM_VAULT_CACHE": str(tmp_path)})
    deadline = time.time() + 60
    while not (tmp_path / "artifacts/k/go").exists() and time.time() < deadline:
        time.sleep(0.1)
    proc.kill()
    proc.wait()
    (tmp_path / "artifacts/k/go").unlink()
    from runner.env import artifact
    path = artifact("m.bin", "k", lambda p: p.write_text("whole"))
    assert path.read_text() == "whole"
    assert sorted(p.name for p in (tmp_path / "artifacts").rglob("*")) == ["k", "m.bin"]


def test_a_note_whose_dependency_failed_is_not_run(make_vault):
    cfg = make_vault({"Trainer.md": TRAINER.replace('print("trained:", model())', "raise SystemError('no')"),
                      "User.md": USER})
    results = _by_note(run_vault(cfg, ["User"], progress_display=False))
    assert not results["Trainer.md"].ok
    assert "not run: it needs Trainer.md, which failed" in results["User.md"].report
    assert not Cache(cfg.cache_dir).result(results["User.md"].key)  # not the note's own result: not stored


def test_exitfirst_starts_no_note_after_the_first_failure(make_vault):
    cfg = make_vault({"A.md": FAILING, "B.md": "# B\n```python\nprint('b')\n```\n",
                      "C.md": "# C\n```python\nprint('c')\n```\n"})
    results = run_vault(cfg, jobs=1, exitfirst=True, progress_display=False)
    assert [r.note for r in results] == ["A.md"] and not results[0].ok
