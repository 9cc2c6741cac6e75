"""Obsidian's own Markdown syntax as markdown-it-py rules: wiki-links, embeds, `%%comments%%`, inline footnotes.

The rules run inside markdown-it's inline parser, so what CommonMark decides first still holds the way Obsidian
(a CommonMark + GFM parser) has it: a backslash escape (`\\[\\[x\\]\\]`) or a code span wins over a wiki-link, and
emphasis inside a link's display text stays inside the link. Each construct is recorded with its exact place in the
note (line and column), so the site (markdown_ext.py) renders exactly the links `check` saw, where it saw them.
markdown-it has no rule for these (mdit-py-plugins' wikilink and footnote plugins drop the source positions and
read `[[a|b]]` inside tables differently), hence our own.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from markdown_it import MarkdownIt
from markdown_it.rules_block import StateBlock
from markdown_it.rules_inline import StateInline
from mdit_py_plugins.footnote import footnote_plugin

WIKILINK_AT = re.compile(r"(!?)\[\[([^\[\]\n]+?)\]\]")
BROKEN_WIKILINK_AT = re.compile(r"!?\[\[([^\[\]]*?\n[^\[\]]*?)\]\]")  # a line break inside: Obsidian shows text
OFFSET = "llm_offset"  # env key: where a nested parse (an inline footnote's text) starts in the outer text


@dataclass(frozen=True)
class Span:
    """A stretch of the note's text: lines are 1-based (as in the file), columns 0-based; end is exclusive."""
    line: int
    col: int
    end_line: int
    end_col: int


def _push(state: StateInline, kind: str, start: int, end: int, **meta) -> None:
    token = state.push(kind, "", 0)
    base = state.env.get(OFFSET, 0)
    token.content = state.src[start:end]
    token.meta = {"start": base + start, "end": base + end, **meta}


def wikilink_rule(state: StateInline, silent: bool) -> bool:
    src, pos = state.src, state.pos
    if src[pos] not in "![":
        return False
    match = WIKILINK_AT.match(src, pos)
    if match:
        if not silent:
            _push(state, "wikilink", pos, match.end(), inner=match.group(2), embed=bool(match.group(1)))
        state.pos = match.end()
        return True
    broken = BROKEN_WIKILINK_AT.match(src, pos)
    if broken and not silent:  # left as text (as Obsidian shows it) but recorded, so `check` can say why
        _push(state, "wikilink_broken", pos, broken.end())
    return False


def comment_rule(state: StateInline, silent: bool) -> bool:
    src, pos = state.src, state.pos
    if not src.startswith("%%", pos):
        return False
    close = src.find("%%", pos + 2)
    if close < 0:  # never closed: literal text
        return False
    if not silent:
        _push(state, "obsidian_comment", pos, close + 2)
    state.pos = close + 2
    return True


def inline_footnote_rule(state: StateInline, silent: bool) -> bool:
    """`^[text]`: a footnote written in place (Basic formatting syntax, "Footnotes")."""
    src, pos = state.src, state.pos
    if not src.startswith("^[", pos):
        return False
    end = state.md.helpers.parseLinkLabel(state, pos + 1)
    if end < 0:
        return False
    if not silent:
        _push(state, "obsidian_footnote", pos, end + 1)
        token = state.tokens[-1]
        token.children = []
        outer = state.env.get(OFFSET, 0)
        state.env[OFFSET] = outer + pos + 2
        state.md.inline.parse(src[pos + 2:end], state.md, state.env, token.children)
        state.env[OFFSET] = outer
    state.pos = end + 1
    return True


def comment_block_rule(state: StateBlock, start_line: int, end_line: int, silent: bool) -> bool:
    """A `%%` line opening a comment that closes on a later line holding `%%` (or at the end of the same one);
    one never closed runs to the end of the note, as in Obsidian."""
    first = state.bMarks[start_line] + state.tShift[start_line]
    if state.sCount[start_line] - state.blkIndent >= 4 or not state.src.startswith("%%", first):
        return False
    same_line = state.src[first + 2:state.eMarks[start_line]]
    if "%%" in same_line:
        if same_line.rstrip().endswith("%%") and same_line.find("%%") == len(same_line.rstrip()) - 2:
            last = start_line
        else:
            return False  # `%%a%% text`: an inline comment in a paragraph
    else:
        last = next((line for line in range(start_line + 1, end_line)
                     if "%%" in state.src[state.bMarks[line]:state.eMarks[line]]), None)
    if silent:
        return True
    token = state.push("obsidian_comment_block", "", 0)
    token.meta = {"unclosed": last is None}  # never closed: Obsidian hides the rest of the note
    last = end_line - 1 if last is None else last
    token.map = [start_line, last + 1]
    state.line = last + 1
    return True


def obsidian_markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark").enable("table").enable("strikethrough")
    footnote_plugin(md, inline=False, move_to_end=False)  # `[^1]` is a footnote, not a reference link
    md.block.ruler.before("code", "obsidian_comment_block", comment_block_rule)
    md.inline.ruler.before("text", "obsidian_wikilink", wikilink_rule)
    md.inline.ruler.before("text", "obsidian_comment", comment_rule)
    md.inline.ruler.before("text", "obsidian_footnote", inline_footnote_rule)
    return md


class SourceMap:
    """Where the characters of an inline token's content stand in the note's lines.

    markdown-it gives an inline token its lines and its content (the lines without their block prefixes: `> `, list
    indentation, a table's cell borders); each content line is found again in its source line.
    """

    def __init__(self, content: str, first_line: int, lines: list[str]):
        self.content = content
        self.first_line = first_line  # 0-based index into lines
        self.starts = [0]
        for i, char in enumerate(content):
            if char == "\n":
                self.starts.append(i + 1)
        self.columns: list[list[int] | int | None] = []
        cursor = 0
        for n, start in enumerate(self.starts):
            end = self.starts[n + 1] - 1 if n + 1 < len(self.starts) else len(content)
            piece = content[start:end]
            index = first_line + n
            source = lines[index] if index < len(lines) else ""
            self.columns.append(_locate(piece, source, cursor if n == 0 else 0))

    def span(self, start: int, end: int) -> Span | None:
        first, last = self._place(start), self._place(end)
        if first is None or last is None:
            return None
        return Span(first[0] + 1, first[1], last[0] + 1, last[1])

    def _place(self, pos: int) -> tuple[int, int] | None:
        n = max(i for i, s in enumerate(self.starts) if s <= pos)
        where = self.columns[n]
        offset = pos - self.starts[n]
        if where is None:
            return None
        if isinstance(where, int):
            return self.first_line + n, where + offset
        return self.first_line + n, where[offset] if offset < len(where) else where[-1] + 1


def _locate(piece: str, source: str, cursor: int):
    """The column of `piece` in `source` (an int), or a column per character where a table cell's `\\|` became
    `|`; None when it cannot be found."""
    if not piece:
        return len(source)
    found = source.find(piece, cursor)
    if found >= 0:
        return found
    if "|" in piece:
        escaped = source.find(piece.replace("|", "\\|"), cursor)
        if escaped >= 0:
            columns, col = [], escaped
            for char in piece:
                if char == "|":
                    col += 1
                columns.append(col)
                col += 1
            return columns
    return None
