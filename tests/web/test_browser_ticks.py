"""Axis tick labels read well (real Chromium, labels as BokehJS's axis view makes them):
an lr line from 1e-4 to 1e-3 reads 0.0002 ... not 2.000e-4, a loss around 2.5 reads 2.45,
zero reads 0, and scientific notation is left for where plain decimals would not do."""

from __future__ import annotations

import numpy as np
import pytest

from streamvis.storage import Points

from .conftest import WebServer
from .helpers import open_page

pytestmark = pytest.mark.browser

# the tick labels BokehJS drew on an axis, and ``labels(ticks)`` for other ticks
AXIS_JS = """([plot, side, extra]) => {
  const fig = Bokeh.documents[0].get_model_by_name('plot:' + plot);
  const axis = fig[side][0];
  const view = Bokeh.index.find_one(axis);
  if (view == null) return null;
  const ticks = view.tick_coords.major[view.dimension];
  const text = (ts) => view.compute_labels(ts).items.map(b => b.text);
  return {ticks, labels: text(ticks), extra: extra.map(ts => text(ts))};
}"""


@pytest.fixture
def server(store, log_path, demo_schema):
    x = np.arange(200, dtype=np.float64)
    store.append([
        Points("run1", "loss", 0, {"x": x, "y": 2.5 + 0.05 * np.sin(x / 10)}),
        Points("run1", "lr", 0, {"x": x, "y": np.linspace(1e-4, 1e-3, x.size)}),
    ])
    ws = WebServer(log_path, demo_schema, refresh=0.3)
    yield ws
    ws.stop()


def _axis(page, plot: int, side: str, extra: list[list[float]] | None = None,
          low: float = 0.5e-4) -> dict:
    """The axis once it spans the data (its first tick above ``low``, not the empty
    plot's default range)."""
    page.wait_for_function(
        f"() => {{ const a = ({AXIS_JS})([{plot}, {side!r}, []]);"
        " return a !== null && a.ticks.length > 1 && a.ticks.every(Number.isFinite)"
        f" && a.ticks[0] > {low}; }}",
        timeout=15000,
    )
    return page.evaluate(AXIS_JS, [plot, side, extra or []])


def test_small_and_large_numbers_read_well(server, page):
    open_page(page, server.url + "/?rows=loss,lr")
    lr = _axis(page, 1, "left", [[0, 0.0005, 0.001], [1e-7, 2e-7, 3e-7], [0, 1e6, 2e6],
                                 [0, 2.5e5, 5e5]])
    assert lr["ticks"][0] < 5e-4 and lr["ticks"][-1] > 5e-4, lr
    for tick, label in zip(lr["ticks"], lr["labels"], strict=True):
        assert "e" not in label and float(label) == pytest.approx(tick, abs=1e-12), lr
        assert len(label.split(".")[1]) <= 5, lr  # 0.0002, not 0.000200
    assert lr["extra"][0] == ["0", "0.0005", "0.0010"]
    assert lr["extra"][1] == ["1e-7", "2e-7", "3e-7"]  # too many places: scientific
    assert lr["extra"][2] == ["0", "1e6", "2e6"]
    assert lr["extra"][3] == ["0", "2.5e5", "5.0e5"]  # one mantissa precision an axis

    loss = _axis(page, 0, "left", [[2.4, 2.45, 2.5], [0, 1, 2]])
    assert loss["ticks"][0] > 2 and loss["ticks"][-1] < 3, loss
    for tick, label in zip(loss["ticks"], loss["labels"], strict=True):
        assert "e" not in label and float(label) == pytest.approx(tick, abs=1e-9), loss
        assert len(label.split(".")[1]) <= 2, loss  # 2.45, not 2.450
    assert loss["extra"] == [["2.40", "2.45", "2.50"], ["0", "1", "2"]]
    steps = _axis(page, 0, "below", low=-1)
    assert all("." not in label and "e" not in label for label in steps["labels"]), steps
