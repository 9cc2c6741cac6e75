"""Obsidian's reading of a note, rule by rule: what `check` reports and what the site renders, with the outcome
Obsidian gives. Each rule cites the Obsidian help page (help.obsidian.md, source: github.com/obsidianmd/obsidian-help)
that states it, or says where the outcome is Obsidian's observed behaviour rather than a documented sentence.

`check` and the site share one parser (index.py + obsidian_md.py) and one resolver (links.py); the tests check
both sides of every rule, and at the end one strict mkdocs build of a vault holding every rule that resolves.
"""
from __future__ import annotations

import unicodedata

import markdown
import pytest
from conftest import write_vault
from site_helpers import Captured, build

from runner.check import check_vault
from runner.index import read_vault
from runner.links import Resolver
from runner.markdown_ext import PageContext, VaultExtension

PNG = b"\x89PNG\r\n\x1a\n"


def write_site_vault(tmp, files):
    return write_vault(tmp, files).vault


def diagnostics(cfg, severity=None):
    return [(d.path, d.line, d.message) for d in check_vault(cfg) if severity in (None, d.severity)]


def errors(cfg):
    return diagnostics(cfg, "error")


def site_html(cfg, source_rel: str, text: str | None = None) -> str:
    """The HTML the site's Markdown extension makes of a note (or of `text`, as that note's page)."""
    vault = read_vault(cfg.vault)
    note = vault.note(source_rel)
    ctx = PageContext(Resolver(vault, cfg.planned), note)
    md = markdown.Markdown(extensions=["toc", "tables", "footnotes", "pymdownx.mark", "pymdownx.tasklist",
                                       VaultExtension(ctx)])
    return md.convert(note.text.split("---\n", 2)[-1] if text is None else text)


# ---- Basic formatting syntax, "Escaping Markdown Syntax": a backslash shows the character literally.
# Obsidian's own Internal links page writes "disable **Use \[\[Wikilink\]\]**" and it shows as text.

def test_escaped_brackets_are_text_not_a_link(make_vault):
    cfg = make_vault({"A.md": "Disable **Use \\[\\[Wikilink\\]\\]** and use \\[\\[double bracket syntax\\]\\].\n"})
    assert errors(cfg) == []
    html = site_html(cfg, "A.md")
    assert "[[Wikilink]]" in html and "[[double bracket syntax]]" in html and "llm-" not in html


# ---- A wiki-link is `[[…]]` on one line (Obsidian Flavored Markdown: `[[Link]]`). Split by a line break,
# Obsidian (reading view and editor) shows the brackets as text: observed behaviour, not a sentence of the help.

def test_wikilink_broken_across_a_line_break_is_reported(make_vault):
    cfg = make_vault({"A.md": "Curate data ([[Data Preparation for LLM\nTraining]]), then train.\n",
                      "Data Preparation for LLM Training.md": "# D\n"})
    assert errors(cfg) == [("A.md", 1, "not a link: [[Data Preparation for LLM Training]] is broken across a "
                                       "line break, so Obsidian shows it as text; put it on one line")]
    html = site_html(cfg, "A.md")
    assert "[[Data Preparation for LLM" in html and "llm-link" not in html


# ---- Internal links, "Change the link display text": `[[Internal links|custom display text]]`; the display
# text is Markdown (Basic formatting syntax: bold, italics), so it renders formatted.

def test_display_text_with_emphasis(make_vault):
    cfg = make_vault({"A.md": "See [[Note|an *italic* and **bold** alias]] and [[Gone|a *lost* one]].\n",
                      "Note.md": "# Note\n"})
    assert errors(cfg) == [("A.md", 1, "dangling link [[Gone]]: no note of that name in the vault")]
    html = site_html(cfg, "A.md", "See [[Note|an *italic* and **bold** alias]].\n")
    assert '<a class="llm-link" href="Note.md">an <em>italic</em> and <strong>bold</strong> alias</a>' in html


# ---- Accepted file formats (md, images, audio mp3/webm/wav/m4a/ogg/3gp/flac, video mp4/webm/ogv/mov/mkv, pdf) and
# Embed files ("You can embed files in any of the accepted file formats"); Internal links: "links to file formats
# other than Markdown needs to include a file extension, such as [[Figure 1.png]]" — so a name without a known
# file of that name is a note, dots and all. Obsidian also links its own `.canvas` files, and with "Detect all
# file extensions" any file: every existing file is an attachment here.

