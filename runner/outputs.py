"""The site's view of a run: a code cell's cached outputs as HTML, and the verification badge of a note.

Everything a note printed is escaped: a note that prints `<script>` shows the text `<script>`. Rich `text/html`
output (a pandas table) goes through a small allow-list sanitizer instead: table markup survives, scripts, styles,
event handlers and links do not.
"""
from __future__ import annotations

import base64
import re
from html import escape
from html.parser import HTMLParser

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
IMAGES = ("image/png", "image/jpeg", "image/gif", "image/svg+xml")


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value or "")


def _clean(text: str) -> str:
    """Strip colour codes and apply carriage returns (progress bars) the way a terminal shows them."""
    text = ANSI.sub("", text)
    return "\n".join(line.rsplit("\r", 1)[-1] if "\r" in line.rstrip("\r") else line.rstrip("\r")
                     for line in text.split("\n"))


def _pre(kind: str, text: str) -> str:
    return f'<pre class="llm-out llm-{kind}"><code>{escape(_clean(text).rstrip(chr(10)))}</code></pre>'


def data_uri(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def render_output(out, image=data_uri) -> str:
    """One output as HTML. `image(mime, bytes)` gives the URL of a figure (default: a data URI)."""
    kind = out.get("output_type")
    if kind == "stream":
        return _pre(out.get("name", "stdout"), _text(out.get("text")))
    if kind == "error":
        trace = "\n".join(out.get("traceback") or []) or f"{out.get('ename')}: {out.get('evalue')}"
        return _pre("error", trace)
    if kind in ("execute_result", "display_data"):
        data = out.get("data", {})
        for mime in IMAGES:
            if mime in data:
                raw = _text(data[mime])  # an SVG is shown through <img>, where its scripts never run
                blob = raw.encode() if mime == "image/svg+xml" else base64.b64decode(raw)
                return f'<div class="llm-out llm-figure"><img alt="figure" src="{escape(image(mime, blob))}"></div>'
        if "text/html" in data:
            return f'<div class="llm-out llm-html">{sanitize_html(_text(data["text/html"]))}</div>'
        if "text/plain" in data:
            return _pre("result", _text(data["text/plain"]))
    return ""


def render_cell(cell, skip_reason: str | None = None, not_reached: bool = False, image=data_uri) -> str:
    """The HTML shown under one code cell (empty when the cell printed nothing)."""
    if skip_reason is not None:
        return f'<div class="llm-skip" title="this cell is not executed">Not run: {escape(skip_reason)}</div>'
    if cell is None:
        return ""
    parts = [render_output(o, image) for o in cell.get("outputs", [])]
    if not_reached and not cell.get("execution_count") and not any(parts):
        return '<div class="llm-skip">Not run: an earlier cell failed</div>'
    body = "".join(p for p in parts if p)
    return f'<div class="llm-outputs">{body}</div>' if body else ""


def badge(result, companion_href: str | None, notebook_href: str | None) -> str:
    """`passed · cpu · 3.2 s · 2025-01-02 · a1b2c3d4` with download links; `not run` when nothing is cached."""
    if result is None:
        status, facts = "not-run", ["not run"]
    else:
        status = "passed" if result.status == "passed" else "failed"
        facts = [status, result.device, f"{result.seconds:.1f} s", result.date[:10], result.key[:8]]
    titles = ["verification", "device", "run time", "date of the run", "content hash of the code (cache key)"]
    spans = "".join(f'<span class="llm-fact" title="{t}">{escape(str(f))}</span>' for t, f in zip(titles, facts))
    links = []
    if companion_href:
        links.append(f'<a class="llm-download" href="{escape(companion_href)}" download>companion .py</a>')
    if notebook_href:
        links.append(f'<a class="llm-download" href="{escape(notebook_href)}" download>notebook .ipynb</a>')
    report = ""
    if result is not None and status == "failed" and result.report:
        report = f'<details class="llm-report"><summary>Why it failed</summary><pre>{escape(result.report)}</pre></details>'
    return f'<div class="llm-badge llm-{status}">{spans}{"".join(links)}</div>{report}'


class _Sanitizer(HTMLParser):
    TAGS = {"table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption", "colgroup", "col", "div", "span", "p",
            "br", "b", "i", "strong", "em", "code", "pre", "sub", "sup", "ul", "ol", "li", "small", "hr"}
    ATTRS = {"class", "colspan", "rowspan", "align", "title"}
    DROP = {"script", "style", "iframe", "object", "embed", "template", "noscript", "textarea"}
    VOID = {"br", "col", "hr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.open: list[str] = []
        self.dropping = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.DROP:
            self.dropping += 1
        elif not self.dropping and tag in self.TAGS:
            kept = "".join(f' {k}="{escape(v or "", quote=True)}"' for k, v in attrs if k in self.ATTRS)
            self.out.append(f"<{tag}{kept}>")
            if tag not in self.VOID:
                self.open.append(tag)

    def handle_endtag(self, tag):
        if tag in self.DROP:
            self.dropping = max(0, self.dropping - 1)
        elif not self.dropping and tag in self.open:
            while self.open:
                top = self.open.pop()
                self.out.append(f"</{top}>")
                if top == tag:
                    break

    def handle_data(self, data):
        if not self.dropping:
            self.out.append(escape(data))


def sanitize_html(html: str) -> str:
    parser = _Sanitizer()
    parser.feed(html)
    parser.close()
    return "".join(parser.out) + "".join(f"</{t}>" for t in reversed(parser.open))
