"""The review page in a real headless browser (Debian's chromium driven by Playwright; never `playwright install`)
against the API on synthetic heads, a SQLite history with three tracks and an alert (real snapshots) and a fake adapter.

In order, on one page: it signs in and shows the newest vehicle with the service's answers; the first vehicle is
confirmed with Enter; on the second the make is corrected by type-ahead and the colour marked "can't tell" from the
keyboard; that label is undone with "u"; another operator's disagreeing label shows as a conflict; an alert is
judged the wrong vehicle with its wrong field named; "Adapt this camera" shows the adapter's report, and "Roll
back" its answer. Screenshots go to ``$VEHICLEWATCH_SCREENSHOTS`` when set, else the test's temporary folder.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from streamer.web.runtime import WebApi
from tests.streamer.web.browser import browser_tab, require_browser
from tests.streamer.web.review_support import FakeAdapter, history_settings, seed
from tests.streamer.web.support import OTHER_TOKEN, TOKEN, running_api

TIMEOUT_MS = 10_000

require_browser()


@pytest.fixture(scope="module")
def adapter() -> FakeAdapter:
    return FakeAdapter()


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, adapter: FakeAdapter) -> Iterator[WebApi]:
    tmp = tmp_path_factory.mktemp("review")
    history = history_settings(tmp)
    seed(history, ["red", "green", "blue"])  # newest first on the page: blue Ford, green Honda, red Toyota
    seed(history, ["red"], kind="alert", start=5)
    with running_api(tmp, detector=False, history=history, adapter=adapter) as running:
        yield running


@pytest.fixture(scope="module")
def client(api: WebApi) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"http://127.0.0.1:{api.port}", headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        yield c


@pytest.fixture(scope="module")
def page(api: WebApi) -> Iterator[Any]:
    with browser_tab(f"http://127.0.0.1:{api.port}/ui/review", TIMEOUT_MS) as tab:
        yield tab


def said(page: Any, text: str) -> None:
    page.wait_for_function(f"document.getElementById('said')?.textContent.includes({text!r})")


def test_the_page_signs_in_and_shows_the_newest_vehicle(page: Any, screens: Path) -> None:
    page.wait_for_selector("#signin", state="visible")
    page.fill("#token", TOKEN)
    page.click("#signin")
    page.wait_for_selector("#app:not([hidden])")
    page.wait_for_function("document.getElementById('position').textContent === '1 / 3'")
    assert page.input_value("#camera") == "gate"
    assert "Ford" in page.inner_text("tr[data-field='make'] .answer")
    assert "62%" in page.inner_text("tr[data-field='make'] .answer")
    assert page.input_value("#in-color") == "blue"
    page.wait_for_function("document.getElementById('view').naturalWidth > 0")
    page.screenshot(path=str(screens / "review-1-first.png"))


def test_two_vehicles_are_labelled_from_the_keyboard(page: Any, client: httpx.Client, screens: Path) -> None:
    page.keyboard.press("Enter")  # the first: the service was right on every field
    said(page, "saved label #1")
    page.wait_for_function("document.getElementById('position').textContent === '2 / 3'")
    assert "Honda" in page.inner_text("tr[data-field='make'] .answer")
    page.keyboard.press("e")  # correct the make: type-ahead over the known makes
    page.keyboard.type("toy")
    page.keyboard.press("Enter")
    assert page.input_value("#in-make") == "Toyota"
    page.keyboard.press("ArrowDown")
    page.keyboard.press("c")  # can't tell the colour
    assert page.input_value("#in-color") == "unknown"
    page.screenshot(path=str(screens / "review-2-corrected.png"))
    page.keyboard.press("y")
    said(page, "saved label #2")
    labels = {x["id"]: x for x in client.get("/v1/labels").json()}
    assert (labels[1]["make"], labels[1]["color"], labels[1]["labelled_by"]) == ("Ford", "blue", "front-desk")
    assert (labels[2]["sighting_id"], labels[2]["make"], labels[2]["color"]) == ("gate-track-1", "Toyota", "unknown")


def test_undo_and_a_conflict_flagged(page: Any, client: httpx.Client, screens: Path) -> None:
    # Another operator disagrees on the first vehicle's make.
    other = client.post(
        "/v1/labels",
        json={"sighting_id": "gate-track-2", "make": "Honda"},
        headers={"Authorization": f"Bearer {OTHER_TOKEN}"},
    )
    assert other.status_code == 201
    page.keyboard.press("u")
    said(page, "undone label #2")
    assert [x["id"] for x in client.get("/v1/labels").json()] == [3, 1]
    page.wait_for_function("document.getElementById('position').textContent === '2 / 3'")  # back on the vehicle
    page.keyboard.press("p")
    page.wait_for_selector("#conflict:not([hidden])")
    text = page.inner_text("#conflict")
    assert "make" in text
    assert "Ford (front-desk)" in text
    assert "Honda (night-shift)" in text
    assert "Ford vs Honda" in page.inner_text("#conflicts")
    page.screenshot(path=str(screens / "review-3-conflict.png"), full_page=True)


def test_an_alert_is_judged_the_wrong_vehicle_with_the_wrong_field(
    page: Any, client: httpx.Client, screens: Path
) -> None:
    page.select_option("#mode", "alert")
    page.wait_for_selector("#wrong:visible")
    page.wait_for_function("document.getElementById('position').textContent === '1 / 1'")
    assert "entry red-toyota" in page.inner_text("#meta")
    page.keyboard.press("w")  # no field marked: refused on the page
    said(page, "mark the wrong field")
    page.keyboard.press("x")  # the make (the field in focus) was wrong
    assert page.is_checked("#wrong-make")
    page.screenshot(path=str(screens / "review-4-alert.png"))
    page.keyboard.press("w")
    said(page, "saved label #4")
    label = client.get("/v1/labels").json()[0]
    assert (label["kind"], label["verdict"], label["wrong_fields"]) == ("alert", "wrong_vehicle", ["make"])
    assert (label["make"], label["color"]) == (None, "red")  # the wrong make is not taken as a label
    page.select_option("#mode", "track")
    page.wait_for_function("document.getElementById('position').textContent === '1 / 3'")


def test_adapt_and_roll_back_show_the_report(page: Any, adapter: FakeAdapter, screens: Path) -> None:
    page.click("#adapt")
    page.wait_for_selector("#report-head")
    assert "Deployed v0001" in page.inner_text("#report-head")
    assert "75% right" in page.inner_text("[data-report-field='make']")  # the make's figures after
    assert adapter.calls == [("adapt", "gate", "front-desk")]
    page.screenshot(path=str(screens / "review-5-adapted.png"), full_page=True)
    page.click("#rollback")
    page.wait_for_function("document.getElementById('report-head')?.textContent.includes('back to the base model')")
    assert adapter.calls[-1] == ("rollback", "gate", "front-desk")