def test_attachments_of_any_extension(make_vault):
    files = {"media/clip.mp4": b"v", "media/Excerpt (1968).ogg": b"a", "docs/Document.pdf": b"%PDF",
             "Board.canvas": b"{}", "data/table.parquet": b"P", "Note.1.md": "# One\n", "scripts/tool.py": "X = 1\n",
             "A.md": "![[clip.mp4]] ![[Excerpt (1968).ogg]] [[Document.pdf]] ![[Board.canvas]] [[table.parquet]] "
                     "[[tool.py]]\n"
                     "[[Note.1]] ![[Document.pdf#page=3]] ![[missing.mp3]] [[Note.2]]\n"}
    cfg = make_vault(files)
    assert errors(cfg) == [("A.md", 2, "dangling link [[Note.2]]: no note of that name in the vault"),
                           ("A.md", 2, "missing attachment missing.mp3: no such file in the vault")]
    html = site_html(cfg, "A.md", "![[clip.mp4]] ![[Excerpt (1968).ogg]] [[Document.pdf]] [[Note.1]]")
    assert '<video class="llm-embed-media" controls="" src="media/clip.mp4">' in html
    assert '<audio class="llm-embed-media" controls="" src="media/Excerpt%20%281968%29.ogg">' in html
    assert 'href="docs/Document.pdf"' in html and 'href="Note.1.md"' in html


# ---- Internal links, "Supported formats for internal links": `[Three laws of motion](Three%20laws%20of%20motion.md)`
# is equivalent to `[[Three laws of motion]]` — so it finds the note the wiki-link finds, URL-decoded, `.md` or
# not; Embed files: an image is found by name like any embed.

def test_markdown_links_and_images_resolve_like_wikilinks(make_vault):
    cfg = make_vault({"img/diagram.png": PNG, "Deep/Three laws of motion.md": "# Three\n## Second law\n",
                      "Sub/Target.md": "# Target\n",
                      "A.md": "![x](diagram.png) [t](Target) [l](Three%20laws%20of%20motion.md#Second%20law)\n"
                              "[n](<Three laws of motion.md>) [bad](Nowhere.md) ![gone](gone.png)\n"})
    assert errors(cfg) == [("A.md", 2, "broken link (Nowhere.md): Nowhere.md does not exist"),
                           ("A.md", 2, "broken link (gone.png): gone.png does not exist")]
    html = site_html(cfg, "A.md", "![x](diagram.png) [t](Target) [l](Three%20laws%20of%20motion.md#Second%20law)")
    assert '<img alt="x" src="img/diagram.png"' in html
    assert '<a href="Sub/Target.md">t</a>' in html
    assert '<a href="Deep/Three%20laws%20of%20motion.md#second-law">l</a>' in html


# ---- Headings. Internal links, "Link to a heading in a note": `[[Three laws of motion#Second law]]`, and "You can
# add multiple hashtags for each subheading": `[[My note#Heading 1#Heading 2]]` is a path. Obsidian compares
# headings with its `stripHeading` (obsidian.d.ts: "Normalizes headings for link matching by stripping out special
# characters and shrinking consecutive spaces"), so `?`, backticks and brackets do not count. "Link to a block":
# `[[2023-01-01#^quote-of-the-day]]`; spaces after the id are not part of it.

def test_headings_match_as_obsidian_matches_them(make_vault):
    cfg = make_vault({"Note.md": "# Note\n## How large can it be?\n## Part\n### Section\n",
                      "Functions.md": "# Functions\n## `hasTag()`\n", "foo.md": "A block. ^abc\n",
                      "A.md": "[[Note#How large can it be]] [[Functions#hasTag]] [[Note#Part#Section]]\n"
                              "[[foo#^abc ]] [[Note#how  large can it be?]]\n"
                              "[[Note#Nope#Section]]\n[[Note#Section#Part]]\n"})
    assert errors(cfg) == [
        ("A.md", 3, "no heading 'Nope#Section' in Note.md: 'Section' is there, but not under 'Nope'"),
        ("A.md", 4, "no heading 'Section#Part' in Note.md: 'Part' is there, but not under 'Section'"),
    ]
    html = site_html(cfg, "A.md", "[[Note#How large can it be]] [[Functions#hasTag]] [[Note#Part#Section]]")
    assert 'href="Note.md#how-large-can-it-be"' in html and 'href="Functions.md#hastag"' in html
    assert 'href="Note.md#section"' in html


