"""A page's Markdown as `check` reads it, for the site: each wiki-link swapped for a marker, comments gone, inline
footnotes made footnotes — and the page being rendered (`PageContext`), which the markers and markdown_ext.py's
patterns refer to.

The page is read by the runner's own parser (index.read_body: markdown-it with Obsidian's rules), so the site
renders exactly the links `check` found, at the places it found them, whatever Python-Markdown would make of the
brackets (an escape, emphasis in the shown text, a table cell's `\\|`).
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from urllib.parse import quote

from mkdocs.utils import get_relative_url

from .index import Link, Note, read_body
from .links import Resolver

log = logging.getLogger("mkdocs.plugins.llm_vault")
LINK_MARK = "\ue000{}\ue001"  # a wiki-link `check` found (private-use characters: never in a note)
GONE = "\ue002"               # keeps a line that only held part of a comment from becoming a blank line


@dataclass
class PageContext:
    """The page being rendered: its note (None for generated pages) and the vault's resolver."""
    resolver: Resolver | None = None
    note: Note | None = None
    reported: set = field(default_factory=set)
    marks: list[Link] = field(default_factory=list)  # the page's wiki-links, by marker number
    premarked: bool = False  # the site marked the page's Markdown itself (`premark`), before mkdocs' plugins ran

    def premark(self, markdown: str) -> str:
        """For the site's hooks: mark the page now, before the callouts plugin re-indents callout bodies (which a
        CommonMark reader would then take for code)."""
        if self.note is None or self.resolver is None:
            return markdown
        self.premarked = True
        return "\n".join(mark_obsidian(self, markdown.split("\n")))

    def line_of(self, link: Link) -> int | str:
        for candidate in self.note.links:
            if (candidate.target, candidate.heading_path, candidate.block, candidate.embed, candidate.markdown) == \
                    (link.target, link.heading_path, link.block, link.embed, link.markdown):
                return candidate.line
        return "?"

    def href(self, target: str, anchor: str | None = None) -> str:
        """A link from the current note to a vault path, relative, as written in Markdown (`../B/Note.md#x`)."""
        fragment = f"#{quote(anchor, safe='^:')}" if anchor else ""
        if target == self.note.rel and anchor:
            return fragment
        path = get_relative_url(target, self.note.rel)  # posixpath.relpath would ask the OS for the cwd, per link
        return quote(path) + fragment

    def report(self, link: Link, error: str) -> None:
        message = f"{self.note.rel}:{self.line_of(link)}: {error}"
        if message not in self.reported:  # strict builds fail on this warning, naming the file and line
            self.reported.add(message)
            log.warning(message)


def unreadable_page(note: Note) -> str | None:
    """The page of a note whose bytes are not UTF-8 (index.py could not decode it): the problem, at its line."""
    if note.text or not note.diagnostics or "not valid UTF-8" not in note.diagnostics[0].message:
        return None
    return (f"# {note.name}\n\n!!! failure \"This note could not be read\"\n\n"
            f"    `{note.diagnostics[0]}`\n")


def mark_obsidian(ctx: PageContext, lines: list[str]) -> list[str]:
    """Read the page as `check` reads a note, then swap its wiki-links for markers (numbered in `ctx.marks`), drop
    its comments and turn its inline footnotes into footnotes."""
    ctx.marks = []
    page = Note(path=ctx.note.path, rel=ctx.note.rel, text="\n".join(lines))
    read_body(page, page.text)
    edits: dict[int, list[tuple[int, int, str]]] = {}  # line index → (column, end column, new text)
    for link in page.links:
        if link.span is not None:
            edits.setdefault(link.span.line - 1, []).append((link.span.col, link.span.end_col,
                                                             LINK_MARK.format(len(ctx.marks))))
            ctx.marks.append(link)
    for comment in page.comments:
        _hide(lines, edits, comment, block=False)
    for comment in page.comment_blocks:
        _hide(lines, edits, comment, block=True)
    notes = []
    for footnote in page.footnotes:
        if footnote is None or footnote.line != footnote.end_line:
            continue
        row = edits.setdefault(footnote.line - 1, [])
        inside = [e for e in row if footnote.col < e[0] and e[1] <= footnote.end_col]
        text = _apply(lines[footnote.line - 1], inside, footnote.col + 2, footnote.end_col - 1)
        label = f"[^llm-inline-{len(notes) + 1}]"
        row[:] = [e for e in row if e not in inside] + [(footnote.col, footnote.end_col, label)]
        notes.append(f"{label}: {text}")
    lines = list(lines)
    for index, row in edits.items():
        lines[index] = _apply(lines[index], row, 0, len(lines[index]))
    return lines + ([""] + notes if notes else [])


def _hide(lines: list[str], edits: dict, span, block: bool) -> None:
    """A comment's text goes; a comment block leaves blank lines (quote marks kept), a comment inside a paragraph
    leaves lines that are not blank, so the paragraph stays one."""
    if span is None:
        return
    for index in range(span.line - 1, span.end_line):
        start = span.col if index == span.line - 1 else 0
        end = span.end_col if index == span.end_line - 1 else len(lines[index])
        if block:
            start = len(re.match(r"[\s>]*", lines[index]).group(0))
        edits.setdefault(index, []).append((start, end, GONE if index > span.line - 1 and not block else ""))


def _apply(line: str, row: list[tuple[int, int, str]], start: int, end: int) -> str:
    """`line[start:end]` with the edits of `row` made (they never overlap)."""
    out, at = [], start
    for col, stop, text in sorted(row):
        out.append(line[at:col])
        out.append(text)
        at = stop
    out.append(line[at:end])
    return "".join(out)
