"""Which runs a page shows under ``where=``: decided from their configs and summaries, in workers.

A scope is decided the first time the page sees it. A scope without a config yet
(its points came first) is looked at again, at most every ``RECHECK_S``; if it then
matches, the page reloads so that its earlier points are drawn too, and it is among
``take_late()``'s scopes (their lines' ``color_by`` colours and the panel's columns
follow the config).

Configs written again (changed values, keys added) and summaries that moved
(``run_summaries``: ``where=loss.min<0.2``, ``color_by=loss.last``, the panel's summary
columns) are taken in at the next poll: the configs are re-read at most every
``CONFIG_EVERY`` seconds and at least ``COST_SHARE`` times what the last re-read took
(one ``configs()`` call, compared with what the page holds: ~30 ms at 10,000 runs),
the summaries from the points appended since the last poll. A run that then matches
makes the page reload (``decide`` returns True); a run that no longer matches leaves
the plots (``take_gone``); either way it is among ``take_late()``'s scopes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

from streamvis.source import DataSource

from ..address.where import Condition, config_of, flatten
from .run_summaries import RunSummaries

__all__ = ["RunFilter", "RECHECK_S", "CONFIG_EVERY"]

RECHECK_S = 2.0
CONFIG_EVERY = 1.0  # seconds between re-reads of the configs (a config written again)
COST_SHARE = 20  # ...and at least 20x what the last re-read took (at most ~5% of a worker)


class RunFilter:
    """The where= decision per scope (no conditions: every scope is shown)."""

    def __init__(self, conditions: Sequence[Condition], *, keep_configs: bool = False,
                 summaries: RunSummaries | None = None) -> None:
        self.conditions = list(conditions)
        self.keep_configs = keep_configs  # color_by needs each run's config
        self.summaries = summaries if summaries is not None else RunSummaries()
        self.summaries.want(c.key for c in self.conditions if not c.config_only)
        self._configs: dict[str, dict[str, Any]] = {}  # flattened, of decided scopes
        self._raw: dict[str, Any] = {}  # the config each decision saw
        self._decided: dict[str, bool] = {}
        self._undecided: set[str] = set()  # no config seen yet
        self._late: set[str] = set()  # scopes whose config (or summaries) changed since asked
        self._gone: set[str] = set()  # shown scopes that no longer match
        self._checked = 0.0
        self._configs_at = time.monotonic()
        self.config_every = CONFIG_EVERY
        self.cost_share = COST_SHARE
        self._config_cost = 0.0  # seconds the last re-read took (a large log re-reads less often)
        self._lock = threading.Lock()

    @property
    def active(self) -> bool:
        return bool(self.conditions) or self.keep_configs

    def flat(self, scope: str) -> dict[str, Any]:
        """``scope``'s flattened config ({} when none was seen)."""
        return self._configs.get(scope, {})

    def value(self, scope: str, key: str) -> Any:
        """``scope``'s value at ``key``: a summary (``NAME.STAT``, some run logged NAME),
        else its config value (``a.b`` for nested), or None."""
        if key.startswith("config:"):
            return self._configs.get(scope, {}).get(key[len("config:"):])
        if self.summaries.is_summary(key):
            return self.summaries.value(scope, key)
        return self._configs.get(scope, {}).get(key)

    def allows(self, scope: str) -> bool:
        """Whether ``scope`` is shown (as far as decided; unknown scopes are not)."""
        return not self.conditions or self._decided.get(scope, False)

    def unknown_keys(self) -> tuple[list[str], list[str]]:
        """(the where= keys no run seen so far has, every config key the runs have),
        both empty until a run has been decided."""
        with self._lock:
            if not self._decided or not self.conditions:
                return [], []
            have: dict[str, None] = {}
            for flat in self._configs.values():
                have.update(dict.fromkeys(flat))
        missing = [c.key for c in self.conditions if c.key not in have
                   and (c.config_only or not self.summaries.is_summary(c.key))]
        return list(dict.fromkeys(missing)), sorted(have)

    def take_late(self) -> set[str]:
        """The scopes whose config appeared or changed (or whose summaries moved) since
        last asked."""
        with self._lock:
            late, self._late = self._late, set()
            return late

    def take_gone(self) -> set[str]:
        """The shown scopes that no longer match where= (a config or summary changed)."""
        with self._lock:
            gone, self._gone = self._gone, set()
            return gone

    def _matches(self, scope: str, cfg: Any) -> bool:
        if not self.conditions:
            return True
        sums = self.summaries.values(scope, [c.key for c in self.conditions if not c.config_only])
        if cfg is None:
            if not all(c.key in sums for c in self.conditions):
                return False
            cfg = {}
        flat = flatten(cfg)
        return all(c.holds(flat, sums) for c in self.conditions)

    def decide(self, source: DataSource, scopes: Iterable[str]) -> bool:
        """Decide the new ``scopes`` (and those whose config or summaries changed, and now
        and then those without a config): True when a scope that was hidden now matches
        (the page must reload)."""
        moved = self.summaries.refresh(source)  # (nothing to read when no summary is asked)
        if not self.active:
            return False
        with self._lock:
            new = {s for s in scopes if s not in self._decided}
            recheck = bool(self._undecided) and time.monotonic() - self._checked > RECHECK_S
            wait = max(self.config_every, self.cost_share * self._config_cost)
            reread = bool(self._decided) and time.monotonic() - self._configs_at >= wait
            moved = {s for s in moved if s in self._decided}
            if not new and not recheck and not reread and not moved:
                return False
            t0 = time.monotonic()
            configs = source.configs() if new or recheck or reread else None
            if configs is not None:
                self._checked = self._configs_at = time.monotonic()
            todo = set(new) | (self._undecided if recheck else set()) | moved
            if reread and configs is not None:
                todo |= {s for s in self._decided if config_of(s, configs) != self._raw.get(s)}
                self._config_cost = time.monotonic() - t0
            flipped = False
            for s in todo:
                cfg = config_of(s, configs) if configs is not None else self._raw.get(s)
                ok = self._matches(s, cfg)
                if self.keep_configs and cfg is not None:
                    self._configs[s] = flatten(cfg)
                changed = s in self._decided and cfg != self._raw.get(s)
                self._raw[s] = cfg
                if cfg is None:
                    self._undecided.add(s)
                elif s in self._undecided or changed:
                    self._undecided.discard(s)
                    self._late.add(s)
                if s in moved:
                    self._late.add(s)
                was = self._decided.get(s)
                flipped |= ok and was is False
                if was and not ok:
                    self._gone.add(s)
                self._decided[s] = ok
            return flipped
