"""Stage 5 — cache: executed notebooks and their results, keyed by everything that can change what a note prints.

The key covers the note's code cells and their attributes (not its prose), the text of every companion it imports
(transitively), the data files it declares, and the Python, torch and runner versions and the device. An entry is a
folder `<cache>/runs/<key>/` holding `notebook.ipynb` and `result.json`; it is written under a temporary name and
renamed into place, so a run killed at any moment leaves no half-written entry, and two runs at once both succeed.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

import nbformat

from . import __version__
from .export import code_cells, companion_imports, companion_name
from .index import Note, Vault


@dataclass
class Result:
    note: str                 # rel path in the vault
    status: str               # passed | failed
    seconds: float
    key: str
    device: str
    date: str
    report: str = ""          # the failure report, empty when passed
    line: int | None = None   # `.md` line of the failing statement
    cached: bool = False
    cells: int = 0
    skipped: list[dict] = field(default_factory=list)  # [{"line": .., "reason": ..}]

    @property
    def ok(self) -> bool:
        return self.status == "passed"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "absent"


@functools.lru_cache(maxsize=None)  # once per process: reading package metadata costs ~7 ms, per note
def environment_fingerprint(device: str) -> str:
    return json.dumps({"python": platform.python_version(), "torch": _version("torch"), "runner": __version__,
                       "device": device}, sort_keys=True)


def note_key(note: Note, vault: Vault, companions: dict[str, str], device: str) -> str:
    """`companions`: {name: generated text} of every companion of the vault."""
    digest = hashlib.sha256(environment_fingerprint(device).encode())
    for cell in code_cells(note):
        digest.update(json.dumps([cell.source, cell.attrs], sort_keys=True).encode())
    for name in sorted(_transitive_imports(note, vault, companions)):
        digest.update(f"\0companion {name}\0".encode() + companions.get(name, "").encode())
    for rel in note.frontmatter.get("data") or []:
        path = note.path.parent / rel
        digest.update(f"\0data {rel}\0".encode() + (path.read_bytes() if path.is_file() else b"<missing>"))
    return digest.hexdigest()[:20]


_owners: tuple[Vault | None, dict[str, Note]] = (None, {})


def _companion_owners(vault: Vault) -> dict[str, Note]:
    """{companion name: note}, built once per vault: per note it made planning quadratic (1,000 notes: 1M calls)."""
    global _owners
    if _owners[0] is not vault:
        _owners = (vault, {companion_name(n): n for n in vault.notes if n.cells})
    return _owners[1]


def _transitive_imports(note: Note, vault: Vault, companions: dict[str, str]) -> set[str]:
    by_name = _companion_owners(vault)
    seen: set[str] = set()
    todo = list(companion_imports(note))
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        if name in by_name:
            todo.extend(companion_imports(by_name[name]))
    own = companion_name(note) if note.cells else None
    return seen - {own}


class Cache:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.runs = self.root / "runs"

    def entry(self, key: str) -> Path:
        return self.runs / key

    def result(self, key: str) -> Result | None:
        """The stored result alone: a cache hit in `run` needs no notebook (nbformat's read validates, slowly)."""
        try:
            result = Result(**json.loads((self.entry(key) / "result.json").read_text()))
        except (FileNotFoundError, json.JSONDecodeError, TypeError):
            return None
        result.cached = True
        return result

    def load(self, key: str) -> tuple[Result, nbformat.NotebookNode] | None:
        result = self.result(key)
        if result is None:
            return None
        try:
            nb = nbformat.read(self.entry(key) / "notebook.ipynb", as_version=4)
        except (FileNotFoundError, json.JSONDecodeError, nbformat.reader.NotJSONError):
            return None
        return result, nb

    def store(self, result: Result, nb: nbformat.NotebookNode) -> None:
        self.runs.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{result.key}.", dir=self.runs))
        try:
            nbformat.write(nb, tmp / "notebook.ipynb")
            data = asdict(result)
            data["cached"] = False
            (tmp / "result.json").write_text(json.dumps(data, indent=1))
            try:
                os.rename(tmp, self.entry(result.key))
            except OSError:
                # another run stored the same key first: same inputs, equally valid — keep theirs
                shutil.rmtree(tmp, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def drop(self, key: str) -> None:
        shutil.rmtree(self.entry(key), ignore_errors=True)
