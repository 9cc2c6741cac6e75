"""The project: where its vault, settings, cache and site are, found from a folder upwards as pytest and mkdocs do.

From the starting folder (the current one, or the `--vault` folder) upwards, the nearest `pyproject.toml` holding a
`[tool.llm-vault]` table marks the project; failing that, the nearest `mkdocs.yml` (its `docs_dir` is the vault);
failing that, the nearest folder holding `.obsidian/` is a vault on its own. The cache and `site/` belong to that
project, never to the checkout the runner happens to be installed from.
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .env import CACHE_VAR, REPO_ROOT

SECTION = "llm-vault"
MKDOCS_NAMES = ("mkdocs.yml", "mkdocs.yaml")
SETTINGS = {"vault", "planned"}
RUNNER_MKDOCS_YML = REPO_ROOT / "mkdocs.yml"  # the runner's own site config: the default for a vault without one
HOOKS = Path(__file__).with_name("mkdocs_hooks.py")


class ProjectError(Exception):
    """No vault where the user is, or settings that cannot be used: one line, naming the file."""


@dataclass
class Config:
    vault: Path
    planned: list[str] = field(default_factory=list)
    root: Path | None = None          # the project folder (pyproject.toml, mkdocs.yml); the vault itself when bare
    mkdocs_yml: Path | None = None    # the project's own mkdocs config, if it has one
    source: str = ""                  # what marked the project, for messages: "pyproject.toml", ".obsidian/", …

    @property
    def project(self) -> Path:
        return self.root or self.vault.parent

    @property
    def cache_dir(self) -> Path:
        """Executed notebooks and artifacts: $LLM_VAULT_CACHE, else `.llm-vault/` in the project folder."""
        return Path(os.environ.get(CACHE_VAR) or self.project / ".llm-vault")

    @property
    def site_dir(self) -> Path:
        """`site/` of the project; beside the vault when the project is the vault (mkdocs refuses a site inside it)."""
        site = self.project / "site"
        return self.vault.parent / f"{self.vault.name}-site" if site.is_relative_to(self.vault) else site


def load(vault: Path | None = None, pyproject: Path | None = None, start: Path | None = None) -> Config:
    """The project of `pyproject`, of the `vault` folder, or found from `start` (default: the current folder)."""
    if pyproject is not None:
        return _from_pyproject(Path(pyproject).resolve(), _settings(Path(pyproject)) or {})
    if vault is not None:
        folder = Path(vault).resolve()
        if not folder.is_dir():
            raise ProjectError(f"--vault {vault}: no such folder")
        found = find_project(folder)
        # the folder is that project's vault (its settings apply), or a vault of its own inside some other project
        return found if found is not None and found.vault == folder else bare_vault(folder)
    start = Path(start or Path.cwd()).resolve()
    found = find_project(start)
    if found is None:
        raise ProjectError(
            f"no vault found in {start} or any folder above it: run llm-vault inside a vault (a folder holding "
            f".obsidian/), a project with [tool.{SECTION}] in pyproject.toml or a mkdocs.yml, or pass --vault FOLDER")
    return found


def find_project(start: Path) -> Config | None:
    folders = [start, *start.parents]
    for folder in folders:
        settings = _settings(folder / "pyproject.toml")
        if settings is not None:
            return _from_pyproject(folder / "pyproject.toml", settings)
    for folder in folders:
        for name in MKDOCS_NAMES:
            if (folder / name).is_file():
                return _from_mkdocs(folder / name)
    for folder in folders:
        if (folder / ".obsidian").is_dir():
            return bare_vault(folder)
    return None


def bare_vault(folder: Path) -> Config:
    """A vault folder with no project settings; a `.planned` file in it (one title a line) lists planned notes."""
    own = folder / ".planned"
    planned = [line.strip() for line in own.read_text(encoding="utf-8").splitlines() if line.strip()] \
        if own.is_file() else []
    return Config(vault=folder, planned=planned, root=folder, source=".obsidian/")


def _settings(pyproject: Path) -> dict | None:
    """`[tool.llm-vault]` of a pyproject.toml, or None when the file or the table is not there."""
    if not pyproject.is_file():
        return None
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ProjectError(f"{pyproject}: not valid TOML: {exc}") from None
    settings = data.get("tool", {}).get(SECTION)
    if settings is not None and not isinstance(settings, dict):
        raise ProjectError(f"{pyproject}: [tool.{SECTION}] must be a table")
    return settings


def _from_pyproject(pyproject: Path, settings: dict) -> Config:
    root = pyproject.parent
    unknown = set(settings) - SETTINGS
    if unknown:
        raise ProjectError(f"{pyproject}: [tool.{SECTION}] has unknown key(s) {', '.join(sorted(unknown))} "
                           f"(known: {', '.join(sorted(SETTINGS))})")
    # no `vault` key: the project's vault/ folder if there is one, else the project folder is the vault
    name = settings.get("vault", "vault" if (root / "vault").is_dir() else ".")
    planned = settings.get("planned", [])
    if not isinstance(name, str):
        raise ProjectError(f"{pyproject}: [tool.{SECTION}] vault must be a folder name, not {name!r}")
    if not isinstance(planned, list) or not all(isinstance(t, str) for t in planned):
        raise ProjectError(f"{pyproject}: [tool.{SECTION}] planned must be a list of note titles")
    vault = (root / name).resolve()
    if not vault.is_dir():
        raise ProjectError(f"{pyproject}: [tool.{SECTION}] vault = {name!r}: no such folder {vault}")
    return Config(vault=vault, planned=list(planned), root=root, mkdocs_yml=_mkdocs_in(root),
                  source="pyproject.toml")


def _from_mkdocs(mkdocs_yml: Path) -> Config:
    docs_dir = _read_docs_dir(mkdocs_yml)
    vault = (mkdocs_yml.parent / docs_dir).resolve()
    if not vault.is_dir():
        raise ProjectError(f"{mkdocs_yml}: docs_dir {docs_dir!r} is not a folder")
    return Config(vault=vault, root=mkdocs_yml.parent, mkdocs_yml=mkdocs_yml, source=mkdocs_yml.name)


def _mkdocs_in(folder: Path) -> Path | None:
    return next((folder / n for n in MKDOCS_NAMES if (folder / n).is_file()), None)


def _read_docs_dir(mkdocs_yml: Path) -> str:
    return str(read_mkdocs(mkdocs_yml).get("docs_dir", "docs"))


def read_mkdocs(mkdocs_yml: Path) -> dict:
    """A mkdocs config as plain YAML (mkdocs itself validates it when the site is built)."""
    import yaml

    class Lenient(yaml.SafeLoader):
        """mkdocs configs use tags (`!ENV`, `!!python/name:`) that only mkdocs resolves; we read none of them."""

    Lenient.add_multi_constructor("", lambda loader, suffix, node: None)
    try:
        data = yaml.load(mkdocs_yml.read_text(encoding="utf-8"), Lenient)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ProjectError(f"{mkdocs_yml}: not valid YAML: {exc}") from None
    return data if isinstance(data, dict) else {}


def mkdocs_config(cfg: Config) -> tuple[Path, dict]:
    """The mkdocs config file to load for the project, and what to override in it.

    The project's own mkdocs.yml (with the runner's hooks added when it lacks them); else, for a vault of its own,
    the runner's mkdocs.yml under the vault's name.
    """
    overrides: dict = {"docs_dir": str(cfg.vault)}
    if cfg.mkdocs_yml is not None:
        hooks = read_mkdocs(cfg.mkdocs_yml).get("hooks") or []
        if not any(_is_runner_hooks(cfg.mkdocs_yml.parent / h) for h in hooks):
            overrides["hooks"] = [*hooks, str(HOOKS)]
        return cfg.mkdocs_yml, overrides
    if not RUNNER_MKDOCS_YML.is_file():
        raise ProjectError(f"{cfg.project} has no mkdocs.yml, and this installation of the runner has none to lend "
                           f"(install it with `pip install -e`): add a mkdocs.yml with `docs_dir: {cfg.vault.name}`")
    return RUNNER_MKDOCS_YML, {**overrides, "site_name": cfg.vault.name, "site_description": ""}


def _is_runner_hooks(path: Path) -> bool:
    try:
        return path.resolve() == HOOKS.resolve() or "runner.site" in path.read_text(encoding="utf-8")
    except OSError:
        return False
