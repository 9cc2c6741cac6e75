"""What a note's code may call: the device switch, seeds, where the vault and the cache are, cached artifacts.

The runner passes its choices to the kernel through environment variables, so the same calls also work in a plain
Python session or in Jupyter: then the vault and the cache are those of the project found from the current folder
upwards (as `llm-vault` finds it), else those of the project the runner is installed from.
"""
from __future__ import annotations

import hashlib
import inspect
import os
import random
import shutil
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Callable

REPO_ROOT = Path(__file__).resolve().parent.parent  # where the runner's code is: kernels import `runner` from here
DEVICE_VAR, VAULT_VAR, CACHE_VAR = "LLM_VAULT_DEVICE", "LLM_VAULT_DIR", "LLM_VAULT_CACHE"


def vault_dir() -> Path:
    return Path(os.environ.get(VAULT_VAR) or _project().vault)


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_VAR) or _project().cache_dir)


def _project():
    from .config import ProjectError, find_project

    found = find_project(Path.cwd().resolve()) or find_project(REPO_ROOT)
    if found is None:
        raise ProjectError(f"no vault found from {Path.cwd()}: set {VAULT_VAR} (and {CACHE_VAR}) or run in a vault")
    return found


def vault_notes() -> list[Path]:
    """Every note of the vault, sorted by path (the companions folder and hidden folders excluded)."""
    root = vault_dir()
    return sorted(
        p for p in root.rglob("*.md")
        if not any(part.startswith(".") or part == "companions" for part in p.relative_to(root).parts)
    )


def device(choice: str | None = None):
    """The torch device for this run: `--device cpu|cuda|auto` of the runner, or the argument."""
    import torch

    choice = (choice or os.environ.get(DEVICE_VAR) or "auto").lower()
    if choice == "auto":
        choice = "cuda" if torch.cuda.is_available() else "cpu"
    if choice == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda was asked for, but torch sees no CUDA device")
    return torch.device(choice)


def seed_everything(seed: int = 0) -> None:
    random.seed(seed)
    try:
        import numpy as np
        np.random.seed(seed)
    except ImportError:
        pass
    try:
        import torch
        torch.manual_seed(seed)
    except ImportError:
        pass


def set_threads(count: int) -> None:
    """CPU threads for torch's operators (the runner gives each of N parallel notes cores/N)."""
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(count)
    try:
        import torch
        torch.set_num_threads(count)
    except ImportError:
        pass


def fingerprint(*things) -> str:
    """A short sha256 of strings, bytes, paths and modules (a module is hashed by its source file)."""
    digest = hashlib.sha256()
    for thing in things:
        if isinstance(thing, ModuleType):
            thing = Path(inspect.getsourcefile(thing)).read_bytes()
        elif isinstance(thing, Path):
            thing = thing.read_bytes()
        elif callable(thing):
            thing = inspect.getsource(thing)
        if isinstance(thing, str):
            thing = thing.encode()
        digest.update(len(thing).to_bytes(8, "little") + thing)
    return digest.hexdigest()[:16]


def artifact(name: str, key: str, build: Callable[[Path], None]) -> Path:
    """A file built once per `key` and shared by every note: `build(tmp_path)` writes it, then it is moved in place.

    A lock serialises builders, so two notes running at once never train the same model twice, and the atomic move
    means a run killed mid-build leaves nothing half-written.
    """
    from filelock import FileLock

    final = cache_dir() / "artifacts" / key / name
    if final.exists():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(final) + ".lock"):
        if final.exists():
            return final
        with tempfile.TemporaryDirectory(dir=final.parent) as tmp:
            tmp_path = Path(tmp) / name
            build(tmp_path)
            if not tmp_path.exists():
                raise RuntimeError(f"artifact {name!r}: build() did not write {tmp_path}")
            os.replace(tmp_path, final)
    return final


def clear_artifacts() -> None:
    shutil.rmtree(cache_dir() / "artifacts", ignore_errors=True)
