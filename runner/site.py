"""The published site: mkdocs renders the vault as Obsidian shows it, with every code cell's cached outputs.

`llm-vault build` runs what is stale, then `mkdocs build --strict`; `llm-vault serve` renders from the cache and
re-runs only the note you edit. The mkdocs side is a set of hooks (mkdocs.yml → runner/mkdocs_hooks.py → here):

- on_pre_build: read the vault, plan the runs (cache keys), resolve links — once per build;
- on_files: `Index.md` becomes the home page; the graph and tags pages and our CSS/JS are added;
- on_page_markdown: our Markdown extension (markdown_ext.py) is pointed at the page's note; output placeholders go
  under each ```python fence, `![[Note#Section]]` lines become the section's text;
- on_page_content: outputs, the verification badge, backlinks and the local graph go into the page's HTML;
- on_post_build: the executed notebooks are written to `site/notebooks/`.
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
from html import escape
from pathlib import Path
from urllib.parse import quote

import nbformat
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File
from mkdocs.utils import get_relative_url

from . import config as config_mod
from .cache import Cache
from .env import REPO_ROOT
from .execute import plan, resolve_device, run_vault
from .export import ExportError, code_cells, companion_name, to_notebook
from .index import WIKILINK, Note, note_paths, read_note, read_vault, split_frontmatter
from .links import Resolver, backlinks
from .markdown_ext import BLOCK_ID_AT_END, PageContext, VaultExtension, find_heading
from .outputs import badge, render_cell

log = logging.getLogger("mkdocs.plugins.llm_vault")
MKDOCS_YML = REPO_ROOT / "mkdocs.yml"
ASSETS = Path(__file__).parent / "assets"
ASSET_DIR = "llm-vault"                # where our CSS/JS land in the site
NOTEBOOK_DIR = "notebooks"
FIGURE_SUFFIX = {"image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif", "image/svg+xml": ".svg"}
OUTPUT_MARK = "<!-- llm-vault-output {} -->"
FENCE_OPENING = re.compile(r"^(\s*(?:>\s?)*\s*)(`{3,}|~{3,})\s*([\w+#.-]*).*$")

# What the current process asked for (set by build_site/serve_site; plain `mkdocs build` leaves the defaults).
options: dict = {"cfg": None, "device": None, "serve": False, "seen": None, "enabled": True, "keys": None}
CTX = PageContext()
site: "Site | None" = None


class Site:
    """Everything the hooks need about the vault, computed once per build."""

    def __init__(self, cfg: config_mod.Config, device: str, keys: dict[str, str] | None = None):
        """`keys`: {note: cache key} when the caller has just run the vault; else they come from `plan()`."""
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
        self.notebooks: dict[str, nbformat.NotebookNode] = {}
        self.figures: dict[str, bytes] = {}  # site path → image, written after the build
        self.tags_plugin = None                # Material's, for the anchors of its tags page

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
            return render_cell(cell, own_cells[n].skip_reason if n < len(own_cells) else None, failed, figure)

        def figure(mime: str, data: bytes) -> str:  # a file, not a data URI: pages stay small and fast to index
            path = f"{ASSET_DIR}/figures/{hashlib.sha256(data).hexdigest()[:16]}{FIGURE_SUFFIX.get(mime, '.png')}"
            self.figures[path] = data
            return get_relative_url(path, page.file.url)

        html = re.sub(OUTPUT_MARK.format(r"(\d+)"), output, html)
        html = _after_title(html, self.badge_for(note, result, nb, page, files))
        html = self.tag_links(html, page, files)
        return html + self.backlinks_html(note, page, files) + (
            f'<h2 id="llm-local-graph">Local graph</h2>'
            f'<div class="llm-graph llm-graph-local" data-note="{escape(note.rel)}"></div>')

    def badge_for(self, note: Note, result, nb, page, files) -> str:
        try:
            name = companion_name(note) if note.cells else None
        except ExportError:
            name = None
        if name is None:
            return ""
        companion = files.get_file_from_path(f"companions/{name}.py")
        if nb is None:
            try:
                nb = to_notebook(note)
            except ExportError:
                nb = None
        if nb is not None:
            self.notebooks[name] = nb
        here = page.file.url
        return badge(result, get_relative_url(companion.url, here) if companion else None,
                     get_relative_url(f"{NOTEBOOK_DIR}/{name}.ipynb", here) if nb is not None else None)

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
        return f'<section class="llm-backlinks"><h2 id="llm-backlinks">Backlinks</h2>{body}</section>'

    def graph_data(self, files) -> dict:
        nodes, edges = {}, set()
        for note in self.vault.notes:
            f = files.get_file_from_path(note.rel)
            nodes[note.rel] = {"id": note.rel, "title": note.name, "url": f.url if f else None}
        for note in self.vault.notes:
            for link in note.links:
                res = self.resolver.resolve(link, note)
                if res.planned:
                    target = f"planned:{link.target.casefold()}"
                    nodes.setdefault(target, {"id": target, "title": link.target, "url": None, "planned": True})
                elif res.note is not None and res.note is not note:
                    target = res.note.rel
                else:
                    continue
                edges.add((note.rel, target))
        return {"nodes": list(nodes.values()), "links": sorted(edges)}


def _after_title(html: str, fragment: str) -> str:
    end = html.find("</h1>")
    return html[:end + 5] + fragment + html[end + 5:] if end >= 0 else fragment + html


def _cfg_for(docs_dir: str) -> config_mod.Config:
    if options["cfg"] is not None:
        return options["cfg"]
    default = config_mod.load()
    return default if Path(docs_dir).resolve() == default.vault else config_mod.load(Path(docs_dir))


def _rerun_changed(cfg: config_mod.Config, device: str) -> None:
    """While serving: run the notes whose text changed since the last build (when their code changed too)."""
    seen = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in note_paths(cfg.vault)}
    before, options["seen"] = options["seen"], seen
    if before is None:
        return
    changed = [p for p, digest in seen.items() if before.get(p) != digest and read_note(p, cfg.vault).cells]
    if changed:
        try:
            run_vault(cfg, [str(p) for p in changed], jobs=1, device=device, timeout=options.get("timeout"))
        except SystemExit as exc:
            log.warning(f"could not run {', '.join(p.name for p in changed)}: {exc}")


# ---- mkdocs hooks (re-exported by runner/mkdocs_hooks.py)

def on_startup(command: str, dirty: bool = False) -> None:
    options["serve"] = command == "serve"


def on_config(config):
    if options["enabled"]:
        config.markdown_extensions.append(VaultExtension(CTX))
    return config


def on_pre_build(config) -> None:
    global site
    if not options["enabled"]:
        return
    cfg = _cfg_for(config.docs_dir)
    device = options["device"] or resolve_device(None)
    if options["serve"]:
        _rerun_changed(cfg, device)
    site = Site(cfg, device, options.get("keys"))
    CTX.resolver, CTX.note = site.resolver, None
    CTX.reported.clear()
    site.tags_plugin = config.plugins.get("material/tags")


def on_files(files, config):
    for f in list(files):
        if "__pycache__" in f.src_uri.split("/") or f.src_uri.endswith((".pyc", ".ipynb")):
            files.remove(f)
    if not options["enabled"] or site is None:
        return files
    home = files.get_file_from_path("Index.md")
    if home is not None and files.get_file_from_path("index.md") is None:
        home.name, home.dest_uri, home.url = "index", "index.html", "./"
        home.abs_dest_path = str(Path(config.site_dir) / "index.html")
    elif home is None and files.get_file_from_path("index.md") is None:
        files.append(File.generated(config, "index.md", content=_stub_home(site)))
    for name in ("site.css", "site.js"):
        files.append(File.generated(config, f"{ASSET_DIR}/{name}", abs_src_path=str(ASSETS / name)))
    generated = {"graph.md": "# Graph\n\nEvery note of the vault and the links between them; click a note to open "
                             "it. Grey notes are planned, not written yet.\n\n"
                             '<div class="llm-graph llm-graph-full"></div>\n',
                 "tags.md": "# Tags\n\n<!-- material/tags -->\n"}
    for uri, content in generated.items():
        if files.get_file_from_path(uri) is None:
            files.append(File.generated(config, uri, content=content))
    data = json.dumps(site.graph_data(files), ensure_ascii=False).replace("</", "<\\/")
    files.append(File.generated(config, f"{ASSET_DIR}/graph-data.js", content=f"window.LLM_VAULT_GRAPH = {data};\n"))
    return files


def _stub_home(site: Site) -> str:
    rows = "\n".join(f"- [{n.name}]({quote(n.rel)})" for n in site.vault.notes)
    return f"# LLM Vault\n\nThe index note is not written yet. The notes so far:\n\n{rows}\n"


@event_priority(50)  # before the callouts plugin and the tags plugin read the page
def on_page_markdown(markdown: str, page, config, files):
    if not options["enabled"]:  # the benchmark's baseline: plain mkdocs, fences still readable by superfences
        CTX.note = None
        return re.sub(r"(?m)^(\s*(?:>\s?)*\s*)(`{3,}|~{3,})\s*(python)\b.*$", r"\1\2\3", markdown)
    note = site.notes.get(page.file.src_uri) if site else None
    CTX.note = note
    if note is None:
        return markdown
    tags = page.meta.get("tags") or []
    tags = [tags] if isinstance(tags, str) else list(tags)
    page.meta["tags"] = tags + [t for t in dict.fromkeys(note.inline_tags) if t not in tags]
    return site.markdown_for(note)


def on_page_content(html: str, page, config, files):
    note, CTX.note = CTX.note, None
    if note is None or site is None or note.rel not in site.notes:
        return html
    return site.html_for(note, html, page, files)


def on_post_build(config) -> None:
    if site is None or not options["enabled"]:
        return
    out = Path(config.site_dir) / NOTEBOOK_DIR
    out.mkdir(parents=True, exist_ok=True)
    for name, nb in site.notebooks.items():
        nbformat.write(nb, out / f"{name}.ipynb")
    for path, data in site.figures.items():
        (Path(config.site_dir) / path).parent.mkdir(parents=True, exist_ok=True)
        (Path(config.site_dir) / path).write_bytes(data)


# ---- the commands

def _show_mkdocs_log() -> None:
    """What `mkdocs` itself prints (INFO and up), when we drive it from `llm-vault build/serve`."""
    logger = logging.getLogger("mkdocs")
    if not any(getattr(h, "llm_vault", False) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)-8s-  %(message)s"))
        handler.llm_vault = True
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


def _load_mkdocs_config(cfg: config_mod.Config, **overrides):
    from mkdocs.config import load_config

    return load_config(config_file=str(MKDOCS_YML), docs_dir=str(cfg.vault), **overrides)


def build_mkdocs(cfg: config_mod.Config, site_dir: Path, device: str | None = None, enabled: bool = True,
                 keys: dict[str, str] | None = None) -> None:
    """`mkdocs build --strict` of the vault into site_dir, rendering outputs from the cache (runs nothing)."""
    from mkdocs.commands.build import build

    options.update(cfg=cfg, device=resolve_device(device), serve=False, enabled=enabled, keys=keys)
    config = _load_mkdocs_config(cfg, site_dir=str(Path(site_dir).resolve()), strict=True)
    config.plugins.on_startup(command="build", dirty=False)
    try:
        build(config)
    finally:
        config.plugins.on_shutdown()
        options.update(cfg=None, device=None, enabled=True, keys=None)


def build_site(cfg: config_mod.Config, args) -> int:
    from mkdocs.exceptions import Abort
    from .report import print_table

    device = resolve_device(getattr(args, "device", None))
    keys = None
    try:
        results = run_vault(cfg, None, jobs=args.jobs, force=args.force, timeout=args.timeout, device=device)
        print_table(results)
        keys = {r.note: r.key for r in results}  # the site shows exactly these runs
    except SystemExit as exc:  # the vault cannot be planned right now: build the site without fresh runs
        print(f"not running the notes: {exc}")
    _show_mkdocs_log()
    try:
        build_mkdocs(cfg, args.site_dir, device, keys=keys)
    except Abort as exc:
        print(exc)
        return 1
    print(f"site written to {args.site_dir}/")
    return 0


def serve_site(cfg: config_mod.Config, args) -> int:
    from mkdocs.commands.serve import serve

    options.update(cfg=cfg, device=resolve_device(args.device), timeout=args.timeout)
    _show_mkdocs_log()
    serve(config_file=str(MKDOCS_YML), docs_dir=str(cfg.vault), dev_addr=args.dev_addr, livereload=True)
    return 0
