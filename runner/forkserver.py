"""Fresh kernel processes in milliseconds: fork them from a process that has already imported torch.

Starting a kernel and importing torch costs ~3 s of CPU a note. The fork server pays it once per run: it imports
torch, numpy, matplotlib and ipykernel, then forks one child per kernel, so every note still gets a fresh process
with nothing in it but those imports. No maintained package offers a forking kernel provisioner for jupyter_client,
hence this module.

    serve:   python -m runner.forkserver serve SOCKET      (started by the runner, one per run)
    connect: python -m runner.forkserver connect SOCKET -- IPYKERNEL-ARGS

jupyter_client launches the light `connect` process as if it were the kernel; it hands its stdin/stdout/stderr and
its environment to the server, which forks the kernel. `connect` forwards signals to the kernel and exits with its
exit code; the kernel kills its own process group when `connect` disappears (jupyter_client's kill of the "kernel"),
so no process outlives the run.
"""
from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import sys
import threading
import time

PRELOAD = ("torch", "numpy", "matplotlib", "matplotlib.pyplot", "IPython", "ipykernel.kernelapp",
           "ipykernel.ipkernel")  # not matplotlib_inline: it must be imported inside the kernel to hook in


def serve(path: str) -> None:
    for name in PRELOAD:
        try:
            __import__(name)
        except ImportError:
            pass
    parent = os.getppid()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, None)
    print("ready", flush=True)
    while os.getppid() == parent:  # the runner is gone: so are we
        for key, _ in selector.select(timeout=1.0):
            if key.data is None:
                _accept(listener, selector)
            else:
                _reap(key, selector)


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
        time.sleep(0.1)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
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
        serve(path)
    else:
        sys.exit(connect(path, rest[1:] if rest[:1] == ["--"] else rest))
