"""Material's navigation, rendered once per folder instead of once per page.

Every page repeats the navigation: for each page Material's `partials/nav-item.html` renders each link of the page's
section again, and with 1,000 notes that is a sixth of the build. A link that is not the page's own renders the same
on every page of a folder (its URL is relative to the page's folder; its title and metadata are fixed once the pages
are read), so it is rendered once per (link, folder) and reused.

Material's template is patched as mkdocs loads it, not copied: the branch that renders such a link is wrapped in a
cache lookup, the rest is Material's own. If a Material release changes that branch, the patch does not apply and
the build renders as plain Material does (tests/test_site_speed.py fails so that we notice). Jinja has no memoizing
block of its own, and no plugin on PyPI does this.
"""
from __future__ import annotations

import logging
import re

from jinja2 import ChoiceLoader, DictLoader
from mkdocs.structure.pages import Page

log = logging.getLogger("mkdocs.plugins.llm_vault")
TEMPLATE = "partials/nav-item.html"
stats: dict = {"patched": False, "lookups": 0, "links": {}}  # of the last build (tests/test_site_speed.py reads it)

# the last branch of `render`: a link that is neither a section nor the current page
_OTHER_LINK = re.compile(
    r"(\{% else %\}\s*)"
    r"(<li class=\"\{\{ class \}\}\">\s*<a href=\"\{\{ nav_item\.url \| url \}\}\" class=\"md-nav__link\">"
    r"\s*\{\{ render_content\(nav_item\) \}\}\s*</a>\s*</li>)"
    r"(\s*\{% endif %\}\s*\{% endmacro %\}\s*)$")


def _folder(page) -> str | None:
    """What a relative URL from this page depends on: its folder, as mkdocs.utils.get_relative_url reads it."""
    if not isinstance(page, Page) or page.url is None:
        return None
    folder, _, basename = page.url.rpartition("/")
    return folder if "." in basename else page.url


def _link_key(css_class: str, nav_item, page):
    folder = _folder(page)
    stats["lookups"] += folder is not None
    return None if folder is None else (css_class, id(nav_item), folder)


def patched_source(source: str) -> str | None:
    """nav-item.html with its other-link branch cached, or None when the branch is not where it was."""
    found = _OTHER_LINK.search(source)
    if found is None:
        return None
    before, link, after = found.groups()
    cached = ("{% set llm_vault_key = llm_vault_link_key(class, nav_item, page) %}"
              "{% if llm_vault_key is none %}" + link + "{% else %}"
              "{% if llm_vault_key not in llm_vault_links %}{% set llm_vault_html %}" + link + "{% endset %}"
              "{% set _ = llm_vault_links.update({llm_vault_key: llm_vault_html}) %}{% endif %}"
              "{{ llm_vault_links[llm_vault_key] }}{% endif %}")
    return source[:found.start()] + before + cached + after


def on_env(env, config, files, enabled: bool = True):
    stats.update(patched=False, lookups=0, links={})
    if not enabled:
        return env
    try:
        source, _, _ = env.loader.get_source(env, TEMPLATE)
    except Exception:  # another theme: nothing to patch
        return env
    patched = patched_source(source)
    if patched is None:
        log.debug(f"{TEMPLATE} is not the one site_theme.py knows: the navigation renders uncached")
        return env
    env.loader = ChoiceLoader([DictLoader({TEMPLATE: patched}), env.loader])
    if env.cache is not None:
        env.cache.clear()  # nothing compiled from the unpatched source is kept
    env.globals.update(llm_vault_link_key=_link_key, llm_vault_links=stats["links"])
    stats["patched"] = True
    return env
