"""``script.summaries`` and ``script.aggregate`` on a real log: equal to pandas
references computed from the exported points, groups by config keys, live updates
that read only the new points, deletions."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from streamvis import script
from streamvis.errors import ForeignFileError, InvalidArgumentError
from streamvis.run_analysis import SummaryBook
from streamvis.source import LocalSource
from streamvis.storage import ConfigUpdate, Points, Store

LRS = (0.1, 0.01)
SEEDS = (1, 2, 3)


def _sweep(path: Path, steps: int = 50) -> None:
    """6 runs: lr x seed, a run id that differs in every run; loss and acc."""
    rng = np.random.default_rng(0)
    with Store.open(str(path), mode="a") as st:
        for lr in LRS:
            for seed in SEEDS:
                run = f"lr{lr}-s{seed}"
                st.append([ConfigUpdate(run, {"optim": {"lr": lr}, "seed": seed, "id": run})])
                x = np.arange(steps)
                st.append([Points(run, "loss", 0, {"x": x, "y": rng.normal(size=steps) / lr}),
                           Points(run, "acc", 0, {"x": x, "y": rng.uniform(size=steps)})])


def _points(path: Path, name: str) -> pd.DataFrame:
    data = script.export(str(path), name=name)
    return pd.concat([pd.DataFrame({"scope": s, "x": c["x"], "y": c["y"].astype(float)})
                      for (s, _, _), c in data.items()])


def test_summaries_equal_pandas_with_flattened_config(tmp_path: Path) -> None:
    _sweep(tmp_path / "s.svl")
    got = script.summaries(str(tmp_path / "s.svl"), ["loss", "acc"],
                           stats=("min", "max", "last", "mean", "count", "argmin")).to_pandas()
    assert got["scope"].tolist() == sorted(got["scope"])
    assert {"optim.lr", "seed", "id"} <= set(got.columns)
    for name in ("loss", "acc"):
        df = _points(tmp_path / "s.svl", name).reset_index(drop=True)
        pts = df.groupby("scope")
        want = pd.DataFrame({"min": pts["y"].min(), "max": pts["y"].max(),
                             "last": pts["y"].last(), "mean": pts["y"].mean(),
                             "count": pts["y"].count(),
                             "argmin": df.loc[pts["y"].idxmin()].set_index("scope")["x"]})
        g = got.set_index("scope")
        for stat in want.columns:
            np.testing.assert_allclose(g[f"{name}.{stat}"].to_numpy(float),
                                       want[stat].loc[g.index].to_numpy(float), rtol=1e-9)
    assert got.set_index("scope").loc["lr0.1-s2", "optim.lr"] == 0.1


def test_aggregate_over_seeds_equals_pandas_and_leaves_out_the_run_id(tmp_path: Path) -> None:
    _sweep(tmp_path / "s.svl")
    got = script.aggregate(str(tmp_path / "s.svl"), "loss", "-seed", band="std")
    assert set(got) == {(lr,) for lr in LRS}  # id differs in every run: left out
    pts = _points(tmp_path / "s.svl", "loss")
    for (lr,), table in got.items():
        runs = pts[pts["scope"].str.startswith(f"lr{lr}-")]
        ref = runs.groupby("x")["y"]
        t = table.to_pandas()
        np.testing.assert_array_equal(t["x"], ref.mean().index)
        np.testing.assert_allclose(t["y"], ref.mean().to_numpy(), rtol=1e-9)
        np.testing.assert_allclose(t["hi"] - t["y"], ref.std(ddof=1).to_numpy(), rtol=1e-9)
        assert (t["n"] == len(SEEDS)).all()


def test_grouping_by_a_key_no_run_has_is_one_group(tmp_path: Path) -> None:
    _sweep(tmp_path / "s.svl")
    got = script.aggregate(str(tmp_path / "s.svl"), "acc", ["optimizer"], agg="median")
    assert list(got) == [(None,)]
    assert (got[(None,)].column("n").to_numpy() == len(LRS) * len(SEEDS)).all()


def test_bad_arguments_are_one_line_naming_the_value(tmp_path: Path) -> None:
    _sweep(tmp_path / "s.svl", steps=3)
    for call, bad in [(lambda: script.aggregate(str(tmp_path / "s.svl"), "loss", "seed", agg="avg"), "'avg'"),
                      (lambda: script.summaries(str(tmp_path / "s.svl"), ["loss"], stats=("p90",)), "'p90'"),
                      (lambda: script.aggregate(str(tmp_path / "s.svl"), "loss", "seed,-lr"), "seed,-lr")]:
        with pytest.raises(InvalidArgumentError) as e:
            call()
        assert bad in str(e.value) and "\n" not in str(e.value)


def test_a_book_reads_only_new_points_and_forgets_deleted_runs(tmp_path: Path) -> None:
    path = str(tmp_path / "live.svl")
    with Store.open(path, mode="a") as st:
        st.append([Points("a", "loss", 0, {"x": np.arange(1000), "y": np.arange(1000.0)}),
                   Points("b", "loss", 0, {"x": np.arange(10), "y": np.ones(10)})])
        with LocalSource(Store.open(path, mode="r")) as src:
            book = SummaryBook(src, ["loss"])
            assert book.refresh() == 1010
            st.append([Points("a", "loss", 0, {"x": [1000, 1001], "y": [-5.0, 7.0]})])
            src.store.refresh()
            assert book.refresh() == 2  # the poll's cost follows the new points
            assert book.stat("a", "loss", "min") == -5.0 and book.stat("a", "loss", "last") == 7.0
            assert book.stat("a", "loss", "count") == 1002
            st.delete("b")
            src.store.refresh()
            book.refresh()
            assert math.isnan(book.stat("b", "loss", "min"))


def test_export_writes_a_runs_table_that_joins_points_to_configs(tmp_path: Path) -> None:
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    _sweep(tmp_path / "s.svl", steps=20)
    out = tmp_path / "pq"
    res = script.export_parquet(str(tmp_path / "s.svl"), str(out))
    assert res.runs_file == str(out / "_runs.parquet")
    runs = pq.read_table(res.runs_file).to_pandas().set_index("scope")
    want = script.summaries(str(tmp_path / "s.svl"), ["acc", "loss"],
                            stats=("min", "last", "count")).to_pandas().set_index("scope")
    assert sorted(runs.index) == sorted(want.index) and len(runs) == 6
    for col in want.columns:
        assert runs[col].loc[want.index].tolist() == want[col].tolist(), col
    points = ds.dataset(str(out), format="parquet", partitioning="hive").to_table()
    assert points.num_rows == 6 * 2 * 20  # the runs table is not read as points
    # a file we did not write there is never replaced
    (out / "_runs.parquet").write_bytes(b"someone else's")
    with pytest.raises(ForeignFileError, match="_runs.parquet"):
        script.export_parquet(str(tmp_path / "s.svl"), str(out))
    assert (out / "_runs.parquet").read_bytes() == b"someone else's"


def test_too_many_names_is_refused_before_reading(tmp_path: Path) -> None:
    _sweep(tmp_path / "s.svl", steps=2)
    with pytest.raises(InvalidArgumentError, match="1,001 names"):
        script.summaries(str(tmp_path / "s.svl"), [f"n{i}" for i in range(1001)])


def test_grouping_by_every_key_but_some_leaves_out_ids_and_keys_the_same_in_every_run() -> None:
    """``-seed``: a key with a different value in every run (an id) and one with the same
    value in every run (it splits nothing) are out of the grouping keys, so the groups'
    labels name only what tells them apart; the notes say which went where. A key only
    some runs have splits them, even with one value."""
    from streamvis.storage.read.run_groups import group_label, group_runs, parse_group

    configs = {f"r{i}": {"lr": [0.1, 0.01][i % 2], "seed": i // 2, "id": f"id{i}", "bs": 32,
                         **({"resumed": True} if i == 0 else {})} for i in range(4)}
    got = group_runs(configs, parse_group("-seed"))
    assert got.keys == ("lr", "resumed")
    assert got.notes == ["grouped by lr, resumed", "left out (a different value in every run): id",
                         "the same in every run: bs"]
    assert sorted(group_label(got.keys, k) for k in got.groups) == [
        "lr=0.01, (no resumed)", "lr=0.1, (no resumed)", "lr=0.1, resumed=True"]
    one = group_runs({"r0": {"lr": 0.1, "bs": 32}}, parse_group("-seed"))  # one run: its keys
    assert one.keys == ("bs", "lr")
