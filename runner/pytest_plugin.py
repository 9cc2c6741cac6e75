"""Doc-tests: every note with code is one pytest item, named after the note; `llm-vault check` is one more.

Registered through the `pytest11` entry point. It collects the project's vault when pytest is pointed at it (the
project's `testpaths` include `vault`). Selected notes run together, in one `run_vault` call, so `--jobs`, the
dependency order and the cache work exactly as on the command line; each item then reports its own note.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from . import config as config_mod

RESULTS = pytest.StashKey[dict]()


def pytest_addoption(parser):
    group = parser.getgroup("llm-vault")
    group.addoption("--vault-jobs", type=int, default=os.cpu_count() or 1, help="notes run in parallel")
    group.addoption("--vault-device", choices=["cpu", "cuda", "auto"], default=None, help="device the notes use")
    group.addoption("--vault-force", action="store_true", help="re-run notes even when cached")


def _vault_config(rootpath: Path):
    pyproject = rootpath / "pyproject.toml"
    if not pyproject.exists() or "[tool.llm-vault]" not in pyproject.read_text():
        return None
    return config_mod.load(pyproject=pyproject)


def pytest_collect_directory(path: Path, parent):
    cfg = _vault_config(parent.config.rootpath)
    if cfg is not None and Path(path).resolve() == cfg.vault:
        return VaultDir.from_parent(parent, path=Path(path), cfg=cfg)
    return None


class VaultDir(pytest.Directory):
    def __init__(self, *, cfg, **kwargs):
        super().__init__(**kwargs)
        self.cfg = cfg

    def collect(self):
        from .index import read_vault

        yield CheckItem.from_parent(self, name="check")
        for note in read_vault(self.cfg.vault).notes:
            if note.cells:
                yield NoteItem.from_parent(self, name=note.name, rel=note.rel)
        yield SiteItem.from_parent(self, name="site")


class SiteItem(pytest.Item):
    """The README's first command, last: `mkdocs build --strict` of the vault into site/, from the notes' runs."""

    def runtest(self):
        from mkdocs.exceptions import Abort

        from .execute import resolve_device
        from .site import build_mkdocs

        try:  # the pages show each note's cached run, whichever notes this session ran
            build_mkdocs(self.parent.cfg, self.parent.cfg.vault.parent / "site",
                         resolve_device(self.config.option.vault_device))
        except Abort as exc:
            raise VaultFailure(f"mkdocs build --strict failed: {exc}") from None

    def repr_failure(self, excinfo):
        return str(excinfo.value) if isinstance(excinfo.value, VaultFailure) else super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, None, "llm-vault build (site)"


class CheckItem(pytest.Item):
    def runtest(self):
        from .check import check_vault

        errors = [d for d in check_vault(self.parent.cfg) if d.severity == "error"]
        if errors:
            raise VaultFailure("\n".join(map(str, errors)))

    def repr_failure(self, excinfo):
        return str(excinfo.value) if isinstance(excinfo.value, VaultFailure) else super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, None, "llm-vault check"


class NoteItem(pytest.Item):
    def __init__(self, *, rel: str, **kwargs):
        super().__init__(**kwargs)
        self.rel = rel
        self.add_marker(pytest.mark.note)

    def runtest(self):
        results = self.session.stash.get(RESULTS, None)
        if results is None:
            results = self._run_selected()
        result = results[self.rel]
        if not result.ok:
            raise VaultFailure(result.report)

    def _run_selected(self) -> dict:
        from .execute import run_vault

        opts = self.config.option
        selected = [i.rel for i in self.session.items if isinstance(i, NoteItem)]
        found = run_vault(self.parent.cfg, selected, jobs=opts.vault_jobs, force=opts.vault_force,
                          device=opts.vault_device, progress_display=True)
        results = {r.note: r for r in found}
        self.session.stash[RESULTS] = results
        return results

    def repr_failure(self, excinfo):
        return str(excinfo.value) if isinstance(excinfo.value, VaultFailure) else super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, None, f"note: {self.rel}"


class VaultFailure(Exception):
    pass


def pytest_configure(config):
    config.addinivalue_line("markers", "note: a note of the vault, executed as a doc-test")
