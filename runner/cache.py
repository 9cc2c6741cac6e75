"""Stage 5 — cache: executed notebooks and their results, keyed by everything that can change what a note prints.

The key covers the note's code cells and their attributes (not its prose, not its path), the text of every companion
it imports (transitively), the data files it declares (a folder by its contents), the Python, torch and runner
versions, the device and the thread count. An entry is a folder `<cache>/runs/<key>/` holding `notebook.ipynb` and
`result.json`; it is written under a temporary name and renamed into place, so a run killed at any moment (or a full
disk) leaves no half-written entry, and two runs at once both succeed.

Because the key ignores where a note is, an entry may have been stored by a note since renamed, moved, given more
prose above its code, or by another note with the same code: `relabel()` reports it under the note asking for it, at
that note's current lines.
"""
from __future__ import annotations

import functools
import errno
import hashlib
import json
import os
import platform
import re
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
    cell_lines: list[int] = field(default_factory=list)   # first `.md` line of each code cell, when it ran
    cell_seconds: list = field(default_factory=list)      # run time of each code cell (None: not run)
    artifacts: list[str] = field(default_factory=list)    # artifacts (relative to the cache) the run built or read
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.status == "passed"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "absent"


@functools.lru_cache(maxsize=None)  # once per process: reading package metadata costs ~7 ms, per note
def environment_fingerprint(device: str, threads: int = 1) -> str:
    facts = {"python": platform.python_version(), "torch": _version("torch"), "runner": __version__, "device": device}
    if threads != 1:  # floating-point reductions depend on it; left out at 1 so existing 1-thread entries stay valid
        facts["threads"] = threads
    return json.dumps(facts, sort_keys=True)


def data_entries(note: Note) -> list[str]:
    """The `data:` frontmatter as a list (a single string is one entry, not a list of characters)."""
    value = note.frontmatter.get("data") or []
    return [value] if isinstance(value, str) else [str(v) for v in value] if isinstance(value, list) else []


def note_key(note: Note, vault: Vault, companions: dict[str, str], device: str, threads: int = 1) -> str:
    """`companions`: {name: generated text} of every companion of the vault."""
    digest = hashlib.sha256(environment_fingerprint(device, threads).encode())
    for cell in code_cells(note):
        digest.update(json.dumps([cell.source, cell.attrs], sort_keys=True).encode())
    for name in sorted(_transitive_imports(note, vault, companions)):
        digest.update(f"\0companion {name}\0".encode() + companions.get(name, "").encode())
    for rel in data_entries(note):
        digest.update(f"\0data {rel}\0".encode())
        if is_pattern(rel):
            _hash_matches(note.path.parent, rel, digest)
        else:
            _hash_data(note.path.parent / rel, digest)
    return digest.hexdigest()[:20]


_owners: tuple[Vault | None, dict[str, Note]] = (None, {})


def _companion_owners(vault: Vault) -> dict[str, Note]:
    """{companion name: note}, built once per vault: per note it made planning quadratic (1,000 notes: 1M calls)."""
    global _owners
    if _owners[0] is not vault:
        _owners = (vault, {companion_name(n): n for n in vault.notes if n.cells})
    return _owners[1]


def is_pattern(rel: str) -> bool:
    return any(ch in rel for ch in "*?[")


def pattern_matches(folder: Path, pattern: str) -> list[Path]:
    """The files a `data:` glob (relative to the note's folder, `**` for any depth) names, in a stable order."""
    return sorted(p for p in folder.glob(pattern) if p.is_file())


def _hash_matches(folder: Path, pattern: str, digest) -> None:
    """A glob (`../**/*.md`) by the names (relative to the note's folder) and bytes of the files it matches."""
    for file in pattern_matches(folder, pattern):
        name = file.relative_to(folder).as_posix().encode()
        digest.update(b"\0<match>\0" + len(name).to_bytes(8, "little") + name + file.read_bytes())


def _hash_data(path: Path, digest) -> None:
    """A file by its bytes, a folder by the names and bytes of every file under it; a missing path by that fact."""
    if path.is_file():
        digest.update(path.read_bytes())  # as keys were before folders were hashed: stored entries stay valid
    elif path.is_dir():
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            name = file.relative_to(path).as_posix().encode()
            digest.update(b"\0<member>\0" + len(name).to_bytes(8, "little") + name + file.read_bytes())
    else:
        digest.update(b"<missing>")


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


