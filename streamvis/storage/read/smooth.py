"""TensorBoard's debiased exponential moving average, vectorised, resumable.

Smoothing a decimated line gives a curve that changes with zoom (the min/max pairs
of a bucket are not the data); so range reads smooth the full-resolution column
first and decimate the smoothed series. TensorBoard's rule, per finite value v::

    last = weight * last + (1 - weight) * v      (last starts at 0)
    k += 1;  smoothed = last / (1 - weight ** k)

Non-finite values pass through unchanged and do not advance the state. The
recurrence is evaluated block-wise in closed form (``m_j = w^j (m_0 + (1-w) sum_i
w^-i v_i)``) with blocks short enough that ``w^-i`` stays finite, so 10M points cost
a few numpy passes, not a Python loop per point.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from streamvis.errors import InvalidArgumentError

__all__ = ["EmaState", "ema", "ema_runs", "check_weight"]

_MAX_EXP = 600.0  # w^-i <= e^600 stays well inside float64


@dataclass(frozen=True)
class EmaState:
    """Where a smoothing pass stopped: the undebiased mean and the finite count."""

    last: float = 0.0
    count: int = 0


def check_weight(weight: float) -> float:
    """``weight`` as a float in [0, 1); InvalidArgumentError otherwise."""
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 <= weight < 1:
        raise InvalidArgumentError(f"smoothing must be a number in [0, 1), got {weight!r}")
    return float(weight)


def ema(
    values: np.ndarray, weight: float, state: EmaState | None = None
) -> tuple[np.ndarray, EmaState]:
    """The debiased EMA of ``values`` (float64) continuing from ``state``, and the new state."""
    w = check_weight(weight)
    v = np.asarray(values, dtype=np.float64)
    state = state or EmaState()
    if w == 0.0 or v.size == 0:
        ok = np.isfinite(v)
        last = float(v[ok][-1]) if ok.any() else state.last
        return v.copy(), EmaState(last if w == 0.0 else state.last, state.count + int(ok.sum()))
    out = v.copy()
    finite = np.isfinite(v)
    f = v[finite] if not finite.all() else v
    smoothed, last = _recurrence(f, w, state.last)
    k = state.count + np.arange(1, f.size + 1, dtype=np.float64)
    debiased = smoothed / -np.expm1(k * math.log(w))
    if finite.all():
        out = debiased
    else:
        out[finite] = debiased
    return out, EmaState(last, state.count + f.size)


def ema_runs(values: np.ndarray, lengths: np.ndarray, weight: float, states: list[EmaState]
             ) -> tuple[np.ndarray, list[EmaState]]:
    """``ema`` of many short series end to end (series i: the next ``lengths[i]`` values,
    continuing from ``states[i]``), stepped together: one numpy pass per position, not a
    call per series (a poll's few new points of each of 1,000 runs). Equal to ``ema`` of
    each series up to float rounding; the smoothed values and each series' new state."""
    w = check_weight(weight)
    v = np.asarray(values, dtype=np.float64)
    lens = np.asarray(lengths, dtype=np.int64)
    if w == 0.0 or v.size == 0:
        parts = np.split(v, np.cumsum(lens)[:-1]) if lens.size else []
        done = [ema(p, w, st) for p, st in zip(parts, states, strict=True)]
        return (np.concatenate([d[0] for d in done]) if done else v.copy()), [d[1] for d in done]
    last = np.array([st.last for st in states], dtype=np.float64)
    count = np.array([st.count for st in states], dtype=np.float64)
    starts = np.concatenate(([0], np.cumsum(lens)[:-1]))
    out = v.copy()
    log_w = math.log(w)
    for j in range(int(lens.max()) if lens.size else 0):
        alive = np.flatnonzero(lens > j)
        at = starts[alive] + j
        fin = np.isfinite(v[at])  # non-finite values pass through and leave the state
        a, at = alive[fin], at[fin]
        last[a] = w * last[a] + (1.0 - w) * v[at]
        count[a] += 1
        out[at] = last[a] / -np.expm1(count[a] * log_w)
    return out, [EmaState(m, int(k)) for m, k in zip(last.tolist(), count.tolist(), strict=True)]


def _recurrence(v: np.ndarray, w: float, m0: float) -> tuple[np.ndarray, float]:
    """m_t = w m_{t-1} + (1 - w) v_t from m_{-1} = m0, for every t; and the last m."""
    n = v.size
    if n == 0:
        return v.copy(), m0
    block = max(1, min(n, int(_MAX_EXP / -math.log(w))))
    rows = -(-n // block)
    pad = rows * block - n
    vb = np.pad(v, (0, pad)).reshape(rows, block)
    j = np.arange(block, dtype=np.float64)
    grow = np.exp(-j * math.log(w))  # w^-j
    shrink = np.exp((j + 1) * math.log(w))  # w^(j+1)
    # each block from a zero start: local_j = (1-w) w^j sum_{i<=j} w^-i v_i
    local = (1.0 - w) * np.cumsum(vb * grow, axis=1) * (shrink / w)
    # carry block starts forward: m_start(b) = w^B m_start(b-1) + local_end(b-1)
    wb = shrink[-1]
    starts = np.empty(rows)
    m = m0
    ends = local[:, -1].tolist()
    for b in range(rows):
        starts[b] = m
        m = wb * m + ends[b]
    out = local + starts[:, None] * shrink[None, :]
    flat = out.reshape(-1)[:n]
    return flat, float(flat[-1])
