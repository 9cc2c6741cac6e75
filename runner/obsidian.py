"""What the vault's Obsidian plugin shows: each note's last run, written into the vault where the plugin can read it.

`run` and `build` call `write_outputs` once their runs end. For every note that ran (or came from the cache) it
writes `vault/.llm-vault-outputs/notes/<note path>.json`: the verification badge, and for each code cell its fence
attributes, a hash of the code that ran (so the plugin can tell when the note's code has changed since) and its
outputs — text, HTML already sanitised by the site's allow-list, figures as image files under `figures/`, errors
with the note's own line. Obsidian does not index dot-folders, so none of this appears in the vault's file list,
search or graph; the plugin reads it through the vault adapter, which also works on Obsidian mobile.

Every file is written under a temporary name and renamed into place, so the plugin never reads half a file; a
note that cannot be written is reported and the others are still written.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from .cache import Cache, Result
from .export import companion_name, ExportError
from .index import Vault
from .outputs import IMAGES, _clean, _text, sanitize_html
from .report import CELL_REF, strip_ansi

OUTPUT_DIR = ".llm-vault-outputs"
FORMAT = 1  # bump when the JSON changes shape; the plugin refuses a format it does not know
FIGURE_SUFFIX = {"image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif", "image/svg+xml": ".svg"}
FIGURE_GRACE_S = 600  # an unreferenced figure younger than this may belong to a run still writing its note


def canonical_source(source: str) -> str:
    """The code of a cell as the plugin sees it too: LF line ends, no trailing spaces, no blank lines around it."""
    lines = source.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(line.rstrip() for line in lines).strip("\n")


def source_hash(source: str) -> str:
    """FNV-1a (32 bit) of the canonical code's UTF-8 bytes, with their count.

    Not sha256: the plugin must compute it synchronously while CodeMirror builds its decorations, and the browser's
    only built-in digest (crypto.subtle) is asynchronous. It only has to notice that a cell's code was edited.
    """
    data = canonical_source(source).encode("utf-8")
    h = 0x811C9DC5
    for byte in data:
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return f"{len(data)}-{h:08x}"


def run_command(rel: str) -> str:
    return f'llm-vault run "{rel}"'


def write_outputs(vault: Vault, results: list[Result], cache: Cache) -> list[Path]:
    """Write the plugin's file of every note in `results` whose run it does not show yet; returns the files written."""
    root = vault.root / OUTPUT_DIR
    notes = {note.rel: note for note in vault.notes}
    written = []
    for result in results:
        note = notes.get(result.note)
        target = root / "notes" / f"{result.note}.json"
        if note is None or _shows(target, result):
            continue
        try:
            written.append(_write_note(root, target, note, result, cache))
        except (OSError, ValueError, KeyError) as exc:  # one note that cannot be written never stops the others
            print(f"{result.note}: the Obsidian plugin's outputs were not written: {exc}", file=sys.stderr)
    try:
        _remove_orphans(root, {n.rel for n in vault.notes if n.cells})
    except OSError as exc:
        print(f"{root}: could not tidy the Obsidian plugin's outputs: {exc}", file=sys.stderr)
    return written


