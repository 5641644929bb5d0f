"""Column codec: every array comes back bit-identical, whatever encoding was picked."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from streamvis.errors import InvalidArgumentError
from streamvis.proto import data_pb2 as pb
from streamvis.storage.format.codec import decode_column, encode_column, normalize_array

stored = st.sampled_from([np.float32, np.float64, np.int32, np.int64])


@given(stored.flatmap(lambda dt: hnp.arrays(dt, st.integers(0, 300))))
def test_round_trip_is_bit_identical(arr: np.ndarray) -> None:
    col = encode_column("c", arr)
    back = decode_column(pb.Column.FromString(col.SerializeToString()))
    assert back.dtype == arr.dtype and back.tobytes() == arr.tobytes()


@pytest.mark.parametrize(
    "values,dtype",
    [
        ([-715827904, 0, 715827904], np.int32),  # found by the state machine: step * n overflows
        ([2**31 - 3, 2**31 - 2, 2**31 - 1], np.int32),
        ([-(2**62), 0, 2**62], np.int64),
        ([2**63 - 1, 0, -(2**63) + 1], np.int64),
        (list(range(0, 3000, 3)), np.int64),
    ],
)
def test_arithmetic_progressions_use_linear_and_survive_the_limits(values, dtype) -> None:
    arr = np.array(values, dtype=dtype)
    col = encode_column("x", arr)
    assert col.encoding == pb.LINEAR and len(col.data) == 2 * arr.itemsize
    assert decode_column(col).tobytes() == arr.tobytes()


def test_steps_cost_nothing_and_random_floats_stay_raw() -> None:
    steps = encode_column("x", np.arange(100_000, dtype=np.int64))
    assert len(steps.data) == 16
    noise = encode_column("y", np.random.default_rng(0).random(100_000).astype(np.float32))
    assert noise.encoding == pb.RAW  # compressing noise would only slow reads


@pytest.mark.parametrize(
    "value,dtype",
    [
        (np.array([True, False]), np.int32),
        (np.array([1, 2], np.uint8), np.int32),
        (np.array([1, 2], np.uint32), np.int64),
        (np.array([1.5], np.float16), np.float32),
        (np.array([1, 2], ">i8"), np.int64),
    ],
)
def test_narrow_dtypes_are_widened(value, dtype) -> None:
    out = normalize_array(value)
    assert out.dtype == dtype and out.tolist() == value.astype(dtype).tolist()


@pytest.mark.parametrize("value", [np.array(["a"]), np.array([1 + 2j]), np.array([2**64 - 1], np.uint64), [object()]])
def test_non_numbers_are_refused_with_the_dtype_named(value) -> None:
    with pytest.raises(InvalidArgumentError, match="dtype|uint64"):
        normalize_array(value, column="y")
