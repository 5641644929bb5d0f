"""streamvis/schemas/tensorboard.yaml in a real browser over a log from our SummaryWriter:
scalars in one plot, each histogram at the slider's step, its min/max/mean lines."""

from __future__ import annotations

import numpy as np
import pytest

from streamvis.tensorboard import SummaryWriter

from .conftest import ROOT, WebServer
from .helpers import LINES_JS, glyphs, open_page

pytestmark = pytest.mark.browser

WAIT_MS = 15000  # generous: CI machines are shared
# {label: its bucket positions} as the histogram plot shows them
F_JS = (
    "() => { const g = (" + LINES_JS + ")(1); if (g === null) return {};"
    " return Object.fromEntries(Object.entries(g).map(([k, l]) => [k.split('|')[1], l.xs])); }"
)
SLIDER = "Bokeh.documents[0].get_model_by_name('filter:1')"


@pytest.fixture
def server(log_path):
    rng = np.random.default_rng(3)
    for run in ("exp1", "exp2"):
        with SummaryWriter(f"runs/{run}", path=log_path) as w:
            for step in range(30):
                w.add_scalar("Loss/train", 1.0 / (step + 1), step)
                if step % 10 == 0:
                    w.add_histogram("weights", rng.normal(step, 1.0, 400), step)
    ws = WebServer(log_path, ROOT / "streamvis" / "schemas" / "tensorboard.yaml", refresh=0.3)
    yield ws
    ws.stop()


def _buckets(store, scope: str, step: int) -> list[float]:
    t = store.read(scope=scope, name="weights:hist").tables[(scope, "weights:hist")]
    sel = t.column("step").to_numpy() == step
    return t.column("bucket").to_numpy()[sel].tolist()


def test_histogram_follows_the_step_slider(server, store, page) -> None:
    open_page(page, server.url + "/?rows=scalars;histogram,histogram_stats")
    page.wait_for_function(f"() => {{ const s = {SLIDER}; return s && s.value === 20 && s.end === 20; }}",
                           timeout=WAIT_MS)

    def wait_step(step: int) -> None:
        want = {f"{run} · weights:hist · 0": _buckets(store, run, step) for run in ("exp1", "exp2")}
        page.wait_for_function(
            f"want => {{ const got = ({F_JS})(); return Object.entries(want).every(([k, xs]) =>"
            " got[k] && got[k].length === xs.length && got[k].every((x, i) => x === xs[i])); }",
            arg=want, timeout=WAIT_MS)

    wait_step(20)
    page.evaluate(f"() => {{ {SLIDER}.value = 10; }}")
    wait_step(10)
    page.evaluate(f"() => {{ {SLIDER}.value = 0; }}")
    wait_step(0)

    g = glyphs(page)
    scalars = {k: v["n"] for k, v in g.items() if k.startswith("plot:0|")}
    assert scalars == {"plot:0|exp1 · Loss/train · 0": 30, "plot:0|exp2 · Loss/train · 0": 30}
    stats = {k.split("|")[1]: v["n"] for k, v in g.items() if k.startswith("plot:2|")}
    assert stats == {f"{run} · weights:{s} · 0": 3 for run in ("exp1", "exp2")
                     for s in ("min", "max", "mean")}
    title = page.evaluate("() => (t => t.text ?? t)(Bokeh.documents[0].get_model_by_name('plot:1').title.text)")
    assert "not drawn" not in title