# The walk Obsidian's `resolveSubpath` does (as plugin authors transcribe it; the help says no more than "each
# subheading"): each part is the next heading after the previous part's that is deeper than it.

def test_heading_path_picks_the_heading_after_its_parent(make_vault):
    cfg = make_vault({"Note.md": "## One\n### Setup\n## Two\n### Setup\n", "A.md": "[[Note#Two#Setup]]\n"})
    vault = read_vault(cfg.vault)
    link = vault.note("A.md").links[0]
    assert Resolver(vault).resolve(link, vault.note("A.md")).heading.line == 4  # the second "Setup"
    assert 'href="Note.md#setup_1"' in site_html(cfg, "A.md")  # the id the toc gives the second "Setup"


# ---- Names are compared as text, not as bytes: a file name stored decomposed (NFD, as macOS writes it) is the
# note a composed (NFC) link names. Observed behaviour (Obsidian normalises paths); the help has no sentence on it.

def test_unicode_normalisation_of_names(make_vault):
    nfd = unicodedata.normalize("NFD", "Café")
    cfg = make_vault({f"{nfd}.md": "# Café\n## Crème brûlée\n", f"img/{nfd}.png": PNG,
                      "A.md": "[[Café]] [[café#Crème brûlée]] ![[Café.png]]\n"})
    assert errors(cfg) == []
    assert "llm-missing" not in site_html(cfg, "A.md")


# ---- Aliases: "aliases: Doggo, Woofer, Yapper" (a comma-separated string), a YAML list, or `alias:`. Nothing in
# Obsidian forbids two notes sharing one; it is a warning naming both, not an error.

def test_aliases_forms_and_duplicates(make_vault):
    cfg = make_vault({"Dog.md": "---\naliases: Doggo, Woofer, Yapper\n---\n# Dog\n",
                      "Hound.md": "---\nalias: Doggo\n---\n# Hound\n",
                      "A.md": "[[Doggo]]\n"})
    vault = read_vault(cfg.vault)
    assert vault.note("Dog.md").aliases == ["Doggo", "Woofer", "Yapper"]
    assert vault.note("Hound.md").aliases == ["Doggo"]
    assert diagnostics(cfg, "warning") == [("Hound.md", 2, "alias 'Doggo' of Hound.md is also an alias of Dog.md")]
    assert errors(cfg) == [("A.md", 1, "dangling link [[Doggo]]: no such note; 'Doggo' is an alias of Dog — "
                                       "write [[Dog|Doggo]]")]


# ---- Basic formatting syntax, "Comments": "You can add comments by wrapping text with %%. Comments are only
# visible in Editing view", inline or as a block spanning lines (blank ones included). Nothing inside is a link.

def test_comments_are_hidden_and_hold_no_links(make_vault):
    text = ("This is an %%inline [[Nowhere]]%% comment.\n\n%%\nThis is a block comment. [[Nor here]]\n\n"
            "Block comments can span multiple lines.\n%%\n\nA paragraph %%that hides\nacross lines%% ends.\n")
    cfg = make_vault({"A.md": text})
    assert errors(cfg) == []
    html = site_html(cfg, "A.md")
    assert "%%" not in html and "Nowhere" not in html and "block comment" not in html and "hides" not in html
    assert "This is an  comment." in html and "<p>A paragraph" in html and "ends.</p>" in html


# ---- Same-note links (Internal links: `[[#Heading]]` links within the note), highlights `==Text==`, task lists
# `- [ ]` / `- [x]`, footnotes `[^1]` and inline `^[…]` (Basic formatting syntax; Obsidian Flavored Markdown's
# table of extensions) all render on the site.

