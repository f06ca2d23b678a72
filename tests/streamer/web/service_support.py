"""The whole service for the browser tests: synthetic colour and make models (red → Toyota), a looping generated
video on camera "gate", a real Redis, the web API and the history on; tracking off, so each frame's box alerts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis

from streamer.service.config import load_settings
from streamer.service.wiring import Service
from tests.streamer.scene import make_scene
from tests.streamer.web.support import MAKES, write_tokens
from tests.synthetic_classifier import make_color_classifier


@contextmanager
def running_service(
    tmp: Path,
    redis_url: str,
    *,
    watchlist: dict[str, Any],
    history: dict[str, Any],
    adaptation: dict[str, Any] | None = None,
) -> Iterator[Service]:
    """The started service (stopped on exit), with these ``watchlist``, ``history`` and
    ``classifiers.adaptation`` sections."""
    redis.Redis.from_url(redis_url).flushdb()
    scene = make_scene(tmp, frames=50, color="red")
    make = make_color_classifier(tmp / "make.onnx", task="make", labels=MAKES)
    classifiers: dict[str, Any] = {
        "models": [
            {"model": str(scene.classifier), "providers": ["cpu"]},
            {"model": str(make), "providers": ["cpu"]},
        ],
        "min_crop_size": 16,
        "abstain": {"enabled": False},
    }
    if adaptation is not None:
        classifiers["adaptation"] = adaptation
    settings = scene.settings(
        redis_url,
        cameras=[{"id": "gate", "source": str(scene.video), "loop": True, "pace": True}],
        classifiers=classifiers,
        watchlist=watchlist,
        tracking={"enabled": False},
        metrics={"enabled": False},
        web={"enabled": True, "port": 0, "tokens_file": str(write_tokens(tmp / "tokens.yaml"))},
        history={"enabled": True, **history},
    )
    running = Service(load_settings(None, settings))
    running.start()
    try:
        yield running
    finally:
        running.stop()
