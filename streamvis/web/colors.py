"""Glyph colours: a palette, a slot formula, and ordinals that never shift.

Each glyph (scope, name, index) gets a slot from its plot's formula; its colour is
``palette[slot % num_colors]``. The ``run`` formula (the default without a ``color``
section) gives every line of a run the run's colour, the same on every plot of a page
(``run_color``: a fixed palette of 20 colours far apart, then more chosen the same way),
and tells a run's several names or indices in one plot apart by ``variant``: a dash
pattern for lines, a lighter or darker shade for points.

Scopes and names are numbered in order of first appearance (``Ordinals``), so a group
that appears later never changes the colour of one already drawn. The ``key`` formula
(``color.key_fun``) gives the k-th key of a plot the palette position ``vdc(k)``.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import bokeh.palettes as bp
import numpy as np

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
    "RUN_PALETTE",
    "run_color",
    "variant",
    "shade",
    "DASHES",
]

FORMULAS = ("run", "name", "index", "name_index", "index_name", "scope", "scope_name", "key")
# the key formula (color.key_fun without a palette): a colour per key, spread over a
# continuous palette (its darkest and lightest ends left out)
DEFAULT_PALETTE = "Turbo256"
SPREAD = (0.08, 0.92)

# The run colours: Category10 (matplotlib's and TensorBoard's familiar first ten) without
# its grey (grey means "no value" under color_by), then eleven more picked, each the
# farthest (CIELAB) from those before among mid-light, moderately saturated colours.
# Any two of the 20 are at least 27 CIELAB units apart (Category10's purple and pink
# are the closest pair).
RUN_PALETTE: tuple[str, ...] = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#bcbd22", "#17becf", "#3c693c",
    "#966900", "#c3005a", "#ff8787", "#00c396", "#1e87ff",
    "#a5b469", "#d29669", "#963c69", "#5a7800", "#a5a5e1",
)
DASHES = ("solid", "dashed", "dotted", "dashdot")
SHADES = (0.0, 0.45, -0.35, 0.65, 0.25, -0.2)  # > 0: towards white, < 0: towards black


def _lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB 0..255 (rows) in CIELAB (D65)."""
    c = np.asarray(rgb, np.float64) / 255.0
    c = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    m = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz = c @ m.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)


def _hex(rgb: Any) -> str:
    r, g, b = (int(round(float(v))) for v in rgb)
    return f"#{r:02x}{g:02x}{b:02x}"


def _rgb(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


class _Extension:
    """Run colours past the palette: each the candidate farthest from every colour before
    (the same rule that picked the palette's last eleven), computed once, on demand."""

    def __init__(self) -> None:
        g = np.arange(0, 256, 15)
        cand = np.array(np.meshgrid(g, g, g)).reshape(3, -1).T
        lab = _lab(cand)
        chroma = np.hypot(lab[:, 1], lab[:, 2])
        keep = (lab[:, 0] >= 38) & (lab[:, 0] <= 72) & (chroma >= 30) & (chroma <= 70)
        self._cand, self._lab = cand[keep], lab[keep]
        chosen = _lab(np.array([_rgb(c) for c in RUN_PALETTE]))
        self._dmin = np.min(np.linalg.norm(self._lab[:, None] - chosen[None], axis=-1), axis=1)
        self.colors: list[str] = list(RUN_PALETTE)
        self._lock = threading.Lock()

    def get(self, k: int) -> str:
        with self._lock:
            while len(self.colors) <= k and float(self._dmin.max()) > 0:
                i = int(self._dmin.argmax())
                self.colors.append(_hex(self._cand[i]))
                self._dmin = np.minimum(self._dmin, np.linalg.norm(self._lab - self._lab[i], axis=1))
            return self.colors[k % len(self.colors)]


_extension: _Extension | None = None


def run_color(k: int) -> str:
    """The colour of the ``k``-th run of a page (it never depends on how many follow)."""
    global _extension
    if k < len(RUN_PALETTE):
        return RUN_PALETTE[k]
    if _extension is None:
        _extension = _Extension()
    return _extension.get(k)


@functools.lru_cache(maxsize=4096)
def shade(color: str, amount: float) -> str:
    """``color`` moved towards white (``amount`` > 0) or black (< 0) by ``|amount|``
    (a page styles every line of every plot with it: cached, and plain Python, which is
    ~10x quicker than numpy on three numbers)."""
    target = 255.0 if amount > 0 else 0.0
    return _hex(v + (target - v) * abs(amount) for v in _rgb(color))


def variant(color: str, k: int, *, dashes: bool) -> tuple[str, str]:
    """(colour, dash pattern) of the ``k``-th of a run's lines in one plot: the same hue,
    told apart by dash (``dashes``: a line plot) and then by shade."""
    if dashes:
        return shade(color, SHADES[(k // len(DASHES)) % len(SHADES)]), DASHES[k % len(DASHES)]
    return shade(color, SHADES[k % len(SHADES)]), "solid"


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
    if formula == "run":  # the page's run colours decide (PlotView asks RunColors)
        return scope_ord
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
