"""Regular expressions from users, compiled with RE2 (linear time, no catastrophic backtracking).

Every pattern in streamvis (API ``*_pattern`` arguments, schema ``name_pattern``, URL
``names=``/``scopes=``) goes through ``compile_pattern`` and matches anywhere in the
string (search semantics).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import re2

from streamvis.errors import InvalidArgumentError

__all__ = ["compile_pattern", "matcher", "key_filter", "memo_matcher", "MAX_PATTERN_LENGTH"]

MAX_PATTERN_LENGTH = 4096


@functools.lru_cache(maxsize=1024)
def compile_pattern(pattern: str, what: str = "pattern") -> re2._Regexp:
    """Compile ``pattern`` with RE2; InvalidArgumentError naming it when it is bad."""
    if not isinstance(pattern, str):
        raise InvalidArgumentError(f"{what} must be a string, got {type(pattern).__name__}")
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise InvalidArgumentError(
            f"{what} is {len(pattern)} characters long; at most {MAX_PATTERN_LENGTH} allowed"
        )
    options = re2.Options()
    options.log_errors = False
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise InvalidArgumentError(
            f"{what} {pattern!r} is not a valid regular expression (RE2 syntax): {reason}"
        ) from None


def matcher(pattern: str | None, what: str = "pattern") -> Callable[[str], bool]:
    """A predicate: does ``pattern`` match anywhere in the string? None matches all."""
    if pattern is None:
        return lambda s: True
    rx = compile_pattern(pattern, what)
    return lambda s: rx.search(s) is not None


def key_filter(exact: str | None, pattern: str | None, what: str) -> Callable[[str], bool]:
    """A predicate for an API's ``what=`` (exact) / ``what_pattern=`` (RE2 search) pair."""
    if exact is not None and pattern is not None:
        raise InvalidArgumentError(f"give either {what}= or {what}_pattern=, not both")
    if exact is not None:
        if not isinstance(exact, str):
            raise InvalidArgumentError(f"{what} must be a string, got {exact!r}")
        return lambda s: s == exact
    return matcher(pattern, f"{what}_pattern")


def memo_matcher(match: Callable[[str], bool]) -> Callable[[str], bool]:
    """``match`` asked once per distinct string (a log's few names recur in every run)."""
    seen: dict[str, bool] = {}

    def cached(s: str) -> bool:
        hit = seen.get(s)
        if hit is None:
            hit = seen[s] = match(s)
        return hit

    return cached
