"""The live page in a real headless browser (Debian's chromium driven by Playwright; never `playwright install`)
against the whole service on synthetic models and a looping generated video, with a real Redis.

In order, on one page: it signs in and loads (cameras listed); a camera's annotated preview arrives; an alert
published during the test appears in the feed with its snapshot and breakdown; a pasted description is parsed,
saved as an entry, and the running service then matches it (its alert reaches the feed); the sightings search
finds that alert in the history with its thumbnail. Screenshots go to
``$VEHICLEWATCH_SCREENSHOTS`` when set (the closing note's), else the test's temporary folder.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from streamer.service.wiring import Service
from tests.streamer.web.browser import browser_tab, require_browser
from tests.streamer.web.service_support import running_service
from tests.streamer.web.support import TOKEN
from watchlists.alerts import Alert, Box, EntryRef, FieldExplanation, LabelShare

TIMEOUT_MS = 15_000

require_browser()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Service]:
    tmp = tmp_path_factory.mktemp("live")
    with running_service(
        tmp,
        redis_url,
        watchlist={"cooldown_s": 60},  # no file: the entries saved from the page (Redis-managed) only
        history={"database": f"sqlite:///{tmp / 'sightings.sqlite3'}", "snapshots_dir": str(tmp)},
    ) as running:
        yield running


@pytest.fixture(scope="module")
def page(service: Service) -> Iterator[Any]:
    with browser_tab(f"http://127.0.0.1:{service.web.port}/", TIMEOUT_MS) as tab:
        yield tab


def test_the_page_signs_in_and_lists_the_cameras(page: Any, screens: Path) -> None:
    page.wait_for_selector("#signin", state="visible")
    page.fill("#token", TOKEN)
    page.click("#signin")
    page.wait_for_selector("#cameras tbody tr")
    assert "gate" in page.inner_text("#cameras")
    assert socket.gethostname() in page.inner_text("#cameras")  # the owner: the host reading the camera
    page.wait_for_function("document.querySelector('#cameras').innerText.includes('streaming')")
    page.screenshot(path=str(screens / "1-page.png"))


def test_a_camera_preview_arrives(page: Any, service: Service, screens: Path) -> None:
    assert service.preview is not None
    assert service.preview.offered_frames == 0  # nobody watched yet: nothing kept, nothing encoded
    page.click("button[data-watch='gate']")
    page.wait_for_function("(document.getElementById('pv-gate')?.naturalWidth ?? 0) > 0")
    assert service.preview.offered_frames > 0
    page.screenshot(path=str(screens / "2-preview.png"))
    page.click("button[data-watch='gate']")  # stop watching: the stream closes
    page.wait_for_function("!document.getElementById('pv-gate')")


def test_an_alert_published_during_the_test_appears_in_the_feed(page: Any, service: Service, screens: Path) -> None:
    assert service.redis is not None
    client = service.redis.client
    alert = Alert(
        captured_at=datetime.now(UTC),
        camera_id="gate",
        frame_index=7,
        box=Box(x1=8, y1=8, x2=56, y2=56),
        detector_class="car",
        detector_confidence=0.9,
        entry=EntryRef(id="amber-2026-1187", description="silver Toyota, seen leaving the scene"),
        score=0.61,
        breakdown=[
            FieldExplanation(
                field="color",
                wanted="silver",
                head="color",
                score=0.93,
                labels=[
                    LabelShare(label="silver", prob=0.85, weight=1.0),
                    LabelShare(label="grey", prob=0.2, weight=0.4),
                ],
            )
        ],
    )
    alert = alert.model_copy(update={"snapshot_key": f"vehiclewatch:snapshot:{alert.alert_id}"})
    client.set(f"vehiclewatch:snapshot:{alert.alert_id}", jpeg_bytes())
    client.xadd("vehiclewatch:alerts", {"alert": alert.to_json()})
    card = page.wait_for_selector(f"[data-alert='{alert.alert_id}']")
    assert "amber-2026-1187" in card.inner_text()
    assert "color silver: 93%" in card.inner_text()
    page.wait_for_function(f"document.querySelector(\"[data-alert='{alert.alert_id}'] img\")?.naturalWidth > 0")
    page.screenshot(path=str(screens / "3-alert.png"))


def test_a_pasted_description_is_saved_and_the_service_matches_it(page: Any, screens: Path) -> None:
    page.fill("#paste", "red Toyota seen leaving the school, driver unknown")
    page.click("#parse")
    page.wait_for_selector("[data-field='make']")
    assert page.inner_text("[data-field='make']") == "Toyota"
    assert page.inner_text("[data-field='color']") == "red"
    page.fill("#entry-id", "red-toyota-web")
    page.screenshot(path=str(screens / "4-parsed.png"))
    page.click("#save")
    page.wait_for_selector("#saved")
    # The running service reloads its Redis-managed entries and matches the red car on the next frames.
    card = page.wait_for_selector("[data-entry='red-toyota-web']")
    assert "gate" in card.inner_text()
    assert "make Toyota: 100%" in card.inner_text()
    page.wait_for_function("document.querySelector(\"[data-entry='red-toyota-web'] img\")?.naturalWidth > 0")
    page.screenshot(path=str(screens / "5-matched.png"), full_page=True)


def jpeg_bytes() -> bytes:
    """A small JPEG: a red square."""
    image = np.zeros((72, 96, 3), np.uint8)
    image[:] = (40, 40, 200)
    ok, data = cv2.imencode(".jpg", image)
    assert ok
    return bytes(data)


def test_the_sightings_search_shows_thumbnails(page: Any, screens: Path) -> None:
    page.fill("#q-color", "red")
    page.fill("#q-camera", "gate")
    page.click("#search")
    page.wait_for_selector("tr.sighting")
    assert "red toyota" in page.inner_text("#sightings")
    page.wait_for_function("document.querySelector('tr.sighting img.thumb')?.naturalWidth > 0")
    page.screenshot(path=str(screens / "6-sightings.png"), full_page=True)
