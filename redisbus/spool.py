"""A bounded on-disk spool: records written to disk before they are accepted, removed once Redis has them.

Why SQLite (the standard library's ``sqlite3``) rather than a hand-written journal: in WAL mode it *is* an
append-only, checksummed journal, with atomic commits, recovery after a crash mid-write, ordering by row id and
cheap removal of one record, all well tested; a journal of our own would re-implement each of these. The file is
``spool.sqlite3`` (plus SQLite's ``-wal``/``-shm`` files) in the spool directory.

Durability: a record is committed before :meth:`Spool.append` returns, so it survives the process being killed
(SIGKILL, OOM) under every fsync policy; the policy decides what survives a power loss or kernel crash:
``always`` syncs each append (``synchronous=FULL``), ``interval`` syncs every ``fsync_interval_ms`` (a WAL
checkpoint from a timer thread), ``never`` leaves it to the OS. Removing a record is never synced by itself: a
removal lost in a crash only replays a record that the idempotent Redis write then skips.

Size cap and drop policy (``max_bytes``, counted on the records' bytes): a record is *evictable* (track events) or
not (alerts). When a new record does not fit, an evictable one is dropped; a non-evictable one first evicts the
oldest evictable records, and is refused only if it still does not fit: an accepted alert is never dropped.

Order: each kind is read oldest first (:meth:`Spool.next`); records spooled by an earlier run are *replays*.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Protocol

from redisbus.settings import SpoolSettings

logger = logging.getLogger(__name__)

SPOOL_FILE = "spool.sqlite3"
LOCK_FILE = "spool.lock"
RECORD_OVERHEAD_BYTES = 64  # a row's own bytes (ids, sizes, time) besides its body and attachment, for the cap

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    body BLOB NOT NULL,
    attachment BLOB,
    evictable INTEGER NOT NULL,
    size INTEGER NOT NULL,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS records_by_kind ON records (kind, seq);
"""
# AUTOINCREMENT: sequence numbers are never reused, so "spooled by an earlier run" is "seq <= the largest at open".


class SpoolObserver(Protocol):
    """Receives spool events (metrics). Called under the spool's lock: keep it quick; exceptions are logged."""

    def on_spooled(self, kind: str) -> None:
        """A record was written to the spool."""

    def on_replayed(self, kind: str) -> None:
        """A record spooled by an earlier run is in Redis now."""

    def on_dropped(self, kind: str, reason: str) -> None:
        """A record was dropped: ``full`` (refused or evicted by the size cap) or ``error`` (the disk failed)."""


class SpoolError(RuntimeError):
    """The spool cannot be opened; the message is one line."""


@dataclass(frozen=True, slots=True, eq=False)
class SpoolRecord:
    """One spooled record, as :meth:`Spool.next` hands it out.

    Attributes:
        seq: position in the spool (increasing, never reused).
        kind: what the record is (``alert``, ``track``): each kind is read by its own writer.
        key: the record's id (``alert_id``, ``event_id``), for log lines.
        body: the record (JSON).
        attachment: its crop (JPEG), or None.
        created: Unix time it was spooled.
        replay: spooled by an earlier run of the service.
    """

    seq: int
    kind: str
    key: str
    body: bytes
    attachment: bytes | None
    created: float
    replay: bool


