"""Jupyter gets what the runner gets: every note, read by jupytext and run by plain nbclient, passes or fails as
the runner says it does.

Plain nbclient is `jupyter execute` / `jupyter nbconvert --execute`: a stock python3 kernel, the working directory
the note's folder, no runner code in the kernel, only the environment README ("In Jupyter") tells a Jupyter user
to set. The notebook is `jupytext.reads(note)` — what JupyterLab opens — which tests/test_jupytext_oracle.py shows
to be the runner's `llm-vault notebook` minus its `llm_vault` line numbers. The runner's results come from its cache
(the vault's doc-tests fill it earlier in the same `pytest`), and the kernels share its artifacts, so the trained
model is loaded, not trained again.
"""
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

from runner import config
from runner.execute import run_vault
from runner.index import read_vault
from runner.tiktoken_data import ensure_offline_encodings

WORKERS = 2
CELL_TIMEOUT = 900  # the longest `timeout=` of the vault: nbclient has no per-cell timeout to map it onto


def jupyter_env(cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLM_VAULT_")}
    env["LLM_VAULT_CACHE"] = str(cache)  # README: the cache a Jupyter session shares with `llm-vault run`
    env["TIKTOKEN_CACHE_DIR"] = str(ensure_offline_encodings(cache / "tiktoken"))  # README: tiktoken offline
    env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // WORKERS))  # two kernels share the cores
    return env


async def run_plain(path: Path, env: dict[str, str]) -> tuple[bool, str]:
    nb = jupytext.reads(path.read_text(encoding="utf-8"), fmt="md")
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    try:
        await client.async_execute(env=env)
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as exc:
        return False, str(exc).strip().splitlines()[-1][:300]
    return True, ""


async def run_all(paths: list[Path], env: dict[str, str]) -> dict[Path, tuple[bool, str]]:
    slots = asyncio.Semaphore(WORKERS)

    async def one(path):
        async with slots:
            return path, await run_plain(path, env)

    return dict(await asyncio.gather(*(one(p) for p in paths)))


def test_every_note_passes_or_fails_in_plain_nbclient_as_in_the_runner():
    cfg = config.load(None)
    runner = {r.note: r.ok for r in run_vault(cfg, jobs=WORKERS, progress_display=False)}
    vault = read_vault(cfg.vault)
    notes = {n.rel: n.path for n in vault.notes if n.cells}
    assert set(runner) == set(notes)
    started = time.perf_counter()
    plain = asyncio.run(run_all(list(notes.values()), jupyter_env(cfg.cache_dir)))
    seconds = time.perf_counter() - started
    agree = [rel for rel, path in notes.items() if plain[path][0] == runner[rel]]
    print(f"\nplain nbclient: {len(notes)} notes in {seconds:.0f} s with {WORKERS} workers; "
          f"{len(agree)}/{len(notes)} agree with the runner "
          f"({sum(runner.values())} pass in the runner, {sum(ok for ok, _ in plain.values())} in nbclient)")
    disagree = {rel: ("runner passes" if runner[rel] else "runner fails", plain[notes[rel]][1])
                for rel in notes if rel not in agree}
    assert not disagree, disagree


def test_llm_vault_notebook_then_jupyter_execute_skips_and_expects_as_the_runner(make_vault):
    cfg = make_vault({"Folder/Attrs.md": """
        # Attributes

        ```python skip="needs a cluster" tags=["skip-execution"]
        open("skipped-cell-ran.txt", "w").write("x")
        ```

        ```python raises="ZeroDivisionError" tags=["raises-exception"]
        1 / 0
        ```

        ```python
        import os
        assert not os.path.exists("skipped-cell-ran.txt")
        print("last cell ran in", os.path.basename(os.getcwd()))
        ```
        """})
    assert run_vault(cfg, progress_display=False)[0].ok
    out = cfg.vault / "Folder" / "Attrs.ipynb"
    notebook = subprocess.run([sys.executable, "-m", "runner.cli", "--vault", str(cfg.vault), "notebook",
                               "Attrs", "-o", str(out)], capture_output=True, text=True)
    assert notebook.returncode == 0, notebook.stderr
    executed = subprocess.run([sys.executable, "-m", "jupyter", "execute", "--inplace", str(out)],
                              capture_output=True, text=True, timeout=300)
    assert executed.returncode == 0, executed.stderr
    cells = [c for c in nbformat.read(out, 4).cells if c.cell_type == "code"]
    assert cells[0].get("execution_count") is None  # skipped
    assert [o.ename for o in cells[1].outputs if o.output_type == "error"] == ["ZeroDivisionError"]
    assert cells[2].outputs[0].text == "last cell ran in Folder\n"
