"""Stage 4a — schedule: the notes of a run on the machine's cores, in dependency order, each in a fresh kernel.

Cache hits are settled first (no kernel starts when nothing changed); the rest wait for the notes they import, share
the cores (an `exclusive` note waits for all of them), and are stored as they finish. Ctrl-C, SIGTERM or the end of
the run kill every kernel and remove the run's folder of sockets.
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path

from . import env as note_env
from .cache import CacheWriteError, Result
from .export import ExportError, code_cells, to_notebook
from .fences import fence_problems
from .index import Note
from .kernels import ForkServer, KernelPool, RunDir, kernel_env, kill_all
from .run_note import cell_limit, execute_note, make_result
from .tiktoken_data import ensure_offline_encodings


class PlainProgress:
    """No display at all (`progress_display=False`): the events are accepted and dropped. progress.py shows them."""

    def __init__(self, show: bool = False):
        self.show = show

    def planned(self, jobs):
        pass

    def started(self, rel, cells, reason=""):
        pass

    def cell(self, rel, index, total):
        pass

    def finished(self, result):
        pass

    def close(self):
        pass


def note_threads(note: Note) -> int:
    """An `exclusive: true` note (the training run) runs alone and gets every core; any other note one thread."""
    return (os.cpu_count() or 1) if note.frontmatter.get("exclusive") else 1


def reusable(hit: Result | None, note: Note, timeout: float, cache_root: Path) -> bool:
    """A stored pass whose cells all finished within their limits now, and whose artifacts are still there."""
    if hit is None or not hit.ok:
        return False
    limits = [cell_limit(cell.attrs, timeout) for cell in code_cells(note)]
    if any(took is not None and took > limit for took, limit in zip(hit.cell_seconds, limits)):
        return False
    return all((cache_root / rel).exists() for rel in hit.artifacts)


def run_sources(todo, to_run) -> list[str]:
    """The code the run's kernels execute: the notes that run and, through their companions, those they import."""
    by_rel = {job.note.rel: job for job in todo}
    seen, stack = set(), [job.note.rel for job in to_run]
    while stack:
        rel = stack.pop()
        if rel in seen or rel not in by_rel:
            continue
        seen.add(rel)
        stack.extend(by_rel[rel].deps)
    return [cell.source for rel in sorted(seen) for cell in code_cells(by_rel[rel].note)]


def _not_run(job, nb, why: str, device: str) -> Result:
    return make_result(job, nb, None, why, 0.0, device)


async def run_all(vault, todo, cache, jobs, force, timeout, progress, device, exitfirst) -> list[Result]:
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

    async def one(job) -> None:
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
                                on_code_cell=lambda n, total: progress.cell(rel, n, total), scratch=run_dir.path,
                                notebook=notebooks.pop(rel, None))
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

    notebooks: dict[str, object] = {}

    def prepare() -> None:  # the notebooks, while the fork server imports torch: 0.04 s a note, off the path
        for job in to_run:
            if not fence_problems(job.note.fences, jupyter=False):
                with contextlib.suppress(ExportError):  # execute_note reads it again and reports it, as before
                    notebooks[job.note.rel] = to_notebook(job.note)

    # Ctrl-C or SIGTERM: cancel every note, kill every kernel, store nothing half-done, exit as interrupted
    main, loop = asyncio.current_task(), asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: (interrupted.append(True), main.cancel()))
    try:
        fork = await ForkServer(run_dir).start(env, run_sources(todo, to_run), meanwhile=prepare)
        # two kernels starting per core: a forked kernel's start is mostly waiting on sockets, and with one per core
        # the notes of a cold run waited for them (8 short torch notes: 10% faster)
        pool = KernelPool(env, total=len(to_run), ahead=2 * jobs, fork=fork, run_dir=run_dir)
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


