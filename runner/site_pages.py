"""The vault's pages as the site shows them: a note's Markdown before rendering (output placeholders after each
code cell, `![[Note#Section]]` inlined) and its HTML after (outputs, badge, tag links, backlinks).

`Site` holds what every page needs, computed once per build; the mkdocs hooks in site.py call it.
"""
from __future__ import annotations

import hashlib
import logging
import re
from html import escape

from mkdocs.utils import get_relative_url

from . import config as config_mod
from .cache import Cache
from .execute import plan
from .export import ExportError, code_cells, companion_name
from .figures import describe
from .index import WIKILINK, Note, read_vault, split_frontmatter
from .links import Resolver, backlinks
from .markdown_ext import BLOCK_ID_AT_END, find_heading
from .outputs import badge, is_measured, render_cell
from .site_notebooks import Notebooks

log = logging.getLogger("mkdocs.plugins.llm_vault")
ASSET_DIR = "llm-vault"                # where our CSS/JS land in the site
NOTEBOOK_DIR = "notebooks"
FIGURE_SUFFIX = {"image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif", "image/svg+xml": ".svg"}
OUTPUT_MARK = "<!-- llm-vault-output {} -->"
FENCE_OPENING = re.compile(r"^(\s*(?:>\s?)*\s*)(`{3,}|~{3,})\s*([\w+#.-]*).*$")


