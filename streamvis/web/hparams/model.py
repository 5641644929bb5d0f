"""The page's data, without Bokeh: runs, axes, filters, colours.

- ``collect``: one ``Run`` per run that logged the metric's name (and passes ``where=``):
  its scope, flattened config and metric value (from a ``SummaryBook``).
- ``Axis``: a column of the parallel coordinates, at x = its position. Numeric when every
  value is a number (log where the positive values span two decades or more); otherwise
  categorical over the values' texts in sorted order. ``position`` maps a value onto
  [0, 1] (NaN where the run has none: its polyline breaks there).
- ``Filter``: a ``range=`` resolved against an axis; a run passes when every filter holds.
- ``group_rows``: ``group=``'s rows, one per group of runs, in the shape of a ``Run`` (its
  label, the grouping keys' values, the ``agg=`` of its runs' metrics), so that axes,
  filters, colours, the table and the CSV work on groups as they do on runs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import bokeh.palettes as bp
import numpy as np

from streamvis.run_analysis import SummaryBook
from streamvis.storage.read.run_groups import GroupSpec, group_label, group_order, group_runs

from ..address.where import Condition, config_of, flatten, value_text
from ..plots.color_by import MISSING_COLOR, ColorBy
from .query import RangeFilter

__all__ = ["Axis", "Filter", "Run", "build_axes", "collect", "group_rows", "resolve_filters",
           "run_colors"]

MAX_CATEGORIES = 50  # a string key with more distinct values (ids, paths) gets no axis
MAX_AXES = 24  # config axes drawn at most (every key is in the table and the CSV)
LOG_SPAN = 100.0  # positive values over two decades or more: a log axis


_NUMBER_TYPES = frozenset((int, float))


def is_number(v: Any) -> bool:
    """A finite int or float (a bool is not a number here)."""
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def numbers(values: Sequence[Any]) -> np.ndarray | None:
    """``values`` as float64 (None and non-finite as NaN), or None when one of them is
    not a number (a string, a bool, a list)."""
    types = _NUMBER_TYPES
    if not all(type(v) in types or v is None for v in values):
        return None
    out = np.array(values, dtype=np.float64).reshape(len(values))  # None -> NaN
    out[~np.isfinite(out)] = np.nan
    return out


@dataclass
class Run:
    """One run: its scope, flattened config and the metric's value (NaN if none)."""

    scope: str
    config: dict[str, Any]
    metric: float

    def value(self, key: str, metric_key: str) -> Any:
        """The run's value at ``key`` (the metric's column wins over a config key)."""
        if key == metric_key:
            return None if math.isnan(self.metric) else self.metric
        return self.config.get(key)


def collect(book: SummaryBook, configs: Mapping[str, Mapping[str, Any]], name: str, stat: str,
            where: Sequence[Condition] = (),
            flat_cache: dict[str, tuple[Mapping[str, Any], dict[str, Any]]] | None = None) -> list[Run]:
    """The runs that logged ``name`` (and satisfy ``where``: the metric's column is a key
    too), in scope order. ``flat_cache`` keeps each scope's flattened config while its
    config is unchanged (a poll re-flattens only configs written again)."""
    metric_key = f"{name}.{stat}"
    cache = flat_cache if flat_cache is not None else {}
    out = []
    for scope in sorted({s for s, n in book.summaries if n == name}):
        cfg = config_of(scope, configs)
        hit = cache.get(scope)
        if hit is not None and hit[0] == cfg:
            flat = hit[1]
        else:
            flat = flatten(cfg) if cfg else {}
            cache[scope] = (cfg or {}, flat)
        m = book.stat(scope, name, stat)
        if where:
            metric = {metric_key: None if math.isnan(m) else m}  # (config:KEY reaches the config)
            if not all(c.holds(flat, metric) for c in where):
                continue
        out.append(Run(scope, flat, m))
    return out


_AGG_FNS: dict[str, Callable[[np.ndarray], Any]] = {
    "mean": np.mean, "median": np.median, "min": np.min, "max": np.max}


