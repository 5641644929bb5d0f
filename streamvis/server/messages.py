"""Small request and reply conversions: selectors, configs, schemas, groups.

The bulky payloads (points as columns, chunking) are in ``wire``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, cast

import numpy as np

from streamvis.errors import InvalidArgumentError
from streamvis.proto import data_pb2 as dpb
from streamvis.proto import service_pb2 as spb
from streamvis.storage.codec import STORED_DTYPES
from streamvis.storage.model import GroupInfo

__all__ = [
    "opt",
    "fetch_request",
    "config_to_proto",
    "config_from_json",
    "delete_to_proto",
    "configs_to_proto",
    "configs_from_proto",
    "schemas_to_proto",
    "schemas_from_proto",
    "groups_messages",
    "group_from_proto",
]

_DTYPE_OF_CODE = {code: dt for dt, code in STORED_DTYPES.items()}
_OVERHEAD = 1024


def config_to_proto(scope: str, config: Mapping[str, Any]) -> dpb.Config:
    """A config as JSON text (InvalidArgumentError when not JSON-serialisable)."""
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


def schemas_to_proto(schemas: Mapping[str, Mapping[str, np.dtype]]) -> spb.SchemasReply:
    reply = spb.SchemasReply()
    for name, cols in schemas.items():
        ns = reply.schemas.add(name=name)
        for col, dtype in cols.items():
            ns.columns.add(name=col, dtype=cast(Any, STORED_DTYPES[np.dtype(dtype)]))
    return reply


def schemas_from_proto(reply: spb.SchemasReply) -> dict[str, dict[str, np.dtype]]:
    return {
        ns.name: {c.name: _DTYPE_OF_CODE[c.dtype] for c in ns.columns} for ns in reply.schemas
    }


def groups_messages(groups: Sequence[GroupInfo], limit: int) -> Iterator[spb.GroupsReply]:
    """Groups in replies under ``limit`` bytes (always at least one reply)."""
    reply, size = spb.GroupsReply(), 0
    for g in groups:
        msg = spb.Group(scope=g.scope, name=g.name, index=g.index, count=g.count)
        if g.x_min is not None:
            msg.x_min = g.x_min
        if g.x_max is not None:
            msg.x_max = g.x_max
        if reply.groups and size + msg.ByteSize() + 8 > limit - _OVERHEAD:
            yield reply
            reply, size = spb.GroupsReply(), 0
        reply.groups.append(msg)
        size += msg.ByteSize() + 8
    yield reply


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


def configs_to_proto(configs: Mapping[str, Mapping[str, Any]]) -> spb.ConfigsReply:
    return spb.ConfigsReply(configs=[config_to_proto(s, c) for s, c in configs.items()])


def configs_from_proto(reply: spb.ConfigsReply) -> dict[str, dict[str, Any]]:
    return {c.scope: config_from_json(c) for c in reply.configs}
