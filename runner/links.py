"""Stage 2 — links: resolve wiki-links the way Obsidian does, and check the whole vault.

Obsidian's rules, as implemented here:
- names match case-insensitively, with or without `.md`;
- a bare name matches a unique note anywhere in the vault; a name with a `/` matches that path (from the vault root,
  or as a path suffix);
- when several notes share a name, the one in the linking note's folder wins, then the one with the shortest path
  (with a warning, since a new note elsewhere can silently change the target);
- `#Heading` and `#^block` must exist in the target.
"""
from __future__ import annotations

import posixpath
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import PurePosixPath

from .index import Diagnostic, Link, Note, Vault


def _key(name: str) -> str:
    name = name.strip().replace("\\", "/")
    if name.lower().endswith(".md"):
        name = name[:-3]
    return name.casefold()


def heading_key(text: str) -> str:
    """Obsidian compares headings loosely: case, surrounding space and runs of spaces don't matter."""
    text = re.sub(r"\s\^[A-Za-z0-9-]+$", "", text)
    return re.sub(r"\s+", " ", text).strip().casefold()


@dataclass
class Resolution:
    note: Note | None = None
    attachment: str | None = None
    warning: str | None = None
    error: str | None = None
    planned: bool = False


class Resolver:
    def __init__(self, vault: Vault, planned: list[str] = ()):
        self.vault = vault
        self.planned = {_key(p) for p in planned}
        self.by_name: dict[str, list[Note]] = defaultdict(list)
        self.by_path: dict[str, Note] = {}
        self.by_alias: dict[str, list[Note]] = defaultdict(list)
        for note in vault.notes:
            self.by_name[_key(note.name)].append(note)
            self.by_path[_key(note.rel)] = note
            for alias in note.aliases:
                self.by_alias[alias.casefold()].append(note)
        self.attachments_by_name: dict[str, list[str]] = defaultdict(list)
        for rel in vault.attachments:
            self.attachments_by_name[PurePosixPath(rel).name.casefold()].append(rel)

    def resolve(self, link: Link, source: Note) -> Resolution:
        if not link.target:
            return self._check_anchor(Resolution(note=source), link)
        if link.markdown:
            return self._resolve_markdown(link, source)
        key = _key(link.target)
        if "." in PurePosixPath(key).name and not link.target.lower().endswith(".md"):
            return self._resolve_attachment(link.target, source)
        return self._check_anchor(self._resolve_name(link.target, key, source), link)

    def _resolve_name(self, written: str, key: str, source: Note) -> Resolution:
        if "/" in key:
            if key in self.by_path:
                return Resolution(note=self.by_path[key])
            suffix = [n for p, n in self.by_path.items() if p.endswith("/" + key)]
            candidates = suffix
        else:
            candidates = self.by_name.get(key, [])
        if len(candidates) == 1:
            return Resolution(note=candidates[0])
        if candidates:
            return self._disambiguate(written, candidates, source)
        return self._missing(written, key)

    def _disambiguate(self, written: str, candidates: list[Note], source: Note) -> Resolution:
        listed = ", ".join(n.rel for n in candidates)
        same_folder = [n for n in candidates if n.folder == source.folder]
        if len(same_folder) == 1:
            chosen = same_folder[0]
        else:
            ranked = sorted(candidates, key=lambda n: (n.rel.count("/"), len(n.rel)))
            if (ranked[0].rel.count("/"), len(ranked[0].rel)) == (ranked[1].rel.count("/"), len(ranked[1].rel)):
                return Resolution(error=f"ambiguous link [[{written}]]: it matches {listed}; add the folder")
            chosen = ranked[0]
        return Resolution(note=chosen, warning=f"ambiguous link [[{written}]] matches {listed}; "
                                               f"resolved to {chosen.rel} — add the folder to make it explicit")

    def _missing(self, written: str, key: str) -> Resolution:
        if key in self.planned or PurePosixPath(key).name in self.planned:
            return Resolution(planned=True, warning=f"[[{written}]] is planned, not written yet")
        owners = self.by_alias.get(written.strip().casefold(), [])
        if owners:
            return Resolution(error=f"dangling link [[{written}]]: no such note; '{written}' is an alias of "
                                    f"{owners[0].name} — write [[{owners[0].name}|{written}]]")
        return Resolution(error=f"dangling link [[{written}]]: no note of that name in the vault")

    def _resolve_markdown(self, link: Link, source: Note) -> Resolution:
        path = posixpath.normpath(posixpath.join(source.folder, link.target)).lstrip("./")
        if path.lower().endswith(".md"):
            note = self.by_path.get(_key(path))
            if note is None:
                return Resolution(error=f"broken link ({link.target}): {path} does not exist")
            return self._check_anchor(Resolution(note=note), link)
        if path in self.vault.attachments:
            return Resolution(attachment=path)
        return Resolution(error=f"broken link ({link.target}): {path} does not exist")

    def _resolve_attachment(self, written: str, source: Note) -> Resolution:
        name = written.strip()
        if "/" in name:
            path = name.lstrip("/")
            if path in self.vault.attachments:
                return Resolution(attachment=path)
            local = posixpath.normpath(posixpath.join(source.folder, path))
            if local in self.vault.attachments:
                return Resolution(attachment=local)
            return Resolution(error=f"missing attachment {written}")
        found = self.attachments_by_name.get(name.casefold(), [])
        if not found:
            return Resolution(error=f"missing attachment {written}: no such file in the vault")
        same = [p for p in found if posixpath.dirname(p) == source.folder]
        return Resolution(attachment=(same or sorted(found, key=len))[0])

    def _check_anchor(self, res: Resolution, link: Link) -> Resolution:
        note = res.note
        if note is None:
            return res
        if link.heading and not any(heading_key(h.text) == heading_key(link.heading) for h in note.headings):
            res.error = f"no heading '{link.heading}' in {note.rel}"
        if link.block and link.block not in note.blocks:
            res.error = f"no block ^{link.block} in {note.rel}"
        return res


