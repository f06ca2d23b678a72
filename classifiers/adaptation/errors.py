"""The errors of camera adaptation: each one clear line, each a ``ValueError`` (bad input, exit status 2)."""

from __future__ import annotations


class AdaptationError(ValueError):
    """Adapting cannot go on with the input it was given (a label the head does not know, a missing extra)."""


class DatasetError(AdaptationError):
    """A labelled dataset folder is unusable; the message names the file and the row."""


class AdaptationFileError(AdaptationError):
    """An adapted head file is missing, corrupt, of another format version, or fitted on other labels."""


class NotEnoughLabelsError(AdaptationError):
    """Too few labelled vehicles on the camera to adapt and measure; the message says how many more are needed."""

    def __init__(self, camera_id: str, have: int, need: int) -> None:
        self.camera_id = camera_id
        self.have = have
        self.need = need
        super().__init__(
            f"camera {camera_id!r} has {have} labelled vehicle(s); adapting needs at least {need}: "
            f"label {need - have} more"
        )
