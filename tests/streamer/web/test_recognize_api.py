"""POST /v1/recognize on a real uvicorn server on loopback, with tiny synthetic models: auth, limits, bad images,
both request forms, the seed's top-5 answer, OpenAPI, and concurrent requests batched into fewer model calls."""

from __future__ import annotations

import struct
import time
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from streamer.web.runtime import WebApi
from streamer.web.settings import JwtSettings
from streamer.web.tokens import ApiTokens, TokenFileError
from tests.streamer.web.support import OTHER_TOKEN, TOKEN, data_url, png, red_car, running_api, write_tokens
from tests.synthetic_classifier import solid_bgr

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebApi]:
    with running_api(tmp_path_factory.mktemp("api"), max_body_bytes=64 * 1024, max_side=2048) as running:
        yield running


@pytest.fixture
def client(api: WebApi) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"http://127.0.0.1:{api.port}", timeout=10) as c:
        yield c


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header says width x height (a decompression bomb's shape), with a tiny body."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))


def test_no_token_and_a_wrong_token_are_refused(client: httpx.Client) -> None:
    body = png(red_car())
    missing = client.post("/v1/recognize", content=body, headers={"Content-Type": "image/png"})
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert "missing token" in missing.json()["detail"]
    wrong = client.post("/v1/recognize", content=body, headers={"Authorization": "Bearer not-the-token-at-all"})
    assert wrong.status_code == 401
    assert "wrong token" in wrong.json()["detail"]
    assert "not-the-token" not in wrong.text


def test_a_binary_image_gets_its_vehicles_with_boxes_and_heads(client: httpx.Client) -> None:
    answer = client.post("/v1/recognize", content=png(red_car()), headers={**AUTH, "Content-Type": "image/png"})
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert (result["width"], result["height"], result["whole_image"]) == (128, 96, False)
    [vehicle] = result["vehicles"]
    assert vehicle["detector_class"] == "car"
    assert vehicle["box"]["x2"] > vehicle["box"]["x1"]
    assert vehicle["heads"]["color"][0]["label"] == "red"
    assert vehicle["heads"]["make"][0] == {"label": "Toyota", "prob": pytest.approx(1.0, abs=1e-3)}


def test_base64_json_and_the_seed_top5_format(client: httpx.Client) -> None:
    headers = {"Authorization": OTHER_TOKEN}  # the seed's clients send the bare token; a second named token
    answer = client.post(
        "/v1/recognize?format=top5", json={"image": data_url(solid_bgr("green", 64, 64))}, headers=headers
    )
    assert answer.status_code == 200, answer.text
    top = answer.json()
    assert [item["make_model"] for item in top] == ["Honda", "Toyota", "Ford"]  # 3 labels in this model
    assert top[0]["percent"] == pytest.approx(100.0, abs=0.1)
    assert sum(item["percent"] for item in top) == pytest.approx(100.0, abs=0.1)


@pytest.mark.parametrize(
    ("body", "content_type", "status", "says"),
    [
        (b"", "image/png", 400, "empty body"),
        (b"\x89PNG\r\n\x1a\nthis is not really a png", "image/png", 400, "cannot decode"),
        (b"GIF89a" + b"\x00" * 64, "application/octet-stream", 400, "cannot decode"),
        (_png_claiming(60_000, 60_000), "image/png", 413, "largest side"),
        (b"x" * (64 * 1024 + 1), "image/jpeg", 413, "limit"),
        (b'{"image": "%%% not base64"}', "application/json", 400, "base64"),
        (b'{"picture": "abc"}', "application/json", 400, "JSON body"),
        (b'{"image": "data:text/plain;base64,aGVsbG8="}', "application/json", 415, "not an image"),
        (b"hello", "text/plain", 415, "content type"),
    ],
)
def test_bad_requests_get_a_clear_4xx(
    client: httpx.Client, body: bytes, content_type: str, status: int, says: str
) -> None:
    answer = client.post("/v1/recognize", content=body, headers={**AUTH, "Content-Type": content_type})
    assert answer.status_code == status, answer.text
    assert says in answer.json()["detail"]


def test_the_openapi_schema_describes_the_endpoint(client: httpx.Client) -> None:
    schema = client.get("/openapi.json").json()
    operation = schema["paths"]["/v1/recognize"]["post"]
    assert set(operation["requestBody"]["content"]) >= {"image/*", "application/json"}
    assert {"401", "413", "400"} <= set(operation["responses"])
    assert {"RecognizeResult", "Top5Label"} <= set(schema["components"]["schemas"])


def test_concurrent_requests_are_batched_into_fewer_model_calls(tmp_path: Path) -> None:
    with running_api(tmp_path, max_batch=16, max_wait_ms=100) as api:
        body = png(red_car())

        def one(_: int) -> int:
            with httpx.Client(timeout=10) as c:
                url = f"http://127.0.0.1:{api.port}/v1/recognize"
                return c.post(url, content=body, headers={**AUTH, "Content-Type": "image/png"}).status_code

        assert api.batcher is not None
        calls_before = api.batcher.calls
        with ThreadPoolExecutor(16) as pool:
            statuses = list(pool.map(one, range(16)))
        assert statuses == [200] * 16
        calls = api.batcher.calls - calls_before
        assert api.batcher.items == 16
        assert calls < 16, f"{calls} model calls for 16 concurrent requests"


def test_an_image_without_a_vehicle_is_classified_whole(tmp_path: Path) -> None:
    with running_api(tmp_path, detector=False) as api, httpx.Client(timeout=10) as c:
        answer = c.post(f"http://127.0.0.1:{api.port}/v1/recognize", content=png(red_car()), headers=AUTH)
        assert answer.status_code == 200
        result = answer.json()
        assert result["whole_image"] is True
        assert result["vehicles"][0]["heads"]["color"][0]["label"] == "red"


def test_token_files_are_checked(tmp_path: Path) -> None:
    tokens = ApiTokens.from_file(write_tokens(tmp_path / "t.yaml"))
    assert tokens.check_header(f"Bearer {TOKEN}") == "front-desk"
    assert tokens.check_header(OTHER_TOKEN) == "night-shift"
    assert tokens.check_header("Bearer nope") is None
    (tmp_path / "short.yaml").write_text("me: short\n")
    with pytest.raises(TokenFileError, match="at least 16") as caught:
        ApiTokens.from_file(tmp_path / "short.yaml")
    assert "short\n" not in str(caught.value)
    assert "'short'" not in str(caught.value)
    with pytest.raises(TokenFileError, match="not found"):
        ApiTokens.from_file(tmp_path / "absent.yaml")


def test_jwts_signed_with_the_configured_key_are_accepted(tmp_path: Path) -> None:
    import jwt

    key = tmp_path / "jwt.key"
    key.write_text("a-shared-hmac-key-for-the-tests-0123456789")
    settings = JwtSettings(key_file=key, audience="vehiclewatch", issuer="https://idp.example")
    now = int(time.time())
    good = {"sub": "dispatcher-7", "aud": "vehiclewatch", "iss": "https://idp.example", "exp": now + 60}

    def sign(claims: dict[str, object], secret: str = key.read_text()) -> str:
        return jwt.encode(claims, secret, algorithm="HS256")

    with running_api(tmp_path, jwt=settings) as api, httpx.Client(timeout=10) as c:
        url = f"http://127.0.0.1:{api.port}/v1/recognize"

        def status(token: str) -> int:
            return c.post(url, content=png(red_car()), headers={"Authorization": f"Bearer {token}"}).status_code

        assert status(sign(good)) == 200
        assert status(TOKEN) == 200  # the tokens file still counts
        assert status(sign({**good, "exp": now - 3600})) == 401  # expired
        assert status(sign({**good, "aud": "someone-else"})) == 401
        assert status(sign({**good, "iss": "https://evil.example"})) == 401
        assert status(sign({k: v for k, v in good.items() if k != "exp"})) == 401  # no expiry
        assert status(sign(good, "another-key-another-key-another-key")) == 401
        assert status(jwt.encode(good, "", algorithm="none")) == 401  # unsigned
