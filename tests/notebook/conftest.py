"""Fixtures of the notebook tests: Chromium as in tests/web (the notebook page is the
kernel's outputs, served to it by a route)."""

from __future__ import annotations

from tests.web.conftest import browser, page

__all__ = ["browser", "page"]
