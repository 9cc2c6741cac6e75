"""The GPU check's summary reads the runner's --json results and the cached notebooks (it runs here on CPU data)."""
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import nbformat

SCRIPT = Path(__file__).with_name("gpu_summary.py")


def test_summary_lists_every_note_and_the_training_figures(tmp_path):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("train()")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=(
        "step 0 loss 4.5\ndevice cuda: 10,000 parameters, config {}\n"
        "trained on 1,000 characters in 2.0 s = 500 tokens/s\nfinal validation loss 1.900 nats/char\n"))]
    nb.cells = [cell]
    entry = tmp_path / "cache" / "runs" / "k1"
    entry.mkdir(parents=True)
    nbformat.write(nb, entry / "notebook.ipynb")
    results = [
        {"note": "Building LLMs/Pre-training from Scratch.md", "status": "passed", "device": "cuda",
         "seconds": 12.5, "key": "k1"},
        {"note": "Basics/Other.md", "status": "failed", "device": "cuda", "seconds": 1.0, "key": "k2",
         "report": "Basics/Other.md:7: RuntimeError: boom"},
    ]
    (tmp_path / "results.json").write_text(json.dumps(results))
    out = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "results.json"), str(tmp_path / "cache"),
                          "--notebooks", str(tmp_path / "nb.tar.gz")], capture_output=True, text=True, check=True)
    text = out.stdout
    assert "| Building LLMs/Pre-training from Scratch.md | passed | cuda | 12.5 |" in text
    assert "1 passed, 1 failed" in text
    assert "500 tokens/s" in text and "final validation loss 1.900" in text
    assert "step 0 loss" not in text  # only the lines that carry the figures
    assert "Basics/Other.md:7: RuntimeError: boom" in text
    with tarfile.open(tmp_path / "nb.tar.gz") as tar:
        assert tar.getnames() == ["Building LLMs/Pre-training from Scratch.ipynb"]
