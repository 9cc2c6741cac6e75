"""Stage 4 — execute: run notes as notebooks through nbclient, in fresh kernels, in dependency order, with the cache.

A note runs after the notes whose companions it imports (so the training note stores its checkpoint before the
sampling note loads it); running a few notes also runs, or reuses from the cache, the notes they depend on. Each
run gets the note's folder as working directory, the device the user chose, fixed seeds, a thread count that
depends on the note alone (never on `--jobs`: floating-point sums depend on it), the companions on the path and
tiktoken's encodings offline. One note through nbclient is run_note.py.

Only a pass is final: a failed or timed-out note runs again next time (its last run stays in the cache, for the
site and the notebook, shown as a failure), and so does a passed one whose cell took longer than its limit now.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from . import env as note_env
from .cache import Cache, Result, note_key
from .config import Config
from .export import ExportError, companion_imports, companion_name, planned_companions, to_notebook, write_companions
from .index import Note, Vault, read_vault
from .obsidian import write_outputs
from .progress import Progress
from .schedule import PlainProgress, note_threads, run_all

DEFAULT_TIMEOUT = 120.0


class DeviceError(SystemExit):
    """The device asked for is not there: the run stops before any note runs, with exit status 2."""

    def __init__(self, message: str):
        super().__init__(2)
        self.message = message

    def __str__(self) -> str:
        return self.message


def resolve_device(choice: str | None) -> str:
    choice = (choice or os.environ.get(note_env.DEVICE_VAR) or "auto").lower()
    if choice in ("cpu", "cuda"):
        return choice
    # decided without importing torch (2 s): the driver's device node or tool is there
    return "cuda" if _cuda_driver() else "cpu"


def _cuda_driver() -> bool:
    return Path("/dev/nvidiactl").exists() or shutil.which("nvidia-smi") is not None


def require_device(device: str, explicit: bool = True) -> str:
    """The device a run uses. `--device cuda` where torch sees no CUDA device is the user's error, found before
    anything runs or is stored; `auto` then falls back to the CPU. torch is imported only where a driver is."""
    if device != "cuda":
        return device
    usable = _cuda_driver()
    if usable:
        try:
            import torch
            usable = torch.cuda.is_available()
        except ImportError:
            usable = False
    if usable:
        return device
    if not explicit:
        return "cpu"
    raise DeviceError("--device cuda: no CUDA device is usable here (torch.cuda.is_available() is False); "
                      "use --device cpu or auto")


@dataclass
class Job:
    note: Note
    key: str
    deps: set[str]  # rels of notes whose companions this one imports
    needed_by: list[str] = field(default_factory=list)  # not asked for: run because these notes need it


def plan(cfg: Config, selection: list[str] | None = None, device: str = "cpu") -> tuple[Vault, list[Job]]:
    """The jobs asked for (all by default), in that order, then the notes they depend on that were not asked for."""
    vault = read_vault(cfg.vault, parsed=cfg.cache_dir / "parsed-notes.pickle")
    files = planned_companions(vault)
    write_companions(vault, files)  # the run imports what the notes say now
    texts = {path.stem: text for path, text in files.items()}
    owner = {companion_name(n): n.rel for n in vault.notes if n.cells}
    jobs = {}
    for note in vault.notes:
        if note.cells:
            deps = {owner[name] for name in companion_imports(note) if name in owner} - {note.rel}
            jobs[note.rel] = Job(note, note_key(note, vault, texts, device, note_threads(note)), deps)
    chosen = list(dict.fromkeys(select(vault, s).rel for s in selection)) if selection else list(jobs)
    missing = [rel for rel in chosen if rel not in jobs]
    if missing:
        raise SystemExit(f"no Python code cells to run in: {', '.join(missing)}")
    _break_cycles(jobs)
    extra: dict[str, Job] = {}
    todo = list(chosen)
    while todo:
        rel = todo.pop(0)
        for dep in sorted(jobs[rel].deps):
            if dep not in chosen:
                needer = jobs[rel].needed_by or [rel]
                extra.setdefault(dep, jobs[dep]).needed_by.extend(n for n in needer if n not in jobs[dep].needed_by)
                todo.append(dep)
    return vault, [jobs[rel] for rel in chosen] + list(extra.values())


def select(vault: Vault, wanted: str) -> Note:
    """A note by path (relative to the cwd, the vault or its project; `.md` optional), else by title or alias,
    case-insensitive as Obsidian matches them. A miss names the closest titles."""
    import difflib

    path = Path(wanted)
    for base in (Path.cwd(), vault.root, vault.root.parent):
        for candidate in (base / path, base / f"{wanted}.md"):
            if candidate.suffix == ".md" and candidate.is_file():
                full = candidate.resolve()
                if not full.is_relative_to(vault.root):
                    raise SystemExit(f"{wanted}: not a note of the vault {vault.root}")
                return vault.note(full.relative_to(vault.root).as_posix())
    key = (path.stem if path.suffix == ".md" else wanted).strip().casefold()
    by_title = [n for n in vault.notes if n.name.casefold() == key or n.rel[:-3].casefold() == key]
    matches = by_title or [n for n in vault.notes if key in (a.casefold() for a in n.aliases)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise SystemExit(f"{wanted}: more than one note of that name ({', '.join(n.rel for n in matches)}): "
                         f"give its path")
    names = {a.casefold(): n for n in vault.notes for a in n.aliases} | {n.name.casefold(): n for n in vault.notes}
    close = difflib.get_close_matches(key, list(names), n=5, cutoff=0.6) or [k for k in names if key in k]
    titles = list(dict.fromkeys(names[k].name for k in close))[:3]
    hint = f"; did you mean {' or '.join(map(repr, titles))}?" if titles else ""
    raise SystemExit(f"{wanted}: no note of that title, alias or path in {vault.root.name}/{hint}")


def _break_cycles(jobs: dict[str, Job]) -> None:
    """Two notes importing each other's companions: run them in any order rather than wait forever."""
    state: dict[str, int] = {}

    def visit(rel: str) -> None:
        state[rel] = 1
        for dep in sorted(jobs[rel].deps):
            if dep not in jobs:
                continue
            if state.get(dep) == 1:
                jobs[rel].deps.discard(dep)
            elif dep not in state:
                visit(dep)
        state[rel] = 2

    for rel in list(jobs):
        if rel not in state:
            visit(rel)


