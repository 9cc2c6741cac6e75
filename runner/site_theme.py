"""Material's navigation, rendered once per folder instead of once per page.

Every page repeats the navigation: for each page Material's `partials/nav-item.html` renders each link of the page's
section again, and with 1,000 notes that is a sixth of the build. A link that is not the page's own renders the same
on every page of a folder (its URL is relative to the page's folder; its title and metadata are fixed once the pages
are read), so it is rendered once per (link, folder) and reused.

Material's template is patched as mkdocs loads it, not copied: its `render` macro (one item, and through itself the
items under it) is wrapped in a cache lookup for items off the page's path; the macro's body stays Material's own.
If a Material release changes the macro's signature, the patch does not apply and the build renders as plain
Material does (tests/test_site_speed.py fails so that we notice). Jinja has no memoizing
block of its own, and no plugin on PyPI does this.
"""
from __future__ import annotations

import logging
import re

from jinja2 import ChoiceLoader, DictLoader, TemplateNotFound, Undefined
from mkdocs.structure.pages import Page

log = logging.getLogger("mkdocs.plugins.llm_vault")
TEMPLATE = "partials/nav-item.html"
stats: dict = {"patched": False, "lookups": 0, "items": {}}  # of the last build (tests/test_site_speed.py reads it)

# Material's `render` macro, which renders one navigation item and, through itself, the items under it
_RENDER = re.compile(r"(\{% macro render\(nav_item, path, level, parent\) %\})(.*?)(\{% endmacro %\}\s*)$", re.DOTALL)


def _folder(page) -> str | None:
    """What a relative URL from this page depends on: its folder, as mkdocs.utils.get_relative_url reads it."""
    if not isinstance(page, Page) or page.url is None:
        return None
    folder, _, basename = page.url.rpartition("/")
    return folder if "." in basename else page.url


def _item_key(nav_item, path, level, parent, page):
    """None for an item on the page's own path (the page and its sections), which renders differently on each
    page; otherwise what its HTML depends on. `parent.active` decides Material's `navigation.sections` layout."""
    folder = _folder(page)
    if folder is None or getattr(nav_item, "active", False):
        return None
    stats["lookups"] += 1
    parent_active = not isinstance(parent, Undefined) and bool(getattr(parent, "active", False))
    return id(nav_item), path, level, parent_active, folder


def patched_source(source: str) -> str | None:
    """nav-item.html with `render` cached for items off the page's path, or None when `render` is not found."""
    found = _RENDER.search(source)
    if found is None or "nav_item.active" not in found.group(2):
        return None
    start, body, end = found.groups()
    # the body once: rendered (and kept, when it has a key) unless a kept copy exists; Jinja's `if` opens no scope
    cached = ("{% set llm_vault_key = llm_vault_item_key(nav_item, path, level, parent, page) %}"
              "{% if llm_vault_key is none or llm_vault_key not in llm_vault_items %}"
              "{% set llm_vault_html %}" + body + "{% endset %}"
              "{% if llm_vault_key is not none %}{% set _ = llm_vault_items.update({llm_vault_key: llm_vault_html}) %}"
              "{% endif %}{% else %}{% set llm_vault_html = llm_vault_items[llm_vault_key] %}{% endif %}"
              "{{ llm_vault_html }}")
    return source[:found.start()] + start + cached + end


def on_env(env, config, files, enabled: bool = True):
    stats.update(patched=False, lookups=0, items={})
    if not enabled:
        return env
    try:
        source, _, _ = env.loader.get_source(env, TEMPLATE)
    except TemplateNotFound:  # another theme: nothing to patch
        return env
    patched = patched_source(source)
    if patched is None:
        log.debug(f"{TEMPLATE} is not the one site_theme.py knows: the navigation renders uncached")
        return env
    env.loader = ChoiceLoader([DictLoader({TEMPLATE: patched}), env.loader])
    if env.cache is not None:
        env.cache.clear()  # nothing compiled from the unpatched source is kept
    env.globals.update(llm_vault_item_key=_item_key, llm_vault_items=stats["items"])
    stats["patched"] = True
    return env