def test_same_note_links_highlights_tasks_and_footnotes_render(make_vault):
    text = ("# A\n\n## Later\n\nBack to [[#Later]]. ==Highlighted text== here.\n\n- [x] done\n- [ ] to do\n\n"
            "A simple footnote[^1]. You can also use inline footnotes. ^[This is an inline [[B]] footnote.]\n\n"
            "[^1]: This is the referenced text.\n")
    cfg = make_vault({"A.md": text, "B.md": "# B\n"})
    assert errors(cfg) == []
    html = site_html(cfg, "A.md")
    assert '<a class="llm-link" href="#later">Later</a>' in html
    assert "<mark>Highlighted text</mark>" in html
    assert html.count('type="checkbox"') == 2 and "checked" in html
    assert "This is the referenced text." in html
    assert "This is an inline" in html and '<a class="llm-link" href="B.md">B</a>' in html
    assert "^[" not in html and "[^1]" not in html


# ---- Properties / front matter: a UTF-8 byte-order mark before `---` is not text (editors on Windows write it).

def test_frontmatter_after_a_byte_order_mark(make_vault):
    cfg = make_vault({"A.md": "\ufeff---\naliases: [Start]\ncompanion: first\n---\n# A\n", "B.md": "[[Start]]\n"})
    note = read_vault(cfg.vault).note("A.md")
    assert note.aliases == ["Start"] and note.frontmatter["companion"] == "first"
    assert errors(cfg) == [("B.md", 1, "dangling link [[Start]]: no such note; 'Start' is an alias of A — "
                                       "write [[A|Start]]")]


# ---- A note that is not UTF-8: `check` names the file and line; the other notes are still read and checked.

def test_a_note_that_is_not_utf8_is_reported_alone(make_vault):
    cfg = make_vault({"Latin.md": "# Caf\xe9\n".encode("latin-1"), "A.md": "[[Latin]] [[Nowhere]]\n"})
    assert errors(cfg) == [
        ("A.md", 1, "dangling link [[Nowhere]]: no note of that name in the vault"),
        ("Latin.md", 1, "not valid UTF-8 (invalid continuation byte at byte 5): the note is skipped until it is "
                        "saved as UTF-8"),
    ]


# ---- The site builds strictly wherever Obsidian resolves, and refuses (naming file:line) where it does not.

AGREEMENT_VAULT = {
    "Index.md": ("# Home\n\nStart at [[Notes/Guide|the *guide*]].\n\n> [!tip] A tip that links to [[Other]]\n"
                 "> Body with [[Guide#Part]].\n>\n> A second paragraph, [[Note.1]] %%and a comment%%.\n"),
    "Notes/Guide.md": ("---\naliases: Manual, Handbook\n---\n# Guide\n\n## How large can it be?\n\n## Part\n\n"
                       "### Section\n\nA claim. ^claim-1\n\n## `hasTag()`\n\n"
                       "Escaped \\[\\[not a link\\]\\]. %%a [[hidden]] comment%% ==marked==\n\n"
                       "- [ ] a task for [[#Part]]\n- [x] done\n\nA note^[inline, with [[Other]]] and[^1].\n\n"
                       "[^1]: A footnote.\n"),
    "Notes/Other.md": ("# Other\n\n[[Guide#How large can it be]] [[Guide#hasTag]] [[Guide#Part#Section]] "
                       "[[Guide#^claim-1 ]] [[Note.1]] [[Café]]\n\n![x](diagram.png) [t](Guide) "
                       "[u](Guide.md#How%20large%20can%20it%20be) ![[clip.mp4]] [[Document.pdf]]\n\n"
                       "| a | b |\n|---|---|\n| [[Guide\\|guide]] | ![[diagram.png\\|40]] |\n"),
    "Note.1.md": ("# One\n\n## **Bold** and *em* heading\n\n## Using [[Other|links]] here\n\n## Code `x()` too\n\n"
                  "## Ünïcode — dash\n\n## Setup\n\n## Again\n\n### Setup\n"),
    "Headings.md": ("# Headings\n\n[[Note.1#Bold and em heading]] [[Note.1#Using Other links here]] "
                    "[[Note.1#Code x too]] [[Note.1#Ünïcode — dash]] [[Note.1#Again#Setup]]\n"),
    unicodedata.normalize("NFD", "Café") + ".md": "# Café\n",
    "media/diagram.png": PNG, "media/clip.mp4": b"v", "media/Document.pdf": b"%PDF",
}


