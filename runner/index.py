"""Stage 1 — index: read every note of a vault into a `Note` (frontmatter, headings, block ids, links, fences).

Notes are parsed with markdown-it-py plus Obsidian's own syntax (obsidian_md.py), so a `[[link]]` inside a code span,
a fence, a `%%comment%%` or behind a backslash is not a link, and every link and fence carries the line it stands on
(a wiki-link also its exact place, for the site). Nothing here resolves links; that is `links.py`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .fences import jupytext_reads_as_code, markdown_regions, parse_fence_attrs  # noqa: F401 (re-exported)
from .inline import BLOCK_ID, INLINE_TAG, Link, plain_text, read_inline  # noqa: F401 (re-exported)
from .obsidian_md import WIKILINK_AT as WIKILINK  # noqa: F401 (re-exported)
from .obsidian_md import Span, obsidian_markdown

HIDDEN = {"companions", "__pycache__"}  # folders of the vault that hold no notes


@dataclass(frozen=True)
class Diagnostic:
    path: str
    line: int
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.severity}: {self.message}"


@dataclass
class Fence:
    lang: str
    attrs: dict
    source: str
    line: int               # line of the opening fence
    end_line: int           # line of the closing fence
    top_level: bool
    jupytext_code: bool = True  # jupytext reads it as a code cell (fences.py: not in a region, not `.noeval`, …)

    @property
    def is_python_cell(self) -> bool:
        return self.lang == "python" and self.top_level and self.jupytext_code


@dataclass
class Heading:
    level: int
    text: str               # as displayed (markup removed): what the site's table of contents sees
    line: int
    raw: str = ""           # as written: what Obsidian matches `[[Note#Heading]]` against


@dataclass
class Note:
    path: Path              # absolute
    rel: str                # posix path relative to the vault, with `.md`
    text: str = ""
    frontmatter: dict = field(default_factory=dict)
    headings: list[Heading] = field(default_factory=list)
    blocks: dict[str, int] = field(default_factory=dict)
    links: list[Link] = field(default_factory=list)
    fences: list[Fence] = field(default_factory=list)
    inline_tags: list[str] = field(default_factory=list)
    comments: list[Span] = field(default_factory=list)   # `%%…%%` in a paragraph: hidden, nothing inside is a link
    comment_blocks: list[Span] = field(default_factory=list)  # whole lines from a `%%` line to a closing `%%`
    footnotes: list[Span] = field(default_factory=list)  # inline footnotes `^[…]`
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def name(self) -> str:
        return Path(self.rel).stem

    @property
    def folder(self) -> str:
        return str(Path(self.rel).parent.as_posix()).strip(".")

    @property
    def aliases(self) -> list[str]:
        """`aliases:` or `alias:`, a list or a comma-separated string (Obsidian help, "Aliases")."""
        found = []
        for key in ("aliases", "alias"):
            value = self.frontmatter.get(key)
            for alias in ([a.strip() for a in value.split(",")] if isinstance(value, str) else _as_list(value)):
                if alias and alias not in found:
                    found.append(alias)
        return found

    @property
    def tags(self) -> list[str]:
        return _as_list(self.frontmatter.get("tags")) + self.inline_tags

    @property
    def cells(self) -> list[Fence]:
        return [f for f in self.fences if f.is_python_cell]

    def error(self, line: int, message: str, severity: str = "error") -> None:
        self.diagnostics.append(Diagnostic(self.rel, line, message, severity))


def _as_list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def split_frontmatter(text: str) -> tuple[str | None, int, str]:
    """Return (yaml text or None, number of lines it spans, body with those lines blanked to keep line numbers)."""
    lines = text.split("\n")
    if not lines or lines[0].rstrip() != "---":
        return None, 0, text
    for i in range(1, len(lines)):
        if lines[i].rstrip() in ("---", "..."):
            body = "\n" * (i + 1) + "\n".join(lines[i + 1:])
            return "\n".join(lines[1:i]), i + 1, body
    return "", -1, text


_md = obsidian_markdown()


def read_note(path: Path, vault_root: Path) -> Note:
    rel = path.relative_to(vault_root).as_posix()
    note = Note(path=path, rel=rel)
    raw = path.read_bytes()
    try:
        note.text = raw.decode("utf-8").removeprefix("\ufeff")  # a BOM is no text: the frontmatter follows it
    except UnicodeDecodeError as exc:
        note.error(raw[: exc.start].count(b"\n") + 1, f"not valid UTF-8 ({exc.reason} at byte {exc.start}): "
                                                     f"the note is skipped until it is saved as UTF-8")
        return note

    yaml_text, fm_lines, body = split_frontmatter(note.text)
    if fm_lines == -1:
        note.error(1, "malformed frontmatter: the opening '---' has no closing '---'")
    elif yaml_text is not None:
        _read_frontmatter(note, yaml_text)

    read_body(note, body)
    return note


FAST_YAML = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_frontmatter(note: Note, yaml_text: str) -> None:
    try:
        try:  # libyaml's parser, 3× faster; an error is re-read by PyYAML's own for its message and line
            data = yaml.load(yaml_text, Loader=FAST_YAML)
        except yaml.YAMLError:
            data = yaml.safe_load(yaml_text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark else 1
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        note.error(line, f"malformed frontmatter: {problem}")
        return
    if data is None:
        return
    if not isinstance(data, dict):
        note.error(2, "malformed frontmatter: expected `key: value` pairs")
        return
    for key in ("tags", "aliases", "alias", "data"):
        value = data.get(key)
        if value is not None and not isinstance(value, (str, list)):
            note.error(_key_line(yaml_text, key), f"malformed frontmatter: `{key}` must be a list")
            data.pop(key)
    note.frontmatter = data


def _key_line(yaml_text: str, key: str) -> int:
    for i, line in enumerate(yaml_text.split("\n")):
        if line.startswith(f"{key}:"):
            return i + 2
    return 1


def read_body(note: Note, body: str) -> None:
    """Everything `body` holds, into `note` (the site reads a page's Markdown with it too)."""
    lines = body.split("\n")
    tokens = _md.parse(body)
    regions = markdown_regions(lines, [t.map for t in tokens if t.type in ("fence", "code_block")])
    for i, tok in enumerate(tokens):
        if tok.type == "fence":
            _read_fence(note, tok, lines, regions)
        elif tok.type == "code_block":
            continue
        elif tok.type == "obsidian_comment_block":
            first, end = tok.map
            note.comment_blocks.append(Span(first + 1, 0, end, len(lines[end - 1])))
            if tok.meta.get("unclosed"):
                note.error(first + 1, "this %% comment is never closed: Obsidian hides the rest of the note",
                           "warning")
        elif tok.type == "heading_open":
            inline = tokens[i + 1]
            text = plain_text(inline)
            match = BLOCK_ID.search(text)
            note.headings.append(Heading(int(tok.tag[1]), text, tok.map[0] + 1, inline.content))
            if match:
                note.blocks[match.group(1)] = tok.map[0] + 1
        elif tok.type == "inline":
            read_inline(note, tok, lines)


def _read_fence(note: Note, tok, lines: list[str], regions) -> None:
    start, end = tok.map
    lang, attrs = parse_fence_attrs(tok.info)
    closing = re.sub(r"^[\s>]*", "", lines[end - 1]).strip() if end - 1 > start else ""
    if not (closing.startswith(tok.markup) and set(closing) <= set(tok.markup[0])):
        note.error(start + 1, f"unterminated code fence (opened with {tok.markup} here, never closed)")
    fence = Fence(lang, attrs, tok.content, start + 1, end, top_level=tok.level == 0,
                  jupytext_code=jupytext_reads_as_code(tok, lang, attrs, lines, regions))
    note.fences.append(fence)
    if lang == "python" and not fence.top_level:
        note.error(start + 1, "a ```python fence inside a list, quote or callout is not run; move it to the top level")


@dataclass
class Vault:
    root: Path
    notes: list[Note]
    attachments: list[str]  # posix paths relative to the root

    def note(self, rel: str) -> Note:
        return next(n for n in self.notes if n.rel == rel)


def note_paths(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.md") if not _hidden(p.relative_to(root)))


def _hidden(rel: Path) -> bool:
    return any(part.startswith(".") or part in HIDDEN for part in rel.parts[:-1]) or rel.name.startswith(".")


def _private(rel: Path) -> bool:
    """Files Obsidian does not show: under a dot-folder (`.obsidian/`, `.trash/`), dot-files, `__pycache__`."""
    return any(part.startswith(".") or part == "__pycache__" for part in rel.parts)


def read_vault(root: Path, parsed: Path | None = None) -> Vault:
    """`parsed`: a file that keeps each note's parse between runs (keyed by its bytes, its path and this parser's
    code), so a run where nothing changed does not parse the vault again (0.4 s of a 1.2 s no-change run)."""
    root = Path(root).resolve()
    paths = note_paths(root)
    if parsed is not None:
        from .parse_cache import read_notes_kept

        notes = read_notes_kept(paths, root, parsed)
    else:
        notes = [read_note(p, root) for p in paths]
    attachments = sorted(  # any file that is not a note (companion modules too): Obsidian links every extension
        p.relative_to(root).as_posix() for p in root.rglob("*")
        if p.suffix.lower() != ".md" and not _private(p.relative_to(root)) and p.is_file()
    )
    return Vault(root, notes, attachments)
