"""Stage 4b — one note through nbclient in a kernel the pool started: its result, its notebook, bounded outputs.

execute.py decides what runs, when and where; this module runs one note. A cell that runs out of time is
interrupted (SIGINT, as Jupyter's stop button does) so the report can name the line that was running, from the
KeyboardInterrupt's traceback; a kernel that ignores the interrupt is killed after a short grace period.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
import re
import tempfile
import time
from pathlib import Path
from queue import Empty

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from nbclient.util import ensure_async

from .cache import Result
from .env import ARTIFACT_LOG_VAR
from .export import code_cells, to_notebook
from .fences import fence_problems
from .report import failure_report

SETUP_TAG = "llm-vault-setup"
INTERRUPT_GRACE = 10.0       # seconds a timed-out cell gets to stop after the interrupt
OUTPUT_HEAD = OUTPUT_TAIL = 100_000  # characters kept of each output longer than their sum
UNSHOWABLE = re.compile(r"[\x00\ud800-\udfff]")  # NUL and lone surrogates: no HTML, JSON reader or terminal keeps them


def setup_source(note, threads: int, artifact_log: str) -> str:
    return (f"import os as _os\n_os.chdir({str(note.path.parent)!r})\n"
            f"_os.environ[{ARTIFACT_LOG_VAR!r}] = {artifact_log!r}\n"
            f"from runner.env import seed_everything as _seed, set_threads as _threads\n"
            f"_threads({threads})\n_seed(0)\ndel _os, _seed, _threads\n"
            f"from runner.env import keep_unencodable_output as _keep\n_keep(get_ipython())\ndel _keep\n")


class NoteClient(NotebookClient):
    """nbclient, minus its kernel life-cycle (the pool starts the kernel, the runner kills it), plus:

    - on timeout, interrupt and keep the KeyboardInterrupt traceback instead of abandoning the cell;
    - each cell's run time, and a hook when a code cell starts (the progress display).
    """

    def __init__(self, *args, on_code_cell=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.timed_out: tuple | None = None  # (cell, seconds)
        self.cell_seconds: dict[int, float] = {}
        self._started: dict[int, float] = {}
        self.on_code_cell = on_code_cell
        self.on_cell_execute = self._cell_starts
        self.on_cell_executed = self._cell_ends

    def _cell_starts(self, cell, cell_index):
        self._started[cell_index] = time.perf_counter()
        if self.on_code_cell and SETUP_TAG not in cell.metadata.get("tags", []):
            self.on_code_cell(cell)

    def _cell_ends(self, cell, cell_index, execute_reply):
        self.cell_seconds[cell_index] = time.perf_counter() - self._started.get(cell_index, time.perf_counter())

    @contextlib.asynccontextmanager
    async def async_setup_kernel(self, **kwargs):
        yield

    async def _async_handle_timeout(self, timeout, cell=None):
        self.timed_out = (cell, timeout)
        self._cell_ends(cell, self.nb.cells.index(cell) if cell in self.nb.cells else -1, None)
        await ensure_async(self.km.interrupt_kernel())
        deadline = time.monotonic() + INTERRUPT_GRACE
        while True:  # the interrupted cell's reply (status error, KeyboardInterrupt) ends the cell as usual
            try:
                msg = await ensure_async(self.kc.shell_channel.get_msg(timeout=max(0.05, deadline - time.monotonic())))
            except Empty:
                raise CellTimeoutError.error_from_timeout_and_cell("Cell execution timed out", timeout, cell) from None
            if msg.get("msg_type") == "execute_reply":
                return msg

    async def _check_raise_for_error(self, cell, cell_index, exec_reply):
        if self.timed_out is not None:  # also in a `raises=` cell: a timeout is never the expected error
            raise CellTimeoutError.error_from_timeout_and_cell("Cell execution timed out", self.timed_out[1], cell)
        return await super()._check_raise_for_error(cell, cell_index, exec_reply)


async def execute_note(job, kernel, timeout: float, device: str, threads: int = 1, on_code_cell=None,
                       scratch: str | None = None, notebook=None) -> tuple[Result, nbformat.NotebookNode]:
    """`on_code_cell(n, total)` as the n-th code cell starts; `scratch`: a folder for the run's own files;
    `notebook`: the note's to_notebook(), if made already."""
    note = job.note
    problems = fence_problems(note.fences, jupyter=False)
    if problems:  # a malformed fence attribute fails this note alone, with `check`'s message at `check`'s line
        nb = nbformat.v4.new_notebook()  # jupytext may not read the note at all (`tags="x"`)
        report = "\n".join(f"{note.rel}:{line}: {message}" for line, message in problems)
        return dataclasses.replace(make_result(job, nb, None, "", 0.0, device), status="failed", report=report,
                                   line=problems[0][0]), nb
    nb = notebook or to_notebook(note)
    fd, artifact_log = tempfile.mkstemp(prefix="artifacts-", suffix=".txt", dir=scratch)
    os.close(fd)
    setup = nbformat.v4.new_code_cell(setup_source(note, threads, artifact_log))
    setup.metadata = {"tags": [SETUP_TAG]}
    nb.cells.insert(0, setup)

    def cell_timeout(cell) -> float:
        return cell_limit(cell.metadata.get("llm_vault", {}), timeout)

    code = [c for c in nb.cells[1:] if c.cell_type == "code"]
    client = NoteClient(nb, km=kernel.km, timeout_func=cell_timeout, kernel_name="python3", allow_errors=False,
                        record_timing=True, coalesce_streams=True,
                        resources={"metadata": {"path": str(note.path.parent)}},
                        on_code_cell=(lambda cell: on_code_cell(code.index(cell) + 1, len(code))) if on_code_cell
                        else None)
    client.kc = kernel.kc
    started = time.perf_counter()
    failed_index, message = None, ""
    try:
        await client.async_execute()
    except CellTimeoutError as exc:
        cell, seconds = client.timed_out or (None, timeout)
        failed_index = nb.cells.index(cell) if cell in nb.cells else _current_cell(nb)
        interrupted = any(o.output_type == "error" for o in (cell or {}).get("outputs", []))
        message = (f"cell timed out after {seconds:g} s" +
                   ("" if interrupted else f" (and did not stop within {INTERRUPT_GRACE:g} s of the interrupt)")
                   if client.timed_out else f"cell timed out: {str(exc).splitlines()[0]}")
    except DeadKernelError as exc:
        failed_index = _current_cell(nb)
        message = f"the kernel died: {exc}"
    except CellExecutionError as exc:
        failed_index = _current_cell(nb)
        message = f"{exc.ename}: {exc.evalue}"
    seconds = time.perf_counter() - started
    if failed_index is None:
        failed_index, message = _check_expected_errors(nb)
    cell_seconds = [round(client.cell_seconds[i], 3) if i in client.cell_seconds else None
                    for i, c in enumerate(nb.cells) if c.cell_type == "code" and i > 0]
    nb.cells.pop(0)
    if failed_index is not None:
        failed_index -= 1
    tidy_outputs(nb)
    artifacts = _read_artifact_log(artifact_log)
    result = make_result(job, nb, failed_index, message, seconds, device)
    result.cell_seconds, result.artifacts = cell_seconds, artifacts
    result.timed_out = client.timed_out is not None
    return result, nb


