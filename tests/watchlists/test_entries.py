"""Watchlist entries and files: valid ones load; an invalid one fails with one line naming where and why, and a
file with several invalid entries reports every one at once."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from watchlists.entries import (
    Watchlist,
    WatchlistEntry,
    WatchlistError,
    collect_entries,
    dump_watchlist,
    load_watchlist,
    parse_watchlist,
)

GOOD_FILE = """\
entries:
  - id: stolen-civic
    description: Silver Honda Civic reported stolen
    make: Honda
    model: Civic
    year_min: 2016
    year_max: 2021
  - id: red-van
    description: Red van
    color: red
    body_type: van
    threshold: 0.6
"""


def test_good_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.yaml"
    path.write_text(GOOD_FILE)
    watchlist = load_watchlist(path)
    assert [entry.id for entry in watchlist] == ["stolen-civic", "red-van"]
    civic, van = watchlist.entries
    assert civic.year_range == (2016, 2021)
    assert civic.attributes() == ("make", "model", "year")
    assert van.threshold == 0.6
    assert van.attributes() == ("color", "body_type")


@pytest.mark.parametrize(
    ("data", "expected_ids"),
    [
        ([{"id": "a", "make": "BMW"}], ["a"]),  # a bare list is accepted
        ({"entries": []}, []),
        ({"entries": None}, []),
        ({"entries": [{"id": "a.b:c_d-1", "color": "red"}, {"id": "b", "year": 2012}]}, ["a.b:c_d-1", "b"]),
    ],
)
def test_watchlist_shapes(data: Any, expected_ids: list[str]) -> None:
    assert [entry.id for entry in parse_watchlist(data, "w.yaml")] == expected_ids


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"id": "x", "make": "Honda", "colour": "red"}, "w.yaml: entry 0 (id 'x'): unknown key 'colour'"),
        ({"id": "x", "year_min": 2020, "year_max": 2010}, "entry 0 (id 'x'): year_min 2020 is after year_max 2010"),
        ({"id": "x", "year": 2015, "year_min": 2010}, "entry 0 (id 'x'): give either year or year_min/year_max"),
        ({"id": "x", "year": 1700}, "entry 0 (id 'x'): year: Input should be greater than or equal to 1886"),
        ({"id": "x", "year": "soon"}, "entry 0 (id 'x'): year: Input should be a valid integer"),
        ({"id": "x"}, "entry 0 (id 'x'): names no attribute to match"),
        ({"id": "x", "description": "red honda"}, "entry 0 (id 'x'): names no attribute to match"),
        ({"id": "x", "make": "  "}, "entry 0 (id 'x'): make: must contain a letter or digit"),
        ({"id": "x", "make": "-"}, "entry 0 (id 'x'): make: must contain a letter or digit"),
        ({"id": "x", "make": "BMW", "threshold": 0}, "entry 0 (id 'x'): threshold: Input should be greater than 0"),
        ({"id": "x", "make": "BMW", "threshold": 1.5}, "threshold: Input should be less than or equal to 1"),
        ({"make": "BMW"}, "w.yaml: entry 0: id: Field required"),
        ({"id": "has space", "make": "BMW"}, "entry 0 (id 'has space'): id: String should match pattern"),
        ({"id": "", "make": "BMW"}, "entry 0 (id ''): id: String should match pattern"),
        ("just a string", "w.yaml: entry 0 must be a mapping of keys, got str"),
    ],
)
def test_bad_entry(entry: Any, message: str) -> None:
    with pytest.raises(WatchlistError) as caught:
        parse_watchlist({"entries": [entry]}, "w.yaml")
    text = str(caught.value)
    assert message in text
    assert "\n" not in text


def test_unknown_key_lists_the_allowed_ones() -> None:
    with pytest.raises(WatchlistError, match=r"allowed: id, description, make, model, color, body_type, year"):
        parse_watchlist([{"id": "x", "colour": "red"}], "w.yaml")


def test_every_error_of_an_entry_is_on_its_one_line() -> None:
    with pytest.raises(WatchlistError) as caught:
        parse_watchlist([{"id": "x", "colour": "red", "year": "soon"}], "w.yaml")
    text = str(caught.value)
    assert text.startswith("w.yaml: entry 0 (id 'x'): ")
    assert "year: Input should be a valid integer" in text
    assert "unknown key 'colour'" in text
    assert "\n" not in text


SIX_PROBLEMS = """\
entries:
  - id: fine
    make: Honda
  - id: typo
    colour: red
  - make: BMW
  - id: years
    year_min: 2020
    year_max: 2010
  - id: fine
    color: blue
  - just a string
  - id: two-at-once
    make: Audi
    year: soon
    threshold: 2
