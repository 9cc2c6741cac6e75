"""`llm-vault check`: every diagnostic of the vault — parse errors, links, aliases, companions — in one list."""
from __future__ import annotations

from .config import Config
from .export import ExportError, stale_companions
from .fences import fence_problems
from .index import Diagnostic, Vault, read_vault
from .links import check_links


def check_vault(config: Config, vault: Vault | None = None) -> list[Diagnostic]:
    vault = vault or read_vault(config.vault)
    found = [d for note in vault.notes for d in note.diagnostics]
    found += [Diagnostic(note.rel, line, message)
              for note in vault.notes for line, message in fence_problems(note.fences)]
    found += check_links(vault, config.planned)
    try:
        stale = stale_companions(vault)
        if len(stale) > 1:  # one message per note is enough: the index module is stale whenever any module is
            stale = [(path, why) for path, why in stale if path.name != "__init__.py"]
        for path, why in stale:
            rel = path.relative_to(vault.root).as_posix()
            note = _note_of(vault, path.stem)
            where = note.rel if note else rel
            found.append(Diagnostic(where, 1, f"companion module {rel} is {why}: run `llm-vault export`"))
    except ExportError as exc:
        found.append(Diagnostic(exc.rel, exc.line, exc.message))
    for title in config.planned:
        if any(n.name.casefold() == title.casefold() for n in vault.notes):
            found.append(Diagnostic("pyproject.toml", 1, f"'{title}' is written now: remove it from `planned`",
                                    "warning"))
    return sorted(set(found), key=lambda d: (d.path, d.line, d.message))


def _note_of(vault: Vault, companion: str):
    from .export import companion_name
    for note in vault.notes:
        try:
            if note.cells and companion_name(note) == companion:
                return note
        except ExportError:
            continue
    return None
