"""Stage 2 — links: resolve wiki-links and Markdown links the way Obsidian does, and check the whole vault.

Obsidian's rules (help.obsidian.md: "Internal links", "Embed files", "Aliases", "Accepted file formats"), as
implemented here:
- names match case-insensitively, with or without `.md`, after Unicode normalisation (NFC: a file name stored
  decomposed, as macOS does, matches a link typed composed);
- a link to a file of any extension (`[[clip.mp4]]`, `![[plan.canvas]]`) names an attachment; anything else names a
  note, dots included (`[[Note.1]]` is `Note.1.md`);
- a bare name matches a unique note anywhere in the vault; a name with a `/` matches that path (from the vault root,
  or as a path suffix);
- when several notes share a name, the one in the linking note's folder wins, then the one with the shortest path
  (with a warning, since a new note elsewhere can silently change the target);
- a Markdown link `[t](Note.md)`, `[t](Note)`, `![x](diagram.png)` (URL-encoded) is tried relative to the note,
  then from the vault root, then by name like a wiki-link;
- `#Heading` is compared the way Obsidian's `stripHeading` compares (punctuation and runs of spaces ignored), and
  `#Part#Section` is a path of nested headings; `#^block` must exist in the target.
"""
from __future__ import annotations

import posixpath
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from pathlib import PurePosixPath

from .index import Diagnostic, Heading, Link, Note, Vault

# Obsidian's `stripHeading` (obsidian.d.ts: "Normalizes headings for link matching by stripping out special
# characters and shrinking consecutive spaces"; its example strips !"#$%&()*+,.:;<=>?@^`{|}~/[]\ and line breaks).
HEADING_PUNCTUATION = re.compile(r"[!\"#$%&()*+,.:;<=>?@^`{|}~/\[\]\\\r\n]")
TRAILING_BLOCK_ID = re.compile(r"\s\^[A-Za-z0-9-]+\s*$")
# The formats Obsidian lists ("Accepted file formats"), and its own canvas and base files: only used to word the
# message for a missing one — a link to an existing file of any extension resolves.
FILE_FORMATS = {"png", "webp", "jpg", "jpeg", "gif", "bmp", "svg", "avif", "mp3", "webm", "wav", "m4a", "ogg", "3gp",
                "flac", "mp4", "ogv", "mov", "mkv", "pdf", "canvas", "base", "csv", "txt", "json", "py"}


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _key(name: str) -> str:
    name = _nfc(name.strip().replace("\\", "/"))
    if name.lower().endswith(".md"):
        name = name[:-3]
    return name.casefold()


def heading_key(text: str) -> str:
    """What Obsidian compares when a link names a heading: `How large can it be?` and `How large can it be` match,
    `` `hasTag()` `` and `hasTag` too (a trailing ` ^block-id` is not part of the heading)."""
    text = TRAILING_BLOCK_ID.sub("", text)
    return re.sub(r"\s+", " ", HEADING_PUNCTUATION.sub(" ", _nfc(text))).strip().casefold()


def find_heading(note: Note, path: tuple[str, ...] | list[str]) -> Heading | None:
    """`("Part", "Section")` → the first heading `Section` after the first heading `Part`, deeper than it (Obsidian
    help, "Internal links": "You can add multiple hashtags for each subheading"). The walk is Obsidian's
    `resolveSubpath` as transcribed by plugin authors: each part matches the next heading, after the previous
    match, that is deeper than it — the heading need not lie inside the previous one's section."""
    wanted = [heading_key(part) for part in path]
    matched, level = 0, 0
    for heading in note.headings:
        if heading.level > level and heading_key(heading.raw or heading.text) == wanted[matched]:
            matched, level = matched + 1, heading.level
            if matched == len(wanted):
                return heading
    return None