def group_rows(runs: Sequence[Run], spec: GroupSpec, agg: str) -> tuple[list[Run], list[str]]:
    """One row per group of ``runs`` (``group=``), in the groups' value order: its scope
    is the group's label with its run count, its config the grouping keys' values (of its
    first run: equal in all), its metric the ``agg`` of its runs' metrics where they have
    one (NaN where none has). Also the grouping's notes (which keys grouped)."""
    by_scope = {r.scope: r for r in runs}
    grouping = group_runs({r.scope: r.config for r in runs}, spec)
    out = []
    for values, scopes in sorted(grouping.groups.items(), key=lambda kv: group_order(kv[0])):
        first = by_scope[scopes[0]].config
        metrics = np.array([by_scope[s].metric for s in scopes], dtype=np.float64)
        metrics = metrics[~np.isnan(metrics)]
        metric = float(_AGG_FNS[agg](metrics)) if metrics.size else math.nan
        label = f"{group_label(grouping.keys, values)} ({len(scopes)} run{'s' if len(scopes) != 1 else ''})"
        out.append(Run(label, {k: first.get(k) for k in grouping.keys}, metric))
    return out, list(grouping.notes)


@dataclass
class Axis:
    """One column: ``numeric`` (``lo``..``hi``, ``log``) or categorical (``categories``)."""

    key: str
    numeric: bool
    lo: float = math.nan
    hi: float = math.nan
    log: bool = False
    categories: tuple[str, ...] = ()
    index: dict[str, int] = field(default_factory=dict)

    def position(self, v: Any) -> float:
        """``v`` on [0, 1] along this axis; NaN for no value (or one that does not fit)."""
        if v is None:
            return math.nan
        if not self.numeric:
            k = self.index.get(value_text(v))
            if k is None:
                return math.nan
            return 0.5 if len(self.categories) == 1 else k / (len(self.categories) - 1)
        if not is_number(v):
            return math.nan
        x = float(v)
        if self.log:
            if x <= 0:
                return math.nan
            lo, hi, x = math.log10(self.lo), math.log10(self.hi), math.log10(x)
        else:
            lo, hi = self.lo, self.hi
        return 0.5 if hi <= lo else (x - lo) / (hi - lo)

    def positions(self, values: Sequence[Any]) -> np.ndarray:
        """``position`` of each value, at once."""
        if not self.numeric:
            idx, n = self.index, len(self.categories)
            k = np.array([math.nan if v is None else idx.get(v if type(v) is str else value_text(v), math.nan)
                          for v in values], dtype=np.float64).reshape(len(values))
            return np.where(np.isnan(k), np.nan, 0.5) if n == 1 else k / (n - 1)
        x = numbers(values)
        if x is None:
            return np.array([self.position(v) for v in values], dtype=np.float64).reshape(len(values))
        lo, hi = self.lo, self.hi
        if self.log:
            with np.errstate(divide="ignore", invalid="ignore"):
                x = np.where(x > 0, np.log10(np.where(x > 0, x, 1.0)), np.nan)
            lo, hi = math.log10(lo), math.log10(hi)
        if not hi > lo:
            return np.where(np.isnan(x), np.nan, 0.5)
        return (x - lo) / (hi - lo)

    def value_at(self, y: float) -> float:
        """The number at position ``y`` of a numeric axis."""
        if self.hi <= self.lo:
            return self.lo
        if self.log:
            lo, hi = math.log10(self.lo), math.log10(self.hi)
            return float(10 ** (lo + y * (hi - lo)))
        return self.lo + y * (self.hi - self.lo)

    def ticks(self, most: int = 12) -> list[tuple[float, str]]:
        """(position, label) pairs to write beside the axis."""
        if not self.numeric:
            step = max(1, math.ceil(len(self.categories) / most))
            return [(self.position(c), c) for c in self.categories[::step]]
        if math.isnan(self.lo):
            return []
        if self.hi <= self.lo:
            return [(0.5, f"{self.lo:.4g}")]
        if self.log:
            d0, d1 = math.ceil(math.log10(self.lo) - 1e-9), math.floor(math.log10(self.hi) + 1e-9)
            step = max(1, math.ceil((d1 - d0 + 1) / most))
            return [(self.position(10.0 ** d), f"1e{d}") for d in range(d0, d1 + 1, step)]
        return [(p, f"{self.value_at(p):.4g}") for p in (0.0, 0.25, 0.5, 0.75, 1.0)]


