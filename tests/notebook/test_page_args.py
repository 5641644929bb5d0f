"""``show``'s keywords as the page's query arguments (no kernel needed), and ``show``
outside a kernel."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from streamvis.errors import StreamvisError
from streamvis.notebook import show, views
from streamvis.notebook.page_args import check_page, page_args
from streamvis.storage import Points, Store
from streamvis.web.address.layout import LayoutError
from streamvis.web.schema import Schema

NO_SCHEMA = Schema(plots={}, source="<none>")


def test_keywords_are_written_as_the_page_expects() -> None:
    args = page_args({
        "rows": [["loss", "acc"], ["lr"]], "widths": [1, 2, 1], "heights": (2, 1),
        "axes": ["ylog", "lin", "lin"], "names": ["loss.*", "", "lr"], "where": ["lr<5e-4", "opt=adam"],
        "group": ("opt", "bs"), "smoothing": 0.6, "zoom": (0, 500), "webgl": True, "color_by": "opt",
        "scopes": None,
    })
    assert args == {
        "rows": ["loss,acc;lr"], "width": ["1,2,1"], "height": ["2,1"], "axes": ["ylog,lin,lin"],
        "names": ["loss.*", "", "lr"], "where": ["lr<5e-4,opt=adam"], "group": ["opt,bs"],
        "smoothing": ["0.6"], "zoom": ["0,500"], "webgl": ["on"], "color_by": ["opt"],
    }
    layout = check_page(args, NO_SCHEMA)  # the page takes them
    assert layout.groups == (("loss", "acc"), ("lr",)) and layout.smoothing == 0.6
    assert [c.names for c in layout.cells] == ["loss.*", None, "lr"]
    assert layout.zoom == (0.0, 500.0) and layout.group_by == "opt,bs"
    assert page_args({"rows": ["loss", "acc"]}) == {"rows": ["loss,acc"]}


@pytest.mark.parametrize("page", [{"rows": object()}, {"smoothing": True}, {"rows": {"a": 1}}])
def test_values_the_page_cannot_take_are_refused_in_one_line(page: dict[str, object]) -> None:
    with pytest.raises(LayoutError) as caught:
        page_args(page)
    assert "\n" not in str(caught.value) and list(page)[0] in str(caught.value)


def test_a_page_error_is_the_pages_message_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(LayoutError) as caught:
        show(tmp_path / "absent.svl", rows="loss", widths=[1, 2])  # checked before the log
    rendered = caught.value._render_traceback_()  # type: ignore[attr-defined]
    assert rendered == [f"LayoutError: {caught.value}"]
    assert "'width=1,2' has 2 number(s); 1 are needed (one per plot)" in rendered[0]


@pytest.mark.parametrize(("kw", "message"), [
    ({"refresh": 0}, "refresh=0 is not a poll interval"),
    ({"height": 10}, "height=10 is not the view's size"),
    ({"width": "wide"}, "width='wide' is not the view's size"),
])
def test_the_views_own_numbers_are_checked(tmp_path: Path, kw: dict[str, object], message: str) -> None:
    with pytest.raises(StreamvisError, match=message):
        show(tmp_path / "absent.svl", rows="loss", **kw)  # type: ignore[arg-type]


def test_outside_a_kernel_show_says_so_in_one_line(tmp_path: Path) -> None:
    log = tmp_path / "run.svl"
    st = Store.open(str(log), mode="a")
    st.append([Points("r1", "loss", 0, {"x": np.arange(3.0), "y": np.arange(3.0)})])
    st.close()
    for live in (True, False):  # no cell to draw in, live or not
        with pytest.raises(StreamvisError, match="streamvis snapshot") as caught:
            show(log, rows="loss", live=live)
        assert len(caught.value._render_traceback_()) == 1  # type: ignore[attr-defined]
    assert views() == []


def test_the_views_server_listens_and_answers_only_where_the_notebook_is(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Loopback for Jupyter here and behind a proxy (answering the proxy's name, so a
    rebinding page on another name is refused); every interface only for a notebook
    opened at another host's name."""
    from streamvis.notebook.show import _server_place

    monkeypatch.delenv("JUPYTER_BOKEH_EXTERNAL_URL", raising=False)
    assert _server_place("localhost:8888") == ("127.0.0.1", [])
    assert _server_place("http://127.0.0.1:8888") == ("127.0.0.1", [])
    hub = lambda port: "https://hub.example.org" if port is None else f"https://hub.example.org/p/{port}"  # noqa: E731
    assert _server_place(hub) == ("127.0.0.1", ["hub.example.org:*"])
    assert _server_place("http://gpu-box:8888") == (None, ["gpu-box:*"])
    monkeypatch.setenv("JUPYTER_BOKEH_EXTERNAL_URL", "https://lab.example.org")
    assert _server_place("localhost:8888") == ("127.0.0.1", ["lab.example.org:*"])
