"""Obsidian syntax for Python-Markdown: wiki-links, embeds, Markdown links, comments, inline footnotes, block ids, #tags.

One reading for `check` and the site: the page is first read with the runner's own parser (page_marks.py: index.py
+ obsidian_md.py, markdown-it with Obsidian's rules), so exactly the wiki-links `check` sees become links, at the
places it saw them (each is swapped for a marker that the inline pattern below turns into the link), `%%comments%%`
disappear and `^[inline footnotes]` become footnotes. The site does this in its page hook, before mkdocs' callouts
plugin re-indents callout bodies (`PageContext.premark`); a plain Markdown instance does it in a preprocessor. Every link is resolved by the runner's `Resolver`
(links.py) and emitted as a relative `.md` link, so mkdocs still validates every target and every anchor.
Markdown links and images are resolved the same way after rendering (a tree processor), so `[t](Note)` and
`![x](diagram.png)` find what Obsidian finds. What the extension needs to know about the page being rendered (the
note, the vault) lives in a `PageContext` that the site's hooks point at the current page.
"""
from __future__ import annotations

import html
import re
import xml.etree.ElementTree as etree
from pathlib import PurePosixPath

from markdown import Extension
from markdown.extensions.toc import slugify as toc_slugify
from markdown.extensions.toc import unique
from markdown.inlinepatterns import InlineProcessor
from markdown.postprocessors import Postprocessor
from markdown.preprocessors import Preprocessor
from markdown.treeprocessors import Treeprocessor
from markdown.util import AtomicString

from .index import INLINE_TAG, Link, Note
from .inline import markdown_link
from .links import find_heading as find_heading_path
from .page_marks import GONE, PageContext, mark_obsidian, unreadable_page  # noqa: F401 (re-exported)

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".bmp", ".avif"}
AUDIO_SUFFIXES = {".mp3", ".webm", ".wav", ".m4a", ".ogg", ".3gp", ".flac"}
VIDEO_SUFFIXES = {".mp4", ".ogv", ".mov", ".mkv"}
BLOCK_ID_AT_END = r"(?:^|\s+)\^([A-Za-z0-9-]+)\s*$"
PLANNED_TITLE = "planned, not written yet"
LINK_MARK_RE = r"\ue000(\d+)\ue001"


def heading_slug(md, text: str) -> str:
    """The id the table of contents gives a heading with this text (its own slugify and separator)."""
    toc = md.treeprocessors["toc"] if "toc" in md.treeprocessors else None
    slugify, sep = (toc.slugify, toc.sep) if toc else (toc_slugify, "-")
    return slugify(re.sub(BLOCK_ID_AT_END, "", text).strip(), sep)


def heading_anchor(md, note: Note, heading) -> str:
    """The id the heading gets on its page: its slug, numbered like the table of contents numbers repeats."""
    ids: set[str] = set()
    for candidate in note.headings:
        slug = unique(heading_slug(md, candidate.text), ids)
        if candidate is heading:
            return slug
    return heading_slug(md, heading.text)


def find_heading(note: Note, wanted: str):
    return find_heading_path(note, tuple(p for p in wanted.split("#") if p.strip()))


class ObsidianPreprocessor(Preprocessor):
    """Marks the page (`mark_obsidian`) unless the site already did, before mkdocs' plugins rewrote callouts."""

    def __init__(self, md, ctx: PageContext):
        super().__init__(md)
        self.ctx = ctx

    def run(self, lines: list[str]) -> list[str]:
        ctx = self.ctx
        if ctx.premarked:
            ctx.premarked = False
            return lines
        if ctx.note is None or ctx.resolver is None:
            ctx.marks = []
            return lines
        return mark_obsidian(ctx, lines)


