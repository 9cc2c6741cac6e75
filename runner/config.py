"""The project's settings: `[tool.llm-vault]` in pyproject.toml (where the vault is, which notes are planned)."""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .env import CACHE_VAR, REPO_ROOT


@dataclass
class Config:
    vault: Path
    planned: list[str] = field(default_factory=list)

    @property
    def cache_dir(self) -> Path:
        """Executed notebooks and artifacts: $LLM_VAULT_CACHE, else `.llm-vault/` beside the vault."""
        return Path(os.environ.get(CACHE_VAR) or self.vault.parent / ".llm-vault")



def load(vault: Path | None = None, pyproject: Path | None = None) -> Config:
    pyproject = pyproject or REPO_ROOT / "pyproject.toml"
    settings = {}
    if pyproject.exists():
        settings = tomllib.loads(pyproject.read_text()).get("tool", {}).get("llm-vault", {})
    if vault is None:
        vault = pyproject.parent / settings.get("vault", "vault")
        planned = settings.get("planned", [])
    else:
        # a vault given on the command line brings its own planned list, if it has one
        own = Path(vault) / ".planned"
        planned = [l.strip() for l in own.read_text().splitlines() if l.strip()] if own.exists() else []
    return Config(vault=Path(vault).resolve(), planned=list(planned))
