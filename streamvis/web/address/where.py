"""``where=``: runs selected by their config, e.g. ``?rows=loss&where=lr<5e-4,opt=adam``.

Grammar (applied to the URL-decoded value)::

    where     := condition ("," condition)*         all must hold
    condition := KEY OP VALUE
    KEY       := a config key; nested keys joined by "." (``optim.lr``)
               | NAME.STAT: a run summary (``loss.min``; STAT: min max first last mean
                 count argmin argmax) where some run logged NAME; it wins over a config
                 key spelled the same
               | config:KEY: the config key, even where a summary is spelled so
    OP        := "=" | "!=" | "<" | "<=" | ">" | ">=" | "~"
    VALUE     := a number | true | false | a string, quoted ('...' or "...") or not

Numbers compare as numbers and strings as strings; booleans take only ``=`` and
``!=``; ``~`` is an RE2 search on the value's string form. Only like compares with
like: a number never equals or orders against a string (every operator is false
then, ``!=`` too), and a null or missing value (a summary of NaN) matches nothing. A scope ``P/child``
without a config of its own (the sub-runs of TensorBoard-style writers) uses P's.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from streamvis.errors import InvalidArgumentError
from streamvis.patterns import compile_pattern

from ..safe_html import sendable
from .summary_keys import CONFIG_PREFIX

__all__ = ["WhereError", "Condition", "parse_where", "flatten", "config_of", "selects", "value_text", "GRAMMAR"]

GRAMMAR = (
    "conditions KEY OP VALUE joined by ',' (all must hold); OP is one of = != < <= > >= ~ "
    "(~: RE2 search); VALUE is a number, true/false, or a string (quotes optional); "
    "nested keys as a.b; KEY may be a run summary NAME.STAT (loss.min; STAT one of min max first "
    "last mean count argmin argmax), and config:KEY is the config key spelled so; "
    "in a URL, write a '+' as %2B"
)
OPS = ("!=", "<=", ">=", "=", "<", ">", "~")  # longest first


class WhereError(InvalidArgumentError):
    """A malformed ``where=`` condition; the message quotes it and gives the grammar."""


@dataclass(frozen=True)
class Condition:
    """One ``KEY OP VALUE`` condition, parsed."""

    text: str
    key: str
    op: str
    value: float | bool | str
    regex: Any = None
    config_only: bool = False  # written config:KEY

    def holds(self, flat: Mapping[str, Any], summaries: Mapping[str, Any] | None = None) -> bool:
        """Whether a run (its flattened config and its summaries by ``NAME.STAT``, those
        whose NAME some run logged) satisfies this condition."""
        if not self.config_only and summaries is not None and self.key in summaries:
            got = summaries[self.key]
        elif self.key in flat:
            got = flat[self.key]
        else:
            return False
        if got is None:
            return False
        if self.op == "~":
            return bool(self.regex.search(value_text(got)))
        want = self.value
        if isinstance(want, bool):
            return isinstance(got, bool) and ((got == want) == (self.op == "="))
        if isinstance(want, float):
            if isinstance(got, bool) or not isinstance(got, int | float):
                return False
            return _compare(float(got), self.op, want)
        if not isinstance(got, str):
            return False
        return _compare(got, self.op, want)


def _compare(a: Any, op: str, b: Any) -> bool:
    table: dict[str, Callable[[Any, Any], bool]] = {
        "=": lambda x, y: x == y,
        "!=": lambda x, y: x != y,
        "<": lambda x, y: x < y,
        "<=": lambda x, y: x <= y,
        ">": lambda x, y: x > y,
        ">=": lambda x, y: x >= y,
    }
    return table[op](a, b)


def value_text(v: Any) -> str:
    """A config value's string form: what ``~`` searches and legends and tables show."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return v
    return json.dumps(v, default=str)


def _split(text: str) -> list[str]:
    """Split on commas outside quotes; an unclosed quote is an error."""
    parts, cur, quote = [], [], ""
    for ch in text:
        if quote:
            cur.append(ch)
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
            cur.append(ch)
        elif ch == ",":
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if quote:
        raise WhereError(f"where={text!r}: unclosed quote {quote}; {GRAMMAR}")
    parts.append("".join(cur))
    return parts


