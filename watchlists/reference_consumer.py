"""A small reference consumer of the alert stream, to copy into another project: it needs only ``redis`` (redis-py).

It shows the consumer-group pattern (docs/alerts.md): create the group idempotently, read this consumer's own
unacknowledged messages first, then new ones with ``XREADGROUP … BLOCK``, acknowledge each message with ``XACK``
only after handling it, take over messages left pending by a dead consumer with ``XAUTOCLAIM``, skip duplicates
by ``alert_id`` (a publish retried after a lost reply can deliver an alert twice), and acknowledge and skip
messages it cannot read rather than getting stuck on them.

Run it: ``python -m watchlists.reference_consumer --url redis://localhost:6390/0 --group dashboard``.
(vehiclewatch's own, fuller consumer is :class:`watchlists.consumer.AlertConsumer`.)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import socket
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import redis

STREAM = "vehiclewatch:alerts"
FIELD = "alert"
KNOWN_VERSIONS = (1, 2, 3, 4)
log = logging.getLogger("reference_consumer")


def consume(
    client: redis.Redis,
    handle: Callable[[dict[str, Any]], None],
    *,
    group: str,
    consumer: str | None = None,
    stream: str = STREAM,
    block_ms: int = 2000,
    claim_idle_ms: int = 60_000,
    max_messages: int | None = None,
    remember: int = 10_000,
) -> int:
    """Handles alerts (as JSON dicts) until ``max_messages`` were handled (None: forever); returns how many.

    A handler exception leaves the message pending: it is handled again after ``claim_idle_ms``.
    """
    r: Any = client  # redis-py's stream commands are partly untyped
    name = consumer or f"{socket.gethostname()}-{os.getpid()}"
    try:
        r.xgroup_create(stream, group, id="$", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise
    seen: OrderedDict[str, None] = OrderedDict()  # recent alert ids, for de-duplication
    handled = 0
    own_backlog = True  # first our own pending messages (we crashed before acknowledging them)
    next_claim = 0.0
    while max_messages is None or handled < max_messages:
        messages: list[tuple[Any, Any]] = []
        if own_backlog:
            reply = r.xreadgroup(group, name, {stream: "0"}, count=50)
            messages = reply[0][1] if reply else []
            own_backlog = bool(messages)
        if not messages and time.monotonic() >= next_claim:
            next_claim = time.monotonic() + claim_idle_ms / 2000
            _, messages, *_ = r.xautoclaim(stream, group, name, min_idle_time=claim_idle_ms, start_id="0-0", count=50)
        if not messages:
            reply = r.xreadgroup(group, name, {stream: ">"}, count=50, block=block_ms)
            messages = reply[0][1] if reply else []
        for message_id, fields in messages:
            if max_messages is not None and handled >= max_messages:
                break  # left pending for this consumer's next run
            alert = _parse(message_id, fields)
            if alert is not None and alert["alert_id"] not in seen:
                try:
                    handle(alert)
                except Exception:  # not acknowledged: it comes back through XAUTOCLAIM after claim_idle_ms
                    log.exception("handler failed on %s; it stays pending", message_id)
                    continue
                seen[alert["alert_id"]] = None
                if len(seen) > remember:
                    seen.popitem(last=False)
                handled += 1
            r.xack(stream, group, message_id)
    return handled


def _parse(message_id: Any, fields: Any) -> dict[str, Any] | None:
    """The alert of a message, or None (logged) for one that cannot be read: trimmed away, not JSON, unknown."""
    raw = (fields or {}).get(FIELD.encode()) or (fields or {}).get(FIELD)
    try:
        alert = json.loads(raw) if raw is not None else None
    except ValueError:
        alert = None
    if not isinstance(alert, dict) or alert.get("schema_version") not in KNOWN_VERSIONS or "alert_id" not in alert:
        log.error("skipping unreadable message %s", message_id)
        return None
    return alert


def _print(alert: dict[str, Any]) -> None:
    entry = alert["entry"]
    why = ", ".join(f"{f['field']}={f['score']:.2f}" for f in alert.get("breakdown", []) if f.get("score") is not None)
    print(
        f"{alert['captured_at']} {alert['camera_id']} entry={entry['id']} [{entry.get('priority', 'normal')}] "
        f"score={alert['score']:.2f} ({why}) snapshot={alert.get('snapshot_key')}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="redis://127.0.0.1:6390/0", help="Redis URL")
    parser.add_argument("--group", default="reference", help="consumer group (consumers of a group share alerts)")
    parser.add_argument("--name", default=None, help="consumer name (default host-pid; reuse it after a restart)")
    parser.add_argument("--stream", default=STREAM)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    with contextlib.suppress(KeyboardInterrupt):
        consume(redis.Redis.from_url(args.url), _print, group=args.group, consumer=args.name, stream=args.stream)


if __name__ == "__main__":
    main()
