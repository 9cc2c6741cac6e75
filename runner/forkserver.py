"""Fresh kernel processes in milliseconds: fork them from a process that has already imported torch.

Starting a kernel and importing torch costs ~3 s of CPU a note. The fork server pays it once per run: it imports
torch, numpy, matplotlib and ipykernel, then forks one child per kernel, so every note still gets a fresh process
with nothing in it but those imports. No maintained package offers a forking kernel provisioner for jupyter_client,
hence this module.

    serve:   python -m runner.forkserver serve SOCKET [RUN_DIR]   (started by the runner, one per run)
    connect: python -m runner.forkserver connect SOCKET -- IPYKERNEL-ARGS

jupyter_client launches the light `connect` process as if it were the kernel; it hands its stdin/stdout/stderr and
its environment to the server, which forks the kernel. `connect` forwards signals to the kernel and exits with its
exit code; when `connect` disappears (jupyter_client's kill of the "kernel") the kernel kills every process below it
— also those a cell started in a session of their own, which its process group does not reach — and then its group.

The server is also the run's watchdog: it is a child subreaper, so a daemon a cell double-forks lands on it, and
when it stops (the runner closes it, or the runner itself dies, even by SIGKILL) it kills everything below it and
removes RUN_DIR, the folder of the run's sockets and connection files. So no process and no file outlives the run.
"""
from __future__ import annotations

import ctypes
import json
import os
import selectors
import shutil
import signal
import socket
import sys
import threading
import time
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36

PRELOAD = ("torch", "numpy", "matplotlib", "matplotlib.pyplot", "IPython", "ipykernel.kernelapp",
           "ipykernel.ipkernel")  # not matplotlib_inline: it must be imported inside the kernel to hook in


def serve(path: str, run_dir: str | None = None) -> None:
    parent = os.getppid()
    signal.signal(signal.SIGTERM, _stop)
    try:
        with contextlib_suppress():
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        for name in PRELOAD:
            try:
                __import__(name)
            except ImportError:
                pass
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        listener.listen(64)
        selector = selectors.DefaultSelector()
        selector.register(listener, selectors.EVENT_READ, None)
        print("ready", flush=True)
        while os.getppid() == parent:  # the runner is gone: so are we
            for key, _ in selector.select(timeout=0.5):
                if key.data is None:
                    _accept(listener, selector)
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


def _accept(listener: socket.socket, selector: selectors.BaseSelector) -> None:
    conn, _ = listener.accept()
    message, fds, _, _ = socket.recv_fds(conn, 1 << 20, 3)
    request = json.loads(message)
    pid = os.fork()
    if pid == 0:
        selector.close()
        listener.close()
        conn.close()
        _become_kernel(request, fds)
    for fd in fds:
        os.close(fd)
    conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
    selector.register(os.pidfd_open(pid), selectors.EVENT_READ, (pid, conn))


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
    while True:
        time.sleep(0.05)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            kill_tree(os.getpid())
            os.killpg(0, signal.SIGKILL)


def connect(path: str, argv: list[str]) -> int:
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(path)
    request = {"argv": argv, "env": dict(os.environ), "cwd": os.getcwd(), "client_pid": os.getpid()}
    socket.send_fds(conn, [json.dumps(request).encode()], [0, 1, 2])
    replies = conn.makefile("rb")
    kernel = json.loads(replies.readline())["pid"]

    def forward(signum, _frame):
        try:
            os.kill(kernel, signum)
        except ProcessLookupError:
            pass

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT):
        signal.signal(signum, forward)
    line = replies.readline()
    return json.loads(line)["exit"] if line else 1


if __name__ == "__main__":
    verb, path, *rest = sys.argv[1:]
    if verb == "serve":
        serve(path, *rest[:1])
    else:
        sys.exit(connect(path, rest[1:] if rest[:1] == ["--"] else rest))
