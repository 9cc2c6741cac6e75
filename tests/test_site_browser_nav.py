"""Finding your way, in headless Chromium at 1400×1000 and 390×844 (touch), light and dark: the graph zooms,
highlights a note's neighbours and keeps every note in its frame; the local graph is centred on its note; a wiki-link
shows a preview on mouse hover and keyboard focus, never on a tap; search finds `top-p` and aliases; previous/next
links are there; the site works opened from disk (file://). Screenshots go to test-artifacts/nav-*.png.
"""
from __future__ import annotations

import functools
import http.server
import io
import json
import logging
import shutil
import tempfile
import threading
import time
from pathlib import Path

import pytest
from site_helpers import built_site
from test_site_browser import CHROMIUM, Browser, Server, websocket  # noqa: F401  (skips without them)

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")

VIEWS = {"desktop": (1400, 1000, False), "phone": (390, 844, True)}
COMBOS = [(view, scheme) for view in VIEWS for scheme in ("light", "dark")]


def graph_ready(selector: str) -> str:
    return (f"(() => {{ const b = document.querySelector({json.dumps(selector)});"
            " return b && b.llmGraphState && b.llmGraphState.settled; })()")


@pytest.fixture(scope="module")
def vault_site():
    """The real vault's site, built from the runner's cache (notes not in the cache show as not run)."""
    from runner import config, site

    out = Path(tempfile.mkdtemp(prefix="llm-vault-nav-site-"))
    logging.getLogger("mkdocs").setLevel(logging.ERROR)
    site.build_mkdocs(config.load(), out / "site", device="cpu")
    server = Server(out / "site")
    yield out / "site", server.url
    server.close()
    shutil.rmtree(out, ignore_errors=True)


@pytest.fixture(scope="module")
def fixture_site():
    server = Server(built_site().site)
    yield server.url
    server.close()


@pytest.fixture(scope="module")
def browser():
    b = Browser()
    yield b
    b.close()


