"""The labelled dataset format: written and read back; bad folders and rows refused naming file and row."""

from __future__ import annotations

from pathlib import Path

import pytest

from classifiers.adaptation.dataset import COLUMNS, LabelledView, read_views, write_views
from classifiers.adaptation.errors import DatasetError


def _view(path: str = "crops/a.png", **labels: str) -> LabelledView:
    return LabelledView(
        path=Path(path),
        camera_id="gate",
        track="17",
        time=1_765_000_000.5,
        labels=labels,
        labelled_by="ops",
        labelled_at="2026-12-06T04:00:00+00:00",
        sighting_id="s-1",
    )


def test_round_trip(tmp_path: Path) -> None:
    views = [_view("crops/a.png", make="BMW", color="unknown"), _view("crops/b.png", body_type="van")]
    csv_path = write_views(tmp_path, views, [b"png-a", b"png-b"])
    assert csv_path.read_text().splitlines()[0] == ",".join(COLUMNS)
    read = read_views(tmp_path)
    assert [v.path for v in read] == [tmp_path / "crops/a.png", tmp_path / "crops/b.png"]
    assert read[0].labels == {"make": "BMW", "color": "unknown"}
    assert read[1].labels == {"body_type": "van"}
    assert (read[0].time, read[0].sighting_id, read[0].labelled_by) == (1_765_000_000.5, "s-1", "ops")


def test_copies_files_and_refuses_paths_outside(tmp_path: Path) -> None:
    source = tmp_path / "snap.png"
    source.write_bytes(b"x")
    write_views(tmp_path / "set", [_view("crops/s.png", color="red")], [source])
    assert (tmp_path / "set" / "crops" / "s.png").read_bytes() == b"x"
    with pytest.raises(DatasetError, match="inside"):
        write_views(tmp_path / "set", [_view("../escape.png")], [b"x"])
    with pytest.raises(DatasetError, match="one image per view"):
        write_views(tmp_path / "set", [_view()], [])


def _csv(tmp_path: Path, row: str, header: str = ",".join(COLUMNS)) -> Path:
    (tmp_path / "crops").mkdir(exist_ok=True)
    (tmp_path / "crops" / "a.png").write_bytes(b"x")
    (tmp_path / "labels.csv").write_text(f"{header}\n{row}\n")
    return tmp_path


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("crops/a.png,gate,1,soon,BMW,,,,,", "line 2: time 'soon' is not a number"),
        ("crops/a.png,,1,1.0,BMW,,,,,", "line 2: empty camera_id"),
        ("crops/missing.png,gate,1,1.0,BMW,,,,,", "line 2: crop crops/missing.png is not in the folder"),
        ("crops/a.png,gate,1,inf,BMW,,,,,", "not a finite number"),
    ],
)
def test_bad_rows_name_the_line(tmp_path: Path, row: str, message: str) -> None:
    with pytest.raises(DatasetError, match=message):
        read_views(_csv(tmp_path, row))


def test_missing_folder_file_and_columns(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not a folder"):
        read_views(tmp_path / "nowhere")
    with pytest.raises(DatasetError, match=r"no labels\.csv"):
        read_views(tmp_path)
    with pytest.raises(DatasetError, match="missing column"):
        read_views(_csv(tmp_path, "crops/a.png,gate", header="path,camera_id"))


def test_boxes_are_optional_columns(tmp_path: Path) -> None:
    from dataclasses import replace

    boxed = [replace(_view("crops/a.png", color="red"), box=(2.0, 3.0, 40.0, 30.5)), _view("crops/b.png")]
    write_views(tmp_path, boxed, [b"a", b"b"])
    assert read_views(tmp_path)[0].box == (2.0, 3.0, 40.0, 30.5)
    assert read_views(tmp_path)[1].box is None
    write_views(tmp_path, [_view("crops/a.png")], [None])
    assert read_views(tmp_path)[0].box is None
    assert "x1" not in (tmp_path / "labels.csv").read_text()  # no box, no box columns


@pytest.mark.parametrize("box", ["1,2,3", "5,5,1,9", "a,b,c,d"])
def test_bad_boxes_name_the_line(tmp_path: Path, box: str) -> None:
    cells = [*box.split(","), "", "", "", ""][:4]
    with pytest.raises(DatasetError, match="line 2: box"):
        read_views(
            _csv(tmp_path, "crops/a.png,gate,1,1.0,,red,,,,," + ",".join(cells), ",".join(COLUMNS) + ",x1,y1,x2,y2")
        )
