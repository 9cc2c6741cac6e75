"""The `llm-vault` command as a user meets it: which vault it finds, on a vault that is not this one, its messages,
its exit statuses, the progress display."""
from __future__ import annotations

import io
import json
import os
import pty
import select as select_mod
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from runner import config as config_mod
from runner.env import REPO_ROOT

HOME = """\
---
aliases: [Start Here]
---
# Home

See [[Squares]] and [[Sub/Fails]].

```python
print("hello from home")
```
"""
SQUARES = """\
# Squares

```python
squares = [i * i for i in range(5)]
```

```python
print(squares)
```
"""
FAILS = """\
# Fails

```python
x = 1
```

```python
raise ValueError("broken on purpose")
```

```python
print("never")
```
"""


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


@pytest.fixture(autouse=True)
def no_env_override(monkeypatch):
    """What a user's shell has: no cache or vault chosen by environment variables."""
    for var in ("LLM_VAULT_CACHE", "LLM_VAULT_DIR", "LLM_VAULT_DEVICE"):
        monkeypatch.delenv(var, raising=False)


def obsidian_vault(folder: Path, files: dict[str, str]) -> Path:
    """An Obsidian vault made from scratch: notes and an `.obsidian/` folder, nothing of this project."""
    (folder / ".obsidian").mkdir(parents=True)
    (folder / ".obsidian" / "app.json").write_text("{}")
    return write(folder, files)


def run_cli(monkeypatch, capsys, cwd: Path, *argv: str) -> tuple[int, str, str]:
    from runner.cli import main

    monkeypatch.chdir(cwd)
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse: --version, --help, usage errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


# ---- where the vault is

def test_check_finds_the_project_of_the_current_folder_not_the_installed_one(tmp_path, monkeypatch, capsys):
    project = write(tmp_path / "clone", {
        "pyproject.toml": '[tool.llm-vault]\nvault = "notes"\n',
        "notes/A.md": "# A\n\n[[Nowhere]]\n",
        "notes/Deep/B.md": "# B\n",
    })
    code, out, err = run_cli(monkeypatch, capsys, project / "notes" / "Deep", "check")
    assert code == 1
    assert "A.md:3: error: dangling link [[Nowhere]]" in out
    cfg = config_mod.load(start=project / "notes" / "Deep")
    assert cfg.vault == (project / "notes").resolve() and cfg.root == project.resolve()
    assert cfg.cache_dir == project.resolve() / ".llm-vault" and cfg.site_dir == project.resolve() / "site"


def test_vault_option_before_or_after_the_verb_keeps_the_projects_planned_list(tmp_path, monkeypatch, capsys):
    project = write(tmp_path / "p", {
        "pyproject.toml": '[tool.llm-vault]\nvault = "notes"\nplanned = ["Later"]\n',
        "notes/A.md": "# A\n\n[[Later]]\n",
    })
    for argv in (["--vault", str(project / "notes"), "check"], ["check", "--vault", str(project / "notes")]):
        code, out, err = run_cli(monkeypatch, capsys, tmp_path, *argv)
        assert code == 0, out + err
        assert "A.md:3: warning: [[Later]] is planned, not written yet" in out
        assert "0 errors, 1 warning" in err


