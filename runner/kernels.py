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
import uuid
from queue import Empty

from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning import LocalProvisioner
from jupyter_client.utils import ensure_async

from .forkserver import OPTIONAL, kill_tree, request_kernel

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
        """Kill, don't ask: jupyter_client's shutdown_kernel(now=True) also interrupts first and then polls every
        0.1 s for the exit, which was a fifth of the time of a short note."""
        pgid = self.pgid
        process = getattr(self.km.provisioner, "process", None)
        try:
            self.kc.stop_channels()
            if process is not None:
                kill_tree(process.pid)
                process.kill()
                await asyncio.wait_for(asyncio.to_thread(process.wait, 10), timeout=11)
        except Exception:
            pass
        kill_group(pgid)
        try:
            await ensure_async(self.km.cleanup_resources())  # the connection file and the IPC socket files
        except Exception:
            pass


class ForkProvisioner(LocalProvisioner):
    """jupyter_client's local provisioner, except that the kernel is forked by the run's fork server instead of
    started as a new Python (which also spared a stand-in process per kernel: 0.1 s of CPU each)."""

    fork_socket = ""

    async def launch_kernel(self, cmd: list[str], **kwargs) -> dict:
        argv = cmd[cmd.index("-f"):]  # ipykernel's own arguments, after `python -m ipykernel_launcher`
        self.process = request_kernel(self.fork_socket, argv, kwargs.get("env") or dict(os.environ),
                                      str(kwargs.get("cwd") or os.getcwd()))
        self.pid = self.pgid = self.process.pid  # the kernel leads its own session and process group
        self.cwd = kwargs.get("cwd")
        return self.connection_info


class ForkedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels come from the fork server (ForkProvisioner)."""

    fork_socket = ""

    @property
    def kernel_spec(self):
        # what the server's fork continues as; finding the python3 spec on disk instead imports all of IPython in
        # the runner (0.3-0.5 s, on the start of the run's first kernel)
        if self._kernel_spec is None:
            self._kernel_spec = KernelSpec(argv=[sys.executable, "-m", "ipykernel_launcher", "-f",
                                                 "{connection_file}"], display_name="Python 3 (llm-vault fork)",
                                           language="python", interrupt_mode="signal",
                                           metadata={"debugger": True})
        return self._kernel_spec

    async def _async_pre_start_kernel(self, **kw):
        self.kernel_id = self.kernel_id or str(uuid.uuid4())
        if self.provisioner is None:
            self.provisioner = ForkProvisioner(kernel_id=self.kernel_id, kernel_spec=self.kernel_spec, parent=self)
            self.provisioner.fork_socket = self.fork_socket
        return await super()._async_pre_start_kernel(**kw)


class ForkServer:
    """One per run; see forkserver.py. `start()` returns None where forking is not available."""

    def __init__(self, run_dir: RunDir):
        self.run_dir = run_dir
        self.path = run_dir.name("fork")
        self.process = None
        self.spawn = False

    async def start(self, env: dict[str, str], sources: list[str] = (), meanwhile=None) -> "ForkServer | None":
        """`sources`: the code the kernels will run, which decides what else the server imports beforehand;
        `meanwhile()`: the runner's own preparations, done on another core while the server imports."""
        if not hasattr(os, "pidfd_open"):  # not Linux: jupyter_client starts the kernels, no watchdog
            return None
        self.spawn = os.environ.get("LLM_VAULT_FORK", "1") == "0"  # new Pythons, not forks; still the watchdog
        extra = ["--spawn"] if self.spawn else [
            module for package, modules in OPTIONAL.items() if any(package in code for code in sources)
            for module in modules]
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "runner.forkserver", "serve", self.path, self.run_dir.path, *extra, env=env,
            stdout=asyncio.subprocess.PIPE, start_new_session=True, cwd=self.run_dir.path)
        _live_groups.add(self.process.pid)
        if meanwhile is not None:
            meanwhile()
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
    # figures as 2x PNGs that say their 1x size (sharp on high-density screens; the site reads the size): set here,
    # as a setup cell calling set_matplotlib_formats would import matplotlib into every kernel (0.3 s)
    await km.start_kernel(env=env, cwd=run_dir.path, extra_arguments=[
        "--HistoryManager.enabled=False", "--InlineBackend.figure_formats=retina"])
    if km.provisioner is not None and getattr(km.provisioner, "pgid", None):
        _live_groups.add(km.provisioner.pgid)
    kc = km.client()
    kc.start_channels()
    kernel = Kernel(km, kc)
    try:
        await wait_ready(km, kc, timeout=120)
        if warm:
            await kc.execute_interactive(WARM_UP, store_history=False, timeout=120, output_hook=lambda msg: None)
    except BaseException:
        await kernel.close()
        raise
    return kernel


async def wait_ready(km, kc, timeout: float) -> None:
    """The kernel answers on shell and its IOPub messages reach us. jupyter_client's wait_for_ready checks the
    same, then waits for 0.2 s of IOPub silence; here the end is the `idle` status of our own request, so nothing
    of the start-up is left on IOPub for the note's first cell, and no time is spent waiting for nothing."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    for attempt in itertools.count():
        request = kc.kernel_info()
        try:
            while (await kc.shell_channel.get_msg(timeout=1))["parent_header"].get("msg_id") != request:
                pass
            # the idle status follows the reply at once, unless IOPub's subscription is still joining and drops
            # it: then ask again, soon (a fixed 0.5 s here cost a tenth of a short note)
            while True:
                msg = await kc.iopub_channel.get_msg(timeout=min(0.05 * 2 ** attempt, 1.0))
                if (msg["parent_header"].get("msg_id") == request and msg["msg_type"] == "status"
                        and msg["content"].get("execution_state") == "idle"):
                    return
        except Empty:
            pass
        if not await km.is_alive():
            raise RuntimeError("the kernel died before replying to kernel_info")
        if loop.time() > deadline:
            raise RuntimeError(f"the kernel did not reply within {timeout:g} s")


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
            warm = self.fork is None or self.fork.spawn  # a new Python: import torch & co. before the note
            await self.ready.put(await start_kernel(self.env, warm=warm, fork=self.fork, run_dir=self.run_dir))
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