def check_links(vault: Vault, planned: list[str] = ()) -> list[Diagnostic]:
    """Every link of every note resolved; plus the vault-wide rules (unique aliases)."""
    resolver = Resolver(vault, planned)
    found: list[Diagnostic] = []
    for note in vault.notes:
        for link in note.links:
            res = resolver.resolve(link, note)
            if res.error:
                found.append(Diagnostic(note.rel, link.line, res.error))
            elif res.warning:
                found.append(Diagnostic(note.rel, link.line, res.warning, "warning"))
    found += _check_aliases(vault)
    return found


def _check_aliases(vault: Vault) -> list[Diagnostic]:
    found = []
    names = {n.name.casefold(): n for n in vault.notes}
    seen: dict[str, Note] = {}
    for note in vault.notes:
        line = next((i + 1 for i, l in enumerate(note.text.split("\n")) if l.startswith("aliases:")), 1)
        for alias in note.aliases:
            key = alias.casefold()
            other = seen.get(key) or (names.get(key) if names.get(key) is not note else None)
            if other is not None and other is not note:
                found.append(Diagnostic(note.rel, line, f"duplicate alias '{alias}': also {other.rel}"))
            seen.setdefault(key, note)
    return found


def backlinks(resolver: Resolver) -> dict[str, list[str]]:
    """note rel → sorted rels of the notes that link to it (used by the site, with the resolver it renders with)."""
    incoming: dict[str, set[str]] = defaultdict(set)
    for note in resolver.vault.notes:
        for link in note.links:
            res = resolver.resolve(link, note)
            if res.note is not None and res.note is not note:
                incoming[res.note.rel].add(note.rel)
    return {rel: sorted(srcs) for rel, srcs in incoming.items()}
