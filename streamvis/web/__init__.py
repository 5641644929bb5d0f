"""The streamvis web app: schema-driven live Bokeh (WebGL) plots with URL layouts.

Modules: ``schema`` (YAML plot schemas), ``layout`` (URL page layouts), ``colors``
(palettes and colour slots), ``plots``/``session`` (the live Bokeh document),
``pages`` (index and error pages), ``server`` (the Bokeh server), ``cli``.
"""

from __future__ import annotations

__all__: list[str] = []
