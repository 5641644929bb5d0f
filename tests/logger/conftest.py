"""Fixtures for the logger tests: a real Store on tmp_path, readers, a fault-injecting sink."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from streamvis.errors import UnavailableError
from streamvis.storage import Store


@pytest.fixture
def log_path(tmp_path: Path) -> str:
    return str(tmp_path / "log.svl")


def _read_points(path: str, scope: str) -> dict[tuple[str, int], dict[str, np.ndarray]]:
    """{(name, index): {column: values}} of a scope, read back from the store."""
    with Store.open(path, mode="r") as st:
        res = st.read(scope=scope)
    out: dict[tuple[str, int], dict[str, np.ndarray]] = {}
    for (_, name), table in res.tables.items():
        idx = table.column("index").to_numpy()
        for i in np.unique(idx):
            sel = idx == i
            out[(name, int(i))] = {
                c: table.column(c).to_numpy()[sel] for c in table.column_names if c != "index"
            }
    return out


class FlakySink:
    """A real Store that refuses the next ``fail`` appends (as a server that is down).

    Counts attempts and remembers the (writer_id, seq) of every attempt.
    """

    def __init__(self, path: str, fail: int = 0) -> None:
        self.store = Store.open(path, mode="a")
        self.fail = fail
        self.lose_replies = 0
        self.attempts: list[tuple[bytes, int]] = []
        self.stored: list[tuple[bytes, int, bool]] = []
        self.lock = threading.Lock()
        self.appended = threading.Event()

    def append(self, items: Sequence[Any], *, writer_id: bytes, seq: int) -> Any:
        with self.lock:
            self.attempts.append((writer_id, seq))
            if self.fail > 0:
                self.fail -= 1
                raise UnavailableError("injected: server down")
            res = self.store.append(items, writer_id=writer_id, seq=seq)
            if self.lose_replies > 0:  # stored, but the caller never hears it
                self.lose_replies -= 1
                self.stored.append((writer_id, seq, res.duplicate))
                raise UnavailableError("injected: reply lost")
        self.stored.append((writer_id, seq, res.duplicate))
        self.appended.set()
        return res

    def schemas(self, scope: str) -> Any:
        return self.store.schemas(scope)

    def close(self) -> None:
        self.store.close()


@pytest.fixture
def read_points() -> Any:
    """``read_points(path, scope)`` -> {(name, index): {column: values}}."""
    return _read_points


@pytest.fixture
def flaky(log_path: str) -> Iterator[FlakySink]:
    """A FlakySink over a Store at ``log_path`` (set ``.fail`` to inject failures)."""
    sink = FlakySink(log_path)
    yield sink
    try:
        sink.store.close()
    except Exception:
        pass


@pytest.fixture
def wait_for() -> Any:
    """``wait_for(predicate, timeout)``: poll a condition (never a bare sleep)."""
    import time

    def wait(pred: Any, timeout: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            v = pred()
            if v:
                return v
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met within {timeout} s")
            time.sleep(0.005)

    return wait
