"""The site: the Obsidian Markdown extension, cached outputs, badges — on the fixture vault (tests/site_vault)."""
from __future__ import annotations

import json
import os
import re

import markdown
import pytest

from runner.index import read_vault
from runner.links import Resolver
from runner.markdown_ext import PageContext, VaultExtension
from runner.outputs import badge, render_cell, render_output, sanitize_html

from site_helpers import Captured, build, built_site, fresh_vault


# ---- the extension alone, on a tiny vault: fast and precise

@pytest.fixture
def render(tmp_path):
    files = {
        "A.md": "# A\n\n## My Heading: Part 2!\n\nSome text. ^blk\n\n## `torch.compile`\n",
        "sub/B.md": "# B\n\ntext\n",
        "img.png": b"\x89PNG\r\n\x1a\n",
    }
    for rel, content in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        getattr(tmp_path / rel, "write_bytes" if isinstance(content, bytes) else "write_text")(content)
    vault = read_vault(tmp_path)
    ctx = PageContext(Resolver(vault, ["Someday"]), vault.note("sub/B.md"))

    def convert(text: str) -> str:
        return markdown.Markdown(extensions=["toc", "tables", VaultExtension(ctx)]).convert(text)

    convert.ctx = ctx
    return convert


def test_plain_alias_and_path_links(render):
    assert render("[[A]]") == '<p><a class="llm-link" href="../A.md">A</a></p>'
    assert render("[[A|shown]]") == '<p><a class="llm-link" href="../A.md">shown</a></p>'
    assert 'href="B.md"' in render("[[sub/B]]")


def test_heading_link_uses_the_toc_slug(render):
    html = render("[[A#My Heading: Part 2!]]")
    assert 'href="../A.md#my-heading-part-2"' in html and "A › My Heading: Part 2!" in html
    # the slug is exactly the id the toc gives that heading
    assert 'id="my-heading-part-2"' in render("## My Heading: Part 2!")


def test_heading_link_holding_a_code_span(render):
    for ext in ([], ["pymdownx.inlinehilite"]):  # code spans are stashed differently with inlinehilite
        html = markdown.Markdown(extensions=["toc", *ext, VaultExtension(render.ctx)]).convert("[[A#`torch.compile`]]")
        assert 'href="../A.md#torchcompile"' in html, html


def test_heading_link_in_the_same_note(render):
    assert render("[[#B]]") == '<p><a class="llm-link" href="#b">B</a></p>'


def test_block_link_and_block_anchor(render):
    assert 'href="../A.md#^blk"' in render("[[A#^blk]]")
    html = render("The claim. ^claim-1")
    assert html == '<p id="^claim-1">The claim.</p>'


def test_image_with_size(render):
    html = render("![[img.png|200]]")
    assert 'src="../img.png"' in html and 'width="200"' in html
    html = render("![[img.png|200x100]]")
    assert 'width="200"' in html and 'height="100"' in html


def test_planned_link_is_greyed_with_a_tooltip(render):
    html = render("[[Someday]]")
    assert html == '<p><span class="llm-planned" title="planned, not written yet">Someday</span></p>'


def test_code_is_never_a_link(render):
    assert "llm-link" not in render("`[[A]]`\n\n```\n[[A]]\n```\n\n    [[A]]\n")


def test_link_in_a_table_with_an_escaped_pipe(render):
    html = render("| x |\n| - |\n| [[A\\|the A]] |\n")
    assert '<a class="llm-link" href="../A.md">the A</a>' in html


def test_inline_tag(render):
    html = render("about #tokenization and [[#B]] but not #123 or `#code`")
    assert html.count("llm-tag") == 1 and 'data-tag="tokenization"' in html


# ---- outputs

