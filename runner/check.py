"""`llm-vault check`: every diagnostic of the vault — parse errors, links, aliases, companions — in one list."""
from __future__ import annotations

from pathlib import Path

from .cache import is_pattern, pattern_matches
from .config import Config
from .export import ExportError, stale_companions
from .fences import fence_problems
from .index import Diagnostic, Note, Vault, read_vault, split_frontmatter
from .links import check_links


def check_vault(config: Config, vault: Vault | None = None) -> list[Diagnostic]:
    vault = vault or read_vault(config.vault)
    found = [d for note in vault.notes for d in note.diagnostics]
    found += [Diagnostic(note.rel, line, message)
              for note in vault.notes for line, message in fence_problems(note.fences)]
    found += check_links(vault, config.planned)
    project = getattr(config, "project", None) or config.vault.parent
    for note in vault.notes:
        found += check_data(note, Path(project))
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


def check_data(note: Note, project: Path) -> list[Diagnostic]:
    """`data:` entries (relative to the note) must name files or folders that exist inside the project; a glob
    (`../**/*.md`) must match at least one file, and only files inside the project.

    They are part of the cache key: a path that does not exist, or one outside the project (which a clone does not
    have), would leave the note's cached result standing whatever the data become.
    """
    value = note.frontmatter.get("data")
    if value in (None, [], ""):
        return []
    line = _frontmatter_line(note, "data")
    if not isinstance(value, (list, str)) or isinstance(value, list) and not all(isinstance(v, str) for v in value):
        return [Diagnostic(note.rel, line, "`data` must be a list of paths relative to the note")]
    found = []
    root = project.resolve()
    for rel in [value] if isinstance(value, str) else value:
        if is_pattern(rel):
            matches = pattern_matches(note.path.parent, rel)
            outside = [m for m in matches if not m.resolve().is_relative_to(root)]
            if outside:
                found.append(Diagnostic(note.rel, line, f"data pattern {rel!r} matches files outside the project "
                                                        f"({root.name}/), such as {outside[0].resolve()}"))
            elif not matches:
                found.append(Diagnostic(note.rel, line, f"data pattern {rel!r} matches no file"))
            continue
        path = (note.path.parent / rel).resolve()
        if not path.is_relative_to(root):
            found.append(Diagnostic(note.rel, line, f"data file {rel!r} is outside the project ({root.name}/)"))
        elif not path.exists():
            found.append(Diagnostic(note.rel, line, f"data file {rel!r} does not exist (looked for "
                                                    f"{path.relative_to(root).as_posix()})"))
    return found


def _frontmatter_line(note: Note, key: str) -> int:
    yaml_text, _, _ = split_frontmatter(note.text)
    for i, text in enumerate((yaml_text or "").split("\n")):
        if text.startswith(f"{key}:"):
            return i + 2
    return 1