def test_project_markers_in_order_pyproject_then_mkdocs_then_obsidian(tmp_path):
    # this repository's layout: the vault holds .obsidian/, the project above it has the settings
    write(tmp_path / "repo", {"pyproject.toml": '[tool.llm-vault]\nvault = "vault"\nplanned = ["X"]\n',
                              "vault/Basics/N.md": "# N\n"})
    (tmp_path / "repo/vault/.obsidian").mkdir()
    cfg = config_mod.load(start=tmp_path / "repo/vault/Basics")
    assert cfg.root == (tmp_path / "repo").resolve() and cfg.planned == ["X"]
    # a pyproject.toml without the table does not count; mkdocs.yml's docs_dir is the vault
    write(tmp_path / "site", {"pyproject.toml": "[project]\nname = 'x'\n",
                              "mkdocs.yml": "site_name: S\ndocs_dir: pages\nmarkdown_extensions:\n"
                                            "  - pymdownx.emoji:\n      emoji_index: !!python/name:x.y\n",
                              "pages/P.md": "# P\n"})
    cfg = config_mod.load(start=tmp_path / "site/pages")
    assert cfg.vault == (tmp_path / "site/pages").resolve() and cfg.mkdocs_yml == (tmp_path / "site/mkdocs.yml")
    # a bare vault: its cache inside it (hidden), its site beside it (mkdocs refuses a site inside the docs)
    bare = obsidian_vault(tmp_path / "Notes", {"Sub/N.md": "# N\n"})
    cfg = config_mod.load(start=bare / "Sub")
    assert cfg.vault == bare.resolve() and cfg.cache_dir == bare.resolve() / ".llm-vault"
    assert cfg.site_dir == (tmp_path / "Notes-site").resolve()


def test_site_config_is_the_projects_own_mkdocs_yml_with_our_hooks(tmp_path):
    from runner.config import HOOKS, RUNNER_MKDOCS_YML, mkdocs_config as mkdocs_config_file

    mine = write(tmp_path / "docs-project", {"mkdocs.yml": "site_name: Mine\ndocs_dir: pages\nhooks: [h.py]\n",
                                            "h.py": "", "pages/P.md": "# P\n"})
    path, overrides = mkdocs_config_file(config_mod.load(start=mine / "pages"))
    assert path == mine / "mkdocs.yml" and overrides["hooks"] == ["h.py", str(HOOKS)]
    assert overrides["docs_dir"] == str((mine / "pages").resolve())
    path, overrides = mkdocs_config_file(config_mod.load(start=REPO_ROOT / "vault"))
    assert path == REPO_ROOT / "mkdocs.yml" and "hooks" not in overrides  # it lists them already
    bare = obsidian_vault(tmp_path / "My Notes", {"N.md": "# N\n"})
    path, overrides = mkdocs_config_file(config_mod.load(start=bare))
    assert path == RUNNER_MKDOCS_YML and overrides["site_name"] == "My Notes"


def test_no_vault_here_is_one_clear_line(tmp_path, monkeypatch, capsys):
    code, out, err = run_cli(monkeypatch, capsys, tmp_path, "check")
    assert code == 2 and out == ""
    assert err.startswith(f"llm-vault: no vault found in {tmp_path.resolve()} or any folder above it")
    write(tmp_path, {"pyproject.toml": '[tool.llm-vault]\nvault = "nope"\n'})
    code, out, err = run_cli(monkeypatch, capsys, tmp_path, "check")
    assert code == 2 and "pyproject.toml: [tool.llm-vault] vault = 'nope': no such folder" in err


def test_note_code_outside_the_runner_sees_the_vault_of_the_current_folder(tmp_path, monkeypatch):
    from runner import env

    bare = obsidian_vault(tmp_path / "Mine", {"N.md": "# N\n"})
    monkeypatch.chdir(bare)
    assert env.vault_dir() == bare.resolve()
    assert env.cache_dir() == bare.resolve() / ".llm-vault"
    assert env.vault_notes() == [bare.resolve() / "N.md"]


# ---- a vault that is not this one, made from scratch

