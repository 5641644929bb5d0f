"""Where a zoom's time goes in the web server: ``python -m benchmarks.zoom_trace [--big N]
[--runs N]``.

Runs web_bench's big-line zooms against a ``web-serve`` whose zoom path is timed: this
module's ``serve`` entry wraps ``LiveSession``'s range methods and Bokeh's websocket
writes, appending one JSON line per call to ``$STREAMVIS_ZOOM_TRACE``. It then prints,
per zoom (wide and narrow windows apart), the medians of: RangesUpdate handled -> read
started (the hand-off to a worker thread), ``read_ranges``, read done -> applied on the
event loop (the hand-back), applying (the plot's changes and the PATCH-DOC built), and the
websocket write. The page's own phases are web_bench's rows, printed with them.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.table import Table, progress

__all__ = ["main", "serve", "zoom_phases"]

TRACE_ENV = "STREAMVIS_ZOOM_TRACE"
WIDE = 100_000  # x units (points of the line): a wider window is a "wide" zoom


def _now_ms() -> float:
    return time.time() * 1000.0


def serve(argv: list[str]) -> None:
    """``streamvis web-serve`` with the zoom path timed into ``$STREAMVIS_ZOOM_TRACE``."""
    from bokeh.server.views import ws

    from streamvis.cli import main as cli_main
    from streamvis.web.page import session

    out = open(os.environ[TRACE_ENV], "a", buffering=1)  # noqa: SIM115 - open while serving

    def note(what: str, t0: float, **kw: Any) -> None:
        out.write(json.dumps({"what": what, "t0": t0, "t1": _now_ms(), **kw}) + "\n")

    def timed(name: str) -> None:
        orig = getattr(session.LiveSession, name)

        @functools.wraps(orig)
        def wrapper(self: Any, *a: Any, **k: Any) -> Any:
            t0 = _now_ms()
            try:
                return orig(self, *a, **k)
            finally:
                extra = {}
                if name == "_on_ranges" and len(a) > 1 and a[1].x0 is not None:
                    extra["width"] = float(a[1].x1) - float(a[1].x0)
                note(name, t0, **extra)

        setattr(session.LiveSession, name, wrapper)

    for name in ("_on_ranges", "_read_jobs", "_applying"):
        timed(name)
    send = ws.WSHandler.send_message

    async def send_message(self: Any, message: Any) -> Any:
        t0 = _now_ms()
        result = await send(self, message)
        note("ws:" + str(message.msgtype), t0)
        return result

    ws.WSHandler.send_message = send_message  # type: ignore[method-assign]
    cli_main(argv)


def zoom_phases(events: list[dict[str, Any]]) -> list[dict[str, float]]:
    """Per RangesUpdate: the phases (ms) of the read it started, up to its PATCH-DOC."""

    def after(what: str, t: float) -> dict[str, Any] | None:
        return next((e for e in events if e["what"] == what and e["t0"] >= t), None)

    out = []
    for ev in (e for e in events if e["what"] == "_on_ranges" and "width" in e):
        read = after("_read_jobs", ev["t0"])
        if read is None or read["t0"] - ev["t0"] > 1000:
            continue
        apply = after("_applying", read["t1"])
        write = after("ws:PATCH-DOC", apply["t0"]) if apply is not None else None
        if apply is None or write is None:
            continue
        out.append(
            {
                "width": ev["width"],
                "hand-off to a worker": read["t0"] - ev["t0"],
                "read_ranges": read["t1"] - read["t0"],
                "hand-back to the event loop": apply["t0"] - read["t1"],
                "applying (plot changes, PATCH-DOC built)": apply["t1"] - apply["t0"],
                "to the websocket write's end": write["t1"] - apply["t1"],
                "RangesUpdate handled -> PATCH-DOC written": write["t1"] - ev["t0"],
            }
        )
    return out


def main(argv: list[str] | None = None) -> None:
    args_in = sys.argv[1:] if argv is None else argv
    if args_in[:1] == ["serve"]:
        serve(args_in[1:])
        return
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--big", type=int, default=10_000_000, help="points in the big line")
    parser.add_argument("--runs", type=int, default=12)
    args = parser.parse_args(args_in)
    from playwright.sync_api import sync_playwright

    from benchmarks import web_bench

    table = Table("web app: the zoom path in the server")
    tmp = tempfile.mkdtemp(prefix="streamvis-zoom-trace-")
    trace = Path(tmp) / "trace.jsonl"
    os.environ[TRACE_ENV] = str(trace)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=web_bench.CHROMIUM, args=web_bench.CHROMIUM_ARGS
            )
            progress(f"zooms on a {args.big:,}-point line, server traced")
            web_bench.bench_big(
                browser, tmp, args.big, args.runs, table, serve_module="benchmarks.zoom_trace serve"
            )
            browser.close()
        events = [json.loads(line) for line in trace.read_text().splitlines() if line]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    phases = zoom_phases(events)
    sec = "server, per zoom"
    load = os.getloadavg()[0]
    for label, keep in (("wide", lambda w: w > WIDE), ("narrow", lambda w: w <= WIDE)):
        rows = [ph for ph in phases if keep(ph["width"])]
        if not rows:
            continue
        for name in [k for k in rows[0] if k != "width"]:
            samples = [ph[name] / 1000.0 for ph in rows]
            note = f"{len(rows)} zooms; load average {load:.1f} at the end"
            table.add(sec, f"{label}: {name}", samples, "s", note=note)
    table.print()


if __name__ == "__main__":
    main()
