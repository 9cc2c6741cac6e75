"""What a figure shows, in words, for its alt text: read from the code that draws it.

The executed notebook keeps only the image, so the words come from the cell's source: the strings it passes to
matplotlib's titles and axis labels (`plt.title`, `ax.set_title`, `fig.suptitle`, `plt.xlabel`, `ax.set(...)`),
f-strings with their fields shown as "…". A cell that names nothing gets "Figure under “<its section>”".
"""
from __future__ import annotations

import ast

TITLES = {"title", "set_title", "suptitle"}
XLABELS = {"xlabel", "set_xlabel"}
YLABELS = {"ylabel", "set_ylabel"}


def _words(node) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "…" for v in node.values)
    return None


def _labels(tree) -> tuple[list[str], list[str], list[str]]:
    titles, xs, ys = [], [], []
    calls = sorted((n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, (ast.Attribute,
                    ast.Name))), key=lambda n: (n.lineno, n.col_offset))
    for call in calls:
        name = call.func.attr if isinstance(call.func, ast.Attribute) else call.func.id
        first = _words(call.args[0]) if call.args else None
        keywords = {k.arg: _words(k.value) for k in call.keywords if k.arg}
        if name in TITLES:
            titles.append(first or keywords.get("label") or keywords.get("t"))
        elif name in XLABELS:
            xs.append(first or keywords.get("xlabel"))
        elif name in YLABELS:
            ys.append(first or keywords.get("ylabel"))
        elif name == "set":  # ax.set(title=..., xlabel=..., ylabel=...)
            titles.append(keywords.get("title"))
            xs.append(keywords.get("xlabel"))
            ys.append(keywords.get("ylabel"))
    return ([t.strip() for t in titles if t and t.strip()], [x.strip() for x in xs if x and x.strip()],
            [y.strip() for y in ys if y and y.strip()])


def describe(source: str, section: str | None = None) -> str:
    """One sentence for every figure of a cell (a cell usually draws one figure, perhaps with several panels)."""
    try:
        titles, xs, ys = _labels(ast.parse(source))
    except SyntaxError:
        titles, xs, ys = [], [], []
    axes = []
    if xs:
        axes.append("x: " + ", ".join(dict.fromkeys(xs)))
    if ys:
        axes.append("y: " + ", ".join(dict.fromkeys(ys)))
    if titles:
        text = "Figure: " + "; ".join(dict.fromkeys(titles))
        return text + (f" ({'; '.join(axes)})" if axes else "")
    if axes:
        return f"Plot of {'; '.join(axes)}"
    return f"Figure under “{section}”" if section else "Figure drawn by the code above"
