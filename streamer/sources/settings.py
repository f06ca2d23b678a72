"""Settings of one camera: where its frames come from and how its reader behaves."""

from __future__ import annotations

import enum
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from common.paths import RelativeToConfig
from common.redaction import redact_url
from common.secrets import SecretUrl
from streamer.recognize.settings import DetectionScheduleSettings

__all__ = ["CameraSettings", "FullPolicy", "SourceConfigError", "SourceKind", "source_kind"]

FullPolicy = Literal["drop_oldest", "drop_newest", "block"]

_WEBCAM_DEVICE = re.compile(r"/dev/video\d+")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*)://")


class SourceConfigError(ValueError):
    """A camera source that cannot work as configured (unknown URL scheme, missing video file)."""


class SourceKind(enum.StrEnum):
    """What a camera source is, derived from its ``source`` string."""

    FILE = "file"
    RTSP = "rtsp"
    HTTP = "http"
    WEBCAM = "webcam"

    @property
    def is_live(self) -> bool:
        """Whether frames come at the camera's pace (everything but files)."""
        return self is not SourceKind.FILE


_KIND_BY_SCHEME = {
    "rtsp": SourceKind.RTSP,
    "rtsps": SourceKind.RTSP,
    "http": SourceKind.HTTP,
    "https": SourceKind.HTTP,
    "file": SourceKind.FILE,
}


def source_kind(source: str) -> SourceKind:
    """Classifies a camera source string.

    Args:
        source: a video file path, an ``rtsp://``/``rtsps://`` or ``http(s)://`` URL, a ``file://`` URL, a webcam
            index such as ``"0"`` or a V4L2 device such as ``"/dev/video0"``.

    Returns:
        The source's kind.

    Raises:
        SourceConfigError: the string is empty or has a URL scheme we do not read.
    """
    text = source.strip()
    if not text:
        raise SourceConfigError("camera source is empty")
    if text.isdigit() or _WEBCAM_DEVICE.fullmatch(text):
        return SourceKind.WEBCAM
    match = _SCHEME.match(text)
    if match is None:
        return SourceKind.FILE
    kind = _KIND_BY_SCHEME.get(match.group(1).lower())
    if kind is None:
        raise SourceConfigError(
            f"camera source {redact_url(text)!r} has unsupported scheme {match.group(1)!r}: "
            f"expected one of {', '.join(sorted(_KIND_BY_SCHEME))}, a file path or a webcam index"
        )
    return kind


