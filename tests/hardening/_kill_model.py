"""What the killed writers write: batch I of trial T is a pure function of (seed, T, I),
so the test can regenerate it and compare exact values without any channel but the log."""

from __future__ import annotations

import numpy as np

from streamvis.storage import ConfigUpdate, Points

LARGE_ROWS = (1_000_000, 1_600_000)  # > 1M rows of x:int64 + y:float64 split into 2 records
INDEX_STRIDE = 100_000  # group index = trial * INDEX_STRIDE + batch


def _sizes(rng: np.random.Generator) -> tuple[int, int]:
    large = rng.random() < 0.3
    n = int(rng.integers(*LARGE_ROWS)) if large else int(rng.integers(1, 3000))
    return n, int(rng.integers(1, 500))


def batch_sizes(seed: int, trial: int, i: int) -> tuple[int, int]:
    """Points of names "a" and "b" in batch ``i`` (cheap: no values generated)."""
    return _sizes(np.random.default_rng([seed, trial, i]))


def batch_arrays(seed: int, trial: int, i: int) -> dict[tuple[str, int], dict[str, np.ndarray]]:
    """{(name, index): columns} of batch ``i``: two names, "a" sometimes ~20 MB."""
    rng = np.random.default_rng([seed, trial, i])
    n, k = _sizes(rng)
    index = trial * INDEX_STRIDE + i
    return {
        ("a", index): {"x": np.arange(n, dtype=np.int64), "y": rng.standard_normal(n)},
        ("b", index): {
            "v": np.full(k, i, np.int32),
            "w": rng.integers(-(2**40), 2**40, size=k, dtype=np.int64),
        },
    }


def batch_config(trial: int, i: int) -> dict:
    return {"trial": trial, "batch": i}


def batch_items(seed: int, trial: int, i: int) -> list:
    items: list = [
        Points("run", name, index, cols) for (name, index), cols in batch_arrays(seed, trial, i).items()
    ]
    items.append(ConfigUpdate("cfg", batch_config(trial, i)))
    return items


def logger_chunk(seed: int, trial: int, i: int, start: int) -> tuple[np.ndarray, np.ndarray]:
    """Write ``i`` of a killed logger: points start..start+n, y a function of x."""
    rng = np.random.default_rng([seed, trial, i, 7])
    n = int(rng.integers(1, 120_000))
    x = np.arange(start, start + n, dtype=np.int64)
    return x, logger_y(x, trial)


def logger_y(x: np.ndarray, trial: int) -> np.ndarray:
    return x * 0.5 + trial
