"""The archiver on a real Redis and SQLite: alerts and track summaries become sightings with snapshots on disk,
idempotently; the README's example queries (filters, near colours, wildcards, time of day, "where else"); retention;
the same queries over HTTP and from the CLI."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from click.testing import CliRunner

from streamer.cli.main import main
from streamer.history.archiver import Archiver
from streamer.history.settings import HistorySettings
from streamer.history.store import SightingsQuery, SightingsStore
from watchlists.alerts import Alert, Box, EntryRef, LabelProb
from watchlists.track_events import TrackSummary

ALERTS = "vehiclewatch:alerts"
TRACKS = "vehiclewatch:tracks"
DAY = datetime(2026, 12, 1, tzinfo=UTC)


def labels(**heads: dict[str, float]) -> dict[str, list[LabelProb]]:
    return {head: [LabelProb(label=k, prob=v) for k, v in top.items()] for head, top in heads.items()}


def track(camera: str, track_id: int, at: datetime, **heads: dict[str, float]) -> TrackSummary:
    return TrackSummary(
        camera_id=camera,
        track_id=track_id,
        first_seen=at,
        last_seen=at + timedelta(seconds=4),
        first_frame=1,
        last_frame=40,
        frames_seen=40,
        views_fused=3,
        detector_class="car",
        labels=labels(**heads),
        best_snapshot_key=f"vehiclewatch:track-snapshot:{camera}-{track_id}",
    )


# The vehicles of the README's examples: a red pickup at 14:30 on cam "north", a grey Toyota, a silver Toyota ...
SCENE = [
    track("north", 1, DAY + timedelta(hours=14, minutes=30), color={"red": 0.9, "black": 0.1},
          make={"Ford": 0.8, "Toyota": 0.2}, type={"truck": 0.85, "car": 0.15}, plate={"7XKB123": 0.7}),
    track("south", 2, DAY + timedelta(hours=15, minutes=10), color={"grey": 0.6, "silver": 0.4},
          make={"Toyota": 0.7, "Honda": 0.3}, type={"car": 0.9, "truck": 0.1}),
    track("north", 3, DAY + timedelta(hours=9), color={"silver": 0.7, "grey": 0.3},
          make={"Toyota": 0.75, "Honda": 0.25}, type={"car": 0.9, "truck": 0.1}),
    track("south", 4, DAY + timedelta(hours=23, minutes=30), color={"blue": 0.95, "black": 0.05},
          make={"Honda": 0.4, "Toyota": 0.35}, type={"car": 1.0}),
]  # fmt: skip


def alert_for(summary: TrackSummary) -> Alert:
    return Alert(
        captured_at=summary.first_seen,
        camera_id=summary.camera_id,
        frame_index=5,
        box=Box(x1=0, y1=0, x2=10, y2=10),
        detector_class="car",
        detector_confidence=0.9,
        classifications=summary.labels,
        entry=EntryRef(id="red-pickup", description="red Ford pickup"),
        score=0.7,
        snapshot_key="vehiclewatch:snapshot:a1",
        track_id=summary.track_id,
    )


def publish(client: redis.Redis) -> Alert:
    for summary in SCENE:
        assert summary.best_snapshot_key is not None
        client.set(summary.best_snapshot_key, b"\xff\xd8jpeg-of-" + summary.camera_id.encode())
        client.xadd(TRACKS, {"event_id": summary.event_id, "track": summary.to_json()})
    client.xadd(TRACKS, {"camera": b'{"camera_id": "north", "state": "streaming"}'})  # not a sighting
    client.xadd(ALERTS, {"alert": b"{broken"})  # malformed: skipped
    alert = alert_for(SCENE[0])
    client.set("vehiclewatch:snapshot:a1", b"\xff\xd8alert-jpeg")
    client.xadd(ALERTS, {"alert": alert.to_json()})
    return alert


POSTGRES_URL = os.environ.get("VEHICLEWATCH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def postgres_schema_url(tmp_path: Path) -> Iterator[str]:
    """A fresh schema on the PostgreSQL server of $VEHICLEWATCH_TEST_POSTGRES_URL; skips without driver or server."""
    pytest.importorskip("psycopg", reason="no PostgreSQL driver (pip install 'psycopg[binary]')")
    import sqlalchemy as sa

    schema = f"vw_test_{os.getpid()}_{abs(hash(tmp_path)) % 10**8}"
    admin = sa.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
    try:
        with admin.begin() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        pytest.skip(f"no PostgreSQL server at {POSTGRES_URL.split('@')[-1]}: {str(exc).splitlines()[0]}")
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HistorySettings]:
    """SQLite (the default, always), and PostgreSQL when a server is reachable."""
    if request.param == "sqlite":
        urls: Iterator[str] = iter([f"sqlite:///{tmp_path / 'sightings.sqlite3'}"])
    else:
        urls = postgres_schema_url(tmp_path)
    url = next(urls)
    yield HistorySettings(enabled=True, database=url, snapshots_dir=tmp_path / "snaps")
    next(urls, None)


@pytest.fixture
def archived(redis_client: redis.Redis, settings: HistorySettings) -> Iterator[tuple[Archiver, Alert]]:
    alert = publish(redis_client)
    archiver = Archiver(redis_client, settings, ALERTS, TRACKS, block_ms=50).start()
    deadline = time.monotonic() + 10
    while archiver.store.count() < 5:
        assert time.monotonic() < deadline, "archiver did not store the sightings"
        time.sleep(0.02)
    yield archiver, alert
    archiver.stop()


def ids(found: list[Any]) -> list[tuple[str, int]]:
    return sorted((s.camera_id, s.track_id) for s in found)


def test_every_summary_and_alert_is_stored_with_its_snapshot(archived: tuple[Archiver, Alert], tmp_path: Path) -> None:
    archiver, alert = archived
    store = archiver.store
    assert store.count() == 5
    stored = store.get(alert.alert_id)
    assert stored is not None
    assert (stored.kind, stored.entry_id, stored.color, stored.make, stored.body_type, stored.plate) == (
        "alert", "red-pickup", "red", "ford", "truck", "7xkb123",
    )  # fmt: skip
    path = store.snapshot_path(alert.alert_id)
    assert path is not None
    assert Path(path).read_bytes() == b"\xff\xd8alert-jpeg"
    assert Path(path).is_relative_to(tmp_path / "snaps")
    # Redelivery (at least once) stores nothing twice.
    assert store.insert({**_row(store, alert.alert_id)}) is False


def _row(store: SightingsStore, sighting_id: str) -> dict[str, Any]:
    from streamer.history.store import sightings

    with store.engine.connect() as connection:
        return dict(connection.execute(sightings.select().where(sightings.c.id == sighting_id)).mappings().one())


def test_the_readme_queries(archived: tuple[Archiver, Alert]) -> None:
    store = archived[0].store
    tracks = {"kind": "track"}
    # "Where was a red pickup seen between 2 and 4 pm?"
    assert ids(store.search(SightingsQuery(color="red", body_type="truck", time_of_day="14:00-16:00", **tracks))) == [
        ("north", 1)
    ]
    # Grey also finds silver (cameras confuse them); --exact-color does not.
    assert ids(store.search(SightingsQuery(color="grey", **tracks))) == [("north", 3), ("south", 2)]
    assert ids(store.search(SightingsQuery(color="grey", exact_color=True, **tracks))) == [("south", 2)]
    # Make, camera, minimum confidence, time range, a time of day wrapping midnight, plate wildcards.
    assert ids(store.search(SightingsQuery(make="toyota", **tracks))) == [("north", 3), ("south", 2)]
    assert ids(store.search(SightingsQuery(make="Honda", min_confidence=0.5, **tracks))) == []
    assert ids(store.search(SightingsQuery(camera="south", since=DAY + timedelta(hours=20), **tracks))) == [
        ("south", 4)
    ]
    assert ids(store.search(SightingsQuery(time_of_day="23:00-01:00", **tracks))) == [("south", 4)]
    assert ids(store.search(SightingsQuery(plate="7XK*", **tracks))) == [("north", 1)]
    assert ids(store.search(SightingsQuery(plate="7?KB12?", **tracks))) == [("north", 1)]
    with pytest.raises(ValueError, match="HH:MM-HH:MM"):
        store.search(SightingsQuery(time_of_day="afternoon"))


def test_where_else_was_this_vehicle_seen(archived: tuple[Archiver, Alert]) -> None:
    store = archived[0].store
    grey_toyota = next(s for s in store.search(SightingsQuery(camera="south", make="toyota")))
    ranked = store.similar(grey_toyota.id)
    assert [(s.camera_id, s.track_id) for s in ranked] == [("north", 3)]  # the silver Toyota; not red, not blue
    assert ranked[0].similarity is not None
    assert ranked[0].similarity > 0.9
    with pytest.raises(KeyError):
        store.similar("no-such-id")


def test_retention_deletes_old_sightings_and_their_snapshots(archived: tuple[Archiver, Alert]) -> None:
    archiver, _ = archived
    paths = [archiver.store.snapshot_path(s.id) for s in archiver.store.search(SightingsQuery())]
    assert all(p is not None and Path(p).is_file() for p in paths)
    assert archiver.purge() == 0  # within the default 30 days
    archiver.settings = archiver.settings.model_copy(update={"retention_days": 1e-6})
    assert archiver.purge() == 5
    assert archiver.store.count() == 0
    assert not any(Path(p).exists() for p in paths if p is not None)


def test_the_api_and_the_cli_answer_the_same_queries(
    archived: tuple[Archiver, Alert], settings: HistorySettings, tmp_path: Path
) -> None:
    from classifiers.settings import ClassifierSettings
    from streamer.web.runtime import start_web_api
    from streamer.web.settings import WebSettings
    from tests.streamer.web.support import TOKEN, write_tokens

    web = WebSettings(enabled=True, port=0, tokens_file=write_tokens(tmp_path / "tokens.yaml"))
    api = start_web_api(web, None, ClassifierSettings(), settings)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{api.port}", headers={"Authorization": f"Bearer {TOKEN}"}) as c:
            found = c.get("/v1/sightings", params={"color": "grey", "kind": "track"}).json()
            assert sorted(s["track_id"] for s in found) == [2, 3]
            assert c.get("/v1/sightings", params={"time_of_day": "later"}).status_code == 400
            assert c.get("/v1/sightings/nope").status_code == 404
            similar = c.get(f"/v1/sightings/{found[0]['id']}/similar").json()
            assert similar[0]["similarity"] > 0.9
            snapshot = c.get(f"/v1/sightings/{found[0]['id']}/snapshot")
            assert snapshot.headers["content-type"] == "image/jpeg"
            assert snapshot.content.startswith(b"\xff\xd8")
            assert httpx.get(f"http://127.0.0.1:{api.port}/v1/sightings").status_code == 401
    finally:
        api.stop()
    assert settings.database is not None
    url = settings.database.get_secret_value()
    result = CliRunner().invoke(main, ["sightings", "search", "--database", url, "--color", "red", "--kind", "track"])
    assert result.exit_code == 0, result.output
    assert "north" in result.output
    assert "red ford" in result.output
    result = CliRunner().invoke(main, ["sightings", "similar", "--database", url, "nope"])
    assert result.exit_code == 2
    assert "no sighting 'nope'" in result.output
