"""Stage 6 — report: a failure at the note's own line, the final table, JSON for CI (live progress: progress.py)."""
from __future__ import annotations

import json
import re
from dataclasses import asdict

from .cache import Result

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
CELL_REF = re.compile(r"Cell In\[(\d+)\], line (\d+)")


def strip_ansi(text: str) -> str:
    return ANSI.sub("", text)


def failure_report(rel: str, nb, failed_index: int | None, message: str) -> tuple[str, int | None]:
    """The report for a failed note, and the `.md` line of the failing statement.

    ipykernel names cells `Cell In[N]` by execution count; each such reference in the traceback is rewritten to
    `note.md:LINE`, so every frame points into the note, and the failing line is the outermost frame of the failing cell.
    """
    line_of_count = {}
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.get("execution_count"):
            line_of_count[cell.execution_count] = cell.metadata.get("llm_vault", {}).get("line")
    cell = nb.cells[failed_index] if failed_index is not None else None
    start = cell.metadata.get("llm_vault", {}).get("line") if cell is not None else None
    traceback, stderr, failing_line = "", "", start
    if cell is not None:
        for out in cell.get("outputs", []):
            if out.output_type == "error":
                traceback = strip_ansi("\n".join(out.traceback))
            elif out.output_type == "stream" and out.name == "stderr":
                stderr += out.text
        count = cell.get("execution_count")
        for m in CELL_REF.finditer(traceback):
            if int(m.group(1)) == count and start is not None:
                failing_line = start + int(m.group(2)) - 1
                break

    def to_md(m: re.Match) -> str:
        base = line_of_count.get(int(m.group(1)))
        return f"{rel}:{base + int(m.group(2)) - 1}" if base else m.group(0)

    traceback = CELL_REF.sub(to_md, traceback)
    where = f"{rel}:{failing_line}" if failing_line else rel
    parts = [f"{where}: {message}"]
    if cell is not None:
        code_cells = [c for c in nb.cells if c.cell_type == "code"]
        parts.append(f"in code cell {code_cells.index(cell) + 1} of {len(code_cells)}, which starts at line {start}")
    if cell is not None and failing_line and start:
        code = cell.source.split("\n")
        offset = failing_line - start
        if 0 <= offset < len(code):
            parts.append(f"    {failing_line} | {code[offset]}")
    if traceback:
        parts.append(traceback.rstrip())
    if stderr.strip():
        parts.append("stderr:\n" + stderr.rstrip())
    return "\n".join(parts), failing_line


def shown_path(path) -> str:
    """A path as the user would type it: relative to the current folder when below it."""
    from pathlib import Path

    path, cwd = Path(path).resolve(), Path.cwd().resolve()
    return str(path.relative_to(cwd)) if path.is_relative_to(cwd) and path != cwd else str(path)


def print_table(results: list[Result]) -> None:
    if not results:
        print("no note with code to run")
        return
    width = max(len(r.note) for r in results)
    print(f"{'note':<{width}}  {'status':<6}  {'seconds':>7}  cached")
    for r in sorted(results, key=lambda r: r.note):
        print(f"{r.note:<{width}}  {r.status:<6}  {r.seconds:>7.1f}  {'yes' if r.cached else 'no'}")
    failed = [r for r in results if not r.ok]
    for r in failed:
        print("\n" + "=" * 80 + f"\nFAILED {r.note}\n" + r.report)
    passed = len(results) - len(failed)
    cached = sum(r.cached for r in results)
    print(f"\n{passed} passed, {len(failed)} failed ({cached} from cache)")


def print_json(results: list[Result]) -> None:
    print(json.dumps([asdict(r) for r in results], indent=1))
