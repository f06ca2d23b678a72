"""`vehiclewatch watchlist`: parse, the Redis-managed entries (add/list/update/remove/import) on a real Redis,
schemas, and the matching evaluation on a generated labelled set with a synthetic classifier."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest
import redis
from click.testing import CliRunner

from streamer.cli.main import main
from tests.synthetic_classifier import make_color_classifier, solid_bgr
from watchlists.store import EntryStore


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.delenv("VEHICLEWATCH_MODELS", raising=False)
    monkeypatch.delenv("VEHICLEWATCH_REDIS__URL", raising=False)
    return CliRunner()


def test_parse_shows_fields_and_what_was_not_placed(runner: CliRunner) -> None:
    result = runner.invoke(main, ["watchlist", "parse", "dark blue Chevy pickup, partial plate 7XK, seen leaving"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "description: dark blue Chevy pickup, partial plate 7XK, seen leaving",
        "  make: Chevrolet",
        "  body_type: pickup",
        "  plate: *7XK*",
        "  color: blue",
        "  color_shade: dark",
        "not placed: seen leaving",
    ]


def test_parse_json(runner: CliRunner) -> None:
    result = runner.invoke(main, ["watchlist", "parse", "--json", "silver SUV, possibly a Honda CR-V"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["fields"] == {
        "make": "Honda",
        "model": "CR-V",
        "body_type": "suv",
        "color": "silver",
        "uncertain": ["make", "model"],
    }
    assert data["entry"]["uncertain"] == ["make", "model"]
    assert [t["role"] for t in data["tokens"]] == ["color", "body_type", "uncertainty", "filler", "make", "model"]
    nothing = json.loads(runner.invoke(main, ["watchlist", "parse", "--json", "seen at noon"]).output)
    assert nothing["error"].startswith("description 'seen at noon': names no attribute to match")


def test_manage_entries_in_redis(runner: CliRunner, redis_url: str, redis_client: redis.Redis) -> None:
    redis_args = ["--redis-url", redis_url]
    added = runner.invoke(
        main,
        [
            "watchlist",
            "add",
            "white 2015-2017 Toyota Camry, partial plate 7XK",
            "--id",
            "amber-1",
            "--priority",
            "critical",
            "--source",
            "CA DOJ",
            "--expires",
            "24h",
            *redis_args,
        ],
    )
    assert added.exit_code == 0, added.output
    assert "added amber-1 (revision 1): make=Toyota model=Camry color=white year=2015-2017 plate=*7XK* (partial)" in (
        added.output
    )
    store = EntryStore(redis_client)
    entry = store.get("amber-1")
    assert entry is not None
    assert (entry.priority, entry.source, entry.plate, entry.created_at is not None) == (
        "critical",
        "CA DOJ",
        "*7XK*",
        True,
    )
    assert entry.expires_at is not None

    again = runner.invoke(main, ["watchlist", "add", "red van", "--id", "amber-1", *redis_args])
    assert (again.exit_code, again.output.strip()) == (
        2,
        "vehiclewatch: error: watchlist entry 'amber-1' already exists in redis:vehiclewatch:watchlist "
        "(update it instead)",
    )
    bad = runner.invoke(main, ["watchlist", "add", "seen at noon", *redis_args])
    assert bad.exit_code == 2
    assert "names no attribute to match" in bad.output

    updated = runner.invoke(
        main, ["watchlist", "update", "amber-1", "--expires", "never", "--set", "color=silver", *redis_args]
    )
    assert updated.exit_code == 0, updated.output
    entry = store.get("amber-1")
    assert entry is not None
    assert (entry.color, entry.expires_at) == ("silver", None)
    invalid = runner.invoke(main, ["watchlist", "update", "amber-1", "--set", "year_min=2020", *redis_args])
    assert invalid.exit_code == 2
    assert "watchlist entry 'amber-1': year_min 2020 is after year_max 2017" in invalid.output

    listed = runner.invoke(main, ["watchlist", "list", "--json", *redis_args])
    assert [e["id"] for e in json.loads(listed.output)["entries"]] == ["amber-1"]
    text = runner.invoke(main, ["watchlist", "list", *redis_args])
    assert text.output.startswith("amber-1  [critical] expires never  make=Toyota model=Camry color=silver")

    removed = runner.invoke(main, ["watchlist", "remove", "amber-1", "nope", *redis_args])
    assert removed.exit_code == 2
    assert "removed amber-1" in removed.output
    assert "not stored: nope" in removed.output
    assert store.load().entries == ()


def test_import_keeps_the_valid_entries_and_reports_the_others(
    runner: CliRunner, tmp_path: Path, redis_url: str, redis_client: redis.Redis
) -> None:
    yaml_file = tmp_path / "w.yaml"
    yaml_file.write_text(
        "entries:\n  - {id: a, color: red}\n  - {id: b, colour: red}\n  - {id: c, make: BMW, year: 1700}\n"
    )
    result = runner.invoke(main, ["watchlist", "import", str(yaml_file), "--redis-url", redis_url, "--source", "ops"])
    assert result.exit_code == 2
    assert "stored 1 entries (revision 1)" in result.output
    assert "entry 1 (id 'b'): unknown key 'colour'" in result.output
    assert "entry 2 (id 'c'): year: Input should be greater than or equal to 1886" in result.output
    store = EntryStore(redis_client)
    stored = store.get("a")
    assert stored is not None
    assert stored.source == "ops"

    text_file = tmp_path / "alerts.txt"
    text_file.write_text("# amber alerts\namber-7: dark blue Chevy pickup\n\nsilver SUV, possibly a Honda CR-V\nnoon\n")
    dry = runner.invoke(main, ["watchlist", "import", str(text_file), "--dry-run", "--redis-url", redis_url])
    assert dry.exit_code == 2
    assert "would store amber-7: make=Chevrolet color=dark blue body_type=pickup" in dry.output
    assert "line 5: description 'noon': names no attribute to match" in dry.output
    assert store.revision() == 1  # a dry run writes nothing


def test_schema(runner: CliRunner) -> None:
    alert = json.loads(runner.invoke(main, ["watchlist", "schema"]).output)
    assert alert["title"] == "Alert"
    assert "breakdown" in alert["properties"]
    entry = json.loads(runner.invoke(main, ["watchlist", "schema", "entry"]).output)
    assert entry["title"] == "WatchlistEntry"
    assert "plate" in entry["properties"]


def test_evaluate_on_a_generated_colour_set(runner: CliRunner, tmp_path: Path) -> None:
    rows = ["path,color"]
    for colour, count in (("red", 6), ("green", 4), ("blue", 5)):
        for i in range(count):
            name = f"{colour}{i}.png"
            cv2.imwrite(str(tmp_path / name), solid_bgr(colour))
            rows.append(f"{name},{colour}")
    rows.append("unsure.png,unsure")  # left out: the labeller could not tell
    cv2.imwrite(str(tmp_path / "unsure.png"), solid_bgr("red"))
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    watchlist = tmp_path / "w.yaml"
    watchlist.write_text(
        "entries:\n  - {id: red, color: red}\n  - {id: blue-bmw, color: blue, make: BMW}\n  - {id: pink, color: pink}\n"
    )
    classifier = make_color_classifier(tmp_path / "color.onnx")
    plot = tmp_path / "pr.png"
    report = tmp_path / "report.json"
    result = runner.invoke(
        main,
        [
            "watchlist",
            "evaluate",
            "--data",
            str(tmp_path),
            "--watchlist",
            str(watchlist),
            "--classifier",
            str(classifier),
            "--plot",
            str(plot),
            "--json-out",
            str(report),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "warning: watchlist entry 'blue-bmw' can never match: make 'BMW': needs a 'make' or 'make_model'" in (
        result.output
    )
    data = json.loads(report.read_text())
    by_id = {e["entry_id"]: e for e in data["entries"]}
    assert (by_id["red"]["tp"], by_id["red"]["fp"], by_id["red"]["fn"], by_id["red"]["precision"]) == (6, 0, 0, 1.0)
    assert by_id["blue-bmw"]["evaluable"] is False
    assert by_id["blue-bmw"]["reason"] == "the set has no labels for make"
    assert (by_id["pink"]["vehicles"], by_id["pink"]["alerts"]) == (0, 0)
    assert data["images"] == 16
    assert plot.stat().st_size > 10_000
    assert "overall (micro)" in result.output
