"""One program, two routes: torch's SummaryWriter + ``import-tb`` against ours.

Both logs must hold the same runs, names, dtypes, steps and values (bit for bit),
and the same configs; wall times are each writer's own clock, so they are checked
to be float64 seconds within the run's interval, in step order.
"""

from __future__ import annotations

import numpy as np
import pytest

from streamvis.columns import WALL_TIME_COLUMN
from tests.tensorboard.tb_support import (
    STEPS,
    import_tb,
    read_log,
    training_loop,
    without_wall_time,
)

pytest.importorskip("tensorboard")
torch_tb = pytest.importorskip("torch.utils.tensorboard")


@pytest.fixture(scope="module")
def both_logs(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("equiv")
    theirs_interval = training_loop(torch_tb.SummaryWriter, str(tmp / "runs" / "exp1"))
    assert import_tb(str(tmp / "runs"), str(tmp / "theirs.svl")) == 0
    from streamvis.tensorboard import SummaryWriter

    ours_interval = training_loop(SummaryWriter, str(tmp / "other" / "exp1"),
                                  path=str(tmp / "ours.svl"))
    return read_log(tmp / "theirs.svl"), read_log(tmp / "ours.svl"), theirs_interval, ours_interval


def test_same_runs_names_steps_and_values(both_logs) -> None:
    (theirs, theirs_cfg), (ours, ours_cfg), _, _ = both_logs
    assert sorted(ours) == sorted(theirs)
    runs = sorted({scope for scope, _ in ours})
    assert runs == ["exp1", "exp1/run_14h_xcosx", "exp1/run_14h_xsinx"]
    names = sorted(name for scope, name in ours if scope == "exp1")
    assert names == sorted([
        "Loss/train", "Loss/test", "acc", "ints", "no_step", "hparam/accuracy", "hparam/loss",
        "weights/layer1:hist", "weights/layer1:min", "weights/layer1:max", "weights/layer1:mean",
        "grads:hist", "grads:min", "grads:max", "grads:mean",
    ])
    assert without_wall_time(ours) == without_wall_time(theirs)
    loss = ours[("exp1", "Loss/train")]
    assert loss["x"].dtype == np.int64 and loss["y"].dtype == np.float32
    np.testing.assert_array_equal(loss["x"], np.arange(STEPS))
    assert ours[("exp1", "no_step")]["x"].tolist() == [0]
    assert ours[("exp1/run_14h_xsinx", "run_14h")]["x"].tolist() == list(range(STEPS))


def test_same_configs(both_logs) -> None:
    (_, theirs_cfg), (_, ours_cfg), _, _ = both_logs
    # TensorBoard keeps hparam numbers as doubles (and torch writes True as 1.0);
    # ours keeps the types given: equal as numbers
    assert ours_cfg == theirs_cfg
    assert ours_cfg["exp1"] == {"lr": 0.01, "batch": 32, "opt": "adam", "nesterov": True,
                                "text.note": "at step 20"}


def test_histograms_are_drawable_groups(both_logs) -> None:
    _, (ours, _), _, _ = both_logs
    h = ours[("exp1", "weights/layer1:hist")]
    assert sorted(np.unique(h["step"]).tolist()) == [0, 10, 20]
    for step in (0, 10, 20):
        sel = h["step"] == step
        assert h["count"][sel].sum() == 500
        assert np.all(h["left"][sel] <= h["right"][sel])
        mean = ours[("exp1", "weights/layer1:mean")]
        assert abs(mean["y"][mean["x"] == step][0] - step) < 0.3


def test_wall_times_are_per_point_and_in_the_run(both_logs) -> None:
    (theirs, _), (ours, _), (t0, t1), (o0, o1) = both_logs
    for log, (lo, hi) in ((theirs, (t0, t1)), (ours, (o0, o1))):
        for key, cols in log.items():
            wt = cols[WALL_TIME_COLUMN]
            assert wt.dtype == np.float64, key
            assert np.all((wt >= lo - 1e-3) & (wt <= hi + 1e-3)), key
        wt = log[("exp1", "Loss/train")][WALL_TIME_COLUMN]
        assert np.all(np.diff(wt) >= 0)
