"""The hyperparameter page without a browser: its address, axes, filters, and the
server-side handler of a dragged box (a real document over a real log)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from bokeh.document import Document
from bokeh.events import SelectionGeometry

from streamvis.errors import InvalidArgumentError
from streamvis.server.client import GrpcSource
from streamvis.source import LocalSource
from streamvis.storage import ConfigUpdate, Points, Store
from streamvis.storage.read.run_groups import parse_group
from streamvis.web.hparams.model import Axis, Run, axis_at, build_axes, group_rows, selection_range
from streamvis.web.hparams.page import HparamsPage
from streamvis.web.hparams.query import parse_hparams, parse_range, range_query
from streamvis.web.page.app_config import AppConfig
from streamvis.web.schema import load_schema
from tests.server.conftest import ServerProc, free_port

LRS = [1e-5, 1e-4, 1e-3, 1e-2, 1e-1]


def _args(q: str) -> dict[str, list[str]]:
    from urllib.parse import parse_qs

    return {k: v for k, v in parse_qs(q, keep_blank_values=True).items()}


def test_query_round_trips_and_names_bad_values() -> None:
    q = parse_hparams(_args("metric=val/loss.min&range=lr:1e-4:1e-2&range=opt:adam:sgd&x=lr"))
    assert (q.name, q.stat, q.metric, q.x) == ("val/loss", "min", "val/loss.min", "lr")
    assert [(r.key, r.lo, r.hi) for r in q.ranges] == [("lr", "1e-4", "1e-2"), ("opt", "adam", "sgd")]
    again = parse_hparams(_args(range_query(q.args, q.ranges)[1:]))
    assert again.ranges == q.ranges and again.metric == q.metric
    # a key holding ':' is split at the last two
    assert parse_range("a:b:1:2").key == "a:b"
    with pytest.raises(InvalidArgumentError, match=r"unknown stat 'best': expected one of min, max"):
        parse_hparams(_args("metric=loss.best"))
    with pytest.raises(InvalidArgumentError, match="needs metric=NAME.STAT"):
        parse_hparams(_args("where=lr<1"))
    with pytest.raises(InvalidArgumentError, match=r"range='lr:1': expected KEY:lo:hi"):
        parse_hparams(_args("metric=loss.min&range=lr:1"))
    with pytest.raises(InvalidArgumentError, match="lo 3 is above hi 1"):
        parse_hparams(_args("metric=loss.min&range=lr:3:1"))
    g = parse_hparams(_args("metric=loss.min&group=-seed&agg=median"))
    assert g.group is not None and g.group.exclude and g.group.keys == ("seed",) and g.agg == "median"
    assert parse_hparams(_args("metric=loss.min&group=lr,opt")).agg == "mean"
    with pytest.raises(InvalidArgumentError, match=r"agg='avg' is not one of mean, median, min, max"):
        parse_hparams(_args("metric=loss.min&group=lr&agg=avg"))
    with pytest.raises(InvalidArgumentError, match="agg= applies to groups: give group= too"):
        parse_hparams(_args("metric=loss.min&agg=mean"))
    with pytest.raises(InvalidArgumentError, match="draws each run without group="):
        parse_hparams(_args("metric=loss.min&group=:run"))
    with pytest.raises(InvalidArgumentError, match="mixes keys and -keys"):
        parse_hparams(_args("metric=loss.min&group=lr,-seed"))
    with pytest.raises(InvalidArgumentError, match="unknown parameter 'rows'"):
        parse_hparams(_args("metric=loss.min&rows=a"))


def _runs(values: list[dict[str, Any]]) -> list[Run]:
    return [Run(f"r{i}", cfg, float(i)) for i, cfg in enumerate(values)]


def test_group_rows_aggregate_each_groups_metric() -> None:
    rng = np.random.default_rng(3)
    cfgs = [{"lr": LRS[i % 3], "opt": ["adam", "sgd"][i % 2], "seed": i} for i in range(24)]
    runs = [Run(f"r{i}", c, float(rng.random())) for i, c in enumerate(cfgs)]
    runs[5].metric = math.nan  # a run without the metric counts in no aggregate
    for agg, ref_fn in (("mean", np.mean), ("median", np.median), ("min", np.min), ("max", np.max)):
        rows, notes = group_rows(runs, parse_group("-seed"), agg)
        assert notes == ["grouped by lr, opt", "left out (a different value in every run): seed"] or \
            notes == ["grouped by lr, opt"]
        assert len(rows) == 6 and [r.config["lr"] for r in rows] == sorted(r.config["lr"] for r in rows)
        for row in rows:
            members = [r for r in runs if r.config["lr"] == row.config["lr"]
                       and r.config["opt"] == row.config["opt"]]
            vals = [r.metric for r in members if not math.isnan(r.metric)]
            assert row.metric == pytest.approx(float(ref_fn(vals)), rel=1e-12), (agg, row.scope)
            assert row.scope == f"lr={row.config['lr']}, opt={row.config['opt']} ({len(members)} runs)"
            assert set(row.config) == {"lr", "opt"}
    # a key no run has: one group "(no KEY)"; a group whose runs have no metric: NaN
    rows, notes = group_rows([Run("a", {}, math.nan)], parse_group("width"), "mean")
    assert [r.scope for r in rows] == ["(no width) (1 run)"] and math.isnan(rows[0].metric)
    assert "no run has the config key 'width'" in notes


def test_axes_log_categorical_constant_and_positions() -> None:
    runs = _runs([{"lr": lr, "opt": o, "same": 1, "small": s}
                  for lr, o, s in zip(LRS, ["sgd", "adam", "adam", "sgd", "rms"], [1, 2, 3, 4, 5],
                                      strict=True)])
    axes, every, notes = build_axes(runs, "m.last")
    assert [a.key for a in axes] == ["lr", "opt", "small", "m.last"]
    assert "the same in every run (no axis): same" in notes
    lr = every["lr"]
    assert lr.numeric and lr.log and not every["small"].log  # 1..5 spans less than two decades
    assert [lr.position(v) for v in LRS] == pytest.approx([0, 0.25, 0.5, 0.75, 1])
    assert [t for _, t in lr.ticks()] == ["1e-5", "1e-4", "1e-3", "1e-2", "1e-1"]
    opt = every["opt"]
    assert not opt.numeric and opt.categories == ("adam", "rms", "sgd")
    assert [opt.position(v) for v in ("adam", "rms", "sgd")] == [0, 0.5, 1]
    assert math.isnan(opt.position(None))


def test_selection_box_to_range() -> None:
    lr = Axis("lr", True, 1e-5, 1e-1, log=True)
    assert axis_at(0.9, 1.1, 4) == 1 and axis_at(1.8, 2.1, 4) == 2 and axis_at(5.0, 6.0, 4) is None
    r = selection_range(lr, 0.2, 0.8)  # 10**-4.2 .. 10**-1.8
    assert r is not None and r.key == "lr"
    assert float(r.lo) <= 10 ** -4.2 and float(r.hi) >= 10 ** -1.8
    assert float(r.lo) == pytest.approx(10 ** -4.2, rel=1e-5)
    whole = selection_range(lr, -0.1, 1.2)
    assert whole is not None and (float(whole.lo), float(whole.hi)) == (1e-5, 1e-1)
    assert selection_range(lr, 0.5, 0.5) is None  # a click clears
    opt = build_axes(_runs([{"opt": o} for o in ("adam", "rms", "sgd")]), "m")[1]["opt"]
    c = selection_range(opt, 0.4, 1.1)
    assert c is not None and (c.lo, c.hi) == ("rms", "sgd")
    assert selection_range(opt, 0.1, 0.3) is None


def _write(log: str) -> None:
    with Store.open(log, "a", fsync=False) as s:
        items: list[Any] = []
        for i, lr in enumerate(LRS):
            items.append(ConfigUpdate(f"run{i}", {"optim": {"lr": lr}, "opt": ["adam", "sgd"][i % 2]}))
            items.append(Points(f"run{i}", "loss", 0, {"x": np.arange(3.0), "y": np.array([5.0, 1.0 + i, 2.0])}))
        s.append(items)


@contextmanager
def _page(source: Any, tmp_path: Path, query: str = "metric=loss.min&range=opt:sgd:sgd") -> Iterator[Any]:
    schema_path = tmp_path / "s.yaml"
    schema_path.write_text("loss:\n  name_pattern: ^loss$\n  columns: [x, y]\n")
    cfg = AppConfig(source=source, schema=load_schema(schema_path))
    doc = Document()
    pg = HparamsPage(doc, cfg, parse_hparams(_args(query)))
    doc.add_root(pg.view.root)
    try:
        frame = pg.poll()  # what a worker does, here on the test's thread
        assert frame is not None
        pg.show(frame)
        yield pg
    finally:
        pg.close()
        cfg.executor.shutdown(wait=True)


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Any]:
    log = str(tmp_path / "hp.log")
    _write(log)
    with LocalSource.open(log) as source, _page(source, tmp_path) as pg:
        yield pg


def test_the_page_through_a_data_server(tmp_path: Path, procs: Any) -> None:
    """The same page over a real data server (GrpcSource) as over the log."""
    log = str(tmp_path / "hp.log")
    _write(log)
    srv = ServerProc(log, free_port(), procs=procs).start()
    try:
        with GrpcSource(srv.uri, timeout=30) as remote, _page(remote, tmp_path, "metric=loss.last") as pg:
            with LocalSource.open(log) as local, _page(local, tmp_path, "metric=loss.last") as ref:
                got, want = pg.view.lines.data, ref.view.lines.data
                assert set(got) == set(want)
                for k in want:
                    np.testing.assert_array_equal(np.array(list(got[k])), np.array(list(want[k])), err_msg=k)
                assert pg.view.table_src.data == ref.view.table_src.data
                assert pg.view.lines.data["metric"].tolist() == [2.0] * 5
                assert pg.view.shown_scopes() == [f"run{i}" for i in range(5)]
    finally:
        srv.stop()


def test_selection_event_filters_on_the_server(page: Any) -> None:
    view = page.view
    assert [a.key for a in page.frame.axes] == ["opt", "optim.lr", "loss.min"]
    # range=opt:sgd:sgd from the address: runs 1 and 3
    assert view.shown_scopes() == ["run1", "run3"]
    assert sorted(view.lines.data["alpha"]) == sorted([0.75, 0.75, 0.04, 0.04, 0.04])
    assert view.url.data["query"][0] == "?metric=loss.min&range=opt:sgd:sgd"
    # the metric: min over (5, 1 + i, 2)
    assert view.lines.data["metric"].tolist() == [1.0, 2.0, 2.0, 2.0, 2.0]
    # a box on the lr axis (x = 1) from 1e-4 to 1e-2 (log positions 0.25 .. 0.75)
    geometry = {"type": "rect", "x0": 0.9, "x1": 1.1, "y0": 0.24, "y1": 0.76}
    page.on_selection(SelectionGeometry(view.coords, geometry=geometry, final=True))
    assert [r.key for r in page.ranges] == ["opt", "optim.lr"]
    assert view.shown_scopes() == ["run1", "run3"]  # 1e-4 and 1e-2, both sgd
    q = view.url.data["query"][0]
    assert q.startswith("?metric=loss.min&range=opt:sgd:sgd&range=optim.lr:")
    lo, hi = (float(v) for v in q.rsplit(":", 2)[1:])
    # positions 0.24 and 0.76 of decades -5..-1: 10**-4.04 and 10**-1.96, rounded outward
    assert lo == pytest.approx(10 ** -4.04, rel=1e-5) and lo <= 10 ** -4.04
    assert hi == pytest.approx(10 ** -1.96, rel=1e-5) and hi >= 10 ** -1.96
    assert len(view.boxes.data["left"]) == 2
    # a click (no height) on the opt axis clears its range: runs 1, 2, 3 (lr 1e-4..1e-2)
    page.on_selection(SelectionGeometry(view.coords, geometry={**geometry, "x0": -0.1, "x1": 0.1,
                                                               "y0": 0.5, "y1": 0.5}, final=True))
    assert view.shown_scopes() == ["run1", "run2", "run3"]
    assert [a for a in view.lines.data["alpha"]] == [0.04, 0.75, 0.75, 0.75, 0.04]
    # a box that is not final (the drag goes on) changes nothing
    page.on_selection(SelectionGeometry(view.coords, geometry={**geometry, "y0": 0.0, "y1": 1.0},
                                        final=False))
    assert view.shown_scopes() == ["run1", "run2", "run3"]
    page.clear_filters()
    assert view.shown_scopes() == [f"run{i}" for i in range(5)]
    assert view.url.data["query"][0] == "?metric=loss.min"


def test_poll_follows_new_points_and_stays_idle(page: Any, tmp_path: Path) -> None:
    assert page.poll() is None  # nothing new: no frame, nothing redrawn
    with Store.open(str(tmp_path / "hp.log"), "a", fsync=False) as s:
        s.append([Points("run4", "loss", 0, {"x": np.array([3.0]), "y": np.array([-7.0])})])
    frame = page.poll()
    assert frame is not None
    page.show(frame)
    assert page.view.lines.data["metric"].tolist() == [1.0, 2.0, 2.0, 2.0, -7.0]


def test_vectorised_filter_equals_the_per_run_rule() -> None:
    """``inside`` (a column at a time) selects exactly the runs ``passes`` selects, with
    missing values, bools, strings and ranges on numeric and categorical keys."""
    from streamvis.web.hparams.model import inside, passes, resolve_filters
    from streamvis.web.hparams.query import RangeFilter

    rng = np.random.default_rng(3)
    pool: list[Any] = [None, 1, 2.5, 1e-3, 10, -4, "a", "b", True]
    for _ in range(200):
        runs = [Run(f"r{i}", {"n": [None, 1, 2.5, 1e-3, 10, -4][rng.integers(6)],
                              "m": pool[rng.integers(len(pool))],
                              "s": ["x", "y", "z", None][rng.integers(4)]}, float(rng.normal()))
                for i in range(12)]
        every = build_axes(runs, "loss.min")[1]
        lo = float(rng.normal())
        ranges = [RangeFilter("n", f"{lo:g}", f"{lo + rng.uniform(0, 5):g}"),
                  RangeFilter("s", "x", ["x", "y", "z"][rng.integers(3)]),
                  RangeFilter("loss.min", "-0.5", "2")]
        if "m" in every:
            ranges.append(RangeFilter("m", "0", "3") if every["m"].numeric else RangeFilter("m", "1", "b"))
        picked = [r for r in ranges if rng.random() < 0.7]
        filters, _ = resolve_filters(picked, every)
        want = [i for i, r in enumerate(runs) if passes(r, filters, "loss.min")]
        assert inside(runs, filters, "loss.min", {}).tolist() == want


def test_a_box_on_the_scatter_filters_the_key_and_the_metric(tmp_path: Path) -> None:
    log = str(tmp_path / "hp.log")
    _write(log)
    with LocalSource.open(log) as source, _page(source, tmp_path, "metric=loss.min&x=optim.lr") as pg:
        view = pg.view
        assert view.scatter is not None and view.scatter_src.data["x"] == LRS
        assert view.scatter_src.data["y"] == [1.0, 2.0, 2.0, 2.0, 2.0]
        # lr 5e-5 .. 5e-3 (runs 1, 2) and the metric 1.5 .. 3 (runs 1..4): runs 1 and 2
        box = {"type": "rect", "x0": 5e-3, "x1": 5e-5, "y0": 3.0, "y1": 1.5}
        pg.on_scatter_selection(SelectionGeometry(view.scatter, geometry=box, final=True))
        assert view.shown_scopes() == ["run1", "run2"]
        assert view.url.data["query"][0] == "?metric=loss.min&x=optim.lr&range=loss.min:1.5:3&range=optim.lr:5e-05:0.005"
        assert sorted(view.scatter_src.data["alpha"].tolist()) == [0.04] * 3 + [0.75] * 2
        # a click clears both
        click = {**box, "x1": 5e-3, "y1": 3.0}
        pg.on_scatter_selection(SelectionGeometry(view.scatter, geometry=click, final=True))
        assert view.shown_scopes() == [f"run{i}" for i in range(5)] and pg.ranges == []


def test_a_config_written_again_reaches_the_page(page: Any, tmp_path: Path) -> None:
    page.config_every = 0.0  # (every CONFIG_EVERY seconds on a served page)
    with Store.open(str(tmp_path / "hp.log"), "a", fsync=False) as s:
        s.append([ConfigUpdate("run0", {"optim": {"lr": 0.5}, "opt": "sgd", "new": 1})])
    frame = page.poll()
    assert frame is not None
    page.show(frame)
    assert page.frame.runs[0].config == {"optim.lr": 0.5, "opt": "sgd", "new": 1}
    assert page.view.shown_scopes() == ["run0", "run1", "run3"]  # range=opt:sgd:sgd
    assert "new" in [c.title for c in page.view.table.columns]
    assert page.poll() is None  # unchanged since: nothing redrawn


def test_without_a_metric_the_page_picks_a_loss_at_its_min_or_the_first_name_at_its_last() -> None:
    from streamvis.storage import GroupInfo
    from streamvis.web.hparams.page import default_metric

    def groups(*names: str) -> list[GroupInfo]:
        return [GroupInfo("run", n, 0, 1, 0.0, 0.0) for n in names]

    assert default_metric(groups("lr", "train/loss", "val/loss")) == "train/loss.min"
    assert default_metric(groups("acc", "lr")) == "acc.last"
    assert default_metric([]) is None


def test_group_rows_on_the_page_with_a_filter_on_the_metric(tmp_path: Path) -> None:
    """group=opt&agg=min over the real log: a row per opt, its metric the min of its
    runs' loss.min; range= on the metric keeps the groups inside."""
    log = str(tmp_path / "hp.log")
    _write(log)
    mins = {f"run{i}": min(5.0, 1.0 + i, 2.0) for i in range(len(LRS))}  # _write's loss
    opts = {f"run{i}": ["adam", "sgd"][i % 2] for i in range(len(LRS))}
    ref = {o: min(m for s, m in mins.items() if opts[s] == o) for o in ("adam", "sgd")}
    assert ref == {"adam": 1.0, "sgd": 2.0}
    with LocalSource.open(log) as source, _page(source, tmp_path, "metric=loss.min&group=opt&agg=min"
                                                ) as pg:
        frame = pg.frame
        assert [r.scope for r in frame.runs] == ["opt=adam (3 runs)", "opt=sgd (2 runs)"]
        assert [r.metric for r in frame.runs] == [ref["adam"], ref["sgd"]]
        assert frame.grouped == 5 and [a.key for a in frame.axes] == ["opt", "loss.min"]
        assert "loss.min over 2 groups of 5 runs" in pg.view.title.text
        assert any(n.startswith("grouped by opt; loss.min is the min") for n in frame.notes)
    lo = min(ref.values())
    with LocalSource.open(log) as source, _page(
            source, tmp_path, f"metric=loss.min&group=opt&agg=min&range=loss.min:{lo - 0.5}:{lo + 0.5}"
    ) as pg:
        assert [pg.frame.runs[i].scope for i in pg.inside] == [
            next(r.scope for r in pg.frame.runs if r.metric == lo)]
