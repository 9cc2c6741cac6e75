"""Stage 1 — index: read every note of a vault into a `Note` (frontmatter, headings, block ids, links, fences).

Notes are parsed with markdown-it-py, so a `[[link]]` inside a code span or fence is not a link, and every link and
fence carries the line it stands on. Nothing here resolves links; that is `links.py`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

import yaml
from markdown_it import MarkdownIt

from .fences import jupytext_reads_as_code, markdown_regions, parse_fence_attrs  # noqa: F401 (re-exported)

WIKILINK = re.compile(r"(!?)\[\[([^\[\]\n]+?)\]\]")
BLOCK_ID = re.compile(r"(?:^|\s)\^([A-Za-z0-9-]+)\s*$")
INLINE_TAG = re.compile(r"(?<![\w&#/])#([A-Za-z_][\w/-]*)")
HIDDEN = {"companions"}  # folders of the vault that hold no notes
ATTACHMENT_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".pdf", ".csv", ".txt", ".json", ".py"}


@dataclass(frozen=True)
class Diagnostic:
    path: str
    line: int
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.severity}: {self.message}"


@dataclass
class Link:
    target: str             # note or file name as written ("" = this note)
    heading: str | None     # `#Heading` part (last component)
    block: str | None       # `#^block` part
    alias: str | None       # `|shown text` (or the size, for images)
    embed: bool
    line: int
    markdown: bool = False  # a plain `[text](Note.md)` link rather than a wiki-link


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
    text: str
    line: int


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
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def name(self) -> str:
        return Path(self.rel).stem

    @property
    def folder(self) -> str:
        return str(Path(self.rel).parent.as_posix()).strip(".")

    @property
    def aliases(self) -> list[str]:
        return _as_list(self.frontmatter.get("aliases"))

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


_md = MarkdownIt("commonmark").enable("table").enable("strikethrough")


def read_note(path: Path, vault_root: Path) -> Note:
    rel = path.relative_to(vault_root).as_posix()
    note = Note(path=path, rel=rel)
    raw = path.read_bytes()
    try:
        note.text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        note.error(raw[: exc.start].count(b"\n") + 1, f"not valid UTF-8 ({exc.reason} at byte {exc.start})")
        return note

    yaml_text, fm_lines, body = split_frontmatter(note.text)
    if fm_lines == -1:
        note.error(1, "malformed frontmatter: the opening '---' has no closing '---'")
    elif yaml_text is not None:
        _read_frontmatter(note, yaml_text)

    _read_body(note, body)
    return note


def _read_frontmatter(note: Note, yaml_text: str) -> None:
    try:
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
    for key in ("tags", "aliases", "data"):
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


def _read_body(note: Note, body: str) -> None:
    lines = body.split("\n")
    tokens = _md.parse(body)
    regions = markdown_regions(lines, [t.map for t in tokens if t.type in ("fence", "code_block")])
    for i, tok in enumerate(tokens):
        if tok.type == "fence":
            _read_fence(note, tok, lines, regions)
        elif tok.type == "code_block":
            continue
        elif tok.type == "heading_open":
            inline = tokens[i + 1]
            text = _plain_text(inline)
            match = BLOCK_ID.search(text)
            note.headings.append(Heading(int(tok.tag[1]), text, tok.map[0] + 1))
            if match:
                note.blocks[match.group(1)] = tok.map[0] + 1
        elif tok.type == "inline":
            _read_inline(note, tok)


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


def _plain_text(inline) -> str:
    return "".join(c.content for c in inline.children or [] if c.type in ("text", "code_inline")).strip()


def _read_inline(note: Note, inline) -> None:
    """Find wiki-links, Markdown links, images, block ids and #tags in an inline token, each with its line."""
    line = inline.map[0] + 1 if inline.map else 1
    run, run_line = [], line

    def flush():
        text = "".join(run)
        for m in WIKILINK.finditer(text):
            note.links.append(_wikilink(m.group(2), bool(m.group(1)), run_line + text[: m.start()].count("\n")))
        for m in INLINE_TAG.finditer(WIKILINK.sub(" ", text)):  # `[[#Heading]]` is a link, not a tag
            if not m.group(1).isdigit():
                note.inline_tags.append(m.group(1))
        run.clear()

    for child in inline.children or []:
        if child.type == "text":
            if not run:
                run_line = line
            run.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            run.append("\n")
            line += 1
        elif child.type == "code_inline" and _inside_wikilink("".join(run)):
            run.append(child.content)  # `[[Note#`code` heading]]`: the link wins, as in Obsidian
        else:
            flush()
            if child.type in ("link_open", "image"):
                href = child.attrs.get("href") or child.attrs.get("src") or ""
                link = _markdown_link(href, child.type == "image", line)
                if link:
                    note.links.append(link)
    flush()
    match = BLOCK_ID.search(inline.content)
    if match and inline.map:
        note.blocks[match.group(1)] = inline.map[1]


def _inside_wikilink(text: str) -> bool:
    return text.rfind("[[") > text.rfind("]]")


def _wikilink(inner: str, embed: bool, line: int) -> Link:
    inner = inner.replace("\\|", "|")
    target, _, alias = inner.partition("|")
    target, _, anchor = target.partition("#")
    heading = block = None
    if anchor.startswith("^"):
        block = anchor[1:]
    elif anchor:
        heading = anchor.split("#")[-1].strip()
    return Link(target.strip(), heading, block, alias.strip() or None, embed, line)


def _markdown_link(href: str, embed: bool, line: int) -> Link | None:
    url = urlparse(href)
    if url.scheme or url.netloc or not url.path:
        return None
    path = unquote(url.path)
    if not (path.endswith(".md") or Path(path).suffix.lower() in ATTACHMENT_SUFFIXES):
        return None
    anchor = unquote(url.fragment)
    block = anchor[1:] if anchor.startswith("^") else None
    return Link(path, None if block else (anchor or None), block, None, embed, line, markdown=True)


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


def read_vault(root: Path) -> Vault:
    root = Path(root).resolve()
    notes = [read_note(p, root) for p in note_paths(root)]
    attachments = sorted(
        p.relative_to(root).as_posix() for p in root.rglob("*")
        if p.is_file() and p.suffix.lower() in ATTACHMENT_SUFFIXES and not _hidden(p.relative_to(root))
    )
    return Vault(root, notes, attachments)
