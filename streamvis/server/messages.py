"""Small request and reply conversions: selectors, configs, and the listings.

Every listing (scopes, names, configs, schemas, groups) is a stream of replies, each
under the message size limit, so no number of runs makes one too large; a single
entry larger than a message is refused with a line naming it. The bulky payloads
(points as columns) are in ``wire``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar, cast

import numpy as np

from streamvis.errors import InvalidArgumentError
from streamvis.limits import check_config
from streamvis.proto import data_pb2 as dpb
from streamvis.proto import service_pb2 as spb
from streamvis.storage.format.codec import STORED_DTYPES
from streamvis.storage.format.model import GroupInfo

__all__ = [
    "opt",
    "fetch_request",
    "config_to_proto",
    "config_from_json",
    "delete_to_proto",
    "scopes_messages",
    "names_messages",
    "configs_messages",
    "configs_from_proto",
    "schemas_messages",
    "schemas_from_proto",
    "groups_messages",
    "group_from_proto",
]

_DTYPE_OF_CODE = {code: dt for dt, code in STORED_DTYPES.items()}
_OVERHEAD = 1024
_ENTRY = 16  # a repeated entry's tag and length, and its submessage's
T = TypeVar("T")


def config_to_proto(scope: str, config: Mapping[str, Any]) -> dpb.Config:
    """A config as JSON text (InvalidArgumentError when not JSON-serialisable or past
    the limits of ``streamvis.limits``, checked before the recursive encoder sees it)."""
    check_config(config, f"scope {scope!r}: ")
    try:
        text = json.dumps(dict(config))
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"config of scope {scope!r} is not JSON: {exc}") from None
    return dpb.Config(scope=scope, json=text)


def delete_to_proto(scope: str, name: str | None) -> dpb.Delete:
    return dpb.Delete(scope=scope, name=name or "")


def config_from_json(cfg: dpb.Config) -> dict[str, Any]:
    try:
        value = json.loads(cfg.json) if cfg.json else {}
    except ValueError as exc:
        raise InvalidArgumentError(f"config of scope {cfg.scope!r} is not JSON: {exc}") from None
    except RecursionError:
        raise InvalidArgumentError(
            f"config of scope {cfg.scope!r} is nested too deeply to read"
        ) from None
    if not isinstance(value, dict):
        raise InvalidArgumentError(f"config of scope {cfg.scope!r} must be a JSON object")
    return value


def fetch_request(
    scope: str | None = None,
    name: str | None = None,
    scope_pattern: str | None = None,
    name_pattern: str | None = None,
    since: str | None = None,
) -> spb.FetchRequest:
    """A FetchRequest with only the given selectors set."""
    args = dict(
        scope=scope, name=name, scope_pattern=scope_pattern, name_pattern=name_pattern, since=since
    )
    return spb.FetchRequest(**{k: v for k, v in args.items() if v is not None})


def opt(msg: Any, field_name: str) -> Any:
    """A proto3 optional field's value, or None when unset."""
    return getattr(msg, field_name) if msg.HasField(field_name) else None


def _short(text: str) -> str:
    """``text`` quoted, cut to 40 characters (a hostile 3 MB name is not echoed)."""
    return repr(text) if len(text) <= 40 else f"{text[:40]!r}... ({len(text):,} characters)"


def _runs(
    entries: Iterable[T], size_of: Callable[[T], int], limit: int, describe: Callable[[T], str]
) -> Iterator[list[T]]:
    """Consecutive entries whose sizes add up to under ``limit`` (always one run at least);
    InvalidArgumentError for an entry that no message can hold."""
    budget = limit - _OVERHEAD
    run: list[T] = []
    size = 0
    for entry in entries:
        n = size_of(entry) + _ENTRY
        if n > budget:
            raise InvalidArgumentError(
                f"{describe(entry)} takes {n:,} bytes, more than one message of the data "
                f"server holds ({limit:,} bytes): it cannot be listed; delete it, or serve "
                "and read with a larger --max-message-bytes"
            )
        if run and size + n > budget:
            yield run
            run, size = [], 0
        run.append(entry)
        size += n
    yield run


