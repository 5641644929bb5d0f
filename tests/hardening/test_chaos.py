"""Chaos: loggers log through one data server that is SIGKILLed and restarted while a
browser watches the live page.

Logger processes (multiprocessing ``spawn``) on scopes ``chaos-K`` write known values
(``_chaos_child.expected_y``) through ``python -m streamvis.grpc_server PATH PORT``;
a real ``streamvis web-serve`` reads that server and headless Chromium shows
``/?rows=chaos``. The server is killed with SIGKILL at random moments and restarted on
the same PATH and PORT. At the end:

* every point of every logger is in the store exactly once, with its values (a local
  ``Store`` read, counted per group);
* the browser's data sources (Bokeh document models) hold the same counts;
* the peak RSS (VmHWM) of every process stayed under a generous bound.

Short run (default): 3 loggers, 2 kills, ends when the counts are reached. Long run
(``-m soak`` or ``STREAMVIS_SOAK=1``): 8 loggers, ~10 minutes, a kill every few seconds.
Figures are printed (run with ``-s`` to see them).
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import queue
import random
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from _chaos_child import expected_y, run_logger, vm_hwm_kib  # noqa: E402

from streamvis.storage import Store  # noqa: E402
from tests.helpers import spawn, wait_for  # noqa: E402
from tests.server.conftest import ROOT, free_port, wait_serving  # noqa: E402
from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

SEED = int(os.environ.get("STREAMVIS_CHAOS_SEED", str(int(time.time()))))
MEMORY_BOUND_KIB = 1_500_000  # generous: no process may pass ~1.5 GB peak RSS
SCHEMA = """
chaos:
  name_pattern: ^(y|z)$
  glyph_kind: line
  columns: [x, y]
