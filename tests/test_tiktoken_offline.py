"""tiktoken's encodings come from installed packages, never from the network."""
import os
import subprocess
import sys

from runner.tiktoken_data import ensure_offline_encodings


def test_encodings_load_with_the_network_unreachable(tmp_path):
    cache = ensure_offline_encodings(tmp_path / "tiktoken")
    assert len(list(cache.iterdir())) == 2
    code = ("import tiktoken\n"
            "for name in ('cl100k_base', 'o200k_base'):\n"
            "    print(name, tiktoken.get_encoding(name).encode('hello world'))\n")
    env = {**os.environ, "TIKTOKEN_CACHE_DIR": str(cache),
           "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"}  # any download fails at once
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "cl100k_base [15339, 1917]\no200k_base [24912, 2375]\n"
