"""hide=/show= values: a run set against the log's scopes, short enough for a link."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamvis.web.address.page_url import PageUrl
from streamvis.web.address.run_selection import RunSelectionError, decode_runs, encode_runs

SCOPES = [f"sweep/lr{i % 7}-seed{i}" for i in range(10_000)]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=60, unique=True), st.data())
def test_round_trip(scopes, data) -> None:
    picked = set(data.draw(st.lists(st.sampled_from(scopes), unique=True)))
    text = encode_runs(picked, scopes)
    assert decode_runs(text, scopes) == picked
    # the log only grows: a link made earlier still selects the same runs
    assert decode_runs(text, [*scopes, "later-run"]) == picked


def test_a_thousand_runs_fit_in_a_link() -> None:
    rng = random.Random(0)
    scattered = set(rng.sample(SCOPES, 1000))
    text = encode_runs(scattered, SCOPES)
    assert len(text) < 2000 and decode_runs(text, SCOPES) == scattered
    block = set(SCOPES[4000:5000])  # one sweep's runs, one after the other
    text = encode_runs(block, SCOPES)
    assert len(text) < 80 and decode_runs(text, SCOPES) == block


def test_deleted_runs_make_the_link_refuse_instead_of_shifting() -> None:
    text = encode_runs({"b", "d"}, ["a", "b", "c", "d"])
    with pytest.raises(RunSelectionError, match="other runs than this log has now"):
        decode_runs(text, ["a", "c", "d"])  # "b" deleted: positions would shift
    with pytest.raises(RunSelectionError, match="other runs"):
        decode_runs(text, ["a", "b"])  # fewer runs than the link covers


@pytest.mark.parametrize("bad", ["", "abc", "2.3.xx.yy", "1.x.fp.data", "1.4.fp"])
def test_malformed_values_are_named(bad) -> None:
    with pytest.raises(RunSelectionError, match=r"'show=.*expected 1\.COUNT"):
        decode_runs(bad, ["a", "b", "c", "d"], param="show")


def test_undecodable_data_is_named() -> None:
    good = encode_runs({"b"}, ["a", "b", "c", "d"])
    bad = good.rsplit(".", 1)[0] + ".%%%"
    with pytest.raises(RunSelectionError, match="does not decode"):
        decode_runs(bad, ["a", "b", "c", "d"])


def test_page_url_keeps_the_layout_and_replaces_the_panel_state() -> None:
    url = PageUrl({"rows": ["loss,lr;cloud"], "where": ["lr<1e+3"], "hide": ["old"],
                   "bokeh-session-id": ["x"]})
    q = url.query({"find": "seed 1", "filter": "opt=adam", "show": "1.3.abc.def", "hide": None})
    assert q == "?rows=loss,lr;cloud&where=lr<1e%2B3&find=seed%201&filter=opt=adam&show=1.3.abc.def"


def test_the_index_page_links_any_number_of_ticked_runs() -> None:
    from urllib.parse import parse_qs

    from streamvis.web.page.index_page import ticked_link
    from streamvis.web.schema import demo_schema_path, load_schema

    schema = load_schema(demo_schema_path())
    few = ticked_link(schema, SCOPES[:3], SCOPES)
    assert "scopes=" in few and "show=" not in few  # fits one pattern: read alone
    picked = SCOPES[::10]  # 1,000 runs: far past a 4,096-character pattern
    link = ticked_link(schema, picked, SCOPES)
    args = parse_qs(link[2:])
    assert "scopes" not in args and len(link) < 2000
    assert decode_runs(args["show"][0], SCOPES) == set(picked)
