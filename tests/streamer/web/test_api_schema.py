"""Schema-driven test of the HTTP API (schemathesis): requests generated from the app's own OpenAPI schema, every
answer checked against it (status codes documented, bodies of the documented shape, no server error).

Bounded: a few dozen examples per operation, on the synthetic models and an empty history.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from streamer.history.settings import HistorySettings
from streamer.web.runtime import WebApi
from tests.streamer.web.review_support import FakeAdapter
from tests.streamer.web.support import TOKEN, running_api

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed")
from schemathesis.specs.openapi.checks import positive_data_acceptance  # noqa: E402


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebApi]:
    tmp: Path = tmp_path_factory.mktemp("schema")
    history = HistorySettings(enabled=True, database=f"sqlite:///{tmp / 'h.sqlite3'}", snapshots_dir=tmp / "snaps")
    # An adapter injected (as the service does): without one the adapt routes answer 503 by design, which
    # schemathesis counts as a server error (tests/streamer/web/test_review_api.py checks that answer).
    with running_api(tmp, history=history, adapter=FakeAdapter()) as running:
        yield running


@pytest.fixture(scope="module")
def api_schema(api: WebApi) -> Any:
    return schemathesis.openapi.from_url(f"http://127.0.0.1:{api.port}/openapi.json")


def test_every_operation_answers_as_its_schema_says(api_schema: Any) -> None:
    # schemathesis' pytest plugin does not run under pytest 9 here: each operation's strategy is driven directly.
    checked = []
    for result in api_schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case: Any) -> None:
            # A schema cannot say "a decodable image": a schema-valid body that is no image is rightly refused
            # with 400, so the "schema-valid data accepted" check is left out (the others all run).
            case.call_and_validate(
                headers={"Authorization": f"Bearer {TOKEN}"}, excluded_checks=[positive_data_acceptance]
            )

        check()
        checked.append(operation.label)
    assert "POST /v1/recognize" in checked
    assert "GET /v1/sightings" in checked
    assert "POST /v1/labels" in checked
    assert "POST /v1/adapt/{camera}" in checked
