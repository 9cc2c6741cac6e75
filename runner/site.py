"""The published site: mkdocs renders the vault as Obsidian shows it, with every code cell's cached outputs.

`llm-vault build` runs what is stale, then `mkdocs build --strict`; `llm-vault serve` renders from the cache and
re-runs only the note you edit. The mkdocs side is a set of hooks (mkdocs.yml → runner/mkdocs_hooks.py → here):

- on_pre_build: read the vault, plan the runs (cache keys), resolve links — once per build;
- on_files: `Index.md` becomes the home page; the graph and tags pages and our CSS/JS are added;
- on_page_markdown: our Markdown extension (markdown_ext.py) is pointed at the page's note; output placeholders go
  under each ```python fence, `![[Note#Section]]` lines become the section's text;
- on_page_content: outputs, the verification badge, backlinks and the local graph go into the page's HTML;
- on_post_build: the executed notebooks are written to `site/notebooks/`, the figures to `llm-vault/figures/`.

What a page shows is built by `Site` (site_pages.py); math is site_math.py, outputs outputs.py.
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
from pathlib import Path
from urllib.parse import quote

import nbformat
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File

from . import config as config_mod
from .env import REPO_ROOT
from .execute import resolve_device, run_vault
from .index import note_paths, read_note
from .markdown_ext import PageContext, VaultExtension
from .outputs import scrub_paths
from .site_math import ObsidianMathExtension
from .site_pages import ASSET_DIR, NOTEBOOK_DIR, Site

log = logging.getLogger("mkdocs.plugins.llm_vault")
MKDOCS_YML = REPO_ROOT / "mkdocs.yml"
ASSETS = Path(__file__).parent / "assets"

# What the current process asked for (set by build_site/serve_site; plain `mkdocs build` leaves the defaults).
options: dict = {"cfg": None, "device": None, "serve": False, "seen": None, "enabled": True, "keys": None}
CTX = PageContext()
site: "Site | None" = None



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
    for asset in sorted(p for p in ASSETS.rglob("*") if p.is_file()):  # CSS, JS, the vendored KaTeX
        uri = f"{ASSET_DIR}/{asset.relative_to(ASSETS).as_posix()}"
        files.append(File.generated(config, uri, abs_src_path=str(asset)))
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


@event_priority(50)  # before mkdocs-glightbox wraps the page's images: our figures are in the page by then
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
        nbformat.write(_published(nb), out / f"{name}.ipynb")
    for path, data in site.figures.items():
        (Path(config.site_dir) / path).parent.mkdir(parents=True, exist_ok=True)
        (Path(config.site_dir) / path).write_bytes(data)


def _published(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook as downloaded from the site: its outputs without the build machine's paths."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if "text" in out:
                out["text"] = scrub_paths("".join(out["text"]) if isinstance(out["text"], list) else out["text"])
            if "traceback" in out:
                out["traceback"] = [scrub_paths(line) for line in out["traceback"]]
            for mime in ("text/plain", "text/html"):
                if mime in out.get("data", {}):
                    value = out["data"][mime]
                    out["data"][mime] = scrub_paths("".join(value) if isinstance(value, list) else value)
    return nb


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
