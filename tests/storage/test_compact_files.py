"""Compaction and the file it replaces: the mode is kept, a symlink is written through
(its target replaced in the target's directory, the link kept), and a log that may
not be written is refused, in one line, untouched."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from streamvis.errors import StorageIOError
from streamvis.storage import Points, Store
from streamvis.storage.compaction import compact

ROOT = Path(__file__).resolve().parents[2]


def _fill(path: str) -> None:
    with Store.open(path, "a") as s:
        for i in range(3):
            s.append([Points("run", "loss", 0, {"x": np.arange(i * 5, i * 5 + 5), "y": np.ones(5)})])
        s.append([Points("gone", "loss", 0, {"x": np.arange(50), "y": np.ones(50)})])
        s.delete("gone")


def _points(path: str) -> list[int]:
    with Store.open(path) as s:
        return s.read("run", "loss").tables[("run", "loss")].column("x").to_pylist()


def _mode(path: str | Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o664])
def test_compaction_keeps_the_mode(tmp_path: Path, mode: int) -> None:
    path = str(tmp_path / "runs.svl")
    _fill(path)
    os.chmod(path, mode)
    ino = os.stat(path).st_ino
    stats = compact(path)
    assert os.stat(path).st_ino != ino and stats.generation == 2  # really replaced
    assert _mode(path) == mode
    assert _points(path) == list(range(15))


def test_compaction_refuses_a_read_only_log(tmp_path: Path) -> None:
    path = str(tmp_path / "runs.svl")
    _fill(path)
    os.chmod(path, 0o444)
    before = (os.stat(path).st_ino, Path(path).read_bytes())
    with pytest.raises(StorageIOError, match=r"cannot compact .*runs\.svl: it is read-only \(mode 0444\)"):
        compact(path)
    assert (os.stat(path).st_ino, Path(path).read_bytes()) == before and _mode(path) == 0o444
    assert not [p for p in os.listdir(tmp_path) if "compact" in p]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "streamvis.cli", "compact", path],
                          capture_output=True, text=True, timeout=60, env=env)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1, proc.stderr
    assert lines[0].startswith("Error: cannot compact") and path in lines[0], lines[0]
    assert (os.stat(path).st_ino, Path(path).read_bytes()) == before


def test_compaction_writes_through_a_symlink(tmp_path: Path) -> None:
    data, links = tmp_path / "data", tmp_path / "links"
    data.mkdir()
    links.mkdir()
    target, link = data / "runs.svl", links / "runs.svl"
    _fill(str(target))
    os.chmod(target, 0o600)
    link.symlink_to(target)
    size = os.path.getsize(target)
    stats = compact(str(link))
    assert link.is_symlink() and os.readlink(link) == str(target)  # the link is kept
    assert stats.generation == 2 and os.path.getsize(target) < size  # its target compacted
    assert _mode(target) == 0o600
    assert sorted(os.listdir(links)) == ["runs.svl"]  # nothing beside the link
    assert not [p for p in os.listdir(data) if "compact" in p]
    with Store.open(str(link), "a") as s:  # writes through the link reach the target
        s.append([Points("run", "loss", 0, {"x": np.array([99]), "y": np.ones(1)})])
    assert _points(str(target)) == [*range(15), 99]
    assert _points(str(link)) == [*range(15), 99]
    assert sorted(os.listdir(links)) == ["runs.svl"]  # lock and index live beside the target
