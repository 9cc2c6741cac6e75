"""Stage 4 — execute: run notes as notebooks through nbclient, in fresh kernels, in dependency order, with the cache.

A note runs after the notes whose companions it imports (so the training note stores its checkpoint before the
sampling note loads it). Each run gets the note's folder as working directory, the device the user chose, fixed
seeds, the companions on the path and tiktoken's encodings offline.
"""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import os
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

from . import env as note_env
from .cache import Cache, Result, note_key
from .config import Config
from .fences import fence_problems
from .export import ExportError, companion_imports, companion_name, planned_companions, to_notebook, write_companions
from .index import Note, Vault, read_vault
from .kernels import ForkServer, KernelPool, kernel_env, kill_all
from .obsidian import write_outputs
from .progress import Progress, read_durations
from .report import failure_report
from .tiktoken_data import ensure_offline_encodings

DEFAULT_TIMEOUT = 120.0
SETUP_TAG = "llm-vault-setup"


def resolve_device(choice: str | None) -> str:
    choice = (choice or os.environ.get(note_env.DEVICE_VAR) or "auto").lower()
    if choice in ("cpu", "cuda"):
        return choice
    # decided without importing torch (2 s): the driver's device node or tool is there
    return "cuda" if Path("/dev/nvidiactl").exists() or shutil.which("nvidia-smi") else "cpu"


@dataclass
class Job:
    note: Note
    key: str
    deps: set[str]  # rels of notes whose companions this one imports


def plan(cfg: Config, selection: list[str] | None = None, device: str = "cpu") -> tuple[Vault, list[Job]]:
    vault = read_vault(cfg.vault)
    files = planned_companions(vault)
    write_companions(vault, files)  # the run imports what the notes say now
    texts = {path.stem: text for path, text in files.items()}
    owner = {companion_name(n): n.rel for n in vault.notes if n.cells}
    jobs = {}
    for note in vault.notes:
        if note.cells:
            deps = {owner[name] for name in companion_imports(note) if name in owner} - {note.rel}
            jobs[note.rel] = Job(note, note_key(note, vault, texts, device), deps)
    chosen = [select(vault, s).rel for s in selection] if selection else list(jobs)
    missing = [rel for rel in chosen if rel not in jobs]
    if missing:
        raise SystemExit(f"no Python code cells to run in: {', '.join(missing)}")
    _break_cycles(jobs)
    return vault, [jobs[rel] for rel in chosen]


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
              timeout: float | None = None, progress_display: bool = True, device: str | None = None,
              progress: Progress | None = None, exitfirst: bool = False) -> list[Result]:
    """The results of the selected notes, in run order; with `exitfirst`, no note starts after one failed."""
    device = resolve_device(device)
    try:
        vault, todo = plan(cfg, selection, device)
    except ExportError as exc:
        raise SystemExit(str(exc))
    cache = Cache(cfg.cache_dir)
    if progress is None and progress_display:
        progress = Progress(jobs=jobs)
    try:
        results = asyncio.run(_run_all(vault, todo, cache, max(1, jobs), force, timeout or DEFAULT_TIMEOUT,
                                       progress, device, exitfirst))
    finally:
        if progress is not None:
            progress.close()
    write_outputs(vault, results, cache)  # what the Obsidian plugin shows under each cell
    return results


