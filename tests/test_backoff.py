"""Idle followers back off (issue 12): ``IdleBackoff`` and ``streamvis tail``."""

from __future__ import annotations

import uuid

import numpy as np
import pytest
from click.testing import CliRunner

from streamvis.backoff import IdleBackoff
from streamvis.server import cli
from streamvis.storage import Points, Store


def test_waits_grow_while_idle_up_to_the_ceiling_and_reset_on_data() -> None:
    b = IdleBackoff(0.2, ceiling=8.0)
    waits = [b.after(False) for _ in range(12)]
    assert waits[0] == pytest.approx(0.3) and waits == sorted(waits)
    assert waits[-1] == 8.0 and max(waits) == 8.0
    assert sum(1 for w in waits if w < 8.0) <= 10  # at the ceiling within ~20 s of idling
    assert b.after(True) == 0.2  # data: the configured rate at once
    assert b.after(False) == pytest.approx(0.3)


def test_timer_driven_followers_skip_ticks_while_idle() -> None:
    now = [0.0]
    b = IdleBackoff(1.0, ceiling=8.0, clock=lambda: now[0])
    polls = 0
    for tick in range(600):  # ten minutes of a 1 s periodic callback, nothing new
        now[0] = float(tick)
        if b.due():
            polls += 1
            b.record(False)
    assert polls <= 600 / 8 + 10  # about one poll per ceiling, not one per tick
    b.record(True)
    now[0] += 1.0
    assert b.due()  # data came: back to every tick
    b.wake()
    assert b.due()


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="interval"):
        IdleBackoff(0)


def test_tail_backs_off_while_idle_and_returns_to_its_rate(monkeypatch) -> None:
    url = f"memory://tail-{uuid.uuid4().hex}/runs.svl"
    writer = Store.open(url, "a")
    writer.append([Points("run", "loss", 0, {"x": np.arange(1), "y": np.zeros(1)})])
    sleeps: list[float] = []

    def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 8:  # after 8 empty polls, a point arrives
            writer.append([Points("run", "loss", 0, {"x": np.array([7]), "y": np.ones(1)})])
        if len(sleeps) == 11:
            writer.append([Points("run", "loss", 0, {"x": np.array([8]), "y": np.ones(1)})])

    monkeypatch.setattr(cli.time, "sleep", fake_sleep)
    result = CliRunner().invoke(
        cli.tail_cmd, [url, "--count", "2", "--interval", "0.2", "--max-interval", "2"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["run loss 0 x=7 y=1.0", "run loss 0 x=8 y=1.0"]
    assert sleeps[:8] == sorted(sleeps[:8]) and sleeps[7] == 2.0  # grew to the ceiling
    assert sleeps[8] == pytest.approx(0.3)  # data came: back to the configured rate
    writer.close()
