"""What the site does to build faster changes nothing a reader sees (tests/bench_site.py measures the gain)."""
from __future__ import annotations

from pathlib import Path

import pytest
from site_helpers import build, built_site, fresh_vault

from runner import site as site_mod
from runner import site_theme
from runner.site_nav import CHUNK


@pytest.fixture()
def nav_cache_off():
    site_mod.options["nav_cache"] = False
    yield
    site_mod.options.pop("nav_cache", None)


def _pages(site: Path) -> dict[str, bytes]:
    return {p.relative_to(site).as_posix(): p.read_bytes() for p in sorted(site.rglob("*.html"))}


def test_navigation_rendered_once_per_folder_is_byte_for_byte_materials(tmp_path, request):
    """The fixture vault, plus a folder big enough to be split into runs and a folder two levels down: every page
    is the same with the navigation cache as with Material's template alone."""
    vault = fresh_vault(tmp_path)
    big = vault / "Big" / "Deep"
    big.mkdir(parents=True)
    n = 2 * CHUNK + 3
    for i in range(n):
        (big / f"Note {i:03d}.md").write_text(f"# Note {i:03d}\n\nSee [[Note {(i + 1) % n:03d}]] and [[Beta]].\n")
    (vault / "Big" / "Top.md").write_text("# Top\n\nSee [[Note 001]].\n")
    request.getfixturevalue("nav_cache_off")
    build(vault, tmp_path / "plain", tmp_path / "cache", run=False)
    assert not site_theme.stats["patched"]
    site_mod.options.pop("nav_cache")
    build(vault, tmp_path / "cached", tmp_path / "cache", run=False)
    stats = site_theme.stats
    assert stats["patched"]
    assert stats["lookups"] > 10 * len(stats["items"]) > 0, stats["lookups"]  # most links came from the cache
    plain, cached = _pages(tmp_path / "plain"), _pages(tmp_path / "cached")
    assert plain.keys() == cached.keys() and len(plain) > n
    assert [name for name in plain if plain[name] != cached[name]] == []


def test_the_patch_fits_the_installed_material_and_refuses_a_changed_one():
    import material
    from jinja2 import Environment, FileSystemLoader

    templates = Path(material.__file__).parent / "templates"
    source = (templates / site_theme.TEMPLATE).read_text()
    patched = site_theme.patched_source(source)
    assert patched is not None and patched.count("llm_vault_items") == 3
    Environment(loader=FileSystemLoader(str(templates))).parse(patched)  # still a template Jinja reads
    # a release whose macro takes other arguments, or no longer decides by `nav_item.active`, is left alone
    for changed in (source.replace("render(nav_item, path, level, parent)", "render(nav_item, path, level)"),
                    source.replace("nav_item.active", "nav_item.is_active")):
        assert changed != source and site_theme.patched_source(changed) is None


def test_only_pages_with_figures_load_the_zoom_script():
    site = built_site().site
    beta, gamma = (site / "Beta.html").read_text(), (site / "Topics/Gamma.html").read_text()
    assert "<img" in gamma and "glightbox.min.js" in gamma and 'class="glightbox"' in gamma
    assert "<img" not in beta.split('<article', 1)[1].split("</article>")[0]
    assert "glightbox" not in beta
