import textwrap
from pathlib import Path

import pytest

from runner.config import Config


def write_vault(root: Path, files: dict[str, str | bytes], planned: list[str] = ()) -> Config:
    """A vault made of `files` ({rel path: text}) under root/vault, with its own cache under root/.llm-vault."""
    vault = root / "vault"
    for rel, content in files.items():
        path = vault / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content).lstrip("\n"), encoding="utf-8")
    (vault / ".obsidian").mkdir(parents=True, exist_ok=True)
    return Config(vault=vault.resolve(), planned=list(planned))


@pytest.fixture
def make_vault(tmp_path, monkeypatch):
    monkeypatch.setenv("LLM_VAULT_CACHE", str(tmp_path / ".llm-vault"))

    def make(files, planned=()):
        return write_vault(tmp_path, files, planned)

    return make
