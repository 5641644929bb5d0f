"""Any logged value as x (``x=NAME``): a run's points placed at the value NAME had at
the same step of the same run.

Joined on the step: where NAME logged the step, its value there (the mean of its
points at that step); between two steps NAME logged, linear between them; before
NAME's first step and past its last, nothing (NaN: the point is not drawn). NaN values
of NAME are skipped, as if not logged.
"""

from __future__ import annotations

import numpy as np

__all__ = ["x_by_name"]


def x_by_name(steps: np.ndarray, name_steps: np.ndarray, name_values: np.ndarray) -> np.ndarray:
    """The value of NAME (logged as ``name_values`` at ``name_steps``) at each of ``steps``."""
    steps = np.asarray(steps, dtype=np.float64)
    ns = np.asarray(name_steps, dtype=np.float64)
    nv = np.asarray(name_values, dtype=np.float64)
    ok = ~np.isnan(nv)
    ns, nv = ns[ok], nv[ok]
    out = np.full(steps.shape, np.nan)
    if ns.size == 0:
        return out
    us, inv = np.unique(ns, return_inverse=True)
    uv = np.bincount(inv, weights=nv, minlength=us.size) / np.bincount(inv, minlength=us.size)
    inside = (steps >= us[0]) & (steps <= us[-1])
    out[inside] = np.interp(steps[inside], us, uv)
    return out
