"""Cutting labelled camera crops from clips (a synthetic video), linking boxes into tracks, and the extra labels
file itself (against traffic_crops_dev, when ../shared is there)."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray

from classifiers.color.clip_frames import ClipError, crop_rect, iter_frames, touches_border
from classifiers.color.clip_tracks import ClipDetections, link_tracks
from classifiers.color.cut_crops import LabelsError, cut_all, main, read_labels, write_sets
from tests.conftest import shared_path

EXTRA = Path(__file__).parent / "data" / "traffic_crops_extra.csv"
SIZE = (120, 160)  # height, width
FRAMES = 12
COLUMNS = ["id", "clip", "frame", "x1", "y1", "x2", "y2", "color", "same_as", "notes"]


def box_at(frame: int) -> tuple[float, float, float, float]:
    """The synthetic car's box: a 40x30 block moving 5 px right per frame."""
    return (20.0 + 5 * frame, 40.0, 60.0 + 5 * frame, 70.0)


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A lossless clip ``cam.avi``: grey road, a red block moving right, the frame index in the blue channel."""
    folder = tmp_path_factory.mktemp("videos")
    writer = cv2.VideoWriter(str(folder / "cam.avi"), cv2.VideoWriter.fourcc(*"FFV1"), 10.0, (SIZE[1], SIZE[0]))
    for frame in range(FRAMES):
        image = np.full((*SIZE, 3), 110, np.uint8)
        image[0, 0, 0] = frame * 10
        x1, y1, x2, y2 = (int(v) for v in box_at(frame))
        image[y1:y2, x1:x2] = (30, 30, 200)
        writer.write(image)
    writer.release()
    return folder


def write_labels(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


def label(id_: str, frame: int, **extra: str) -> dict[str, str]:
    x1, y1, x2, y2 = box_at(frame)
    row = {"id": id_, "clip": "cam", "frame": str(frame), "x1": str(x1), "y1": str(y1), "x2": str(x2), "y2": str(y2)}
    return {**row, "color": "red", "same_as": "", "notes": "", **extra}


def test_frames_are_decoded_in_order_and_a_missing_one_is_an_error(videos: Path) -> None:
    got = list(iter_frames(videos / "cam.avi", {2, 7}))
    assert [i for i, _ in got] == [2, 7]
    assert [int(f[0, 0, 0]) for _, f in got] == [20, 70]
    with pytest.raises(ClipError, match="frame 40"):
        list(iter_frames(videos / "cam.avi", {3, 40}))
    with pytest.raises(ClipError, match="cannot open"):
        list(iter_frames(videos / "none.avi"))


def test_crops_are_the_box_grown_by_ten_percent(videos: Path, tmp_path: Path) -> None:
    rows = [label("x0", 0), label("x1", 5, same_as="x0")]
    written = cut_all(rows, videos, tmp_path / "crops", {"cam": "cam.avi"})
    for row in rows:
        crop = cv2.imread(str(written[row["id"]]))
        assert crop is not None
        box = box_at(int(row["frame"]))
        left, top, right, bottom = crop_rect(box, *SIZE)
        assert crop.shape[:2] == (bottom - top, right - left) == (36, 48)
        centre = crop[crop.shape[0] // 2, crop.shape[1] // 2]
        assert centre.tolist() == [30, 30, 200]  # the car, decoded losslessly
        assert crop[0, 0].tolist() == [110, 110, 110]  # the margin is road


def test_the_command_writes_labelled_sets_and_a_combined_one(videos: Path, tmp_path: Path) -> None:
    dev = tmp_path / "dev"
    (dev / "crops").mkdir(parents=True)
    cv2.imwrite(str(dev / "crops" / "d0.png"), np.zeros((8, 8, 3), np.uint8))
    with (dev / "labels.csv").open("w", newline="") as handle:
        handle.write("id,clip,frame,color,same_as,crop_path\nd0,cam,0,red,,crops/d0.png\n")
    labels = write_labels(tmp_path / "extra.csv", [label("x0", 3, same_as="d0"), label("x1", 9)])
    out = tmp_path / "out"
    columns, rows = read_labels(labels)
    cut_all(rows, videos, out / "crops", {"cam": "cam.avi"})
    extra, combined = write_sets(columns, rows, out, dev)
    with extra.open() as handle:
        assert [r["crop_path"] for r in csv.DictReader(handle)] == ["crops/x0.png", "crops/x1.png"]
    assert combined is not None
    with combined.open() as handle:
        got = list(csv.DictReader(handle))
    assert [(r["id"], r["same_as"]) for r in got] == [("d0", ""), ("x0", "d0"), ("x1", "")]
    assert all(Path(r["crop_path"]).is_absolute() and Path(r["crop_path"]).is_file() for r in got)
    clash = write_labels(tmp_path / "clash.csv", [label("d0", 3)])
    with pytest.raises(LabelsError, match="ids in both"):
        write_sets(*read_labels(clash), out, dev)


@pytest.mark.parametrize(
    ("rows", "error"),
    [
        ([label("x0", 1), label("x0", 2)], "appears twice"),
        ([label("x0", 1, x2="10")], "empty box"),
        ([{**label("x0", 1), "frame": "one"}], "must be numbers"),
    ],
)
def test_bad_labels_are_refused(tmp_path: Path, rows: list[dict[str, str]], error: str) -> None:
    with pytest.raises(LabelsError, match=error):
        read_labels(write_labels(tmp_path / "labels.csv", rows))


def test_bad_rows_and_files_are_one_line_errors(
    videos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(LabelsError, match="unknown clip 'other'"):
        cut_all([label("x0", 1, clip="other")], videos, tmp_path, {"cam": "cam.avi"})
    with pytest.raises(LabelsError, match=r"clip cam: .*frame 99"):
        cut_all([label("x0", 99)], videos, tmp_path, {"cam": "cam.avi"})
    (tmp_path / "short.csv").write_text("id,clip\nx0,cam\n")
    assert main(["--labels", str(tmp_path / "short.csv"), "-o", str(tmp_path / "o")]) == 2
    assert "missing column(s) frame" in capsys.readouterr().err


def detections(boxes: list[tuple[int, tuple[float, float, float, float]]]) -> ClipDetections:
    return ClipDetections(
        np.asarray([f for f, _ in boxes], np.int64),
        np.asarray([b for _, b in boxes], np.float32),
        np.full(len(boxes), 0.9, np.float32),
        ("car",) * len(boxes),
        SIZE,
        FRAMES,
    )


def test_tracks_follow_moving_boxes_across_short_gaps() -> None:
    moving = [(f, box_at(f)) for f in (0, 1, 2, 3, 8, 9)]  # a gap of 5 frames: predicted, still linked
    parked = [(f, (100.0, 80.0, 140.0, 110.0)) for f in (0, 1, 2, 3)]
    later = [(20, (100.0, 80.0, 140.0, 110.0))]  # the parked car after 17 frames without a detection
    ids: NDArray[np.int64] = link_tracks(detections(moving + parked + later))
    assert len(set(ids[:6].tolist())) == 1
    assert len(set(ids[6:10].tolist())) == 1
    assert ids[6] != ids[0]
    assert ids[10] not in ids[:10]


def test_border_rule() -> None:
    assert touches_border((2.0, 50.0, 60.0, 90.0), 120, 160)
    assert touches_border((20.0, 50.0, 157.0, 90.0), 120, 160)
    assert not touches_border((3.0, 3.0, 156.0, 116.0), 120, 160)


def test_extra_labels_never_straddle_a_vehicle_between_sets() -> None:
    """Every extra crop of a dev vehicle names its dev id, lies in the same clip and has its colour; the other
    vehicles' ids are the extra set's own; every box passes the data set's filter."""
    dev_csv = shared_path("datasets/traffic_crops_dev/labels.csv")
    with dev_csv.open() as handle:
        dev = {row["id"]: row for row in csv.DictReader(handle)}
    _, rows = read_labels(EXTRA)
    extra_ids = {row["id"] for row in rows}
    sizes = {"anugoyal": (720, 1280), "swdee": (720, 1280), "canersu": (720, 1280)}
    for row in rows:
        x1, y1, x2, y2 = (float(row[k]) for k in ("x1", "y1", "x2", "y2"))
        assert min(x2 - x1, y2 - y1) >= 48, row["id"]
        assert not touches_border((x1, y1, x2, y2), *sizes.get(row["clip"], (360, 640))), row["id"]
        vehicle = row["same_as"]
        if vehicle in dev:
            first = dev[vehicle]
            assert first["same_as"] == "", f"{row['id']}: same_as must name the dev vehicle's first crop"
            assert (row["clip"], row["color"], row["body_type"]) == (first["clip"], first["color"], first["body_type"])
        else:
            assert vehicle == "" or vehicle in extra_ids, row["id"]
            assert not {row["id"], vehicle} & set(dev)
