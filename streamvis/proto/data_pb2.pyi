from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DTYPE_UNSPECIFIED: _ClassVar[DType]
    FLOAT32: _ClassVar[DType]
    FLOAT64: _ClassVar[DType]
    INT32: _ClassVar[DType]
    INT64: _ClassVar[DType]

class Encoding(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RAW: _ClassVar[Encoding]
    ZSTD: _ClassVar[Encoding]
    DELTA: _ClassVar[Encoding]
    DELTA_ZSTD: _ClassVar[Encoding]
    LINEAR: _ClassVar[Encoding]
    BITS_DELTA_ZSTD: _ClassVar[Encoding]
DTYPE_UNSPECIFIED: DType
FLOAT32: DType
FLOAT64: DType
INT32: DType
INT64: DType
RAW: Encoding
ZSTD: Encoding
DELTA: Encoding
DELTA_ZSTD: Encoding
LINEAR: Encoding
BITS_DELTA_ZSTD: Encoding

class Column(_message.Message):
    __slots__ = ("name", "dtype", "encoding", "length", "data")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    name: str
    dtype: DType
    encoding: Encoding
    length: int
    data: bytes
    def __init__(self, name: _Optional[str] = ..., dtype: _Optional[_Union[DType, str]] = ..., encoding: _Optional[_Union[Encoding, str]] = ..., length: _Optional[int] = ..., data: _Optional[bytes] = ...) -> None: ...

class Points(_message.Message):
    __slots__ = ("scope", "name", "index", "columns", "count", "x_min", "x_max")
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    X_MIN_FIELD_NUMBER: _ClassVar[int]
    X_MAX_FIELD_NUMBER: _ClassVar[int]
    scope: str
    name: str
    index: int
    columns: _containers.RepeatedCompositeFieldContainer[Column]
    count: int
    x_min: float
    x_max: float
    def __init__(self, scope: _Optional[str] = ..., name: _Optional[str] = ..., index: _Optional[int] = ..., columns: _Optional[_Iterable[_Union[Column, _Mapping]]] = ..., count: _Optional[int] = ..., x_min: _Optional[float] = ..., x_max: _Optional[float] = ...) -> None: ...

class Config(_message.Message):
    __slots__ = ("scope", "json")
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    JSON_FIELD_NUMBER: _ClassVar[int]
    scope: str
    json: str
    def __init__(self, scope: _Optional[str] = ..., json: _Optional[str] = ...) -> None: ...

class Delete(_message.Message):
    __slots__ = ("scope", "name")
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    scope: str
    name: str
    def __init__(self, scope: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class Image(_message.Message):
    __slots__ = ("scope", "name", "step", "png", "width", "height", "channels", "wall_time")
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    PNG_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    WALL_TIME_FIELD_NUMBER: _ClassVar[int]
    scope: str
    name: str
    step: int
    png: bytes
    width: int
    height: int
    channels: int
    wall_time: float
    def __init__(self, scope: _Optional[str] = ..., name: _Optional[str] = ..., step: _Optional[int] = ..., png: _Optional[bytes] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., channels: _Optional[int] = ..., wall_time: _Optional[float] = ...) -> None: ...

class Text(_message.Message):
    __slots__ = ("scope", "name", "step", "text", "wall_time")
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    WALL_TIME_FIELD_NUMBER: _ClassVar[int]
    scope: str
    name: str
    step: int
    text: str
    wall_time: float
    def __init__(self, scope: _Optional[str] = ..., name: _Optional[str] = ..., step: _Optional[int] = ..., text: _Optional[str] = ..., wall_time: _Optional[float] = ...) -> None: ...

class Header(_message.Message):
    __slots__ = ("format_version", "log_id", "generation")
    FORMAT_VERSION_FIELD_NUMBER: _ClassVar[int]
    LOG_ID_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    format_version: int
    log_id: bytes
    generation: int
    def __init__(self, format_version: _Optional[int] = ..., log_id: _Optional[bytes] = ..., generation: _Optional[int] = ...) -> None: ...

class Commit(_message.Message):
    __slots__ = ("record_count",)
    RECORD_COUNT_FIELD_NUMBER: _ClassVar[int]
    record_count: int
    def __init__(self, record_count: _Optional[int] = ...) -> None: ...

class Record(_message.Message):
    __slots__ = ("wall_time", "writer_id", "seq", "header", "points", "config", "delete", "commit", "image", "text")
    WALL_TIME_FIELD_NUMBER: _ClassVar[int]
    WRITER_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    HEADER_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    DELETE_FIELD_NUMBER: _ClassVar[int]
    COMMIT_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    wall_time: float
    writer_id: bytes
    seq: int
    header: Header
    points: Points
    config: Config
    delete: Delete
    commit: Commit
    image: Image
    text: Text
    def __init__(self, wall_time: _Optional[float] = ..., writer_id: _Optional[bytes] = ..., seq: _Optional[int] = ..., header: _Optional[_Union[Header, _Mapping]] = ..., points: _Optional[_Union[Points, _Mapping]] = ..., config: _Optional[_Union[Config, _Mapping]] = ..., delete: _Optional[_Union[Delete, _Mapping]] = ..., commit: _Optional[_Union[Commit, _Mapping]] = ..., image: _Optional[_Union[Image, _Mapping]] = ..., text: _Optional[_Union[Text, _Mapping]] = ...) -> None: ...
