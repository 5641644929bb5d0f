"""Runs grouped by config keys (``group=KEY[,KEY...]`` and ``group=-KEY[,-KEY...]``).

``group=lr,opt``: one group per distinct (lr, opt). ``group=-seed``: grouped by every
config key except those listed (the usual "average over seeds"); keys whose value
differs in every run (ids, output paths) are left out then, since they would make
each run a group of its own. Nested keys are joined by ``.`` (``optim.lr``). A run
without a key has ``None`` there, shown as ``(no KEY)``. ``group=:run`` makes each run
a group of its own, keyed by its scope (a page's per-run lines against another name).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from streamvis.errors import InvalidArgumentError

__all__ = ["PER_RUN", "GroupSpec", "Grouping", "flatten_config", "group_label", "group_order", "group_runs",
           "parse_group", "run_config"]


PER_RUN = ":run"  # group= value: each run its own group


@dataclass(frozen=True)
class GroupSpec:
    """Which keys group: ``keys`` themselves, or (``exclude``) every key but them;
    ``per_run``: each run alone (keyed by its scope)."""

    keys: tuple[str, ...]
    exclude: bool = False
    per_run: bool = False


@dataclass
class Grouping:
    """The result: the keys that grouped, each group's runs, and notes for the page."""

    keys: tuple[str, ...]
    groups: dict[tuple[Any, ...], list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def parse_group(text: str | list[str] | tuple[str, ...]) -> GroupSpec:
    """``"lr,opt"`` or ``"-seed"`` (or a list of keys) -> GroupSpec; one-line errors."""
    if text == PER_RUN or (not isinstance(text, str) and list(text) == [PER_RUN]):
        return GroupSpec((), per_run=True)
    parts = text.split(",") if isinstance(text, str) else list(text)
    keys = [p.strip() for p in parts]
    if not keys or any(not k or k == "-" for k in keys):
        raise InvalidArgumentError(
            f"group={text!r}: expected config keys joined by ',' (KEY,KEY or -KEY,-KEY)")
    neg = [k.startswith("-") for k in keys]
    if any(neg) and not all(neg):
        raise InvalidArgumentError(
            f"group={text!r} mixes keys and -keys: list the keys to group by, or every "
            "key to leave out, each with a '-'")
    if all(neg):
        return GroupSpec(tuple(k[1:] for k in keys), exclude=True)
    return GroupSpec(tuple(keys))


def flatten_config(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings flattened to ``a.b`` keys."""
    out: dict[str, Any] = {}
    for k, v in config.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(flatten_config(v, key + "."))
        else:
            out[key] = v
    return out


def _hashable(v: Any) -> Any:
    if isinstance(v, (list, dict)):
        return json.dumps(v, sort_keys=True)
    return v


def group_runs(configs: Mapping[str, Mapping[str, Any] | None], spec: GroupSpec) -> Grouping:
    """Group the runs (``{scope: config}``; None: no config) by ``spec``."""
    if spec.per_run:
        return Grouping(("run",), {(s,): [s] for s in configs})
    flat = {s: flatten_config(c) if c else {} for s, c in configs.items()}
    if spec.exclude:
        every = sorted({k for c in flat.values() for k in c} - set(spec.keys))
        keys, dropped, same = [], [], []
        for k in every:
            values = [_hashable(c[k]) for c in flat.values() if k in c]
            if len(values) > 1 and len(set(values)) == len(flat):
                dropped.append(k)
            elif len(values) == len(flat) > 1 and len(set(values)) == 1:
                same.append(k)  # splits nothing: kept out of every group's label
            else:
                keys.append(k)
        notes = [f"grouped by {', '.join(keys) if keys else 'nothing (one group)'}"]
        if dropped:
            notes.append(f"left out (a different value in every run): {', '.join(dropped)}")
        if same:
            notes.append(f"the same in every run: {', '.join(same)}")
    else:
        keys = list(spec.keys)
        notes = [f"grouped by {', '.join(keys)}"]
        for k in keys:
            if not any(k in c for c in flat.values()):
                notes.append(f"no run has the config key {k!r}")
    out = Grouping(tuple(keys), notes=notes)
    for scope, c in flat.items():
        gk = tuple(_hashable(c.get(k)) for k in keys)
        out.groups.setdefault(gk, []).append(scope)
    return out


def group_label(keys: tuple[str, ...], values: tuple[Any, ...]) -> str:
    """``lr=0.1, opt=adam`` (``(no opt)`` where a run lacks the key); plain text."""
    if not keys:
        return "all runs"
    return ", ".join(f"(no {k})" if v is None else f"{k}={v}" for k, v in zip(keys, values, strict=True))


def group_order(values: tuple[Any, ...]) -> tuple[tuple[int, Any], ...]:
    """A sort key for groups: numbers by value, then strings, then missing values."""
    def one(v: Any) -> tuple[int, Any]:
        if v is None:
            return (3, "")
        if isinstance(v, bool):
            return (1, str(v))
        if isinstance(v, (int, float)):
            return (0, v)
        return (2, str(v))
    return tuple(one(v) for v in values)


def run_config(scope: str, configs: Mapping[str, Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """A run's config; a sub-run ``P/child`` without one of its own uses P's."""
    while True:
        cfg = configs.get(scope)
        if cfg is not None or "/" not in scope:
            return cfg
        scope = scope.rsplit("/", 1)[0]
