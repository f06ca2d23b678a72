"""The detection schedule per camera: every k-th frame, motion-gated detection with a floor rate."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from classifiers.bank import ClassifierBank
from streamer.recognize.detect_gate import DetectionGate, DetectionGates, GateReason
from streamer.recognize.flow import Recognizer
from streamer.recognize.settings import DetectionScheduleSettings, MotionGateSettings, TrackingSettings
from streamer.service.config import load_settings
from streamer.service.metrics import Metrics
from streamer.service.wiring import Service
from streamer.sources.frames import Frame
from tests.streamer.recognize.support import Recorder
from tests.streamer.scene import make_scene
from watchlists.cooldown import Cooldown

H, W = 180, 320


def still(seed: int = 0) -> NDArray[np.uint8]:
    """A textured, static road scene."""
    return np.random.default_rng(seed).integers(60, 120, (H, W, 3), dtype=np.uint8)


def with_car(x: int, y: int = 80, size: int = 30) -> NDArray[np.uint8]:
    image = still()
    image[y : y + size, x : x + size] = (40, 40, 220)
    return image


def frames_of(images: list[NDArray[np.uint8]], fps: float = 10.0) -> list[Frame]:
    return [Frame("cam", i, 1000.0 + i / fps, i / fps, image) for i, image in enumerate(images)]


def motion(**fields: float) -> DetectionScheduleSettings:
    return DetectionScheduleSettings(motion=MotionGateSettings(enabled=True, **fields))


def test_every_frame_by_default() -> None:
    gate = DetectionGate(DetectionScheduleSettings())
    assert {gate.decide(f).reason for f in frames_of([still()] * 5)} == {GateReason.EVERY_FRAME}
    assert not DetectionGates({"cam": DetectionScheduleSettings()}).active


def test_every_kth_frame() -> None:
    gate = DetectionGate(DetectionScheduleSettings(every=3))
    detected = [f.index for f in frames_of([still()] * 10) if gate.decide(f).detect]
    assert detected == [0, 3, 6, 9]


def test_a_static_scene_is_detected_only_at_the_floor_rate() -> None:
    gate = DetectionGate(motion(full_frame_every_s=1.0))
    decisions = [gate.decide(f) for f in frames_of([still()] * 25)]  # 2.5 s at 10 fps
    assert [i for i, d in enumerate(decisions) if d.detect] == [0, 10, 20]
    assert decisions[0].reason is GateReason.MOTION  # nothing to compare the first frame with
    assert {d.reason for d in decisions[1:] if d.detect} == {GateReason.FLOOR}
    assert {d.reason for d in decisions if not d.detect} == {GateReason.NO_MOTION}


def test_a_moving_box_is_detected_with_its_region() -> None:
    gate = DetectionGate(motion(full_frame_every_s=100.0))
    images = [still()] * 3 + [with_car(40 + 12 * i) for i in range(6)]
    decisions = [gate.decide(f) for f in frames_of(images)]
    assert [d.detect for d in decisions] == [True, False, False] + [True] * 6
    x1, y1, x2, y2 = decisions[5].region or (0, 0, 0, 0)
    car_x = 40 + 12 * 2
    # The region covers where the car is (and where it was: the background still remembers it).
    assert x1 <= car_x
    assert x2 >= car_x + 30
    assert y1 <= 80
    assert y2 >= 110
    assert x2 - x1 < W / 2
    assert y2 - y1 < H / 2


def test_compression_noise_is_not_motion() -> None:
    rng = np.random.default_rng(1)
    base = still().astype(np.int16)
    noisy = [np.clip(base + rng.integers(-6, 7, base.shape), 0, 255).astype(np.uint8) for _ in range(10)]
    gate = DetectionGate(motion(full_frame_every_s=100.0))
    assert [gate.decide(f).detect for f in frames_of(noisy)] == [True] + [False] * 9


def test_a_looping_file_starts_its_floor_again() -> None:
    gate = DetectionGate(motion(full_frame_every_s=5.0))
    frames = frames_of([still()] * 3)
    looped = [Frame("cam", 3, 2000.0, 0.0, still())]  # stream time back to 0: the file started again
    assert [gate.decide(f).detect for f in frames + looped] == [True, False, False, True]


def test_frame_counts_scale_to_the_frames_a_camera_detects() -> None:
    settings = TrackingSettings()
    every_third = settings.for_frame_step(3)
    assert every_third.schedule.refresh_frames == 3  # 10 frames of stream time = 3.3 detected frames
    assert every_third.schedule.patience_frames == 5
    assert every_third.tracker.lost_frames == 10
    assert settings.for_frame_step(1) is settings
    recognizer = Recognizer(
        ClassifierBank([]), None, Cooldown(0.0), Recorder(), Metrics(), settings, frame_steps={"slow": 3}
    )
    assert recognizer.book("slow").schedule.refresh_frames == 3
    assert recognizer.book("slow").lost_frames == 11
    assert recognizer.book("other").schedule.refresh_frames == 10


@pytest.mark.parametrize(
    ("detection", "detected", "gated"),
    [
        ({"motion": {"enabled": True}}, 1, {"no_motion": 19}),  # a still scene: the first frame only
        ({"every": 4}, 5, {"interval": 15}),
        ({}, 20, {}),
    ],
)
def test_the_service_skips_frames_by_the_camera_schedule(
    tmp_path: Path, redis_url: str, detection: dict[str, object], detected: int, gated: dict[str, int]
) -> None:
    scene = make_scene(tmp_path, frames=20)
    settings = scene.settings(redis_url)
    settings["cameras"][0]["detection"] = detection
    service = Service(load_settings(None, settings))
    service.start()
    try:
        assert service.wait(threading.Event())
    finally:
        service.stop()
    sample = service.registry.get_sample_value
    assert sample("vehiclewatch_frames_read_total", {"camera": "cam1"}) == 20
    assert sample("vehiclewatch_frames_detected_total", {"camera": "cam1"}) == detected
    for reason, count in gated.items():
        assert sample("vehiclewatch_frames_gated_total", {"camera": "cam1", "reason": reason}) == count
