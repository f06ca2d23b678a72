"""Webhooks from the running service: its alerts reach a receiver, signed; the webhook URL's token and the secret
never show in `config check`, in the logs, or in what the receiver could not have been sent."""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from streamer.cli.main import main
from streamer.service.config import load_settings
from streamer.service.wiring import Service
from tests.streamer.outputs.test_webhooks import SECRET, Receiver
from tests.streamer.scene import make_scene

HOOK_TOKEN = "HookTok-4rT9pQ"


def test_the_service_delivers_its_alerts_to_a_webhook(
    tmp_path: Path, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    receiver = Receiver(lambda _id, attempt: 503 if attempt == 1 else 200)
    secret = tmp_path / "hook.secret"
    secret.write_bytes(SECRET)
    url = receiver.url.replace("receiver-side-secret", HOOK_TOKEN)
    scene = make_scene(tmp_path, frames=10, color="red")
    settings = scene.settings(
        redis_url,
        tracking={"enabled": False},
        metrics={"enabled": False},
        webhooks={
            "endpoints": [
                {"name": "ops", "url": url, "secret_file": str(secret), "backoff_initial_s": 0.05, "max_attempts": 3}
            ]
        },
    )
    service = Service(load_settings(None, settings))
    service.start()
    try:
        assert service.wait(threading.Event())
        deadline = time.monotonic() + 10
        while not receiver.accepted and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        service.stop()
        receiver.close()
    assert len(receiver.accepted) == 1  # the red car, once (cooldown), after one refused attempt
    assert receiver.bad_signatures == 0
    assert HOOK_TOKEN not in caplog.text
    assert SECRET.decode() not in caplog.text

    config = tmp_path / "config.yaml"
    config.write_text(json.dumps(settings))  # JSON is YAML
    result = CliRunner().invoke(main, ["config", "check", str(config)])
    assert result.exit_code == 0, result.output
    assert HOOK_TOKEN not in result.output
    assert "token=***" in result.output
