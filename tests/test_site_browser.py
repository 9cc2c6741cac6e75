"""The built site in a real browser: headless Chromium driven over the DevTools protocol (websocket-client).

The fixture vault's site (and the real vault's site/, when it has been built) is served on 127.0.0.1; the tests
click a wiki-link, look at outputs and figures, search, follow a backlink and the graph, and collect every console
error on the way. Screenshots go to test-artifacts/.
"""
from __future__ import annotations

import base64
import functools
import http.server
import json
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from urllib.parse import quote
from pathlib import Path

import pytest

from site_helpers import built_site

websocket = pytest.importorskip("websocket", reason="websocket-client is not installed (pip install websocket-client)")
CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A static file server for a built site, on 127.0.0.1."""

    def __init__(self, root: Path):
        handler = functools.partial(_QuietHandler, directory=str(root))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class Browser:
    """Just enough of the DevTools protocol: navigate, evaluate, click, type, screenshot, console errors."""

    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="llm-vault-chromium-")
        port = _free_port()
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={self.profile}", f"--remote-debugging-port={port}", "--remote-allow-origins=*",
             "--window-size=1280,900", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=2) as r:
                    pages = [t for t in json.load(r) if t["type"] == "page"]
                if pages:
                    break
            except OSError:
                pass
            if time.time() > deadline:
                raise RuntimeError("chromium did not open its DevTools port")
            time.sleep(0.2)
        self.ws = websocket.create_connection(pages[0]["webSocketDebuggerUrl"], timeout=30, suppress_origin=True)
        self.next_id, self.events, self.errors, self.dark = 0, [], [], False
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable")
        self.send("Emulation.setDeviceMetricsOverride", width=1280, height=900, deviceScaleFactor=1, mobile=False)

    def send(self, method: str, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self._event(msg)

    def _event(self, msg):
        method, params = msg.get("method"), msg.get("params", {})
        self.events.append(method)
        if method == "Runtime.exceptionThrown":
            self.errors.append(params["exceptionDetails"].get("exception", {}).get("description")
                               or params["exceptionDetails"].get("text"))
        elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
            self.errors.append(" ".join(str(a.get("value", a.get("description"))) for a in params["args"]))
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            self.errors.append(f"{params['entry']['text']} ({params['entry'].get('url', '')})")

    def eval(self, expression: str):
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                value = self.eval(expression)
            except RuntimeError:  # the page is navigating
                value = None
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {expression}")

    def open(self, url: str):
        self.send("Page.navigate", url=url)
        self.wait_for(f"location.href.split('#')[0] === new URL({json.dumps(url)}).href.split('#')[0] && "
                      f"document.readyState === 'complete'")

    def click(self, selector: str):
        """A real mouse click in the middle of the element (scrolled into view first)."""
        x, y = self.eval(f"""(() => {{ const e = document.querySelector({json.dumps(selector)});
            e.scrollIntoView({{block: "center"}}); const r = e.getBoundingClientRect();
            return [r.x + r.width / 2, r.y + r.height / 2]; }})()""")
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def type(self, text: str):
        for ch in text:
            self.send("Input.dispatchKeyEvent", type="keyDown", text=ch, key=ch)
            self.send("Input.dispatchKeyEvent", type="keyUp", key=ch)

    def viewport(self, width: int, height: int, dark: bool = False):
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                  mobile=width < 600)
        self.dark = dark

    def show_scheme(self):
        """Material's own switch: the palette toggle sets this attribute on <body>."""
        self.eval(f"document.body.setAttribute('data-md-color-scheme', {json.dumps('slate' if self.dark else 'default')})")

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / name
        path.write_bytes(base64.b64decode(self.send("Page.captureScreenshot", format="png")["data"]))
        return path

    def close(self):
        try:
            self.ws.close()
        finally:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            shutil.rmtree(self.profile, ignore_errors=True)


@pytest.fixture(scope="module")
def browser():
    b = Browser()
    yield b
    b.close()


@pytest.fixture(scope="module")
def fixture_site():
    server = Server(built_site().site)
    yield server.url
    server.close()


VISIBLE = """((sel) => {{ const e = document.querySelector(sel); if (!e) return false;
    const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0 && getComputedStyle(e).visibility !== "hidden";
}})({})"""
IN_VIEW = """((sel) => {{ const e = document.querySelector(sel); if (!e) return false;
    const r = e.getBoundingClientRect(); return r.top >= 0 && r.top < innerHeight; }})({})"""


