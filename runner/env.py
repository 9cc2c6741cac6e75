"""What a note's code may call: the device switch, seeds, where the vault and the cache are, cached artifacts.

The runner passes its choices to the kernel through environment variables, so the same calls also work in a plain
Python session or in Jupyter: then the vault and the cache are those of the project found from the current folder
upwards (as `llm-vault` finds it), else those of the project the runner is installed from.
"""
from __future__ import annotations

import contextlib
import fcntl
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
ARTIFACT_LOG_VAR = "LLM_VAULT_ARTIFACT_LOG"


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
    """A short sha256 of strings, bytes, paths (a folder by its contents) and modules (hashed by their source file)."""
    digest = hashlib.sha256()
    for thing in things:
        if isinstance(thing, ModuleType):
            thing = Path(inspect.getsourcefile(thing)).read_bytes()
        elif isinstance(thing, Path):  # a folder by the names and bytes of its files
            files = sorted(f for f in thing.rglob("*") if f.is_file()) if thing.is_dir() else [thing]
            thing = b"".join(f.relative_to(thing).as_posix().encode() + b"\0" + f.read_bytes() + b"\0"
                             if f != thing else f.read_bytes() for f in files)
        elif callable(thing):
            thing = inspect.getsource(thing)
        if isinstance(thing, str):
            thing = thing.encode()
        digest.update(len(thing).to_bytes(8, "little") + thing)
    return digest.hexdigest()[:16]


def artifact(name: str, key: str, build: Callable[[Path], None]) -> Path:
    """A file built once per `key` and shared by every note: `build(tmp_path)` writes it, then it is moved in place.

    A lock serialises builders, so two notes running at once never train the same model twice, and the atomic move
    means a run killed mid-build leaves nothing half-written. An interrupted build (a timeout interrupts the kernel)
    removes its temporary folder, its lock file and the empty key folder; a build killed outright (SIGKILL) leaves
    its folder behind, and the next build of that key removes it.
    """
    final = cache_dir() / "artifacts" / key / name
    if not final.exists():
        with _build_lock(final):
            if not final.exists():
                _remove_dead_builds(final.parent)
                tmp = Path(tempfile.mkdtemp(prefix=f".{name}.build-{os.getpid()}-", dir=final.parent))
                try:
                    build(tmp / name)
                    if not (tmp / name).exists():
                        raise RuntimeError(f"artifact {name!r}: build() did not write {tmp / name}")
                    os.replace(tmp / name, final)
                finally:
                    shutil.rmtree(tmp, ignore_errors=True)
    _log_artifact(final)
    return final


@contextlib.contextmanager
def _build_lock(final: Path):
    """flock on `<name>.lock` beside the artifact, unlinked on release (no lock files pile up).

    filelock leaves its lock files in place; unlinking one safely needs the inode check below: a waiter that got
    the lock of a file another builder already unlinked tries again on the new file.
    """
    lock = final.with_name(f".{final.name}.lock")
    while True:
        final.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock, os.O_CREAT | os.O_RDWR, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            if os.stat(lock).st_ino == os.fstat(fd).st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)
        os.close(fd)
        with contextlib.suppress(OSError):
            final.parent.rmdir()  # only when empty: the build failed or was interrupted


def _remove_dead_builds(folder: Path) -> None:
    for tmp in folder.glob(".*.build-*"):
        pid = tmp.name.rsplit(".build-", 1)[1].split("-")[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _log_artifact(path: Path) -> None:
    """The runner asks (through LLM_VAULT_ARTIFACT_LOG) which artifacts a note needs, to rebuild them when gone."""
    log = os.environ.get(ARTIFACT_LOG_VAR)
    if log:
        with contextlib.suppress(OSError), open(log, "a") as f:
            f.write(path.relative_to(cache_dir()).as_posix() + "\n")


def clear_artifacts() -> None:
    shutil.rmtree(cache_dir() / "artifacts", ignore_errors=True)


def keep_unencodable_output(shell) -> None:
    """Called by the runner in each kernel (not by notes): a message holding a lone surrogate is sent as ASCII JSON (`\\ud800`) instead of being dropped.

    jupyter_client encodes messages as UTF-8, which has no lone surrogates: ipykernel then loses the whole output
    (a printed `"\\ud800"`) and prints a traceback on the kernel's stderr instead.
    """
    import json

    from jupyter_client.session import json_default

    session = shell.kernel.session
    plain = session.pack

    def pack(obj):
        try:
            data = plain(obj)
            data.decode("utf-8")  # surrogateescape lets \\udc80-\\udcff through as bytes no reader accepts
            return data
        except ValueError:  # UnicodeError included
            return json.dumps(obj, default=json_default, ensure_ascii=True, allow_nan=False).encode("ascii")

    session.pack = pack
