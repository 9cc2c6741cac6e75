"""The published site: mkdocs renders the vault as Obsidian shows it, with every code cell's cached outputs.

`llm-vault build` runs what is stale, then `mkdocs build --strict`; `llm-vault serve` renders from the cache and
re-runs only the note you edit. The mkdocs side is a set of hooks (mkdocs.yml → runner/mkdocs_hooks.py → here):

- on_pre_build: read the vault, plan the runs (cache keys), resolve links — once per build;
- on_files: `Index.md` becomes the home page; the tags page and our CSS/JS are added; site_extras adds the graph,
  the execution report and the learning-order navigation;
- on_page_markdown: our Markdown extension (markdown_ext.py) is pointed at the page's note; output placeholders go
  under each ```python fence, `![[Note#Section]]` lines become the section's text;
- on_page_content: outputs, the verification badge and backlinks go into the page's HTML; site_extras adds the
  aliases, the local graph and keeps the page's text for hover previews;
- on_post_build: the executed notebooks are written to `site/notebooks/`, the figures to `llm-vault/figures/`
  (and the previews, by site_extras).

What a page shows is built by `Site` (site_pages.py); math is site_math.py, outputs outputs.py.
"""
from __future__ import annotations

import hashlib
import logging
import re
import sys
from pathlib import Path
from urllib.parse import quote

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File

from . import config as config_mod
from . import site_extras, site_theme
from .execute import resolve_device, run_vault
from .index import note_paths, read_note
from .markdown_ext import PageContext, VaultExtension, unreadable_page
from .site_math import ObsidianMathExtension
from .site_pages import ASSET_DIR, NOTEBOOK_DIR, Site

log = logging.getLogger("mkdocs.plugins.llm_vault")
ASSETS = Path(__file__).parent / "assets"

# What the current process asked for (set by build_site/serve_site; plain `mkdocs build` leaves the defaults).
options: dict = {"cfg": None, "device": None, "serve": False, "seen": None, "enabled": True, "keys": None}
CTX = PageContext()
site: "Site | None" = None


def _cfg_for(docs_dir: str) -> config_mod.Config:
    if options["cfg"] is not None:
        return options["cfg"]
    return config_mod.load(Path(docs_dir))  # plain `mkdocs build`: the project whose vault is docs_dir


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
        config.markdown_extensions.extend([VaultExtension(CTX), ObsidianMathExtension()])
    return config


def on_pre_build(config) -> None:
    global site
    if not options["enabled"]:
        return
    cfg = _cfg_for(config.docs_dir)
    device = options["device"] or resolve_device(None)
    if options["serve"]:
        _rerun_changed(cfg, device)
    site = Site(cfg, device, options.get("keys"), parallel=not options["serve"])
    CTX.resolver, CTX.note = site.resolver, None
    CTX.reported.clear()
    site.tags_plugin = config.plugins.get("material/tags")


def on_files(files, config):
    for f in list(files):
        if "__pycache__" in f.src_uri.split("/") or f.src_uri.endswith((".pyc", ".ipynb")):
            files.remove(f)
    if not options["enabled"] or site is None:
        return files
    for note in list(site.notes.values()):  # a note that cannot be read gets a page saying why; the rest build
        page = unreadable_page(note)
        if page is not None and files.get_file_from_path(note.rel) is not None:
            files.remove(files.get_file_from_path(note.rel))
            files.append(File.generated(config, note.rel, content=page))
            del site.notes[note.rel]
            log.info(f"not rendered: {note.diagnostics[0]}")
    home = files.get_file_from_path("Index.md")
    if home is not None and files.get_file_from_path("index.md") is None:
        home.name, home.dest_uri = "index", "index.html"
        home.url = "./" if config.use_directory_urls else "index.html"  # file:// opens no directory index
        home.abs_dest_path = str(Path(config.site_dir) / "index.html")
    elif home is None and files.get_file_from_path("index.md") is None:
        files.append(File.generated(config, "index.md", content=_stub_home(site)))
    for asset in sorted(p for p in ASSETS.rglob("*") if p.is_file()):  # CSS, JS, the vendored KaTeX
        name = asset.relative_to(ASSETS).as_posix()
        if name not in site_extras.OWN_ASSETS and name != "vendor/README.md":  # site_extras adds its own
            files.append(File.generated(config, f"{ASSET_DIR}/{name}", abs_src_path=str(asset)))
    generated = {"tags.md": "---\nsearch:\n  exclude: true\n---\n\n# Tags\n\n<!-- material/tags -->\n"}
    for uri, content in generated.items():
        if files.get_file_from_path(uri) is None:
            files.append(File.generated(config, uri, content=content))
    return site_extras.on_files(site, files, config, ASSET_DIR)


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
    return CTX.premark(site.markdown_for(note))  # Obsidian's syntax read before the callouts plugin runs


