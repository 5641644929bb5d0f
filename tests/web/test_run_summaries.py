"""Summaries on a page without a browser: ``where=`` keys spelled ``NAME.STAT`` (and
``config:KEY``), ``summary=`` parsing, and ``RunFilter`` following summaries and configs
written again over a real log."""

from __future__ import annotations

import numpy as np
import pytest

from streamvis.errors import InvalidArgumentError
from streamvis.source import LocalSource
from streamvis.storage import ConfigUpdate, Points, Store
from streamvis.web.address.summary_keys import parse_summary_param, split_key
from streamvis.web.address.where import GRAMMAR, parse_where, selects
from streamvis.web.runs.run_filter import RunFilter
from streamvis.web.runs.run_summaries import RunSummaries


def test_a_summary_wins_over_a_config_key_spelled_the_same_and_config_prefix_reaches_the_key():
    cfg = {"loss": {"min": 5}, "lr": 1e-4}
    assert selects(parse_where("loss.min<1"), cfg, {"loss.min": 0.5})
    assert not selects(parse_where("loss.min>1"), cfg, {"loss.min": 0.5})
    assert selects(parse_where("config:loss.min=5"), cfg, {"loss.min": 0.5})
    assert selects(parse_where("loss.min=5"), cfg)  # no summary of that name: the config key
    assert not selects(parse_where("loss.min<1"), cfg, {"loss.min": None})  # NaN: matches nothing
    assert "config:KEY" in GRAMMAR and "NAME.STAT" in GRAMMAR


def test_summary_keys_and_the_summary_parameter():
    assert split_key("val/loss.min") == ("val/loss", "min") and split_key("lr") is None
    assert split_key("config:loss.min") is None and split_key("loss.median") is None
    assert parse_summary_param("loss.min, acc.last,loss.min") == ("loss.min", "acc.last")
    with pytest.raises(InvalidArgumentError, match="'median'.*argmin"):
        parse_summary_param("loss.median")
    with pytest.raises(InvalidArgumentError, match="'loss'.*NAME.STAT"):
        parse_summary_param("loss")


@pytest.fixture
def log(tmp_path):
    path = str(tmp_path / "runs.svl")
    with Store.open(path, "a") as s:
        for scope, ys, lr in (("a", [1.0, 0.1], 1e-4), ("b", [1.0, 0.5], 1e-4), ("c", [2.0, 0.3], 1e-2)):
            s.append([ConfigUpdate(scope, {"lr": lr}),
                      Points(scope, "loss", 0, {"x": np.arange(2.0), "y": np.array(ys)})])
    return path


def add(path: str, *items) -> None:
    with Store.open(path, "a") as s:
        s.append(list(items))


def test_run_filter_follows_summaries_and_configs_written_again(log):
    with LocalSource.open(log) as src:
        rf = RunFilter(parse_where("loss.min<0.2,lr<1e-3"), keep_configs=True,
                       summaries=RunSummaries(["loss.last"]))
        rf.config_every = rf.cost_share = 0.0  # re-read the configs at every poll
        assert rf.decide(src, ["a", "b", "c"]) is False
        assert [s for s in "abc" if rf.allows(s)] == ["a"]
        assert rf.value("a", "loss.last") == pytest.approx(0.1) and rf.value("a", "lr") == 1e-4
        # b's min drops under 0.2: it moves in (the page reloads to draw it whole)
        add(log, Points("b", "loss", 0, {"x": np.array([2.0]), "y": np.array([0.15])}))
        src.store.refresh()
        assert rf.decide(src, ["b"]) is True and rf.allows("b")
        assert {"b"} <= rf.take_late()
        # a's config written again with a larger lr (and a new key): it moves out
        add(log, ConfigUpdate("a", {"lr": 1.0, "opt": "adam"}))
        assert rf.decide(src, []) is False
        assert not rf.allows("a") and rf.take_gone() == {"a"}
        assert rf.flat("a") == {"lr": 1.0, "opt": "adam"} and "a" in rf.take_late()
        # config:lr reaches the config key; an unknown name stays a config key (missing)
        rf2 = RunFilter(parse_where("nope.min<1"), keep_configs=True)
        rf2.decide(src, ["a", "b", "c"])
        assert rf2.unknown_keys()[0] == ["nope.min"]
