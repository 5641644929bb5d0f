"""SIGKILL a writer at random moments; the log must always open and owe nothing.

A child appends batches with ``Store.open(path, "a")`` (fsync on) and writes ``ack I``
to a side file after ``append`` returned; the test kills it with SIGKILL after a seeded
random delay (or the moment the log grows inside a large batch, so the kill lands in
the middle of a write) and then checks:

* ``Store.open`` works (no skip_damaged) and ``verify`` finds no damage;
* every acknowledged batch is there with exact values; the batches of a trial form a
  prefix (at most one unacknowledged batch, complete, when the kill hit after the
  fsync but before the ack); every batch is all-or-nothing (both names, the config);
* the next writer appends cleanly, cutting any torn tail to a quarantine file that
  holds exactly the cut bytes, and a reader sees its batch.

Trials chain on one log, so each writer starts on what the previous kill left.
The same for a ``DataLogger(path=...)``: every point of a flush that returned True is
read back, in order, exactly once.

Children are forked from a "zygote" started as a subprocess (it imports streamvis once
and is single threaded when it forks), because importing numpy/pyarrow per trial costs
seconds on a loaded machine. ``test_spawned_writer_killed`` runs the writer as a plain
fresh subprocess. Default run: ~30 kills; ``STREAMVIS_SOAK=1`` or ``-m soak``: hundreds.
"""

from __future__ import annotations

import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CHILD = os.path.join(HERE, "_writer_child.py")
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from _kill_model import (  # noqa: E402
    INDEX_STRIDE,
    batch_arrays,
    batch_config,
    batch_sizes,
    logger_y,
)

from streamvis.storage import Points, Store  # noqa: E402
from streamvis.storage.verify import verify  # noqa: E402
from tests.helpers import spawn  # noqa: E402

SEED = int(os.environ.get("STREAMVIS_KILL_SEED", "20261124"))


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return env


def wait_for(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.002)