def test_outputs_are_escaped():
    cell = {"outputs": [{"output_type": "stream", "name": "stdout", "text": "<script>alert(1)</script>\n"}],
            "execution_count": 1}
    html = render_cell(cell)
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_rich_html_keeps_tables_and_drops_scripts():
    html = sanitize_html('<table onclick="x()"><tr><td>1</td></tr></table><script>evil()</script>'
                         '<a href="javascript:x">link</a><img src=x onerror=y>')
    assert html == "<table><tr><td>1</td></tr></table>link"


def test_errors_figures_and_results():
    error = {"output_type": "error", "ename": "ValueError", "evalue": "bad",
             "traceback": ["\x1b[31mValueError\x1b[0m: bad <x>"]}
    assert render_output(error) == '<pre class="llm-out llm-error"><code>ValueError: bad &lt;x&gt;</code></pre>'
    png = {"output_type": "display_data", "data": {"image/png": "iVBORw0KGgo=\n", "text/plain": "<Figure>"}}
    assert '<img alt="figure" src="data:image/png;base64,iVBORw0KGgo="' in render_output(png)
    assert '<img alt="a plot" src=' in render_output(png, alt="a plot")
    result = {"output_type": "execute_result", "data": {"text/plain": "42"}}
    assert ">42<" in render_output(result)


def test_skip_reason_and_unreached_cells():
    assert "Not run: needs 8 GPUs" in render_cell(None, "needs 8 GPUs")
    assert "an earlier cell failed" in render_cell({"outputs": [], "execution_count": None}, None, True)


def test_badge():
    class R:
        status, device, seconds, date, key = "passed", "cuda", 3.25, "2025-01-02T03:04:05+00:00", "0123456789abcdef"
    html = badge(R(), "../companions/x.py", "../notebooks/x.ipynb")
    for fact in ("passed", "cuda", "3.2 s", "2025-01-02", "01234567", 'href="../companions/x.py"',
                 'href="../notebooks/x.ipynb"'):
        assert fact in html
    assert "not run" in badge(None, None, None)


# ---- the whole site of the fixture vault (runs its notes once, then mkdocs build --strict)

@pytest.fixture(scope="module")
def site():
    return built_site()


def page(site, rel: str) -> str:
    html = (site.site / rel).read_text(encoding="utf-8")
    return html[html.index('<article'):html.index('</article>')]


def test_site_links(site):
    home = page(site, "index.html")
    assert '<a class="llm-link" href="Topics/Alpha.html">the alpha note</a>' in home
    assert 'href="Topics/Alpha.html#section-two"' in home and 'href="Topics/Alpha.html#results-with-a-figure"' in home
    assert 'href="Topics/Alpha.html#^key-point"' in home
    assert 'title="planned, not written yet">Future Note<' in home
    assert "<code>[[Not A Link]]</code>" in home and "[[Not A Link Either]]" in home
    assert re.search(r'<img [^>]*src="pixel.png"[^>]*width="200"', home)
    alpha = page(site, "Topics/Alpha.html")
    assert 'id="section-two"' in alpha and 'id="results-with-a-figure"' in alpha
    assert '<p id="^key-point">The key point of this note is this sentence.</p>' in alpha


def test_site_callouts_transclusion_and_tags(site):
    home = page(site, "index.html")
    assert '<div class="admonition tip">' in home and '<details class="example">' in home
    assert re.search(r'<details class="example">.*<div class="admonition warning">.*</details>', home, re.S)
    assert '<div class="admonition todo">' in home
    embed = home[home.index('class="llm-embed"'):]
    assert "This section is transcluded into the index" in embed
    assert '<a class="llm-link" href="Topics/Alpha.html#code">Code</a>' in embed
    assert 'href="tags.html#tag:inline-tag"' in home
    assert 'id="tag:inline-tag"' in (site.site / "tags.html").read_text()


