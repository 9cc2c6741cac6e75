"""Builds the site of the fixture vault (tests/site_vault) once per test session: run its notes, then mkdocs."""
from __future__ import annotations

import atexit
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

FIXTURE = Path(__file__).parent / "site_vault"


@dataclass
class Built:
    vault: Path
    site: Path
    cache: Path
    results: dict  # note rel → Result


_built: Built | None = None


def fresh_vault(tmp: Path) -> Path:
    vault = tmp / "vault"
    shutil.copytree(FIXTURE, vault, ignore=shutil.ignore_patterns("companions", "__pycache__"))
    return vault


def build(vault: Path, site: Path, cache: Path, run: bool = True, enabled: bool = True) -> dict:
    """Run the vault's notes (with the cache at `cache`), then `mkdocs build --strict` into `site`."""
    from runner import config, site as site_mod
    from runner.execute import run_vault

    old = os.environ.get("LLM_VAULT_CACHE")
    os.environ["LLM_VAULT_CACHE"] = str(cache)
    try:
        cfg = config.load(vault)
        results = {r.note: r for r in run_vault(cfg, jobs=2, progress_display=False, device="cpu")} if run else {}
        site_mod.build_mkdocs(cfg, site, device="cpu", enabled=enabled)
    finally:
        if old is None:
            os.environ.pop("LLM_VAULT_CACHE", None)
        else:
            os.environ["LLM_VAULT_CACHE"] = old
    return results


def built_site() -> Built:
    global _built
    if _built is None:
        tmp = Path(tempfile.mkdtemp(prefix="llm-vault-site-"))
        atexit.register(shutil.rmtree, tmp, True)
        vault = fresh_vault(tmp)
        results = build(vault, tmp / "site", tmp / "cache")
        _built = Built(vault, tmp / "site", tmp / "cache", results)
    return _built


class Captured(logging.Handler):
    """Collects mkdocs' log messages (its strict mode counts the warnings)."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages: list[tuple[str, str]] = []

    def emit(self, record):
        self.messages.append((record.levelname, record.getMessage()))

    def __enter__(self):
        logging.getLogger("mkdocs").addHandler(self)
        return self

    def __exit__(self, *exc):
        logging.getLogger("mkdocs").removeHandler(self)
