"""Summarise a vault run: per note status and seconds, and the figures the tutorial notes measure.

    python tests/gpu_summary.py RESULTS.json CACHE_DIR [--notebooks OUT.tar.gz]

RESULTS.json is `llm-vault run --json` output; CACHE_DIR the runner's cache, where each result's executed notebook
lies. Works on a CPU run too, so that the GPU run's figures can be set side by side with the CPU's.
"""
from __future__ import annotations

import argparse
import json
import re
import tarfile
from pathlib import Path

# what each tutorial note measures: the printed lines that carry it (matched, never retyped)
FIGURES = {
    "Building LLMs/Pre-training from Scratch.md":
        r"^device |^draft:|tokens/s|final validation loss",
    "How LLMs Work/Inference and Generation.md":
        r"speedup|time: uncached|tokens per target pass|wall time",
    "Advanced Topics/Quantization and Optimization.md":
        r"^(scheme|fp32 |int8_|int4_)|perplexity",
}


def stdout_lines(notebook: Path) -> list[str]:
    nb = json.loads(notebook.read_text())
    lines = []
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stdout":
                text = out["text"] if isinstance(out["text"], str) else "".join(out["text"])
                lines += text.splitlines()
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", type=Path)
    parser.add_argument("cache", type=Path)
    parser.add_argument("--notebooks", type=Path, help="also pack the tutorial notes' executed notebooks here")
    args = parser.parse_args()
    results = json.loads(args.results.read_text())

    print("| note | status | device | seconds |\n| --- | --- | --- | ---: |")
    for r in sorted(results, key=lambda r: r["note"]):
        print(f"| {r['note']} | {r['status']} | {r['device']} | {r['seconds']:.1f} |")
    total = sum(r["seconds"] for r in results)
    failed = [r for r in results if r["status"] != "passed"]
    print(f"\n{len(results) - len(failed)} passed, {len(failed)} failed; {total:.0f} s of note time\n")

    notebooks = []
    for r in results:
        pattern = FIGURES.get(r["note"])
        notebook = args.cache / "runs" / r["key"] / "notebook.ipynb"
        if not pattern or not notebook.exists():
            continue
        notebooks.append(notebook)
        print(f"## {r['note']}\n```text")
        print("\n".join(line for line in stdout_lines(notebook) if re.search(pattern, line)))
        print("```")
    for r in failed:
        print(f"## FAILED {r['note']}\n```text\n{r.get('report', '')[:3000]}\n```")

    if args.notebooks and notebooks:
        with tarfile.open(args.notebooks, "w:gz") as tar:
            for nb in notebooks:
                name = next(r["note"] for r in results if r["key"] == nb.parent.name)
                tar.add(nb, arcname=Path(name).with_suffix(".ipynb").as_posix())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
