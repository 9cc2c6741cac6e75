"""Fresh kernels, started ahead of time.

Every note runs in a new ipykernel process, but starting one and importing torch costs seconds; the pool starts the
next kernels in the background while notes run, with torch, numpy and matplotlib already imported, so a note's
wait is only what the machine could not overlap. A kernel is used once and then killed with its whole process group
(a note that starts torchrun or DataLoader workers leaves nothing behind).
"""
from __future__ import annotations

import asyncio
import os
import signal
import tempfile
import uuid

from jupyter_client.manager import AsyncKernelManager

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


class Kernel:
    def __init__(self, km: AsyncKernelManager, kc):
        self.km, self.kc = km, kc

    @property
    def pgid(self) -> int | None:
        return getattr(self.km.provisioner, "pgid", None)

    async def close(self) -> None:
        pgid = self.pgid
        try:
            self.kc.stop_channels()
            await asyncio.wait_for(self.km.shutdown_kernel(now=True), timeout=10)
        except Exception:
            pass
        kill_group(pgid)


async def start_kernel(env: dict[str, str], warm: bool = True) -> Kernel:
    # IPC sockets under a unique prefix: kernels started at once must never share a socket path
    km = AsyncKernelManager(kernel_name="python3", transport="ipc",
                            ip=os.path.join(tempfile.gettempdir(), f"llm-vault-{uuid.uuid4().hex[:12]}"))
    await km.start_kernel(env=env, extra_arguments=["--HistoryManager.enabled=False"])
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

    def __init__(self, env: dict[str, str], total: int, ahead: int, warm: bool = True):
        self.env, self.remaining, self.ahead, self.warm = env, total, max(1, ahead), warm
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
            await self.ready.put(await start_kernel(self.env, self.warm))
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
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    env["JPY_SESSION_NAME"] = env.get("JPY_SESSION_NAME", "llm-vault")
    env.pop("MPLBACKEND", None)  # ipykernel's inline backend captures figures
    return env

