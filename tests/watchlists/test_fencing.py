"""The consumer's lease fence: late messages of an old lease pass, frames read after a newer owner began do not."""

from __future__ import annotations

from watchlists.fencing import LeaseFence


def test_fence() -> None:
    fence = LeaseFence(keep=3)
    assert fence.accept("gate", 1, 10.0)
    assert fence.accept("gate", 2, 20.0)  # the new owner begins at 20
    assert fence.accept("gate", 1, 19.5)  # late, but read under lease 1 before lease 2 began: valid
    assert not fence.accept("gate", 1, 20.0)  # lease 1's owner still reading after lease 2 began: stale
    assert fence.accept("other", 1, 25.0)  # per camera
    assert fence.accept("gate", None, 30.0)  # no fleet, no fence
    assert fence.accept("gate", 2, 15.0)  # an earlier frame of lease 2 arriving later moves its start back
    assert not fence.accept("gate", 1, 16.0)
    for token in range(3, 8):
        assert fence.accept("gate", token, 100.0 + token)
    assert len(fence._first["gate"]) == 3
