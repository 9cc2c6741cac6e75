"""What the user sees while notes run: a live display on a terminal, plain lines in a log.

On a terminal (rich): one row per running note with its current cell (n of m) and elapsed time, an overall bar with
an estimate from the last recorded durations, each finished note as a coloured line above. When stderr is not a
terminal (CI logs, pipes): one plain line per note started and finished, nothing redrawn.
rich is imported only when a note really runs, so a run answered wholly from the cache pays nothing for it.
"""
from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path
from typing import TextIO

DURATIONS = "durations.json"  # {note rel: seconds of its last run}, kept in the cache folder


def read_durations(cache_root: Path) -> dict[str, float]:
    try:
        data = json.loads((Path(cache_root) / DURATIONS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): float(v) for k, v in data.items() if isinstance(v, (int, float))} if isinstance(data, dict) else {}


def seconds_text(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 60}m {seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


class Progress:
    """The events `run_vault` reports, in order: planned, then per note started → cell… → finished; close at the end."""

    def __init__(self, stream: TextIO | None = None, jobs: int = 1, live: bool | None = None):
        self.stream = stream or sys.stderr
        self.jobs = max(1, jobs)
        self.live = self.stream.isatty() if live is None else live
        self.order: list[str] = []
        self.expected: dict[str, float | None] = {}
        self.running: dict[str, dict] = {}   # rel → {"since": t, "cell": (n, m), "task": rich task id}
        self.done: dict[str, object] = {}
        self._rich = None                    # (rich Progress, overall task id) once a note really runs

    # ---- the interface execute.py calls

    def planned(self, jobs: list[tuple[str, float | None]]) -> None:
        self.order = [rel for rel, _ in jobs]
        self.expected = dict(jobs)

    def started(self, rel: str, cells: int, reason: str = "") -> None:
        self._include(rel)
        self.running[rel] = {"since": time.monotonic(), "cell": (0, cells), "task": None}
        count = f"{cells} cell{'' if cells == 1 else 's'}"
        if self.live:
            bar, overall = self._display()
            bar.update(overall, total=len(self.order))
            label = _escape(rel) + (f" [dim]({_escape(reason)})[/]" if reason else "")
            self.running[rel]["task"] = bar.add_task(label, total=cells or None, cell=count)
        else:
            last = self.expected.get(rel)
            was = f", last run {seconds_text(last)}" if last else ""
            why = f", {reason}" if reason else ""
            self._line(f"{' ' * len(self._count())} started  {rel} ({count}{was}{why})")

    def cell(self, rel: str, index: int, total: int) -> None:
        state = self.running.get(rel)
        if state is None:
            return
        state["cell"] = (index, total)
        if self.live and state["task"] is not None:
            self._rich[0].update(state["task"], completed=index - 1, total=total, cell=f"cell {index} of {total}")

    def finished(self, result) -> None:
        self._include(result.note)
        state = self.running.pop(result.note, None)
        self.done[result.note] = result
        how = "cached" if result.cached else seconds_text(result.seconds) if result.seconds >= 60 \
            else f"{result.seconds:.1f}s"
        status = "passed" if result.ok else "FAILED"
        where = result.note + (f":{result.line}" if not result.ok and result.line else "")
        if not self.live:
            self._line(f"{self._count()} {status:<8} {where} ({how})")
            return
        if self._rich is None:
            if result.cached and result.ok:
                return  # answered from the cache: the table says so; no display is started for it
            self._display()
        bar, overall = self._rich
        if state is not None and state["task"] is not None:
            bar.remove_task(state["task"])
        bar.update(overall, completed=len(self.done))
        if not (result.cached and result.ok):
            colour = "green" if result.ok else "bold red"
            bar.console.print(f"[{colour}]{status}[/] {_escape(where)} [dim]({how})[/]", highlight=False)

    def close(self) -> None:
        if self._rich is not None:
            self._rich[0].stop()
            self._rich = None
        left = [rel for rel in self.order if rel not in self.done]
        if left:
            self._line(f"{len(left)} of {len(self.order)} notes did not run: {', '.join(left)}")

    def _include(self, rel: str) -> None:
        """A note run that was not planned (one a selected note depends on) still counts."""
        if rel not in self.expected:
            self.order.append(rel)
            self.expected[rel] = None

    # ---- the estimate

    def remaining(self, now: float | None = None) -> float | None:
        """Seconds until every planned note is done, from the last recorded durations; None without any."""
        known = [s for s in self.expected.values() if s]
        if not known:
            return None
        typical = statistics.median(known)
        now = time.monotonic() if now is None else now
        left = []
        for rel in self.order:
            if rel in self.done:
                continue
            expected = self.expected.get(rel) or typical
            if rel in self.running:
                expected = max(0.0, expected - (now - self.running[rel]["since"]))
            left.append(expected)
        if not left:
            return 0.0
        return sum(left) / min(self.jobs, len(left))

    # ---- output

    def _count(self) -> str:
        return f"[{len(self.done)}/{len(self.order) or '?'}]"

    def _line(self, text: str) -> None:
        if self._rich is not None:
            self._rich[0].console.print(text, highlight=False, markup=False)
        else:
            print(text, file=self.stream, flush=True)

    def _display(self):
        if self._rich is None:
            from rich.console import Console
            from rich.progress import BarColumn, Progress as Bar, ProgressColumn, SpinnerColumn, TextColumn, \
                TimeElapsedColumn
            from rich.text import Text

            estimate = self

            class Counts(ProgressColumn):
                """The overall row: notes done of planned and the estimate; a note's row: its current cell."""

                def render(self, task) -> Text:
                    if "cell" in task.fields:
                        return Text(task.fields["cell"], style="cyan")
                    left = estimate.remaining()
                    text = f"{int(task.completed)}/{int(task.total or 0)} notes"
                    return Text(text + ("" if left is None else f", about {seconds_text(left)} left"), style="yellow")

            bar = Bar(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), Counts(), TimeElapsedColumn(),
                      console=Console(file=self.stream), transient=True)
            overall = bar.add_task("[bold]all notes[/]", total=len(self.order) or None, completed=len(self.done))
            bar.start()
            self._rich = (bar, overall)
        return self._rich


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
