"""Glyph colours: a palette, a slot formula, and ordinals that never shift.

Each glyph (scope, name, index) gets a slot from its plot's formula; its colour is
``palette[slot % num_colors]``. Scopes and names are numbered in order of first
appearance (``Ordinals``), so a group that appears later never changes the colour
of one already drawn. The ``key`` formula (the default without a ``color`` section)
gives the k-th (scope, name, index) of a plot the palette position ``vdc(k)``.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import bokeh.palettes as bp

from streamvis.errors import InvalidArgumentError

__all__ = [
    "FORMULAS",
    "ColorSpec",
    "Ordinals",
    "resolve_palette",
    "palette_families",
    "slot_for",
    "vdc",
    "DEFAULT_PALETTE",
]

FORMULAS = ("name", "index", "name_index", "index_name", "scope", "scope_name", "key")
# without a schema ``color`` section: a colour per (scope, name, index), spread over
# a continuous palette (its darkest and lightest ends left out)
DEFAULT_PALETTE = "Turbo256"
SPREAD = (0.08, 0.92)


def vdc(k: int) -> float:
    """The k-th van der Corput number in base 2 (0, 1/2, 1/4, 3/4, 1/8, ...): each new
    value falls in the largest gap left by the ones before, so neighbours differ most."""
    out, denom = 0.0, 1.0
    while k:
        denom *= 2
        k, bit = divmod(k, 2)
        out += bit / denom
    return out


def palette_families() -> list[str]:
    """Palette family names with their sizes, e.g. 'Viridis(3..256)', for messages."""
    out = []
    for fam, sizes in bp.all_palettes.items():
        ks = sorted(sizes)
        out.append(f"{fam}({ks[0]}..{ks[-1]})" if len(ks) > 1 else f"{fam}({ks[0]})")
    return out


def resolve_palette(name: Any) -> tuple[str, ...]:
    """The colours of a Bokeh palette by name ('Viridis10', 'Category10_10', 'Viridis')."""
    if isinstance(name, str):
        if name in bp.__palettes__:
            pal = getattr(bp, name)
            if isinstance(pal, Sequence) and pal and all(isinstance(c, str) for c in pal):
                return tuple(pal)
        if name in bp.all_palettes:  # a family: its largest member
            sizes = bp.all_palettes[name]
            return tuple(sizes[max(sizes)])
    raise InvalidArgumentError(
        f"{name!r} is not a Bokeh palette; allowed: a palette name such as Viridis10 or "
        f"Category10_10, or a family: {', '.join(palette_families())}"
    )


def slot_for(
    formula: str,
    *,
    scope_ord: int,
    name_ord: int,
    index: int,
    num_groups: int = 1,
    num_indices: int = 1,
    key_ord: int = 0,
) -> int:
    """The colour slot of a glyph under ``formula`` (see the module doc)."""
    if formula == "name":
        return name_ord
    if formula == "index":
        return index
    if formula == "name_index":
        return name_ord * num_groups + index
    if formula == "index_name":
        return index * num_indices + name_ord
    if formula == "scope":
        return scope_ord
    if formula == "scope_name":
        return scope_ord * num_groups + name_ord
    if formula == "key":
        return key_ord
    raise InvalidArgumentError(
        f"unknown colour formula {formula!r}; allowed: {', '.join(FORMULAS)}"
    )


@dataclass(frozen=True)
class ColorSpec:
    """A plot's colour rule: ``colors`` has ``num_colors`` entries drawn from the palette."""

    palette_name: str
    colors: tuple[str, ...]
    formula: str
    num_groups: int
    num_indices: int

    @property
    def num_colors(self) -> int:
        return len(self.colors)

    @classmethod
    def build(
        cls,
        *,
        palette_name: str,
        palette: Sequence[str],
        num_colors: int,
        formula: str,
        num_groups: int = 1,
        num_indices: int = 1,
    ) -> ColorSpec:
        """Draw ``num_colors`` colours from ``palette`` (interpolated when sizes differ)."""
        if num_colors < 1:
            raise InvalidArgumentError(f"num_colors must be >= 1, got {num_colors}")
        if formula not in FORMULAS:
            raise InvalidArgumentError(
                f"unknown formula {formula!r}; allowed: {', '.join(FORMULAS)}"
            )
        if num_colors == len(palette):
            colors = tuple(palette)
        elif len(palette) == 1:
            colors = tuple(palette) * num_colors
        else:
            colors = tuple(bp.interp_palette(tuple(palette), num_colors))
        return cls(palette_name, colors, formula, num_groups, num_indices)

    def color(self, scope_ord: int, name_ord: int, index: int, key_ord: int = 0) -> str:
        """The colour of a glyph given its scope and name ordinals, its index and (for the
        ``key`` formula) the order in which its (scope, name, index) first appeared."""
        if self.formula == "key":
            lo, hi = SPREAD
            pos = lo + vdc(key_ord) * (hi - lo)
            return self.colors[min(len(self.colors) - 1, int(pos * len(self.colors)))]
        slot = slot_for(
            self.formula,
            scope_ord=scope_ord,
            name_ord=name_ord,
            index=index,
            num_groups=self.num_groups,
            num_indices=self.num_indices,
        )
        return self.colors[slot % len(self.colors)]


class Ordinals:
    """Numbers keys 0, 1, 2, ... in order of first appearance; a key keeps its number."""

    def __init__(self) -> None:
        self._ords: dict[Hashable, int] = {}

    def __call__(self, key: Hashable) -> int:
        """The ordinal of ``key``, assigning the next one on first sight."""
        n = self._ords.get(key)
        if n is None:
            n = self._ords[key] = len(self._ords)
        return n

    def __len__(self) -> int:
        return len(self._ords)