def test_site_outputs(site):
    alpha = page(site, "Topics/Alpha.html")
    assert "hello vault" in alpha
    assert re.search(r"&lt;script&gt;alert\((&#x27;|')x(&#x27;|')\)&lt;/script&gt;", alpha) and "<script>alert" not in alpha
    rich = re.search(r'<div class="llm-out llm-html">.*?</div>', alpha).group(0)
    assert "<td>tiny</td>" in rich and "PWNED" not in rich
    assert "Not run: needs 8 GPUs" in alpha
    assert "ZeroDivisionError" in alpha
    figure = re.search(r'<img alt="Figure under “Results \(with a figure\)”" src="\.\./(llm-vault/figures/\w+\.png)"',
                       alpha)
    assert figure, alpha[alpha.index('id="results-with-a-figure"'):][:3000]
    assert (site.site / figure.group(1)).read_bytes().startswith(b"\x89PNG")
    beta = page(site, "Beta.html")
    assert "RuntimeError: boom &lt;b&gt;bold&lt;/b&gt;" in beta and "an earlier cell failed" in beta


def test_site_badges_and_downloads(site):
    alpha = page(site, "Topics/Alpha.html")
    key = site.results["Topics/Alpha.md"].key
    assert 'class="llm-badge llm-passed"' in alpha and key[:8] in alpha
    assert 'href="../companions/alpha.py"' in alpha and 'href="../notebooks/alpha.ipynb"' in alpha
    assert (site.site / "companions/alpha.py").exists() and (site.site / "notebooks/alpha.ipynb").exists()
    assert "hello vault" in (site.site / "notebooks/alpha.ipynb").read_text()
    assert 'class="llm-badge llm-failed"' in page(site, "Beta.html")
    assert "llm-badge" not in page(site, "index.html")  # no code, no badge


def test_site_backlinks_graph_and_private_files(site):
    alpha = page(site, "Topics/Alpha.html")
    backlinks = alpha[alpha.index('class="llm-backlinks"'):]
    assert 'href="../Beta.html"' in backlinks and 'href="../index.html"' in backlinks
    assert (site.site / "graph.html").exists()
    data = json.loads((site.site / "llm-vault/graph-data.js").read_text().split("=", 1)[1].rstrip(";\n"))
    titles = [n[0] for n in data["nodes"]]
    assert f'data-node="{titles.index("Alpha")}"' in alpha
    assert ["Future Note", None, data["folders"].index("(planned)"), 1] in data["nodes"]
    published = {p.relative_to(site.site).as_posix() for p in site.site.rglob("*")}
    assert not any(".planned" in p or "__pycache__" in p or p.startswith(".") for p in published)


def test_missing_link_fails_the_strict_build_naming_the_file(tmp_path):
    from mkdocs.exceptions import Abort

    vault = fresh_vault(tmp_path)
    (vault / "Gamma.md").write_text("# Gamma\n\nSee [[Nowhere To Be Found]].\n")
    with Captured() as log, pytest.raises(Abort):
        build(vault, tmp_path / "site", tmp_path / "cache", run=False)
    warnings = [m for level, m in log.messages if level == "WARNING"]
    assert any("Gamma.md:3" in m and "Nowhere To Be Found" in m for m in warnings), warnings


def test_not_run_badge_without_cache(tmp_path):
    vault = fresh_vault(tmp_path)
    build(vault, tmp_path / "site", tmp_path / "cache", run=False)
    html = (tmp_path / "site/Topics/Alpha.html").read_text()
    assert 'class="llm-badge llm-not-run"' in html and "Not run: needs 8 GPUs" in html
    assert (tmp_path / "site/notebooks/alpha.ipynb").exists()  # the notebook without outputs


