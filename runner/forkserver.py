"""Fresh kernel processes in milliseconds: fork them from a process that has already imported torch.

Starting a kernel and importing torch costs ~3 s of CPU a note. The fork server pays it once per run: it imports
torch, numpy, matplotlib and ipykernel, then forks one child per kernel, so every note still gets a fresh process
with nothing in it but those imports. No maintained package offers a forking kernel provisioner for jupyter_client,
hence this module.

    serve:   python -m runner.forkserver serve SOCKET RUN_DIR [--spawn | MODULE...]   (by the runner, one per run)
    ask:     request_kernel(SOCKET, IPYKERNEL-ARGS, env, cwd) -> ForkedProcess   (in the runner, kernels.py)

The runner sends the kernel's arguments, environment and folder, with its own stdin/stdout/stderr, over the
socket; the server forks, answers with the kernel's pid, and later with its exit status, so the runner holds a
Popen-like handle on a process that is not its child. The kernel watches the runner: when the runner is gone it
kills every process below it — also those a cell started in a session of their own, which its process group does
not reach — and then its group.

The server is also the run's watchdog: it is a child subreaper, so a daemon a cell double-forks lands on it, and
when it stops (the runner closes it, or the runner itself dies, even by SIGKILL) it kills everything below it and
removes RUN_DIR, the folder of the run's sockets and connection files. So no process and no file outlives the run.
"""
from __future__ import annotations

import ctypes
import gc
import json
import os
import select
import selectors
import shutil
import signal
import socket
import sys
import threading
import time
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36

# what every kernel imports, found by listing a forked kernel's new sys.modules after its first cell (debugpy via
# ipykernel.debugger alone was 0.2 s of CPU a kernel); not matplotlib_inline: it must be imported inside the kernel
# to hook in
PRELOAD = ("torch", "numpy", "numpy.random", "IPython", "ipykernel.kernelapp", "ipykernel.ipkernel",
           "ipykernel.debugger", "tornado.gen", "tornado.locks", "tornado.queues", "faulthandler", "runner.env")
# and what only some runs need (kernels.py decides from the notes' code): 0.3-0.5 s of the server's start
OPTIONAL = {"matplotlib": ("matplotlib", "matplotlib.pyplot", "PIL.features")}


def serve(path: str, run_dir: str | None = None, extra: tuple[str, ...] = (), spawn: bool = False) -> None:
    """`spawn`: start each kernel as a new Python instead of forking it (LLM_VAULT_FORK=0); the server is still the
    kernels' parent and watchdog, so a SIGKILLed runner leaves nothing behind in that mode either."""
    parent = os.getppid()
    signal.signal(signal.SIGTERM, _stop)
    try:
        with contextlib_suppress():
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        for name in () if spawn else (*PRELOAD, *extra):
            try:
                __import__(name)
            except ImportError:
                pass
        # the preloaded objects out of the collector's sight: a kernel's first collections would otherwise touch
        # every one of them and copy the server's memory page by page (the fork servers' usual trick)
        gc.freeze()
        start = _spawn if spawn else _fork
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        listener.listen(64)
        selector = selectors.DefaultSelector()
        selector.register(listener, selectors.EVENT_READ, None)
        print("ready", flush=True)
        while os.getppid() == parent:  # the runner is gone: so are we
            for key, _ in selector.select(timeout=0.5):
                if key.data is None:
                    _accept(listener, selector, start)
                else:
                    _reap(key, selector)
    finally:
        kill_tree(os.getpid())
        if run_dir:
            shutil.rmtree(run_dir, ignore_errors=True)
        else:
            with contextlib_suppress():
                os.unlink(path)


def _stop(signum, frame):
    raise SystemExit(0)


class contextlib_suppress:
    """contextlib.suppress(Exception), without importing contextlib into every kernel's start-up path."""

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        return kind is not None and issubclass(kind, Exception)


def descendants(root: int) -> list[int]:
    """Every live process below `root`, parents before children (from /proc: no psutil in the kernel)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] not in ("Z", "X"):
            children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill_tree(root: int) -> None:
    """SIGKILL every process below `root`: stopped first, so none forks a new one while the others die."""
    for _ in range(20):
        found = descendants(root)
        if not found:
            return
        for sig in (signal.SIGSTOP, signal.SIGKILL):
            for pid in found:
                try:
                    os.kill(pid, sig)
                except (ProcessLookupError, PermissionError):
                    pass
        time.sleep(0.01)
        _reap_any()


def _reap_any() -> None:
    """Collect our own dead children (orphans adopted as subreaper), so they stop showing in /proc."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _accept(listener: socket.socket, selector: selectors.BaseSelector, start) -> None:
    conn, _ = listener.accept()
    message, fds, _, _ = socket.recv_fds(conn, 1 << 20, 3)
    request = json.loads(message)
    pid = start(request, fds, (selector, listener, conn))
    for fd in fds:
        os.close(fd)
    conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
    selector.register(os.pidfd_open(pid), selectors.EVENT_READ, (pid, conn))


