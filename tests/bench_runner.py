"""Runner speed benchmark — prints ratios; not a test (run: python tests/bench_runner.py).

1. Eight notes that only `import torch`, from a cold start: `llm-vault run --jobs 2` (fork server on, and off)
   against plain sequential nbclient, one fresh kernel per note. Goal: ≤ 1.0 s of wall time per note.
2. A no-change re-run of the whole vault (cached). Goal: ≤ 2 s.
3. `--jobs 2` over `--jobs 1` on CPU-bound notes.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).parent))
from conftest import write_vault  # noqa: E402

from runner.execute import run_vault  # noqa: E402

TORCH_NOTE = "# Torch {i}\n\n```python\nimport torch\nprint(torch.__version__, {i})\n```\n"
CPU_NOTE = "# Busy {i}\n\n```python\ntotal = sum(k * k for k in range(12_000_000))\nprint(total % 97, {i})\n```\n"


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def fresh_vault(template: str, n: int):
    root = Path(tempfile.mkdtemp(prefix="llm-vault-bench-"))
    os.environ["LLM_VAULT_CACHE"] = str(root / ".llm-vault")
    return write_vault(root, {f"Note {i}.md": template.format(i=i) for i in range(n)})


def plain_nbclient(cfg) -> None:
    for path in sorted(cfg.vault.glob("*.md")):
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import torch\nprint(torch.__version__)")])
        NotebookClient(nb, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()


def run(cfg, jobs: int, fork: bool = True) -> None:
    os.environ["LLM_VAULT_FORK"] = "1" if fork else "0"
    results = run_vault(cfg, jobs=jobs, progress_display=False)
    assert all(r.ok for r in results), [r.report for r in results if not r.ok]


def main() -> None:
    n = 8
    plain = timed(lambda: plain_nbclient(fresh_vault(TORCH_NOTE, n)))
    forked = timed(lambda: run(fresh_vault(TORCH_NOTE, n), jobs=2))
    pooled = timed(lambda: run(fresh_vault(TORCH_NOTE, n), jobs=2, fork=False))
    print(f"1. {n} notes importing torch, cold start")
    print(f"   plain sequential nbclient      {plain / n:5.2f} s/note")
    print(f"   llm-vault run -j2 (fork server) {forked / n:5.2f} s/note   ratio {plain / forked:4.1f}x   goal <= 1.0 s/note")
    print(f"   llm-vault run -j2 (warm pool)   {pooled / n:5.2f} s/note   ratio {plain / pooled:4.1f}x")

    os.environ.pop("LLM_VAULT_CACHE", None)
    os.environ["LLM_VAULT_FORK"] = "1"
    cli = [sys.executable, "-m", "runner.cli", "run"]
    subprocess.run(cli, capture_output=True)  # make sure everything is cached
    rerun = timed(lambda: subprocess.run(cli, capture_output=True, check=False))
    print(f"2. no-change re-run of the whole vault: {rerun:.2f} s (goal <= 2 s)")

    one = timed(lambda: run(fresh_vault(CPU_NOTE, 4), jobs=1))
    two = timed(lambda: run(fresh_vault(CPU_NOTE, 4), jobs=2))
    print(f"3. 4 CPU-bound notes: --jobs 1 {one:.1f} s, --jobs 2 {two:.1f} s, speedup {one / two:.2f}x")


if __name__ == "__main__":
    main()
