"""The notebooks the site offers for download (`site/notebooks/<companion>.ipynb`), as their text.

A note that ran offers its cached, executed notebook; one that never ran offers jupytext's reading of it
(`to_notebook`). That reading — jupytext, then nbformat validating every cell — was a fifth of the build of a
1,000-note vault, so while mkdocs renders pages on one core, worker processes forked from the build read the notes
on the others (in the order the pages come). A small vault, one core, or `llm-vault serve` (whose live-reload
threads make forking unsafe) reads them in the build's own process, as they are needed.
"""
from __future__ import annotations

import json
import multiprocessing
import os

import nbformat

from .export import ExportError, to_notebook
from .index import Note
from .outputs import scrub_paths

POOL_FROM = 50  # notes without a run: below this, starting workers costs more than it saves
_NOTES: dict[str, Note] = {}  # what the workers read: set before they are forked, inherited by them


def published(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook as downloaded from the site: its outputs without the build machine's paths."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if "text" in out:
                out["text"] = scrub_paths("".join(out["text"]) if isinstance(out["text"], list) else out["text"])
            if "traceback" in out:
                out["traceback"] = [scrub_paths(line) for line in out["traceback"]]
            for mime in ("text/plain", "text/html"):
                if mime in out.get("data", {}):
                    value = out["data"][mime]
                    out["data"][mime] = scrub_paths("".join(value) if isinstance(value, list) else value)
    return nb


def notebook_text(nb: nbformat.NotebookNode) -> str:
    text = nbformat.writes(published(nb))
    return text if text.endswith("\n") else text + "\n"  # as nbformat.write ends a file


def _read(rel: str) -> tuple[str, str | None]:
    """In a worker: the never-run note's notebook as text, or None where jupytext cannot read it."""
    try:
        return rel, notebook_text(to_notebook(_NOTES[rel]))
    except ExportError:
        return rel, None


class Notebooks:
    """{companion name: notebook text} of the site, filled as pages render; `unrun` notes are read ahead."""

    def __init__(self, unrun: list[Note], parallel: bool = True):
        self.texts: dict[str, str] = {}
        self._ready: dict[str, str | None] = {}
        self._pool = self._results = None
        workers = min(4, (os.cpu_count() or 1) - 1)
        if parallel and workers >= 1 and len(unrun) >= POOL_FROM and "fork" in multiprocessing.get_all_start_methods():
            _NOTES.clear()
            _NOTES.update({note.rel: note for note in unrun})
            self._pool = multiprocessing.get_context("fork").Pool(workers)
            self._results = self._pool.imap_unordered(_read, [note.rel for note in unrun])  # next(timeout=)

    def never_run(self, name: str, note: Note) -> bool:
        """Offer the note's unexecuted notebook; False where jupytext cannot read the note (no download then)."""
        text = self._wait_for(note) if self._pool is not None and note.rel in _NOTES else self._read_here(note)
        if text is not None:
            self.texts[name] = text
        return text is not None

    def ran(self, name: str, nb: nbformat.NotebookNode) -> None:
        self.texts[name] = notebook_text(nb)

    def _read_here(self, note: Note) -> str | None:
        try:
            return notebook_text(to_notebook(note))
        except ExportError:
            return None

    def _wait_for(self, note: Note) -> str | None:
        while note.rel not in self._ready:
            try:
                rel, text = self._results.next(timeout=60)
            except (StopIteration, multiprocessing.TimeoutError):  # a worker died with its notes: read it here
                return self._read_here(note)
            self._ready[rel] = text
        return self._ready.pop(note.rel)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None