async def _run_all(vault, todo, cache, jobs, force, timeout, show, device, exitfirst=False) -> list[Result]:
    results: dict[str, Result] = {}
    stopped: list[str] = []  # with exitfirst: the note that failed first
    if show:
        last = read_durations(cache.root)
        show.planned([(job.note.rel, last.get(job.note.rel)) for job in todo])
    to_run = []
    for job in todo:
        hit = None if force else cache.result(job.key)
        if hit:
            results[job.note.rel] = hit
            if show:
                show.finished(hit)
            if exitfirst and not hit.ok:
                stopped.append(job.note.rel)
        else:
            to_run.append(job)
    if not to_run or stopped:
        return [results[j.note.rel] for j in todo if j.note.rel in results]

    tiktoken_dir = ensure_offline_encodings(cache.root / "tiktoken")
    env = kernel_env({note_env.DEVICE_VAR: device, note_env.VAULT_VAR: str(vault.root),
                      note_env.CACHE_VAR: str(cache.root), "TIKTOKEN_CACHE_DIR": str(tiktoken_dir)},
                     [str(vault.root), str(note_env.REPO_ROOT)])
    fork = await ForkServer().start(env)
    pool = KernelPool(env, total=len(to_run), ahead=jobs, fork=fork)
    cores = CoreSlots(jobs)
    finished = {job.note.rel: asyncio.Event() for job in to_run}
    interrupted: list[bool] = []

    async def one(job: Job) -> None:
        for dep in job.deps:
            if dep in finished:
                await finished[dep].wait()
        # an `exclusive: true` note (the training run) waits for the whole machine and uses all its threads;
        # the others share it, cores/jobs threads each: oversubscribed OpenMP threads slow everything down many-fold
        exclusive = bool(job.note.frontmatter.get("exclusive"))
        async with cores.hold(jobs if exclusive else 1):
            threads = max(1, (os.cpu_count() or 1) // (1 if exclusive else jobs))
            cacheable = True
            if stopped:  # -x: a note failed; start no other
                finished[job.note.rel].set()
                return
            if show:
                show.started(job.note.rel, len(job.note.cells))
            try:
                kernel = await pool.take()
            except Exception as exc:  # no kernel for this note: it fails (not cached), the others still run
                nb, cacheable = to_notebook(job.note), False
                result = _result(job, nb, None, f"no kernel could be started: {exc!r}", 0.0, device)
            else:
                try:
                    on_cell = (lambda n, m, rel=job.note.rel: show.cell(rel, n, m)) if show else None
                    result, nb = await execute_note(job, kernel, timeout, device, threads, on_cell)
                finally:
                    await kernel.close()
        if interrupted:  # nbclient may swallow the cancellation; a note cut short is never stored
            return
        if cacheable:
            if force:
                cache.drop(job.key)
            cache.store(result, nb)
        results[job.note.rel] = result
        finished[job.note.rel].set()
        if exitfirst and not result.ok:
            stopped.append(job.note.rel)
        if show:
            show.finished(result)

    # Ctrl-C or SIGTERM: cancel every note, kill every kernel, store nothing half-done, exit as interrupted
    main, loop = asyncio.current_task(), asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: (interrupted.append(True), main.cancel()))
    try:
        await asyncio.gather(*(one(job) for job in to_run))
    except asyncio.CancelledError:
        if interrupted:
            raise KeyboardInterrupt from None
        raise
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await pool.close()
        if fork:
            await fork.close()
        kill_all()
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


def _setup_source(note: Note, threads: int) -> str:
    return (f"import os as _os\n_os.chdir({str(note.path.parent)!r})\n"
            f"from runner.env import seed_everything as _seed, set_threads as _threads\n"
            f"_threads({threads})\n_seed(0)\ndel _os, _seed, _threads\n"
            # figures as 2x PNGs that say their 1x size: sharp on high-density screens (the site reads the size)
            "from matplotlib_inline.backend_inline import set_matplotlib_formats as _formats\n"
            "_formats('retina')\ndel _formats\n")


