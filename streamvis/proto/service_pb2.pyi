from streamvis.proto import data_pb2 as _data_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ListMediaRequest(_message.Message):
    __slots__ = ("scope_pattern",)
    SCOPE_PATTERN_FIELD_NUMBER: _ClassVar[int]
    scope_pattern: str
    def __init__(self, scope_pattern: _Optional[str] = ...) -> None: ...

class MediaName(_message.Message):
    __slots__ = ("scope", "name", "kind", "steps")
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    scope: str
    name: str
    kind: str
    steps: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, scope: _Optional[str] = ..., name: _Optional[str] = ..., kind: _Optional[str] = ..., steps: _Optional[_Iterable[int]] = ...) -> None: ...

class ListMediaReply(_message.Message):
    __slots__ = ("names",)
    NAMES_FIELD_NUMBER: _ClassVar[int]
    names: _containers.RepeatedCompositeFieldContainer[MediaName]
    def __init__(self, names: _Optional[_Iterable[_Union[MediaName, _Mapping]]] = ...) -> None: ...

class ReadMediaRequest(_message.Message):
    __slots__ = ("scope", "name", "steps")
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    scope: str
    name: str
    steps: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, scope: _Optional[str] = ..., name: _Optional[str] = ..., steps: _Optional[_Iterable[int]] = ...) -> None: ...

class ReadMediaReply(_message.Message):
    __slots__ = ("image", "text")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    image: _data_pb2.Image
    text: _data_pb2.Text
    def __init__(self, image: _Optional[_Union[_data_pb2.Image, _Mapping]] = ..., text: _Optional[_Union[_data_pb2.Text, _Mapping]] = ...) -> None: ...

class SummariesRequest(_message.Message):
    __slots__ = ("names", "stats", "scope_pattern")
    NAMES_FIELD_NUMBER: _ClassVar[int]
    STATS_FIELD_NUMBER: _ClassVar[int]
    SCOPE_PATTERN_FIELD_NUMBER: _ClassVar[int]
    names: _containers.RepeatedScalarFieldContainer[str]
    stats: _containers.RepeatedScalarFieldContainer[str]
    scope_pattern: str
    def __init__(self, names: _Optional[_Iterable[str]] = ..., stats: _Optional[_Iterable[str]] = ..., scope_pattern: _Optional[str] = ...) -> None: ...

class AggregateRequest(_message.Message):
    __slots__ = ("name", "group_by", "agg", "band", "scope_pattern", "x_name", "smoothing", "scopes", "only_scopes", "follow")
    NAME_FIELD_NUMBER: _ClassVar[int]
    GROUP_BY_FIELD_NUMBER: _ClassVar[int]
    AGG_FIELD_NUMBER: _ClassVar[int]
    BAND_FIELD_NUMBER: _ClassVar[int]
    SCOPE_PATTERN_FIELD_NUMBER: _ClassVar[int]
    X_NAME_FIELD_NUMBER: _ClassVar[int]
    SMOOTHING_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    ONLY_SCOPES_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_FIELD_NUMBER: _ClassVar[int]
    name: str
    group_by: str
    agg: str
    band: str
    scope_pattern: str
    x_name: str
    smoothing: float
    scopes: _containers.RepeatedScalarFieldContainer[str]
    only_scopes: bool
    follow: bool
    def __init__(self, name: _Optional[str] = ..., group_by: _Optional[str] = ..., agg: _Optional[str] = ..., band: _Optional[str] = ..., scope_pattern: _Optional[str] = ..., x_name: _Optional[str] = ..., smoothing: _Optional[float] = ..., scopes: _Optional[_Iterable[str]] = ..., only_scopes: _Optional[bool] = ..., follow: _Optional[bool] = ...) -> None: ...

class TableReply(_message.Message):
    __slots__ = ("arrow_ipc", "group_json", "keys", "notes", "grid_start", "grid_width")
    ARROW_IPC_FIELD_NUMBER: _ClassVar[int]
    GROUP_JSON_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    GRID_START_FIELD_NUMBER: _ClassVar[int]
    GRID_WIDTH_FIELD_NUMBER: _ClassVar[int]
    arrow_ipc: bytes
    group_json: str
    keys: _containers.RepeatedScalarFieldContainer[str]
    notes: _containers.RepeatedScalarFieldContainer[str]
    grid_start: float
    grid_width: float
    def __init__(self, arrow_ipc: _Optional[bytes] = ..., group_json: _Optional[str] = ..., keys: _Optional[_Iterable[str]] = ..., notes: _Optional[_Iterable[str]] = ..., grid_start: _Optional[float] = ..., grid_width: _Optional[float] = ...) -> None: ...