class CameraSettings(BaseModel):
    """One camera: its source and how its reader thread decodes, decimates, buffers and reconnects.

    ``repr``/``str`` of the settings show the source with its credentials redacted, and validation errors never
    echo input values, so a password in ``source`` cannot leak through either.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    id: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_.\-]+$",
        description="Camera id used in frames, alerts, logs and metric labels (letters, digits, '_', '.', '-').",
    )
    source: Annotated[SecretUrl, RelativeToConfig()] = Field(
        description=(
            "Video file path, rtsp:// or rtsps:// URL, http(s):// MJPEG/HLS URL, or a webcam index ('0') or V4L2 "
            "device ('/dev/video0'). URL credentials are redacted everywhere they could be shown."
        ),
    )
    loop: bool = Field(default=False, description="Files only: start again from the beginning at the end.")
    pace: bool | None = Field(
        default=None,
        description=(
            "Files only: True plays the file at its native fps like a live camera; False (the default for files) "
            "reads as fast as the pipeline consumes. Live sources always run at the camera's pace."
        ),
    )
    detect_fps: float | None = Field(
        default=None,
        gt=0,
        description=(
            "Frames per second of stream time sent on to detection; frames in between are decoded and skipped. "
            "Decimation follows the stream position, so it is deterministic for files. None sends every frame."
        ),
    )
    detection: DetectionScheduleSettings = Field(
        default_factory=DetectionScheduleSettings,
        description="Which of the frames sent on go through the detector: every k-th, and only with motion.",
    )
    buffer_size: int = Field(default=4, ge=1, le=1024, description="Frames held between the reader and detection.")
    full_policy: FullPolicy | None = Field(
        default=None,
        description=(
            "What the reader does when the buffer is full: drop_oldest (newest frame wins), drop_newest, or block "
            "(wait for room). None means block for unpaced files (offline runs lose nothing) and drop_oldest for "
            "live and paced sources."
        ),
    )
    rtsp_transport: Literal["tcp", "udp"] = Field(default="tcp", description="RTSP only: RTP transport.")
    rtsp_analyze_s: float = Field(
        default=1.0,
        gt=0,
        le=10,
        description=(
            "RTSP only: seconds of stream FFmpeg examines when opening (its analyzeduration). FFmpeg's default (5) "
            "made every reconnect take 2 s; raise it for a stream whose video parameters come late."
        ),
    )
    open_timeout_s: float = Field(default=10.0, gt=0, description="Seconds to wait for a source to open.")
    read_timeout_s: float = Field(
        default=5.0,
        gt=0,
        description=(
            "Seconds a single frame read may block. On a hung RTSP camera OpenCV returns a late frame or two after "
            "each timeout before a read fails (about 3x this); the stall watchdog counts such reads as no frame."
        ),
    )
    stall_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="Watchdog: restart the camera when a read delivers no frame for this long.",
    )
    backoff_initial_s: float = Field(
        default=0.5, gt=0, description="Reconnect backoff cap after the first failure (doubles per failure)."
    )
    backoff_max_s: float = Field(default=30.0, gt=0, description="Largest reconnect backoff cap, in seconds.")
    max_restarts: int | None = Field(
        default=None,
        ge=0,
        description="Reconnects in a row without a frame before the camera gives up (stopped, 'failed'); None: never.",
    )

    @model_validator(mode="after")
    def _check_consistency(self) -> CameraSettings:
        kind = self.kind
        if kind.is_live and self.loop:
            raise SourceConfigError(f"camera {self.id!r}: loop applies to video files only, not {kind} sources")
        if self.backoff_max_s < self.backoff_initial_s:
            raise SourceConfigError(
                f"camera {self.id!r}: backoff_max_s ({self.backoff_max_s}) is below "
                f"backoff_initial_s ({self.backoff_initial_s})"
            )
        return self

    @property
    def kind(self) -> SourceKind:
        """The source's kind (file, rtsp, http or webcam), told from the redacted form: it keeps the scheme."""
        return source_kind(str(self.source))

    @property
    def redacted_source(self) -> str:
        """The source with credentials replaced by ``***``, safe for logs and errors (its display form)."""
        return str(self.source)

    @property
    def paced(self) -> bool:
        """Whether frames arrive in real time: always for live sources, on request for files."""
        return self.kind.is_live or bool(self.pace)

    @property
    def effective_full_policy(self) -> FullPolicy:
        """The buffer policy, with the default resolved: block for unpaced files, drop_oldest otherwise."""
        if self.full_policy is not None:
            return self.full_policy
        return "drop_oldest" if self.paced else "block"

    @property
    def file_path(self) -> Path:
        """The video file of a file source (``file://`` URLs are converted to paths)."""
        if self.kind is not SourceKind.FILE:
            raise SourceConfigError(f"camera {self.id!r}: source is a {self.kind} source, not a file")
        text = self.source.get_secret_value().strip()  # a file path: opened here
        return Path(text[len("file://") :] if text.lower().startswith("file://") else text).expanduser()

    def validate_source(self) -> None:
        """Start-up check of the source: a video file must exist. Live sources are checked by connecting.

        Raises:
            SourceConfigError: one line naming the camera and the missing file.
        """
        if self.kind is SourceKind.FILE:
            path = self.file_path
            if not path.is_file():
                raise SourceConfigError(f"camera {self.id!r}: video file not found: {path}")