def test_foreign_obsidian_vault_check_run_build_notebook(tmp_path, monkeypatch, capsys):
    user = "# User\n\n```python\nimport companions\nfrom companions import squares\nprint(companions.__file__)\n```\n"
    vault = obsidian_vault(tmp_path / "Notes", {"Home.md": HOME, "Squares.md": SQUARES, "Sub/Fails.md": FAILS,
                                                "User.md": user})
    here = vault / "Sub"

    code, out, err = run_cli(monkeypatch, capsys, here, "notebook", "squares", "-o", str(tmp_path / "sq.ipynb"))
    assert code == 0 and "without outputs" in err and '`llm-vault notebook squares --run` runs it first' in err

    code, out, err = run_cli(monkeypatch, capsys, here, "run", "-j", "2")
    assert code == 1
    assert "Sub/Fails.md:8: ValueError: broken on purpose" in out
    assert "3 passed, 1 failed (0 from cache)" in out
    # progress on stderr, as plain lines (stderr is not a terminal here)
    assert "started  Squares.md (2 cells)" in err and "FAILED   Sub/Fails.md:8 (" in err
    assert (vault / ".llm-vault" / "runs").is_dir() and (vault / "companions" / "squares.py").is_file()

    code, out, err = run_cli(monkeypatch, capsys, here, "check")
    assert code == 0, out + err

    code, out, err = run_cli(monkeypatch, capsys, here, "notebook", "Squares", "-o", str(tmp_path / "sq.ipynb"))
    assert code == 0 and "with the outputs of its run of" in err
    cells = json.loads((tmp_path / "sq.ipynb").read_text())["cells"]
    assert [o["text"] for c in cells if c["cell_type"] == "code" for o in c["outputs"]] == [["[0, 1, 4, 9, 16]\n"]]
    # the notes import this vault's companions, not those of the vault the runner is installed with
    run_cli(monkeypatch, capsys, here, "notebook", "user", "-o", str(tmp_path / "u.ipynb"))
    cells = json.loads((tmp_path / "u.ipynb").read_text())["cells"]
    assert cells[1]["outputs"][0]["text"] == [str(vault.resolve() / "companions" / "__init__.py") + "\n"]
    code, out, err = run_cli(monkeypatch, capsys, here, "notebook", "fails", "-o", str(tmp_path / "f.ipynb"))
    assert code == 0 and "with partial outputs: its last run failed at Sub/Fails.md:8" in err

    # build: the site is written beside the vault, the failure badged, and the exit status says a note failed
    code, out, err = run_cli(monkeypatch, capsys, here, "build")
    site = tmp_path / "Notes-site"
    assert code == 1 and "exit status 1: 1 note failed (badged on its page)" in err
    assert (site / "Squares.html").is_file()
    assert "[0, 1, 4, 9, 16]" in (site / "Squares.html").read_text()
    assert "failed" in (site / "Sub" / "Fails.html").read_text().lower()
    code, out, err = run_cli(monkeypatch, capsys, here, "build", "--allow-failures")
    assert code == 0 and f"site written to {site.resolve()}/" in out


def test_build_exits_1_when_a_note_failed_and_still_writes_the_site(tmp_path, monkeypatch, capsys):
    vault = obsidian_vault(tmp_path / "V", {"Fails.md": FAILS, "Squares.md": SQUARES})
    site = tmp_path / "out"
    code, out, err = run_cli(monkeypatch, capsys, tmp_path, "--vault", str(vault), "build", "--site-dir", str(site))
    assert code == 1, out + err
    assert (site / "Fails.html").is_file() and (site / "Squares.html").is_file()
    code, out, err = run_cli(monkeypatch, capsys, tmp_path, "--vault", str(vault), "build", "--site-dir", str(site),
                             "--allow-failures")
    assert code == 0, out + err


def test_foreign_vault_with_its_own_settings(tmp_path, monkeypatch, capsys):
    project = write(tmp_path / "proj", {
        "pyproject.toml": '[project]\nname = "mine"\n\n[tool.llm-vault]\nvault = "kb"\nplanned = ["Later"]\n',
        "kb/Home.md": "# Home\n\n[[Squares]], [[Later]]\n",
        "kb/Squares.md": SQUARES,
    })
    (project / "kb" / ".obsidian").mkdir()
    code, out, err = run_cli(monkeypatch, capsys, project / "kb", "export")
    assert code == 0 and "wrote companions/squares.py" in out
    code, out, err = run_cli(monkeypatch, capsys, project, "check")
    assert code == 0 and "[[Later]] is planned" in out
    code, out, err = run_cli(monkeypatch, capsys, project / "kb", "build")
    assert code == 0, out + err
    assert (project / "site" / "Squares.html").is_file() and (project / ".llm-vault" / "runs").is_dir()
    assert "site written to" in out


# ---- the command line

