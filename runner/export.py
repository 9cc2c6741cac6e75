"""Stage 3 — export: a note becomes a notebook (for nbclient and Jupyter) and a companion module (for imports).

jupytext reads the note, so a user who opens the `.md` in JupyterLab through jupytext sees the same cells, with the
same metadata; `to_notebook` says what the runner adds (the `.md` line of each cell, so errors point into the note).

The companion module keeps the `export` cells at top level — cheap definitions other notes import — and puts every
other cell under `if __name__ == "__main__":`, so importing never trains a model while running it as a script runs
the whole note. Each cell is headed by a jupytext percent marker carrying its `.md` line.
"""
from __future__ import annotations

import ast
import functools
import io
import os
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path

from .fences import RAISES_TAG, RUNNER_KEYS, SKIP_TAG
from .index import Fence, Note, Vault

HEADER = "# generated from {rel} — do not edit; regenerate with `llm-vault export`\n"
USAGE = ("# Import it: `from companions import {name}` (the cells marked `export`).\n"
         "# Run it: `python -m companions.{name}` runs the whole note.\n")
MAIN_GUARD = 'if __name__ == "__main__":\n'


class ExportError(Exception):
    def __init__(self, rel: str, line: int, message: str):
        super().__init__(f"{rel}:{line}: {message}")
        self.rel, self.line, self.message = rel, line, message


def companion_name(note: Note) -> str:
    explicit = note.frontmatter.get("companion")
    if explicit:
        if not str(explicit).isidentifier():
            raise ExportError(note.rel, 1, f"companion name {explicit!r} is not a Python identifier")
        return str(explicit)
    slug = re.sub(r"[^0-9a-z]+", "_", note.name.lower()).strip("_")
    return slug if slug[:1].isalpha() else f"note_{slug}"


@dataclass
class Cell:
    """A code cell of a note: its source, attributes and where it starts in the `.md` file."""
    source: str
    attrs: dict
    line: int  # first line of code (the line after the opening fence)

    @property
    def exported(self) -> bool:
        return "export" in self.attrs

    @property
    def skip_reason(self) -> str | None:
        if "skip" not in self.attrs:
            return None
        return str(self.attrs["skip"] or "marked not to run")

    @property
    def expected_error(self) -> str | None:
        value = self.attrs.get("raises")
        return None if "raises" not in self.attrs else str(value or "Exception")


def code_cells(note: Note) -> list[Cell]:
    return [Cell(f.source, f.attrs, f.line + 1) for f in note.cells]


def to_notebook(note: Note) -> "nbformat.NotebookNode":
    """The note as a notebook: `jupytext.reads(note, fmt="md")`, plus what README ("In Jupyter") lists as added.

    Every cell keeps jupytext's type, source and metadata. Added: each ```python cell's `.md` line and runner
    attributes under `metadata.llm_vault`; the `skip-execution` / `raises-exception` tags nbclient honours, where
    a note lacks them; a kernelspec and language_info; the pairing with the `.md` (`jupytext.formats`). Changed: a
    fence of another Jupyter language (```bash), which jupytext makes a `%%bash` code cell, stays Markdown, as the
    runner never runs it (`check` flags it).
    """
    import jupytext  # imported here: `check` needs only the companions, and jupytext costs 0.25 s to import
    import nbformat

    nb = jupytext.reads(note.text, fmt="md")
    lines = note.text.split("\n")
    fences = [f for f in note.fences if f.jupytext_code]
    cells, after = [], 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            cells.append(cell)
            continue
        if not fences:
            line = _line_of(lines, cell.source, after)
            raise ExportError(note.rel, line, "jupytext reads a code cell here that is no fence in Markdown "
                                              "(inside an HTML block?): put a blank line before the fence")
        fence = fences.pop(0)
        after = fence.end_line
        if not fence.is_python_cell:
            cells.append(nbformat.v4.new_markdown_cell("\n".join(lines[fence.line - 1:fence.end_line])))
            continue
        if cell.source.strip("\n") != fence.source.strip("\n"):
            raise ExportError(note.rel, fence.line, "jupytext and the Markdown parser disagree about this code cell")
        _add_runner_metadata(cell.metadata, fence)
        cells.append(cell)
    if any(f.is_python_cell for f in fences):
        line = next(f.line for f in fences if f.is_python_cell)
        raise ExportError(note.rel, line, "jupytext did not read this ```python fence as a code cell")
    nb.cells = cells
    # paired with its note: `jupytext --sync` writes the `.md` back without a header (the note's bytes unchanged)
    nb.metadata["jupytext"].update(formats="ipynb,md", notebook_metadata_filter="-all")
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python", "file_extension": ".py", "mimetype": "text/x-python"}
    nb.metadata["llm_vault"] = {"note": note.rel}
    return nb


def _line_of(lines: list[str], source: str, after: int) -> int:
    first = source.split("\n", 1)[0]
    return next((i + 1 for i in range(after, len(lines)) if lines[i] == first), after + 1)


def _add_runner_metadata(meta: dict, fence: Fence) -> None:
    cell = Cell(fence.source, fence.attrs, fence.line + 1)
    meta["llm_vault"] = {"line": cell.line, **{k: v for k, v in fence.attrs.items() if k in RUNNER_KEYS}}
    tags = meta.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        del meta["tags"]  # no valid notebook holds it; `check` and `run` report the attribute
        tags = []
    tags = list(tags)
    for needed, tag in ((cell.skip_reason, SKIP_TAG), (cell.expected_error, RAISES_TAG)):
        if needed is not None and tag not in tags:
            tags.append(tag)
    if tags:
        meta["tags"] = tags


