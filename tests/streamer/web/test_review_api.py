"""The review and labels API on a running server (synthetic make and colour heads, a SQLite history with real
snapshots): review items, labelling with the token's name, refusals that change nothing, undo, conflicts, export,
vocabulary from the loaded heads, the adapter hook (503 without one), and labels surviving a restart of the API."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from redisbus.data_dir import default_data_dir
from tests.streamer.web.review_support import FakeAdapter, history_settings, seed
from tests.streamer.web.support import OTHER_TOKEN, TOKEN, running_api


@pytest.fixture
def client(tmp_path: Path) -> Iterator[httpx.Client]:
    history = history_settings(tmp_path)
    seed(history, ["red", "green", "blue"])
    with (
        running_api(tmp_path, detector=False, history=history, adapter=FakeAdapter()) as api,
        httpx.Client(base_url=f"http://127.0.0.1:{api.port}", headers={"Authorization": f"Bearer {TOKEN}"}) as c,
    ):
        yield c


def test_review_items_carry_the_answers_the_view_and_the_vocabulary(client: httpx.Client) -> None:
    assert client.get("/v1/review/cameras").json() == ["gate"]
    vocabulary = client.get("/v1/review/vocabulary").json()
    assert vocabulary == {"make": ["Ford", "Honda", "Toyota"], "color": ["blue", "green", "red"], "body_type": []}
    items = client.get("/v1/review/tracks", params={"camera": "gate"}).json()
    assert [i["sighting_id"] for i in items] == ["gate-track-2", "gate-track-1", "gate-track-0"]  # newest first
    first = items[0]
    assert first["answers"]["make"] == {"label": "Ford", "prob": 0.62}
    assert first["answers"]["body_type"] is None
    view = client.get(first["thumbnail_url"])
    assert view.content.startswith(b"\xff\xd8")
    assert httpx.get(str(client.base_url.join("/v1/review/tracks"))).status_code == 401


def test_labelling_records_who_and_refusals_change_nothing(client: httpx.Client) -> None:
    created = client.post("/v1/labels", json={"sighting_id": "gate-track-2", "make": "honda", "color": "?"})
    assert created.status_code == 201, created.text
    label = created.json()
    assert (label["make"], label["color"], label["body_type"], label["labelled_by"]) == (
        "Honda",
        "unknown",
        None,
        "front-desk",
    )
    for body, message in [
        ({"sighting_id": "gate-track-1", "make": "Tesla"}, "unknown make 'Tesla'"),
        ({"sighting_id": "nope", "make": "Ford"}, "no sighting 'nope'"),
        ({"sighting_id": "gate-track-1", "body_type": "suv"}, "no loaded head knows body_type"),
        ({"sighting_id": "gate-track-1", "verdict": "right_vehicle"}, "a verdict (right/wrong vehicle) is for alerts"),
    ]:
        refused = client.post("/v1/labels", json=body)
        assert refused.status_code == 400
        assert refused.json()["detail"].startswith(message)
    assert [x["id"] for x in client.get("/v1/labels", params={"include_undone": True}).json()] == [label["id"]]
    unlabelled = client.get("/v1/review/tracks", params={"unlabelled": True}).json()
    assert [i["sighting_id"] for i in unlabelled] == ["gate-track-1", "gate-track-0"]


def test_undo_conflicts_and_export(client: httpx.Client) -> None:
    mine = client.post("/v1/labels", json={"sighting_id": "gate-track-0", "make": "Toyota", "color": "red"}).json()
    other = httpx.post(
        str(client.base_url.join("/v1/labels")),
        json={"sighting_id": "gate-track-0", "make": "Ford"},
        headers={"Authorization": f"Bearer {OTHER_TOKEN}"},
    ).json()
    assert other["labelled_by"] == "night-shift"
    conflicts = client.get("/v1/labels/conflicts", params={"camera": "gate"}).json()
    assert conflicts == [
        {
            "camera_id": "gate",
            "track": "gate-track-0",
            "field": "make",
            "values": {"Ford": [other["id"]], "Toyota": [mine["id"]]},
        }
    ]
    item = next(i for i in client.get("/v1/review/tracks").json() if i["sighting_id"] == "gate-track-0")
    assert [c["field"] for c in item["conflicts"]] == ["make"]
    assert {x["id"] for x in item["labels"]} == {mine["id"], other["id"]}

    summary = client.post("/v1/labels/export", json={"camera": "gate", "name": "first"}).json()
    assert Path(summary["path"]) == default_data_dir() / "labels" / "exports" / "first"
    assert (summary["rows"], summary["conflicted_fields"]) == (1, 1)
    with (Path(summary["path"]) / "labels.csv").open() as f:
        (row,) = list(csv.DictReader(f))
    assert (row["make"], row["color"]) == ("", "red")
    again = client.post("/v1/labels/export", json={"camera": "gate", "name": "first"})
    assert again.status_code == 400

    undone = client.post(f"/v1/labels/{other['id']}/undo").json()
    assert (undone["undone_by"], undone["undone_at"] is not None) == ("front-desk", True)
    assert client.get("/v1/labels/conflicts").json() == []
    assert client.post(f"/v1/labels/{other['id']}/undo").status_code == 400
    summary = client.post("/v1/labels/export", json={"name": "second"}).json()
    with (Path(summary["path"]) / "labels.csv").open() as f:
        (row,) = list(csv.DictReader(f))
    assert (row["make"], row["color"], row["labelled_by"]) == ("Toyota", "red", "front-desk")


def test_the_adapter_hook(client: httpx.Client, tmp_path: Path) -> None:
    report = client.post("/v1/adapt/gate").json()
    assert (report["deployed"], report["version"]) == (True, "v0001")
    assert client.post("/v1/adapt/gate/rollback").json()["reason"] == "back to the base model"
    refused = client.post("/v1/adapt/empty")
    assert refused.status_code == 400
    assert "label 3 more vehicles" in refused.json()["detail"]
    (tmp_path / "bare").mkdir()
    with running_api(tmp_path / "bare", detector=False) as api:
        answer = httpx.post(f"http://127.0.0.1:{api.port}/v1/adapt/gate", headers={"Authorization": f"Bearer {TOKEN}"})
    assert (answer.status_code, answer.json()["detail"]) == (503, "adaptation not available")


def test_labels_survive_a_restart_of_the_api(tmp_path: Path) -> None:
    history = history_settings(tmp_path)
    seed(history, ["red"])
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with running_api(tmp_path, detector=False, history=history) as api:
        made = httpx.post(
            f"http://127.0.0.1:{api.port}/v1/labels",
            json={"sighting_id": "gate-track-0", "make": "Toyota"},
            headers=headers,
        ).json()
    with running_api(tmp_path, detector=False, history=history) as api:
        kept = httpx.get(f"http://127.0.0.1:{api.port}/v1/labels", headers=headers).json()
    assert kept == [made]
