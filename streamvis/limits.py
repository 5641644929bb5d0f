"""What a log accepts: the size limits on keys and configs, checked in one place.

The logger checks at the call site (``write``, ``write_config``) and the store checks
every append (so the data server, which appends through it, refuses the same), with
the same functions and the same messages:

* a scope, a name, a column name and a config key: at most ``MAX_KEY_BYTES`` (1,024)
  bytes of UTF-8; a scope, name or column name is a non-empty string without NUL;
* one config: at most ``MAX_CONFIG_BYTES`` (1 MiB) serialised as JSON, nested at most
  ``MAX_CONFIG_DEPTH`` (64) levels (a dict or list is one level), every number with
  ``|value|`` that fits a float64 (integers beyond int64 but within float64 are kept
  exactly; NaN and infinities are allowed).

A message names the limit and the bad value, cut to its first 60 characters and its
length. Data already stored before these limits stays readable; only new writes are
checked.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from streamvis.errors import InvalidArgumentError

__all__ = [
    "MAX_KEY_BYTES",
    "MAX_CONFIG_BYTES",
    "MAX_CONFIG_DEPTH",
    "preview",
    "check_key",
    "check_config",
]

MAX_KEY_BYTES = 1024
MAX_CONFIG_BYTES = 1 << 20
MAX_CONFIG_DEPTH = 64
_PREVIEW_CHARS = 60
_F64_MAX = 2**1024 - 2**970  # the largest finite float64, exactly (sys.float_info.max)


def preview(value: str) -> str:
    """``value`` for a message: its repr when short, else its first 60 characters and
    its length (a 3 MB name must not become a 3 MB message)."""
    if len(value) <= _PREVIEW_CHARS:
        return repr(value)
    return f"{value[:_PREVIEW_CHARS]!r}... ({len(value):,} characters)"


def _utf8_len(value: str) -> int:
    # len() bounds the byte count: only count bytes near the limit
    if len(value) * 4 <= MAX_KEY_BYTES:
        return len(value)
    return len(value.encode("utf-8", "surrogatepass"))


def check_key(kind: str, value: object, where: str = "") -> str:
    """``value`` if it is a usable scope, name or column name (``kind`` says which):
    a non-empty string without NUL, at most ``MAX_KEY_BYTES`` bytes of UTF-8."""
    if not isinstance(value, str) or not value:
        raise InvalidArgumentError(f"{where}{kind} must be a non-empty string, got {value!r}")
    if "\x00" in value:
        raise InvalidArgumentError(f"{where}{kind} {preview(value)} contains a NUL character")
    size = _utf8_len(value)
    if size > MAX_KEY_BYTES:
        raise InvalidArgumentError(
            f"{where}{kind} {preview(value)} is {size:,} bytes of UTF-8; the limit is "
            f"{MAX_KEY_BYTES:,} bytes"
        )
    return value


def _config_key(key: object, path: str, where: str) -> str:
    """The path (``a.b[2].c``) of a config entry under ``path``; refuses a key with NUL
    or over the limit (non-string keys are JSON's: ints, floats, None)."""
    if isinstance(key, str):
        text = key
        if "\x00" in key:
            raise InvalidArgumentError(
                f"{where}config key {preview(_join(path, key))} contains a NUL character")
        size = _utf8_len(key)
        if size > MAX_KEY_BYTES:
            raise InvalidArgumentError(
                f"{where}config key {preview(_join(path, key))} is {size:,} bytes of UTF-8; "
                f"the limit is {MAX_KEY_BYTES:,} bytes")
    else:
        text = json.dumps(key) if _is_json_key(key) else repr(key)
    return _join(path, text)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _is_json_key(key: object) -> bool:
    return key is None or isinstance(key, int | float)


def _magnitude(value: int) -> str:
    """``about 10^309``: the size of a huge integer (str() of it is slow, and capped)."""
    return f"about {'-' if value < 0 else ''}10^{math.log10(abs(value)):.0f}"


def check_config(config: object, where: str = "") -> int:
    """Raise unless ``config`` is a dict a log accepts (see the module docstring);
    returns its size in bytes as JSON. ``where`` prefixes messages (e.g. the scope)."""
    if not isinstance(config, Mapping):
        raise InvalidArgumentError(
            f"{where}config must be a dict, got {type(config).__name__}")
    # iterative, and bounded by the depth limit before anything recursive sees it
    stack: list[tuple[Any, str, int]] = [(config, "", 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, Mapping | list | tuple):
            if depth > MAX_CONFIG_DEPTH:
                raise InvalidArgumentError(
                    f"{where}config is nested deeper than {MAX_CONFIG_DEPTH} levels (at "
                    f"{preview(path)}); the limit is {MAX_CONFIG_DEPTH} levels of dicts and "
                    "lists")
            if isinstance(value, Mapping):
                stack.extend((v, _config_key(k, path, where), depth + 1) for k, v in value.items())
            else:
                stack.extend((v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value))
        elif isinstance(value, int) and not isinstance(value, bool):
            if not -_F64_MAX <= value <= _F64_MAX:
                raise InvalidArgumentError(
                    f"{where}config key {preview(path)}: the integer {_magnitude(value)} does "
                    "not fit a float64; config numbers must have |value| <= 1.8e308 (store "
                    "larger ones as strings)")
    try:
        text = json.dumps(dict(config), allow_nan=True)
    except (TypeError, ValueError, RecursionError) as exc:
        raise InvalidArgumentError(f"{where}config is not JSON-serialisable: {exc}") from None
    if len(text) > MAX_CONFIG_BYTES:
        raise InvalidArgumentError(
            f"{where}config is {len(text):,} bytes as JSON; the limit is "
            f"{MAX_CONFIG_BYTES:,} bytes (1 MiB)")
    return len(text)