def _value(cond: str, op: str, raw: str) -> float | bool | str:
    raw = raw.strip()
    if not raw:
        raise WhereError(f"where condition {cond!r}: no value after {op!r}; {GRAMMAR}")
    if raw[0] in "'\"":
        if len(raw) < 2 or raw[-1] != raw[0]:
            raise WhereError(f"where condition {cond!r}: unclosed quote {raw[0]}; {GRAMMAR}")
        return raw[1:-1]
    if any(o in raw for o in ("<", ">", "=", "~")) or raw.startswith("!"):
        raise WhereError(
            f"where condition {cond!r}: {raw!r} is not a value (an operator twice?); {GRAMMAR}"
        )
    if raw in ("true", "false"):
        return raw == "true"
    try:
        number = float(raw)
    except ValueError:
        return raw
    if not math.isfinite(number):
        return raw  # "nan", "inf": strings (configs hold no such numbers)
    return number


def parse_where(text: str) -> list[Condition]:
    """The conditions of a ``where=`` value; WhereError naming the first bad one."""
    if not text.strip():
        raise WhereError(f"where= is empty; {GRAMMAR}")
    out = []
    for part in _split(text):
        cond = part.strip()
        if not cond:
            raise WhereError(f"where={text!r}: an empty condition (two commas?); {GRAMMAR}")
        hits = [(cond.find(op), op) for op in OPS if op in cond]
        if not hits:
            raise WhereError(f"where condition {cond!r}: no operator; {GRAMMAR}")
        pos = min(p for p, _ in hits)
        op = next(o for p, o in sorted(hits, key=lambda h: (h[0], -len(h[1]))) if p == pos)
        key, raw = cond[:pos].strip(), cond[pos + len(op) :]
        config_only = key.startswith(CONFIG_PREFIX)
        if config_only:
            key = key[len(CONFIG_PREFIX):].strip()
        if not key:
            raise WhereError(f"where condition {cond!r}: no key before {op!r}; {GRAMMAR}")
        if op == "~":
            pattern = raw.strip()
            if len(pattern) >= 2 and pattern[0] in "'\"" and pattern[-1] == pattern[0]:
                pattern = pattern[1:-1]
            try:
                regex = compile_pattern(pattern, f"where condition {cond!r}")
            except InvalidArgumentError as exc:
                raise WhereError(f"{exc}; {GRAMMAR}") from None
            out.append(Condition(cond, key, op, pattern, regex, config_only))
            continue
        value = _value(cond, op, raw)
        if isinstance(value, bool) and op not in ("=", "!="):
            raise WhereError(
                f"where condition {cond!r}: booleans take only = and !=; {GRAMMAR}"
            )
        out.append(Condition(cond, key, op, value, config_only=config_only))
    return out


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings as ``a.b`` keys (lists and scalars kept as values; numbers Bokeh
    cannot send as text: ``safe_html.sendable``). Iterative: any depth is flattened."""
    out: dict[str, Any] = {}
    stack: list[tuple[str, Iterator[tuple[Any, Any]]]] = [(prefix, iter(config.items()))]
    while stack:
        head, items = stack[-1]
        for k, v in items:
            key = f"{head}{k}"
            if isinstance(v, Mapping):
                stack.append((key + ".", iter(v.items())))
                break
            out[key] = sendable(v)
        else:
            stack.pop()
    return out


def config_of(scope: str, configs: Mapping[str, Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The config of ``scope``, or of its nearest parent ``P`` for ``P/child`` scopes."""
    s = scope
    while True:
        if s in configs:
            return configs[s]
        if "/" not in s:
            return None
        s = s.rsplit("/", 1)[0]


def selects(conditions: list[Condition], config: Mapping[str, Any] | None,
            summaries: Mapping[str, Any] | None = None) -> bool:
    """Whether a run with ``config`` (and ``summaries``: ``Condition.holds``) satisfies
    every condition."""
    if config is None:
        return False
    flat = flatten(config)
    return all(c.holds(flat, summaries) for c in conditions)

