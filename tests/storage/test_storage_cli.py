"""`streamvis export|compact|verify` as a user runs them."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pyarrow.parquet as pq

from streamvis.storage import Points, Store


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "streamvis.cli", *args], capture_output=True, text=True, timeout=60)


def _log(tmp_path) -> str:
    path = str(tmp_path / "runs.log")
    with Store.open(path, "a") as s:
        s.append([Points("run/1", "loss", i, {"x": np.arange(10), "y": np.ones(10, np.float32)}) for i in range(2)])
        s.append([Points("run 2", "acc", 0, {"x": np.arange(3), "y": np.zeros(3)})])
    return path


def test_export_to_parquet_partitioned_by_scope_and_name(tmp_path) -> None:
    path = _log(tmp_path)
    out = tmp_path / "pq"
    res = _run("export", path, "--to", str(out))
    assert res.returncode == 0, res.stderr
    assert "23 points" in res.stdout
    table = pq.read_table(out / "scope=run%2F1" / "name=loss")
    assert table.num_rows == 20 and set(table.column_names) >= {"index", "x", "y"}
    import pyarrow.dataset as ds

    whole = ds.dataset(str(out), format="parquet", partitioning="hive").to_table(columns=["index"])
    assert whole.num_rows == 23


def test_verify_and_compact(tmp_path) -> None:
    path = _log(tmp_path)
    res = _run("verify", path)
    assert res.returncode == 0 and "ok" in res.stdout
    res = _run("compact", path)
    assert res.returncode == 0 and "generation 2" in res.stdout, res.stderr
    data = bytearray(open(path, "rb").read())
    data[len(data) // 2] ^= 0xFF
    open(path, "wb").write(data)
    res = _run("verify", path)
    assert res.returncode == 1
    assert "damaged: offset" in res.stdout
    assert "Traceback" not in res.stderr


def test_errors_are_one_line_and_exit_1(tmp_path) -> None:
    res = _run("verify", str(tmp_path / "missing.log"))
    assert res.returncode == 1
    assert res.stderr.strip().count("\n") == 0 and "no streamvis log" in res.stderr
