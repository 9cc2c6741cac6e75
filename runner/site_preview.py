"""Hover previews of wiki-links (as Obsidian Publish and Quartz show them), drawn by runner/assets/preview.js.

Each note's rendered text is written once to `llm-vault/previews/<row>.js` (its row in the graph data, which also
maps a page's URL to its row). A script, not JSON fetched at hover time: browsers refuse `fetch()` on `file://`,
but load a `<script src>` there, so previews work from disk too. One small file per note: the site grows linearly.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

DIR = "previews"
_COMMENT = re.compile(r"<!--.*?-->", re.S)


class Previews:
    def __init__(self):
        self.pages: dict[int, str] = {}

    def capture(self, row: int | None, html: str) -> None:
        """`html`: the note's own text as rendered (before outputs, badge and backlinks are added)."""
        if row is not None:
            self.pages[row] = _COMMENT.sub("", html)

    def write(self, site_dir: Path, asset_dir: str) -> None:
        out = Path(site_dir) / asset_dir / DIR
        out.mkdir(parents=True, exist_ok=True)
        for row, html in self.pages.items():
            text = json.dumps(html, ensure_ascii=False).replace("</", "<\\/")
            (out / f"{row}.js").write_text(f"window.LLMVaultPreview && LLMVaultPreview.receive({row}, {text});\n",
                                           encoding="utf-8")
