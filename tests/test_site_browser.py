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
        self.next_id, self.events, self.errors = 0, [], []
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
