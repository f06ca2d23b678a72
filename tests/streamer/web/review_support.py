"""What the review API and page tests share: a history seeded with track sightings (real JPEG snapshots) and a
fake camera adapter that answers reports the way the real one will."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from streamer.history.settings import HistorySettings
from streamer.history.store import SightingsStore, row_values

T0 = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
COLORS_BGR = {"red": (30, 30, 210), "green": (30, 180, 30), "blue": (200, 40, 30)}
MAKE_OF = {"red": "Toyota", "green": "Honda", "blue": "Ford"}


def history_settings(folder: Path) -> HistorySettings:
    return HistorySettings(
        enabled=True, database=f"sqlite:///{folder / 'history.sqlite3'}", snapshots_dir=folder / "snapshots"
    )


def seed(
    settings: HistorySettings, cars: list[str], camera: str = "gate", kind: str = "track", start: int = 0
) -> list[str]:
    """One sighting per colour in ``cars`` (the service answered the colour and its make), newest last; their ids."""
    assert settings.database is not None
    assert settings.snapshots_dir is not None
    store = SightingsStore.open(settings.database.get_secret_value())
    ids = []
    try:
        for n, color in enumerate(cars, start=start):
            sighting_id = f"{camera}-{kind}-{n}"
            image = np.zeros((72, 96, 3), np.uint8)
            image[:] = COLORS_BGR[color]
            shot = settings.snapshots_dir / f"{sighting_id}.jpg"
            shot.parent.mkdir(parents=True, exist_ok=True)
            assert cv2.imwrite(str(shot), image)
            seen = T0 + timedelta(minutes=n)
            store.insert(
                row_values(
                    message_id=sighting_id,
                    kind=kind,
                    camera_id=camera,
                    track_id=n + 1,
                    first_seen=seen,
                    last_seen=seen + timedelta(seconds=4),
                    detector_class="car",
                    labels={
                        "color": [{"label": color, "prob": 0.91}],
                        "make": [{"label": MAKE_OF[color], "prob": 0.62}],
                    },
                    entry_id="red-toyota" if kind == "alert" else None,
                    score=0.8 if kind == "alert" else None,
                    snapshot=str(shot),
                )
            )
            ids.append(sighting_id)
    finally:
        store.close()
    return ids


class FakeAdapter:
    """Records the calls; answers a report shaped like `classifiers.adaptation`'s `AdaptationReport`."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []

    def adapt(self, camera_id: str, who: str) -> dict[str, Any]:
        self.calls.append(("adapt", camera_id, who))
        if camera_id == "empty":
            raise ValueError("too few labels on camera empty: label 3 more vehicles")
        return {
            "camera_id": camera_id,
            "deployed": True,
            "version": "v0001",
            "reason": "beats the base head on held-aside vehicles",
            "fields": {"make": {"method": "prior", "before": {"accuracy": 0.5}, "after": {"accuracy": 0.75}}},
        }

    def rollback(self, camera_id: str, who: str) -> dict[str, Any]:
        self.calls.append(("rollback", camera_id, who))
        return {"camera_id": camera_id, "version": None, "reason": "back to the base model"}
