"""What the search index sees: a note's aliases (so a search for one finds the note), and not the run badge,
backlinks or local graph of every page (marked `data-search-exclude`, which Material's search plugin skips; a heading with an `id` would still open an
empty search section, so those headings have none).

The query side (hyphenated terms such as `top-p`) is runner/assets/search.js.
"""
from __future__ import annotations

from html import escape


def aliases_html(note) -> str:
    aliases = [a for a in note.aliases if a.strip()]
    if not aliases:
        return ""
    names = ", ".join(f'<span class="llm-alias">{escape(a)}</span>' for a in aliases)
    return f'<p class="llm-aliases">Also called {names}</p>'


def exclude_chrome(html: str) -> str:
    """Our per-page furniture out of the index: otherwise every page's text begins with 'passed cpu 5.5 s …'."""
    for opening in ('<div class="llm-badge', '<details class="llm-report"'):
        html = html.replace(opening, opening.replace(" class=", " data-search-exclude class=", 1))
    return html
