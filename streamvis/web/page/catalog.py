"""The cards of the page of every logged name (no schema needed): which plot each name gets.

An image or text name (logged with ``write_image``/``write_text``) is a media card;
a name with columns ``x`` and ``y`` is a line plot; a name with more columns (a point
cloud ``x``, ``y`` and a step column ``t``) is a scatter with a slider over its last
column; a TensorBoard histogram ``tag:hist`` (``streamvis/tensorboard/naming.py``) is
one card titled ``tag`` that draws the histogram at a step (a slider over ``step``; its
buckets on 30 even bins, as TensorBoard draws it) and the lines ``tag:min``,
``tag:max``, ``tag:mean`` (which get no cards of their own).
Cards are grouped in sections by the part of the name before the first ``/``
(``train/``, ``val/``, ...; names without one are "the rest", last).

Pure: the names and their columns come from the page (``columns_of``); the plot specs
are ``PlotSpec`` s like a schema's, built from three templates.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import re2

from streamvis.columns import WALL_TIME_COLUMN

from ..plots.histogram_bins import EVEN_BINS
from ..schema import PlotSpec, parse_schema

__all__ = ["Card", "build_cards", "media_cards", "section_of", "specs_of", "REST", "HIST_SUFFIX",
           "HIST_STATS", "MEDIA_KINDS"]

HIST_SUFFIX = ":hist"  # as streamvis.tensorboard.naming writes them
HIST_STATS = ("min", "max", "mean")
HIST_COLUMNS = ("bucket", "count", "step")
REST = ""  # the section of names without a '/'
MEDIA_KINDS = ("image", "text")  # cards drawn by web/plots/media_card.py, not plot specs


@dataclass(frozen=True)
class Card:
    """One card: ``name`` the logged name it is keyed by, ``title`` what it is called."""

    name: str
    title: str
    section: str
    kind: str  # "line" | "scatter" | "hist" | "image" | "text"
    columns: tuple[str, ...] = ("x", "y")  # x, y[, filter]
    stats: tuple[str, ...] = ()  # hist: the names of its min/max/mean lines

    @property
    def names(self) -> tuple[str, ...]:
        """Every logged name this card draws."""
        return (self.name, *self.stats)


def section_of(name: str) -> str:
    """The section of a name: the part before its first ``/`` (REST without one)."""
    head, sep, _ = name.partition("/")
    return head if sep and head else REST


def _data_columns(columns: Iterable[str]) -> list[str]:
    return [c for c in columns if c != WALL_TIME_COLUMN]


def _card(name: str, columns: Sequence[str], stats: Sequence[str]) -> Card:
    cols = _data_columns(columns)
    if name.endswith(HIST_SUFFIX) and all(c in cols for c in HIST_COLUMNS):
        tag = name[: -len(HIST_SUFFIX)]
        return Card(name, tag, section_of(tag), "hist", HIST_COLUMNS, tuple(stats))
    if "x" in cols and "y" in cols:
        rest = [c for c in cols if c not in ("x", "y")]
        if not rest:
            return Card(name, name, section_of(name), "line")
        return Card(name, name, section_of(name), "scatter", ("x", "y", rest[-1]))
    if len(cols) >= 3:  # no x/y: the first two against each other, a slider over the last
        return Card(name, name, section_of(name), "scatter", (cols[0], cols[1], cols[-1]))
    if len(cols) == 2:
        return Card(name, name, section_of(name), "line", (cols[0], cols[1]))
    return Card(name, name, section_of(name), "line")  # not drawable: the plot says why


def build_cards(columns_of: Mapping[str, Sequence[str]]) -> list[Card]:
    """Cards for these names (in the mapping's order), sections in order of first
    appearance with REST last; a histogram's stat lines go into its card."""
    hists = {n[: -len(HIST_SUFFIX)] for n in columns_of if n.endswith(HIST_SUFFIX)}
    stat_of: dict[str, str] = {}  # a stat line's name -> its histogram's tag
    for n in columns_of:
        tag, _, stat = n.rpartition(":")
        if stat in HIST_STATS and tag in hists:
            stat_of[n] = tag
    cards = [
        _card(n, cols, [s for s in columns_of if stat_of.get(s) == n[: -len(HIST_SUFFIX)]]
              if n.endswith(HIST_SUFFIX) else ())
        for n, cols in columns_of.items()
        if n not in stat_of
    ]
    order = {s: i for i, s in enumerate(dict.fromkeys(c.section for c in cards))}
    return sorted(cards, key=lambda c: (c.section == REST, order[c.section]))


def media_cards(kinds: Mapping[str, str]) -> list[Card]:
    """Cards for image and text names (``{name: "image" | "text"}``, in order)."""
    return [Card(n, n, section_of(n), k, ()) for n, k in kinds.items() if k in MEDIA_KINDS]


@lru_cache(maxsize=1)
def _templates() -> dict[str, PlotSpec]:
    """Validated specs the cards' specs are copied from (one parse, one Bokeh check)."""
    schema = parse_schema({
        "line": {"columns": ["x", "y"], "glyph_kwargs": {"line_width": 1.5}},
        "scatter": {"glyph_kind": "scatter", "columns": ["x", "y", "t"],
                    "glyph_kwargs": {"size": 4, "alpha": 0.7}},
        "hist": {"columns": ["bucket", "count", "step"], "glyph_kwargs": {"line_width": 2},
                 "figure_kwargs": {"x_axis_label": "value", "y_axis_label": "count"}},
        "stats": {"columns": ["x", "y"], "glyph_kwargs": {"line_width": 1.5},
                  "figure_kwargs": {"x_axis_label": "step"}},
    }, source="<cards>")
    return dict(schema.plots)


# the page scrolls: the wheel scrolls it (a plot zooms by its tools: box, wheel once picked)
SCROLLS: dict[str, object] = {"active_scroll": None}


def _exact(names: Sequence[str]) -> str:
    return "^(?:" + "|".join(re2.escape(n) for n in names) + ")$"


def specs_of(card: Card, *, scrolls: bool = True) -> list[PlotSpec]:
    """The plot specs of a card: one, or (a histogram) the histogram and its stat lines.
    ``scrolls``: on a page that scrolls (the wheel scrolls it, not the plots)."""
    t = _templates()
    extra = SCROLLS if scrolls else {}
    if card.kind == "hist":
        hist = dataclasses.replace(
            t["hist"], name=f"{card.title} (histogram at a step)", name_pattern=_exact([card.name]),
            filter_title="step", title=card.title, figure_kwargs={**t["hist"].figure_kwargs, **extra},
            even_bins=EVEN_BINS,  # as TensorBoard draws it (plots/histogram_bins.py)
        )
        out = [hist]
        if card.stats:
            out.append(dataclasses.replace(
                t["stats"], name=f"{card.title} min, max, mean", name_pattern=_exact(card.stats),
                title=f"{card.title}: {', '.join(HIST_STATS)}", figure_kwargs={**t["stats"].figure_kwargs, **extra},
            ))
        return out
    base = t[card.kind]
    x, y, *f = card.columns
    spec = dataclasses.replace(
        base, name=card.title, name_pattern=_exact([card.name]), x=x, y=y,
        filter_column=f[0] if f else None, filter_title=f[0] if f else None, title=card.title,
        figure_kwargs={**base.figure_kwargs, **extra},
    )
    return [spec]