def run_vault(cfg: Config, selection: list[str] | None = None, jobs: int = 1, force: bool = False,
              timeout: float | None = None, device: str | None = None, progress=None, exitfirst: bool = False,
              progress_display: bool = True) -> list[Result]:
    """Run the notes asked for (and what they need); `progress`: planned/started/cell/finished/close (progress.py).

    planned() lists every note of the run with its last run time (cached ones too), finished() comes for each,
    cached or run. With `exitfirst`, no note starts after the first failure (those not started have no result).
    """
    if progress is None:  # rich's live display on a terminal, plain lines elsewhere (progress.py)
        progress = Progress(jobs=jobs) if progress_display else PlainProgress(False)
    try:
        asked = (device or os.environ.get(note_env.DEVICE_VAR) or "auto").lower()
        try:
            device = require_device(resolve_device(device), explicit=asked == "cuda")
        except DeviceError as exc:
            print(f"llm-vault: error: {exc}", file=sys.stderr)
            raise
        try:
            vault, todo = plan(cfg, selection, device)
        except ExportError as exc:
            raise SystemExit(str(exc))
        cache = Cache(cfg.cache_dir)
        results = asyncio.run(run_all(vault, todo, cache, max(1, jobs), force, timeout or DEFAULT_TIMEOUT,
                                      progress, device, exitfirst))
        write_outputs(vault, results, cache)  # what the Obsidian plugin shows under each cell
        return results
    finally:
        progress.close()


def notebook_for(cfg: Config, wanted: str, output: Path | None = None, **options) -> Path:
    """Write a note as .ipynb, with the outputs of its last cached run when there is one."""
    return write_notebook(cfg, wanted, output, **options)[0]


def write_notebook(cfg: Config, wanted: str, output: Path | None = None, run: bool = False,
                   **run_options) -> tuple[Path, Result | None]:
    """Write a note as .ipynb, with the outputs of the cached run of its current code when there is one (after
    running it first, with `run`). Returns the file and that run's result (None: written without outputs)."""
    if run:
        run_vault(cfg, [wanted], **run_options)
    device = resolve_device(run_options.get("device"))
    vault, jobs = plan(cfg, [wanted], device)
    job = jobs[0]
    hit = Cache(cfg.cache_dir).load(job.key, job.note)
    nb = hit[1] if hit else to_notebook(job.note)
    output = output or Path(job.note.path.with_suffix(".ipynb").name)
    nbformat.write(nb, output)
    return output, hit[0] if hit else None