"""


def test_every_invalid_entry_is_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(SIX_PROBLEMS)
    with pytest.raises(WatchlistError) as caught:
        load_watchlist(path)
    error = caught.value
    assert error.summary == f"{path}: 6 of 7 entries are invalid:"
    assert [(p.index, p.entry_id) for p in error.problems] == [
        (1, "typo"),
        (2, None),
        (3, "years"),
        (4, "fine"),
        (5, None),
        (6, "two-at-once"),
    ]
    # One line each after the summary, naming the entry (index and id), the key and the reason; the file is named
    # once, in the summary.
    assert error.details == (
        "  entry 1 (id 'typo'): unknown key 'colour' (allowed: " + ", ".join(WatchlistEntry.model_fields) + ")",
        "  entry 2: id: Field required",
        "  entry 3 (id 'years'): year_min 2020 is after year_max 2010",
        "  entry 4: id 'fine' is already used by entry 0",
        "  entry 5 must be a mapping of keys, got str",
        "  entry 6 (id 'two-at-once'): year: Input should be a valid integer, unable to parse string as an integer; "
        "threshold: Input should be less than or equal to 1",
    )
    assert str(error) == "\n".join((error.summary, *error.details))


def test_one_invalid_entry_is_one_line_without_a_summary() -> None:
    with pytest.raises(WatchlistError) as caught:
        parse_watchlist([{"id": "a", "make": "BMW"}, {"id": "b", "colour": "red"}], "w.yaml")
    assert caught.value.summary.startswith("w.yaml: entry 1 (id 'b'): unknown key 'colour'")
    assert caught.value.details == ()
    assert [p.entry_id for p in caught.value.problems] == ["b"]


def test_error_names_the_entry_index_further_down() -> None:
    with pytest.raises(WatchlistError, match=r"^w\.yaml: entry 2 \(id 'c'\): unknown key 'vin'"):
        parse_watchlist([{"id": "a", "make": "BMW"}, {"id": "b", "make": "Audi"}, {"id": "c", "vin": "X"}], "w.yaml")


def test_duplicate_ids_are_rejected() -> None:
    with pytest.raises(WatchlistError, match=r"entry 2: id 'a' is already used by entry 0"):
        parse_watchlist([{"id": "a", "make": "BMW"}, {"id": "b", "make": "Audi"}, {"id": "a", "color": "red"}], "w")


def test_duplicate_ids_are_rejected_in_code_too() -> None:
    entry = WatchlistEntry(id="a", make="BMW")
    with pytest.raises(WatchlistError, match="already used"):
        Watchlist((entry, entry))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the file is empty (write 'entries: []' for an empty watchlist)"),
        ("entries: [", "not valid YAML"),
        ("entries:\n  - id: a\n   make: x\n", "not valid YAML"),
        ("cameras: []\nentries: []\n", "unknown top-level key 'cameras' (expected 'entries', 'version')"),
        ("other: 1\n", "unknown top-level key 'other'"),
        ("42\n", "expected a list of entries, got int"),
        ("entries: {id: a}\n", "expected a list of entries, got dict"),
    ],
)
def test_bad_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(text)
    with pytest.raises(WatchlistError) as caught:
        load_watchlist(path)
    assert message in str(caught.value)
    assert str(path) in str(caught.value)
    assert "\n" not in str(caught.value)


def test_yaml_error_says_where(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text("entries:\n  - id: a\n    make: [unclosed\n")
    with pytest.raises(WatchlistError, match=r"at line \d+ column \d+"):
        load_watchlist(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(WatchlistError, match=r"watchlist file .*nope\.yaml not found"):
        load_watchlist(tmp_path / "nope.yaml")


def test_open_year_ranges() -> None:
    assert WatchlistEntry(id="a", year_min=2010).year_range == (2010, None)
    assert WatchlistEntry(id="a", year_max=2010).year_range == (None, 2010)
    assert WatchlistEntry(id="a", year=2010).year_range == (2010, 2010)
    assert WatchlistEntry(id="a", make="BMW").year_range is None


# --- version 2 ------------------------------------------------------------------------------------------------------


def test_version_2_fields() -> None:
    entry = WatchlistEntry.model_validate(
        {
            "id": "amber-1",
            "description": "dark blue Chevy pickup, partial plate 7XK, possibly 2015",
            "make": "Chevy",
            "color": "Dark Blue",
            "body_type": "pickup",
            "year": 2015,
            "plate": "*7xk*",
            "uncertain": ["year"],
            "priority": "critical",
            "source": "CA DOJ Amber Alert 2026-1187",
            "created_at": "2026-11-21T07:00:00+02:00",
            "expires_at": "2026-11-24T08:00:00Z",
        }
    )
    assert (entry.color, entry.color_shade, entry.plate) == ("blue", "dark", "*7XK*")
    assert entry.created_at == datetime(2026, 11, 21, 5, 0, tzinfo=UTC)
    assert entry.fields() == ("make", "color", "body_type", "year", "plate")
    assert entry.certain_fields() == ("make", "color", "body_type", "plate")
    assert entry.summary() == "make=Chevy color=dark blue body_type=pickup year=2015? plate=*7XK* (partial)"
    assert not entry.expired(datetime(2026, 11, 24, 7, 59, tzinfo=UTC).timestamp())
    assert entry.expired(datetime(2026, 11, 24, 8, 0, tzinfo=UTC).timestamp())
    assert entry.version == 2
    assert WatchlistEntry.model_validate_json(entry.model_dump_json()) == entry


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"id": "x", "plate": "7X#"}, "plate: may hold letters, digits, '?' and '*' only, not '#'"),
        ({"id": "x", "plate": "??"}, "needs at least one letter or digit"),
        ({"id": "x", "color": "dark"}, "color: names a shade ('dark') but no colour"),
        ({"id": "x", "color": "navy", "color_shade": "light"}, "color 'navy' says dark, color_shade says light"),
        ({"id": "x", "color_shade": "dark", "make": "BMW"}, "color_shade needs a color"),
        ({"id": "x", "make": "BMW", "uncertain": ["model"]}, "uncertain names model, which the entry does not set"),
        ({"id": "x", "make": "BMW", "uncertain": ["make"]}, "every field is uncertain"),
        ({"id": "x", "make": "BMW", "uncertain": ["colour"]}, "uncertain.0: Input should be 'make'"),
        (
            {"id": "x", "make": "BMW", "expires_at": "2026-11-24T08:00:00"},
            "expires_at: needs a time zone, e.g. 2026-11-24T08:00:00Z",
        ),
        (
            {"id": "x", "make": "BMW", "created_at": "2026-11-24T08:00:00Z", "expires_at": "2026-11-24T07:00:00Z"},
            "expires_at must be after created_at",
        ),
        ({"id": "x", "make": "BMW", "priority": "urgent"}, "priority: Input should be 'low', 'normal'"),
        ({"id": "x", "make": "BMW", "version": 3}, "version: Input should be 1 or 2"),
    ],
)
def test_bad_version_2_entry(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(WatchlistError, match=re.escape(message)):
        parse_watchlist({"version": 2, "entries": [entry]}, "w.yaml")


def test_a_plate_alone_is_enough() -> None:
    assert WatchlistEntry(id="p", plate="7XK123").fields() == ("plate",)


@pytest.mark.parametrize("version", [1, 2])
def test_version_key(version: int) -> None:
    assert len(parse_watchlist({"version": version, "entries": [{"id": "a", "make": "BMW"}]})) == 1


def test_bad_version_key() -> None:
    with pytest.raises(WatchlistError, match="version must be 1 or 2, got 7"):
        parse_watchlist({"version": 7, "entries": []}, "w.yaml")


def test_collect_entries_keeps_the_good_ones() -> None:
    loaded = collect_entries(
        [
            {"id": "a", "make": "BMW"},
            {"id": "b", "colour": "red"},
            {"id": "a", "make": "Audi"},
            "x",
            {"id": "c", "year": 2012},
        ],
        "w.yaml",
    )
    assert [entry.id for entry in loaded.entries] == ["a", "c"]
    assert [(p.index, p.entry_id) for p in loaded.problems] == [(1, "b"), (2, "a"), (3, None)]
    assert loaded.problems[0].message.startswith("w.yaml: entry 1 (id 'b'): unknown key 'colour'")
    assert "already used by entry 0" in loaded.problems[1].message


def test_example_file_and_dump_round_trip(tmp_path: Path) -> None:
    example = load_watchlist(Path(__file__).resolve().parents[2] / "deploy" / "watchlist.example.yaml")
    assert [entry.id for entry in example] == ["white-vehicle", "amber-2026-1187", "stolen-black-bmw"]
    path = tmp_path / "dumped.yaml"
    path.write_text(dump_watchlist(example.entries))
    assert load_watchlist(path).entries == example.entries
