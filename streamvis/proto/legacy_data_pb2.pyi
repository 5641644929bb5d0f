import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class FieldType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FLOAT: _ClassVar[FieldType]
    INT: _ClassVar[FieldType]

class Action(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DELETE_SCOPE: _ClassVar[Action]
    DELETE_NAME: _ClassVar[Action]

class StoredType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SCOPE: _ClassVar[StoredType]
    NAME: _ClassVar[StoredType]
    DATA_ENTRY: _ClassVar[StoredType]
    CONFIG_ENTRY: _ClassVar[StoredType]
    DATA: _ClassVar[StoredType]
    CONFIG: _ClassVar[StoredType]
    CONTROL: _ClassVar[StoredType]
    INDEX: _ClassVar[StoredType]
    STRING: _ClassVar[StoredType]
FLOAT: FieldType
INT: FieldType
DELETE_SCOPE: Action
DELETE_NAME: Action
SCOPE: StoredType
NAME: StoredType
DATA_ENTRY: StoredType
CONFIG_ENTRY: StoredType
DATA: StoredType
CONFIG: StoredType
CONTROL: StoredType
INDEX: StoredType
STRING: StoredType

class Field(_message.Message):
    __slots__ = ("name", "type")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: FieldType
    def __init__(self, name: _Optional[str] = ..., type: _Optional[_Union[FieldType, str]] = ...) -> None: ...

class FloatList(_message.Message):
    __slots__ = ("value",)
    VALUE_FIELD_NUMBER: _ClassVar[int]
    value: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, value: _Optional[_Iterable[float]] = ...) -> None: ...

class IntList(_message.Message):
    __slots__ = ("value",)
    VALUE_FIELD_NUMBER: _ClassVar[int]
    value: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, value: _Optional[_Iterable[int]] = ...) -> None: ...

class Values(_message.Message):
    __slots__ = ("floats", "ints")
    FLOATS_FIELD_NUMBER: _ClassVar[int]
    INTS_FIELD_NUMBER: _ClassVar[int]
    floats: FloatList
    ints: IntList
    def __init__(self, floats: _Optional[_Union[FloatList, _Mapping]] = ..., ints: _Optional[_Union[IntList, _Mapping]] = ...) -> None: ...

class Scope(_message.Message):
    __slots__ = ("scope_id", "scope", "time")
    SCOPE_ID_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    scope_id: int
    scope: str
    time: _timestamp_pb2.Timestamp
    def __init__(self, scope_id: _Optional[int] = ..., scope: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Name(_message.Message):
    __slots__ = ("name_id", "scope_id", "name", "fields")
    NAME_ID_FIELD_NUMBER: _ClassVar[int]
    SCOPE_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    name_id: int
    scope_id: int
    name: str
    fields: _containers.RepeatedCompositeFieldContainer[Field]
    def __init__(self, name_id: _Optional[int] = ..., scope_id: _Optional[int] = ..., name: _Optional[str] = ..., fields: _Optional[_Iterable[_Union[Field, _Mapping]]] = ...) -> None: ...

class Control(_message.Message):
    __slots__ = ("scope", "name", "action")
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    scope: str
    name: str
    action: Action
    def __init__(self, scope: _Optional[str] = ..., name: _Optional[str] = ..., action: _Optional[_Union[Action, str]] = ...) -> None: ...

class DataEntry(_message.Message):
    __slots__ = ("entry_id", "name_id", "beg_offset", "end_offset")
    ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_ID_FIELD_NUMBER: _ClassVar[int]
    BEG_OFFSET_FIELD_NUMBER: _ClassVar[int]
    END_OFFSET_FIELD_NUMBER: _ClassVar[int]
    entry_id: int
    name_id: int
    beg_offset: int
    end_offset: int
    def __init__(self, entry_id: _Optional[int] = ..., name_id: _Optional[int] = ..., beg_offset: _Optional[int] = ..., end_offset: _Optional[int] = ...) -> None: ...

class ConfigEntry(_message.Message):
    __slots__ = ("entry_id", "scope_id", "beg_offset", "end_offset")
    ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    SCOPE_ID_FIELD_NUMBER: _ClassVar[int]
    BEG_OFFSET_FIELD_NUMBER: _ClassVar[int]
    END_OFFSET_FIELD_NUMBER: _ClassVar[int]
    entry_id: int
    scope_id: int
    beg_offset: int
    end_offset: int
    def __init__(self, entry_id: _Optional[int] = ..., scope_id: _Optional[int] = ..., beg_offset: _Optional[int] = ..., end_offset: _Optional[int] = ...) -> None: ...

class Data(_message.Message):
    __slots__ = ("entry_id", "index", "axes", "name_id")
    ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    AXES_FIELD_NUMBER: _ClassVar[int]
    NAME_ID_FIELD_NUMBER: _ClassVar[int]
    entry_id: int
    index: int
    axes: _containers.RepeatedCompositeFieldContainer[Values]
    name_id: int
    def __init__(self, entry_id: _Optional[int] = ..., index: _Optional[int] = ..., axes: _Optional[_Iterable[_Union[Values, _Mapping]]] = ..., name_id: _Optional[int] = ...) -> None: ...

class Config(_message.Message):
    __slots__ = ("entry_id", "attributes", "scope_id")
    ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    SCOPE_ID_FIELD_NUMBER: _ClassVar[int]
    entry_id: int
    attributes: _struct_pb2.Struct
    scope_id: int
    def __init__(self, entry_id: _Optional[int] = ..., attributes: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., scope_id: _Optional[int] = ...) -> None: ...