def test_version(monkeypatch, capsys, tmp_path):
    from runner import __version__

    code, out, err = run_cli(monkeypatch, capsys, tmp_path, "--version")
    assert code == 0 and out.strip() == f"llm-vault {__version__}"


def test_help_for_every_argument_and_command(monkeypatch, capsys, tmp_path):
    import argparse

    from runner.cli import main

    class Caught(Exception):
        pass

    def catch(self, *args, **kwargs):  # the parser `main` builds, as it is about to parse
        raise Caught(self)

    with monkeypatch.context() as patched, pytest.raises(Caught) as caught:
        patched.setattr(argparse.ArgumentParser, "parse_args", catch)
        main(["check"])
    parser = caught.value.args[0]
    subparsers = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for verb, sub in subparsers.choices.items():
        for action in sub._actions:
            assert action.help and action.help != "==SUPPRESS==", f"{verb} {action.option_strings or action.dest}"
    assert all(choice.help for choice in subparsers._choices_actions)
    code, out, err = run_cli(monkeypatch, capsys, tmp_path)  # no verb: the help, not a bare usage error
    assert code == 2 and "commands:" in err and "notebook" in err


def test_notes_by_title_or_alias_any_case_with_a_suggestion_on_a_miss():
    from runner.execute import select
    from runner.index import read_vault

    vault = read_vault(REPO_ROOT / "vault")
    assert select(vault, "LLM Glossary").rel == "Reference/Glossary.md"
    assert select(vault, "llm glossary").rel == "Reference/Glossary.md"
    assert select(vault, "inference and generation").rel == "How LLMs Work/Inference and Generation.md"
    assert select(vault, "How LLMs Work/Inference and Generation").rel == "How LLMs Work/Inference and Generation.md"
    with pytest.raises(SystemExit, match=r"no note of that title, alias or path in vault/; did you mean "
                                         r"'Inference and Generation'"):
        select(vault, "Inference and Generaton")
    with pytest.raises(SystemExit, match="not a note of the vault"):
        select(vault, str(REPO_ROOT / "README.md"))


def test_exitfirst_starts_no_note_after_a_failure(tmp_path, monkeypatch, capsys):
    vault = obsidian_vault(tmp_path / "V", {"A Fails.md": FAILS, "B.md": SQUARES, "C.md": SQUARES.replace("5", "6")})
    code, out, err = run_cli(monkeypatch, capsys, vault, "run", "-x", "-j", "1")
    assert code == 1
    assert "A Fails.md  failed" in out and "B.md" not in out and "C.md" not in out
    assert "2 of 3 notes did not run: B.md, C.md" in err
    runs = list((vault / ".llm-vault" / "runs").iterdir())
    assert len(runs) == 1


def test_an_unknown_note_is_a_usage_error_with_a_suggestion(tmp_path, monkeypatch, capsys):
    vault = obsidian_vault(tmp_path / "V", {"Home.md": HOME, "Squares.md": SQUARES})
    code, out, err = run_cli(monkeypatch, capsys, vault, "run", "Squars")
    assert code == 2 and err.strip() == "llm-vault: Squars: no note of that title, alias or path in V/; " \
                                        "did you mean 'Squares'?"
    code, out, err = run_cli(monkeypatch, capsys, vault, "notebook", "start here", "-o", str(tmp_path / "h.ipynb"))
    assert code == 0 and (tmp_path / "h.ipynb").is_file()


# ---- progress

class Recorder:
    def __init__(self):
        self.events = []

    def planned(self, jobs):
        self.events.append(("planned", jobs))

    def started(self, rel, cells, reason=""):
        self.events.append(("started", rel, cells))

    def cell(self, rel, index, total):
        self.events.append(("cell", rel, index, total))

    def finished(self, result):
        self.events.append(("finished", result.note, result.cached))

    def close(self):
        self.events.append(("close",))