async def execute_note(job: Job, kernel, timeout: float, device: str, threads: int = 1,
                       on_cell=None) -> tuple[Result, nbformat.NotebookNode]:
    """`on_cell(n, m)`: called as the note's code cell n of m starts."""
    note = job.note
    problems = fence_problems(note.fences, jupyter=False)
    if problems:  # a malformed fence attribute fails this note alone, with `check`'s message at `check`'s line
        nb = nbformat.v4.new_notebook()  # jupytext may not read the note at all (`tags="x"`)
        report = "\n".join(f"{note.rel}:{line}: {message}" for line, message in problems)
        return dataclasses.replace(_result(job, nb, None, "", 0.0, device), status="failed", report=report,
                                   line=problems[0][0]), nb
    nb = to_notebook(note)
    setup = nbformat.v4.new_code_cell(_setup_source(note, threads))
    setup.metadata = {"tags": [SETUP_TAG]}
    nb.cells.insert(0, setup)

    def cell_timeout(cell) -> float:
        return float(cell.metadata.get("llm_vault", {}).get("timeout") or timeout)

    client = PooledKernelClient(nb, km=kernel.km, timeout_func=cell_timeout, kernel_name="python3",
                            allow_errors=False, record_timing=True,
                            resources={"metadata": {"path": str(note.path.parent)}})
    client.kc = kernel.kc
    if on_cell is not None:
        code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"][1:]  # after the setup cell
        position = {index: n for n, index in enumerate(code, start=1)}
        client.on_cell_start = lambda cell, cell_index: (
            on_cell(position[cell_index], len(code)) if cell_index in position else None)
    started = time.perf_counter()
    failed_index, message = None, ""
    try:
        await client.async_execute()
    except CellTimeoutError as exc:
        failed_index = _current_cell(nb)
        message = f"cell timed out: {str(exc).splitlines()[0]}"
    except DeadKernelError as exc:
        failed_index = _current_cell(nb)
        message = f"the kernel died: {exc}"
    except CellExecutionError as exc:
        failed_index = _current_cell(nb)
        message = f"{exc.ename}: {exc.evalue}"
    seconds = time.perf_counter() - started
    if failed_index is None:
        failed_index, message = _check_expected_errors(nb)
    nb.cells.pop(0)
    if failed_index is not None:
        failed_index -= 1
    return _result(job, nb, failed_index, message, seconds, device), nb


class PooledKernelClient(NotebookClient):
    """nbclient, minus its kernel life-cycle: the pool starts the kernel, the runner kills it and handles signals."""

    @contextlib.asynccontextmanager
    async def async_setup_kernel(self, **kwargs):
        yield


def _current_cell(nb) -> int | None:
    for i in range(len(nb.cells) - 1, -1, -1):
        cell = nb.cells[i]
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count")):
            errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
            if errors and "raises-exception" not in cell.metadata.get("tags", []):
                return i
    # a timeout or a dead kernel leaves no error output: the last cell that started is the one
    started = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and
               c.metadata.get("execution", {}).get("iopub.execute_input")]
    return started[-1] if started else None


def _check_expected_errors(nb) -> tuple[int | None, str]:
    for i, cell in enumerate(nb.cells):
        attrs = cell.metadata.get("llm_vault", {}) if cell.cell_type == "code" else {}
        if "raises" not in attrs:
            continue
        want = str(attrs["raises"] or "Exception")
        got = [o.ename for o in cell.get("outputs", []) if o.output_type == "error"]
        if not got:
            return i, f"this cell should raise {want}, but it ran without error"
        if want != "Exception" and got[0] != want:
            return i, f"this cell should raise {want}, but it raised {got[0]}"
    return None, ""


def _result(job: Job, nb, failed_index, message, seconds, device) -> Result:
    note = job.note
    report, line = ("", None)
    if failed_index is not None or message:
        report, line = failure_report(note.rel, nb, failed_index, message)
    skipped = [{"line": c.metadata["llm_vault"]["line"], "reason": str(c.metadata["llm_vault"]["skip"] or "")}
               for c in nb.cells if c.cell_type == "code" and "skip" in c.metadata.get("llm_vault", {})]
    return Result(note=note.rel, status="failed" if report else "passed", seconds=round(seconds, 2),
                  key=job.key, device=device, date=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                  report=report, line=line, cells=len(note.cells), skipped=skipped)


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
    hit = Cache(cfg.cache_dir).load(job.key)
    nb = hit[1] if hit else to_notebook(job.note)
    output = output or Path(job.note.path.with_suffix(".ipynb").name)
    nbformat.write(nb, output)
    return output, hit[0] if hit else None
