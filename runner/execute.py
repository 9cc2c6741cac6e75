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
import contextlib
import os
import shutil
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from . import env as note_env
from .cache import Cache, CacheWriteError, Result, note_key
from .config import Config
from .export import (ExportError, code_cells, companion_imports, companion_name, planned_companions, to_notebook,
                     write_companions)
from .index import Note, Vault, read_vault
from .kernels import ForkServer, KernelPool, RunDir, kernel_env, kill_all
from .report import progress as progress_line
from .run_note import cell_limit, execute_note, make_result
from .tiktoken_data import ensure_offline_encodings

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


def require_device(device: str) -> None:
    """`--device cuda` where torch sees no CUDA device is the user's error, found before anything runs or is stored."""
    if device != "cuda":
        return
    usable = _cuda_driver()
    if usable:
        try:
            import torch
            usable = torch.cuda.is_available()
        except ImportError:
            usable = False
    if not usable:
        raise DeviceError("--device cuda: no CUDA device is usable here (torch.cuda.is_available() is False); "
                          "use --device cpu or auto")


def note_threads(note: Note) -> int:
    """An `exclusive: true` note (the training run) runs alone and gets every core; any other note one thread."""
    return (os.cpu_count() or 1) if note.frontmatter.get("exclusive") else 1


@dataclass
class Job:
    note: Note
    key: str
    deps: set[str]  # rels of notes whose companions this one imports
    needed_by: list[str] = field(default_factory=list)  # not asked for: run because these notes need it


def plan(cfg: Config, selection: list[str] | None = None, device: str = "cpu") -> tuple[Vault, list[Job]]:
    """The jobs asked for (all by default), in that order, then the notes they depend on that were not asked for."""
    vault = read_vault(cfg.vault)
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
    """A note by path (relative to the cwd or the vault) or by name, case-insensitive."""
    path = Path(wanted)
    for candidate in (path, vault.root / path, vault.root.parent / path):
        if candidate.suffix == ".md" and candidate.exists():
            rel = candidate.resolve().relative_to(vault.root).as_posix()
            return vault.note(rel)
    name = path.stem if path.suffix == ".md" else wanted
    matches = [n for n in vault.notes if n.name.casefold() == name.casefold()]
    if len(matches) != 1:
        raise SystemExit(f"{wanted}: {'no' if not matches else 'more than one'} note of that name")
    return matches[0]


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


class PlainProgress:
    """Without a display: one line on stderr as each note starts and ends (CI logs, pytest)."""

    def __init__(self, show: bool = True):
        self.show, self.total, self.done = show, 0, 0

    def planned(self, jobs):
        self.total = len(jobs)

    def started(self, rel, cells, reason=""):
        if self.show:
            print(f"      started {rel}" + (f" ({reason})" if reason else ""), file=sys.stderr, flush=True)

    def cell(self, rel, index, total):
        pass

    def finished(self, result):
        self.done += 1
        if self.show:
            progress_line(self.done, self.total, result)

    def close(self):
        pass


def run_vault(cfg: Config, selection: list[str] | None = None, jobs: int = 1, force: bool = False,
              timeout: float | None = None, device: str | None = None, progress=None, exitfirst: bool = False,
              progress_display: bool = True) -> list[Result]:
    """Run the notes asked for (and what they need); `progress`: planned/started/cell/finished/close (progress.py).

    planned() lists every note of the run with its last run time (cached ones too), finished() comes for each,
    cached or run. With `exitfirst`, no note starts after the first failure (those not started have no result).
    """
    device = resolve_device(device)
    try:
        vault, todo = plan(cfg, selection, device)
    except ExportError as exc:
        raise SystemExit(str(exc))
    try:
        require_device(device)
    except DeviceError as exc:
        print(f"llm-vault: error: {exc}", file=sys.stderr)
        raise
    cache = Cache(cfg.cache_dir)
    progress = progress or PlainProgress(progress_display)
    try:
        return asyncio.run(_run_all(vault, todo, cache, max(1, jobs), force, timeout or DEFAULT_TIMEOUT,
                                    progress, device, exitfirst))
    finally:
        progress.close()


def reusable(hit: Result | None, note: Note, timeout: float, cache_root: Path) -> bool:
    """A stored pass whose cells all finished within their limits now, and whose artifacts are still there."""
    if hit is None or not hit.ok:
        return False
    limits = [cell_limit(cell.attrs, timeout) for cell in code_cells(note)]
    if any(took is not None and took > limit for took, limit in zip(hit.cell_seconds, limits)):
        return False
    return all((cache_root / rel).exists() for rel in hit.artifacts)


def _not_run(job: Job, nb, why: str, device: str) -> Result:
    return make_result(job, nb, None, why, 0.0, device)