def companion_source(note: Note) -> str | None:
    """The companion module's text, or None when the note has no Python cells."""
    cells = code_cells(note)
    if not cells:
        return None
    name = companion_name(note)
    # jupytext's percent format, written directly: jupytext's writer costs ~30 ms a note, and `check` regenerates
    # every companion to compare it with the committed file, within a one-second budget for the whole vault
    blocks = [f"# %%{' export' if cell.exported else ''} note_line={cell.line}\n{_companion_cell(note, cell)}\n"
              for cell in cells]
    return HEADER.format(rel=f"vault/{note.rel}") + USAGE.format(name=name) + "\n" + "\n\n".join(blocks)


def _companion_cell(note: Note, cell: Cell) -> str:
    source = _comment_magics(cell.source.rstrip("\n"))
    if cell.skip_reason is not None:
        commented = "\n".join("# " + l if l.strip() else "#" for l in source.split("\n"))
        return f"# not run: {cell.skip_reason}\n{commented}"
    if cell.exported:
        return source
    if cell.expected_error is not None:
        source = (f"try:\n{_indent(note, cell, source)}\nexcept {cell.expected_error}:\n"
                  f"    pass  # the note shows this error on purpose")
    body = _indent(note, cell, source)
    return MAIN_GUARD + (body if body.strip() and not _only_comments(source) else body + "\n    pass")


def _comment_magics(source: str) -> str:
    return "\n".join("# " + l if l.lstrip().startswith(("%", "!")) else l for l in source.split("\n"))


def _only_comments(source: str) -> bool:
    return all(not l.strip() or l.lstrip().startswith("#") for l in source.split("\n"))


def _indent(note: Note, cell: Cell, source: str) -> str:
    """Indent by four spaces, except lines inside multi-line strings, whose text must not change."""
    try:
        ast.parse(source)
    except SyntaxError as exc:
        raise ExportError(note.rel, cell.line + (exc.lineno or 1) - 1, f"cannot parse this cell: {exc.msg}") from None
    lines = source.split("\n")
    if not any(quote in source for quote in ('"""', "'''", "\\\n")):  # no string can span lines: no tokenizing
        return "\n".join("    " + l if l else l for l in lines)
    tokens = list(tokenize.generate_tokens(io.StringIO(source + "\n").readline))
    inside_string: set[int] = set()
    starts: list[int] = []
    for tok in tokens:
        kind = tokenize.tok_name[tok.type]
        if kind == "STRING" and tok.end[0] > tok.start[0]:
            inside_string.update(range(tok.start[0] + 1, tok.end[0] + 1))
        elif kind == "FSTRING_START":
            starts.append(tok.start[0])
        elif kind == "FSTRING_END" and starts:
            inside_string.update(range(starts.pop() + 1, tok.end[0] + 1))
    return "\n".join(l if i + 1 in inside_string or not l else "    " + l for i, l in enumerate(lines))


def companion_imports(note: Note) -> set[str]:
    """Names of the companions a note imports (`from companions import x`, `import companions.x`, …)."""
    return set(_imports_in(tuple(fence.source for fence in note.cells)))


@functools.lru_cache(maxsize=None)
def _imports_in(sources: tuple[str, ...]) -> frozenset[str]:
    # memoised: the cache key of every note walks the imports of the notes it depends on
    found: set[str] = set()
    for source in sources:
        if "companions" not in source:
            continue
        try:
            tree = ast.parse(_comment_magics(source))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module == "companions":
                    found.update(a.name for a in node.names)
                elif node.module.startswith("companions."):
                    found.add(node.module.split(".")[1])
            elif isinstance(node, ast.Import):
                found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("companions."))
    return frozenset(found)


INIT_SOURCE = (
    '"""Companion modules of the vault\'s notes, generated by `llm-vault export` — do not edit.\n\n'
    "`from companions import <name>` gives the cells a note marks `export`; `<name>` is the note's title in\n"
    "snake_case, or its frontmatter `companion:` key. Each module's first line names its note.\n"
    '"""\n'
)


def planned_companions(vault: Vault) -> dict[Path, str]:
    """Every file `export` would write: {path: text}. Raises ExportError for a note that cannot be exported."""
    out_dir = vault.root / "companions"
    files: dict[Path, str] = {}
    names: dict[str, str] = {}
    for note in vault.notes:
        text = companion_source(note)
        if text is None:
            continue
        name = companion_name(note)
        if name in names:
            raise ExportError(note.rel, 1, f"companion name '{name}' is also used by {names[name]}")
        names[name] = note.rel
        files[out_dir / f"{name}.py"] = text
    if names:
        files[out_dir / "__init__.py"] = INIT_SOURCE
    return files


def stale_companions(vault: Vault) -> list[tuple[Path, str]]:
    """(path, why) for each companion file that differs from what its note generates, or has no note."""
    wanted = planned_companions(vault)
    out_dir = vault.root / "companions"
    found = []
    for path, text in wanted.items():
        if not path.exists():
            found.append((path, "missing"))
        elif path.read_text(encoding="utf-8") != text:
            found.append((path, "out of date"))
    if out_dir.exists():
        for path in sorted(out_dir.glob("*.py")):
            if path not in wanted:
                found.append((path, "has no note"))
    return found


def write_companions(vault: Vault, wanted: dict[Path, str] | None = None) -> list[Path]:
    """Write every companion whose text changed (atomically); remove those whose note is gone.

    `wanted`: what `planned_companions(vault)` returns, when the caller has it already.
    """
    wanted = planned_companions(vault) if wanted is None else wanted
    out_dir = vault.root / "companions"
    out_dir.mkdir(exist_ok=True)
    written = []
    for path, text in wanted.items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # per process: two runs may export at once
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(path)
            written.append(path)
    for path in out_dir.glob("*.py"):
        if path not in wanted:
            path.unlink(missing_ok=True)
            written.append(path)
    return written
