"""The legend's names for a plot's lines.

A line is ``(run, name, index)``; its hover and data label say all three
(``lines.group_label``). In the legend beside the data, what every line of the plot
shares is left out: a card of one name (the page of every name) lists its runs, not
``run · train/loss · 0`` for each, so the legend takes less of the card's width.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["legend_labels"]


def legend_labels(keys: Sequence[tuple[str, str, int]]) -> list[str]:
    """Each key's legend label: its run, then its name where the lines' names differ,
    then its index where any line's index is not 0."""
    names = len({k[1] for k in keys}) > 1
    indices = any(k[2] != 0 for k in keys)
    return [" · ".join([scope, *([name] if names else []), *([str(index)] if indices else [])])
            for scope, name, index in keys]