def test_never_run_notebooks_made_by_workers_equal_those_made_in_the_build(tmp_path, monkeypatch):
    """A large vault reads its never-run notes into notebooks in forked workers (site_notebooks.py): the same
    files, and the same download links, as reading them one by one in the build's own process."""
    from runner import site_notebooks

    vault = fresh_vault(tmp_path)
    (vault / "Unreadable.md").write_text("# Unreadable\n\n<div>\n```python\nprint(1)\n```\n</div>\n")
    sites, pooled, init = {}, [], site_notebooks.Notebooks.__init__

    def recording_init(self, *args, **kwargs):
        init(self, *args, **kwargs)
        pooled.append(self._pool is not None)

    monkeypatch.setattr(site_notebooks.Notebooks, "__init__", recording_init)
    for label, threshold in (("serial", 10_000), ("workers", 1)):
        monkeypatch.setattr(site_notebooks, "POOL_FROM", threshold)
        build(vault, tmp_path / label, tmp_path / "cache", run=False)
        sites[label] = tmp_path / label
    assert pooled == [False, True] or os.cpu_count() == 1
    def without_ids(path):  # nbformat gives every new cell a random id, in any process
        nb = json.loads(path.read_text())
        return [{k: v for k, v in cell.items() if k != "id"} for cell in nb["cells"]], nb["metadata"]

    serial, workers = (sorted((p.name, without_ids(p)) for p in (s / "notebooks").iterdir()) for s in sites.values())
    assert serial == workers and len(serial) >= 2
    assert "unreadable.ipynb" not in dict(serial)  # jupytext cannot read it: no download, in both
    for name in ("Topics/Alpha.html", "Unreadable.html"):
        assert (sites["serial"] / name).read_text() == (sites["workers"] / name).read_text()


# ---- math: Obsidian's `$` rules, typeset later by KaTeX in the browser

@pytest.fixture
def math():
    from runner.site_math import ObsidianMathExtension

    def convert(text: str) -> str:
        return markdown.Markdown(extensions=["tables", "pymdownx.superfences", "pymdownx.inlinehilite",
                                             ObsidianMathExtension()]).convert(text)
    return convert


def test_inline_math_keeps_its_backslashes(math):
    html = math(r"attention is $\operatorname{softmax}\!\left(x\right)$ with $a\,b$")
    assert r'<span class="arithmatex">\(\operatorname{softmax}\!\left(x\right)\)</span>' in html
    assert r'<span class="arithmatex">\(a\,b\)</span>' in html


def test_display_math_alone_and_inside_a_paragraph(math):
    assert math(r"$$\frac{a}{b}$$") == r'<div class="arithmatex">\[\frac{a}{b}\]</div>'
    html = math(r"Obsidian shows $$e^{i\pi}$$ as display math")
    assert r'<span class="arithmatex arithmatex-display">\[e^{i\pi}\]</span>' in html and "$" not in html


def test_dollars_that_obsidian_does_not_read_as_math(math):
    assert "arithmatex" not in math("it costs $5 and $10 in total")      # a space before the closing `$`
    assert "arithmatex" not in math("$ x$ and $x $")                     # a space after the opening one
    assert math(r"\$y\$ is escaped") == "<p>$y$ is escaped</p>"
    assert "arithmatex" not in math(r"\(x\) and \[y\]")                  # Obsidian reads only dollars
    assert "arithmatex" not in math("`$x$` in code\n\n```python\nprint('$$x$$')\n```\n")


def test_math_in_a_table_and_a_callout(math):
    assert r'<td><span class="arithmatex">\(O(T^2)\)</span></td>' in math("| cost |\n| - |\n| $O(T^2)$ |\n")
    assert r'<span class="arithmatex">\(k\)</span>' in math("> [!tip]\n> $k$ experts\n")


