"""Helpers of the fleet's process tests: a blinking-car video, a worker config, worker processes, fleet state."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import cv2
import numpy as np
import redis
import yaml

from streamer.fleet.leases import LeaseOwner, LeaseTable
from streamer.fleet.settings import DEFAULT_PREFIX
from streamer.fleet.status import CameraStatus, read_statuses
from tests.streamer.scene import BGR, BOX
from tests.synthetic_classifier import make_color_classifier
from tests.synthetic_detector import make_fixed_box_detector

LEASE_TTL_S = 2.0
CYCLE_S = 0.5
TRACKS_STREAM = "vehiclewatch:tracks"


def write_blinking_car_video(path: Path, frames: int = 20, fps: float = 10.0) -> Path:
    """A car on a light background for the first half of the frames, then black frames: with a detector whose
    scores scale with the image's brightness, each loop makes one track that starts and ends (a track event)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (64, 64))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {path}")
    for i in range(frames):
        image = np.zeros((64, 64, 3), np.uint8)
        if i < frames // 2:
            image[:] = 200
            cv2.rectangle(image, BOX[:2], (BOX[2] - 1, BOX[3] - 1), BGR["red"], thickness=-1)
        writer.write(image)
    writer.release()
    return path


def write_worker_config(directory: Path, redis_url: str, **fleet: Any) -> Path:
    """The config every worker of a test shares (synthetic models, track events on, short leases)."""
    config = {
        "detector": {
            "model": str(make_fixed_box_detector(directory / "det.onnx", BOX, "car", 0.9, gate_by_brightness=True)),
            "providers": ["cpu"],
            "confidence": 0.2,
            "min_box_size": 8,
            "intra_op_threads": 1,
        },
        "classifiers": {
            "models": [{"model": str(make_color_classifier(directory / "color.onnx"))}],
            "min_crop_size": 16,
        },
        "tracking": {
            "tracker": {"activation_confidence": 0.2, "high_confidence": 0.2, "lost_frames": 3},
            "events": {"enabled": True, "stream": TRACKS_STREAM, "snapshot": False},
        },
        "redis": {"url": redis_url},
        "metrics": {"host": "127.0.0.1", "port": 0},
        "fleet": {"lease_ttl_s": LEASE_TTL_S, "reload_interval_s": CYCLE_S, "capacity": 8, **fleet},
        "log_level": "INFO",
    }
    path = directory / "worker.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def camera_file(directory: Path, video: Path, ids: list[str]) -> Path:
    path = directory / "cameras.yaml"
    cameras = [{"id": c, "source": str(video), "loop": True, "pace": True, "labels": {"site": "test"}} for c in ids]
    path.write_text(yaml.safe_dump({"cameras": cameras}))
    return path


def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "streamer", *args], capture_output=True, text=True, timeout=60, check=False
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


@dataclass
class WorkerProcess:
    worker_id: str
    process: subprocess.Popen[str]
    log: Path

    @classmethod
    def start(cls, directory: Path, config: Path, worker_id: str) -> WorkerProcess:
        data = directory / f"data-{worker_id}"  # each worker its own spool, as on its own machine
        data.mkdir(exist_ok=True)
        log = directory / f"{worker_id}.log"
        runs = 1
        while log.exists():  # a second process with the same id (the duplicate-id test) logs apart
            runs += 1
            log = directory / f"{worker_id}-{runs}.log"
        env = {**os.environ, "XDG_DATA_HOME": str(data), "OMP_NUM_THREADS": "1"}
        command = [sys.executable, "-m", "streamer", "run", "--worker", "--worker-id", worker_id]
        command += ["--config", str(config), "--quiet"]
        with log.open("w") as out:
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, text=True, env=env)
        return cls(worker_id, process, log)

    def output(self) -> str:
        return self.log.read_text()

    def terminate(self, timeout: float = 20.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)


class Fleet:
    """The fleet's state as `vehiclewatch cameras list` reads it: lease owners and camera statuses."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.leases = LeaseTable(client, DEFAULT_PREFIX)

    def owners(self, ids: list[str]) -> dict[str, LeaseOwner]:
        return self.leases.owners(ids)

    def statuses(self, ids: list[str]) -> dict[str, CameraStatus]:
        return read_statuses(self.client, DEFAULT_PREFIX, ids)

    def producing(self, ids: list[str], since: float, excluding: str | None = None) -> dict[str, str]:
        """Cameras owned (by a worker other than ``excluding``) whose owner reported a frame read after ``since``:
        camera → owner."""
        owners, statuses = self.owners(ids), self.statuses(ids)
        out = {}
        for camera in ids:
            owner, status = owners.get(camera), statuses.get(camera)
            if owner is None or status is None or owner.worker_id == excluding:
                continue
            fresh = status.last_frame_at is not None and status.last_frame_at > since
            if status.worker_id == owner.worker_id and status.token == owner.token and fresh:
                out[camera] = owner.worker_id
        return out


def wait_until(condition: Callable[[], bool], timeout: float, what: str, poll: float = 0.05) -> float:
    """Polls ``condition``; returns the time it first held (time.time()), fails naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return time.time()
        assert time.monotonic() < deadline, f"timed out after {timeout:.0f} s waiting for {what}"
        time.sleep(poll)


def track_events(client: redis.Redis) -> list[dict[str, Any]]:
    """Every track summary on the stream (camera state events left out)."""
    entries = cast(list[tuple[bytes, dict[bytes, bytes]]], client.xrange(TRACKS_STREAM))
    return [json.loads(fields[b"track"]) for _, fields in entries if b"track" in fields]