class Site:
    """Everything the hooks need about the vault, computed once per build."""

    def __init__(self, cfg: config_mod.Config, device: str, keys: dict[str, str] | None = None,
                 parallel: bool = False):
        """`keys`: {note: cache key} when the caller has just run the vault; else they come from `plan()`;
        `parallel`: read the notebooks of notes that never ran in worker processes (site_notebooks.py)."""
        self.cfg, self.device = cfg, device
        if keys is not None:
            self.vault = read_vault(cfg.vault)
        else:
            try:
                self.vault, jobs = plan(cfg, None, device)
                keys = {job.note.rel: job.key for job in jobs}
            except (ExportError, SystemExit) as exc:  # a note being written cannot be exported: show no outputs
                log.info(f"outputs not shown: {exc}")
                self.vault, keys = read_vault(cfg.vault), {}
        self.keys = keys
        self.notes = {note.rel: note for note in self.vault.notes}
        self.resolver = Resolver(self.vault, cfg.planned)
        self.incoming = backlinks(self.resolver)
        self.cache = Cache(cfg.cache_dir)
        self.notebooks = Notebooks([n for n in self.vault.notes if n.cells and not self._has_run(n)], parallel)
        self.figures: dict[str, bytes] = {}  # site path → image, written after the build
        self.tags_plugin = None                # Material's, for the anchors of its tags page

    def _has_run(self, note: Note) -> bool:
        key = self.keys.get(note.rel)
        return key is not None and (self.cache.entry(key) / "notebook.ipynb").is_file()

    def run_of(self, note: Note):
        key = self.keys.get(note.rel)
        return self.cache.load(key, note) if key else None

    # ---- Markdown, before rendering

    def markdown_for(self, note: Note) -> str:
        """The note's Markdown with output placeholders after each code cell and embedded sections inlined."""
        _, _, body = split_frontmatter(note.text)  # frontmatter blanked: line numbers stay those of the file
        lines = body.split("\n")
        for fence in note.fences:  # keep the language, drop jupytext attributes (`export`, `skip="…"`)
            lines[fence.line - 1] = FENCE_OPENING.sub(r"\1\2\3", lines[fence.line - 1])
        after = {fence.end_line: ["", OUTPUT_MARK.format(n), ""] for n, fence in enumerate(note.cells)}
        for link in note.links:
            if link.embed and not link.markdown:
                written = WIKILINK.fullmatch(lines[link.line - 1].strip())
                res = self.resolver.resolve(link, note) if written else None
                if res and res.note is not None and not res.error:
                    lines[link.line - 1] = "\n".join(self.transclusion(written.group(2), link, res.note))
        for line in sorted(after, reverse=True):
            lines[line:line] = after[line]
        return "\n".join(lines)

    @staticmethod
    def transclusion(inner: str, link, target: Note) -> list[str]:
        """`![[Note#Section]]` → the section's text in a box titled with a link to it."""
        _, _, body = split_frontmatter(target.text)
        lines = body.split("\n")
        if link.heading:
            heading = find_heading(target, link.heading)
            end = next((h.line - 1 for h in target.headings if h.line > heading.line and h.level <= heading.level),
                       len(lines))
            chunk = lines[heading.line:end]
        elif link.block:
            last = first = target.blocks[link.block]
            while first > 1 and lines[first - 2].strip():
                first -= 1
            chunk = lines[first - 1:last]
            chunk[-1] = re.sub(BLOCK_ID_AT_END, "", chunk[-1])
        else:
            chunk = lines
        own = target.rel[:-3] if "/" in target.rel else target.name  # its `[[#H]]` links keep pointing at it
        text = re.sub(r"\[\[#([^\]|]+)(\]\]|\|)", lambda m: f"[[{own}#{m[1]}|{m[1]}]]" if m[2] == "]]"
                      else f"[[{own}#{m[1]}|", "\n".join(chunk))
        title = inner.split("|")[0]
        return ["", '<div class="llm-embed" markdown="1">', "", f"**[[{title}]]**", "", text, "", "</div>", ""]

    # ---- HTML, after rendering

    def html_for(self, note: Note, html: str, page, files) -> str:
        run = self.run_of(note)
        result, nb = run if run else (None, None)
        cells = [c for c in nb.cells if c.cell_type == "code"] if nb else []
        own_cells = code_cells(note)
        failed = result is not None and not result.ok

        def output(m: re.Match) -> str:
            n = int(m.group(1))
            cell = cells[n] if n < len(cells) else None
            if n >= len(own_cells):
                return render_cell(cell, None, failed, figure)
            own = own_cells[n]
            section = next((h.text for h in reversed(note.headings) if h.line < own.line), None)
            drew = cell is not None and any(k.startswith("image/") for o in cell.get("outputs", [])
                                            for k in o.get("data", {}))
            return render_cell(cell, own.skip_reason, failed, figure,  # describe() parses the cell: only if it drew
                               alt=describe(own.source, section) if drew else "figure",
                               measured=is_measured(own.attrs, cell))

        def figure(mime: str, data: bytes) -> str:  # a file, not a data URI: pages stay small and fast to index
            path = f"{ASSET_DIR}/figures/{hashlib.sha256(data).hexdigest()[:16]}{FIGURE_SUFFIX.get(mime, '.png')}"
            self.figures[path] = data
            return get_relative_url(path, page.file.url)

        html = re.sub(OUTPUT_MARK.format(r"(\d+)"), output, html)
        html = _after_title(html, self.badge_for(note, result, nb, page, files))
        html = self.tag_links(html, page, files)
        return html + self.backlinks_html(note, page, files)

    def badge_for(self, note: Note, result, nb, page, files) -> str:
        try:
            name = companion_name(note) if note.cells else None
        except ExportError:
            name = None
        if name is None:
            return ""
        companion = files.get_file_from_path(f"companions/{name}.py")
        if nb is not None:
            self.notebooks.ran(name, nb)
            offered = True
        else:
            offered = self.notebooks.never_run(name, note)
        here = page.file.url
        return badge(result, get_relative_url(companion.url, here) if companion else None,
                     get_relative_url(f"{NOTEBOOK_DIR}/{name}.ipynb", here) if offered else None)

    def tag_links(self, html: str, page, files) -> str:
        tags_page = files.get_file_from_path("tags.md")
        if tags_page is None:
            return html
        plugin = self.tags_plugin
        base = get_relative_url(tags_page.url, page.file.url)

        def href(m: re.Match) -> str:
            tag = m.group(1)
            if plugin is None:
                return f'href="{base}" data-tag="{tag}"'
            conf = plugin.config
            anchor = conf.tags_slugify_format.format(slug=conf.tags_slugify(tag, conf.tags_slugify_separator))
            return f'href="{base}#{escape(anchor)}" data-tag="{tag}"'

        return re.sub(r'data-tag="([^"]*)" href="#"', href, html)

    def backlinks_html(self, note: Note, page, files) -> str:
        items = []
        for rel in self.incoming.get(note.rel, []):
            f = files.get_file_from_path(rel)
            if f is not None:
                items.append(f'<li><a class="llm-backlink" href="{get_relative_url(f.url, page.file.url)}">'
                             f'{escape(self.notes[rel].name)}</a></li>')
        body = f"<ul>{''.join(items)}</ul>" if items else "<p>No other note links here yet.</p>"
        return f'<section class="llm-backlinks" data-search-exclude><h2>Backlinks</h2>{body}</section>'



def _after_title(html: str, fragment: str) -> str:
    end = html.find("</h1>")
    return html[:end + 5] + fragment + html[end + 5:] if end >= 0 else fragment + html