@dataclass
class Resolution:
    note: Note | None = None
    attachment: str | None = None
    heading: Heading | None = None
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
                self.by_alias[_nfc(alias).casefold()].append(note)
        self.attachments_by_name: dict[str, list[str]] = defaultdict(list)
        self.attachments_by_path: dict[str, str] = {}
        for rel in vault.attachments:
            self.attachments_by_name[_nfc(PurePosixPath(rel).name).casefold()].append(rel)
            self.attachments_by_path[_nfc(rel).casefold()] = rel

    def resolve(self, link: Link, source: Note) -> Resolution:
        if not link.target:
            return self._check_anchor(Resolution(note=source), link)
        if link.markdown:
            return self._resolve_markdown(link, source)
        return self._resolve_wiki(link, link.target, source)

    def _resolve_wiki(self, link: Link, written: str, source: Note) -> Resolution:
        attachment = self._attachment(written, source)
        if attachment:
            return Resolution(attachment=attachment)
        key = _key(written)
        res = self._resolve_name(written, key, source)
        if res.error and not res.planned and PurePosixPath(written).suffix.lower()[1:] in FILE_FORMATS:
            res.error = f"missing attachment {written}: no such file in the vault"
        return self._check_anchor(res, link)

    def _attachment(self, written: str, source: Note) -> str | None:
        name = _nfc(written.strip().replace("\\", "/")).casefold()
        if "." not in PurePosixPath(name).name:
            return None
        if "/" in name:
            path = name.lstrip("/")
            local = posixpath.normpath(posixpath.join(_nfc(source.folder).casefold(), path))
            found = self.attachments_by_path.get(path) or self.attachments_by_path.get(local)
            if found:
                return found
            suffix = [rel for key, rel in self.attachments_by_path.items() if key.endswith("/" + path)]
            return min(suffix, key=len) if suffix else None
        found = self.attachments_by_name.get(name, [])
        same = [p for p in found if posixpath.dirname(p) == source.folder]
        return (same or sorted(found, key=len) or [None])[0]

    def _resolve_name(self, written: str, key: str, source: Note) -> Resolution:
        if "/" in key:
            if key.lstrip("/") in self.by_path:
                return Resolution(note=self.by_path[key.lstrip("/")])
            candidates = [n for p, n in self.by_path.items() if p.endswith("/" + key)]
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
        owners = self.by_alias.get(_nfc(written.strip()).casefold(), [])
        if owners:
            return Resolution(error=f"dangling link [[{written}]]: no such note; '{written}' is an alias of "
                                    f"{owners[0].name} — write [[{owners[0].name}|{written}]]")
        return Resolution(error=f"dangling link [[{written}]]: no note of that name in the vault")

    def _resolve_markdown(self, link: Link, source: Note) -> Resolution:
        written = link.target
        local = posixpath.normpath(posixpath.join(source.folder, written))
        for path in (local, written.lstrip("/")):
            if path.startswith("../"):
                continue
            note = self.by_path.get(_key(path))
            if note is not None:
                return self._check_anchor(Resolution(note=note), link)
            found = self.attachments_by_path.get(_nfc(path).casefold())
            if found:
                return Resolution(attachment=found)
        if not written.startswith(("./", "../")):  # Obsidian also finds a bare name anywhere, like [[name]]
            res = self._resolve_wiki(link, written, source)
            if not res.error and not res.planned:
                return res
        return Resolution(error=f"broken link ({written}): {local} does not exist")

    def _check_anchor(self, res: Resolution, link: Link) -> Resolution:
        note = res.note
        if note is None:
            return res
        path = link.heading_path or ((link.heading,) if link.heading else ())
        if path:
            res.heading = find_heading(note, path)
            if res.heading is None:
                res.error = f"no heading '{'#'.join(path)}' in {note.rel}"
                if len(path) > 1 and find_heading(note, path[-1:]):
                    res.error += f": '{path[-1]}' is there, but not under '{'#'.join(path[:-1])}'"
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
    """Obsidian allows two notes to share an alias, or an alias to be another note's name (help, "Aliases": an
    alias is only a name offered by link suggestions) — a warning naming both notes, so the author can choose."""
    found = []
    names = {_nfc(n.name).casefold(): n for n in vault.notes}
    seen: dict[str, Note] = {}
    for note in vault.notes:
        line = next((i + 1 for i, l in enumerate(note.text.split("\n")) if l.startswith(("aliases:", "alias:"))), 1)
        for alias in note.aliases:
            key = _nfc(alias).casefold()
            named = names.get(key)
            if key in seen and seen[key] is not note:
                found.append(Diagnostic(note.rel, line, f"alias '{alias}' of {note.rel} is also an alias of "
                                                        f"{seen[key].rel}", "warning"))
            elif named is not None and named is not note:
                found.append(Diagnostic(note.rel, line, f"alias '{alias}' of {note.rel} is also the name of "
                                                        f"{named.rel}", "warning"))
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
