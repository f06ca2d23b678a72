"""Cooldown: one alert per camera, entry and key per period; memory stays bounded."""

from __future__ import annotations

import pytest

from watchlists.cooldown import Cooldown


@pytest.mark.parametrize(
    ("calls", "expected"),
    [
        # (camera, entry, time) -> allowed
        (
            [("gate", "a", 0.0), ("gate", "a", 10.0), ("gate", "a", 59.9), ("gate", "a", 60.0)],
            [True, False, False, True],
        ),
        ([("gate", "a", 0.0), ("gate", "b", 1.0), ("yard", "a", 2.0)], [True, True, True]),  # per camera and entry
        (
            [("gate", "a", 0.0), ("gate", "a", 30.0), ("gate", "a", 61.0), ("gate", "a", 90.0)],
            [True, False, True, False],
        ),
    ],
)
def test_allow(calls: list[tuple[str, str, float]], expected: list[bool]) -> None:
    cooldown = Cooldown(60)
    assert [cooldown.allow(camera, entry, now) for camera, entry, now in calls] == expected


def test_period_runs_from_the_last_alert_not_the_last_sighting() -> None:
    cooldown = Cooldown(10)
    seen_every_second = [cooldown.allow("gate", "a", float(t)) for t in range(25)]
    assert [t for t, allowed in enumerate(seen_every_second) if allowed] == [0, 10, 20]


def test_key_separates_tracks() -> None:
    cooldown = Cooldown(60)
    assert cooldown.allow("gate", "a", 0.0, key=1)
    assert cooldown.allow("gate", "a", 1.0, key=2)
    assert not cooldown.allow("gate", "a", 2.0, key=1)


def test_zero_allows_everything() -> None:
    cooldown = Cooldown(0)
    assert all(cooldown.allow("gate", "a", 5.0) for _ in range(3))


def test_expired_keys_are_forgotten() -> None:
    cooldown = Cooldown(10)
    for i in range(1000):
        cooldown.allow(f"cam{i}", "a", float(i) / 100)
    assert len(cooldown) == 1000
    cooldown.allow("gate", "a", 100.0)
    assert len(cooldown) == 1


def test_max_keys_bounds_memory() -> None:
    cooldown = Cooldown(3600, max_keys=100)
    for i in range(1000):
        assert cooldown.allow("gate", f"entry{i}", float(i))
    assert len(cooldown) == 100
    assert not cooldown.allow("gate", "entry999", 1000.0)  # the newest keys are kept
    assert cooldown.allow("gate", "entry0", 1000.0)  # the oldest was dropped: it alerts again


@pytest.mark.parametrize(("seconds", "max_keys"), [(-1, 10), (10, 0)])
def test_bad_arguments(seconds: float, max_keys: int) -> None:
    with pytest.raises(ValueError, match="cooldown"):
        Cooldown(seconds, max_keys)


def test_inactive_entries_are_never_allowed() -> None:
    """With ``active`` (the live watchlist), a removed or expired entry never alerts, and starts no period."""
    active = {"a": True, "gone": False}
    cooldown = Cooldown(60, active=lambda entry_id, now: active.get(entry_id, False) and now < 100)
    assert cooldown.allow("gate", "a", now=0.0)
    assert not cooldown.allow("gate", "gone", now=0.0)
    assert not cooldown.allow("gate", "a", now=100.0)  # expired meanwhile
    active["gone"] = True
    assert cooldown.allow("gate", "gone", now=1.0)  # refusing it did not start a period