def test_no_raw_math_on_any_note_of_the_vault():
    """Every note of the real vault through the site's Markdown: no `$$` left outside code, no `\\!` eaten."""
    from mkdocs.config import load_config
    from runner import config as config_mod, site as site_mod

    cfg = config_mod.load()
    config_file, overrides = config_mod.mkdocs_config(cfg)
    mk = load_config(config_file=str(config_file), **overrides)
    from runner.markdown_ext import VaultExtension
    from runner.site_math import ObsidianMathExtension
    md = markdown.Markdown(extensions=[*mk.markdown_extensions, VaultExtension(), ObsidianMathExtension()],
                           extension_configs=mk.mdx_configs)
    typeset = 0
    for path in sorted(cfg.vault.rglob("*.md")):
        if "companions" in path.parts:
            continue
        html = md.reset().convert(path.read_text(encoding="utf-8"))
        prose = re.sub(r"<(code|pre)[^>]*>.*?</\1>", "", html, flags=re.S)
        prose = re.sub(r'<(span|div) class="arithmatex[^"]*">.*?</\1>', "", prose, flags=re.S)
        assert "$$" not in prose, (path.name, prose[prose.index("$$") - 200:prose.index("$$") + 100])
        typeset += html.count('class="arithmatex')
        if r"\!" in path.read_text(encoding="utf-8").split("```")[0]:
            assert r"\!" in html, path.name
    assert typeset > 100  # the vault's formulas are there to be typeset


# ---- outputs: machine paths, tracebacks, long outputs, measured cells, figures

def test_outputs_carry_no_machine_paths():
    import sys
    import sysconfig
    from pathlib import Path
    from runner.env import REPO_ROOT
    from runner.outputs import scrub_paths

    site_packages = sysconfig.get_paths()["purelib"]
    text = (f"{site_packages}/tqdm/auto.py:21: TqdmWarning: IProgress not found\n"
            f"{Path.home()}/.cache/models and ~/.cache/x\n{REPO_ROOT}/vault/Basics/x.py\n{sys.executable}\n")
    clean = scrub_paths(text)
    assert "<site-packages>/tqdm/auto.py:21: TqdmWarning" in clean
    assert "~/.cache/models" in clean and "./vault/Basics/x.py" in clean
    for machine in (site_packages, str(Path.home()) + "/", str(REPO_ROOT), sys.prefix):
        assert machine not in clean, machine
    cell = {"outputs": [{"output_type": "stream", "name": "stderr", "text": text}], "execution_count": 1}
    assert site_packages not in render_cell(cell) and "&lt;site-packages&gt;/tqdm" in render_cell(cell)


def test_traceback_keeps_the_notes_frames_and_folds_the_librarys():
    import sysconfig
    torch_dir = sysconfig.get_paths()["purelib"].replace(str(__import__("pathlib").Path.home()), "~", 1) + "/torch"
    error = {"output_type": "error", "ename": "IndexError", "evalue": "index out of range in self", "traceback": [
        "\x1b[31m-----\x1b[0m", "IndexError    Traceback (most recent call last)",
        "Cell In[18], line 4\n----> 4 embedding(torch.tensor(ids))",
        f"File {torch_dir}/nn/modules/module.py:1751, in Module._wrapped_call_impl(self)\n-> 1751 return f()",
        f"File {torch_dir}/nn/functional.py:2615, in embedding(input)\n-> 2615 return torch.embedding()",
        "IndexError: index out of range in self"]}
    html = render_output(error)
    shown, folded = html.split('<details class="llm-frames">')
    assert "Cell In[18], line 4" in shown and "module.py" not in shown
    assert "<summary>2 frames inside torch</summary>" in folded and "functional.py:2615" in folded
    assert folded.index("</details>") < folded.index("IndexError: index out of range in self")
    assert torch_dir not in html and "&lt;site-packages&gt;/torch/nn/functional.py" in folded


def test_long_outputs_are_folded():
    from runner.outputs import LONG_OUTPUT
    long = {"outputs": [{"output_type": "stream", "name": "stdout",
                         "text": "".join(f"{i}\n" for i in range(LONG_OUTPUT + 1))}], "execution_count": 1}
    assert f'llm-long" data-lines="{LONG_OUTPUT + 1}"' in render_cell(long)
    short = {"outputs": [{"output_type": "stream", "name": "stdout", "text": "1\n" * LONG_OUTPUT}],
             "execution_count": 1}
    assert "llm-long" not in render_cell(short)


