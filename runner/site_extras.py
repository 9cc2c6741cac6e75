"""The reader's ways around the site, wired into the hooks of runner/site.py: learning-order navigation
(site_nav), the graph (site_graph), hover previews (site_preview), search (site_search) and the execution report
(site_report), with their scripts and styles from runner/assets/."""
from __future__ import annotations

from pathlib import Path

from mkdocs.structure.files import File

from . import site_graph, site_nav, site_report, site_search
from .site_preview import Previews

ASSETS = Path(__file__).parent / "assets"
OWN_ASSETS = ["graph.js", "preview.js", "search.js", "explore.css",
              "vendor/force-graph/force-graph.min.js", "vendor/force-graph/LICENSE",
              "vendor/iframe-worker/shim.js", "vendor/iframe-worker/LICENSE"]


def on_files(site, files, config, asset_dir: str):
    for name in OWN_ASSETS:
        files.append(File.generated(config, f"{asset_dir}/{name}", abs_src_path=str(ASSETS / name)))
    for uri, content in ((site_report.PAGE, site_report.report_markdown(site)),
                         ("graph.md", site_graph.graph_page(site))):
        if files.get_file_from_path(uri) is None:
            files.append(File.generated(config, uri, content=content))
    data, site.graph_rows = site_graph.graph_data(site, files)
    files.append(File.generated(config, f"{asset_dir}/{site_graph.DATA_FILE}", content=site_graph.data_script(data)))
    site.previews = Previews()
    site_nav.set_nav(config, files, site)
    return files


def page_content(site, note, rendered: str, html: str) -> str:
    """`rendered`: the note's Markdown as HTML; `html`: the page with outputs, badge and backlinks added."""
    row = site.graph_rows.get(note.rel)
    site.previews.capture(row, rendered)
    html = site_search.exclude_chrome(html)
    end = html.find("</h1>")
    if end >= 0:
        html = html[:end + 5] + site_search.aliases_html(note) + html[end + 5:]
    return html + site_graph.local_graph_html(row)


def on_post_build(site, config, asset_dir: str) -> None:
    site.previews.write(Path(config.site_dir), asset_dir)
