"""The camera state machine: the table of legal transitions, and a machine that keeps to it."""

from __future__ import annotations

import pytest

from streamer.sources.camera_state import (
    ALLOWED_TRANSITIONS,
    CameraState,
    CameraStateMachine,
    InvalidTransitionError,
)

S = CameraState


def test_allowed_transitions_table() -> None:
    assert {(a, b) for a, targets in ALLOWED_TRANSITIONS.items() for b in targets} == {
        (S.NOT_STARTED, S.CONNECTING),
        (S.NOT_STARTED, S.STOPPED),
        (S.CONNECTING, S.STREAMING),
        (S.CONNECTING, S.RECONNECTING),
        (S.CONNECTING, S.STOPPED),
        (S.STREAMING, S.RECONNECTING),
        (S.STREAMING, S.STOPPED),
        (S.RECONNECTING, S.CONNECTING),
        (S.RECONNECTING, S.STOPPED),
    }


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ([S.CONNECTING, S.STREAMING, S.RECONNECTING, S.CONNECTING, S.STREAMING, S.STOPPED], None),
        ([S.CONNECTING, S.RECONNECTING, S.CONNECTING, S.STOPPED], None),
        ([S.STOPPED], None),
        ([S.STREAMING], "cannot go from not_started to streaming"),
        ([S.CONNECTING, S.CONNECTING], "cannot go from connecting to connecting"),
        ([S.CONNECTING, S.STREAMING, S.CONNECTING], "cannot go from streaming to connecting"),
        ([S.CONNECTING, S.RECONNECTING, S.STREAMING], "cannot go from reconnecting to streaming"),
        ([S.STOPPED, S.CONNECTING], "cannot go from stopped to connecting"),
    ],
)
def test_state_machine(path: list[CameraState], error: str | None) -> None:
    machine = CameraStateMachine("cam")
    *ok, last = path
    for state in ok:
        machine.transition(state, f"to {state}")
    if error is None:
        assert machine.transition(last, "done") is (ok[-1] if ok else S.NOT_STARTED)
        assert (machine.state, machine.reason) == (last, "done")
    else:
        with pytest.raises(InvalidTransitionError, match=f"camera 'cam': {error}"):
            machine.transition(last)
        assert machine.state is (ok[-1] if ok else S.NOT_STARTED)
