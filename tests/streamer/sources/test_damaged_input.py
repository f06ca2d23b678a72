"""Damaged input is reported: a file cut mid-stream, or a stream of undecodable data, warns and counts (log,
observer, Prometheus counter)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from streamer.service.metric_hooks import CameraMetrics
from streamer.service.metrics import Metrics
from streamer.sources.buffers import FrameBufferGroup
from streamer.sources.camera import CameraReader, CameraState
from streamer.sources.integrity import DeclaredLength, FaultKind, truncation_fault
from tests.streamer.sources.support import (
    MjpegCameraHandler,
    RecordingObserver,
    http_camera,
    start_reader,
    wait_until,
)

FRAMES = 60
FPS = 15.0


def _write_video(path: Path, frames: int = FRAMES) -> Path:
    """An MJPEG AVI: its header declares the frame count, and FFmpeg reads a cut copy up to the cut."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), FPS, (160, 120))
    for index in range(frames):
        image = np.random.default_rng(index).integers(0, 255, (120, 160, 3), dtype=np.uint8)
        writer.write(image)
    writer.release()
    return path


def _cut(path: Path, target: Path) -> Path:
    data = path.read_bytes()
    target.write_bytes(data[: len(data) // 2])
    return target


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("damaged")
    whole = _write_video(folder / "whole.avi")
    return whole, _cut(whole, folder / "cut.avi")


def _run_to_end(
    readers: list[CameraReader], source: Path, observer: object, camera_id: str = "file-cam", **fields: object
) -> CameraReader:
    """Reads ``source`` to its end; nothing consumes the frames, so drop_oldest keeps the reader going."""
    reader = start_reader(
        readers, FrameBufferGroup(), observer, id=camera_id, source=str(source), full_policy="drop_oldest", **fields
    )
    wait_until(lambda: reader.state is CameraState.STOPPED, timeout=15.0, what="the end of the file")
    return reader


def test_a_cut_file_warns_and_counts(
    readers: list[CameraReader], videos: tuple[Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    _, cut = videos
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    metrics.declare_camera("file-cam")
    observer = RecordingObserver()
    reader = _run_to_end(readers, cut, CameraMetrics(metrics))  # the service's observer: metrics and log
    _run_to_end(readers, cut, observer, camera_id="file-cam-2")  # the events themselves
    stats = reader.stats
    assert 0 < stats.frames_read < FRAMES
    assert stats.faults == 1
    assert stats.state_reason == "ended early (truncated or damaged)"
    assert observer.of("fault") == ["truncated"]
    counted = registry.get_sample_value(
        "vehiclewatch_source_faults_total", {"camera": "file-cam", "fault": "truncated"}
    )
    assert counted == 1.0
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(
        "camera file-cam: truncated input: file ended early (" in w and f"of {FRAMES} frames" in w for w in warnings
    )


def test_a_cut_mp4_warns(readers: list[CameraReader], tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # An MP4 with its index first ("faststart", as cameras and web tools write them): FFmpeg plays it to the cut.
    # (Cut one with its index at the end and it does not open at all: "cannot decode video file", a fatal error.)
    av = pytest.importorskip("av", reason="PyAV writes the faststart MP4")
    whole = tmp_path / "whole.mp4"
    with av.open(str(whole), "w", options={"movflags": "faststart"}) as container:
        stream = container.add_stream("mpeg4", rate=round(FPS))
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        for index in range(FRAMES):
            image = np.random.default_rng(index).integers(0, 255, (120, 160, 3), dtype=np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")))
        container.mux(stream.encode())
    caplog.set_level(logging.INFO)
    observer = RecordingObserver()
    _run_to_end(readers, _cut(whole, tmp_path / "cut.mp4"), observer)
    assert observer.of("fault") == ["truncated"]
    assert any("truncated input: file ended early" in r.getMessage() for r in caplog.records)


def test_a_whole_file_ends_quietly(
    readers: list[CameraReader], videos: tuple[Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    whole, _ = videos
    observer = RecordingObserver()
    _run_to_end(readers, whole, observer)
    assert readers[0].stats.frames_read == FRAMES
    assert readers[0].stats.state_reason == "ended"
    assert observer.of("fault") == []
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_looping_cut_file_counts_every_pass_and_warns_once(
    readers: list[CameraReader], videos: tuple[Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    _, cut = videos
    observer = RecordingObserver()
    group = FrameBufferGroup()
    reader = start_reader(
        readers, group, observer, id="loop-cam", source=str(cut), loop=True, full_policy="drop_oldest"
    )
    wait_until(lambda: len(observer.of("fault")) >= 3, timeout=15.0, what="three passes")
    reader.stop()
    assert set(observer.of("fault")) == {"truncated"}
    assert len([r for r in caplog.records if "truncated input" in r.getMessage() and r.levelno == logging.WARNING]) == 1


@pytest.mark.parametrize(
    ("frames_read", "last_position_s", "declared", "truncated"),
    [
        (60, 59 / 15, DeclaredLength(60, 15.0), False),
        (59, 58 / 15, DeclaredLength(60, 15.0), False),  # a frame or two short: container rounding, not damage
        (26, 25 / 15, DeclaredLength(60, 15.0), True),
        (26, None, DeclaredLength(60, None), True),
        (10, 9 / 15, DeclaredLength(None, 15.0), False),  # nothing declared: nothing to compare with
        (900, 66.6, DeclaredLength(1000, 15.0), False),  # fewer frames than the estimate, but the duration reached
    ],
)
def test_truncation_rule(
    frames_read: int, last_position_s: float | None, declared: DeclaredLength, truncated: bool
) -> None:
    fault = truncation_fault(frames_read, last_position_s, declared)
    assert (fault is not None) == truncated
    if fault is not None:
        assert fault.kind is FaultKind.TRUNCATED


class GarbledMjpegHandler(MjpegCameraHandler):
    """An MJPEG stream whose parts turn to noise after ``good_parts`` good ones."""

    good_parts = 5

    def parts(self) -> Iterator[bytes]:
        ok, jpeg = cv2.imencode(".jpg", np.full((48, 64, 3), 100, np.uint8))
        assert ok
        good = jpeg.tobytes()
        for index in range(200):
            noise = np.random.default_rng(index).integers(0, 255, len(good) - 200, dtype=np.uint8).tobytes()
            yield good if index < self.good_parts else good[:200] + noise


@pytest.fixture
def garbled_url() -> Iterator[str]:
    with http_camera(GarbledMjpegHandler) as url:
        yield url


def test_a_stream_of_undecodable_data_warns_and_counts(
    readers: list[CameraReader], garbled_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    observer = RecordingObserver()
    reader = start_reader(readers, FrameBufferGroup(), observer, id="ipcam", source=garbled_url, read_timeout_s=2.0)
    wait_until(lambda: len(observer.of("fault")) >= 2, timeout=20.0, what="two connections to fail")
    reader.stop()
    assert observer.of("fault")[:2] == ["undecodable", "undecodable"]
    assert reader.stats.faults >= 2
    warnings = [r.getMessage() for r in caplog.records if "undecodable input" in r.getMessage()]
    assert (
        len([r for r in caplog.records if "undecodable input" in r.getMessage() and r.levelno == logging.WARNING]) == 1
    )
    assert "while its server still answers" in warnings[0]
