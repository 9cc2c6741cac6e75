"""`llm-vault fmt`: the notes' ```python cells formatted to a line length that fits the site's code column.

black formats each cell, with its `string_processing` feature, which splits a long string literal into an implicit
concatenation of shorter ones (ruff's formatter, like black's stable style, leaves long strings and comments as
they are: on these notes that left 512 lines over 88 characters). black also checks that the formatted code has
the same AST as before and that formatting it again changes nothing. Comments and docstrings, which no formatter
rewraps, are re-wrapped here: a long comment becomes several comment lines, a trailing comment that does not fit
moves onto its own line above its code, a long docstring line is wrapped at its own indent. No other string is
touched: its value is what the cell prints. Only the lines between a cell's fences change; the fence line with its
jupytext attributes and all the prose stay as written. Lines that still do not fit are reported as `path:line`.
"""
from __future__ import annotations

import ast
import io
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import tokenize
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from .index import Note, read_vault

# The site's code column shows this many characters at 1400 px (site.css sizes `.md-grid` for it; the browser test
# checks that no code block scrolls sideways there). 88 is also ruff's and black's default.
LINE_LENGTH = 88


@dataclass
class LongLine:
    path: Path
    line: int
    length: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: code line of {self.length} characters (the site shows {LINE_LENGTH})"


class FormatError(Exception):
    def __init__(self, cell, message: str):
        super().__init__(message)
        self.cell, self.message = cell, message


def _ruff() -> str:
    try:
        from ruff.__main__ import find_ruff_bin
    except ImportError:
        raise SystemExit("ruff is not installed: pip install -e '.[test]' (or pip install ruff)") from None
    return str(find_ruff_bin())


def ruff_format(sources: dict, line_length: int) -> dict:
    """{key: cell source} → the same formatted by ruff, in one call for all of them."""
    with tempfile.TemporaryDirectory(prefix="llm-vault-fmt-") as tmp:
        files = {}
        for n, (key, source) in enumerate(sources.items()):
            files[key] = Path(tmp) / f"cell{n}.py"
            files[key].write_text(source.rstrip("\n") + "\n", encoding="utf-8")
        done = subprocess.run([_ruff(), "format", "--no-cache", "--isolated",
                               f"--line-length={line_length}", tmp], capture_output=True, text=True)
        if done.returncode != 0:  # ruff names the file it could not parse: say which cell that is
            bad = [key for key, f in files.items() if f.name in done.stderr]
            raise FormatError(bad[0] if bad else None, done.stderr.strip())
        return {key: f.read_text(encoding="utf-8").rstrip("\n") for key, f in files.items()}


def split_long_strings(source: str, line_length: int) -> str:
    """black's string_processing: a long literal becomes an implicit concatenation (checked: same AST)."""
    try:
        import black
    except ImportError:
        raise SystemExit("black is not installed: pip install -e '.[test]' (or pip install black)") from None
    mode = black.Mode(line_length=line_length, enabled_features={black.Preview.string_processing})
    try:
        return black.format_file_contents(source + "\n", fast=False, mode=mode).rstrip("\n")
    except black.NothingChanged:
        return source


STRING_LITERAL = re.compile(r"([rRuUfF]{0,2})(['\"])(.*)\2", re.S)


def split_packed_strings(source: str, line_length: int) -> str:
    """A one-line literal with no room for black's split (no space: `f"{a:>8}{b:>9}{c:>7}"`, a table header) is cut
    between two of its fields or after a space, into an implicit concatenation. The value is the same string."""
    lines = source.split("\n")
    literals, depth, fstring_starts = [], 0, []  # (start, end, bracket depth) of each literal token
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.STRING and not fstring_starts:
            literals.append((tok.start, tok.end, depth))
        elif tok.type == getattr(tokenize, "FSTRING_START", None):  # Python ≥ 3.12 tokenizes f-strings in parts
            fstring_starts.append(tok.start)
        elif tok.type == getattr(tokenize, "FSTRING_END", None):
            begin = fstring_starts.pop()
            if not fstring_starts:
                literals.append((begin, tok.end, depth))
        elif tok.type == tokenize.OP and not fstring_starts and tok.string in "([{":
            depth += 1
        elif tok.type == tokenize.OP and not fstring_starts and tok.string in ")]}":
            depth -= 1
    edits = []
    for (row, start), (end_row, end), inside in literals:
        line = lines[row - 1]
        if row != end_row or len(line) <= line_length:
            continue
        m = STRING_LITERAL.fullmatch(line[start:end])
        if not m or m.group(3).startswith(m.group(2) * 2):
            continue  # triple-quoted: its line breaks are part of its value
        prefix, quote, body = m.groups()
        pieces = _cut(body, "f" in prefix.lower(), line_length - start - len(prefix) - 2)
        if len(pieces) > 1:
            edits.append((row, start, end, prefix, quote, pieces, inside))
    for row, start, end, prefix, quote, pieces, inside in sorted(edits, reverse=True):
        line, pad = lines[row - 1], " " * start
        joined = f"\n{pad}".join(f"{prefix}{quote}{p}{quote}" for p in pieces)
        lines[row - 1] = line[:start] + (joined if inside else f"(\n{pad}{joined}\n{pad})") + line[end:]
    return "\n".join(lines)