"""

# every line of the document: {label: points the browser holds}
COUNTS_JS = """() => {
  // points per line label: rows of the plots' multi_line sources (their "n"), or the
  // points of a scatter source sharing a label (raw layers only, not smoothed ones)
  const out = {};
  for (const doc of Bokeh.documents)
    for (const m of doc.all_models) {
      if (m.data === undefined || !(m.name || '').startsWith('lines:')) continue;
      const d = m.data;
      if (d.xs !== undefined) for (let j = 0; j < d.xs.length; j++) out[d.label[j]] = d.n[j];
      else if (d.label !== undefined) for (const l of d.label) out[l] = (out[l] ?? 0) + 1;
    }
  return out;
}"""
READY_JS = "() => window.Bokeh !== undefined && Bokeh.documents.length > 0"


@dataclass
class Plan:
    loggers: int
    kills: int | None  # None: kill until the loggers are done
    n: int  # steps of y and z per logger (each group: n points)
    chunk: int
    bulk_chunk: int
    pace: float
    hold_frac: float  # loggers wait for the kills before this fraction of their steps
    kill_delay: tuple[float, float]
    budget_s: float | None  # wall-clock bound of the run


SHORT = Plan(3, 2, 600, 10, 40, 0.05, 0.8, (0.2, 1.2), 60.0)
# ~10 minutes: 800 steps, 5 a chunk, a chunk every 3.75 s. y/z stay under the page's
# per-line cap (min(2 x the plot's width in pixels, budget / lines): ~1,068 points in
# this viewport), so the browser holds every point; 3,000 were decimated to 1,068.
SOAK = Plan(8, None, 800, 5, 2000, 3.75, 1.0, (3.0, 30.0), None)


class Proc:
    """A subprocess with its output in a file (never a pipe that could fill up)."""

    def __init__(self, args: list[str], log: Path) -> None:
        self.log = log
        self.out = open(log, "ab")  # noqa: SIM115 - closed in stop()
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.proc = spawn(args, stdout=self.out, stderr=self.out, env=env, cwd=ROOT)
        self.peak_kib = 0

    def sample(self) -> int:
        self.peak_kib = max(self.peak_kib, vm_hwm_kib(self.proc.pid))
        return self.peak_kib

    def kill(self) -> None:
        self.sample()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.sample()
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.out.close()


class DataServer:
    """``python -m streamvis.grpc_server PATH PORT``, restartable on the same port."""

    def __init__(self, path: str, port: int, logdir: Path) -> None:
        self.path, self.port, self.logdir = path, port, logdir
        self.uri = f"127.0.0.1:{port}"
        self.incarnations: list[Proc] = []

    @property
    def current(self) -> Proc:
        return self.incarnations[-1]

    def start(self) -> float:
        t0 = time.monotonic()
        log = self.logdir / f"server-{len(self.incarnations)}.log"
        p = Proc([sys.executable, "-m", "streamvis.grpc_server", self.path, str(self.port)], log)
        self.incarnations.append(p)
        deadline = time.monotonic() + 60
        while True:  # the port may still be held for a moment after a kill
            try:
                wait_serving(self.uri, p.proc, timeout=max(1.0, deadline - time.monotonic()))
                break
            except AssertionError:
                if p.proc.poll() is None or time.monotonic() > deadline:
                    raise AssertionError(
                        f"server did not restart: {log.read_text()[-2000:]}"
                    ) from None
                p.out.close()
                p = Proc(p.proc.args, log)  # type: ignore[arg-type]
                self.incarnations[-1] = p
        return time.monotonic() - t0

    def peaks(self) -> list[int]:
        return [p.sample() for p in self.incarnations]


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status == 200
    except OSError:
        return False


def _chromium_peak_kib() -> int:
    """The largest VmHWM among chromium processes descended from this one."""
    me, parents, names = os.getpid(), {}, {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
            parents[int(d)] = int(stat.rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{d}/cmdline", "rb") as f:
                names[int(d)] = f.read().split(b"\0")[0]
        except (OSError, IndexError, ValueError):
            continue
    peak = 0
    for pid, exe in names.items():
        if b"chrom" not in exe:
            continue
        p = pid
        while p in parents and p not in (0, 1, me):
            p = parents[p]
        if p == me:
            peak = max(peak, vm_hwm_kib(pid))
    return peak


def _store_counts(path: str) -> dict[tuple[str, str, int], int]:
    store = Store.open(path, mode="r")
    try:
        return {(g.scope, g.name, g.index): g.count for g in store.groups()}
    finally:
        store.close()


def _expected_counts(plan: Plan) -> dict[tuple[str, str, int], int]:
    out = {}
    for k in range(plan.loggers):
        s = f"chaos-{k}"
        out[(s, "y", 0)] = plan.n
        out[(s, "z", 0)] = plan.n
        out[(s, "z", 1)] = plan.n
        out[(s, "bulk", 0)] = plan.n // plan.chunk * plan.bulk_chunk
    return out


def _check_values(path: str, plan: Plan) -> int:
    """Every point once with its value; returns the number of points checked."""
    store = Store.open(path, mode="r")
    checked = 0
    try:
        for k in range(plan.loggers):
            scope = f"chaos-{k}"
            arrays = store.read_arrays(scope=scope)
            for (s, name, index), cols in arrays.items():
                n = plan.n if name != "bulk" else plan.n // plan.chunk * plan.bulk_chunk
                x, y = cols["x"], cols["y"]
                assert len(x) == n, f"{s}/{name}/{index}: {len(x)} points, expected {n}"
                order = np.argsort(x, kind="stable")
                assert np.array_equal(x[order], np.arange(n, dtype=np.float64)), (
                    f"{s}/{name}/{index}: x is not 0..{n - 1} exactly once"
                )
                assert np.array_equal(y[order], expected_y(k, index, x[order])), (
                    f"{s}/{name}/{index}: wrong y values"
                )
                checked += n
            assert {(n, i) for _, n, i in arrays} == {("y", 0), ("z", 0), ("z", 1), ("bulk", 0)}
    finally:
        store.close()
    return checked


def run_chaos(tmp_path: Path, plan: Plan) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    rng = random.Random(SEED)
    t_start = time.monotonic()
    path = str(tmp_path / "chaos.svl")
    schema = tmp_path / "chaos.yaml"
    schema.write_text(SCHEMA)
    server = DataServer(path, free_port(), tmp_path)
    restarts = [server.start()]
    web_port = free_port()
    web = Proc(
        [
            sys.executable,
            "-m",
            "streamvis.cli",
            "web-serve",
            f"127.0.0.1:{web_port}",
            server.uri,
            str(schema),
            "--refresh",
            "0.2",
        ],
        tmp_path / "web.log",
    )
    ctx = mp.get_context("spawn")
    out: Any = ctx.Queue()
    go, release = ctx.Event(), ctx.Event()
    children: list[Any] = []
    figures: dict[str, Any] = {"seed": SEED, "loggers": plan.loggers}
    try:
        wait_for(
            lambda: web.proc.poll() is not None or _http_ok(f"http://127.0.0.1:{web_port}/index"),
            timeout=60,
            interval=0.1,
        )
        assert web.proc.poll() is None, (tmp_path / "web.log").read_text()
        hold_at = int(plan.n * plan.hold_frac) // plan.chunk * plan.chunk
        for k in range(plan.loggers):
            c = ctx.Process(
                target=run_logger,
                args=(
                    server.uri,
                    k,
                    plan.n,
                    plan.chunk,
                    plan.bulk_chunk,
                    plan.pace,
                    hold_at,
                    go,
                    release,
                    out,
                ),
                name=f"chaos-logger-{k}",
            )
            c.start()
            children.append(c)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1000, "height": 700})
            page.goto(f"http://127.0.0.1:{web_port}/?rows=chaos&scopes=^chaos-")
            page.wait_for_function(READY_JS, timeout=30000)

            started, done, errors = set(), {}, []

            def take(timeout: float) -> None:
                try:
                    msg = out.get(timeout=timeout)
                except queue.Empty:
                    return
                if msg[0] == "started":
                    started.add(msg[1])
                elif msg[0] == "done":
                    done[msg[1]] = msg[2:]
                else:
                    errors.append(msg)

            deadline = time.monotonic() + 90
            while len(started) < plan.loggers and not errors:
                assert time.monotonic() < deadline, "loggers did not start"
                assert all(c.is_alive() or c.exitcode == 0 for c in children)
                take(0.5)
            assert not errors, errors
            # the experiment: SIGKILL at random moments, restart on the same PATH/PORT
            go.set()
            kills, t_loggers = 0, time.monotonic()
            soak_end = t_loggers + plan.n / plan.chunk * plan.pace
            while plan.kills is None or kills < plan.kills:
                delay = rng.uniform(*plan.kill_delay)
                wait_until = time.monotonic() + delay
                while time.monotonic() < wait_until:  # keep draining reports meanwhile
                    take(max(0.0, min(0.2, wait_until - time.monotonic())))
                if plan.kills is None and (
                    time.monotonic() > soak_end or len(done) == plan.loggers
                ):
                    break
                server.current.kill()
                kills += 1
                restarts.append(server.start())
            release.set()
            figures["kills"] = kills
            figures["kill_phase_s"] = round(time.monotonic() - t_loggers, 1)
            while len(done) < plan.loggers and not errors:
                assert time.monotonic() < deadline + 900, f"loggers not done: {sorted(done)}"
                assert all(c.is_alive() or c.exitcode == 0 for c in children), [
                    c.exitcode for c in children
                ]
                take(0.5)
            assert not errors, errors
            for c in children:
                c.join(30)
                assert c.exitcode == 0
            for k, (ok, stats, _, _) in done.items():
                assert ok, f"logger {k} could not flush: {stats}"
                assert stats["dropped_points"] == 0 and stats["refused_points"] == 0, stats
                assert stats["undelivered_points"] == 0, stats
            figures["logger_retries"] = sum(d[1]["retries"] for d in done.values())
            figures["logger_stats"] = [done[k][1] for k in sorted(done)]
            figures["logger_peak_kib"] = [done[k][3] for k in sorted(done)]

            expected = _expected_counts(plan)
            wait_for(lambda: _store_counts(path) == expected, timeout=30, interval=0.2)
            figures["store_points"] = sum(expected.values())
            # the browser: one glyph per (scope, name in y|z, index), counts as logged
            want = {f"{s} · {n} · {i}": c for (s, n, i), c in expected.items() if n != "bulk"}
            seen: dict[str, int] = {}

            def browser_caught_up() -> bool:
                seen.clear()
                seen.update(page.evaluate(COUNTS_JS))
                return {k: v for k, v in seen.items() if k in want} == want

            try:
                wait_for(browser_caught_up, timeout=30, interval=0.25)
            except AssertionError:
                raise AssertionError(f"browser holds {seen}, expected {want}") from None
            figures["browser_glyphs"] = len(want)
            figures["browser_points"] = sum(seen[k] for k in want)
            figures["chromium_peak_kib"] = _chromium_peak_kib()
            browser.close()
        web.sample()
        figures["web_peak_kib"] = web.peak_kib
        figures["server_peak_kib"] = server.peaks()
        figures["server_start_s"] = [round(r, 2) for r in restarts]
    finally:
        go.set()
        release.set()
        for c in children:
            if c.is_alive():
                c.kill()
                c.join(10)
        web.stop()
        for p in server.incarnations:
            p.stop()
    figures["points_checked"] = _check_values(path, plan)
    figures["test_peak_kib"] = vm_hwm_kib()
    figures["wall_s"] = round(time.monotonic() - t_start, 1)
    print("\nchaos figures:", json.dumps(figures))
    peaks = {
        "web": figures["web_peak_kib"],
        "chromium": figures["chromium_peak_kib"],
        **{f"server-{i}": v for i, v in enumerate(figures["server_peak_kib"])},
        **{f"logger-{i}": v for i, v in enumerate(figures["logger_peak_kib"])},
    }
    for who, kib in peaks.items():
        assert 0 < kib < MEMORY_BOUND_KIB, f"{who}: peak RSS {kib} KiB"
    return figures


@pytest.mark.browser
def test_chaos_short(tmp_path: Path) -> None:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is absent")
    figures = run_chaos(tmp_path, SHORT)
    assert figures["kills"] == SHORT.kills
    assert SHORT.budget_s is not None and figures["wall_s"] < SHORT.budget_s, figures


@pytest.mark.soak
@pytest.mark.browser
@pytest.mark.timeout(1800)
def test_chaos_soak(tmp_path: Path) -> None:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is absent")
    figures = run_chaos(tmp_path, SOAK)
    assert figures["kills"] >= 10