def test_measured_cells_are_marked():
    from runner.outputs import is_measured
    cell = {"outputs": [{"output_type": "stream", "name": "stdout", "text": "12 ms\n"}], "execution_count": 1}
    assert "measurement — varies between runs" in render_cell(cell, measured=True)
    assert "measurement" not in render_cell(cell)
    assert is_measured({"tags": '["measured"]'}) and is_measured({"tags": ["measured"]})
    assert is_measured({}, {"metadata": {"tags": ["measured"]}}) and not is_measured({"tags": '["slow"]'})


def test_retina_figure_is_shown_at_its_own_size():
    png = {"output_type": "display_data", "data": {"image/png": "iVBORw0KGgo="},
           "metadata": {"image/png": {"width": 381, "height": 238}}}
    assert re.search(r'<img alt="figure" src="[^"]+" width="381" height="238">', render_output(png))


def test_figure_alt_text_says_what_it_shows():
    from runner.figures import describe
    source = ('fig, (a, b) = plt.subplots(1, 2)\na.set_title("Loss")\nb.set_title(f"Step {n}")\n'
              'plt.xlabel("step"); plt.ylabel("loss")\nfig.suptitle("Training")\n')
    assert describe(source) == "Figure: Loss; Step …; Training (x: step; y: loss)"
    assert describe('ax.set(xlabel="tokens", ylabel="seconds")') == "Plot of x: tokens; y: seconds"
    assert describe("plt.plot(x)", "Results") == "Figure under “Results”"


def test_site_math_outputs_and_figures(site):
    gamma = page(site, "Topics/Gamma.html")
    assert r'<span class="arithmatex">\(\operatorname{softmax}\!\left(\frac{QK^\top}{\sqrt{d_k}}\right)V\)</span>' in gamma
    assert r'<div class="arithmatex">\[\mathcal{L} = -\frac{1}{N}\sum_{i=1}^{N}\log p_\theta(x_i)\]</div>' in gamma
    prose = re.sub(r"<(code|pre)[^>]*>.*?</\1>", "", gamma, flags=re.S)
    assert "$$" not in re.sub(r'<(span|div) class="arithmatex[^"]*">.*?</\1>', "", prose, flags=re.S)
    for asset in ("llm-vault/math.js", "llm-vault/katex/katex.min.js", "llm-vault/katex/katex.min.css",
                  "llm-vault/katex/fonts/KaTeX_Main-Regular.woff2"):
        assert (site.site / asset).is_file(), asset
    # machine paths: neither on the page nor in the notebook it offers for download
    import sys
    from pathlib import Path
    from runner.env import REPO_ROOT
    notebook = (site.site / "notebooks/gamma.ipynb").read_text()
    for text in (gamma, notebook):
        assert "~/.cache/models" in text and "./runner/__init__.py" in text
        for machine in (str(Path.home()) + "/", str(REPO_ROOT), sys.prefix):
            assert machine not in text, machine
    assert '<summary>2 frames inside the Python standard library</summary>' in gamma or \
        re.search(r"<summary>\d frames inside the Python standard library</summary>", gamma)
    assert 'llm-long" data-lines="60"' in gamma
    assert gamma.count("measurement — varies between runs") == 1
    figure = re.search(r'<a class="glightbox"[^>]*href="([^"]+\.png)"[^>]*><img alt="Figure: Loss falls with '
                       r'training \(x: step; y: loss\)" src="\1" width="(\d+)" height="(\d+)"', gamma)
    assert figure, gamma[gamma.index('id="a-figure"'):][:2000]
    from PIL import Image
    with Image.open(site.site / "Topics" / figure.group(1)) as img:  # twice the size it is shown at
        assert img.width == 2 * int(figure.group(2)) or abs(img.width - 2 * int(figure.group(2))) <= 2
