"""The whole teaching loop in a real browser against the running service (synthetic models, a looping generated
video, a real Redis): an operator labels the camera's vehicles on the review page, clicks Adapt, and the camera's
next alert is decided by the new version; Roll back returns the camera to the base models.

The camera "gate" has a colour cast: its cars are green but the colour head reads them red. Six of its tracks (with
real snapshots) are in the history; the operator corrects each one's colour to green from the keyboard. The
watchlist asks for a green car, so nothing alerts before the adaptation, and the first alert after it names
``gate/v0001`` as the colour's decider. Screenshots go to ``$VEHICLEWATCH_SCREENSHOTS`` when set.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import yaml

from streamer.service.wiring import Service
from tests.streamer.web.browser import browser_tab, require_browser
from tests.streamer.web.review_support import history_settings, seed
from tests.streamer.web.service_support import running_service
from tests.streamer.web.support import TOKEN
from watchlists.alerts import Alert

TIMEOUT_MS = 20_000
VEHICLES = 6

require_browser()
pytest.importorskip("scipy", reason="adapting needs scipy (the tools extra)")


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Service]:
    tmp = tmp_path_factory.mktemp("teach")
    watchlist = tmp / "green.yaml"
    watchlist.write_text(
        yaml.safe_dump({"entries": [{"id": "green-car", "description": "a green car", "color": "green"}]})
    )
    history = history_settings(tmp)
    seed(history, ["red"] * VEHICLES)  # the camera's tracks as the service saw them: red Toyotas
    assert history.database is not None
    with running_service(
        tmp,
        redis_url,
        watchlist={"path": str(watchlist), "cooldown_s": 1},
        history={
            "database": history.database.get_secret_value(),
            "snapshots_dir": str(history.snapshots_dir),
            "labels_dir": str(tmp / "labels"),
        },
        adaptation={"dir": str(tmp / "adapted"), "reload_s": 0.2},
    ) as running:
        yield running


@pytest.fixture(scope="module")
def page(service: Service) -> Iterator[Any]:
    assert service.web is not None
    with browser_tab(f"http://127.0.0.1:{service.web.port}/ui/review", TIMEOUT_MS) as tab:
        yield tab


def alerts_since(service: Service, last_id: str) -> list[tuple[str, Alert]]:
    assert service.redis is not None
    found = cast(
        list[tuple[bytes, dict[bytes, bytes]]],
        service.redis.client.xrange("vehiclewatch:alerts", min=f"({last_id}" if last_id != "-" else "-"),
    )
    return [(i.decode(), Alert.from_json(f[b"alert"])) for i, f in found]


def test_an_operator_teaches_the_camera_and_its_next_alert_is_decided_by_the_new_version(
    page: Any, service: Service, screens: Path
) -> None:
    page.wait_for_selector("#signin", state="visible")
    page.fill("#token", TOKEN)
    page.click("#signin")
    page.wait_for_function(f"document.getElementById('position').textContent === '1 / {VEHICLES}'")
    assert page.input_value("#in-color") == "red"
    assert alerts_since(service, "-") == []  # the camera's cars read red: the green car is never matched
    page.wait_for_selector("tr[data-field='make'].focus")  # the page is ready for keys
    page.keyboard.press("ArrowDown")  # the colour field
    page.wait_for_selector("tr[data-field='color'].focus")
    for n in range(1, VEHICLES + 1):
        page.keyboard.press("e")
        page.keyboard.type("gre")
        page.keyboard.press("Enter")
        assert page.input_value("#in-color") == "green"
        page.keyboard.press("y")
        page.wait_for_function(f"document.getElementById('said')?.textContent.includes('saved label #{n}')")
        if n < VEHICLES:  # the next vehicle is shown (its answers loaded) before the next keys
            page.wait_for_function(f"document.getElementById('position').textContent === '{n + 1} / {VEHICLES}'")
            page.wait_for_function("document.getElementById('in-color').value === 'red'")
    page.screenshot(path=str(screens / "teach-1-labelled.png"))

    page.click("#adapt")
    page.wait_for_selector("#report-head", timeout=120_000)
    assert "Deployed v0001" in page.inner_text("#report-head"), page.inner_text("#report")[:3000]
    colour = page.inner_text("[data-report-field='color']")
    assert "0/6 right" in colour  # before: the base head read every green car red
    assert "6/6 right" in colour  # after, each vehicle judged by a fit without it
    assert "deployed" in colour
    page.screenshot(path=str(screens / "teach-2-adapted.png"), full_page=True)
    deadline = time.monotonic() + 30
    found: list[tuple[str, Alert]] = []
    while not found and time.monotonic() < deadline:
        found = alerts_since(service, "-")
        time.sleep(0.2)
    assert found, "no alert after the adaptation"
    last_id, alert = found[-1]
    assert alert.entry.id == "green-car"
    assert alert.decided_by["color"] == "gate/v0001"
    assert alert.decided_by["make"] == "base"  # the make was right: not adapted
    assert alert.classifications["color"][0].label == "green"

    page.click("#rollback")
    page.wait_for_function("document.getElementById('report-head')?.textContent.includes('base models')")
    time.sleep(1.0)  # > reload_s, and alerts already in flight are out
    settled = alerts_since(service, last_id)
    mark = settled[-1][0] if settled else last_id
    time.sleep(2.5)  # > the cooldown: a green car would alert again
    assert alerts_since(service, mark) == []  # back on the base models, the cars read red again
    page.click("#rollback")  # nothing left to roll back: refused in one line, nothing changed
    page.wait_for_function("document.getElementById('report-head')?.textContent.includes('nothing to roll back')")