class WikiLinkPattern(InlineProcessor):
    def __init__(self, md, ctx: PageContext):
        super().__init__(LINK_MARK_RE, md)
        self.ctx = ctx

    def handleMatch(self, m, data):
        ctx = self.ctx
        if ctx.note is None or ctx.resolver is None or int(m.group(1)) >= len(ctx.marks):
            return None, None, None
        link = ctx.marks[int(m.group(1))]
        res = ctx.resolver.resolve(link, ctx.note)
        if res.error:
            return self._missing(link, res.error), m.start(0), m.end(0)
        if res.planned:
            el = etree.Element("span", {"class": "llm-planned", "title": PLANNED_TITLE})
            el.text = link.alias or link.target  # the shown text is Markdown: `*italic*` in it is italic
        elif res.attachment:
            el = self._attachment(link, res.attachment)
        else:
            el = etree.Element("a", {"class": "llm-link"})
            el.set("href", ctx.href(res.note.rel, self._anchor(link, res)))
            el.text = self._label(link)
        return el, m.start(0), m.end(0)

    def _anchor(self, link: Link, res) -> str | None:
        if link.block:
            return f"^{link.block}"
        if res.heading is not None:
            return heading_anchor(self.md, res.note, res.heading)
        return None

    @staticmethod
    def _label(link: Link) -> str:
        if link.alias:
            return link.alias
        anchor = " › ".join(link.heading_path) or (f"^{link.block}" if link.block else None)
        if anchor:
            return AtomicString(f"{link.target} › {anchor}" if link.target else anchor)
        return AtomicString(link.target)

    def _attachment(self, link: Link, rel: str):
        href = self.ctx.href(rel)
        suffix = PurePosixPath(rel).suffix.lower()
        if link.embed and suffix in IMAGE_SUFFIXES:
            el = etree.Element("img", {"src": href, "alt": PurePosixPath(rel).name, "class": "llm-embed-image"})
            size = re.fullmatch(r"\s*(\d+)(?:\s*x\s*(\d+))?\s*", link.alias or "")
            if size:
                el.set("width", size.group(1))
                if size.group(2):
                    el.set("height", size.group(2))
            elif link.alias:
                el.set("alt", link.alias)
            return el
        if link.embed and suffix in AUDIO_SUFFIXES | VIDEO_SUFFIXES:
            el = etree.Element("audio" if suffix in AUDIO_SUFFIXES else "video",
                               {"src": href, "controls": "", "class": "llm-embed-media"})
            el.text = AtomicString(PurePosixPath(rel).name)
            return el
        el = etree.Element("a", {"href": href, "class": "llm-link llm-attachment"})
        el.text = link.alias or AtomicString(PurePosixPath(rel).name)
        return el

    def _missing(self, link: Link, error: str):
        self.ctx.report(link, error)
        el = etree.Element("span", {"class": "llm-missing", "title": error})
        el.text = self._label(link)
        return el


class MarkdownLinkTreeprocessor(Treeprocessor):
    """`[t](Note)`, `[t](Note%20name.md#Heading)`, `![x](diagram.png)`: resolved as Obsidian resolves them, then
    written as the relative `.md` path mkdocs validates and rewrites."""

    def __init__(self, md, ctx: PageContext):
        super().__init__(md)
        self.ctx = ctx

    def run(self, root):
        ctx = self.ctx
        if ctx.note is None or ctx.resolver is None:
            return
        for el in [el for el in root.iter() if el.tag in ("a", "img")]:
            attr = "href" if el.tag == "a" else "src"
            url = el.get(attr) or ""
            if el.get("class") or url.startswith("#fn") or not url:
                continue  # ours (already resolved), footnotes, permalinks
            link = markdown_link(url, el.tag == "img", 0)
            if link is None:
                continue
            res = ctx.resolver.resolve(link, ctx.note)
            if res.error:
                if link.target:  # a heading of this page that is not there: mkdocs' own anchor check says so
                    ctx.report(link, res.error)
                continue
            target = res.attachment or res.note.rel
            anchor = f"^{link.block}" if link.block else (
                heading_anchor(self.md, res.note, res.heading) if res.heading is not None else None)
            el.set(attr, ctx.href(target, anchor) if (anchor or target != ctx.note.rel) else "#")


