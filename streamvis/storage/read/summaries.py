"""Summaries of one run's name: min, max, first, last, mean, count, argmin, argmax.

Computed from the log over every point (nothing extra is stored) and kept current
as points arrive: ``Summary.update`` folds in a batch of new points, so a page that
follows a log pays for the new points only, never for the whole log again.

Definitions (over every index of the name):
- ``count``: points logged. ``first``/``last``: the value at the smallest / largest x
  (among equal x, the first / last logged), NaN included: a run that diverged has a
  NaN ``last``.
- ``min``, ``max``, ``mean``: over the values that are not NaN (NaN when none is).
- ``argmin``, ``argmax``: the x (the step) of the min / max (the first such point).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from streamvis.errors import InvalidArgumentError
from streamvis.storage.read.run_groups import flatten_config

__all__ = ["STATS", "Summary", "check_stats", "runs_table"]

STATS = ("min", "max", "first", "last", "mean", "count", "argmin", "argmax")


def check_stats(stats: tuple[str, ...] | list[str]) -> None:
    """InvalidArgumentError naming a stat that is not one of ``STATS``."""
    for s in stats:
        if s not in STATS:
            raise InvalidArgumentError(f"unknown stat {s!r}: expected one of {', '.join(STATS)}")


@dataclass
class Summary:
    """The running summary of one (run, name)."""

    count: int = 0
    valid: int = 0  # values that are not NaN
    total: float = 0.0
    min: float = math.nan
    max: float = math.nan
    argmin: float = math.nan
    argmax: float = math.nan
    first_x: float = math.inf
    first: float = math.nan
    last_x: float = -math.inf
    last: float = math.nan

    def update(self, x: np.ndarray, y: np.ndarray) -> None:
        """Fold in points (in the order they were logged)."""
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if x.size == 0:
            return
        self.count += int(x.size)
        i = int(np.argmin(x))  # first occurrence of the smallest x
        if x[i] < self.first_x:
            self.first_x, self.first = float(x[i]), float(y[i])
        j = int(x.size - 1 - np.argmax(x[::-1]))  # last occurrence of the largest x
        if x[j] >= self.last_x:
            self.last_x, self.last = float(x[j]), float(y[j])
        ok = ~np.isnan(y)
        if not ok.any():
            return
        xv, yv = x[ok], y[ok]
        self.valid += int(yv.size)
        self.total += float(yv.sum())
        k = int(np.argmin(yv))
        if not (yv[k] >= self.min):  # also when min is NaN (nothing yet)
            self.min, self.argmin = float(yv[k]), float(xv[k])
        k = int(np.argmax(yv))
        if not (yv[k] <= self.max):
            self.max, self.argmax = float(yv[k]), float(xv[k])

    def merge(self, other: Summary) -> None:
        """Fold in the summary of points logged after this one's."""
        if other.count == 0:
            return
        self.count += other.count
        if other.first_x < self.first_x:
            self.first_x, self.first = other.first_x, other.first
        if other.last_x >= self.last_x:
            self.last_x, self.last = other.last_x, other.last
        if other.valid:
            self.valid += other.valid
            self.total += other.total
            if not (other.min >= self.min):
                self.min, self.argmin = other.min, other.argmin
            if not (other.max <= self.max):
                self.max, self.argmax = other.max, other.argmax

    def stat(self, name: str) -> float:
        """One stat by name (``count`` as a float like the rest)."""
        if name == "count":
            return float(self.count)
        if name == "mean":
            return self.total / self.valid if self.valid else math.nan
        if name in ("first", "last") and self.count == 0:
            return math.nan
        if name not in STATS:
            check_stats([name])
        return float(getattr(self, name))


def runs_table(runs: Sequence[str], config_of: Callable[[str], Mapping[str, Any] | None],
               summaries: Mapping[tuple[str, str], Summary], names: Sequence[str],
               stats: Sequence[str]) -> pa.Table:
    """One row per run: ``scope``, its config flattened (``a.b``; a key whose values mix
    kinds as text), then ``NAME.STAT`` per name and stat (NaN where a run lacks NAME)."""
    flat = {s: flatten_config(config_of(s) or {}) for s in runs}
    keys = sorted({k for c in flat.values() for k in c})
    columns: dict[str, Any] = {"scope": pa.array(list(runs), pa.string())}
    for k in keys:
        values = [flat[s].get(k) for s in runs]
        try:
            columns[k] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            columns[k] = pa.array([None if v is None else str(v) for v in values], pa.string())
    empty = Summary()
    for name in names:
        for stat in stats:
            col = f"{name}.{stat}"
            if col in columns:
                raise InvalidArgumentError(
                    f"column {col!r} is both a config key and a summary: rename the config key")
            values = [summaries.get((s, name), empty).stat(stat) for s in runs]
            columns[col] = (pa.array([int(v or 0) for v in values], pa.int64()) if stat == "count"
                            else pa.array(values, pa.float64()))
    return pa.table(columns)
