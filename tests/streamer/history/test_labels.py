"""The labels store on a real SQLite history: labelling sightings and loose crops, validation that changes
nothing, undo kept for audit, conflicts flagged (never averaged), the export in the dataset format, and labels
surviving a restart (the store closed and reopened)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from classifiers.training.dataset import load_labelled
from streamer.history.label_export import CSV_COLUMNS, export_labels
from streamer.history.label_fields import LabelError, check_fields, vocabulary_of
from streamer.history.labels import LabelsStore
from streamer.history.store import SightingsStore, row_values
from tests.streamer.history.test_archiver import postgres_schema_url

VOCABULARY = vocabulary_of(
    {"make": ("Toyota", "Honda", "Ford"), "color": ("red", "green", "blue"), "type": ("sedan", "suv")}
)
T0 = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)


def jpeg(path: Path, bgr: tuple[int, int, int]) -> Path:
    image = np.zeros((48, 64, 3), np.uint8)
    image[:] = bgr
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), image)
    return path


def add_sighting(
    history: SightingsStore,
    folder: Path,
    sighting_id: str,
    *,
    kind: str = "track",
    track_id: int = 1,
    at: datetime = T0,
    snapshot: bool = True,
    camera: str = "gate",
) -> None:
    shot = jpeg(folder / f"{sighting_id}.jpg", (20, 20, 200 - track_id)) if snapshot else None
    history.insert(
        row_values(
            message_id=sighting_id,
            kind=kind,
            camera_id=camera,
            track_id=track_id,
            first_seen=at,
            last_seen=at + timedelta(seconds=5),
            detector_class="car",
            labels={"make": [{"label": "Toyota", "prob": 0.7}], "color": [{"label": "red", "prob": 0.9}]},
            snapshot=str(shot) if shot else None,
        )
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """SQLite (the default, always), and PostgreSQL when a server is reachable."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'history.sqlite3'}"
    else:
        yield from postgres_schema_url(tmp_path)


@pytest.fixture
def stores(url: str, tmp_path: Path) -> Iterator[tuple[SightingsStore, LabelsStore]]:
    history = SightingsStore.open(url)
    store = LabelsStore.open(history, tmp_path / "labels")
    for n in (1, 2):
        add_sighting(history, tmp_path / "snapshots", f"track-{n}", track_id=n, at=T0 + timedelta(minutes=n))
    yield history, store
    history.close()


def test_values_are_spelled_as_the_heads_spell_them_and_unknown_is_cant_tell() -> None:
    assert check_fields({"make": "toyota", "color": "?", "body_type": "SUV"}, VOCABULARY) == {
        "make": "Toyota",
        "color": "unknown",
        "body_type": "suv",
    }
    assert check_fields({"make": ""}, VOCABULARY) == {"make": None}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"make": "Tesla"}, "unknown make 'Tesla'"),
        ({"colour": "red"}, "unknown field 'colour'"),
        ({"make": None}, "nothing to label"),
    ],
)
def test_bad_values_are_refused_and_change_nothing(
    stores: tuple[SightingsStore, LabelsStore], fields: dict[str, str | None], message: str
) -> None:
    _, store = stores
    with pytest.raises(LabelError, match=message):
        store.label_sighting("track-1", fields, "alice", VOCABULARY)
    assert store.find(include_undone=True) == []


def test_a_sighting_without_views_or_unknown_is_refused(
    stores: tuple[SightingsStore, LabelsStore], tmp_path: Path
) -> None:
    history, store = stores
    with pytest.raises(LabelError, match="no sighting 'nope'"):
        store.label_sighting("nope", {"make": "Toyota"}, "alice", VOCABULARY)
    (tmp_path / "snapshots" / "track-2.jpg").unlink()  # purged
    with pytest.raises(LabelError, match="no views left"):
        store.label_sighting("track-2", {"make": "Toyota"}, "alice", VOCABULARY)
    add_sighting(history, tmp_path / "snapshots", "track-3", track_id=3, snapshot=False)
    with pytest.raises(LabelError, match="no views left"):
        store.label_sighting("track-3", {"make": "Toyota"}, "alice", VOCABULARY)
    assert store.find(include_undone=True) == []


def test_a_label_keeps_its_view_and_survives_a_restart(
    stores: tuple[SightingsStore, LabelsStore], url: str, tmp_path: Path
) -> None:
    history, store = stores
    label = store.label_sighting(
        "track-1", {"make": "honda", "color": "red", "body_type": "unknown"}, "alice", VOCABULARY
    )
    assert (label.make, label.color, label.body_type, label.labelled_by) == ("Honda", "red", "unknown", "alice")
    assert label.track == "track-1"
    assert label.track_id == 1
    assert label.live
    view = Path(label.views[0])
    assert view.is_file()
    assert view.is_relative_to(tmp_path / "labels")
    (tmp_path / "snapshots" / "track-1.jpg").unlink()  # the sighting's snapshot expires: the label's view stays
    history.close()
    reopened = LabelsStore.open(SightingsStore.open(url), tmp_path / "labels")
    assert reopened.find("gate") == [label]
    assert Path(reopened.find("gate")[0].views[0]).is_file()
    reopened.history.close()