@pytest.fixture(scope="module")
def agreement_site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("agreement")
    vault = write_site_vault(tmp, AGREEMENT_VAULT)
    with Captured() as log:
        build(vault, tmp / "site", tmp / "cache", run=False)
    return tmp / "site", log.messages


def test_check_and_the_strict_site_agree_on_a_vault_holding_every_rule(agreement_site, make_vault):
    site, messages = agreement_site
    cfg = make_vault(AGREEMENT_VAULT)
    assert errors(cfg) == []  # Obsidian resolves every link of this vault …
    assert [m for level, m in messages if level == "WARNING"] == []  # … and so does the strict build
    pages = "".join(p.read_text(encoding="utf-8") for p in site.rglob("*.html"))
    article = "".join(part.split("</article>")[0] for part in pages.split("<article")[1:])
    assert "[[" not in article.replace("[[not a link]]", "") and "%%" not in article and "^[" not in article
    guide = (site / "Notes/Guide.html").read_text(encoding="utf-8")  # footnotes numbered as referenced
    assert guide.index('href="#fn:llm-inline-1">1<') < guide.index('href="#fn:1">2<')
    for img in ("../media/diagram.png",):
        assert f'src="{img}"' in article
    assert (site / "media/diagram.png").exists() and "llm-missing" not in article
    home = (site / "index.html").read_text(encoding="utf-8")
    assert 'A tip that links to <a class="llm-link" href="Notes/Other.html">Other</a>' in home  # a callout's title
    assert 'A second paragraph, <a class="llm-link" href="Note.1.html">Note.1</a> .' in home  # its body, re-indented
    headings = (site / "Headings.html").read_text(encoding="utf-8")
    for anchor in ("bold-and-em-heading", "using-links-here", "code-x-too", "unicode-dash", "setup_1"):
        assert f'href="Note.1.html#{anchor}"' in headings, anchor
        assert f'id="{anchor}"' in (site / "Note.1.html").read_text(encoding="utf-8")


def test_the_strict_site_refuses_what_obsidian_does_not_resolve(tmp_path):
    from mkdocs.exceptions import Abort

    vault = write_site_vault(tmp_path, {"Index.md": "# Home\n\nSee [[Guide#No such heading]] and [x](Gone).\n",
                                        "Guide.md": "# Guide\n"})
    with Captured() as log, pytest.raises(Abort):
        build(vault, tmp_path / "site", tmp_path / "cache", run=False)
    warnings = [m for level, m in log.messages if level == "WARNING"]
    assert "Index.md:3: no heading 'No such heading' in Guide.md" in warnings
    assert "Index.md:3: broken link (Gone): Gone does not exist" in warnings


def test_a_note_that_is_not_utf8_gets_a_page_naming_the_problem_and_the_rest_builds(tmp_path):
    vault = write_site_vault(tmp_path, {"Index.md": "# Home\n\n[[Other]]\n", "Other.md": "# Other\n",
                                        "Latin.md": "# Caf\xe9\n".encode("latin-1")})
    build(vault, tmp_path / "site", tmp_path / "cache", run=False)  # strict: no warning, no UnicodeDecodeError
    latin = (tmp_path / "site/Latin.html").read_text(encoding="utf-8")
    assert "Latin.md:1: error: not valid UTF-8 (invalid continuation byte at byte 5)" in latin
    assert 'href="Other.html"' in (tmp_path / "site/index.html").read_text(encoding="utf-8")


# A `%%` line never closed hides everything after it (as the comment block of Basic formatting syntax, left open);
# check warns, since that is rarely meant.

def test_an_unclosed_comment_block_hides_the_rest_of_the_note(make_vault):
    cfg = make_vault({"A.md": "# A\n\nShown.\n\n%%\nDraft with [[Nowhere]].\n\nStill hidden.\n"})
    assert diagnostics(cfg) == [("A.md", 5, "this %% comment is never closed: Obsidian hides the rest of the note")]
    html = site_html(cfg, "A.md")
    assert "Shown." in html and "Draft" not in html and "Still hidden" not in html and "%%" not in html