def _axis(key: str, values: list[Any]) -> Axis:
    nums = numbers(values)
    if nums is not None and not np.isnan(nums).all():
        lo, hi = float(np.nanmin(nums)), float(np.nanmax(nums))
        return Axis(key, True, lo, hi, log=lo > 0 and hi >= LOG_SPAN * lo)
    cats = tuple(sorted({v if type(v) is str else value_text(v) for v in values if v is not None}))
    return Axis(key, False, categories=cats, index={c: i for i, c in enumerate(cats)})


def build_axes(runs: Sequence[Run], metric_key: str) -> tuple[list[Axis], dict[str, Axis], list[str]]:
    """(the drawn axes, config keys first and the metric last; every column's axis by key;
    notes on the keys left out)."""
    keys = sorted({k for r in runs for k in r.config if k != metric_key})
    every: dict[str, Axis] = {}
    drawn, constant, many = [], [], []
    for k in keys:
        values = [r.config.get(k) for r in runs]
        ax = every[k] = _axis(k, values)
        distinct = len(ax.categories) if not ax.numeric else (2 if ax.hi > ax.lo else 1)
        if distinct <= 1 and None not in values:
            constant.append(k)
        elif not ax.numeric and len(ax.categories) > MAX_CATEGORIES:
            many.append(k)
        else:
            drawn.append(ax)
    notes = []
    if constant:
        notes.append(f"the same in every run (no axis): {', '.join(constant)}")
    if many:
        notes.append(f"more than {MAX_CATEGORIES} distinct values (no axis): {', '.join(many)}")
    if len(drawn) > MAX_AXES:
        notes.append(f"{len(drawn)} varying keys: the first {MAX_AXES} drawn; "
                     f"left out: {', '.join(a.key for a in drawn[MAX_AXES:])}")
        drawn = drawn[:MAX_AXES]
    every[metric_key] = _axis(metric_key, [r.value(metric_key, metric_key) for r in runs])
    every[metric_key].numeric = True  # a metric with no value yet is still a number axis
    return [*drawn, every[metric_key]], every, notes


@dataclass(frozen=True)
class Filter:
    """A ``range=`` on one column: numbers (``lo``, ``hi``) or category texts."""

    source: RangeFilter
    numeric: bool
    lo: Any
    hi: Any

    def holds(self, v: Any) -> bool:
        """Whether a run's value lies in the range (no value never does)."""
        if v is None:
            return False
        if self.numeric:
            return is_number(v) and self.lo <= float(v) <= self.hi
        return bool(self.lo <= value_text(v) <= self.hi)


def resolve_filters(ranges: Sequence[RangeFilter], every: Mapping[str, Axis]
                    ) -> tuple[list[Filter], list[str]]:
    """The ranges that apply, and one line for each that does not (unknown key, words on
    a numeric axis)."""
    out, notes = [], []
    for r in ranges:
        ax = every.get(r.key)
        if ax is None:
            notes.append(f"range={r.key}:{r.lo}:{r.hi}: no run has a column {r.key!r}; ignored")
        elif ax.numeric:
            nums = r.numbers()
            if nums is None:
                notes.append(f"range={r.key}:{r.lo}:{r.hi}: {r.key!r} is a number axis; "
                             "give numbers lo:hi; ignored")
            else:
                out.append(Filter(r, True, *nums))
        else:
            out.append(Filter(r, False, r.lo, r.hi))
    return out, notes