class Spool:
    """The spool file of one service; thread-safe (one connection, one lock).

    Args:
        directory: where the spool file lives (created if missing).
        settings: fsync policy and size cap.
        observer: receives spooled / replayed / dropped events.

    Raises:
        SpoolError: the directory or file cannot be used.
    """

    def __init__(self, directory: Path, settings: SpoolSettings, observer: SpoolObserver | None = None) -> None:
        self.directory = directory
        self.path = directory / SPOOL_FILE
        self.settings = settings
        self._observer = observer
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # an append: a waiting reader looks again
        self._closed = False
        self._dirty = False  # appended since the last sync (interval policy)
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self._lock_fd = self._take_lock()
        except OSError as exc:
            raise SpoolError(f"spool {self.path} cannot be used: {exc.strerror or exc}") from None
        self._pending: Counter[str] = Counter()
        self._bytes = 0
        try:
            try:
                self._db = self._open()
            except sqlite3.OperationalError:
                raise  # cannot open (permissions, disk): not the file's fault
            except sqlite3.DatabaseError as exc:
                # A damaged file must not keep the service from alerting: set it aside, start an empty spool.
                self._quarantine(exc)
                self._db = self._open()
        except sqlite3.Error as exc:
            os.close(self._lock_fd)
            raise SpoolError(f"spool {self.path} cannot be used: {exc}") from None
        if self._pending:
            kinds = ", ".join(f"{n} {kind}(s)" for kind, n in sorted(self._pending.items()))
            logger.warning("spool %s holds %s from an earlier run: replaying them to Redis", self.path, kinds)
        self._stop_sync = threading.Event()
        self._sync_thread: threading.Thread | None = None
        if settings.fsync == "interval":
            self._sync_thread = threading.Thread(target=self._sync_periodically, name="spool-fsync", daemon=True)
            self._sync_thread.start()

    def _take_lock(self) -> int:
        """Locks the directory for this process: two services draining one spool would send each other's records
        to their own Redis. The lock goes with the process, however it ends."""
        fd = os.open(self.directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise SpoolError(
                f"spool {self.path} is in use by another running vehiclewatch: give each its own redis.spool.dir"
            ) from None
        return fd

    def _open(self) -> sqlite3.Connection:
        """Opens (or creates) the file and reads what it holds: counts per kind, bytes, the replay boundary."""
        # isolation_level=None: autocommit, each statement its own transaction (one record, one commit).
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=10.0)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA journal_size_limit=8388608")  # the WAL shrinks back after an outage's burst
            db.executescript(_SCHEMA)
            self._set_sync(db, append=True)
            for kind, count, size in db.execute("SELECT kind, COUNT(*), SUM(size) FROM records GROUP BY kind"):
                self._pending[kind] = count
                self._bytes += size
            self._replay_upto: int = db.execute("SELECT COALESCE(MAX(seq), 0) FROM records").fetchone()[0]
        except sqlite3.Error:
            db.close()
            raise
        return db

    def _quarantine(self, error: sqlite3.Error) -> None:
        aside = f".damaged-{time.strftime('%Y%m%dT%H%M%S')}"
        for suffix in ("", "-wal", "-shm"):
            path = self.path.with_name(SPOOL_FILE + suffix)
            if path.exists():
                path.rename(path.with_name(path.name + aside))
        logger.error(
            "spool %s is damaged (%s): moved aside as %s, starting an empty spool; what it held is not replayed",
            self.path,
            error,
            self.path.name + aside,
        )
        self._pending.clear()
        self._bytes = 0

    def _set_sync(self, db: sqlite3.Connection, append: bool) -> None:
        full = append and self.settings.fsync == "always"
        db.execute(f"PRAGMA synchronous={'FULL' if full else 'NORMAL'}")

    # writing -----------------------------------------------------------------------------------------------------

    def append(
        self, kind: str, key: str, body: bytes, attachment: bytes | None = None, evictable: bool = False
    ) -> int | None:
        """Writes a record (synced as the fsync policy says) and returns its sequence number.

        Returns:
            None when it was dropped: no room (after evicting older evictable records, for a non-evictable one),
            or the disk failed (logged). Either is counted.

        Raises:
            SpoolError: after :meth:`close`.
        """
        size = len(body) + len(attachment or b"") + RECORD_OVERHEAD_BYTES
        with self._lock:
            if self._closed:
                raise SpoolError(f"spool {self.path} is closed")
            try:
                if not self._make_room(size, evictable):
                    self._notify("on_dropped", kind, "full")
                    return None
                cursor = self._db.execute(
                    "INSERT INTO records (kind, key, body, attachment, evictable, size, created) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (kind, key, body, attachment, int(evictable), size, time.time()),
                )
            except sqlite3.Error as exc:
                logger.error("spool %s: %s %s could not be written: %s", self.path, kind, key, exc)
                self._notify("on_dropped", kind, "error")
                return None
            seq = cursor.lastrowid
            assert seq is not None  # an INSERT always has one
            self._pending[kind] += 1
            self._bytes += size
            self._dirty = True
            self._changed.notify_all()
        self._notify("on_spooled", kind)
        return seq

    def _make_room(self, size: int, evictable: bool) -> bool:
        """True when ``size`` more bytes fit, evicting the oldest evictable records for a non-evictable one."""
        cap = self.settings.max_bytes
        if self._bytes + size <= cap:
            return True
        if evictable:
            return False
        rows = self._db.execute("SELECT seq, kind, size FROM records WHERE evictable = 1 ORDER BY seq").fetchall()
        evicted: list[tuple[int, str, int]] = []
        freed = 0
        for seq, kind, row_size in rows:
            if self._bytes - freed + size <= cap:
                break
            evicted.append((seq, kind, row_size))
            freed += row_size
        if self._bytes - freed + size > cap:
            return False  # not enough even with every evictable record gone: evict nothing
        self._db.executemany("DELETE FROM records WHERE seq = ?", [(seq,) for seq, _, _ in evicted])
        for _, kind, row_size in evicted:
            self._forget(kind, row_size)
            self._notify("on_dropped", kind, "full")
        logger.warning("spool full: %d track event(s) dropped to make room for an alert", len(evicted))
        return True

    def _forget(self, kind: str, size: int) -> None:
        self._pending[kind] -= 1
        self._bytes -= size

    # reading -----------------------------------------------------------------------------------------------------

    def next(self, kind: str, timeout: float) -> SpoolRecord | None:
        """The oldest record of ``kind``, waiting up to ``timeout`` seconds for one; None when there is none.

        The record stays in the spool until :meth:`done`: reading it again gives it again.
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                if self._closed:
                    return None
                row = self._db.execute(
                    "SELECT seq, key, body, attachment, created FROM records WHERE kind = ? ORDER BY seq LIMIT 1",
                    (kind,),
                ).fetchone()
                if row is not None:
                    seq, key, body, attachment, created = row
                    return SpoolRecord(seq, kind, key, body, attachment, created, seq <= self._replay_upto)
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._changed.wait(left)

    def done(self, record: SpoolRecord) -> None:
        """Removes a record that is in Redis now (or was dropped as unwritable); a removed one is ignored."""
        with self._lock:
            if self._closed:
                return  # it stays, and is replayed (and skipped as a duplicate) at the next start
            try:
                self._set_sync(self._db, append=False)
                try:
                    row = self._db.execute("DELETE FROM records WHERE seq = ? RETURNING size", (record.seq,)).fetchone()
                finally:
                    self._set_sync(self._db, append=True)
            except sqlite3.Error as exc:
                logger.error(
                    "spool %s: %s %s could not be removed (it will be replayed): %s",
                    self.path,
                    record.kind,
                    record.key,
                    exc,
                )
                return
            if row is None:
                return  # evicted while it was being written
            self._forget(record.kind, row[0])
        if record.replay:
            self._notify("on_replayed", record.kind)

    # observation -------------------------------------------------------------------------------------------------

    def pending(self, kind: str) -> int:
        """Records of ``kind`` in the spool (not yet in Redis)."""
        with self._lock:
            return self._pending[kind]

    @property
    def bytes(self) -> int:
        """Bytes of the spooled records, as the size cap counts them."""
        with self._lock:
            return self._bytes

    def keys(self, kind: str) -> list[str]:
        """The keys (ids) of the spooled records of ``kind``, oldest first (tests, diagnostics)."""
        with self._lock:
            rows = self._db.execute("SELECT key FROM records WHERE kind = ? ORDER BY seq", (kind,)).fetchall()
        return [key for (key,) in rows]

    # lifecycle ---------------------------------------------------------------------------------------------------

    def close(self) -> None:
        """Syncs and closes the file; what is still spooled is replayed at the next start."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._changed.notify_all()
        self._stop_sync.set()
        if self._sync_thread is not None:
            self._sync_thread.join()
        with self._lock:
            try:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error as exc:
                logger.warning("spool %s: final checkpoint failed: %s", self.path, exc)
            self._db.close()
            os.close(self._lock_fd)  # closing the descriptor releases the lock

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def _sync_periodically(self) -> None:
        period = self.settings.fsync_interval_ms / 1000
        while not self._stop_sync.wait(period):
            with self._lock:
                if not self._dirty or self._closed:
                    continue
                try:
                    # In WAL mode with synchronous=NORMAL a checkpoint first syncs the WAL: the appends are on disk.
                    self._db.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error as exc:
                    logger.error("spool %s: periodic sync failed: %s", self.path, exc)
                self._dirty = False

    def _notify(self, event: str, *args: str) -> None:
        if self._observer is None:
            return
        try:
            getattr(self._observer, event)(*args)
        except Exception:
            logger.exception("spool observer failed in %s", event)
