"""Stage 1, inside a paragraph: the links, comments, inline footnotes, block ids and #tags of one inline token.

markdown-it (with obsidian_md.py's rules) has already decided what is code, what is escaped and what is a
wiki-link; this reads its tokens into `Link`s with their lines and places. Used by index.py for every note.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

from .obsidian_md import SourceMap, Span

BLOCK_ID = re.compile(r"(?:^|\s)\^([A-Za-z0-9-]+)\s*$")
INLINE_TAG = re.compile(r"(?<![\w&#/])#([A-Za-z_][\w/-]*)")


@dataclass
class Link:
    target: str             # note or file name as written ("" = this note)
    heading: str | None     # `#Heading` part (last component)
    block: str | None       # `#^block` part
    alias: str | None       # `|shown text` (or the size, for images)
    embed: bool
    line: int
    markdown: bool = False  # a plain `[text](Note.md)` link rather than a wiki-link
    heading_path: tuple[str, ...] = ()  # every `#Heading` part: `[[Note#Part#Section]]` → ("Part", "Section")
    raw: str = ""           # the wiki-link exactly as written, `[[…]]` included
    span: Span | None = None  # where it is written (None when markdown-it's content could not be mapped back)


def plain_text(inline) -> str:
    """A heading's text as displayed: text, code and the shown text of its links."""
    parts = []
    for child in inline.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type == "wikilink":
            link = wikilink(child.meta["inner"], False, 0)
            parts.append(link.alias or link.target)
    return "".join(parts).strip()


def read_inline(note, inline, lines: list[str]) -> None:
    """Fill `note` with what the inline token holds; `lines` are the note's lines (for the places of links)."""
    first = inline.map[0] + 1 if inline.map else 1
    content = inline.content
    source_map: list[SourceMap] = []

    def span(tok) -> Span | None:
        if not inline.map:
            return None
        if not source_map:  # built only for the few tokens that hold a wiki-link, comment or footnote
            source_map.append(SourceMap(content, inline.map[0], lines))
        return source_map[0].span(tok.meta["start"], tok.meta["end"])

    def line_of(tok) -> int:
        return first + content.count("\n", 0, tok.meta["start"])

    _read_children(note, inline.children or [], first, span, line_of, lines)
    match = BLOCK_ID.search(content)
    if match and inline.map:
        note.blocks[match.group(1)] = inline.map[1]


def _read_children(note, children, line: int, span, line_of, lines: list[str]) -> None:
    run: list[str] = []

    def flush():
        for m in INLINE_TAG.finditer("".join(run)):
            if not m.group(1).isdigit():
                note.inline_tags.append(m.group(1))
        run.clear()

    for child in children:
        kind = child.type
        if kind == "text":
            run.append(child.content)
            continue
        if kind in ("softbreak", "hardbreak"):
            run.append("\n")
            line += 1
            continue
        flush()
        if kind == "wikilink":
            link = wikilink(child.meta["inner"], child.meta["embed"], line_of(child))
            link.span = span(child)
            where = link.span  # the source text (a table cell's `\\|` included, which markdown-it's content drops)
            link.raw = lines[where.line - 1][where.col:where.end_col] if where else child.content
            note.links.append(link)
        elif kind == "wikilink_broken":
            shown = child.content.replace("\n", " ")
            note.error(line_of(child), f"not a link: {shown} is broken across a line break, so Obsidian shows "
                                       f"it as text; put it on one line")
        elif kind == "obsidian_comment":
            note.comments.append(span(child))
        elif kind == "obsidian_footnote":
            note.footnotes.append(span(child))
            _read_children(note, child.children, line_of(child), span, line_of, lines)
        elif kind in ("link_open", "image"):
            href = child.attrs.get("href") or child.attrs.get("src") or ""
            link = markdown_link(str(href), kind == "image", line)
            if link:
                note.links.append(link)
    flush()


def _anchor(anchor: str) -> tuple[tuple[str, ...], str | None]:
    """`Part#Section` → (("Part", "Section"), None); `^block-id ` → ((), "block-id")."""
    parts = [part.strip() for part in anchor.split("#")] if anchor else []
    block = parts.pop()[1:].strip() or None if parts and parts[-1].startswith("^") else None
    return tuple(part for part in parts if part), block


def wikilink(inner: str, embed: bool, line: int) -> Link:
    """`Target#Part#Section|shown`, `Target#^block`, `#Heading` (this note) → a Link (Obsidian help, "Internal
    links"). A `\\|` is the pipe of a link written inside a table."""
    inner = inner.replace("\\|", "|")
    target, _, alias = inner.partition("|")
    target, _, anchor = target.partition("#")
    path, block = _anchor(anchor)
    return Link(target.strip(), path[-1] if path else None, block, alias.strip() or None, embed, line,
                heading_path=path)


def markdown_link(href: str, embed: bool, line: int) -> Link | None:
    """`[text](Note%20name.md#Heading)`, `[text](Note)`, `![alt](picture.png)`: any link into the vault."""
    url = urlparse(href)
    if url.scheme or url.netloc or href.startswith("//"):
        return None
    path, anchor = unquote(url.path), unquote(url.fragment)
    if not path and not anchor:
        return None
    headings, block = _anchor(anchor)
    return Link(path, headings[-1] if headings else None, block, None, embed, line, markdown=True,
                heading_path=headings)
