"""The site's view of a run: a code cell's cached outputs as HTML, and the verification badge of a note.

Everything a note printed is escaped: a note that prints `<script>` shows the text `<script>`. Rich `text/html`
output (a pandas table) goes through a small allow-list sanitizer instead: table markup survives, scripts, styles,
event handlers and links do not. Paths of the build machine (home, the Python installation, the repository, the
temporary folder) are written as placeholders (`~`, `<site-packages>`, relative paths): a published page says
nothing about the machine that built it. A traceback keeps the note's own frames and folds the frames inside
libraries (torch's internals) into one line that opens to show them. An output longer than `LONG_OUTPUT` lines is
shown folded, with a button to unfold it (site.js).
"""
from __future__ import annotations

import base64
import os
import re
import site as python_site
import sys
import sysconfig
import tempfile
from functools import lru_cache
from html import escape
from html.parser import HTMLParser
from pathlib import Path

from .env import REPO_ROOT

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
IMAGES = ("image/png", "image/jpeg", "image/gif", "image/svg+xml")
LONG_OUTPUT = 40  # lines; Jupyter Book folds long outputs too
MEASURED_TAG = "measured"  # a cell whose output varies between runs (timings): `tags=["measured"]` on its fence
LIBRARY_FRAME = re.compile(r"^File (?:~|/|<frozen)")


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value or "")


def _clean(text: str) -> str:
    """Strip colour codes and apply carriage returns (progress bars) the way a terminal shows them."""
    text = ANSI.sub("", text)
    return "\n".join(line.rsplit("\r", 1)[-1] if "\r" in line.rstrip("\r") else line.rstrip("\r")
                     for line in text.split("\n"))


@lru_cache(maxsize=1)
def _machine_paths() -> list[tuple[str, str]]:
    """(path as printed, placeholder), longest first so that the most specific place wins."""
    places = [(p, "<site-packages>") for p in {*python_site.getsitepackages(), python_site.getusersitepackages(),
                                              sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}]
    places += [(sysconfig.get_paths()["stdlib"], "<python>"), (sys.prefix, "<python>"), (sys.base_prefix, "<python>"),
               (str(REPO_ROOT), "."), (tempfile.gettempdir(), "<tmp>"), (str(Path.home()), "~")]
    home = str(Path.home())
    found = {}
    for path, placeholder in places:
        path = os.path.normpath(path)
        if len(path) > 1:
            found[path] = placeholder
            if path.startswith(home + os.sep):  # IPython prints paths under the home folder as `~/…`
                found["~" + path[len(home):]] = placeholder
    return sorted(found.items(), key=lambda kv: -len(kv[0]))


def scrub_paths(text: str) -> str:
    for path, placeholder in _machine_paths():
        if path in text:
            text = re.sub(re.escape(path) + r"(?=[/\\:\s'\"),]|$)", lambda _: placeholder, text)
    return text


def _pre(kind: str, text: str) -> str:
    text = scrub_paths(_clean(text)).rstrip("\n")
    lines = text.count("\n") + 1
    long = f' llm-long" data-lines="{lines}' if lines > LONG_OUTPUT else ""
    return f'<pre class="llm-out llm-{kind}{long}"><code>{escape(text)}</code></pre>'


def _frame_library(frame: str) -> str | None:
    """The package a traceback frame runs in, or None for the note's own code (a cell, a companion module)."""
    first = frame.split("\n", 1)[0]
    if not LIBRARY_FRAME.match(first):
        return None
    path = os.path.expanduser(first[5:].split(":", 1)[0].split(", in ")[0])
    if path.startswith(str(REPO_ROOT)) and "site-packages" not in path:
        return None
    m = re.search(r"[/\\](?:site|dist)-packages[/\\]([^/\\]+)", path)
    return m.group(1).removesuffix(".py") if m else "the Python standard library"


