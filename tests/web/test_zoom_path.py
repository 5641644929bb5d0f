"""The zoom path's latency settings: websockets without Nagle's delay, and BokehJS asked
for the zoomed window in the first paint after the wheel while LOD thinning is moot."""

from __future__ import annotations

import asyncio
import socket
import threading

import numpy as np
import yaml

from streamvis.storage import Points
from streamvis.web.address.layout import parse_layout
from streamvis.web.plots.line_state import PlotLimits
from streamvis.web.plots.plot_figure import LOD_INTERVAL, LOD_THRESHOLD
from streamvis.web.plots.plot_view import PlotView
from streamvis.web.schema import parse_schema

from .conftest import WebServer


def _view(spec: dict) -> PlotView:
    schema = parse_schema({"A": spec})
    cell = parse_layout({"rows": ["A"]}, schema).cells[0]
    return PlotView(schema.plot("A"), cell, limits=PlotLimits(budget=1_000_000))


def _add_lines(view: PlotView, n: int, start: int = 0) -> None:
    for k in range(start, start + n):
        key = (f"run{k}", "a", 0)
        assert view.admit(key)
        view.set_full(key, {"x": np.arange(3.0), "y": np.ones(3)})
    view.flush()


def test_lod_interval_is_zero_until_thinning_could_happen() -> None:
    view = _view({"columns": ["x", "y"]})
    assert view.figure.lod_interval == 0  # a new plot: RangesUpdate in the first paint
    _add_lines(view, LOD_THRESHOLD)
    assert view.figure.lod_interval == 0
    _add_lines(view, 1, start=LOD_THRESHOLD)  # past the threshold BokehJS thins lines
    assert view.figure.lod_interval == LOD_INTERVAL
    view.remove("run0", None)
    view.flush()
    assert view.figure.lod_interval == 0


def test_schema_lod_settings_are_kept() -> None:
    view = _view({"columns": ["x", "y"], "figure_kwargs": {"lod_interval": 123}})
    _add_lines(view, 3)
    assert view.figure.lod_interval == 123
    never = _view({"columns": ["x", "y"], "figure_kwargs": {"lod_threshold": None}})
    _add_lines(never, LOD_THRESHOLD + 5)
    assert never.figure.lod_interval == 0  # never thinned: nothing to wait for


def test_scatter_plots_keep_bokeh_lod_interval() -> None:
    view = _view({"columns": ["x", "y"], "glyph_kind": "scatter"})
    assert view.figure.lod_interval == LOD_INTERVAL


def test_websockets_send_without_nagle(tmp_path, log_path, store) -> None:
    """Bokeh's message frames leave at once: TCP_NODELAY on every websocket."""
    store.append([Points("run", "a", 0, {"x": np.arange(5.0), "y": np.ones(5)})])
    schema = tmp_path / "s.yaml"
    schema.write_text(yaml.safe_dump({"a": {"name_pattern": "^a$", "columns": ["x", "y"]}}))
    ws = WebServer(log_path, schema)
    seen: list[int] = []
    errors: list[BaseException] = []

    def pull() -> None:  # its own thread and loop (the browser tests' loop runs in this one)
        from bokeh.client import pull_session

        asyncio.set_event_loop(asyncio.new_event_loop())
        try:
            with pull_session(url=ws.url + "/", arguments={"rows": "a"}):
                for conn in list(ws.server._tornado._clients):  # noqa: SLF001
                    sock = conn._socket.ws_connection.stream.socket  # noqa: SLF001
                    seen.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            errors.append(exc)

    try:
        t = threading.Thread(target=pull)
        t.start()
        t.join(60)
        assert not t.is_alive() and not errors, errors
        assert seen, "the pulled session has no websocket connection"
        assert all(v != 0 for v in seen), seen
    finally:
        ws.stop()

def test_detail_read_for_an_older_window_joins_the_overview_at_its_own_edges() -> None:
    """A zoom's detail that lands after the view moved on still makes one line in x order
    (the overview outside is cut at the edges the detail was read for)."""
    import pyarrow as pa

    from streamvis.storage import RangeRequest
    from streamvis.storage.read.decimate import decimate_columns, slice_sorted
    from streamvis.web.plots.line_state import Job

    view = _view({"columns": ["x", "y"]})
    n, key = 100_000, ("run", "a", 0)
    cols = {"x": np.arange(n, dtype=np.float64), "y": np.sin(np.arange(n) / 500.0)}
    assert view.admit(key)
    cap = view.cap
    overview = pa.table(decimate_columns(cols, "x", cap))
    req = RangeRequest(*key, max_points=cap, upto=n)
    view.apply_ranges([(Job(key, "overview", req), overview)])
    read_for = (40_000.0, 60_000.0)
    detail = pa.table(decimate_columns(slice_sorted(cols, "x", *read_for), "x", cap))
    job = Job(key, "detail", RangeRequest(*key, *read_for, cap, n), read_for)
    view.view_range = (45_000.0, 55_000.0)  # the user zoomed on while it was read
    view.apply_ranges([(job, detail)])
    x = view.layer.data(key)["x"]
    assert np.all(np.diff(x) >= 0), "the line doubles back where overview and detail meet"
    inside = x[(x >= read_for[0]) & (x <= read_for[1])]
    assert inside.size == len(detail)  # the window holds the detail and nothing else
    assert x[0] == 0 and x[-1] == n - 1  # the overview outside keeps the line's ends


def test_x_modes_name_their_axis_over_the_schemas_label() -> None:
    """The schema labels its x column ("step"); x=wall|relative draw something else."""
    spec = {"name_pattern": "^a$", "columns": ["x", "y"], "figure_kwargs": {"x_axis_label": "step"}}
    schema = parse_schema({"A": spec})
    cell = parse_layout({"rows": ["A"]}, schema).cells[0]
    labels = {
        mode: PlotView(schema.plot("A"), cell, limits=PlotLimits(budget=1000), x_mode=mode)
        .figure.below[0].axis_label
        for mode in ("step", "wall", "relative")
    }
    assert labels == {"step": "step", "wall": "wall time",
                      "relative": "seconds since the line's first point"}


def test_schema_x_mode_and_the_pages_x() -> None:
    """A plot's ``x_mode`` is its own default; the page's x= sets every line plot; a
    scatter's x is a coordinate: only its own x_mode moves it."""
    schema = parse_schema({
        "timed": {"name_pattern": "^a$", "columns": ["x", "y"], "x_mode": "wall"},
        "plain": {"name_pattern": "^a$", "columns": ["x", "y"]},
        "cloud": {"name_pattern": "^c$", "columns": ["x", "y"], "glyph_kind": "scatter"},
    })

    def mode(plot: str, page: str | None) -> str:
        cell = parse_layout({"rows": [plot]}, schema).cells[0]
        return PlotView(schema.plot(plot), cell, limits=PlotLimits(budget=1000), x_mode=page).x_mode

    assert [mode("timed", None), mode("plain", None), mode("cloud", None)] == ["wall", "step", "step"]
    assert [mode("timed", "relative"), mode("plain", "wall"), mode("cloud", "wall")] == [
        "relative", "wall", "step"]


def test_a_bad_schema_x_mode_is_named() -> None:
    import pytest

    from streamvis.web.schema import SchemaError

    with pytest.raises(SchemaError, match=r"plot 'p', key 'x_mode': 'epoch' is not one of step, wall"):
        parse_schema({"p": {"columns": ["x", "y"], "x_mode": "epoch"}})