def _fork(request: dict, fds: list[int], to_close) -> int:
    pid = os.fork()
    if pid == 0:
        for thing in to_close:
            thing.close()
        _become_kernel(request, fds)
    return pid


def _spawn(request: dict, fds: list[int], to_close) -> int:
    """A kernel as jupyter_client starts one (a new session), but as the server's child."""
    import subprocess

    argv = [sys.executable, "-m", "ipykernel_launcher", *request["argv"],
            f"--IPKernelApp.parent_handle={request['client_pid']}"]
    process = subprocess.Popen(argv, stdin=fds[0], stdout=fds[1], stderr=fds[2], env=request["env"],
                               cwd=request["cwd"], start_new_session=True)
    process.returncode = 0  # reaped by _reap with waitpid: Popen must not wait for it, nor warn that it runs
    return process.pid


def _reap(key, selector: selectors.BaseSelector) -> None:
    pid, conn = key.data
    selector.unregister(key.fileobj)
    os.close(key.fd)
    _, status = os.waitpid(pid, 0)
    try:
        conn.sendall(json.dumps({"exit": os.waitstatus_to_exitcode(status)}).encode() + b"\n")
    except OSError:
        pass
    conn.close()


def _become_kernel(request: dict, fds: list[int]) -> None:
    try:
        os.setsid()
        for number, fd in enumerate(fds):
            os.dup2(fd, number)
            os.close(fd)
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        client = request["client_pid"]
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        threading.Thread(target=_die_with, args=(client,), daemon=True).start()
        from ipykernel.kernelapp import IPKernelApp

        # trait defaults read the environment when ipykernel was imported, in the server: pass what they missed
        argv = [*request["argv"], f"--IPKernelApp.parent_handle={client}"]
        sys.argv = ["ipykernel_launcher", *argv]
        app = IPKernelApp.instance()
        app.initialize(argv)
        app.start()
    finally:
        os._exit(0)


def _die_with(pid: int) -> None:
    try:
        watch = os.pidfd_open(pid)
    except OSError:  # gone already
        watch = None
    if watch is not None:
        select.select([watch], [], [])  # readable once the runner has exited, however it ended
    kill_tree(os.getpid())
    os.killpg(0, signal.SIGKILL)


class ForkedProcess:
    """The runner's handle on a kernel the server forked: the part of Popen that jupyter_client's provisioner
    uses (pid, poll, wait, send_signal, kill, terminate). The exit status comes over the request's connection."""

    stdin = stdout = stderr = None

    def __init__(self, conn: socket.socket, pid: int, replies):
        self.conn, self.pid, self._replies, self.returncode = conn, pid, replies, None

    def poll(self) -> int | None:
        if self.returncode is None:
            ready, _, _ = select.select([self.conn], [], [], 0)
            if ready:
                self._finish()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            ready, _, _ = select.select([self.conn], [], [], timeout)
            if not ready:
                import subprocess
                raise subprocess.TimeoutExpired(f"kernel {self.pid}", timeout)
            self._finish()
        return self.returncode

    def _finish(self) -> None:
        line = self._replies.readline()
        self.returncode = json.loads(line)["exit"] if line.strip() else -signal.SIGKILL  # the server died
        self._replies.close()
        self.conn.close()

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:  # once reaped, the pid may be someone else's
            try:
                os.kill(self.pid, signum)
            except ProcessLookupError:
                pass

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


def request_kernel(path: str, argv: list[str], env: dict[str, str], cwd: str) -> ForkedProcess:
    """Ask the server at `path` for a kernel; it shares this process's stdout and stderr, and reads nothing."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(path)
    request = {"argv": argv, "env": env, "cwd": cwd, "client_pid": os.getpid()}
    with open(os.devnull, "rb") as devnull:
        socket.send_fds(conn, [json.dumps(request).encode()], [devnull.fileno(), 1, 2])
    replies = conn.makefile("rb")
    line = replies.readline()
    if not line:
        conn.close()
        raise RuntimeError("the fork server closed the connection without starting a kernel")
    return ForkedProcess(conn, json.loads(line)["pid"], replies)


if __name__ == "__main__":
    verb, path, *rest = sys.argv[1:]
    if verb != "serve" or not rest:
        sys.exit(f"usage: python -m runner.forkserver serve SOCKET RUN_DIR [--spawn | MODULE...] "
                 f"(not {sys.argv[1:]})")
    serve(path, rest[0], tuple(m for m in rest[1:] if m != "--spawn"), spawn="--spawn" in rest[1:])
