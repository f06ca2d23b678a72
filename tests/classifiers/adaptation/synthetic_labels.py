"""A tiny labelled dataset for adaptation tests, read by the synthetic colour classifier (tests/synthetic_classifier).

Camera ``gate`` has a colour cast: its green vehicles come out blue-green, which the model calls blue (the kind of
systematic per-camera error an operator corrects: 'grey' for 'silver'); its blue and red vehicles are read right.
Camera ``yard`` is clean: the model reads every vehicle right.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from classifiers.adaptation.dataset import LabelledView, write_views

# BGR paint as each camera shows it.
GATE = {"green": (200, 150, 0), "blue": (255, 40, 0), "red": (0, 0, 255)}
YARD = {"green": (0, 255, 0), "blue": (255, 0, 0), "red": (0, 0, 255)}


def crop(bgr: tuple[int, int, int], rng: np.random.Generator, size: int = 40) -> bytes:
    """A PNG of a vehicle-sized patch of ``bgr`` with a little per-view noise."""
    image = np.clip(np.array(bgr, np.float64) + rng.normal(0, 6, (size, size, 3)), 0, 255).astype(np.uint8)
    ok, data = cv2.imencode(".png", image)
    assert ok
    return bytes(data.tobytes())


def labelled_dataset(
    folder: Path,
    *,
    per_color: int = 4,
    views: int = 2,
    cameras: dict[str, dict[str, tuple[int, int, int]]] | None = None,
    label: dict[str, str] | None = None,
    seed: int = 0,
) -> Path:
    """Writes ``per_color`` vehicles of each colour per camera, ``views`` crops each; returns the folder.

    ``label`` relabels a colour (e.g. ``{"green": "teal"}`` for a label the head does not know).
    """
    rng = np.random.default_rng(seed)
    rows: list[LabelledView] = []
    images: list[bytes | Path | None] = []
    for camera, paints in (cameras or {"gate": GATE, "yard": YARD}).items():
        for color, bgr in paints.items():
            for n in range(per_color):
                track = f"{color}{n}"
                shade = tuple(int(np.clip(c + rng.integers(-12, 13), 0, 255)) for c in bgr)
                for k in range(views):
                    rows.append(
                        LabelledView(
                            path=Path("crops") / f"{camera}_{track}_{k}.png",
                            camera_id=camera,
                            track=track,
                            time=1_700_000_000.0 + len(rows),
                            labels={"color": (label or {}).get(color, color)},
                            labelled_by="tester",
                            labelled_at="2026-12-06T04:00:00+00:00",
                        )
                    )
                    images.append(crop(shade, rng))  # type: ignore[arg-type]
    write_views(folder, rows, images)
    return folder
