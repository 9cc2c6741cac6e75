"""Each note's parse, kept between runs: a run where nothing changed does not parse the vault again.

The parse (index.read_note) is the largest part of a no-change `llm-vault run` (0.4 s of 1.2 s for the vault). It is
kept in one pickle in the cache folder, keyed by each note's bytes and path and by a hash of the parser's own code and
versions, so an edit, a move, an upgrade or a change to the parser parses the note again; an unreadable file is
ignored.
"""
from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from pathlib import Path

import yaml

from . import index
from .index import Note


def _parser_version() -> str:
    import markdown_it

    from . import fences, inline, obsidian_md

    digest = hashlib.sha256(f"{markdown_it.__version__} {yaml.__version__}".encode())
    for module in (fences, inline, obsidian_md):
        digest.update(Path(module.__file__).read_bytes())
    digest.update(Path(index.__file__).read_bytes())
    return digest.hexdigest()


def read_notes_kept(paths: list[Path], root: Path, parsed: Path) -> list[Note]:
    version = _parser_version()
    try:
        stored = pickle.loads(parsed.read_bytes())
        kept = stored["notes"] if stored.get("version") == version else {}
    except Exception:  # none yet, or unreadable: parse everything
        kept = {}
    notes, fresh = [], {}
    for path in paths:
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest() + str(path)
        except OSError:
            notes.append(index.read_note(path, root))  # read_note reports it
            continue
        note = kept.get(digest)
        if note is None:
            note = index.read_note(path, root)
        fresh[digest] = note
        notes.append(note)
    if fresh.keys() != kept.keys():
        _store(parsed, {"version": version, "notes": fresh})
    return notes


def _store(parsed: Path, data: dict) -> None:
    """Whole or not at all (a temporary file renamed over the old one); a read-only or full cache folder only means
    parsing again next time."""
    tmp = None
    try:
        parsed.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=parsed.parent, prefix=".parsed-")
        with os.fdopen(fd, "wb") as out:
            pickle.dump(data, out, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, parsed)
    except OSError:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
