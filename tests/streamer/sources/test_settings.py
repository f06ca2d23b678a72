"""CameraSettings: source kinds, resolved defaults, validation, and no credentials in repr or errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pydantic
import pytest

from streamer.sources.settings import CameraSettings, SourceConfigError, SourceKind, source_kind

SECRET = "s3cr3t-Pa55"


@pytest.mark.parametrize(
    ("source", "expected", "error"),
    [
        ("videos/highway.mp4", SourceKind.FILE, None),
        ("/abs/path/clip.avi", SourceKind.FILE, None),
        ("file:///abs/clip.mp4", SourceKind.FILE, None),
        ("rtsp://admin:x@10.0.0.5/s", SourceKind.RTSP, None),
        ("RTSPS://cam/s", SourceKind.RTSP, None),
        ("http://cam/video.mjpg", SourceKind.HTTP, None),
        ("https://cam/live.m3u8", SourceKind.HTTP, None),
        ("0", SourceKind.WEBCAM, None),
        ("12", SourceKind.WEBCAM, None),
        ("/dev/video2", SourceKind.WEBCAM, None),
        ("rtmp://cam/live", None, "unsupported scheme 'rtmp'"),
        ("   ", None, "empty"),
    ],
)
def test_source_kind(source: str, expected: SourceKind | None, error: str | None) -> None:
    if error is not None:
        with pytest.raises(SourceConfigError, match=error):
            source_kind(source)
    else:
        assert source_kind(source) is expected


@pytest.mark.parametrize(
    ("fields", "paced", "policy"),
    [
        ({"source": "clip.mp4"}, False, "block"),
        ({"source": "clip.mp4", "pace": True}, True, "drop_oldest"),
        ({"source": "clip.mp4", "pace": False, "full_policy": "drop_newest"}, False, "drop_newest"),
        ({"source": "rtsp://cam/s"}, True, "drop_oldest"),
        ({"source": "rtsp://cam/s", "full_policy": "block"}, True, "block"),
        ({"source": "http://cam/v.mjpg"}, True, "drop_oldest"),
        ({"source": "0"}, True, "drop_oldest"),
    ],
)
def test_resolved_defaults(fields: dict[str, Any], paced: bool, policy: str) -> None:
    settings = CameraSettings(id="cam", **fields)
    assert settings.paced is paced
    assert settings.effective_full_policy == policy


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"id": "gate-1.north_2", "source": "x.mp4"}, None),
        ({"id": "", "source": "x.mp4"}, "id"),
        ({"id": "bad id", "source": "x.mp4"}, "id"),
        ({"id": "cam/1", "source": "x.mp4"}, "id"),
        ({"id": "cam", "source": ""}, "source"),
        ({"id": "cam", "source": "x.mp4", "colour": "red"}, "colour"),
        ({"id": "cam", "source": "x.mp4", "buffer_size": 0}, "buffer_size"),
        ({"id": "cam", "source": "x.mp4", "detect_fps": 0}, "detect_fps"),
        ({"id": "cam", "source": "x.mp4", "full_policy": "newest"}, "full_policy"),
        ({"id": "cam", "source": "rtsp://c/s", "rtsp_transport": "http"}, "rtsp_transport"),
        ({"id": "cam", "source": "x.mp4", "max_restarts": -1}, "max_restarts"),
        ({"id": "cam", "source": "x.mp4", "backoff_initial_s": 5, "backoff_max_s": 1}, "backoff_max_s"),
        ({"id": "cam", "source": "rtsp://c/s", "loop": True}, "loop applies to video files only"),
        ({"id": "cam", "source": "udp://c:1234"}, "unsupported scheme"),
    ],
)
def test_validation(fields: dict[str, Any], error: str | None) -> None:
    if error is None:
        CameraSettings(**fields)
        return
    with pytest.raises(pydantic.ValidationError, match=error):
        CameraSettings(**fields)


def test_frozen() -> None:
    settings = CameraSettings(id="cam", source="x.mp4")
    with pytest.raises(pydantic.ValidationError):
        settings.loop = True  # type: ignore[misc]


def test_every_field_is_described() -> None:
    assert all(field.description for field in CameraSettings.model_fields.values())


def test_repr_and_str_hide_credentials() -> None:
    settings = CameraSettings(id="cam", source=f"rtsp://admin:{SECRET}@10.0.0.5:554/s?token={SECRET}")
    for text in (repr(settings), str(settings), settings.redacted_source):
        assert SECRET not in text
    assert "rtsp://***:***@10.0.0.5:554/s?token=***" in repr(settings)
    assert settings.source.get_secret_value().startswith("rtsp://admin:")  # the real value, on request only


@pytest.mark.parametrize(
    "fields",
    [
        {"id": "bad id", "source": f"rtsp://admin:{SECRET}@cam/s"},
        {"id": "cam", "source": f"rtsp://admin:{SECRET}@cam/s", "loop": True},
        {"id": "cam", "source": f"rtmp://admin:{SECRET}@cam/s"},
        {"id": "cam", "source": f"rtsp://admin:{SECRET}@cam/s", "extra": f"{SECRET}"},
    ],
)
def test_validation_errors_hide_credentials(fields: dict[str, Any]) -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        CameraSettings(**fields)
    assert SECRET not in str(caught.value)
    assert SECRET not in repr(caught.value)


def test_validate_source(tmp_path: Path) -> None:
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"")
    CameraSettings(id="cam", source=str(video)).validate_source()
    CameraSettings(id="cam", source=f"file://{video}").validate_source()
    CameraSettings(id="cam", source="rtsp://cam/s").validate_source()  # live sources are checked by connecting
    missing = tmp_path / "missing.mp4"
    with pytest.raises(SourceConfigError, match=r"^camera 'cam': video file not found: .*missing\.mp4$"):
        CameraSettings(id="cam", source=str(missing)).validate_source()