def _cut(body: str, fstring: bool, width: int) -> list[str]:
    """`body` cut where a literal may end: after a space, or before or after a `{field}` of an f-string."""
    cuts, depth, i = [], 0, 0
    while i < len(body):
        ch = body[i]
        if fstring and body.startswith(("{{", "}}"), i) and depth == 0:
            i += 2
            continue
        if fstring and ch == "{":
            if depth == 0 and i > 0:
                cuts.append(i)  # before a field
            depth += 1
        elif fstring and ch == "}":
            depth -= 1
            if depth == 0:
                cuts.append(i + 1)  # after a field
        elif ch == " " and depth == 0 and i + 1 < len(body) and body[i + 1] != " ":
            cuts.append(i + 1)
        elif ch == "\\":
            i += 1  # an escape sequence is never cut
        i += 1
    pieces, begin = [], 0
    while len(body) - begin > width:
        fitting = [c for c in cuts if begin < c <= begin + width]
        if not fitting:
            break
        pieces.append(body[begin:fitting[-1]])
        begin = fitting[-1]
    return pieces + [body[begin:]]


def _too_long(source: str, line_length: int) -> bool:
    return any(len(line) > line_length for line in source.split("\n"))


def rewrap_comments_and_docstrings(source: str, line_length: int) -> str:
    """Before ruff (so that it never explodes a statement to make room for its comment) and after black."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source  # ruff names the error
    lines = source.split("\n")
    docstrings = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and body and \
                isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and \
                isinstance(body[0].value.value, str):
            docstrings.update(range(body[0].lineno, body[0].end_lineno + 1))
    comments = [t for t in tokenize.generate_tokens(io.StringIO(source).readline) if t.type == tokenize.COMMENT]
    replace: dict[int, list[str]] = {}  # 1-based line → its new lines
    for tok in comments:
        row, col = tok.start
        line = lines[row - 1]
        code = line[:col].rstrip()
        width = len(code) + 2 + len(tok.string) if code.strip() else col + len(tok.string)  # ruff: `x  # …`
        if width <= line_length:
            continue
        indent = line[:len(line) - len(line.lstrip())]
        text = tok.string.lstrip("#").strip()
        wrapped = textwrap.wrap(text, max(20, line_length - len(indent) - 2), break_long_words=False,
                                break_on_hyphens=False)
        replace[row] = [f"{indent}# {w}" for w in wrapped] + ([code] if code else [])
    for row in sorted(docstrings):
        line = lines[row - 1]
        if row not in replace and len(line) > line_length:
            indent = line[:len(line) - len(line.lstrip())]
            replace[row] = textwrap.wrap(line.strip(), line_length, initial_indent=indent, subsequent_indent=indent,
                                         break_long_words=False, break_on_hyphens=False)
    out = []
    for row, line in enumerate(lines, 1):
        out.extend(replace.get(row, [line]))
    return "\n".join(out)


def format_notes(notes: list[Note], line_length: int = LINE_LENGTH) -> dict[Path, str]:
    """{note path: new text} for every note whose cells change.

    Comments and docstrings are re-wrapped, then ruff formats every cell (fast, one call); only the cells that
    still have a line too long go through black's string splitting, the packed-string cuts and the re-wrapping,
    then ruff again, so that a formatted vault is a fixed point and a second run changes nothing (and is fast).
    """
    cells = {(i, n): fence for i, note in enumerate(notes) for n, fence in enumerate(note.cells)}
    try:
        sources = ruff_format({key: rewrap_comments_and_docstrings(fence.source, line_length)
                               for key, fence in cells.items()}, line_length)
        long = {key: sources[key] for key in sources if _too_long(sources[key], line_length)}
        for key in long:
            try:
                split = split_packed_strings(split_long_strings(long[key], line_length), line_length)
                long[key] = rewrap_comments_and_docstrings(split, line_length)
            except Exception as exc:  # black's own refusals: invalid syntax, an unsafe or unstable result
                raise FormatError(key, str(exc)) from exc
        sources.update(ruff_format(long, line_length) if long else {})
    except FormatError as exc:
        i, n = exc.cell or (None, None)
        where = f"{notes[i].path}:{notes[i].cells[n].line}: " if i is not None else ""
        raise SystemExit(f"{where}cannot format this cell: {exc.message}") from None
    changed = {}
    for i, note in enumerate(notes):
        text = _with_sources(note, [sources[(i, n)] for n in range(len(note.cells))])
        if text != note.text:
            changed[note.path] = text
    return changed


def _with_sources(note: Note, sources: list[str]) -> str:
    lines = note.text.split("\n")
    for fence, source in sorted(zip(note.cells, sources), key=lambda fs: -fs[0].line):
        body = source.rstrip("\n").split("\n") if source.strip() else []
        lines[fence.line:fence.end_line - 1] = body  # fence.line: the opening fence (1-based), end_line: closing
    return "\n".join(lines)


def display_width(line: str) -> int:
    """Columns a line takes in a monospace font: combining marks take none, wide (CJK) characters two."""
    return sum(0 if unicodedata.category(ch) in ("Mn", "Me", "Cf") else
               2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in line)


def long_lines(notes: list[Note], line_length: int = LINE_LENGTH) -> list[LongLine]:
    found = []
    for note in notes:
        for fence in note.cells:
            for offset, line in enumerate(fence.source.split("\n")):
                if len(line) > line_length and display_width(line) > line_length:
                    found.append(LongLine(note.path, fence.line + 1 + offset, display_width(line)))
    return found


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def fmt_vault(vault_dir: Path, check: bool = False, line_length: int = LINE_LENGTH) -> int:
    vault = read_vault(vault_dir)
    changed = format_notes(vault.notes, line_length)
    for path in changed:
        print(f"{'would reformat' if check else 'reformatted'} {path}")
        if not check:
            _write(path, changed[path])
    notes = read_vault(vault_dir).notes if changed and not check else vault.notes
    too_long = long_lines(notes, line_length)
    for found in too_long:
        print(found)
    print(f"{len(changed)} notes {'to reformat' if check else 'reformatted'}, {len(too_long)} lines longer than "
          f"{line_length}", file=sys.stderr)
    return 1 if (check and changed) or too_long else 0