def test_undo_is_kept_for_audit_and_a_relabel_by_the_same_person_replaces(
    stores: tuple[SightingsStore, LabelsStore],
) -> None:
    _, store = stores
    first = store.label_sighting("track-1", {"make": "Toyota"}, "alice", VOCABULARY)
    second = store.label_sighting("track-1", {"make": "Honda"}, "alice", VOCABULARY)  # she corrects herself
    assert [x.id for x in store.find()] == [second.id]
    assert store.conflicts() == []
    replaced = store.get(first.id)
    assert replaced is not None
    assert replaced.undone_by == "alice"
    undone = store.undo(second.id, "bob")
    assert (undone.live, undone.undone_by) == (False, "bob")
    assert store.find() == []
    assert len(store.find(include_undone=True)) == 2
    with pytest.raises(LabelError, match="already undone"):
        store.undo(second.id, "bob")
    with pytest.raises(LabelError, match="no label 999"):
        store.undo(999, "bob")


def test_two_people_disagreeing_is_a_conflict_and_the_export_leaves_that_field_out(
    stores: tuple[SightingsStore, LabelsStore], tmp_path: Path
) -> None:
    _, store = stores
    a = store.label_sighting("track-1", {"make": "Toyota", "color": "red"}, "alice", VOCABULARY)
    b = store.label_sighting("track-1", {"make": "Honda", "color": "unknown"}, "bob", VOCABULARY)
    store.label_sighting("track-2", {"make": "Ford", "color": "blue", "body_type": "suv"}, "alice", VOCABULARY)
    conflicts = store.conflicts("gate")
    assert [(c.track, c.field, c.values) for c in conflicts] == [
        ("track-1", "make", {"Honda": [b.id], "Toyota": [a.id]})
    ]
    summary = export_labels(store, tmp_path / "dataset")
    assert (summary.rows, summary.tracks, summary.labels, summary.conflicted_fields) == (2, 2, 3, 1)
    with (tmp_path / "dataset" / "labels.csv").open() as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
        rows = {r["track"]: r for r in reader}
    assert (rows["track-1"]["make"], rows["track-1"]["color"], rows["track-1"]["body_type"]) == ("", "red", "")
    assert (rows["track-2"]["make"], rows["track-2"]["color"], rows["track-2"]["body_type"]) == ("Ford", "blue", "suv")
    assert rows["track-2"]["sighting_id"] == "track-2"
    assert rows["track-2"]["camera_id"] == "gate"
    assert float(rows["track-2"]["time"]) == (T0 + timedelta(minutes=2)).timestamp()
    for row in rows.values():
        assert cv2.imread(str(tmp_path / "dataset" / row["path"])) is not None
    with pytest.raises(LabelError, match="not an empty folder"):
        export_labels(store, tmp_path / "dataset")
    # Only the vehicles whose make is named: what `vehiclewatch train --label-column make` reads as it is.
    makes = export_labels(store, tmp_path / "makes", named="make")
    assert (makes.rows, makes.left_out) == (1, {"no make named (not given, can't tell, or in conflict)": 1})
    trainable = load_labelled(tmp_path / "makes", label_column="make")
    assert [item.label for item in trainable.items] == ["Ford"]


def test_alert_verdicts_join_the_track_they_fired_on(
    stores: tuple[SightingsStore, LabelsStore], tmp_path: Path
) -> None:
    history, store = stores
    add_sighting(
        history, tmp_path / "snapshots", "alert-1", kind="alert", track_id=1, at=T0 + timedelta(minutes=1, seconds=2)
    )
    with pytest.raises(LabelError, match="name the field"):
        store.label_sighting("alert-1", {}, "alice", VOCABULARY, verdict="wrong_vehicle")
    with pytest.raises(LabelError, match="for alerts"):
        store.label_sighting("track-1", {}, "alice", VOCABULARY, verdict="right_vehicle")
    label = store.label_sighting(
        "alert-1", {"make": "Honda"}, "alice", VOCABULARY, verdict="wrong_vehicle", wrong_fields=["make"]
    )
    assert (label.kind, label.track, label.verdict, label.wrong_fields) == (
        "alert",
        "track-1",
        "wrong_vehicle",
        ["make"],
    )
    verdict_only = store.label_sighting("alert-1", {}, "bob", VOCABULARY, verdict="right_vehicle")
    assert verdict_only.make is None


def test_loose_crops_are_copied_and_exported(stores: tuple[SightingsStore, LabelsStore], tmp_path: Path) -> None:
    _, store = stores
    crop = jpeg(tmp_path / "crops" / "car7_0001.png", (200, 10, 10))
    label = store.label_crop("yard", "car7", crop, {"make": "ford", "color": "blue"}, "cli:alice", VOCABULARY)
    assert label.sighting_id is None
    assert Path(label.views[0]).suffix == ".png"
    crop.unlink()
    summary = export_labels(store, tmp_path / "out", camera="yard")
    assert (summary.rows, summary.tracks) == (1, 1)
    with (tmp_path / "out" / "labels.csv").open() as f:
        (row,) = list(csv.DictReader(f))
    assert (row["camera_id"], row["track"], row["make"], row["sighting_id"]) == ("yard", "car7", "Ford", "")
    with pytest.raises(LabelError, match="no such file"):
        store.label_crop("yard", "car7", tmp_path / "missing.jpg", {"make": "Ford"}, "cli", VOCABULARY)