def _utf8(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def scopes_messages(scopes: Sequence[str], limit: int) -> Iterator[spb.ScopesReply]:
    """The scopes in replies under ``limit`` bytes."""
    for run in _runs(scopes, _utf8, limit, lambda s: f"the scope {_short(s)}"):
        yield spb.ScopesReply(scopes=run)


def names_messages(names: Sequence[str], limit: int) -> Iterator[spb.NamesReply]:
    """A scope's names in replies under ``limit`` bytes."""
    for run in _runs(names, _utf8, limit, lambda s: f"the name {_short(s)}"):
        yield spb.NamesReply(names=run)


def configs_messages(
    configs: Mapping[str, Mapping[str, Any]], limit: int
) -> Iterator[spb.ConfigsReply]:
    """The configs (JSON text per scope) in replies under ``limit`` bytes."""
    entries = [config_to_proto(s, c) for s, c in configs.items()]
    describe = lambda c: f"the config of scope {_short(c.scope)}"  # noqa: E731
    for run in _runs(entries, lambda c: c.ByteSize(), limit, describe):
        yield spb.ConfigsReply(configs=run)


def configs_from_proto(replies: Iterable[spb.ConfigsReply]) -> dict[str, dict[str, Any]]:
    """{scope: config} of a Configs reply stream."""
    return {c.scope: config_from_json(c) for reply in replies for c in reply.configs}


def schemas_messages(
    schemas: Mapping[str, Mapping[str, np.dtype]], limit: int
) -> Iterator[spb.SchemasReply]:
    """Every name's column dtypes in replies under ``limit`` bytes: a name with more
    columns than one reply holds continues in the next (same ``name``)."""
    cols: list[tuple[str, str | None, int]] = []
    for name, columns in schemas.items():
        cols.extend((name, c, STORED_DTYPES[np.dtype(d)]) for c, d in columns.items())
        if not columns:
            cols.append((name, None, 0))
    size_of = lambda e: _utf8(e[0]) + _utf8(e[1] or "") + 2 * _ENTRY  # noqa: E731
    describe = lambda e: f"the column {_short(e[1] or '')} of name {_short(e[0])}"  # noqa: E731
    for run in _runs(cols, size_of, limit, describe):
        reply = spb.SchemasReply()
        for name, col, code in run:
            if not reply.schemas or reply.schemas[-1].name != name:
                reply.schemas.add(name=name)
            if col is not None:
                reply.schemas[-1].columns.add(name=col, dtype=cast(Any, code))
        yield reply


def schemas_from_proto(replies: Iterable[spb.SchemasReply]) -> dict[str, dict[str, np.dtype]]:
    """{name: {column: dtype}} of a Schemas reply stream (a name's columns may span replies)."""
    out: dict[str, dict[str, np.dtype]] = {}
    for reply in replies:
        for ns in reply.schemas:
            out.setdefault(ns.name, {}).update(
                {c.name: _DTYPE_OF_CODE[c.dtype] for c in ns.columns}
            )
    return out


def groups_messages(groups: Sequence[GroupInfo], limit: int) -> Iterator[spb.GroupsReply]:
    """Groups in replies under ``limit`` bytes (always at least one reply)."""
    entries = []
    for g in groups:
        msg = spb.Group(scope=g.scope, name=g.name, index=g.index, count=g.count)
        if g.x_min is not None:
            msg.x_min = g.x_min
        if g.x_max is not None:
            msg.x_max = g.x_max
        entries.append(msg)
    describe = lambda g: f"the group {_short(g.scope)}/{_short(g.name)}"  # noqa: E731
    for run in _runs(entries, lambda g: g.ByteSize(), limit, describe):
        yield spb.GroupsReply(groups=run)


def group_from_proto(g: spb.Group) -> GroupInfo:
    nan = float("nan")
    return GroupInfo(
        scope=g.scope,
        name=g.name,
        index=g.index,
        count=g.count,
        x_min=g.x_min if g.HasField("x_min") else nan,
        x_max=g.x_max if g.HasField("x_max") else nan,
    )