def view(browser: Browser, name: str, scheme: str) -> None:
    width, height, mobile = VIEWS[name]
    browser.send("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=mobile)
    browser.send("Emulation.setTouchEmulationEnabled", enabled=mobile, maxTouchPoints=5 if mobile else 1)
    browser.send("Emulation.setEmulatedMedia", features=[{"name": "prefers-color-scheme", "value": scheme}])


def open_page(browser: Browser, url: str, scheme: str) -> None:
    browser.open(url)
    if browser.eval("localStorage.length"):  # Material remembers the palette of an earlier page: forget it, reload
        browser.eval("localStorage.clear(); sessionStorage.clear(); location.reload()")
        time.sleep(0.5)
        browser.wait_for("document.readyState === 'complete'")
    browser.wait_for("document.body.getAttribute('data-md-color-scheme') === "
                     + json.dumps("slate" if scheme == "dark" else "default"))


def mouse(browser: Browser, kind: str, x: float, y: float, **extra) -> None:
    browser.send("Input.dispatchMouseEvent", type=kind, x=x, y=y, **extra)


def tap(browser: Browser, x: float, y: float) -> None:
    browser.send("Input.dispatchTouchEvent", type="touchStart", touchPoints=[{"x": x, "y": y}])
    browser.send("Input.dispatchTouchEvent", type="touchEnd", touchPoints=[])


def centre_of(browser: Browser, selector: str) -> tuple[float, float]:
    return browser.eval(f"""(() => {{ const e = document.querySelector({json.dumps(selector)});
        e.scrollIntoView({{block: "center"}}); const r = e.getBoundingClientRect();
        return [r.x + r.width / 2, r.y + r.height / 2]; }})()""")


def node_positions(browser: Browser, selector: str) -> dict:
    """Each shown note's position on screen (page coordinates of the viewport), and the frame's rectangle."""
    return browser.eval(f"""(() => {{ const b = document.querySelector({json.dumps(selector)});
        const fg = b.llmGraph, st = b.llmGraphState, r = b.querySelector("canvas").getBoundingClientRect();
        return {{frame: [r.left, r.top, r.width, r.height], zoom: fg.zoom(), hover: b.getAttribute("data-hover"),
                 nodes: st.nodes.map(n => {{ const p = fg.graph2ScreenCoords(n.x, n.y);
                     return {{id: n.id, title: n.title, x: r.left + p.x, y: r.top + p.y, near: n.near.length}}; }})}}; }})()""")


def drawn_labels(browser: Browser, selector: str) -> dict:
    """The labels the last frame drew (graph.js: state.labels, px in the canvas) and the most linked note's title."""
    return browser.eval(f"""(() => {{ const st = document.querySelector({json.dumps(selector)}).llmGraphState;
        const hub = st.nodes.slice().sort((a, b) => b.degree - a.degree || a.id - b.id)[0];
        return {{labels: st.labels, hub: hub.title}}; }})()""")


def assert_labels_readable(drawn: dict, width: float, height: float, must: str) -> None:
    boxes = drawn["labels"]
    assert must in [b["title"] for b in boxes], f"{must} is labelled"
    assert all(-1 <= b["box"][0] and b["box"][2] <= width + 1 and -1 <= b["box"][1] and b["box"][3] <= height + 1
               for b in boxes), "labels stay inside the frame"
    clashes = [(a["title"], b["title"]) for i, a in enumerate(boxes) for b in boxes[i + 1:]
               if a["box"][0] < b["box"][2] and b["box"][0] < a["box"][2] and a["box"][1] < b["box"][3]
               and b["box"][1] < a["box"][3]]
    assert clashes == [], f"labels drawn over each other: {clashes}"


@pytest.mark.parametrize("name,scheme", COMBOS)
def test_graph_page(browser, vault_site, name, scheme):
    _, url = vault_site
    view(browser, name, scheme)
    browser.errors.clear()
    open_page(browser, url + "graph.html", scheme)
    browser.wait_for(graph_ready(".llm-graph-full"), timeout=20)
    time.sleep(0.5)
    g = node_positions(browser, ".llm-graph-full")
    left, top, width, height = g["frame"]
    width_px = VIEWS[name][0]
    assert left >= 0 and left + width <= width_px, "the graph frame fits the screen"
    assert len(g["nodes"]) >= 30
    outside = [n for n in g["nodes"] if not (left <= n["x"] <= left + width and top <= n["y"] <= top + height)]
    assert not outside, f"notes outside the frame {g['frame']} after fitting: {outside}"
    drawn = drawn_labels(browser, ".llm-graph-full")
    assert_labels_readable(drawn, width, height, must=drawn["hub"])  # the most linked note
    browser.screenshot(f"nav-graph-{name}-{scheme}.png")

    before = g["zoom"]
    if name == "desktop":  # zoom with the wheel, highlight by hovering a well-linked note
        mouse(browser, "mouseWheel", left + width / 2, top + height / 2, deltaX=0, deltaY=-400)
        browser.wait_for(f"document.querySelector('.llm-graph-full').llmGraph.zoom() > {before * 1.2}")
        time.sleep(0.5)
        g = node_positions(browser, ".llm-graph-full")
        inside = [n for n in g["nodes"] if left + 40 < n["x"] < left + width - 40 and top + 60 < n["y"] < top + height - 40]
        note = min((n for n in inside if n["near"]), key=lambda n: n["near"])  # few neighbours: the rest fades
        assert note["near"] < len(g["nodes"]) - 1
        far = next(n for n in inside if n is not note and n["title"] not in browser.eval(
            f"document.querySelector('.llm-graph-full').llmGraphState.nodes[{g['nodes'].index(note)}]"
            ".near.map(i => document.querySelector('.llm-graph-full').llmGraphState.nodes.find(n => n.id === i).title)"))
        pixel = ("(() => { const c = document.querySelector('.llm-graph-full canvas'), r = c.getBoundingClientRect();"
                 f" return [...c.getContext('2d').getImageData({far['x']} - r.left, {far['y']} - r.top, 1, 1).data]; }})()")
        before_pixel = browser.eval(pixel)
        mouse(browser, "mouseMoved", note["x"], note["y"])
        assert browser.wait_for("document.querySelector('.llm-graph-full').getAttribute('data-hover')") == note["title"]
        time.sleep(0.3)
        assert browser.eval(pixel) != before_pixel, "a note that is not a neighbour fades"
        browser.screenshot(f"nav-graph-hover-{name}-{scheme}.png")
        mouse(browser, "mouseMoved", 5, 5)
    else:  # a phone: the zoom buttons by touch, then tapping a note opens it
        tap(browser, *centre_of(browser, ".llm-graph-full .llm-graph-button[title='Zoom in']"))
        browser.wait_for(f"document.querySelector('.llm-graph-full').llmGraph.zoom() > {before * 1.2}")
        time.sleep(0.6)
        g = node_positions(browser, ".llm-graph-full")
        left, top, width, height = g["frame"]
        target = min(g["nodes"], key=lambda n: (n["x"] - left - width / 2) ** 2 + (n["y"] - top - height / 2) ** 2)
        tap(browser, target["x"], target["y"])
        browser.wait_for("location.pathname.endsWith('.html') && !location.pathname.endsWith('/graph.html')")
    assert browser.errors == []


def test_graph_filter_and_folder_legend(browser, vault_site):
    _, url = vault_site
    view(browser, "desktop", "light")
    open_page(browser, url + "graph.html", "light")
    browser.wait_for(graph_ready(".llm-graph-full"), timeout=20)
    legend = browser.eval("[...document.querySelectorAll('.llm-graph-legend button')].map(b => b.textContent)")
    assert {"Basics", "Reference", "Applications"} <= set(legend)
    visible = ("(() => { const b = document.querySelector('.llm-graph-full'), fg = b.llmGraph;"
               " return b.llmGraphState.nodes.filter(n => fg.nodeVisibility()(n)).map(n => n.title); })()")
    browser.click(".llm-graph-filter")
    browser.type("llm")
    shown = browser.wait_for(f"(() => {{ const v = {visible}; return v.length < 20 ? v : null; }})()")
    assert shown and all("llm" in t.lower() for t in shown)
    browser.eval("(() => { const i = document.querySelector('.llm-graph-filter'); i.value = '';"
                 " i.dispatchEvent(new Event('input')); })()")
    browser.click(".llm-graph-legend button")  # the first folder off
    hidden = browser.wait_for(f"(() => {{ const v = {visible}; return v.length < 33 ? v : null; }})()")
    assert hidden and len(hidden) >= 25
    browser.screenshot("nav-graph-filtered-desktop-light.png")


@pytest.mark.parametrize("name", VIEWS)
def test_local_graph_is_centred_on_its_note(browser, vault_site, name):
    _, url = vault_site
    view(browser, name, "light")
    open_page(browser, url + "How%20LLMs%20Work/Inference%20and%20Generation.html", "light")
    browser.eval("document.querySelector('.llm-graph-local').scrollIntoView({block: 'center'})")
    browser.wait_for(graph_ready(".llm-graph-local"), timeout=20)
    time.sleep(0.6)
    g = node_positions(browser, ".llm-graph-local")
    left, top, width, height = g["frame"]
    me = next(n for n in g["nodes"] if n["title"] == "Inference and Generation")
    assert abs(me["x"] - (left + width / 2)) < 4 and abs(me["y"] - (top + height / 2)) < 4
    assert len(g["nodes"]) == me["near"] + 1  # the note and its neighbours
    assert all(left <= n["x"] <= left + width and top <= n["y"] <= top + height for n in g["nodes"])
    assert_labels_readable(drawn_labels(browser, ".llm-graph-local"), width, height, must="Inference and Generation")
    browser.screenshot(f"nav-local-graph-{name}.png")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_hover_preview_by_mouse_and_keyboard(browser, fixture_site, scheme):
    view(browser, "desktop", scheme)
    open_page(browser, fixture_site, scheme)
    x, y = centre_of(browser, "a.llm-link[href$='#section-two']")
    mouse(browser, "mouseMoved", x, y)
    text = browser.wait_for("(() => { const p = document.querySelector('.llm-preview');"
                            " return p && !p.hidden && p.innerText; })()")
    assert "This section is transcluded into the index" in text  # the heading's section...
    assert "zebrafish" not in text  # ...not the whole note
    browser.screenshot(f"nav-preview-desktop-{scheme}.png")
    mouse(browser, "mouseMoved", 5, 5)
    browser.wait_for("document.querySelector('.llm-preview').hidden")
    # Tab from the note's title: where the next Tab starts is the browser's choice otherwise (Chromium 150 starts
    # after the link the mouse last hovered)
    browser.eval("(() => { const h = document.querySelector('article h1'); h.tabIndex = -1; h.focus();"
                 " h.removeAttribute('tabindex'); window.scrollTo(0, 0); })()")
    for _ in range(80):  # keyboard: Tab to the first wiki-link
        browser.send("Input.dispatchKeyEvent", type="keyDown", key="Tab", code="Tab", windowsVirtualKeyCode=9)
        browser.send("Input.dispatchKeyEvent", type="keyUp", key="Tab", code="Tab", windowsVirtualKeyCode=9)
        if browser.eval("document.activeElement.matches('article a.llm-link:not(.llm-attachment)')"):
            break
    text = browser.wait_for("(() => { const p = document.querySelector('.llm-preview');"
                            " return p && !p.hidden && p.innerText; })()")
    assert "zebrafish" in text  # [[Alpha]]: the note's opening
    browser.send("Input.dispatchKeyEvent", type="keyDown", key="Escape", code="Escape", windowsVirtualKeyCode=27)
    browser.wait_for("document.querySelector('.llm-preview').hidden")


def test_no_preview_on_a_tap(browser, fixture_site):
    view(browser, "phone", "light")
    open_page(browser, fixture_site, "light")
    browser.eval("document.querySelectorAll('a.llm-link').forEach(a => a.addEventListener('click', e => e.preventDefault()))")
    tap(browser, *centre_of(browser, "a.llm-link[href$='#section-two']"))
    time.sleep(0.8)
    assert browser.eval("(() => { const p = document.querySelector('.llm-preview'); return !p || p.hidden; })()")
    browser.screenshot("nav-no-preview-on-tap-phone.png")


def search(browser: Browser, query: str) -> str:
    browser.eval("document.querySelector('label[for=__search]').click()")
    browser.eval("document.querySelector('input.md-search__input').focus()")
    browser.eval("(() => { const i = document.querySelector('input.md-search__input'); i.value = '';"
                 " i.dispatchEvent(new Event('input', {bubbles: true})); })()")
    results = """(() => { const r = [...document.querySelectorAll('.md-search-result__item')];
        return r.length ? r.map(e => e.innerText).join(' | ') : null; })()"""
    browser.type(query)
    seen, same = None, 0
    deadline = time.time() + 20
    while same < 4 and time.time() < deadline:  # the results of the whole query, once they stop changing
        now = browser.wait_for(results, timeout=20)
        same, seen = (same + 1, now) if now == seen else (0, now)
        time.sleep(0.2)
    return seen


@pytest.mark.parametrize("name,scheme", COMBOS)
def test_search_and_previous_next(browser, vault_site, name, scheme):
    _, url = vault_site
    view(browser, name, scheme)
    open_page(browser, url + "Basics/History%20of%20LLMs.html", scheme)
    assert browser.eval("document.querySelector('.md-footer__link--prev').getAttribute('aria-label')") \
        == "Previous: What are Large Language Models"
    assert browser.eval("document.querySelector('.md-footer__link--next').getAttribute('aria-label')") \
        == "Next: Key Concepts - Tokens, Attention, and Transformers"
    results = search(browser, "top-p")
    first = results.split(" | ")[:5]
    assert any("Inference and Generation" in r for r in first), results[:500]
    code = browser.eval("[...document.querySelectorAll('.md-search-result pre')].map(p => p.offsetHeight)")
    assert code and max(code) <= 160, f"a result shows a whole cell: {code}"  # 7.5 lines of code, then it fades
    browser.screenshot(f"nav-search-top-p-{name}-{scheme}.png")


def test_search_hyphens_and_aliases(browser, vault_site):
    _, url = vault_site
    view(browser, "desktop", "light")
    open_page(browser, url, "light")
    assert "Inference and Generation" in search(browser, "KV-cache")
    # "Timeline" is only in the frontmatter aliases of History of LLMs (other notes' text has the word)
    assert search(browser, "Timeline").split(" | ")[0].startswith("History of LLMs")
    top = search(browser, "llm").split(" | ")[:3]
    assert not any(r.startswith("Tags") for r in top)


def test_the_site_works_from_file_urls(browser, vault_site):
    site_dir, _ = vault_site
    view(browser, "desktop", "light")
    browser.errors.clear()
    open_page(browser, (site_dir / "index.html").as_uri(), "light")
    browser.click("article a.llm-link[href$='Inference%20and%20Generation.html']")
    browser.wait_for("location.pathname.endsWith('/Inference%20and%20Generation.html') && document.readyState === 'complete'")
    assert browser.eval("document.querySelector('article h1').textContent").startswith("Inference and Generation")
    browser.click(".md-footer__link--next")
    browser.wait_for("location.pathname.endsWith('.html') && !location.pathname.endsWith('Generation.html')"
                     " && document.readyState === 'complete'")
    assert "Inference and Generation" in search(browser, "top-p").split(" | ")[0]
    browser.screenshot("nav-file-url-search-desktop-light.png")
    browser.send("Page.navigate", url=(site_dir / "graph.html").as_uri())
    browser.wait_for(graph_ready(".llm-graph-full"), timeout=20)
    assert browser.errors == []


class _SubPathHandler(http.server.SimpleHTTPRequestHandler):
    """A host that publishes the site under /vault/ and answers a missing page with its 404.html, status 404 (as
    GitHub Pages and Netlify do)."""

    def log_message(self, *args):
        pass

    def send_head(self):
        if not self.path.startswith("/vault/"):
            self.send_error(404)
            return None
        self.path = self.path[len("/vault"):]
        if not Path(self.translate_path(self.path)).exists():
            body = (Path(self.directory) / "404.html").read_bytes()
            self.send_response(404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            return io.BytesIO(body)
        return super().send_head()


def test_the_404_page_works_under_a_sub_path(browser, tmp_path, monkeypatch):
    """With site_url under a sub-path, a missing page deep below it gets a styled 404 whose links lead home."""
    from site_helpers import build, fresh_vault

    monkeypatch.setenv("LLM_VAULT_SITE_URL", "https://example.org/vault/")
    build(fresh_vault(tmp_path), tmp_path / "site", tmp_path / "cache", run=False)
    handler = functools.partial(_SubPathHandler, directory=str(tmp_path / "site"))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}/vault/"
    try:
        view(browser, "phone", "light")
        browser.errors.clear()
        browser.open(base + "no/such/folder/Missing%20Note.html")
        assert browser.eval("document.querySelector('article h1').textContent").strip() == "404 - Not found"
        # Material's stylesheet and our assets came from /vault/ (a relative path would have missed them)
        assert browser.eval("getComputedStyle(document.querySelector('.md-header')).position") == "sticky"
        assert browser.eval("document.styleSheets.length") >= 3
        browser.screenshot("nav-404-subpath-phone-light.png")
        assert "may have been renamed or moved" in browser.eval("document.querySelector('article').textContent")
        home = browser.eval("document.querySelector('a.md-header__button.md-logo').href")
        assert home.startswith(base), home
        # runner/theme/404.html: the way on (a link that wraps onto two lines has no clickable centre)
        browser.eval("document.querySelector('p.llm-not-found a').click()")
        browser.wait_for(f"location.href === {json.dumps(base + 'index.html')} && document.readyState === 'complete'")
        assert browser.eval("document.querySelector('article h1').textContent").startswith("Fixture Index")
        # the one error is the missing page's own status; no stylesheet, script or image failed to load
        assert [e for e in browser.errors if "Missing%20Note.html" not in e] == []
    finally:
        httpd.shutdown()
        httpd.server_close()
