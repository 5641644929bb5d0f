"""where= conditions: the grammar, types that compare only like with like, nested keys,
parent configs for sub-runs, and messages that quote the bad condition."""

from __future__ import annotations

import pytest

from streamvis.web.address.where import WhereError, config_of, parse_where, selects

RUNS = {
    "a": {"lr": 1e-4, "opt": "adam", "deep": {"width": 64}, "flag": True, "n": None},
    "b": {"lr": 1e-3, "opt": "sgd", "deep": {"width": 128}, "flag": False},
    "c": {"lr": "high", "opt": "adamw"},
    "d": {},
}


def pick(where: str, runs=RUNS) -> list[str]:
    conds = parse_where(where)
    return [s for s in runs if selects(conds, config_of(s, runs))]


@pytest.mark.parametrize(
    "where, want",
    [
        ("lr<5e-4", ["a"]),
        ("lr>=1e-4", ["a", "b"]),
        ("lr=1e-3", ["b"]),
        ("lr!=1e-3", ["a"]),  # c's lr is a string: no order or equality against a number
        ("opt=adam", ["a"]),
        ("opt='adam'", ["a"]),
        ('opt="adamw"', ["c"]),
        ("opt~^adam", ["a", "c"]),
        ("opt!=sgd", ["a", "c"]),
        ("deep.width>100", ["b"]),
        ("flag=true", ["a"]),
        ("flag!=true", ["b"]),
        ("n=1", []),  # null matches nothing
        ("missing=1", []),
        ("lr<5e-4,opt=adam", ["a"]),
        ("lr<5e-4,opt=sgd", []),
        ("lr=high", ["c"]),
        ("opt~'a,b|sgd'", ["b"]),  # a quoted comma stays in the pattern
    ],
)
def test_selection(where, want):
    assert pick(where) == want


def test_sub_runs_use_the_parent_config():
    runs = {"p": {"lr": 0.1}, "p/train": None, "p/eval": {"lr": 0.2}}
    configs = {k: v for k, v in runs.items() if v is not None}
    conds = parse_where("lr=0.1")
    assert [s for s in runs if selects(conds, config_of(s, configs))] == ["p"] + ["p/train"]


@pytest.mark.parametrize(
    "where, words",
    [
        ("lr<<1", ["'lr<<1'", "not a value"]),
        ("lr", ["'lr'", "no operator"]),
        ("opt='adam", ["unclosed quote"]),
        ("flag<true", ["booleans take only"]),
        ("=3", ["no key"]),
        ("lr<", ["no value"]),
        ("a=1,,b=2", ["empty condition"]),
        ("opt~(", ["opt~("]),
    ],
)
def test_malformed_conditions_are_quoted_with_the_grammar(where, words):
    with pytest.raises(WhereError) as exc:
        parse_where(where)
    msg = str(exc.value)
    for w in words:
        assert w in msg, msg
    assert "OP is one of" in msg
