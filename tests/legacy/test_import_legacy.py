"""``streamvis import-legacy`` and the recognition of the original streamvis's data.

Legacy prefixes are written with the original's own writing logic
(``tests/legacy/original_format.py``); the import must hold exactly what the
original's reader shows of them (scopes, names, indices, columns with their dtypes,
configs), and our readers pointed at such a prefix must name the format and write
nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamvis.cli import main
from streamvis.errors import InvalidArgumentError, LegacyFormatError, SchemaMismatchError
from streamvis.legacy import import_legacy
from streamvis.storage import Store
from streamvis.storage.verify import verify
from tests.legacy.original_format import OriginalLogger, OriginalServer, original_export
from tests.server.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


def _write_runs(prefix: str) -> None:
    """Four runs, as programs of the original would have logged them."""
    rng = np.random.default_rng(0)
    srv = OriginalServer(prefix)
    a = OriginalLogger(srv, "run24", delete_existing=True)
    a.write_config({"lr": 1e-3, "start-time": 1.7e9})
    a.write("loss", x=1, y=0.5)
    a.flush()
    b = OriginalLogger(srv, "run25", delete_existing=True)
    b.write_config({"lr": 3e-4, "layers": [64, 64], "opt": {"name": "adam", "eps": 1e-8},
                    "tag": "baseline", "ok": True, "none": None})
    for step in range(0, 40, 10):
        xs = np.arange(step, step + 10, dtype=np.int32)[None, :]
        top = np.stack([np.sin(xs[0] / 10 + k) for k in range(3)]).astype(np.float32)
        b.write("sinusoidal", x=xs, y=top)
        pts = rng.normal(size=(500, 2))
        b.write("cloud", x=pts[:, 0], y=pts[:, 1], t=step)
        b.write("loss", start_index=1, x=step, y=rng.normal(size=(2, 1)))
        if step % 20 == 0:
            b.flush()
    b.write("big", y=rng.normal(size=(1, 900_000)))  # split above MAX_ELEMS_PER_REQUEST
    b.write("odd", index=np.arange(4), v=np.ones(4))  # a column named like our key
    b.flush()
    c = OriginalLogger(srv, "run24", delete_existing=True)  # replaces run 'a'
    c.write_config({"lr": 2e-3})
    c.write("loss", x=np.arange(5), y=np.linspace(0, 1, 5))
    c.flush()
    d = OriginalLogger(srv, "run25", delete_existing=False)  # a resumed run: joined
    d.write_config({"lr": 1e-4, "resumed": True})
    d.write("loss", start_index=1, x=100, y=np.array([[7.0], [8.0]]))
    d.write("cloud", x=np.zeros(3), y=np.ones(3), t=99)
    d.flush()
    srv.close()
    with open(prefix + ".idx", "ab") as f:  # a crash in the middle of an index record
        f.write(b"\x02\x00\x00\x00\x10\x08")


@pytest.fixture(scope="module")
def legacy(tmp_path_factory: pytest.TempPathFactory) -> str:
    prefix = str(tmp_path_factory.mktemp("legacy") / "test")
    _write_runs(prefix)
    return prefix


def _files(prefix: str) -> dict[str, bytes]:
    folder = os.path.dirname(prefix)
    return {f: open(os.path.join(folder, f), "rb").read() for f in sorted(os.listdir(folder))}


def _assert_same(path: str, prefix: str, renames: dict[str, str] | None = None) -> None:
    want, configs = original_export(prefix)
    # a (scope, name, index) that only ever received empty writes holds no point: here
    # it does not exist
    want = {k: cols for k, cols in want.items() if len(next(iter(cols.values())))}
    renames = renames or {}
    with Store.open(path) as s:
        got = s.read_arrays()
        assert s.scopes() == list(dict.fromkeys(k[0] for k in want))
        assert {sc: s.config(sc) for sc in s.scopes() if s.config(sc)} == {
            sc: cfgs[-1] for sc, cfgs in configs.items()
        }
    assert set(got) == set(want)
    for key, cols in want.items():
        back = got[key]
        assert list(back) == [renames.get(c, c) for c in cols], key  # same columns, same order
        for c, values in cols.items():
            b = back[renames.get(c, c)]
            assert b.dtype == values.dtype and b.dtype in (np.float32, np.int32), (key, c)
            np.testing.assert_array_equal(b, values, err_msg=f"{key} {c}")


# -- the import -----------------------------------------------------------------------
def test_import_holds_exactly_what_the_original_showed(legacy, tmp_path) -> None:
    before = _files(legacy)
    path = str(tmp_path / "imported.svl")
    seen: list[tuple[int, int]] = []
    stats = import_legacy(legacy, path, progress=lambda d, t: seen.append((d, t)))
    _assert_same(path, legacy, {"index": "index_"})
    assert stats.scopes == 2 and stats.configs == 2
    assert stats.renamed_columns == ["run25/odd/index"]
    assert stats.torn_bytes == 6
    assert seen and seen[-1][0] == seen[-1][1]
    assert _files(legacy) == before  # the original's files are only read
    assert sorted(os.listdir(tmp_path)) == ["imported.svl", "imported.svl.idx"]
    with Store.open(path) as s:
        assert s.config("run24") == {"lr": 2e-3}  # run 'a' was deleted by run 'c'
        assert s.config("run25")["resumed"] is True
        loss = s.read_arrays("run25", "loss")
        assert loss[("run25", "loss", 1)]["x"][-1] == 100  # the resumed run appended
        assert verify(path).ok


def test_cli_import_legacy_prints_a_summary_and_refuses_an_existing_path(
    legacy, tmp_path, capsys
) -> None:
    path = str(tmp_path / "cli.svl")
    main(["import-legacy", legacy, path])
    out = capsys.readouterr()
    assert "imported 2 scopes" in out.out and "into " + path in out.out
    _assert_same(path, legacy, {"index": "index_"})
    before = open(path, "rb").read()
    with pytest.raises(SystemExit) as exc:
        main(["import-legacy", legacy, path])
    assert exc.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "exists" in err[0] and path in err[0]
    assert open(path, "rb").read() == before


def test_runs_with_different_columns_are_refused_before_writing(tmp_path) -> None:
    prefix = str(tmp_path / "mixed")
    srv = OriginalServer(prefix)
    a = OriginalLogger(srv, "s", delete_existing=False)
    a.write("v", x=1, y=2.0)
    a.flush()
    b = OriginalLogger(srv, "s", delete_existing=False)
    b.write("v", x=1.5, y=2.0)  # x float this time
    b.flush()
    srv.close()
    with pytest.raises(SchemaMismatchError, match="'v'.*x:int32, y:float32 and x:float32"):
        import_legacy(prefix, str(tmp_path / "out.svl"))
    assert not [f for f in os.listdir(tmp_path) if f.startswith("out.svl")]


def test_the_prefix_may_be_given_as_one_of_its_files(legacy, tmp_path) -> None:
    for i, one_file in enumerate((legacy + ".log", legacy + ".idx")):
        path = str(tmp_path / f"via{i}.svl")
        import_legacy(one_file, path)
        _assert_same(path, legacy, {"index": "index_"})


def test_not_a_legacy_prefix(tmp_path) -> None:
    (tmp_path / "p.idx").write_bytes(os.urandom(200))
    (tmp_path / "p.log").write_bytes(os.urandom(200))
    with pytest.raises(InvalidArgumentError, match="not a index of the original|not a"):
        import_legacy(str(tmp_path / "p"), str(tmp_path / "out.svl"))
    with pytest.raises(FileNotFoundError):
        import_legacy(str(tmp_path / "missing"), str(tmp_path / "out.svl"))


_settings = settings(max_examples=15, deadline=None, database=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])
_write = st.tuples(
    st.sampled_from(["a", "b", "c"]),
    st.integers(0, 3),  # start_index
    st.integers(1, 3),  # indices
    st.integers(0, 6),  # points (0: nothing for that write)
    st.booleans(),  # x as int
    st.booleans(),  # flush after
)


@_settings
@given(runs=st.lists(
    st.tuples(st.sampled_from(["r1", "r2"]), st.booleans(), st.lists(_write, max_size=8)),
    min_size=1, max_size=3))
def test_property_import_equals_the_original_reader(tmp_path_factory, runs) -> None:
    tmp = tmp_path_factory.mktemp("prop")
    prefix = str(tmp / "p")
    srv = OriginalServer(prefix)
    rng = np.random.default_rng(1)
    xint: dict[tuple[str, str], tuple[bool, int]] = {}
    for scope, delete, writes in runs:
        lg = OriginalLogger(srv, scope, delete_existing=delete)
        if delete:
            xint = {k: v for k, v in xint.items() if k[0] != scope}
        for name, start, nidx, npts, as_int, flush in writes:
            # a name keeps its dtypes, and (the original's flush concatenates writes of
            # one name and start_index) its number of indices
            as_int, nidx = xint.setdefault((scope, name), (as_int, nidx))
            x = np.arange(npts) if as_int else rng.normal(size=npts)
            lg.write(name, start_index=start, x=x, y=rng.normal(size=(nidx, npts)))
            if flush:
                lg.flush()
        lg.flush()
    srv.close()
    path = str(tmp / "out.svl")
    import_legacy(prefix, path)
    _assert_same(path, prefix)


# -- recognition by our readers -------------------------------------------------------
@pytest.mark.parametrize("mode", ["r", "a"])
@pytest.mark.parametrize("target", ["prefix", ".log", ".idx"])
def test_store_names_the_original_format_and_writes_nothing(legacy, mode, target) -> None:
    before = _files(legacy)
    path = legacy if target == "prefix" else legacy + target
    with pytest.raises(LegacyFormatError) as exc:
        Store.open(path, mode)
    msg = str(exc.value)
    assert "original streamvis" in msg and f"streamvis import-legacy {legacy} " in msg
    assert _files(legacy) == before


def test_verify_and_cli_readers_name_the_original_format(legacy, capsys) -> None:
    with pytest.raises(LegacyFormatError):
        verify(legacy + ".log")
    for argv in (["scopes", legacy], ["verify", legacy + ".log"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "import-legacy" in err[0], err


def test_grpc_serve_on_the_original_prefix_refuses_and_keeps_its_index(legacy) -> None:
    """The reported case: ``streamvis grpc-serve /data/test 8081`` replaced test.idx."""
    before = _files(legacy)
    proc = subprocess.run(
        [sys.executable, "-m", "streamvis.grpc_server", legacy, str(free_port())],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "original streamvis" in lines[0] and "import-legacy" in lines[0]
    assert _files(legacy) == before


def test_import_is_quick_at_a_realistic_size(tmp_path) -> None:
    """A 2,000-step run of the original's demo (sinusoidal 3 x 10 points and a 1,000-point
    cloud per logged step, flushed every 20 steps): seconds, not minutes."""
    prefix = str(tmp_path / "demo")
    srv = OriginalServer(prefix)
    lg = OriginalLogger(srv, "run24")
    rng = np.random.default_rng(2)
    for step in range(0, 2000, 10):
        xs = np.arange(step, step + 10, dtype=np.int32)[None, :]
        lg.write("sinusoidal", x=xs, y=rng.normal(size=(3, 10)))
        pts = rng.normal(size=(1000, 2))
        lg.write("cloud", x=pts[:, 0], y=pts[:, 1], t=step)
        if step % 200 == 0:
            lg.flush()
    lg.flush()
    srv.close()
    t0 = time.perf_counter()
    stats = import_legacy(prefix, str(tmp_path / "demo.svl"))
    elapsed = time.perf_counter() - t0
    assert stats.points == 200 * 30 + 200 * 1000
    assert elapsed < 10, elapsed
    _assert_same(str(tmp_path / "demo.svl"), prefix)