def test_home_page_loads(browser, fixture_site):
    browser.open(fixture_site)
    assert browser.eval("document.querySelector('article h1').textContent").startswith("Fixture Index")
    assert browser.eval("document.querySelectorAll('.md-nav__link').length") > 2
    browser.screenshot("site-home.png")


def test_wiki_link_click_lands_on_the_heading(browser, fixture_site):
    browser.open(fixture_site)
    browser.click("a.llm-link[href$='#results-with-a-figure']")
    browser.wait_for("location.hash === '#results-with-a-figure' && document.readyState === 'complete'")
    assert browser.wait_for(IN_VIEW.format(json.dumps("#results-with-a-figure")))
    assert browser.eval("location.pathname") == "/Topics/Alpha.html"


def test_block_link_lands_on_the_paragraph(browser, fixture_site):
    browser.open(fixture_site)
    browser.click("a.llm-link[href$='#^key-point']")
    browser.wait_for("location.pathname === '/Topics/Alpha.html' && document.readyState === 'complete'")
    assert browser.wait_for(IN_VIEW.format(json.dumps('[id="^key-point"]')))


def test_outputs_and_figure_are_visible(browser, fixture_site):
    browser.open(fixture_site + "Topics/Alpha.html")
    assert browser.eval(VISIBLE.format(json.dumps(".llm-outputs pre.llm-stdout")))
    assert "hello vault" in browser.eval("document.querySelector('.llm-outputs pre.llm-stdout').innerText")
    assert "<script>alert('x')</script>" in browser.eval("document.querySelector('.llm-stdout').innerText")
    assert browser.eval("window.PWNED") is None
    browser.eval("document.querySelector('.llm-figure img').scrollIntoView({block: 'center'})")
    assert browser.wait_for("(() => { const i = document.querySelector('.llm-figure img');"
                            " return i.complete && i.naturalWidth > 100; })()")
    assert browser.eval(VISIBLE.format(json.dumps(".llm-badge.llm-passed")))
    browser.eval("window.scrollTo(0, 0)")
    browser.screenshot("site-note.png")


def test_search_finds_a_note_by_a_word_of_its_body(browser, fixture_site):
    browser.open(fixture_site)
    browser.click("label.md-search__icon, label[for='__search']")
    browser.eval("document.querySelector('input.md-search__input').focus()")
    browser.type("zebrafish")
    titles = browser.wait_for("""(() => { const r = [...document.querySelectorAll('.md-search-result__item')];
        return r.length ? r.map(e => e.innerText).join(' | ') : null; })()""")
    assert "Alpha" in titles


def test_backlink_and_graph(browser, fixture_site):
    browser.open(fixture_site + "Beta.html")
    browser.click(".llm-backlinks a.llm-backlink")  # Index links to Beta
    browser.wait_for("location.pathname === '/index.html' && document.readyState === 'complete'")
    browser.open(fixture_site + "graph.html")  # the graph is a canvas (graph.js): read its state
    nodes = browser.wait_for("document.querySelector('.llm-graph-full').llmGraphState.nodes.length")
    assert nodes >= 4  # Index, Alpha, Beta and the planned note
    assert browser.eval("document.querySelector('.llm-graph-full').llmGraph.graphData().links.length") >= 3
    browser.open(fixture_site + "Topics/Alpha.html")
    local = browser.wait_for("document.querySelector('.llm-graph-local').llmGraphState.nodes.length")
    assert local >= 3  # Alpha, Index and Beta


def test_no_console_errors(browser, fixture_site):
    for path in ("", "Topics/Alpha.html", "Beta.html", "graph.html", "tags.html"):
        browser.open(fixture_site + path)
        time.sleep(0.3)
    assert browser.errors == []


