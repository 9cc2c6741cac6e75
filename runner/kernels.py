"""Fresh kernels, started ahead of time.

Every note runs in a new ipykernel process, but starting one and importing torch costs seconds; the pool starts the
next kernels in the background while notes run, with torch, numpy and matplotlib already imported, so a note's
wait is only what the machine could not overlap. A kernel is used once and then killed with its whole process group
(a note that starts torchrun or DataLoader workers leaves nothing behind), after every process below it, which
its group misses when a cell starts one in a session of its own.

Each run keeps its sockets and connection files in a private folder (`RunDir`) that it removes at the end; the fork
server removes it too if the runner is killed outright (see forkserver.py).
"""
from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import signal
import sys
import tempfile

from jupyter_client.manager import AsyncKernelManager

from .forkserver import kill_tree

WARM_UP = """
try:
    import torch, numpy, matplotlib.pyplot
except ImportError:
    pass
"""
_live_groups: set[int] = set()


def kill_group(pgid: int | None) -> None:
    if not pgid:
        return
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    _live_groups.discard(pgid)


def kill_all() -> None:
    """Last resort on exit or interrupt: no kernel outlives the run."""
    for pgid in list(_live_groups):
        kill_group(pgid)


class RunDir:
    """The run's own folder in the system's temporary folder: short names, as a socket path has ~100 bytes at most."""

    def __init__(self):
        self.path = tempfile.mkdtemp(prefix="llm-vault-")
        self._names = itertools.count()

    def name(self, stem: str) -> str:
        return os.path.join(self.path, f"{stem}{next(self._names)}")

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


class Kernel:
    def __init__(self, km: AsyncKernelManager, kc):
        self.km, self.kc = km, kc

    @property
    def pgid(self) -> int | None:
        return getattr(self.km.provisioner, "pgid", None)

    async def close(self) -> None:
        pgid = self.pgid
        process = getattr(self.km.provisioner, "process", None)
        if process is not None:  # a kernel started without the fork server: its own children first
            kill_tree(process.pid)
        try:
            self.kc.stop_channels()
            await asyncio.wait_for(self.km.shutdown_kernel(now=True), timeout=10)
        except Exception:
            pass
        kill_group(pgid)


class ForkedKernelManager(AsyncKernelManager):
    """Launches `runner.forkserver connect` instead of ipykernel: the kernel itself is forked by the server."""

    fork_socket = ""

    def format_kernel_cmd(self, extra_arguments=None):
        return [sys.executable, "-m", "runner.forkserver", "connect", self.fork_socket, "--",
                "-f", self.connection_file, *(extra_arguments or [])]


class ForkServer:
    """One per run; see forkserver.py. `start()` returns None where forking is not available."""

    def __init__(self, run_dir: RunDir):
        self.run_dir = run_dir
        self.path = run_dir.name("fork")
        self.process = None

    async def start(self, env: dict[str, str]) -> "ForkServer | None":
        if os.environ.get("LLM_VAULT_FORK", "1") == "0" or not hasattr(os, "pidfd_open"):
            return None
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "runner.forkserver", "serve", self.path, self.run_dir.path, env=env,
            stdout=asyncio.subprocess.PIPE, start_new_session=True, cwd=self.run_dir.path)
        _live_groups.add(self.process.pid)
        try:
            line = await asyncio.wait_for(self.process.stdout.readline(), timeout=120)
        except asyncio.TimeoutError:
            line = b""
        if line.strip() != b"ready":
            await self.close()
            return None
        return self

    async def close(self) -> None:
        """SIGTERM: the server kills every process below it (kernels, their children, adopted orphans) and exits."""
        if self.process is not None and self.process.returncode is None:
            try:
                self.process.terminate()
                await asyncio.wait_for(self.process.wait(), timeout=10)
            except (ProcessLookupError, asyncio.TimeoutError):
                pass
            kill_group(self.process.pid)
            await self.process.wait()


async def start_kernel(env: dict[str, str], warm: bool = True, fork: ForkServer | None = None,
                       run_dir: RunDir | None = None) -> Kernel:
    # IPC sockets under a unique prefix in the run's folder: kernels started at once never share a socket path
    run_dir = run_dir or (fork.run_dir if fork else RunDir())
    manager = ForkedKernelManager if fork else AsyncKernelManager
    km = manager(kernel_name="python3", transport="ipc", ip=run_dir.name("k"),
                 connection_file=run_dir.name("kernel") + ".json")
    if fork:
        km.fork_socket = fork.path
    # started in the run's empty folder: `python -m` puts the working folder first on sys.path, and a `runner/`
    # folder there (the user's own) would shadow this package in the kernel
    await km.start_kernel(env=env, cwd=run_dir.path, extra_arguments=["--HistoryManager.enabled=False"])
    if km.provisioner is not None and getattr(km.provisioner, "pgid", None):
        _live_groups.add(km.provisioner.pgid)
    kc = km.client()
    kc.start_channels()
    kernel = Kernel(km, kc)
    try:
        await kc.wait_for_ready(timeout=120)
        if warm:
            await kc.execute_interactive(WARM_UP, store_history=False, timeout=120, output_hook=lambda msg: None)
    except BaseException:
        await kernel.close()
        raise
    return kernel


class KernelPool:
    """Keeps up to `ahead` kernels starting or ready, for exactly `total` notes."""

    def __init__(self, env: dict[str, str], total: int, ahead: int, fork: ForkServer | None = None,
                 run_dir: RunDir | None = None):
        self.env, self.remaining, self.ahead, self.fork, self.run_dir = env, total, max(1, ahead), fork, run_dir
        self.ready: asyncio.Queue = asyncio.Queue()
        self.starting: set[asyncio.Task] = set()

    def _top_up(self) -> None:
        while self.remaining > 0 and len(self.starting) + self.ready.qsize() < self.ahead:
            self.remaining -= 1
            task = asyncio.create_task(self._start_one())
            self.starting.add(task)
            task.add_done_callback(self.starting.discard)

    async def _start_one(self) -> None:
        try:
            await self.ready.put(await start_kernel(self.env, warm=self.fork is None, fork=self.fork,
                                                    run_dir=self.run_dir))
        except Exception as exc:  # surfaced to whoever takes it
            await self.ready.put(exc)

    async def take(self) -> Kernel:
        self._top_up()
        kernel = await self.ready.get()
        self._top_up()
        if isinstance(kernel, Exception):
            raise kernel
        return kernel

    async def close(self) -> None:
        self.remaining = 0
        for task in list(self.starting):
            task.cancel()
        while not self.ready.empty():
            kernel = self.ready.get_nowait()
            if isinstance(kernel, Kernel):
                await kernel.close()
        kill_all()


def kernel_env(extra: dict[str, str], python_path: list[str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    env["PYTHONPATH"] = os.pathsep.join(python_path + [p for p in [env.get("PYTHONPATH")] if p])
    env.setdefault("PYTHONHASHSEED", "0")
    env.setdefault("OMP_NUM_THREADS", "1")  # each note sets its own count (runner.env.set_threads) at start
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    env["JPY_SESSION_NAME"] = env.get("JPY_SESSION_NAME", "llm-vault")
    # figures go to the notebook; set before the fork server imports pyplot, which fixes the backend for good
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    return env