def relabel(result: Result, note: Note) -> Result:
    """`result` as the run of `note` now: its current path, and every line moved with the cell it lies in."""
    old_rel, result.note = result.note, note.rel
    old_lines, new_lines = result.cell_lines, [cell.line for cell in code_cells(note)]
    result.cell_lines = new_lines
    if old_lines == new_lines and old_rel == note.rel:
        return result
    for skipped, cell in zip(result.skipped, [c for c in code_cells(note) if c.skip_reason is not None]):
        skipped["line"] = cell.line

    def moved(line: int) -> int:
        if len(old_lines) != len(new_lines) or not old_lines:
            return line
        k = max((i for i, start in enumerate(old_lines) if start <= line), default=None)
        return line if k is None else new_lines[k] + line - old_lines[k]

    if result.line is not None:
        result.line = moved(result.line)
    if result.report:
        where = re.compile(rf"(?<![\w/]){re.escape(old_rel)}:(\d+)")
        text = where.sub(lambda m: f"{note.rel}:{moved(int(m[1]))}", result.report)
        text = re.sub(r"(which starts at line )(\d+)", lambda m: f"{m[1]}{moved(int(m[2]))}", text)
        result.report = re.sub(r"(?m)^(    )(\d+)( \| )", lambda m: f"{m[1]}{moved(int(m[2]))}{m[3]}", text)
    return result


class CacheWriteError(Exception):
    """A result could not be stored (a full disk, a read-only cache): one line for the user, nothing half-written."""


class Cache:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.runs = self.root / "runs"

    def entry(self, key: str) -> Path:
        return self.runs / key

    def result(self, key: str, note: Note | None = None) -> Result | None:
        """The stored result alone: a cache hit in `run` needs no notebook (nbformat's read validates, slowly)."""
        try:
            result = Result(**json.loads((self.entry(key) / "result.json").read_text()))
        except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError, TypeError, UnicodeDecodeError):
            return None
        result.cached = True
        return relabel(result, note) if note is not None else result

    def load(self, key: str, note: Note | None = None) -> tuple[Result, nbformat.NotebookNode] | None:
        result = self.result(key, note)
        if result is None:
            return None
        try:
            nb = nbformat.read(self.entry(key) / "notebook.ipynb", as_version=4)
        except (FileNotFoundError, json.JSONDecodeError, nbformat.reader.NotJSONError):
            return None
        if note is not None:
            nb.metadata.setdefault("llm_vault", {})["note"] = note.rel
            for cell, line in zip((c for c in nb.cells if c.cell_type == "code"), result.cell_lines):
                cell.metadata.setdefault("llm_vault", {})["line"] = line
        return result, nb

    def store(self, result: Result, nb: nbformat.NotebookNode) -> None:
        """Replaces an older entry of the same key (a failure, or a run cut short by `--force`)."""
        try:
            self.runs.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{result.key}.", dir=self.runs))
        except OSError as exc:
            raise CacheWriteError(self._why(result, exc)) from None
        try:
            nbformat.write(nb, tmp / "notebook.ipynb")
            data = asdict(result)
            data["cached"] = False
            (tmp / "result.json").write_text(json.dumps(data, indent=1))
            self._move_in(tmp, self.entry(result.key))
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise CacheWriteError(self._why(result, exc)) from None
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def _move_in(self, tmp: Path, entry: Path) -> None:
        for _ in range(5):
            try:
                os.rename(tmp, entry)
                return
            except OSError as exc:
                if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
            # an older entry is in the way: set it aside (atomically), then remove it; a reader sees one or the other
            old = Path(tempfile.mkdtemp(prefix=f".{entry.name}.old.", dir=self.runs))
            try:
                os.rename(entry, old / "entry")
            except FileNotFoundError:
                pass
            shutil.rmtree(old, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)  # other runs keep storing the same key: theirs is as valid

    def _why(self, result: Result, exc: OSError) -> str:
        return f"cannot store the result of {result.note} in {self.runs}: {exc.strerror or exc}"

    def drop(self, key: str) -> None:
        shutil.rmtree(self.entry(key), ignore_errors=True)

    def record_durations(self, seconds: dict[str, float]) -> None:
        """`<cache>/durations.json`, {note: seconds of its last run}: the progress display's estimates."""
        path = self.root / "durations.json"
        try:
            known = json.loads(path.read_text())
        except (OSError, ValueError):
            known = {}
        known.update(seconds)
        tmp = path.with_name(f".durations.{os.getpid()}.json")
        try:
            tmp.write_text(json.dumps(known, indent=1, sort_keys=True))
            os.replace(tmp, path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise CacheWriteError(f"cannot record run times in {path}: {exc.strerror or exc}") from None

    def durations(self) -> dict[str, float]:
        try:
            return json.loads((self.root / "durations.json").read_text())
        except (OSError, ValueError):
            return {}