def render_traceback(out) -> str:
    frames = [_clean(f) for f in out.get("traceback") or []]
    if not frames:
        return _pre("error", f"{out.get('ename')}: {out.get('evalue')}")
    parts, hidden = [], []

    def fold():
        if hidden:
            names = ", ".join(dict.fromkeys(lib for lib, _ in hidden))
            body = escape(scrub_paths("\n".join(f for _, f in hidden)).rstrip("\n"))
            parts.append(f'<details class="llm-frames"><summary>{len(hidden)} frame{"s" * (len(hidden) > 1)} '
                         f'inside {escape(names)}</summary><pre><code>{body}</code></pre></details>')
            hidden.clear()

    shown = []
    for frame in frames:
        library = _frame_library(frame)
        if library:
            if shown:
                parts.append(_pre("error", "\n".join(shown)))
                shown = []
            hidden.append((library, frame))
        else:
            fold()
            shown.append(frame)
    fold()
    if shown:
        parts.append(_pre("error", "\n".join(shown)))
    return parts[0] if len(parts) == 1 else f'<div class="llm-out llm-traceback">{"".join(parts)}</div>'


def data_uri(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def render_output(out, image=data_uri, alt: str = "figure") -> str:
    """One output as HTML. `image(mime, bytes)` gives the URL of a figure (default: a data URI)."""
    kind = out.get("output_type")
    if kind == "stream":
        return _pre(out.get("name", "stdout"), _text(out.get("text")))
    if kind == "error":
        return render_traceback(out)
    if kind in ("execute_result", "display_data"):
        data = out.get("data", {})
        for mime in IMAGES:
            if mime in data:
                raw = _text(data[mime])  # an SVG is shown through <img>, where its scripts never run
                blob = raw.encode() if mime == "image/svg+xml" else base64.b64decode(raw)
                size = (out.get("metadata") or {}).get(mime) or {}  # a 2x ("retina") PNG says its size in CSS px
                dims = "".join(f' {k}="{int(size[k])}"' for k in ("width", "height")
                               if isinstance(size.get(k), (int, float)))
                src = escape(image(mime, blob))
                # mkdocs-glightbox wraps the image in its click-to-zoom link (site.py renders outputs before it runs)
                return f'<figure class="llm-out llm-figure"><img alt="{escape(alt)}" src="{src}"{dims}></figure>'
        if "text/html" in data:
            return f'<div class="llm-out llm-html">{sanitize_html(scrub_paths(_text(data["text/html"])))}</div>'
        if "text/plain" in data:
            return _pre("result", _text(data["text/plain"]))
    return ""


def render_cell(cell, skip_reason: str | None = None, not_reached: bool = False, image=data_uri,
                alt: str = "figure", measured: bool = False) -> str:
    """The HTML shown under one code cell (empty when the cell printed nothing).

    `alt`: the alt text of the cell's figures; `measured`: the cell is tagged `measured`."""
    if skip_reason is not None:
        return f'<div class="llm-skip" title="this cell is not executed">Not run: {escape(skip_reason)}</div>'
    if cell is None:
        return ""
    parts = [render_output(o, image, alt) for o in cell.get("outputs", [])]
    if not_reached and not cell.get("execution_count") and not any(parts):
        return '<div class="llm-skip">Not run: an earlier cell failed</div>'
    body = "".join(p for p in parts if p)
    if not body:
        return ""
    if measured:
        return ('<div class="llm-outputs llm-measured"><div class="llm-measured-label" title="this cell measures '
                'time or speed on the machine that ran it: another run prints other numbers">measurement — varies '
                f'between runs</div>{body}</div>')
    return f'<div class="llm-outputs">{body}</div>'


def is_measured(attrs: dict, nb_cell=None) -> bool:
    """A `tags=["measured"]` fence attribute (jupytext's syntax), or the tag in the executed cell's metadata."""
    tags = list((nb_cell or {}).get("metadata", {}).get("tags", [])) if nb_cell is not None else []
    written = attrs.get("tags")
    tags += written if isinstance(written, list) else re.findall(r"[\w-]+", str(written or ""))
    return MEASURED_TAG in tags


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
