"""What every command does with a path that is not a log: nothing there (creates
nothing, "no streamvis log at PATH"), an empty file (an empty log), a directory (one
line; a TensorBoard log directory gets the import command), and ``delete``'s summary
and question. Commands run as the real ``streamvis`` program in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from streamvis.errors import ForeignFileError, LogNotFoundError, StreamvisError
from streamvis.logger import DataLogger
from streamvis.source import LocalSource
from streamvis.storage import Points, Store
from streamvis.storage.verify import verify
from streamvis.web.schema import demo_schema_path
from tests.helpers import spawn
from tests.server.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 60

# every command that reads a log: (args before the path, args after it)
READERS: list[tuple[list[str], list[str]]] = [
    (["scopes"], []),
    (["names"], ["run"]),
    (["configs"], []),
    (["tail"], ["--count", "1"]),
    (["export"], ["--to", "OUT"]),
    (["verify"], []),
    (["compact"], []),
    (["delete"], ["run", "--yes"]),
    (["delete"], ["run", "loss", "--yes"]),
]


def _streamvis(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "streamvis.cli", *args],
        capture_output=True, text=True, timeout=TIMEOUT, cwd=cwd, env=env,
    )


def _one_error_line(proc: subprocess.CompletedProcess[str], *must: str) -> str:
    assert proc.returncode == 1, (proc.args, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    for text in must:
        assert text in lines[0], lines[0]
    return lines[0]


def _fill(path: str) -> None:
    with Store.open(path, "a") as s:
        s.append([Points("run", "loss", 0, {"x": np.arange(5), "y": np.ones(5)}),
                  Points("run", "acc", 0, {"x": np.arange(2), "y": np.ones(2)}),
                  Points("other", "loss", 0, {"x": np.arange(3), "y": np.ones(3)})])


def _args(before: list[str], path: str, after: list[str], out: Path) -> list[str]:
    return [*before, path, *(str(out) if a == "OUT" else a for a in after)]


# -- 11: a path with no log ------------------------------------------------------------------


@pytest.mark.parametrize(("before", "after"), READERS, ids=[" ".join(a + b) for a, b in READERS])
def test_no_log_creates_nothing(tmp_path: Path, before: list[str], after: list[str]) -> None:
    proc = _streamvis(*_args(before, "nonexistent.svl", after, tmp_path / "out"), cwd=tmp_path)
    _one_error_line(proc, f"no streamvis log at {tmp_path / 'nonexistent.svl'}")
    assert sorted(os.listdir(tmp_path)) == []  # no log, no .lock, no .idx, no export


def test_delete_with_swapped_arguments_creates_nothing(tmp_path: Path) -> None:
    _fill(str(tmp_path / "runs.svl"))
    before = sorted(os.listdir(tmp_path))
    proc = _streamvis("delete", "run", "runs.svl", "--yes", cwd=tmp_path)
    _one_error_line(proc, f"no streamvis log at {tmp_path / 'run'}")
    assert sorted(os.listdir(tmp_path)) == before
    with pytest.raises(LogNotFoundError):
        Store.open(str(tmp_path / "missing.svl"))
    assert sorted(os.listdir(tmp_path)) == before


def test_delete_says_what_and_asks(tmp_path: Path) -> None:
    path = str(tmp_path / "runs.svl")
    _fill(path)
    # no terminal, no --yes: refused, in one line that says what and how
    err = _one_error_line(_streamvis("delete", path, "run", cwd=tmp_path), "--yes")
    assert "scope 'run': 2 name(s) (loss, acc), 7 points" in err
    err = _one_error_line(_streamvis("delete", path, "run", "acc", cwd=tmp_path), "--yes")
    assert "run/acc: 2 points in 1 index(es)" in err
    with Store.open(path) as s:
        assert s.scopes() == ["run", "other"] and s.names("run") == ["loss", "acc"]
    # on a terminal it asks: "n" keeps, "y" deletes
    for answer, kept in (("n", True), ("y", False)):
        out = _on_a_terminal(["delete", path, "run", "acc"], answer, tmp_path)
        assert "delete run/acc: 2 points in 1 index(es)? [y/N]" in out, out
        assert ("nothing deleted" in out) is kept, out
        with Store.open(path) as s:
            assert ("acc" in s.names("run")) is kept
    ok = _streamvis("delete", path, "other", "--yes", cwd=tmp_path)
    assert ok.returncode == 0 and ok.stdout == "deleted other\n", ok.stderr
    with Store.open(path) as s:
        assert s.scopes() == ["run"]


def _on_a_terminal(args: list[str], answer: str, cwd: Path) -> str:
    """Run streamvis with a pseudo-terminal as stdin/stdout; answer its question."""
    import pty
    import select

    master, slave = pty.openpty()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = spawn([sys.executable, "-m", "streamvis.cli", *args], stdin=slave, stdout=slave,
                 stderr=slave, cwd=cwd, env=env)
    os.close(slave)
    out = b""
    try:
        answered = False
        while True:
            ready, _, _ = select.select([master], [], [], TIMEOUT)
            assert ready, f"no output within {TIMEOUT} s: {out!r}"
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
            if not answered and b"[y/N]" in out:
                os.write(master, answer.encode() + b"\n")
                answered = True
        assert proc.wait(TIMEOUT) == 0, out
    finally:
        os.close(master)
    return out.decode()


# -- 12: an empty file is an empty log -----------------------------------------------------


def test_an_empty_file_is_an_empty_log(tmp_path: Path) -> None:
    path = tmp_path / "empty.svl"
    path.touch()
    for args in (["scopes", str(path)], ["configs", str(path)], ["verify", str(path)]):
        proc = _streamvis(*args, cwd=tmp_path)
        assert proc.returncode == 0 and "Error" not in proc.stderr, (args, proc.stderr)
    assert os.path.getsize(path) == 0  # readers write nothing
    reader = LocalSource.open(str(path))
    try:
        assert reader.scopes() == [] and reader.groups() == []
        cursor = reader.cursor()
        assert reader.fetch(since=cursor).tables == {}
        assert verify(str(path)).ok
        with DataLogger("run").init(path=str(path), flush_every=3600) as lg:  # the first writer
            lg.write("loss", x=1, y=2.0)
        assert reader.scopes() == ["run"]  # the reader follows the header the writer wrote
        got = reader.fetch(since=cursor).tables  # and its cursor reads on from the start
        assert got[("run", "loss")].column("y").to_pylist() == [2.0]
    finally:
        reader.close()
    empty2 = tmp_path / "empty2.svl"
    empty2.touch()
    with Store.open(str(empty2), "a") as s:
        s.append([Points("a", "b", 0, {"y": np.ones(2)})])
    with Store.open(str(empty2)) as s:
        assert s.scopes() == ["a"]


# -- 13: directories, and TensorBoard log directories ---------------------------------------


@pytest.mark.parametrize("where", ["log", "idx", "lock"])
def test_a_directory_at_a_path_is_one_line(tmp_path: Path, where: str) -> None:
    log = tmp_path / "runs.svl"
    if where != "log":
        _fill(str(log))
    target = log if where == "log" else Path(f"{log}.{where}")
    if target.exists():
        target.unlink()  # the index or lock the fill left
    target.mkdir()
    want = "is a directory" if where == "log" else "is a directory where streamvis keeps the log's"
    for mode in ("r", "a"):
        with pytest.raises(ForeignFileError, match=want):
            Store.open(str(log), mode)
    with pytest.raises(StreamvisError, match=want):
        DataLogger("run").init(path=str(log))
    for before, after in READERS[:6]:
        if before == ["verify"] and where != "log":
            continue  # verify reads the log alone
        _one_error_line(_streamvis(*_args(before, str(log), after, tmp_path / "o"), cwd=tmp_path),
                        want, str(target))


@pytest.fixture
def tb_dir(tmp_path: Path) -> Path:
    tb = tmp_path / "tb_logs"
    (tb / "run1" / "train").mkdir(parents=True)
    (tb / "run1" / "train" / "events.out.tfevents.1700000000.host.1.v2").write_bytes(b"\0" * 16)
    return tb


TB_TEXT = "this is a TensorBoard log directory: import it with `streamvis import-tb"


def test_a_tensorboard_directory_says_how_to_import_it(tmp_path: Path, tb_dir: Path) -> None:
    with pytest.raises(ForeignFileError, match=TB_TEXT):
        Store.open(str(tb_dir))
    for before, after in READERS[:7]:
        _one_error_line(_streamvis(*_args(before, str(tb_dir), after, tmp_path / "o"), cwd=tmp_path),
                        TB_TEXT, f"import-tb {tb_dir} LOG")
    event = next(tb_dir.rglob("events.out.tfevents.*"))
    _one_error_line(_streamvis("scopes", str(event), cwd=tmp_path),
                    "is a TensorBoard event file", f"import-tb {event.parent} LOG")
    assert sorted(p.name for p in tb_dir.rglob("*")) == [event.name, "run1", "train"]


def test_web_serve_on_a_tensorboard_directory(tmp_path: Path, tb_dir: Path) -> None:
    proc = _streamvis("web-serve", f"127.0.0.1:{free_port()}", str(tb_dir), demo_schema_path(),
                      cwd=tmp_path)
    _one_error_line(proc, TB_TEXT)
    proc = _streamvis("grpc-serve", str(tb_dir), str(free_port()), cwd=tmp_path)
    _one_error_line(proc, TB_TEXT)
