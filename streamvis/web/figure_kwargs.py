"""A schema's ``figure_kwargs``: figure properties, plus mappings for its sub-models.

The original streamvis's schemas style a figure's parts with nested mappings::

    figure_kwargs:
      title: {text: Loss, text_font_size: 24px}     # or a plain string: the title text
      xaxis: {axis_label: SGD Step, major_label_text_font_size: 24px}
      yaxis: {axis_label: Nats}
      legend: {location: top_right}

Keys that are not sub-models (``x_axis_label``, ``background_fill_color``, ...) go to
``bokeh.plotting.figure(...)``; each sub-model mapping is applied to that model after
the figure exists: ``title`` to the title, ``xaxis``/``yaxis`` to every x or y axis,
``xgrid``/``ygrid`` to every grid line of that dimension. ``legend`` is kept apart for
the Legend the plot builds. Pure Bokeh, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["SUBMODELS", "FigureKwargs", "split_figure_kwargs", "apply_submodels"]

# sub-model key -> what it is applied to (for messages and the docs)
SUBMODELS: dict[str, str] = {
    "title": "the title",
    "xaxis": "every x axis",
    "yaxis": "every y axis",
    "xgrid": "every x grid",
    "ygrid": "every y grid",
}


@dataclass(frozen=True)
class FigureKwargs:
    """``figure_kwargs`` split: for ``figure(...)``, the sub-models, the legend."""

    figure: dict[str, Any]
    submodels: dict[str, dict[str, Any]]
    legend: dict[str, Any]


def split_figure_kwargs(raw: Mapping[str, Any]) -> FigureKwargs:
    """Split ``figure_kwargs``; ValueError (naming the key) when a sub-model is not a mapping.

    ``title`` may be a string (the title text, passed to ``figure``) or a mapping.
    """
    figure: dict[str, Any] = {}
    submodels: dict[str, dict[str, Any]] = {}
    legend: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "legend":
            if value is not None and not isinstance(value, Mapping):
                raise ValueError(
                    f"'figure_kwargs.legend': a mapping of Legend properties is required, "
                    f"got {value!r}"
                )
            legend = dict(value or {})
        elif key == "title" and not isinstance(value, Mapping):
            figure[key] = value
        elif key in SUBMODELS:
            if value is not None and not isinstance(value, Mapping):
                raise ValueError(
                    f"'figure_kwargs.{key}': a mapping of properties of {SUBMODELS[key]} "
                    "is required, "
                    f"got {value!r}"
                )
            submodels[key] = dict(value or {})
        else:
            figure[key] = value
    return FigureKwargs(figure, submodels, legend)


def apply_submodels(fig: Any, submodels: Mapping[str, Mapping[str, Any]]) -> None:
    """Apply each sub-model mapping to that part of the Bokeh figure ``fig``.

    Call it right after ``figure(...)`` is built (and before the document is shown);
    ``title`` creates a Title when the figure has none. Bokeh raises (AttributeError,
    ValueError) on an unknown property or a bad value.
    """
    for key, props in submodels.items():
        if not props:
            continue
        if key == "title":
            if fig.title is None:
                from bokeh.models.annotations import Title

                fig.title = Title()
            fig.title.update(**props)
            continue
        if key not in SUBMODELS:
            raise ValueError(f"unknown figure sub-model {key!r}; allowed: {', '.join(SUBMODELS)}")
        for model in getattr(fig, key):
            model.update(**props)