@event_priority(50)  # before mkdocs-glightbox wraps the page's images: our figures are in the page by then
def on_page_content(html: str, page, config, files):
    note, CTX.note = CTX.note, None
    if note is None or site is None or note.rel not in site.notes:
        return html
    html = site_extras.page_content(site, note, html, site.html_for(note, html, page, files))
    if "<img" not in html and "glightbox" not in page.meta:
        page.meta["glightbox"] = False  # nothing to zoom: mkdocs-glightbox neither re-parses the page nor adds its JS
    return html


@event_priority(100)  # before the search plugin indexes the page (its on_page_context)
def on_page_context(context, page, config, nav):
    """mkdocs-glightbox returns a whole document (`<html><head></head><body>…`) from its on_page_content; the
    search index then files the title's section under the h1's anchor, and a page's first words (its aliases) lose
    the page's rank. Only the body goes on."""
    html = page.content or ""
    if html.startswith("<html>") and "<body>" in html:
        page.content = html[html.index("<body>") + 6:html.rindex("</body>")] if "</body>" in html else html
    return context


def on_env(env, config, files):
    return site_theme.on_env(env, config, files, enabled=options["enabled"] and options.get("nav_cache", True))


def on_post_build(config) -> None:
    if site is None or not options["enabled"]:
        return
    out = Path(config.site_dir) / NOTEBOOK_DIR
    out.mkdir(parents=True, exist_ok=True)
    for name, text in site.notebooks.texts.items():
        (out / f"{name}.ipynb").write_text(text, encoding="utf-8")
    site.notebooks.close()
    for path, data in site.figures.items():
        (Path(config.site_dir) / path).parent.mkdir(parents=True, exist_ok=True)
        (Path(config.site_dir) / path).write_bytes(data)
    site_extras.on_post_build(site, config, ASSET_DIR)


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

    config_file, ours = config_mod.mkdocs_config(cfg)
    return load_config(config_file=str(config_file), **ours, **overrides)


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
    """Run what is stale, then build the site. Exit 1 when a note failed or could not run (the site is still
    written, the failures badged), unless `--allow-failures` (previews)."""
    from mkdocs.exceptions import Abort
    from .report import print_table, shown_path

    device = resolve_device(getattr(args, "device", None))
    site_dir = Path(args.site_dir or cfg.site_dir)
    keys, trouble = None, ""
    try:
        results = run_vault(cfg, None, jobs=args.jobs, force=args.force, timeout=args.timeout, device=device,
                            exitfirst=getattr(args, "exitfirst", False))
        print_table(results)
        keys = {r.note: r.key for r in results}  # the site shows exactly these runs
        failed = sum(not r.ok for r in results)
        trouble = f"{failed} note{'s' if failed > 1 else ''} failed (badged on {'their' if failed > 1 else 'its'} " \
                  f"page)" if failed else ""
    except SystemExit as exc:  # the vault cannot be planned right now: build the site without fresh runs
        print(f"not running the notes: {exc}")
        trouble = "the notes could not run"
    _show_mkdocs_log()
    try:
        build_mkdocs(cfg, site_dir, device, keys=keys)
    except Abort as exc:
        print(exc)
        return 1
    print(f"site written to {shown_path(site_dir)}/")
    if trouble and not getattr(args, "allow_failures", False):
        print(f"exit status 1: {trouble}; --allow-failures exits 0, for previews", file=sys.stderr)
        return 1
    return 0


def serve_site(cfg: config_mod.Config, args) -> int:
    from mkdocs.commands.serve import serve

    options.update(cfg=cfg, device=resolve_device(args.device), timeout=args.timeout)
    _show_mkdocs_log()
    config_file, overrides = config_mod.mkdocs_config(cfg)
    serve(config_file=str(config_file), dev_addr=args.dev_addr, livereload=True, **overrides)
    return 0
