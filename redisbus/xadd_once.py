"""An idempotent stream write: XADD (with its snapshot SET and PUBLISH) at most once per record id.

A record replayed from the spool after a crash between its write and its removal, or a write retried after its
reply was lost, must not appear twice. One Lua script (atomic: no other command runs in between) checks a
``<stream>:seen:<id>`` key, and only when it is absent writes the snapshot, adds the stream entry, publishes, and
sets the key with a TTL (``dedup_ttl_s``). The key is set last, so a script that fails half-way (a key of the
wrong type) leaves nothing that would make its retry a no-op.

Commands the script runs, which an ACL user needs (besides ``EVAL`` itself and ``PING`` at connect):
``EXISTS`` and ``SET`` on the seen keys, ``SET`` on the snapshot keys, ``XADD`` on the stream, ``PUBLISH`` on the
channel. Plain ``EVAL`` rather than ``EVALSHA``: one permission fewer, and the server caches the compiled script.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import redis

SEEN_INFIX = ":seen:"

_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if #KEYS >= 3 then redis.call('SET', KEYS[3], ARGV[5], 'EX', ARGV[4]) end
local fields = {}
for i = 7, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', unpack(fields))
if ARGV[3] ~= '' then redis.call('PUBLISH', ARGV[3], ARGV[6]) end
redis.call('SET', KEYS[1], '1', 'EX', ARGV[1])
return 1
"""


def seen_key(stream: str, record_id: str) -> str:
    """The key that marks ``record_id`` as written to ``stream``."""
    return f"{stream}{SEEN_INFIX}{record_id}"


@dataclass(frozen=True, slots=True, eq=False)
class Snapshot:
    """A JPEG stored next to the stream entry, expiring."""

    key: str
    jpeg: bytes
    ttl_s: int


def xadd_once(
    client: redis.Redis,
    *,
    stream: str,
    record_id: str,
    fields: Mapping[str, str],
    maxlen: int,
    dedup_ttl_s: int,
    snapshot: Snapshot | None = None,
    channel: str | None = None,
    message: str = "",
) -> bool:
    """Writes one record unless ``record_id`` was written to ``stream`` within ``dedup_ttl_s``.

    Args:
        fields: the stream entry's fields.
        maxlen: approximate cap on the stream (``MAXLEN ~``).
        snapshot: a JPEG to ``SET`` with its TTL, or None.
        channel: a pub/sub channel to publish ``message`` on, or None.

    Returns:
        True when written, False when it had been already (nothing was changed).

    Raises:
        redis.RedisError: Redis is away, or refused (e.g. an ACL user without the permissions listed above).
    """
    keys = [seen_key(stream, record_id), stream]
    if snapshot is not None:
        keys.append(snapshot.key)
    args: list[str | bytes | int] = [
        dedup_ttl_s,
        maxlen,
        channel or "",
        snapshot.ttl_s if snapshot is not None else 0,
        snapshot.jpeg if snapshot is not None else b"",
        message,
    ]
    for name, value in fields.items():
        args += [name, value]
    return bool(client.eval(_SCRIPT, len(keys), *keys, *args))