class MarkerPostprocessor(Postprocessor):
    """Drops what is left of hidden comments; a link marker that Python-Markdown kept as code (where its block
    structure differs from CommonMark's) shows the link as written, never a private-use character."""

    def __init__(self, md, ctx: PageContext):
        super().__init__(md)
        self.ctx = ctx

    def run(self, text: str) -> str:
        marks = self.ctx.marks

        def written(m: re.Match) -> str:
            n = int(m.group(1))
            return html.escape(marks[n].raw) if n < len(marks) else ""

        return re.sub(LINK_MARK_RE, written, text.replace(GONE, ""))


class BlockIdPattern(InlineProcessor):
    """` ^block-id` at the end of a paragraph, list item or heading: an anchor, not visible text."""

    def __init__(self, md, ctx: PageContext):
        super().__init__(BLOCK_ID_AT_END, md)
        self.ctx = ctx

    def handleMatch(self, m, data):
        if self.ctx.note is None:
            return None, None, None
        return etree.Element("span", {"class": "llm-block-id", "id": f"^{m.group(1)}"}), m.start(0), m.end(0)


class TagPattern(InlineProcessor):
    """`#tag` in prose: a link to the tag index (its href is added once the site's URLs are known)."""

    def __init__(self, md, ctx: PageContext):
        super().__init__(INLINE_TAG.pattern, md)
        self.ctx = ctx

    def handleMatch(self, m, data):
        if self.ctx.note is None or m.group(1).isdigit():
            return None, None, None
        el = etree.Element("a", {"class": "llm-tag", "href": "#", "data-tag": m.group(1)})
        el.text = AtomicString(f"#{m.group(1)}")
        return el, m.start(0), m.end(0)


class BlockIdTreeprocessor(Treeprocessor):
    """Give a block's id to the whole paragraph or list item, so a `#^id` link scrolls to its start."""

    def run(self, root):
        for parent in list(root.iter()):
            for child in list(parent):
                if child.get("class") != "llm-block-id" or parent.tag not in ("p", "li") or parent.get("id"):
                    continue
                parent.set("id", child.get("id"))
                tail = child.tail or ""
                index = list(parent).index(child)
                if index:
                    prev = parent[index - 1]
                    prev.tail = (prev.tail or "") + tail
                else:
                    parent.text = (parent.text or "") + tail
                parent.remove(child)


class VaultExtension(Extension):
    def __init__(self, ctx: PageContext | None = None, **kwargs):
        self.ctx = ctx or PageContext()
        super().__init__(**kwargs)

    def extendMarkdown(self, md):
        # after whitespace is normalised (30), before fences (25) and raw HTML (20) are stashed: the page's text
        # is then what `check` reads
        md.preprocessors.register(ObsidianPreprocessor(md, self.ctx), "llm_obsidian", 28)
        # first of all inline patterns: a marker stands where `check` saw a link, whatever Python-Markdown thinks
        md.inlinePatterns.register(WikiLinkPattern(md, self.ctx), "llm_wikilink", 200)
        md.inlinePatterns.register(BlockIdPattern(md, self.ctx), "llm_block_id", 184)
        md.inlinePatterns.register(TagPattern(md, self.ctx), "llm_tag", 75)  # after links, HTML and entities
        # after the inline patterns (20), before mkdocs collects anchors and the toc (5)
        md.treeprocessors.register(BlockIdTreeprocessor(md), "llm_block_ids", 10)
        md.treeprocessors.register(MarkdownLinkTreeprocessor(md, self.ctx), "llm_markdown_links", 11)
        md.postprocessors.register(MarkerPostprocessor(md, self.ctx), "llm_markers", 5)