class Zygote:
    """The forking child process; see _writer_child.py."""

    def __init__(self, stderr_path: str) -> None:
        self.stderr_path = stderr_path
        self._err = open(stderr_path, "wb")
        self.proc = spawn(
            [sys.executable, CHILD, "zygote"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._err,
            cwd=ROOT,
            env=_env(),
        )
        self._pids: queue.Queue[int] = queue.Queue()
        self.dead: dict[int, int] = {}
        self._ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        if not self._ready.wait(120):
            raise AssertionError(f"the zygote did not start: {self.stderr()}")

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            parts = raw.decode().split()
            if parts[:2] == ["zygote", "ready"]:
                self._ready.set()
            elif parts[0] == "pid":
                self._pids.put(int(parts[1]))
            elif parts[0] == "dead":
                self.dead[int(parts[1])] = int(parts[2])

    def stderr(self) -> str:
        self._err.flush()
        with open(self.stderr_path, "rb") as f:
            return f.read()[-4000:].decode(errors="replace")

    def start(self, *args: object) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.write(("\t".join(map(str, args)) + "\n").encode())
        self.proc.stdin.flush()
        return self._pids.get(timeout=60)

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._err.close()


@pytest.fixture(scope="module")
def zygote(tmp_path_factory: pytest.TempPathFactory):
    z = Zygote(str(tmp_path_factory.mktemp("zygote") / "stderr.txt"))
    yield z
    z.close()


@dataclass
class Acks:
    ready: bool = False
    acked: list[tuple[int, ...]] = field(default_factory=list)


def read_acks(path: str) -> Acks:
    out = Acks()
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        return out
    for line in text.splitlines():
        if line == "ready":
            out.ready = True
        elif line.startswith("ack "):
            out.acked.append(tuple(int(v) for v in line.split()[1:]))
    return out


@dataclass
class Tally:
    trials: int = 0
    kills: int = 0  # trials ended by our SIGKILL (not by the worker finishing)
    mid_write_kills: int = 0  # kills that left a torn or uncommitted tail
    unacked_complete: int = 0  # batch complete in the log but killed before its ack
    batches_checked: int = 0
    points_checked: int = 0

    def add(self, other: Tally) -> None:
        for k in self.__dataclass_fields__:
            setattr(self, k, getattr(self, k) + getattr(other, k))


TOTAL = Tally()


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    print(
        f"\n[kill-writer] trials={TOTAL.trials} kills={TOTAL.kills} "
        f"mid_write_kills(torn tail quarantined)={TOTAL.mid_write_kills} "
        f"unacked_but_complete={TOTAL.unacked_complete} batches_checked={TOTAL.batches_checked} "
        f"points_checked={TOTAL.points_checked}"
    )


# -- one trial ------------------------------------------------------------------------
def kill_at_random(
    pid: int,
    is_dead: Callable[[], bool],
    ackfile: str,
    path: str,
    rng: random.Random,
    stderr: Callable[[], str],
) -> bool:
    """Wait for the worker to be ready, then SIGKILL it after the experiment's delay.
    Returns True when our kill ended it (False: it had already finished)."""
    wait_for(lambda: read_acks(ackfile).ready or is_dead(), 120, "the writer to open the log")
    if is_dead() and not read_acks(ackfile).ready:
        raise AssertionError(f"the writer died before opening the log:\n{stderr()}")
    if rng.random() < 0.35:
        # aim inside a large write: kill the moment the log grew by 1-5 MB (a ~12-20 MB
        # batch is being written), or after 2 s anyway
        threshold = os.path.getsize(path) + (1 << 20) + rng.randrange(1 << 22)
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline and not is_dead():
            if os.path.getsize(path) > threshold:
                break
            time.sleep(0.0005)  # polling the file size, not synchronising
    else:
        time.sleep(rng.uniform(0.0, 0.8))  # the experiment: when the kill lands
    if is_dead():
        return False
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    wait_for(is_dead, 60, f"worker {pid} to die")
    return True


def committed_end(path: str) -> tuple[int, int]:
    """(end of the last committed batch, file size), read by a plain reader."""
    with Store.open(path) as s:
        end = s._positions.get("", 0)  # noqa: SLF001 - the reader's scan position
    return end, os.path.getsize(path)


def next_writer_appends(path: str, marker: int, tally: Tally) -> None:
    """A new writer cuts any tail to quarantine (holding exactly those bytes) and appends."""
    end, size = committed_end(path)
    with open(path, "rb") as f:
        f.seek(end)
        tail = f.read()
    assert len(tail) == size - end
    if tail:
        tally.mid_write_kills += 1
    with Store.open(path, "a") as s:
        s.append([Points("marker", "m", marker, {"x": np.array([marker], np.int64)})])
        if tail:
            assert len(s.quarantined) == 1, s.quarantined
            with open(s.quarantined[0], "rb") as q:
                assert q.read() == tail
        else:
            assert s.quarantined == []
    with Store.open(path) as r:
        got = r.read("marker", "m").tables[("marker", "m")]
        idx = got.column("index").to_numpy()
        assert marker in idx
        assert got.column("x").to_numpy()[idx == marker].tolist() == [marker]


def check_store_log(path: str, seed: int, trials: dict[int, int], tally: Tally) -> None:
    """``trials``: trial -> batches acknowledged. Raises on any loss or partial batch;
    updates ``trials`` with what is really there (a complete but unacked batch counts)."""
    with Store.open(path) as s:
        data = s.read_arrays(scope="run")
        cfg = s.config("cfg") if "cfg" in s.scopes() else None
    present: dict[int, set[int]] = {}
    for _scope, _name, index in data:
        t, i = divmod(index, INDEX_STRIDE)
        present.setdefault(t, set()).add(i)
        assert t in trials, f"batch of unknown trial {t}"
    last_cfg = None
    for t, acked in sorted(trials.items()):
        got = present.get(t, set())
        n = len(got)
        assert got == set(range(n)), f"trial {t}: batches {sorted(got)} are not a prefix"
        assert n >= acked, f"trial {t}: {acked} batches acknowledged, only {n} in the log"
        assert n <= acked + 1, f"trial {t}: {n} batches but only {acked} acknowledged"
        if n > acked:
            tally.unacked_complete += 1
        trials[t] = n
        for i in range(n):
            na, nb = batch_sizes(seed, t, i)
            index = t * INDEX_STRIDE + i
            a = data.get(("run", "a", index))
            b = data.get(("run", "b", index))
            assert a is not None and b is not None, f"trial {t} batch {i}: partial batch"
            assert len(a["x"]) == na and len(b["v"]) == nb, f"trial {t} batch {i}: sizes"
            tally.batches_checked += 1
            tally.points_checked += na + nb
        if n:
            last_cfg = batch_config(t, n - 1)
    # exact values: every batch of the newest trial (the one just killed), and a sample
    # of the older ones (all of them were checked exactly when they were newest)
    newest = max(trials)
    for t, n in trials.items():
        for i in range(n):
            if t != newest and (i + t) % 4:
                continue
            for key, cols in batch_arrays(seed, t, i).items():
                got = data[("run", *key)]
                assert list(got) == list(cols)
                for c, arr in cols.items():
                    np.testing.assert_array_equal(got[c], arr, err_msg=f"trial {t} batch {i} {key} {c}")
    assert cfg == last_cfg, "the config is the last committed batch's"


def check_logger_log(path: str, trials: dict[int, int], tally: Tally) -> None:
    """``trials``: trial -> points acknowledged by a completed flush."""
    with Store.open(path) as s:
        for t, acked in trials.items():
            scope = f"lg{t}"
            table = s.read(scope, "m").tables.get((scope, "m")) if scope in s.scopes() else None
            if table is None:
                assert acked == 0, f"logger {t}: {acked} points flushed, none stored"
                continue
            x = table.column("x").to_numpy()
            assert len(x) >= acked, f"logger {t}: {acked} points flushed, {len(x)} stored"
            np.testing.assert_array_equal(x, np.arange(len(x)), err_msg=f"logger {t}: gaps/dups")
            np.testing.assert_array_equal(table.column("y").to_numpy(), logger_y(x, t))
            tally.points_checked += len(x)
            tally.batches_checked += 1


def run_chain(
    zyg: Zygote, kind: str, path: str, seed: int, n_trials: int, first_trial: int = 0
) -> Tally:
    rng = random.Random(seed)
    tally = Tally()
    trials: dict[int, int] = {}
    for t in range(first_trial, first_trial + n_trials):
        ackfile = f"{path}.ack{t}"
        pid = zyg.start(kind, path, ackfile, seed, t, 400)
        killed = kill_at_random(
            pid, lambda pid=pid: pid in zyg.dead, ackfile, path, rng, zyg.stderr
        )
        status = zyg.dead[pid]
        if not killed:
            assert status == 0, f"worker failed:\n{zyg.stderr()}"
        tally.trials += 1
        tally.kills += killed
        acks = read_acks(ackfile)
        if kind == "store":
            trials[t] = len(acks.acked)
            assert [a[0] for a in acks.acked] == list(range(len(acks.acked)))
            check_store_log(path, seed, trials, tally)
        else:
            trials[t] = acks.acked[-1][1] if acks.acked else 0
            check_logger_log(path, trials, tally)
        next_writer_appends(path, t, tally)
    report = verify(path)
    assert report.ok and report.tail is None, (report.damaged, report.tail)
    return tally


STORE_CHAINS = [(c, 6) for c in range(4)]  # the default run: 24 kills (+6 logger, +2 spawned)


@pytest.mark.timeout(240)
@pytest.mark.parametrize("chain,n_trials", STORE_CHAINS)
def test_store_writer_killed(zygote: Zygote, tmp_path, chain: int, n_trials: int) -> None:
    t0 = time.monotonic()
    tally = run_chain(zygote, "store", str(tmp_path / "k.log"), SEED + chain, n_trials)
    TOTAL.add(tally)
    print(f"chain {chain}: {tally} in {time.monotonic() - t0:.1f} s")
    assert tally.kills >= n_trials // 2  # most trials end by our kill, not by finishing


@pytest.mark.timeout(240)
def test_logger_killed(zygote: Zygote, tmp_path) -> None:
    n_trials = 6
    tally = run_chain(zygote, "logger", str(tmp_path / "lg.log"), SEED + 100, n_trials)
    TOTAL.add(tally)
    print(f"logger: {tally}")
    assert tally.kills >= n_trials // 2


@pytest.mark.timeout(300)
@pytest.mark.parametrize("kind", ["store", "logger"])
def test_spawned_writer_killed(tmp_path, kind: str) -> None:
    """The same, with the writer a fresh interpreter (no fork anywhere)."""
    path = str(tmp_path / "s.log")
    ackfile = path + ".ack0"
    seed = SEED + 200
    proc = spawn(
        [sys.executable, CHILD, "run", kind, path, ackfile, str(seed), "0", "400"],
        cwd=ROOT,
        env=_env(),
        stderr=subprocess.PIPE,
    )
    try:
        killed = kill_at_random(
            proc.pid, lambda: proc.poll() is not None, ackfile, path, random.Random(seed),
            lambda: "",
        )
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    tally = Tally(trials=1, kills=int(killed))
    acks = read_acks(ackfile)
    if kind == "store":
        check_store_log(path, seed, {0: len(acks.acked)}, tally)
    else:
        check_logger_log(path, {0: acks.acked[-1][1] if acks.acked else 0}, tally)
    next_writer_appends(path, 0, tally)
    TOTAL.add(tally)


@pytest.mark.soak
@pytest.mark.timeout(7200)
def test_soak_many_kills(zygote: Zygote, tmp_path) -> None:
    """The long run (``-m soak`` or ``STREAMVIS_SOAK=1``): 300 store kills and 60 logger
    kills, in chains of 10 on fresh logs (so each check reads a bounded log)."""
    soak = Tally()
    for chain in range(30):
        path = str(tmp_path / f"s{chain}.log")
        soak.add(run_chain(zygote, "store", path, SEED + 1000 + chain, 10))
        for f in os.listdir(tmp_path):  # keep the disk use bounded
            if f.startswith(f"s{chain}.log"):
                os.unlink(tmp_path / f)
    for chain in range(6):
        soak.add(run_chain(zygote, "logger", str(tmp_path / f"l{chain}.log"), SEED + 2000 + chain, 10))
    TOTAL.add(soak)
    print(f"soak: {soak}")
    assert soak.kills >= soak.trials // 2
