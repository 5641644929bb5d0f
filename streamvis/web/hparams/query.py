"""The hyperparameter page's address: what ``/hparams?...`` asks for, and back.

Parameters::

    metric=NAME.STAT      the metric (required): a logged name and one of summaries.STATS
    where=COND,...        runs by config (``web/address/where.py``'s grammar); the metric's
                          column (``loss.min<0.2``) can be used as a key too
    scopes=REGEX          runs by scope
    color_by=KEY          colour by a config key (default: by the metric)
    range=KEY:lo:hi       a filter on one axis (repeatable; all must hold): numbers on a
                          numeric axis, the first and last category (in sorted order) on a
                          categorical one; KEY is split off at the last two ':'
    x=KEY                 the metric against KEY as a scatter instead of the coordinates
    group=KEY,... | -KEY  one polyline per group of runs (as on the plot page: the distinct
                          values of those config keys; ``-seed``: every key but seed), its
                          metric the ``agg=`` (mean, median, min, max; default mean) of its
                          runs' metrics; the axes are the grouping keys and the metric
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

from streamvis.errors import InvalidArgumentError
from streamvis.storage.read.aggregates import AGGS
from streamvis.storage.read.run_groups import GroupSpec, parse_group
from streamvis.storage.read.summaries import STATS, check_stats

from ..address.where import Condition, parse_where
from ..schema import check_regex

__all__ = ["HPARAMS_PARAMS", "HparamsQuery", "RangeFilter", "format_range", "parse_hparams",
           "parse_range", "range_query"]

HPARAMS_PARAMS = ("metric", "where", "scopes", "color_by", "range", "x", "group", "agg")


class HparamsError(InvalidArgumentError):
    """A malformed parameter of the hyperparameter page (the message names it)."""


@dataclass(frozen=True)
class RangeFilter:
    """``range=KEY:lo:hi``: ``lo`` and ``hi`` as written (numbers or category texts)."""

    key: str
    lo: str
    hi: str

    def numbers(self) -> tuple[float, float] | None:
        """(lo, hi) as numbers, or None when either is not one."""
        try:
            lo, hi = float(self.lo), float(self.hi)
        except ValueError:
            return None
        return (lo, hi) if math.isfinite(lo) and math.isfinite(hi) else None


@dataclass(frozen=True)
class HparamsQuery:
    """The parsed address; ``args`` are the request's arguments (to rewrite ``range=``)."""

    name: str
    stat: str
    where: tuple[Condition, ...] = ()
    scopes: str | None = None
    color_by: str | None = None
    ranges: tuple[RangeFilter, ...] = ()
    x: str | None = None
    args: Mapping[str, Sequence[str]] = field(default_factory=dict)
    group: GroupSpec | None = None  # None: one polyline per run
    agg: str = "mean"  # a group's metric from its runs' (group= only)

    @property
    def metric(self) -> str:
        """The metric's column, ``NAME.STAT``."""
        return f"{self.name}.{self.stat}"


def _one(args: Mapping[str, Sequence[str]], key: str) -> str | None:
    values = args.get(key)
    if not values:
        return None
    if len(values) > 1:
        raise HparamsError(f"{key!r} is given {len(values)} times; give it once")
    return values[0]


def parse_range(text: str) -> RangeFilter:
    """``KEY:lo:hi``; HparamsError naming the bad value."""
    parts = text.rsplit(":", 2)
    if len(parts) != 3 or not all(p.strip() for p in parts):
        raise HparamsError(f"range={text!r}: expected KEY:lo:hi, e.g. range=lr:1e-4:1e-2")
    key, lo, hi = (p.strip() for p in parts)
    r = RangeFilter(key, lo, hi)
    nums = r.numbers()
    if nums is not None and nums[0] > nums[1]:
        raise HparamsError(f"range={text!r}: lo {lo} is above hi {hi}")
    return r


def parse_hparams(args: Mapping[str, Sequence[str]]) -> HparamsQuery:
    """The page's query arguments, parsed; HparamsError (or the stat's InvalidArgumentError)
    naming the first bad one and what is allowed."""
    unknown = [k for k in args if k not in HPARAMS_PARAMS and not k.startswith("bokeh-")]
    if unknown:
        raise HparamsError(f"unknown parameter {unknown[0]!r} of /hparams; allowed: "
                           f"{', '.join(HPARAMS_PARAMS)}")
    metric = _one(args, "metric")
    if metric is None or not metric.strip():
        raise HparamsError("/hparams needs metric=NAME.STAT, e.g. metric=loss.min; "
                           f"STAT is one of {', '.join(STATS)}")
    name, dot, stat = metric.strip().rpartition(".")
    if not dot or not name:
        raise HparamsError(f"metric={metric!r}: expected NAME.STAT, e.g. metric=loss.min; "
                           f"STAT is one of {', '.join(STATS)}")
    check_stats([stat])  # "unknown stat 'x': expected one of min, max, ..."
    where_text = _one(args, "where")
    where = tuple(parse_where(where_text)) if where_text is not None else ()
    scopes = _one(args, "scopes")
    if scopes is not None:
        check_regex(scopes, "scopes")
    color_by = _one(args, "color_by")
    if color_by is not None and not color_by.strip():
        raise HparamsError("'color_by=' needs a config key, e.g. color_by=opt")
    x = _one(args, "x")
    if x is not None and not x.strip():
        raise HparamsError("'x=' needs a config key, e.g. x=lr")
    ranges = tuple(parse_range(t) for t in args.get("range", ()))
    keys = [r.key for r in ranges]
    dup = next((k for k in keys if keys.count(k) > 1), None)
    if dup is not None:
        raise HparamsError(f"range= names {dup!r} twice; give one range per key")
    group_text = _one(args, "group")
    group = parse_group(group_text) if group_text is not None else None
    if group is not None and group.per_run:
        raise HparamsError(f"group={group_text!r}: /hparams draws each run without group=")
    agg = (_one(args, "agg") or "mean").strip()
    if agg not in AGGS:
        raise HparamsError(f"agg={agg!r} is not one of {', '.join(AGGS)}")
    if group is None and "agg" in args:
        raise HparamsError("agg= applies to groups: give group= too, e.g. group=-seed&agg=median")
    return HparamsQuery(name, stat, where, scopes or None,
                        color_by.strip() if color_by else None, ranges,
                        x.strip() if x else None, dict(args), group, agg)


def format_range(r: RangeFilter) -> str:
    """``KEY:lo:hi``, as ``parse_range`` reads it."""
    return f"{r.key}:{r.lo}:{r.hi}"


def range_query(args: Mapping[str, Sequence[str]], ranges: Sequence[RangeFilter]) -> str:
    """``?...``: the page's arguments with ``range=`` replaced by ``ranges``."""
    pairs = [(k, v) for k, vs in args.items() if k != "range" and not k.startswith("bokeh-")
             for v in vs]
    pairs += [("range", format_range(r)) for r in ranges]
    return "?" + urlencode(pairs, quote_via=quote, safe=",;<>=!~/:*")
