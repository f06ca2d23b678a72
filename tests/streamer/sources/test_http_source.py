"""A real HTTP MJPEG stream (multipart/x-mixed-replace, as IP cameras serve it) read through OpenCV's FFmpeg."""

from __future__ import annotations

import time
from collections.abc import Iterator

import cv2
import numpy as np
import pytest

from streamer.sources.buffers import FrameBuffer
from streamer.sources.camera import CameraReader, CameraState
from streamer.sources.frames import Frame
from streamer.sources.settings import CameraSettings, SourceKind
from tests.streamer.sources.support import MjpegCameraHandler, http_camera

FRAMES = 40


class MjpegHandler(MjpegCameraHandler):
    def parts(self) -> Iterator[bytes]:
        for i in range(FRAMES):
            ok, jpeg = cv2.imencode(".jpg", np.full((48, 64, 3), (i * 6) % 256, np.uint8))
            assert ok
            yield jpeg.tobytes()


@pytest.fixture
def mjpeg_url() -> Iterator[str]:
    with http_camera(MjpegHandler) as url:
        yield url


def test_reader_streams_frames_from_http_mjpeg(mjpeg_url: str) -> None:
    settings = CameraSettings(id="ipcam", source=mjpeg_url, open_timeout_s=5, read_timeout_s=2, max_restarts=0)
    assert settings.kind is SourceKind.HTTP
    buffer = FrameBuffer(capacity=64, policy="drop_oldest")
    reader = CameraReader(settings, buffer)
    reader.start()
    frames: list[Frame] = []
    deadline = time.monotonic() + 15
    while len(frames) < 10 and time.monotonic() < deadline:
        frame = buffer.pop()
        if frame is None:
            time.sleep(0.02)
            continue
        frames.append(frame)
    assert reader.state in (CameraState.STREAMING, CameraState.RECONNECTING, CameraState.STOPPED)
    reader.stop()
    assert len(frames) >= 10
    assert frames[0].image.shape == (48, 64, 3)
    assert all(f.camera_id == "ipcam" for f in frames)
