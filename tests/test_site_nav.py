"""Finding your way around the site, on the built HTML: learning-order navigation with previous/next links, the
execution report, what search indexes, the graph's data, hover-preview files, offline use and `site_url`.
(tests/test_site_browser_nav.py checks the same in a browser.)"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from runner import config
from runner.site import Site
from runner.site_nav import CHUNK, learning_order, nav_tree
from site_helpers import build, built_site, fresh_vault

REPO = Path(__file__).resolve().parent.parent
ISSUE_ORDER = ["Basics", "How LLMs Work", "Building LLMs", "Tools and Frameworks", "Applications", "Advanced Topics",
               "Troubleshooting and Best Practices", "Reference"]


@pytest.fixture(scope="module")
def site():
    return built_site()


def graph_data(site_dir: Path) -> dict:
    return json.loads((site_dir / "llm-vault/graph-data.js").read_text().split("=", 1)[1].strip().rstrip(";"))


def search_docs(site_dir: Path) -> list[dict]:
    return json.loads((site_dir / "search/search_index.json").read_text())["docs"]


def test_the_vaults_navigation_follows_the_index_not_the_alphabet():
    ordered = learning_order(Site(config.load(), "cpu"))
    assert ordered[0].rel == "Index.md"
    folders = list(dict.fromkeys(n.rel.split("/")[0] for n in ordered[1:]))
    assert folders == ISSUE_ORDER
    building = [n.name for n in ordered if n.rel.startswith("Building LLMs/")]
    # the Index lists it last in "### Building LLMs" though its Quick Start links to it first
    assert building[0] == "Data Preparation for LLM Training" and building[-1] == "Building Your First LLM"


def test_order_comes_from_the_index_links(tmp_path):
    vault = tmp_path / "vault"
    for rel in ("Zoo/Zebra.md", "Zoo/Ant.md", "Zoo/Unlinked.md", "Apes/Gorilla.md", "Loose.md"):
        (vault / rel).parent.mkdir(parents=True, exist_ok=True)
        (vault / rel).write_text(f"# {Path(rel).stem}\n")
    (vault / "Index.md").write_text("# Home\n\n## Start here\n\n- [[Ant]]\n\n## Zoo\n\n- [[Zebra]]\n- [[Ant]]\n\n"
                                    "## Later\n\n- [[Loose]]\n- [[Gorilla]]\n")
    ordered = [n.rel for n in learning_order(Site(config.load(vault), "cpu"))]
    # Zoo has a heading; Zebra is listed under it before Ant (Ant's earlier "Start here" link does not count);
    # Loose is linked before Apes' only note; the unlinked note ends its folder
    assert ordered == ["Index.md", "Zoo/Zebra.md", "Zoo/Ant.md", "Zoo/Unlinked.md", "Loose.md", "Apes/Gorilla.md"]


def test_big_folders_are_split_so_a_page_lists_a_bounded_number_of_notes():
    class FakeNote:
        def __init__(self, i):
            self.rel, self.name = f"Big/Note {i:03d}.md", f"Note {i:03d}"

    nav = nav_tree([FakeNote(i) for i in range(100)])
    (runs,) = [entry["Big"] for entry in nav]
    assert [len(next(iter(run.values()))) for run in runs] == [CHUNK, CHUNK, 100 - 2 * CHUNK]
    assert list(runs[0]) == [f"Note 000 – Note {CHUNK - 1:03d}"]


def test_a_page_of_a_big_folder_stays_small(tmp_path):
    vault = tmp_path / "vault"
    (vault / "Big").mkdir(parents=True)
    for i in range(3 * CHUNK):
        (vault / "Big" / f"Note {i:03d}.md").write_text(f"# Note {i:03d}\n\nSee [[Note {(i + 1) % (3 * CHUNK):03d}]].\n")
    (vault / "Index.md").write_text("# Home\n")
    build(vault, tmp_path / "site", tmp_path / "cache", run=False)
    html = (tmp_path / "site/Big/Note 050.html").read_text()
    linked = set(re.findall(r'href="([^"]*Note%20\d+\.html)"', html[html.index('<nav class="md-nav md-nav--primary"'):
                                                                     html.index('<div class="md-content"')]))
    # its own run of notes and one link to each of the 2 other runs (pruned), not all 3 × CHUNK notes
    assert len(linked) <= CHUNK + 2, len(linked)


def test_previous_and_next_links_follow_the_order(site):
    beta = (site.site / "Beta.html").read_text()
    prev = re.search(r'<a href="([^"]+)" class="md-footer__link md-footer__link--prev"', beta)
    nxt = re.search(r'<a href="([^"]+)" class="md-footer__link md-footer__link--next"', beta)
    # the Index links Alpha (in Topics/) first, then Beta; Gamma, in Topics/ but not linked, ends its folder
    assert prev and prev.group(1) == "Topics/Gamma.html"
    assert nxt and nxt.group(1) == "graph.html"


def test_execution_report_lists_every_note_with_code(site):
    report = (site.site / "report.html").read_text()
    for rel, result in site.results.items():
        row = re.search(rf'href="{re.escape(rel[:-3].replace(" ", "%20"))}\.html">[^<]+</a></td>(.*?)</tr>',
                        report, re.S)
        assert row, rel
        cells = re.findall(r"<td>(.*?)</td>", row.group(1), re.S)
        assert result.status in cells[1]
        assert cells[2] == f"{result.seconds:.1f} s" and cells[3] == result.device
        assert cells[4] == result.date[:16].replace("T", " ")
    assert "line " in report  # Beta fails at a line
    nav = (site.site / "index.html").read_text()
    assert 'href="report.html"' in nav


def test_execution_report_shows_not_run_without_cache(tmp_path):
    vault = fresh_vault(tmp_path)
    build(vault, tmp_path / "site", tmp_path / "cache", run=False)
    report = (tmp_path / "site/report.html").read_text()
    assert report.count("<td>not run</td>") == 3 and "passed" not in report.split("<table")[1]


def test_search_index_has_aliases_not_the_badge(site):
    docs = search_docs(site.site)
    alpha = next(d for d in docs if d["location"] == "Topics/Alpha.html")
    assert "First Note" in alpha["text"]  # its frontmatter alias, in the page's own entry (ranked as the page)
    key = site.results["Topics/Alpha.md"].key[:8]
    assert not any(key in d["text"] or "companion .py" in d["text"] for d in docs)
    assert not any(d["text"].lstrip("<p>").startswith(("passed", "failed")) for d in docs)
    assert not any(d["location"].split("#")[0] in ("tags.html", "graph.html", "report.html") for d in docs)
    assert not any(d["title"] in ("Backlinks", "Local graph") or d["location"].endswith("#llm-backlinks")
                   for d in docs)
    config = json.loads((site.site / "search/search_index.json").read_text())["config"]
    assert re.match(config["separator"], "-")  # top-p is indexed as `top` and `p`


def test_graph_data_is_compact_and_undirected(site):
    data = graph_data(site.site)
    titles = [n[0] for n in data["nodes"]]
    assert sorted(titles) == ["Alpha", "Beta", "Future Note", "Gamma", "Index"]
    pairs = {tuple(sorted((titles[a], titles[b]))) for a, b in data["links"]}
    assert ("Alpha", "Beta") in pairs and ("Beta", "Index") in pairs and ("Future Note", "Index") in pairs
    assert len(pairs) == len(data["links"])  # Index→Alpha and Alpha→Index are one edge
    assert data["folders"][data["nodes"][titles.index("Alpha")][2]] == "Topics"
    assert "planned" in (site.site / "graph.html").read_text()  # the fixture has a planned note


def test_graph_page_mentions_planned_notes_only_when_there_are_some(tmp_path):
    vault = tmp_path / "vault"
    vault.mkdir()
    (vault / "Index.md").write_text("# Home\n\n[[Other]]\n")
    (vault / "Other.md").write_text("# Other\n")
    build(vault, tmp_path / "site", tmp_path / "cache", run=False)
    page = (tmp_path / "site/graph.html").read_text()
    assert "planned" not in page[page.index("<article"):page.index("</article>")].lower()


def test_hover_previews_are_scripts_per_note(site):
    data = graph_data(site.site)
    row = [n[0] for n in data["nodes"]].index("Alpha")
    text = (site.site / f"llm-vault/previews/{row}.js").read_text()
    html = json.loads(re.search(r"receive\(\d+, (.*)\);\s*$", text, re.S).group(1).replace("<\\/", "</"))
    assert 'id="section-two"' in html and "zebrafish" in html and "llm-badge" not in html


def test_offline_site_needs_no_network(site):
    home = (site.site / "index.html").read_text()
    assert "unpkg.com" not in home and "llm-vault/vendor/iframe-worker/shim.js" in home
    assert (site.site / "search/search_index.js").read_text().startswith("var __index =")
    assert 'href="Topics/Alpha.html"' in home  # file pages, not directories a browser lists from disk
    assert (site.site / "llm-vault/vendor/force-graph/LICENSE").exists()


def test_site_url_gives_a_sitemap_and_a_404_under_a_sub_path(tmp_path, monkeypatch):
    monkeypatch.setenv("LLM_VAULT_SITE_URL", "https://example.org/vault/")
    vault = fresh_vault(tmp_path)
    build(vault, tmp_path / "site", tmp_path / "cache", run=False)
    sitemap = (tmp_path / "site/sitemap.xml").read_text()
    assert "<loc>https://example.org/vault/Topics/Alpha.html</loc>" in sitemap
    page404 = (tmp_path / "site/404.html").read_text()
    assert 'href="/vault/assets/stylesheets/' in page404 and 'src="/vault/llm-vault/graph.js"' in page404
