"""Contact sheets of camera crops for labelling by eye: one row per track, each crop enlarged and numbered."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from classifiers.color.clip_frames import cut_crop, iter_frames

ImageArray = NDArray[np.uint8]

CELL_HEIGHT = 170
CELL_MAX_WIDTH = 300
ROWS_PER_SHEET = 6
_TEXT = 22


@dataclass(frozen=True)
class SheetRow:
    """One crop to show: where it comes from, the row (track) it belongs to and its caption.

    Attributes:
        id: caption (the candidate id).
        clip: clip name (a key of the clips mapping).
        frame: frame index.
        box: detector box.
        group: the row it is shown in (``clip/track``).
        reference: a labelled crop of the same vehicle, shown first in the row (or None).
    """

    id: str
    clip: str
    frame: int
    box: tuple[float, float, float, float]
    group: str
    reference: Path | None

    @classmethod
    def of(cls, row: Mapping[str, str], dev_root: Path, dev_rows: Sequence[Mapping[str, str]]) -> SheetRow:
        """From a candidate row; its dev vehicle's first crop (if any) is the reference."""
        reference = None
        if row.get("same_as"):
            first = next(r for r in dev_rows if (r["same_as"] or r["id"]) == row["same_as"])
            reference = dev_root / first["crop_path"]
        box = (float(row["x1"]), float(row["y1"]), float(row["x2"]), float(row["y2"]))
        return cls(row["id"], row["clip"], int(row["frame"]), box, f"{row['clip']}/{row['track']}", reference)


def _cell(image: ImageArray, caption: str) -> ImageArray:
    scale = min(CELL_HEIGHT / image.shape[0], CELL_MAX_WIDTH / image.shape[1])
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    resized = cv2.resize(image, size, interpolation=cv2.INTER_NEAREST if scale > 1 else cv2.INTER_AREA)
    cell = np.full((CELL_HEIGHT + _TEXT, max(size[0], 8 * len(caption)) + 6, 3), 255, np.uint8)
    cell[: size[1], : size[0]] = resized
    cv2.putText(cell, caption, (2, CELL_HEIGHT + 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return cell


def _hstack(cells: Sequence[ImageArray]) -> ImageArray:
    width = sum(c.shape[1] for c in cells) + 4 * len(cells)
    row = np.full((CELL_HEIGHT + _TEXT, width, 3), 255, np.uint8)
    x = 0
    for cell in cells:
        row[:, x : x + cell.shape[1]] = cell
        x += cell.shape[1] + 4
    return row


def _vstack(rows: Sequence[ImageArray], title: str) -> ImageArray:
    width = max(r.shape[1] for r in rows)
    sheet = np.full((30 + sum(r.shape[0] + 8 for r in rows), width, 3), 255, np.uint8)
    cv2.putText(sheet, title, (4, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 160), 1, cv2.LINE_AA)
    y = 30
    for row in rows:
        sheet[y : y + row.shape[0], : row.shape[1]] = row
        y += row.shape[0] + 8
    return sheet


def cut_rows(rows: Sequence[SheetRow], videos: Path, clips: Mapping[str, str]) -> dict[str, ImageArray]:
    """The crop of every row (10 % margin), decoding each clip once."""
    crops: dict[str, ImageArray] = {}
    for clip in dict.fromkeys(r.clip for r in rows):
        mine = [r for r in rows if r.clip == clip]
        wanted = {r.frame for r in mine}
        for index, frame in iter_frames(videos / clips[clip], wanted):
            for r in mine:
                if r.frame == index:
                    crops[r.id] = cut_crop(frame, r.box)
    return crops


def write_sheets(rows: Sequence[SheetRow], videos: Path, clips: Mapping[str, str], folder: Path) -> list[Path]:
    """Contact sheets (``<clip>_NN.png``, ``ROWS_PER_SHEET`` tracks each) of the rows' crops."""
    crops = cut_rows(rows, videos, clips)
    groups: dict[str, list[SheetRow]] = {}
    for r in rows:
        groups.setdefault(r.group, []).append(r)
    folder.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for clip in dict.fromkeys(r.clip for r in rows):
        lines = []
        for group, members in groups.items():
            if members[0].clip != clip:
                continue
            cells = []
            if members[0].reference is not None:
                reference = cv2.imread(str(members[0].reference), cv2.IMREAD_COLOR)
                if reference is not None:
                    cells.append(_cell(np.asarray(reference, np.uint8), f"DEV {members[0].reference.stem}"))
            cells.extend(_cell(crops[m.id], m.id) for m in members)
            lines.append((group, _hstack(cells)))
        for start in range(0, len(lines), ROWS_PER_SHEET):
            part = lines[start : start + ROWS_PER_SHEET]
            path = folder / f"{clip}_{start // ROWS_PER_SHEET:02d}.png"
            title = f"{clip}: tracks " + ", ".join(g.split("/")[1] for g, _ in part)
            cv2.imwrite(str(path), _vstack([image for _, image in part], title))
            paths.append(path)
    return paths