async def _run_all(vault, todo, cache, jobs, force, timeout, progress, device, exitfirst) -> list[Result]:
    results: dict[str, Result] = {}
    to_run, hits = [], []
    for job in todo:
        hit = None if force else cache.result(job.key, job.note)
        if reusable(hit, job.note, timeout, cache.root):
            results[job.note.rel] = hit
            hits.append(hit)
        else:
            to_run.append(job)
    last = cache.durations()
    progress.planned([(job.note.rel, last.get(job.note.rel)) for job in todo])
    for hit in hits:
        progress.finished(hit)
    if not to_run:
        return [results[j.note.rel] for j in todo]

    run_dir = RunDir()
    tiktoken_dir = ensure_offline_encodings(cache.root / "tiktoken")
    env = kernel_env({note_env.DEVICE_VAR: device, note_env.VAULT_VAR: str(vault.root),
                      note_env.CACHE_VAR: str(cache.root), "TIKTOKEN_CACHE_DIR": str(tiktoken_dir)},
                     [str(vault.root), str(note_env.REPO_ROOT)])
    fork = None
    cores = CoreSlots(jobs)
    finished = {job.note.rel: asyncio.Event() for job in to_run}
    interrupted: list[bool] = []
    stopping: list[str] = []  # --exitfirst: the note that failed first
    ran: dict[str, float] = {}
    pool = None

    async def one(job: Job) -> None:
        rel = job.note.rel
        try:
            for dep in job.deps:
                if dep in finished:
                    await finished[dep].wait()
            failed_deps = [d for d in sorted(job.deps) if d in results and not results[d].ok]
            exclusive = bool(job.note.frontmatter.get("exclusive"))
            async with cores.hold(jobs if exclusive else 1):
                if stopping:
                    return
                cacheable = True
                reason = f"needed by {', '.join(job.needed_by)}" if job.needed_by else ""
                progress.started(rel, len(job.note.cells), reason)
                if failed_deps:
                    nb, cacheable = to_notebook(job.note), False
                    result = _not_run(job, nb, f"not run: it needs {', '.join(failed_deps)}, which failed", device)
                else:
                    try:
                        kernel = await pool.take()
                    except Exception as exc:  # no kernel for this note: it fails (not cached), the others run
                        nb, cacheable = to_notebook(job.note), False
                        result = _not_run(job, nb, f"no kernel could be started: {exc!r}", device)
                    else:
                        try:
                            result, nb = await execute_note(
                                job, kernel, timeout, device, note_threads(job.note),
                                on_code_cell=lambda n, total: progress.cell(rel, n, total), scratch=run_dir.path)
                        finally:
                            await kernel.close()
            if interrupted:  # nbclient may swallow the cancellation; a note cut short is never stored
                return
            if cacheable:
                ran[rel] = result.seconds
                try:
                    cache.store(result, nb)
                except CacheWriteError as exc:
                    print(f"llm-vault: error: {exc}", file=sys.stderr, flush=True)
            results[rel] = result
            progress.finished(result)
            if exitfirst and not result.ok and not stopping:
                stopping.append(rel)
        finally:
            finished[rel].set()

    # Ctrl-C or SIGTERM: cancel every note, kill every kernel, store nothing half-done, exit as interrupted
    main, loop = asyncio.current_task(), asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: (interrupted.append(True), main.cancel()))
    try:
        fork = await ForkServer(run_dir).start(env)
        pool = KernelPool(env, total=len(to_run), ahead=jobs, fork=fork, run_dir=run_dir)
        await asyncio.gather(*(one(job) for job in to_run))
    except asyncio.CancelledError:
        if interrupted:
            raise KeyboardInterrupt from None
        raise
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        if pool is not None:
            await pool.close()
        if fork:
            await fork.close()
        kill_all()
        run_dir.remove()
        if ran:
            with contextlib.suppress(CacheWriteError):
                cache.record_durations(ran)
    return [results[j.note.rel] for j in todo if j.note.rel in results]


class CoreSlots:
    """A semaphore whose holders take one slot or several at once."""

    def __init__(self, total: int):
        self.free, self.changed = total, asyncio.Condition()

    @contextlib.asynccontextmanager
    async def hold(self, count: int):
        async with self.changed:
            await self.changed.wait_for(lambda: self.free >= count)
            self.free -= count
        try:
            yield
        finally:
            async with self.changed:
                self.free += count
                self.changed.notify_all()


def notebook_for(cfg: Config, wanted: str, output: Path | None = None) -> Path:
    """Write a note as .ipynb, with the outputs of its last cached run when there is one."""
    device = resolve_device(None)
    vault, jobs = plan(cfg, [wanted], device)
    job = jobs[0]
    cache = Cache(cfg.cache_dir)
    hit = cache.load(job.key)
    nb = hit[1] if hit else to_notebook(job.note)
    output = output or Path(job.note.path.with_suffix(".ipynb").name)
    nbformat.write(nb, output)
    return output
