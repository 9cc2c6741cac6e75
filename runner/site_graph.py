"""The graph view's data and placeholders; the drawing is runner/assets/graph.js on the vendored force-graph.

One data file for the whole site (`llm-vault/graph-data.js`, loaded by every page and cached by the browser), in a
compact form — nodes as rows, links as pairs of row numbers — so it grows with the vault, not with vault × pages.
"""
from __future__ import annotations

import json

DATA_FILE = "graph-data.js"


def graph_data(site, files) -> tuple[dict, dict[str, int]]:
    """({folders, nodes: [[title, url, folder index, planned]], links: [[row, row]]}, {note rel: its row})."""
    rows: dict[str, int] = {}
    nodes, folders = [], {}

    def add(key: str, title: str, url, folder: str, planned: bool) -> int:
        if key not in rows:
            rows[key] = len(nodes)
            nodes.append([title, url, folders.setdefault(folder, len(folders)), 1 if planned else 0])
        return rows[key]

    for note in site.vault.notes:
        f = files.get_file_from_path(note.rel)
        add(note.rel, note.name, f.url if f else None, note.rel.split("/")[0] if "/" in note.rel else "", False)
    edges = set()
    for note in site.vault.notes:
        for link in note.links:
            res = site.resolver.resolve(link, note)
            if res.planned:
                target = add(f"planned:{link.target.casefold()}", link.target, None, "(planned)", True)
            elif res.note is not None and res.note is not note:
                target = rows[res.note.rel]
            else:
                continue
            source = rows[note.rel]
            edges.add((min(source, target), max(source, target)))  # undirected, as Obsidian draws it
    return {"folders": list(folders), "nodes": nodes, "links": sorted(edges)}, rows


def data_script(data: dict) -> str:
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    return f"window.LLM_VAULT_GRAPH = {text};\n"


def graph_page(site) -> str:
    planned = " Hollow grey notes are planned: linked to, not written yet." if site.resolver.planned else ""
    return ("---\nsearch:\n  exclude: true\n---\n\n# Graph\n\n"
            "Every note of the vault and the links between them, coloured by folder. Drag to pan, scroll or pinch "
            "to zoom, hover a note to see its neighbours, click it to open it; filter by name or by folder."
            f"{planned}\n\n"
            '<div class="llm-graph llm-graph-full" data-search-exclude></div>\n')


def local_graph_html(row: int | None) -> str:
    if row is None:
        return ""
    return ('<section class="llm-local-graph" data-search-exclude><h2>Local graph</h2>'
            f'<div class="llm-graph llm-graph-local" data-node="{row}"></div></section>')
