"""Obsidian's math on the site: `$…$` inline, `$$…$$` display, typeset in the reader's browser by a vendored KaTeX.

Parsing is pymdownx.arithmatex (maintained, part of Material's stack) restricted to what Obsidian accepts: dollar
delimiters only (Obsidian renders neither `\\(…\\)` nor a bare `\\begin{…}`), "smart" dollars (no space after the
opening `$` nor before the closing one, so "$5 and $10" stays text), and its escape `\\$`. Arithmatex runs before
Markdown's backslash escapes, so `\\!` and `\\,` reach the typesetter intact, and after code spans, so math inside
code is never touched. Obsidian also renders `$$…$$` in the middle of a paragraph as display math; arithmatex only
knows `$$` blocks that stand alone, so `InlineDisplayPattern` below adds that case.

Why KaTeX in the browser rather than MathML generated at build time: screenshots of the vault's heaviest formulas
in Chromium (BM25's score, CLIP's loss, DPO's loss) show latex2mathml's native MathML without stretchy delimiters
(`\\left[`, `\\Big(` stay text-sized) and with cramped sums, while KaTeX and MathJax 3 look alike and typeset
like TeX. KaTeX is a quarter of MathJax's size, renders synchronously, and costs the build nothing (the build only
wraps the TeX in a span); it is loaded only by pages that have math (assets/math.js). Vendored: KaTeX 0.16.47, its woff2 fonts only. Obsidian itself uses
MathJax; the browser test checks that KaTeX typesets every formula of the vault without an error.
"""
from __future__ import annotations

import xml.etree.ElementTree as etree

from markdown import Extension
from markdown.inlinepatterns import InlineProcessor
from markdown.util import AtomicString
from pymdownx.arithmatex import ArithmatexExtension

KATEX_DIR = "katex"  # under runner/assets/, vendored from the `katex` npm package with its licence


class InlineDisplayPattern(InlineProcessor):
    """`text $$x$$ text` → display math, as Obsidian shows it (a `$$` paragraph of its own is arithmatex's)."""

    def handleMatch(self, m, data):
        el = etree.Element("span", {"class": "arithmatex arithmatex-display"})
        el.text = AtomicString(f"\\[{m.group(1)}\\]")
        return el, m.start(0), m.end(0)


class ObsidianMathExtension(Extension):
    def extendMarkdown(self, md):
        ArithmatexExtension(generic=True, smart_dollar=True, inline_syntax=["dollar"],
                            block_syntax=["dollar"]).extendMarkdown(md)
        # before arithmatex's inline `$` (189.9), which would otherwise take `$$x$$` for `$` + `$x$` + `$`
        md.inlinePatterns.register(InlineDisplayPattern(r"(?<![\\$])\$\$(?!\$)((?:\\.|[^\\$])+?)\$\$", md),
                                   "obsidian-display-math", 189.95)
