"""The execution report page: every note with its run's status, time, device and date (as Jupyter Book's has).

It reads the cache under each note's current key, so a note whose code changed since its last run shows as
"not run", never with the old run's figures.
"""
from __future__ import annotations

from urllib.parse import quote

from .site_nav import learning_order

PAGE = "report.md"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|")


def report_markdown(site) -> str:
    rows, counts, total = [], {"passed": 0, "failed": 0, "not run": 0}, 0.0
    for note in learning_order(site):
        if not note.cells:
            continue
        key = site.keys.get(note.rel)
        result = site.cache.result(key, note) if key else None
        link = f"[{_cell(note.name)}](<{quote(note.rel)}>)"
        folder = _cell(note.folder or "—")
        if result is None:
            counts["not run"] += 1
            rows.append(f"| {link} | {folder} | not run | — | — | — | {len(note.cells)} |")
            continue
        status = "passed" if result.ok else "failed"
        counts[status] += 1
        total += result.seconds
        where = f" (line {result.line})" if status == "failed" and result.line else ""
        rows.append(f"| {link} | {folder} | <span class=\"llm-status llm-{status}\">{status}</span>{where} | "
                    f"{result.seconds:.1f} s | {_cell(result.device)} | {result.date[:16].replace('T', ' ')} | "
                    f"{result.cells or len(note.cells)} |")
    summary = (f"{sum(counts.values())} notes with code: {counts['passed']} passed, {counts['failed']} failed, "
               f"{counts['not run']} not run; {total:.1f} s of run time in all.")
    head = ["---", "search:", "  exclude: true", "---", "", "# Execution report", "",
            "Every note's code cells ran in a fresh kernel; this is what the runner's cache holds for the code as "
            "it is now.", "", summary, ""]
    table = ["| Note | Folder | Status | Run time | Device | Date (UTC) | Cells |",
             "| --- | --- | --- | --- | --- | --- | --- |"] + rows
    return "\n".join(head + (table if rows else ["No note has code cells."])) + "\n"