def test_run_vault_reports_every_note_and_cell_to_the_progress_display(tmp_path):
    from runner.execute import run_vault

    vault = obsidian_vault(tmp_path / "V", {"Squares.md": SQUARES})
    cfg = config_mod.load(vault)
    (cfg.cache_dir).mkdir(parents=True)
    (cfg.cache_dir / "durations.json").write_text('{"Squares.md": 4.5}')
    shown = Recorder()
    run_vault(cfg, progress=shown, jobs=1)
    assert shown.events == [("planned", [("Squares.md", 4.5)]), ("started", "Squares.md", 2),
                            ("cell", "Squares.md", 1, 2), ("cell", "Squares.md", 2, 2),
                            ("finished", "Squares.md", False), ("close",)]
    again = Recorder()
    run_vault(cfg, progress=again, jobs=1)
    assert again.events[1:] == [("finished", "Squares.md", True), ("close",)]


def test_live_display_rows_cells_and_estimate():
    from runner.cache import Result
    from runner.progress import Progress

    shown = Progress(stream=io.StringIO(), jobs=2, live=True)
    shown.planned([("A.md", 10.0), ("B.md", 20.0), ("C.md", None)])
    cached = Result(note="C.md", status="passed", seconds=1.0, key="k", device="cpu", date="d", cached=True)
    shown.finished(cached)
    assert shown._rich is None  # answered from the cache: rich is not even imported
    shown.started("A.md", 3)
    shown.cell("A.md", 2, 3)
    bar, overall = shown._rich
    row = next(t for t in bar.tasks if t.id != overall)
    assert row.fields["cell"] == "cell 2 of 3" and row.completed == 1 and row.total == 3
    # A started just now: 10 s of A and 20 s of B left, two at a time
    assert shown.remaining(now=shown.running["A.md"]["since"]) == pytest.approx(15.0)
    failed = Result(note="A.md", status="failed", seconds=2.0, key="k", device="cpu", date="d", line=7)
    shown.finished(failed)
    assert [t.id for t in bar.tasks] == [overall] and bar.tasks[0].completed == 2
    shown.close()
    assert "FAILED A.md:7 (2.0s)" in shown.stream.getvalue()
    assert "1 of 3 notes did not run: B.md" in shown.stream.getvalue()


def test_a_terminal_gets_the_live_display(tmp_path):
    vault = obsidian_vault(tmp_path / "V", {"Squares.md": SQUARES.replace("squares = ", "import time; "
                                                                          "time.sleep(1.0); squares = ")})
    master, slave = pty.openpty()
    env = {**os.environ, "COLUMNS": "120", "TERM": "xterm-256color",
           "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "vault"), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "runner.cli", "run", "-j", "1"], cwd=vault, env=env,
                            stdout=subprocess.PIPE, stderr=slave, text=True)
    os.close(slave)
    seen = b""
    while True:
        ready, _, _ = select_mod.select([master], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    out = proc.communicate(timeout=60)[0]
    os.close(master)
    text = seen.decode(errors="replace")
    assert proc.returncode == 0, out + text
    assert "Squares.md" in text and "cell 1 of 2" in text and "━" in text  # a row per note, its cell, the bar
    assert "\x1b[" in text  # redrawn in place, in colour
    assert "1 passed, 0 failed" in out  # the final table stays, on stdout


def test_plain_lines_for_logs_count_the_notes_run_for_others():
    from runner.cache import Result
    from runner.progress import Progress

    log = io.StringIO()
    shown = Progress(stream=log, jobs=1)  # a StringIO is no terminal: plain lines
    shown.planned([("A.md", 3.0)])
    shown.started("Dep.md", 2, "needed by A.md")
    shown.cell("Dep.md", 1, 2)
    shown.finished(Result(note="Dep.md", status="passed", seconds=0.42, key="k", device="cpu", date="d"))
    shown.started("A.md", 1)
    shown.finished(Result(note="A.md", status="passed", seconds=75.0, key="k", device="cpu", date="d"))
    shown.close()
    assert log.getvalue().splitlines() == [
        "      started  Dep.md (2 cells, needed by A.md)",
        "[1/2] passed   Dep.md (0.4s)",
        "      started  A.md (1 cell, last run 3s)",
        "[2/2] passed   A.md (1m 15s)",
    ]
    assert shown._rich is None