def cell_limit(attrs: dict, default: float) -> float:
    """A cell's time limit: its `timeout` attribute, else the run's default."""
    try:
        return float(attrs.get("timeout") or default)
    except (TypeError, ValueError):  # a malformed attribute is check's error to report; the default applies
        return default


def _read_artifact_log(path: str) -> list[str]:
    try:
        return sorted(set(Path(path).read_text().split()))
    except OSError:
        return []
    finally:
        Path(path).unlink(missing_ok=True)


def _current_cell(nb) -> int | None:
    for i in range(len(nb.cells) - 1, -1, -1):
        cell = nb.cells[i]
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count")):
            errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
            if errors and "raises-exception" not in cell.metadata.get("tags", []):
                return i
    # a dead kernel leaves no error output: the last cell that started is the one
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


def make_result(job, nb, failed_index, message, seconds, device) -> Result:
    note = job.note
    report, line = ("", None)
    if failed_index is not None or message:
        report, line = failure_report(note.rel, nb, failed_index, message)
    skipped = [{"line": c.metadata["llm_vault"]["line"], "reason": str(c.metadata["llm_vault"]["skip"] or "")}
               for c in nb.cells if c.cell_type == "code" and "skip" in c.metadata.get("llm_vault", {})]
    return Result(note=note.rel, status="failed" if report else "passed", seconds=round(seconds, 2),
                  key=job.key, device=device, date=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                  report=report, line=line, cells=len(note.cells), skipped=skipped,
                  cell_lines=[c.line for c in code_cells(note)])


# ---- outputs as they are stored: bounded, and every character shown

def showable(text: str) -> str:
    """NUL and lone surrogates written as escapes (`\\x00`, `\\udc80`): visible, and valid in JSON, HTML, UTF-8."""
    if not UNSHOWABLE.search(text):
        return text
    return UNSHOWABLE.sub(lambda m: "\\x00" if m[0] == "\0" else f"\\u{ord(m[0]):04x}", text)


def bounded(text: str) -> str:
    """The head and the tail of a long output, with a marker saying how much was left out."""
    if len(text) <= OUTPUT_HEAD + OUTPUT_TAIL:
        return text
    cut = text[OUTPUT_HEAD:len(text) - OUTPUT_TAIL]
    size = len(cut.encode("utf-8", "surrogatepass"))
    marker = f"\n… output truncated ({size / 1e6:.1f} MB left out: {cut.count(chr(10)):,} lines) …\n"
    return text[:OUTPUT_HEAD] + marker + text[len(text) - OUTPUT_TAIL:]


def _tidy(value):
    if isinstance(value, str):
        return bounded(showable(value))
    if isinstance(value, list):
        return [_tidy(v) for v in value]
    return value


def tidy_outputs(nb) -> None:
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if "text" in out:
                out["text"] = _tidy("".join(out["text"]) if isinstance(out["text"], list) else out["text"])
            for field in ("ename", "evalue", "traceback"):
                if field in out:
                    out[field] = _tidy(out[field])
            for mime, data in out.get("data", {}).items():
                if mime.startswith("text/"):
                    out["data"][mime] = _tidy("".join(data) if isinstance(data, list) else data)