class TableChunk(_message.Message):
    __slots__ = ("scope", "name", "columns", "request")
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    scope: str
    name: str
    columns: _containers.RepeatedCompositeFieldContainer[_data_pb2.Column]
    request: int
    def __init__(self, scope: _Optional[str] = ..., name: _Optional[str] = ..., columns: _Optional[_Iterable[_Union[_data_pb2.Column, _Mapping]]] = ..., request: _Optional[int] = ...) -> None: ...

class Item(_message.Message):
    __slots__ = ("points", "config", "delete", "image", "text", "continued")
    POINTS_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    DELETE_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    CONTINUED_FIELD_NUMBER: _ClassVar[int]
    points: _data_pb2.Points
    config: _data_pb2.Config
    delete: _data_pb2.Delete
    image: _data_pb2.Image
    text: _data_pb2.Text
    continued: bool
    def __init__(self, points: _Optional[_Union[_data_pb2.Points, _Mapping]] = ..., config: _Optional[_Union[_data_pb2.Config, _Mapping]] = ..., delete: _Optional[_Union[_data_pb2.Delete, _Mapping]] = ..., image: _Optional[_Union[_data_pb2.Image, _Mapping]] = ..., text: _Optional[_Union[_data_pb2.Text, _Mapping]] = ..., continued: _Optional[bool] = ...) -> None: ...

class AppendRequest(_message.Message):
    __slots__ = ("writer_id", "seq", "items")
    WRITER_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    writer_id: bytes
    seq: int
    items: _containers.RepeatedCompositeFieldContainer[Item]
    def __init__(self, writer_id: _Optional[bytes] = ..., seq: _Optional[int] = ..., items: _Optional[_Iterable[_Union[Item, _Mapping]]] = ...) -> None: ...

class AppendReply(_message.Message):
    __slots__ = ("duplicate", "cursor")
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    duplicate: bool
    cursor: str
    def __init__(self, duplicate: _Optional[bool] = ..., cursor: _Optional[str] = ...) -> None: ...

class WriteReply(_message.Message):
    __slots__ = ("cursor",)
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    cursor: str
    def __init__(self, cursor: _Optional[str] = ...) -> None: ...

class ScopesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ScopesReply(_message.Message):
    __slots__ = ("scopes",)
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    scopes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, scopes: _Optional[_Iterable[str]] = ...) -> None: ...

class NamesRequest(_message.Message):
    __slots__ = ("scope",)
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    scope: str
    def __init__(self, scope: _Optional[str] = ...) -> None: ...

class NamesReply(_message.Message):
    __slots__ = ("names",)
    NAMES_FIELD_NUMBER: _ClassVar[int]
    names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, names: _Optional[_Iterable[str]] = ...) -> None: ...

class ConfigsRequest(_message.Message):
    __slots__ = ("scope_pattern",)
    SCOPE_PATTERN_FIELD_NUMBER: _ClassVar[int]
    scope_pattern: str
    def __init__(self, scope_pattern: _Optional[str] = ...) -> None: ...

class ConfigsReply(_message.Message):
    __slots__ = ("configs",)
    CONFIGS_FIELD_NUMBER: _ClassVar[int]
    configs: _containers.RepeatedCompositeFieldContainer[_data_pb2.Config]
    def __init__(self, configs: _Optional[_Iterable[_Union[_data_pb2.Config, _Mapping]]] = ...) -> None: ...

class SchemasRequest(_message.Message):
    __slots__ = ("scope",)
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    scope: str
    def __init__(self, scope: _Optional[str] = ...) -> None: ...

class ColumnType(_message.Message):
    __slots__ = ("name", "dtype")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    name: str
    dtype: _data_pb2.DType
    def __init__(self, name: _Optional[str] = ..., dtype: _Optional[_Union[_data_pb2.DType, str]] = ...) -> None: ...

class NameSchema(_message.Message):
    __slots__ = ("name", "columns")
    NAME_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    name: str
    columns: _containers.RepeatedCompositeFieldContainer[ColumnType]
    def __init__(self, name: _Optional[str] = ..., columns: _Optional[_Iterable[_Union[ColumnType, _Mapping]]] = ...) -> None: ...

class SchemasReply(_message.Message):
    __slots__ = ("schemas",)
    SCHEMAS_FIELD_NUMBER: _ClassVar[int]
    schemas: _containers.RepeatedCompositeFieldContainer[NameSchema]
    def __init__(self, schemas: _Optional[_Iterable[_Union[NameSchema, _Mapping]]] = ...) -> None: ...