def test_the_real_vault_site(browser):
    site = REPO / "site"
    if not (site / "index.html").exists():
        pytest.skip("site/ of the real vault is not built (run `llm-vault build`)")
    server = Server(site)
    try:
        browser.errors.clear()
        browser.open(server.url)
        assert browser.eval("document.querySelector('article h1') !== null")
        browser.open(server.url + "graph.html")
        assert browser.wait_for("document.querySelector('.llm-graph-full').llmGraphState.nodes.length") > 5
        pages = [p for p in site.rglob("*.html") if 'class="llm-outputs"' in p.read_text(encoding="utf-8")]
        if pages:
            browser.open(server.url + quote(pages[0].relative_to(site).as_posix()))
            assert browser.eval(VISIBLE.format(json.dumps(".llm-outputs")))
            browser.screenshot("site-real-vault-note.png")
        assert browser.errors == []
    finally:
        server.close()


# ---- math, outputs and figures, at a desktop's and a phone's width, in both themes

SIZES = [(1400, 1000, False), (1400, 1000, True), (390, 844, False), (390, 844, True)]
TYPESET = """(() => { const all = [...document.querySelectorAll('.arithmatex')];
    return all.length > 0 && all.every(e => e.hasAttribute('data-typeset')) ? all.length : 0; })()"""
# what overflows sideways at this width: the page itself, or a code or output box of the article
SIDEWAYS = """(() => { const wide = e => e.scrollWidth > e.clientWidth + 1;
    const boxes = [...document.querySelectorAll('article .highlight pre > code, article pre.llm-out > code')];
    return {page: document.documentElement.scrollWidth > innerWidth,
            boxes: boxes.filter(wide).map(e => e.innerText.split('\\n').sort((a, b) => b.length - a.length)[0])}; })()"""
MATH_STATE = """(() => ({errors: [...document.querySelectorAll('.katex-error')].map(e => e.title || e.textContent),
    raw: (() => { const a = document.querySelector('article').cloneNode(true);  // its prose: code may hold `$$`
        a.querySelectorAll('pre, code, .arithmatex').forEach(e => e.remove()); return a.textContent.includes('$$'); })(),
    katex: document.querySelectorAll('.arithmatex .katex').length}))()"""


def _suffix(width, dark):
    return f"{width}-{'dark' if dark else 'light'}"


@pytest.mark.parametrize("width,height,dark", SIZES)
def test_math_outputs_and_figure_in_both_themes(browser, fixture_site, width, height, dark):
    browser.viewport(width, height, dark)
    browser.open(fixture_site + "Topics/Gamma.html")
    browser.show_scheme()
    count = browser.wait_for(TYPESET)
    state = browser.eval(MATH_STATE)
    assert state == {"errors": [], "raw": False, "katex": count}, state
    assert browser.eval("document.querySelector('.arithmatex').innerText").startswith("softmax")
    browser.eval("document.querySelector('h1').scrollIntoView()")
    browser.screenshot(f"site-math-{_suffix(width, dark)}.png")
    browser.eval("document.querySelector('.llm-measured').scrollIntoView({block: 'center'})")
    browser.screenshot(f"site-outputs-{_suffix(width, dark)}.png")
    figure = browser.eval("""(() => { const i = document.querySelector('.llm-figure img');
        i.scrollIntoView({block: 'center'}); const r = i.getBoundingClientRect();
        return {width: r.width, column: document.querySelector('article').clientWidth}; })()""")
    assert 0 < figure["width"] <= figure["column"]  # never wider than the column, on a phone too
    browser.wait_for("document.querySelector('.llm-figure img').complete")
    browser.screenshot(f"site-figure-{_suffix(width, dark)}.png")
    if width >= 1400:
        assert browser.eval(SIDEWAYS) == {"page": False, "boxes": []}
    assert browser.eval(COPY_BUTTON_COVERS) == []


# Material puts a copy button in the top right corner of every code box: no character of an output may lie under it
COPY_BUTTON_COVERS = """(() => { const hits = [];
    document.querySelectorAll('pre.llm-out').forEach(pre => {
        const button = pre.querySelector('.md-code__nav, .md-clipboard');  // Material ≥ 9.7, older
        if (!button) { hits.push('no copy button found: ' + pre.innerText.slice(0, 40)); return; }
        const b = button.getBoundingClientRect(), range = document.createRange();
        range.selectNodeContents(pre.querySelector('code'));
        for (const r of range.getClientRects())
            if (r.width && r.left < b.right && r.right > b.left && r.top < b.bottom && r.bottom > b.top)
                hits.push(pre.innerText.slice(0, 60));
    }); return [...new Set(hits)]; })()"""


