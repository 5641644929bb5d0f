"""Child side of the kill-the-writer experiments (run as a script, never imported by pytest).

``python _writer_child.py zygote``: imports streamvis once, then reads commands from
stdin, one a line: ``store|logger PATH ACKFILE SEED TRIAL MAXBATCHES``. For each it forks a
single-threaded worker (the zygote has no threads, so forking is safe) and answers
``pid PID``; when a worker ends it answers ``dead PID STATUS``. Importing numpy, pyarrow
and protobuf costs seconds on a loaded machine, so one import serves every trial.

``python _writer_child.py run store|logger PATH ACKFILE SEED TRIAL MAXBATCHES`` runs one
worker directly in this process (the spawn-only variant).

A worker writes ``ready`` to ACKFILE once its store is open, then ``ack I`` after the
append (or the logger flush) of batch I returned: only acknowledged batches are owed.
"""

from __future__ import annotations

import os
import select
import signal
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from _kill_model import batch_items, logger_chunk  # noqa: E402

from streamvis.logger import DataLogger  # noqa: E402
from streamvis.storage import Store  # noqa: E402


def _ack(fd: int, line: str) -> None:
    os.write(fd, (line + "\n").encode())


def run_store(path: str, ackfile: str, seed: int, trial: int, max_batches: int) -> None:
    fd = os.open(ackfile, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    with Store.open(path, "a", fsync=True) as store:
        _ack(fd, "ready")
        for i in range(max_batches):
            store.append(batch_items(seed, trial, i))
            _ack(fd, f"ack {i}")


def run_logger(path: str, ackfile: str, seed: int, trial: int, max_batches: int) -> None:
    fd = os.open(ackfile, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    lg = DataLogger(f"lg{trial}").init(path=path, flush_every=3600.0, max_batch_bytes=1 << 20)
    _ack(fd, "ready")
    start = 0
    for i in range(max_batches):
        x, y = logger_chunk(seed, trial, i, start)
        lg.write("m", x=x, y=y)
        start += len(x)
        if lg.flush(timeout=60.0):  # every point written so far was delivered
            _ack(fd, f"ack {i} {start}")
    lg.close()


def _worker(args: list[str]) -> None:
    kind, path, ackfile, seed, trial, max_batches = args
    fn = run_store if kind == "store" else run_logger
    fn(path, ackfile, int(seed), int(trial), int(max_batches))


def zygote() -> None:
    out = sys.stdout
    children: set[int] = set()
    stdin_fd = sys.stdin.fileno()
    buf = b""
    print("zygote ready", file=out, flush=True)
    while True:
        # reap finished workers
        for pid in list(children):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                children.discard(pid)
                print(f"dead {pid} {status}", file=out, flush=True)
        ready, _, _ = select.select([stdin_fd], [], [], 0.01)
        if not ready:
            continue
        data = os.read(stdin_fd, 4096)
        if not data:  # the test went away: stop the workers and exit
            for pid in children:
                os.kill(pid, signal.SIGKILL)
            return
        buf += data
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            args = line.decode().split("\t")
            pid = os.fork()
            if pid == 0:
                code = 0
                try:
                    os.setsid()
                    _worker(args)
                except BaseException:
                    import traceback

                    traceback.print_exc()
                    code = 1
                finally:
                    os._exit(code)
            children.add(pid)
            print(f"pid {pid}", file=out, flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "zygote":
        zygote()
    else:
        _worker(sys.argv[2:])