class GroupsRequest(_message.Message):
    __slots__ = ("scope_pattern", "name_pattern")
    SCOPE_PATTERN_FIELD_NUMBER: _ClassVar[int]
    NAME_PATTERN_FIELD_NUMBER: _ClassVar[int]
    scope_pattern: str
    name_pattern: str
    def __init__(self, scope_pattern: _Optional[str] = ..., name_pattern: _Optional[str] = ...) -> None: ...

class Group(_message.Message):
    __slots__ = ("scope", "name", "index", "count", "x_min", "x_max")
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    X_MIN_FIELD_NUMBER: _ClassVar[int]
    X_MAX_FIELD_NUMBER: _ClassVar[int]
    scope: str
    name: str
    index: int
    count: int
    x_min: float
    x_max: float
    def __init__(self, scope: _Optional[str] = ..., name: _Optional[str] = ..., index: _Optional[int] = ..., count: _Optional[int] = ..., x_min: _Optional[float] = ..., x_max: _Optional[float] = ...) -> None: ...

class GroupsReply(_message.Message):
    __slots__ = ("groups", "cursor")
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    groups: _containers.RepeatedCompositeFieldContainer[Group]
    cursor: str
    def __init__(self, groups: _Optional[_Iterable[_Union[Group, _Mapping]]] = ..., cursor: _Optional[str] = ...) -> None: ...

class CursorRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CursorReply(_message.Message):
    __slots__ = ("cursor",)
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    cursor: str
    def __init__(self, cursor: _Optional[str] = ...) -> None: ...

class FetchRequest(_message.Message):
    __slots__ = ("scope", "name", "scope_pattern", "name_pattern", "since")
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SCOPE_PATTERN_FIELD_NUMBER: _ClassVar[int]
    NAME_PATTERN_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    scope: str
    name: str
    scope_pattern: str
    name_pattern: str
    since: str
    def __init__(self, scope: _Optional[str] = ..., name: _Optional[str] = ..., scope_pattern: _Optional[str] = ..., name_pattern: _Optional[str] = ..., since: _Optional[str] = ...) -> None: ...

class ReadRangeRequest(_message.Message):
    __slots__ = ("scope", "name", "index", "x_min", "x_max", "max_points", "upto", "smoothing", "x_column")
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    X_MIN_FIELD_NUMBER: _ClassVar[int]
    X_MAX_FIELD_NUMBER: _ClassVar[int]
    MAX_POINTS_FIELD_NUMBER: _ClassVar[int]
    UPTO_FIELD_NUMBER: _ClassVar[int]
    SMOOTHING_FIELD_NUMBER: _ClassVar[int]
    X_COLUMN_FIELD_NUMBER: _ClassVar[int]
    scope: str
    name: str
    index: int
    x_min: float
    x_max: float
    max_points: int
    upto: int
    smoothing: float
    x_column: str
    def __init__(self, scope: _Optional[str] = ..., name: _Optional[str] = ..., index: _Optional[int] = ..., x_min: _Optional[float] = ..., x_max: _Optional[float] = ..., max_points: _Optional[int] = ..., upto: _Optional[int] = ..., smoothing: _Optional[float] = ..., x_column: _Optional[str] = ...) -> None: ...

class ReadRangesRequest(_message.Message):
    __slots__ = ("ranges",)
    RANGES_FIELD_NUMBER: _ClassVar[int]
    ranges: _containers.RepeatedCompositeFieldContainer[ReadRangeRequest]
    def __init__(self, ranges: _Optional[_Iterable[_Union[ReadRangeRequest, _Mapping]]] = ...) -> None: ...

class Tombstone(_message.Message):
    __slots__ = ("scope", "name")
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    scope: str
    name: str
    def __init__(self, scope: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class FetchReply(_message.Message):
    __slots__ = ("reset", "deleted", "tables", "end_of_batch", "cursor", "counts")
    RESET_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    TABLES_FIELD_NUMBER: _ClassVar[int]
    END_OF_BATCH_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    reset: bool
    deleted: _containers.RepeatedCompositeFieldContainer[Tombstone]
    tables: _containers.RepeatedCompositeFieldContainer[TableChunk]
    end_of_batch: bool
    cursor: str
    counts: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, reset: _Optional[bool] = ..., deleted: _Optional[_Iterable[_Union[Tombstone, _Mapping]]] = ..., tables: _Optional[_Iterable[_Union[TableChunk, _Mapping]]] = ..., end_of_batch: _Optional[bool] = ..., cursor: _Optional[str] = ..., counts: _Optional[_Iterable[int]] = ...) -> None: ...