def _shows(target: Path, result: Result) -> bool:
    try:
        shown = json.loads(target.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    run = shown.get("run") or {}
    return shown.get("format") == FORMAT and run.get("key") == result.key and run.get("date") == result.date


def _write_note(root: Path, target: Path, note, result: Result, cache: Cache) -> Path:
    try:
        # plain JSON, not nbformat.read: validating every notebook would double the time of a no-change `run`
        nb = json.loads((cache.entry(result.key) / "notebook.ipynb").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        nb = None  # a note whose kernel never started: its badge and report, no outputs
    try:
        companion = companion_name(note)
    except ExportError:
        companion = None
    cells = [c for c in (nb or {}).get("cells", []) if c.get("cell_type") == "code"]
    line_of_count = {c.get("execution_count"): _meta(c).get("line") for c in cells if c.get("execution_count")}
    data = {
        "format": FORMAT,
        "note": note.rel,
        "command": run_command(note.rel),
        "companion": companion,
        "run": {"status": "passed" if result.ok else "failed", "device": result.device, "seconds": result.seconds,
                "date": result.date, "key": result.key, "report": result.report, "line": result.line},
        "cells": [_cell(root, note.rel, c, line_of_count) for c in cells],
    }
    _write_atomic(target, json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    return target


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("llm_vault", {})


def _cell(root: Path, rel: str, cell, line_of_count) -> dict:
    meta = _meta(cell)
    attrs = {}
    if "export" in meta:
        attrs["export"] = True
    if "skip" in meta:
        attrs["skip"] = str(meta["skip"] or "marked not to run")
    if "raises" in meta:
        attrs["raises"] = str(meta["raises"] or "Exception")
    outputs = [o for o in (_output(root, rel, out, cell, line_of_count) for out in cell.get("outputs", [])) if o]
    return {"line": meta.get("line"), "hash": source_hash(_text(cell.get("source"))), "attrs": attrs,
            "executed": bool(cell.get("execution_count")) or bool(cell.get("outputs")), "outputs": outputs}


def _output(root: Path, rel: str, out, cell, line_of_count) -> dict | None:
    kind = out.get("output_type")
    if kind == "stream":
        return {"kind": "stream", "name": out.get("name", "stdout"), "text": _clean(_text(out.get("text")))}
    if kind == "error":
        return _error(rel, out, cell, line_of_count)
    if kind not in ("execute_result", "display_data"):
        return None
    data = out.get("data", {})
    for mime in IMAGES:
        if mime in data:
            raw = _text(data[mime])  # shown by <img>, where an SVG's scripts never run
            blob = raw.encode() if mime == "image/svg+xml" else base64.b64decode(raw)
            name = f"{hashlib.sha256(blob).hexdigest()[:16]}{FIGURE_SUFFIX[mime]}"
            path = root / "figures" / name
            if not path.exists():
                _write_atomic(path, blob)
            return {"kind": "figure", "src": f"figures/{name}", "mime": mime}
    if "text/html" in data:
        return {"kind": "html", "html": sanitize_html(_text(data["text/html"]))}
    if "text/plain" in data:
        return {"kind": "result", "text": _clean(_text(data["text/plain"]))}
    return None


def _error(rel: str, out, cell, line_of_count) -> dict:
    """The traceback with every `Cell In[N], line M` rewritten to `note.md:LINE`, and the failing line itself."""
    trace = strip_ansi("\n".join(out.get("traceback") or [])) or f"{out.get('ename')}: {out.get('evalue')}"
    start, count = _meta(cell).get("line"), cell.get("execution_count")
    line = next((start + int(m.group(2)) - 1 for m in CELL_REF.finditer(trace)
                 if start is not None and int(m.group(1)) == count), None)

    def to_md(m):
        base = line_of_count.get(int(m.group(1)))
        return f"{rel}:{base + int(m.group(2)) - 1}" if base else m.group(0)

    return {"kind": "error", "ename": out.get("ename", ""), "evalue": out.get("evalue", ""),
            "text": CELL_REF.sub(to_md, trace), "line": line, "expected": "raises" in _meta(cell)}


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _remove_orphans(root: Path, notes_with_code: set[str]) -> None:
    """Drop the files of notes that are gone (renamed, deleted, no code left), and figures nothing shows."""
    notes_dir = root / "notes"
    used: set[str] = set()
    for path in notes_dir.rglob("*.json") if notes_dir.is_dir() else []:
        rel = path.relative_to(notes_dir).as_posix()[: -len(".json")]
        if rel not in notes_with_code:
            path.unlink(missing_ok=True)
            continue
        try:
            cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
        except (OSError, ValueError):
            continue
        used.update(o["src"] for c in cells for o in c.get("outputs", []) if o.get("kind") == "figure")
    figures = root / "figures"
    now = time.time()
    for path in figures.iterdir() if figures.is_dir() else []:
        if f"figures/{path.name}" not in used and now - path.stat().st_mtime > FIGURE_GRACE_S:
            path.unlink(missing_ok=True)
