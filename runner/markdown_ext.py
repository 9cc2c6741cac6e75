"""Obsidian syntax for Python-Markdown: wiki-links, embedded images, block ids and #tags.

Links are resolved by the runner's own `Resolver` (links.py), so the site and `llm-vault check` never disagree, and
are emitted as relative `.md` links so that mkdocs still validates every target and every anchor. The patterns are
inline patterns: code spans and fences are never touched. What they need to know about the page being rendered
(the note, the vault) lives in a `PageContext` that the site's hooks point at the current page.
"""
from __future__ import annotations

import html
import logging
import posixpath
import re
import xml.etree.ElementTree as etree
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from urllib.parse import quote

from markdown import Extension
from markdown import util as md_util
from markdown.extensions.toc import slugify as toc_slugify
from markdown.inlinepatterns import InlineProcessor
from markdown.util import AtomicString
from markdown.treeprocessors import Treeprocessor

from .index import INLINE_TAG, WIKILINK, Link, Note, _wikilink
from .links import Resolver, heading_key

log = logging.getLogger("mkdocs.plugins.llm_vault")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp"}
BLOCK_ID_AT_END = r"(?:^|\s+)\^([A-Za-z0-9-]+)\s*$"
PLANNED_TITLE = "planned, not written yet"


@dataclass
class PageContext:
    """The page being rendered: its note (None for generated pages) and the vault's resolver."""
    resolver: Resolver | None = None
    note: Note | None = None
    reported: set = field(default_factory=set)

    def line_of(self, link: Link) -> int | str:
        for candidate in self.note.links:
            if (candidate.target, candidate.heading, candidate.block, candidate.embed) == \
                    (link.target, link.heading, link.block, link.embed) and not candidate.markdown:
                return candidate.line
        return "?"

    def href(self, target: str, anchor: str | None = None) -> str:
        """A link from the current note to a vault path, relative, as written in Markdown (`../B/Note.md#x`)."""
        fragment = f"#{quote(anchor, safe='^:')}" if anchor else ""
        if target == self.note.rel and anchor:
            return fragment
        path = posixpath.relpath(target, posixpath.dirname(self.note.rel) or ".")
        return quote(path) + fragment


def heading_slug(md, text: str) -> str:
    """The id the table of contents gives a heading with this text (its own slugify and separator)."""
    toc = md.treeprocessors["toc"] if "toc" in md.treeprocessors else None
    slugify, sep = (toc.slugify, toc.sep) if toc else (toc_slugify, "-")
    return slugify(re.sub(BLOCK_ID_AT_END, "", text).strip(), sep)


def find_heading(note: Note, wanted: str):
    return next((h for h in note.headings if heading_key(h.text) == heading_key(wanted)), None)


class WikiLinkPattern(InlineProcessor):
    def __init__(self, md, ctx: PageContext):
        super().__init__(WIKILINK.pattern, md)
        self.ctx = ctx

    def handleMatch(self, m, data):
        ctx = self.ctx
        if ctx.note is None or ctx.resolver is None:
            return None, None, None
        link = _wikilink(self._plain(m.group(2)), bool(m.group(1)), 0)
        res = ctx.resolver.resolve(link, ctx.note)
        if res.error:
            return self._missing(link, res.error), m.start(0), m.end(0)
        if res.planned:
            el = etree.Element("span", {"class": "llm-planned", "title": PLANNED_TITLE})
            el.text = AtomicString(link.alias or link.target)
        elif res.attachment:
            el = self._attachment(link, res.attachment)
        else:
            el = etree.Element("a", {"class": "llm-link"})
            el.set("href", ctx.href(res.note.rel, self._anchor(link, res.note)))
            el.text = AtomicString(self._label(link))
        return el, m.start(0), m.end(0)

    def _plain(self, text: str) -> str:
        """The link's text as written: code spans are stashed by now (inline, or as raw HTML by inlinehilite)."""
        text = self.unescape(text)

        def stashed_html(m):
            return html.unescape(re.sub(r"<[^>]+>", "", str(self.md.htmlStash.rawHtmlBlocks[int(m.group(1))])))

        return md_util.HTML_PLACEHOLDER_RE.sub(stashed_html, text)

    def _anchor(self, link: Link, note: Note) -> str | None:
        if link.block:
            return f"^{link.block}"
        if link.heading:
            heading = find_heading(note, link.heading)
            return heading_slug(self.md, heading.text) if heading else None
        return None

    @staticmethod
    def _label(link: Link) -> str:
        if link.alias:
            return link.alias
        anchor = link.heading or (f"^{link.block}" if link.block else None)
        if anchor:
            return f"{link.target} › {anchor}" if link.target else anchor
        return link.target

    def _attachment(self, link: Link, rel: str):
        href = self.ctx.href(rel)
        if link.embed and PurePosixPath(rel).suffix.lower() in IMAGE_SUFFIXES:
            el = etree.Element("img", {"src": href, "alt": PurePosixPath(rel).name, "class": "llm-embed-image"})
            size = re.fullmatch(r"\s*(\d+)(?:\s*x\s*(\d+))?\s*", link.alias or "")
            if size:
                el.set("width", size.group(1))
                if size.group(2):
                    el.set("height", size.group(2))
            elif link.alias:
                el.set("alt", link.alias)
            return el
        el = etree.Element("a", {"href": href, "class": "llm-link llm-attachment"})
        el.text = AtomicString(link.alias or PurePosixPath(rel).name)
        return el

    def _missing(self, link: Link, error: str):
        ctx = self.ctx
        line = ctx.line_of(link)
        message = f"{ctx.note.rel}:{line}: {error}"
        if message not in ctx.reported:  # strict builds fail on this warning, naming the file and line
            ctx.reported.add(message)
            log.warning(message)
        el = etree.Element("span", {"class": "llm-missing", "title": error})
        el.text = AtomicString(self._label(link))
        return el


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
        # after code spans (190), before escapes (180): `\|` inside a link in a table still reaches us
        md.inlinePatterns.register(WikiLinkPattern(md, self.ctx), "llm_wikilink", 185)
        md.inlinePatterns.register(BlockIdPattern(md, self.ctx), "llm_block_id", 184)
        md.inlinePatterns.register(TagPattern(md, self.ctx), "llm_tag", 75)  # after links, HTML and entities
        # after the inline patterns (20), before mkdocs collects anchors and the toc (5)
        md.treeprocessors.register(BlockIdTreeprocessor(md), "llm_block_ids", 10)
