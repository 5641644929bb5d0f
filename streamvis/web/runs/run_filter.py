"""Which runs a page shows under ``where=``: decided from their configs, in workers.

A scope is decided the first time the page sees it. A scope without a config yet
(its points came first) is looked at again, at most every ``RECHECK_S``; if it then
matches, the page reloads so that its earlier points are drawn too, and it is among
``take_late()``'s scopes (their lines' ``color_by`` colours and the panel's columns
follow the config).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

from streamvis.source import DataSource

from ..address.where import Condition, config_of, flatten, selects

__all__ = ["RunFilter", "RECHECK_S"]

RECHECK_S = 2.0


class RunFilter:
    """The where= decision per scope (no conditions: every scope is shown)."""

    def __init__(self, conditions: Sequence[Condition], *, keep_configs: bool = False) -> None:
        self.conditions = list(conditions)
        self.keep_configs = keep_configs  # color_by needs each run's config
        self._configs: dict[str, dict[str, Any]] = {}  # flattened, of decided scopes
        self._decided: dict[str, bool] = {}
        self._undecided: set[str] = set()  # no config seen yet
        self._late: set[str] = set()  # undecided scopes whose config has since appeared
        self._checked = 0.0
        self._lock = threading.Lock()

    @property
    def active(self) -> bool:
        return bool(self.conditions) or self.keep_configs

    def flat(self, scope: str) -> dict[str, Any]:
        """``scope``'s flattened config ({} when none was seen)."""
        return self._configs.get(scope, {})

    def value(self, scope: str, key: str) -> Any:
        """``scope``'s config value at ``key`` (``a.b`` for nested), or None."""
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
        missing = [c.key for c in self.conditions if c.key not in have]
        return list(dict.fromkeys(missing)), sorted(have)

    def take_late(self) -> set[str]:
        """The scopes whose config appeared after their first points, since last asked."""
        with self._lock:
            late, self._late = self._late, set()
            return late

    def decide(self, source: DataSource, scopes: Iterable[str]) -> bool:
        """Decide the new ``scopes`` (and, now and then, those without a config): True
        when a scope that was hidden now matches (the page must reload)."""
        if not self.active:
            return False
        with self._lock:
            new = {s for s in scopes if s not in self._decided}
            recheck = bool(self._undecided) and time.monotonic() - self._checked > RECHECK_S
            if not new and not recheck:
                return False
            configs = source.configs()
            self._checked = time.monotonic()
            flipped = False
            for s in new | (self._undecided if recheck else set()):
                cfg = config_of(s, configs)
                ok = selects(self.conditions, cfg) if self.conditions else True
                if self.keep_configs and cfg is not None:
                    self._configs[s] = flatten(cfg)
                if cfg is None:
                    self._undecided.add(s)
                elif s in self._undecided:
                    self._undecided.discard(s)
                    self._late.add(s)
                flipped |= ok and s in self._decided and not self._decided[s]
                self._decided[s] = ok
            return flipped
