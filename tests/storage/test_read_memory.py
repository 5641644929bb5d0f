"""Read memory (issue 15): a read holds its output plus one 4 MiB window, and the
dictionary-encoded ``index`` column costs 1-2 bytes per row with the right values.

CI-sized versions of benchmarks/streamvis_workloads.py's 10M-scalar peak: at 2-4M
scalars the fixed window is a larger share, so the bounds are absolute (output bytes +
window + a little), each of which the earlier reads (int64 index: +8 B/row; the whole
log in one 64 MiB window; protobuf's copies of every record) exceeded.
"""

from __future__ import annotations

import subprocess
import sys
import tracemalloc

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from streamvis import script
from streamvis.storage import Points, Store

MIB = 1 << 20
WINDOW = 4 * MIB  # reading._MAX_LOCAL_READ


def _scalar_log(path: str, n: int, record: int) -> None:
    rng = np.random.default_rng(0)
    with Store.open(path, "a", fsync=False) as st:
        for lo in range(0, n, record):
            y = rng.random(record).astype(np.float32)
            st.append([Points("run", "loss", 0, {"x": np.arange(lo, lo + record), "y": y})])


def test_traced_peak_of_a_2m_scalar_read_is_its_output_plus_one_window(tmp_path) -> None:
    n = 2_000_000
    path = str(tmp_path / "m.svl")
    _scalar_log(path, n, 1_000_000)  # 4 MB records, each a window of its own
    with Store.open(path, "r") as st:
        tracemalloc.start()
        try:
            table = st.read("run", "loss").tables[("run", "loss")]
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    output = n * (8 + 4 + 1)  # x int64, y float32, int8 index codes
    assert table.num_rows == n
    # + 3 MiB: the codec's 512 KiB arange, lazy imports, small objects. Each earlier cost
    # passes it: int64 index +16 MB, the log in one window +4 MB, protobuf's copy of a
    # column +4 MB, an arange as long as a record +8 MB.
    assert peak <= output + WINDOW + 3 * MIB, (peak, output)
    assert table.column("index").type == pa.dictionary(pa.int8(), pa.int64())
    x = table.column("x").to_numpy()
    assert x[0] == 0 and x[-1] == n - 1 and (np.diff(x) == 1).all()  # LINEAR, in chunks
    assert set(table.column("index").to_numpy().tolist()) == {0}


_CHILD = r"""
import os, sys
from streamvis.storage import Store
def rss():
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
with Store.open(sys.argv[1], "r") as st:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset the peak RSS to the current RSS
    except OSError:
        print("no-reset")
        sys.exit(0)
    base = rss()
    table = st.read("run", "loss").tables[("run", "loss")]
    print(hwm() - base, table.num_rows)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc peak RSS")
def test_peak_rss_growth_of_a_4m_scalar_read_after_open(tmp_path) -> None:
    """The same in a fresh process by its peak RSS, which also sees what tracemalloc does
    not (protobuf's arena, the allocator's slack)."""
    n = 4_000_000
    path = str(tmp_path / "m.svl")
    _scalar_log(path, n, 1_000_000)  # 4 MB records, each a window of its own
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, path], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    if out.stdout.strip() == "no-reset":
        pytest.skip("/proc/self/clear_refs is not writable here")
    growth, rows = map(int, out.stdout.split())
    assert rows == n
    output = n * 13
    # measured here: output + 5.3-5.6 MiB; the earlier read: output + ~45 MiB
    assert growth <= output + WINDOW + 6 * MIB, (growth / MIB, output / MIB)


def test_index_column_values_and_code_widths(tmp_path) -> None:
    path = str(tmp_path / "i.svl")
    with Store.open(path, "a") as st:
        # a name with 3 indices written out of order, and one with 200 (int16 codes)
        for index in (5, 2, 9, 2):
            st.append([Points("run", "few", index, {"x": np.arange(3) + 10 * index})])
        st.append([Points("run", "many", i, {"y": np.full(2, float(i))}) for i in range(200)])
        st.append([Points("run", "neg", -(2**62), {"y": np.zeros(4)})])
    tables = script.export_arrow(path)
    few = tables[("run", "few")].column("index")
    assert few.type == pa.dictionary(pa.int8(), pa.int64())
    # rows grouped by index, order of first appearance; log order within an index
    assert few.to_numpy().dtype == np.int64
    assert few.to_pylist() == [5] * 3 + [2] * 6 + [9] * 3
    assert tables[("run", "few")].column("x").to_pylist()[3:9] == [20, 21, 22] * 2
    assert pc.sum(pc.equal(few, 2)).as_py() == 6
    many = tables[("run", "many")]
    assert many.column("index").type == pa.dictionary(pa.int16(), pa.int64())
    assert many.column("index").to_numpy().tolist() == np.repeat(np.arange(200), 2).tolist()
    assert (many.column("y").to_numpy() == many.column("index").to_numpy()).all()
    assert tables[("run", "neg")].column("index").to_pylist() == [-(2**62)] * 4
    # the numpy export keeps its shape (index in the key, no index column)
    data = script.export(path, name="few")
    assert list(data) == [("run", "few", 5), ("run", "few", 2), ("run", "few", 9)]
    assert data[("run", "few", 2)]["x"].tolist() == [20, 21, 22] * 2


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_long_linear_columns_filled_in_chunks_wrap_like_the_codec(tmp_path, dtype) -> None:
    """Steps near the dtype's limits: the chunked fill gives what one arange would."""
    info = np.iinfo(dtype)
    n = 200_003  # several chunks and a short last one
    step = dtype(info.max // 50_000)  # wraps around a few times
    x = (np.arange(n, dtype=dtype) * step + dtype(info.min + 7)).astype(dtype)
    path = str(tmp_path / "l.svl")
    with Store.open(path, "a") as st:
        st.append([Points("run", "steps", 0, {"x": x})])
    got = script.export_arrow(path)[("run", "steps")].column("x").to_numpy()
    assert got.dtype == dtype and np.array_equal(got, x)
    assert np.array_equal(script.export(path)[("run", "steps", 0)]["x"], x)


def test_index_runs_work_on_the_codes_and_on_plain_columns() -> None:
    from streamvis.storage.read.reading import index_column, index_runs

    column = index_column([7, -3, 7_000_000_000], [2, 0, 3])  # an empty run is no run
    values, bounds = index_runs(pa.chunked_array([column]))
    assert values == [7, 7_000_000_000] and bounds.tolist() == [0, 2, 5]
    plain = pa.chunked_array([pa.array([1, 1], pa.int64()), pa.array([1, 4], pa.int64())])
    values, bounds = index_runs(plain)
    assert values == [1, 4] and bounds.tolist() == [0, 3, 4]
    assert index_runs(index_column([], []))[0] == []
    chunks = pa.chunked_array([index_column([5], [2]), index_column([6, 5], [1, 1])])
    assert index_runs(chunks)[0] == [5, 6, 5]  # several chunks: through the int64 values
