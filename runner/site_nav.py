"""The site's navigation in the Index's learning order (not mkdocs' alphabetical default).

The order is read from the home note's links: a folder comes where the Index first links to one of its notes, and a
folder's notes come in the order the Index links to them; what the Index never links to follows, alphabetically.
Large folders are split into runs of `CHUNK` notes, each its own collapsed section: with Material's
`navigation.prune` a page then lists only its own run, so the size of every page stays bounded as the vault grows
(a flat folder of k notes repeats k links on each of its k pages).
"""
from __future__ import annotations

from .index import Note
from .links import heading_key

CHUNK = 40
HOME = "Index.md"


def learning_order(site, home_rel: str = HOME) -> list[Note]:
    """Every note, in the home note's order (see `_ranks`); the home note first."""
    notes = site.notes
    home = notes.get(home_rel)
    folder_rank, note_rank = _ranks(site, home) if home is not None else ({}, {})
    unlinked = (3, 0)

    def key(note: Note):  # a note's place: its folders' ranks, level by level, then its own
        parts = note.rel.split("/")
        folders = [folder_rank.get("/".join(parts[:i + 1]), (2, 0, parts[i].casefold()))
                   for i in range(len(parts) - 1)]
        return note is not home, folders + [note_rank.get(note.rel, unlinked)], note.name.casefold()

    return sorted(notes.values(), key=key)


def _ranks(site, home: Note) -> tuple[dict, dict]:
    """Where the home note puts each folder and note.

    A folder goes where the home note has a heading named after it (the Index's "### Basics"), else where it first
    links to one of the folder's notes; a note goes where it is linked under its folder's heading, else where it is
    first linked. So a "Quick start" list at the top of the Index does not pull its notes' folders ahead of the
    order the Index's structure gives them.
    """
    headings = sorted(home.headings, key=lambda h: h.line)
    by_name = {heading_key(h.text): h.line for h in reversed(headings)}  # the first heading of a name wins
    folder_rank: dict[str, tuple] = {}
    note_rank: dict[str, tuple] = {}
    for link in sorted(home.links, key=lambda link: link.line):
        if link.embed:
            continue
        res = site.resolver.resolve(link, home)
        note = res.note
        if note is None or res.error or note is home:
            continue
        under = next((h for h in reversed(headings) if h.line <= link.line), None)
        parts = note.rel.split("/")
        for i in range(len(parts) - 1):
            folder = "/".join(parts[:i + 1])
            line = by_name.get(heading_key(parts[i]))
            rank = (0, line) if line is not None else (1, link.line)
            folder_rank[folder] = min(folder_rank.get(folder, rank), rank)
        placed = under is not None and len(parts) > 1 and heading_key(under.text) == heading_key(parts[-2])
        rank = (0, link.line) if placed else (1, link.line)
        note_rank[note.rel] = min(note_rank.get(note.rel, rank), rank)
    return folder_rank, note_rank


def nav_tree(ordered: list[Note], extra: list[tuple[str, str]] = ()) -> list:
    """mkdocs' `nav` config: folders as sections (in first-seen order), notes as pages, then `extra` pages."""
    root: dict = {}  # folder name → subtree; a note is stored under its rel with value None
    for note in ordered:
        node = root
        for part in note.rel.split("/")[:-1]:
            node = node.setdefault(("dir", part), {})
        node[("note", note.rel)] = note
    return _entries(root) + [{title: uri} for title, uri in extra]


def _entries(node: dict) -> list:
    pages = [note for (kind, _), note in node.items() if kind == "note"]
    items = []
    for (kind, key), value in node.items():
        if kind == "dir":
            items.append({key: _entries(value)})
        else:
            items.append(value.rel)
    if len(pages) <= CHUNK:
        return items
    folders = [item for item in items if isinstance(item, dict)]
    runs = [pages[i:i + CHUNK] for i in range(0, len(pages), CHUNK)]
    return [{f"{run[0].name} – {run[-1].name}": [n.rel for n in run]} for run in runs] + folders


def set_nav(config, files, site) -> None:
    """Point mkdocs at the learning-order navigation (called from on_files, before mkdocs builds its nav)."""
    if config.nav:  # the project wrote its own nav in mkdocs.yml: keep it
        return
    ordered = [n for n in learning_order(site) if files.get_file_from_path(n.rel) is not None]
    extra = [(title, uri) for title, uri in (("Graph", "graph.md"), ("Tags", "tags.md"),
                                              ("Execution report", "report.md"))
             if files.get_file_from_path(uri) is not None]
    home = "index.md" if files.get_file_from_path(HOME) is None else HOME
    nav = nav_tree([n for n in ordered if n.rel != HOME], extra)
    listed = {n.rel for n in ordered} | {uri for _, uri in extra} | {home}
    # pages that are not notes the vault could read (a file that is not UTF-8 gets an error page): at the end
    nav += sorted((f.src_uri for f in files.documentation_pages() if f.src_uri not in listed), key=str.casefold)
    config.nav = [home] + nav if files.get_file_from_path(home) is not None else nav