def test_a_figure_enlarges_on_click(browser, fixture_site):
    browser.viewport(1400, 1000)
    browser.open(fixture_site + "Topics/Gamma.html")
    inline = browser.eval("document.querySelector('.llm-figure img').getBoundingClientRect().width")
    browser.click(".llm-figure img")
    # the lightbox opens with a zoom animation: wait until the image has grown past the size it has on the page
    zoomed = browser.wait_for(f"""(() => {{ const i = document.querySelector('.glightbox-container .gslide-image img');
        const w = i && i.complete ? i.getBoundingClientRect().width : 0; return w > 1.5 * {inline} ? w : 0; }})()""")
    assert zoomed <= 1400
    assert "Loss falls with training" in browser.eval("document.querySelector('.glightbox-container').innerText")
    browser.screenshot("site-figure-zoomed-1400-light.png")
    browser.send("Input.dispatchKeyEvent", type="keyDown", key="Escape", code="Escape", windowsVirtualKeyCode=27)


def test_a_long_output_unfolds(browser, fixture_site):
    browser.viewport(1400, 1000)
    browser.open(fixture_site + "Topics/Gamma.html")
    folded = browser.wait_for("document.querySelector('pre.llm-long.llm-folded > code')?.clientHeight")
    assert browser.eval("document.querySelector('pre.llm-long').nextElementSibling.innerText") == "Show all 60 lines"
    browser.click("button.llm-unfold")
    unfolded = browser.wait_for("document.querySelector('pre.llm-long.llm-unfolded > code')?.clientHeight")
    assert unfolded > 2 * folded
    assert browser.eval("document.querySelector('pre.llm-long').innerText").rstrip().endswith("line 59")


def test_no_sideways_scrolling_on_any_fixture_page(browser, fixture_site):
    browser.viewport(1400, 1000)
    for path in ("", "Topics/Alpha.html", "Topics/Gamma.html", "Beta.html", "tags.html"):
        browser.open(fixture_site + path)
        assert browser.eval(SIDEWAYS) == {"page": False, "boxes": []}, path


def test_the_real_vault_reads_well(browser):
    """Every page of the real vault's site/ at 1400 px: nothing scrolls sideways, all math typeset by KaTeX."""
    site = REPO / "site"
    if not (site / "index.html").exists():
        pytest.skip("site/ of the real vault is not built (run `llm-vault build`)")
    server = Server(site)
    try:
        browser.viewport(1400, 1000)
        problems, formulas = {}, 0
        pages = [p for p in site.rglob("*.html")  # the offline site: one `Note.html` per page
                 if p.relative_to(site).parts[0] not in ("llm-vault", "assets", "notebooks") and p.name != "404.html"]
        for page in sorted(pages):
            rel = page.relative_to(site).as_posix()
            browser.open(server.url + quote(rel))
            if 'class="arithmatex' in page.read_text(encoding="utf-8"):
                formulas += browser.wait_for(TYPESET)
                state = browser.eval(MATH_STATE)
                if state["errors"] or state["raw"]:
                    problems[rel + " (math)"] = state
            sideways = browser.eval(SIDEWAYS)
            if sideways["page"] or sideways["boxes"]:
                problems[rel] = sideways
        assert problems == {}, json.dumps(problems, indent=1)[:3000]
        assert formulas > 100
        shots = {"math": ("Applications/Retrieval Augmented Generation (RAG).html", "div.arithmatex"),
                 "figure": ("How LLMs Work/Training Processes Explained.html", ".llm-figure"),
                 "traceback": ("Troubleshooting and Best Practices/Common Issues and Solutions.html", ".llm-traceback")}
        for width, height, dark in SIZES:
            browser.viewport(width, height, dark)
            for name, (path, selector) in shots.items():
                browser.open(server.url + quote(path))
                browser.show_scheme()
                if browser.eval(f"!!document.querySelector({json.dumps(selector)})"):
                    browser.eval(f"document.querySelector({json.dumps(selector)}).scrollIntoView({{block: 'center'}})")
                    if name == "math":
                        browser.wait_for(TYPESET)
                    time.sleep(0.2)
                    browser.screenshot(f"real-{name}-{_suffix(width, dark)}.png")
    finally:
        server.close()
        browser.viewport(1280, 900)
