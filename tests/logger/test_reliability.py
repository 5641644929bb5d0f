"""Nothing lost, nothing stored twice: sink failures, bounded memory, exits, fork, concurrency."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamvis import DataLogger
from streamvis.errors import UnavailableError
from streamvis.logger import logger as logger_mod
from streamvis.logger.buffer import Outbox
from streamvis.storage import Points

ROOT = Path(__file__).resolve().parents[2]


def test_sink_down_then_up_no_loss_no_duplicates(flaky, log_path, read_points, wait_for):
    flaky.fail = 4
    lg = DataLogger("r", delete_existing=True).init(sink=flaky, flush_every=0.01)
    for step in range(50):
        lg.write("loss", x=step, y=float(step))
    wait_for(lambda: len(flaky.attempts) >= 2)  # the background flush is failing
    for step in range(50, 100):  # writes keep going into later batches
        lg.write("loss", x=step, y=float(step))
    assert lg.flush(timeout=30)
    lg.close()
    # every failed attempt was retried with the same (writer_id, seq)
    seqs = [s for _, s in flaky.attempts]
    assert seqs == sorted(seqs)
    assert len({w for w, _ in flaky.attempts}) == 1
    stored_seqs = [s for _, s, dup in flaky.stored if not dup]
    assert len(stored_seqs) == len(set(stored_seqs))
    pts = read_points(log_path, "r")
    np.testing.assert_array_equal(pts[("loss", 0)]["x"], np.arange(100))
    assert lg.stats()["delivered_points"] == 100
    assert lg.stats()["retries"] >= 4


def test_lost_reply_retry_is_stored_once(flaky, log_path, read_points):
    flaky.lose_replies = 2
    lg = DataLogger("r", delete_existing=True).init(sink=flaky, flush_every=3600)
    for step in range(10):
        lg.write("loss", x=step, y=1.0)
    assert lg.flush(timeout=30)
    lg.close()
    assert any(dup for _, _, dup in flaky.stored)  # the retry was recognised
    pts = read_points(log_path, "r")
    np.testing.assert_array_equal(pts[("loss", 0)]["x"], np.arange(10))


def test_bounded_memory_drops_oldest_warns_once(flaky, log_path, read_points, caplog):
    flaky.fail = 10**9
    lg = DataLogger("r", delete_existing=False).init(
        sink=flaky, flush_every=3600, max_buffer_bytes=50_000, max_batch_bytes=4_000,
        close_timeout=0.0)
    with caplog.at_level(logging.WARNING, logger="streamvis.logger"):
        for step in range(40):
            lg.write("v", x=step, y=np.full(100, step, np.float32))  # 1.2 kB per write
            assert lg.flush(timeout=0) is False  # never raises, never blocks
    st = lg.stats()
    assert st["dropped_points"] > 0
    assert sum("dropping the oldest" in r.message for r in caplog.records) == 1
    flaky.fail = 0
    assert lg.flush(timeout=30)
    lg.close()
    pts = read_points(log_path, "r")
    xs = pts[("v", 0)]["x"]
    assert len(xs) == 40 * 100 - st["dropped_points"]
    assert xs[-1] == 39 and xs[0] > 0  # the newest kept, the oldest dropped


def test_close_reports_undelivered(flaky, caplog):
    flaky.fail = 10**9
    lg = DataLogger("r").init(sink=flaky, flush_every=3600)
    lg.write("a", x=1)
    with caplog.at_level(logging.WARNING, logger="streamvis.logger"):
        lg.close(timeout=0)
    assert any("1 points undelivered" in r.message for r in caplog.records)
    assert lg.stats()["undelivered_points"] == 1


@pytest.mark.parametrize("exc", [ValueError, KeyboardInterrupt])
def test_exception_inside_context_flushes(log_path, read_points, exc):
    lg = DataLogger("r", delete_existing=True).init(path=log_path, flush_every=3600)
    with pytest.raises(exc):
        with lg:
            for step in range(7):
                lg.write("loss", x=step, y=0.5)
            raise exc()
    assert read_points(log_path, "r")[("loss", 0)]["x"].tolist() == list(range(7))


def test_atexit_flushes_a_logger_never_closed(log_path, read_points):
    lg = DataLogger("r", delete_existing=True).init(path=log_path, flush_every=3600)
    lg.write("loss", x=1, y=0.5)
    logger_mod._close_all_at_exit()  # what atexit runs
    lg.write("loss", x=2, y=0.5)  # a daemon thread still logging at exit: ignored
    assert read_points(log_path, "r")[("loss", 0)]["x"].tolist() == [1]


def _run_script(procs, body: str, *args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return procs.popen([sys.executable, "-c", textwrap.dedent(body), *args],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def test_ctrl_c_and_interpreter_exit_flush_in_real_processes(tmp_path, read_points, procs):
    path = str(tmp_path / "log.svl")
    # 1: never closed, normal exit -> atexit; 2: Ctrl-C while looping inside `with`
    unclosed = _run_script(procs, """
        import sys
        from streamvis import DataLogger
        lg = DataLogger("unclosed", delete_existing=True).init(path=sys.argv[1], flush_every=3600)
        for step in range(1000):
            lg.write("loss", x=step, y=0.5)
    """, path)
    assert unclosed.wait(60) == 0, unclosed.communicate()
    interrupted = _run_script(procs, """
        import signal, sys
        # Ctrl-C raises KeyboardInterrupt here even when the suite runs in the background
        # (`./scripts/test.sh &`), where children inherit SIGINT as ignored
        signal.signal(signal.SIGINT, signal.default_int_handler)
        from streamvis import DataLogger
        lg = DataLogger("ctrlc", delete_existing=True).init(path=sys.argv[1], flush_every=3600)
        step = 0
        with lg:
            while True:
                lg.write("loss", x=step, y=0.5)
                step += 1
                if step == 500:
                    print("ready", flush=True)
    """, path)
    assert interrupted.stdout is not None
    line = interrupted.stdout.readline()
    if line.strip() != "ready":
        raise AssertionError(f"child failed before the interrupt: {interrupted.communicate()}")
    interrupted.send_signal(signal.SIGINT)
    interrupted.wait(60)  # TimeoutExpired if the interrupt did not end it (procs reaps it)
    pts = read_points(path, "unclosed")
    assert pts[("loss", 0)]["x"].tolist() == list(range(1000))
    got = read_points(path, "ctrlc")[("loss", 0)]["x"]
    assert len(got) >= 500 and got.tolist() == list(range(len(got)))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no os.fork on this platform")
def test_forked_child_does_not_flush_or_duplicate_parent_buffer(log_path, read_points):
    lg = DataLogger("r", delete_existing=True).init(path=log_path, flush_every=3600)
    for step in range(10):
        lg.write("loss", x=step, y=0.5)
    pid = os.fork()
    if pid == 0:  # the child (a DataLoader worker, say)
        code = 0
        try:
            lg.write("loss", x=100, y=0.5)  # ignored in the child
            lg.flush()
            lg.close()
            logger_mod._close_all_at_exit()
        except BaseException:
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    lg.write("loss", x=10, y=0.5)
    lg.close()
    assert read_points(log_path, "r")[("loss", 0)]["x"].tolist() == list(range(11))


def test_threads_one_shared_logger_and_own_loggers_count_every_point(log_path, read_points):
    shared = DataLogger("shared", delete_existing=True).init(path=log_path, flush_every=0.01)
    n_threads, n_steps = 4, 2000

    def work(t: int) -> None:
        own = DataLogger(f"own{t}", delete_existing=True).init(path=log_path, flush_every=0.01)
        with own:
            for step in range(n_steps):
                shared.write("loss", start_index=t, x=step, y=float(t))
                own.write("v", x=np.arange(3) + 3 * step, y=np.zeros(3, np.float32))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(n_threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    shared.close()
    pts = read_points(log_path, "shared")
    for t in range(n_threads):
        assert pts[("loss", t)]["x"].tolist() == list(range(n_steps))
        own = read_points(log_path, f"own{t}")
        assert own[("v", 0)]["x"].tolist() == list(range(3 * n_steps))


def test_processes_to_one_path_count_every_point(tmp_path, read_points, procs):
    path = str(tmp_path / "log.svl")
    children = [_run_script(procs, """
        import sys
        import numpy as np
        from streamvis import DataLogger
        with DataLogger(sys.argv[2], delete_existing=True).init(path=sys.argv[1], flush_every=0.005) as lg:
            for step in range(3000):
                lg.write("loss", x=step, y=0.5)
                if step % 10 == 0:
                    lg.write("cloud", x=np.arange(50), y=np.ones(50, np.float32), t=step)
    """, path, f"p{k}") for k in range(3)]
    for p in children:
        assert p.wait(60) == 0, p.communicate()
    for k in range(3):
        pts = read_points(path, f"p{k}")
        assert pts[("loss", 0)]["x"].tolist() == list(range(3000))
        assert len(pts[("cloud", 0)]["x"]) == 300 * 50


def test_refused_name_dropped_other_names_delivered(flaky, log_path, read_points, caplog):
    flaky.store.append([Points("r", "loss", 0, {"x": np.array([0], np.int64)})])

    def no_schemas(scope: str) -> dict:
        raise UnavailableError("injected: cannot load schemas")

    flaky.schemas = no_schemas  # so the mismatch is only found by the store
    lg = DataLogger("r", delete_existing=False).init(sink=flaky, flush_every=3600)
    lg.write("loss", x=1.5)  # float64 where the store has int64: refused at append
    lg.write("ok", x=1)
    with caplog.at_level(logging.ERROR, logger="streamvis.logger"):
        assert lg.flush(timeout=10)
    lg.write("ok", x=2)  # later batches keep flowing with fresh sequence numbers
    lg.close()
    assert lg.stats()["refused_points"] == 1
    assert any("refused" in r.message and "loss" in r.message for r in caplog.records)
    pts = read_points(log_path, "r")
    assert pts[("ok", 0)]["x"].tolist() == [1, 2]
    assert pts[("loss", 0)]["x"].tolist() == [0]


def test_slow_sink_never_blocks_write(flaky, log_path, read_points, wait_for):
    gate = threading.Event()
    inner = flaky.append

    def slow_append(items, *, writer_id, seq):  # type: ignore[no-untyped-def]
        gate.wait(30)
        return inner(items, writer_id=writer_id, seq=seq)

    flaky.append = slow_append
    lg = DataLogger("r", delete_existing=True).init(sink=flaky, flush_every=0.01)
    lg.write("loss", x=0, y=0.5)
    wait_for(lambda: lg.stats().get("queued_points", 0) >= 1)  # the thread is now stuck
    for step in range(1, 20001):
        lg.write("loss", x=step, y=0.5)  # returns at once though the sink hangs
    assert not flaky.stored
    gate.set()
    lg.close()
    assert read_points(log_path, "r")[("loss", 0)]["x"].tolist() == list(range(20001))


def test_size_threshold_triggers_flush_before_interval(log_path, read_points, wait_for):
    lg = DataLogger("r", delete_existing=True).init(path=log_path, flush_every=3600,
                                                   flush_bytes=10_000)
    for step in range(100):
        lg.write("v", x=step, y=np.zeros(100, np.float32))  # 1.6 kB each by the estimate
    wait_for(lambda: lg.stats()["delivered_points"] >= 5000)
    lg.close()


def test_outbox_counters_match_its_batches_after_any_pushes_pops_drops_and_takes():
    """``points`` and ``nbytes`` are counters kept on each change (another thread reads
    them while the delivery thread changes the deque), so they must equal the sums."""
    ops = st.lists(st.one_of(st.integers(1, 50), st.sampled_from(["pop", "enforce", "take"])),
                   max_size=40)

    @settings(max_examples=150, deadline=None)
    @given(ops)
    def check(seq_of_ops):
        ob = Outbox(max_bytes=2_000)
        for seq, op in enumerate(seq_of_ops):
            if op == "pop" and ob.batches:
                ob.pop()
            elif op == "enforce":
                ob.enforce()
            elif op == "take":
                ob.take_all()
            elif isinstance(op, int):
                ob.push(seq, [Points("r", "v", 0, {"x": np.arange(op, dtype=np.float32)})])
            assert ob.points == sum(b.points for b in ob.batches)
            assert ob.nbytes == sum(b.nbytes for b in ob.batches)

    check()


def test_stats_read_from_another_thread_while_batches_flow(log_path, wait_for):
    """stats() from the training thread while the flush thread pushes and pops batches
    (it once iterated the outbox's deque and raised 'deque mutated during iteration')."""
    lg = DataLogger("r", delete_existing=True).init(path=log_path, flush_every=0.001,
                                                   flush_bytes=1_000)
    errors: list[BaseException] = []
    stop = threading.Event()

    def poll_stats() -> None:
        while not stop.is_set():
            try:
                lg.stats()
            except BaseException as e:  # noqa: BLE001 - the failure under test
                errors.append(e)
                return

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as the interpreter allows
    reader = threading.Thread(target=poll_stats)
    reader.start()
    try:
        for step in range(3000):
            lg.write("v", x=step, y=np.zeros(20, np.float32))
        wait_for(lambda: lg.stats()["delivered_points"] >= 60_000 or bool(errors))
    finally:
        stop.set()
        reader.join(timeout=30)
        sys.setswitchinterval(old)
        lg.close()
    assert not errors, errors[0]

def test_public_api_lazy_and_complete():
    code = ("import sys, streamvis; assert 'streamvis.logger' not in sys.modules; "
            "from streamvis import AsyncDataLogger, DataLogger; import streamvis.logger as L; "
            "assert DataLogger is L.DataLogger and AsyncDataLogger is L.AsyncDataLogger; "
            "assert streamvis.__all__ == ['AsyncDataLogger', 'DataLogger']; "
            "assert isinstance(streamvis.__version__, str)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.returncode == 0, proc.stderr