def passes(run: Run, filters: Sequence[Filter], metric_key: str) -> bool:
    """Whether ``run`` lies in every filter's range."""
    return all(f.holds(run.value(f.source.key, metric_key)) for f in filters)


def inside(runs: Sequence[Run], filters: Sequence[Filter], metric_key: str,
           cache: dict[str, np.ndarray]) -> np.ndarray:
    """The indices of the runs inside every filter (``passes``, a column at a time: a
    numeric range compares the column's numbers at once). ``cache`` keeps each key's
    numbers for the next filter."""
    keep = np.ones(len(runs), dtype=bool)
    for f in filters:
        key = f.source.key
        if f.numeric:
            col = cache.get(key)
            if col is None:
                values = [r.value(key, metric_key) for r in runs]
                nums = numbers(values)
                col = cache[key] = nums if nums is not None else np.array(
                    [float(v) if is_number(v) else np.nan for v in values], dtype=np.float64).reshape(len(runs))
            with np.errstate(invalid="ignore"):
                keep &= (col >= f.lo) & (col <= f.hi)
        else:
            keep &= np.array([f.holds(r.value(key, metric_key)) for r in runs], dtype=bool).reshape(len(runs))
    return np.flatnonzero(keep)


def run_colors(runs: Sequence[Run], metric_axis: Axis, color_by: str | None, metric_key: str
               ) -> list[str]:
    """A colour per run: by ``color_by``'s value (``plots.color_by``'s rules), else along
    the metric (Viridis; grey where a run has none)."""
    if color_by is not None and color_by != metric_key:
        cb = ColorBy(color_by)
        for r in runs:
            cb.observe(r.config.get(color_by))
        return [cb.color(r.config.get(color_by)) for r in runs]
    ramp = bp.Viridis256
    out = []
    for r in runs:
        p = metric_axis.position(r.value(metric_key, metric_key))
        out.append(MISSING_COLOR if math.isnan(p) else ramp[min(255, max(0, int(p * 255)))])
    return out


def axis_at(x0: float, x1: float, count: int) -> int | None:
    """The axis a box from ``x0`` to ``x1`` was drawn on (axis i sits at x = i): the one
    inside it nearest its centre, else the nearest within half a gap of the box."""
    lo, hi = min(x0, x1), max(x0, x1)
    mid = (lo + hi) / 2
    inside = [i for i in range(count) if lo <= i <= hi]
    if inside:
        return min(inside, key=lambda i: abs(i - mid))
    near = min(range(count), key=lambda i: abs(i - mid), default=None)
    return near if near is not None and abs(near - mid) <= 0.5 + (hi - lo) / 2 else None


def selection_range(axis: Axis, y0: float, y1: float) -> RangeFilter | None:
    """The ``range=`` for a box from ``y0`` to ``y1`` (axis positions) on ``axis``; None
    when it covers no category (or no height): the axis's filter is cleared."""
    lo, hi = max(0.0, min(y0, y1)), min(1.0, max(y0, y1))
    if hi - lo <= 1e-9:
        return None
    if not axis.numeric:
        cats = [c for c in axis.categories if lo - 1e-9 <= axis.position(c) <= hi + 1e-9]
        return RangeFilter(axis.key, cats[0], cats[-1]) if cats else None
    if math.isnan(axis.lo):
        return None
    a, b = axis.value_at(lo), axis.value_at(hi)
    if lo <= 0.0:
        a = axis.lo
    if hi >= 1.0:
        b = axis.hi
    return RangeFilter(axis.key, bound_text(a, down=True), bound_text(b, down=False))


def bound_text(v: float, *, down: bool) -> str:
    """``v`` in six significant digits, rounded outward (down for a lower bound), so that
    a run at the bound stays inside the range written into the address."""
    text = f"{v:.6g}"
    r = float(text)
    if (down and r > v) or (not down and r < v):
        step = 10.0 ** (math.floor(math.log10(abs(v))) - 5) if v != 0 else 0.0
        text = f"{(r - step if down else r + step):.6g}"
    return text
