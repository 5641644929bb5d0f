"""Dates and times in the viewer's time zone (real Chromium in Asia/Tokyo, whatever the
server's zone): the runs panel, the index page and an x=wall axis show Tokyo's clock."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from streamvis.storage import ConfigUpdate, Points

from .conftest import WebServer
from .helpers import hover_at, open_page

pytestmark = pytest.mark.browser

T = datetime(2025, 6, 1, 3, 0, 4, tzinfo=timezone.utc).timestamp()  # 12:00:04 in Tokyo
TOKYO = ZoneInfo("Asia/Tokyo")
WAIT_MS = 20_000

AXIS_JS = """(plot) => {
  const fig = Bokeh.documents[0].get_model_by_name('plot:' + plot);
  const view = fig ? Bokeh.index.find_one(fig.below[0]) : null;
  if (view == null) return null;
  const ticks = view.tick_coords.major[view.dimension];
  return {ticks, labels: view.compute_labels(ticks).items.map(b => b.text)};
}"""


@pytest.fixture
def server(store, log_path, demo_schema):
    store.append([
        ConfigUpdate("tokyo", {"start_time": T - 3600, "opt": "adam"}),
        Points("tokyo", "loss", 0, {"x": np.arange(5.0), "y": np.arange(5.0),
                                    "wall_time": T - 4 + np.arange(5.0)}),
    ])
    ws = WebServer(log_path, demo_schema, refresh=0.3)
    yield ws
    ws.stop()


@pytest.fixture
def tokyo_page(browser):
    ctx = browser.new_context(viewport={"width": 1200, "height": 800}, timezone_id="Asia/Tokyo")
    yield ctx.new_page()
    ctx.close()


def _row_cells(page, run: str) -> list[str]:
    """The drawn cells of ``run``'s table row (Playwright's locators reach into BokehJS's
    shadow roots), once the row shows a date."""
    row = page.locator(".slick-row", has_text=run).first
    row.locator(".slick-cell", has_text="2025-").first.wait_for(timeout=WAIT_MS)
    return [c.strip() for c in row.locator(".slick-cell").all_inner_texts()]


def _assert_dates_not_cut(page) -> None:
    """Every date cell of the tokyo row shows its whole text (at 120 px the time was cut)."""
    cells = page.locator(".slick-row", has_text="tokyo").locator(".slick-cell", has_text="2025-06-01")
    widths = [c.evaluate("e => [e.scrollWidth, e.clientWidth]") for c in cells.all()]
    assert len(widths) >= 2 and all(sw <= cw for sw, cw in widths), widths


def test_panel_index_and_wall_axis_show_the_viewers_clock(server, tokyo_page):
    page = tokyo_page
    assert page.evaluate("() => Intl.DateTimeFormat().resolvedOptions().timeZone") == "Asia/Tokyo"

    open_page(page, server.url + "/?rows=loss")
    page.locator(".slick-row", has_text="tokyo").locator(
        ".slick-cell", has_text="2025-06-01 12:00:04").first.wait_for(timeout=WAIT_MS)
    cells = _row_cells(page, "tokyo")
    assert "2025-06-01 12:00:04" in cells, cells  # last update: the last point's wall time
    assert "2025-06-01 11:00:04" in cells, cells  # start_time from the config
    _assert_dates_not_cut(page)

    open_page(page, server.url + "/index")
    page.locator(".slick-row", has_text="tokyo").locator(
        ".slick-cell", has_text="2025-06-01 12:00:04").first.wait_for(timeout=WAIT_MS)
    cells = _row_cells(page, "tokyo")
    assert "2025-06-01 12:00:04" in cells and "2025-06-01 11:00:04" in cells, cells
    _assert_dates_not_cut(page)

    open_page(page, server.url + "/?rows=loss&x=wall")
    page.wait_for_function(
        f"() => {{ const a = ({AXIS_JS})(0); return a !== null && a.ticks.length > 1"
        f" && a.ticks[0] > {T * 1000 - 10_000}; }}", timeout=WAIT_MS)
    axis = page.evaluate(AXIS_JS, 0)
    ticks = axis["ticks"]
    step = min(b - a for a, b in zip(ticks, ticks[1:], strict=False))
    for tick, label in zip(ticks, axis["labels"], strict=True):
        when = datetime.fromtimestamp(tick / 1000, TOKYO)
        full = when.strftime("%Y-%m-%d %H:%M:%S") + (f".{when.microsecond // 1000:03d}" if step < 1000 else "")
        assert label == (full[11:19] if step >= 1000 else full[11:]), axis
    assert any(label.startswith("12:00:0") for label in axis["labels"]), axis  # not 03:00 UTC

    # the tooltip of the line's point at 12:00:02 Tokyo (its y is 2)
    page.wait_for_function(
        "t => { const p = Bokeh.documents[0].get_model_by_name('plot:0');"
        " return p.x_range.start <= t - 4000 && p.x_range.end >= t && p.y_range.end >= 4; }",
        arg=T * 1000, timeout=WAIT_MS)
    hover_at(page, "plot:0", (T - 2) * 1000, 2.0)
    tip = page.locator(".bk-tooltip-content").first
    tip.wait_for(timeout=WAIT_MS)
    assert "2025-06-01 12:00:02.000" in tip.inner_text(), tip.inner_text()
