"""Keeps a :class:`~watchlists.live.LiveMatcher` current: the watchlist file and the Redis-managed entries.

One background thread. It reloads

* when a change notification arrives on the store's channel (at once),
* when the file's modification time, size or inode changed, or the store's revision differs from the one loaded
  (checked every ``interval_s``: the *reload cycle*; this also catches notifications lost while Redis was away),
* when a loaded entry has expired (so it leaves the list; the matcher already ignores it from its expiry on).

Each reload merges the file's entries and the stored ones (a stored entry replaces a file entry with the same id),
drops expired ones, builds a new :class:`Matcher` and swaps it in. Failures never empty the list: a file that
cannot be read or parsed keeps the previous file entries, Redis being away keeps the previous stored entries, and an
invalid entry keeps its previous version when there was one (each logged with the entry, the key and the reason).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from watchlists.colors import ColorTable, load_color_table
from watchlists.entries import EntryProblem, WatchlistEntry, WatchlistError, load_watchlist_lenient
from watchlists.live import LiveMatcher
from watchlists.matching import Matcher
from watchlists.settings import WatchlistSettings
from watchlists.store import EntryStore

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_S = 2.0
_FileSignature = tuple[int, int, int] | None


@dataclass(frozen=True, slots=True)
class ReloadResult:
    """What one reload did.

    Attributes:
        entries: ids now loaded (file and store, expired ones left out).
        added, removed, changed: ids compared with the list before.
        expired: ids left out because they have expired.
        problems: invalid entries (each kept at its previous version when it had one).
        errors: sources that could not be read (their previous entries were kept).
    """

    entries: tuple[str, ...]
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    expired: tuple[str, ...] = ()
    problems: tuple[EntryProblem, ...] = ()
    errors: tuple[str, ...] = ()


def _file_signature(path: Path) -> _FileSignature:
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size, stat.st_ino)


@dataclass
class _Source:
    """The last good entries of one source, and how to tell whether it changed."""

    entries: dict[str, WatchlistEntry] = field(default_factory=dict)
    marker: Any = None


class WatchlistReloader:
    """Reloads the live watchlist from a file and/or a Redis :class:`EntryStore`.

    Args:
        live: the matcher the pipeline uses.
        default_threshold: for the matchers it builds.
        path: the watchlist YAML file, or None.
        store: the Redis-managed entries, or None.
        interval_s: the reload cycle: how often the file, the store's revision and expiries are checked.
        heads: classifier head → labels; new or changed entries that these cannot judge are logged.
        on_reload: called after each swap (e.g. to declare metrics for new entries).
        clock: Unix seconds (tests move time).
        color_table: a measured colour table for the matchers it builds (``watchlist.color_table``).
    """

    def __init__(
        self,
        live: LiveMatcher,
        *,
        default_threshold: float,
        path: Path | None = None,
        store: EntryStore | None = None,
        interval_s: float = DEFAULT_INTERVAL_S,
        heads: Mapping[str, Sequence[str]] | None = None,
        on_reload: Callable[[ReloadResult], None] | None = None,
        clock: Callable[[], float] = time.time,
        color_table: ColorTable | None = None,
    ) -> None:
        if interval_s <= 0:
            raise ValueError(f"interval_s must be > 0, got {interval_s}")
        self.live = live
        self.default_threshold = default_threshold
        self.color_table = color_table
        self.path = path
        self.store = store
        self.interval_s = interval_s
        self.heads = heads
        self.on_reload = on_reload
        self.clock = clock
        self.reloads = 0
        self._file = _Source()
        self._stored = _Source()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._redis_down = False
        if live.entries and path is not None:
            # The entries the service started with came from the file: its current signature goes with them.
            self._file = _Source({entry.id: entry for entry in live.entries}, _file_signature(path))

    # --- checking and reloading ----------------------------------------------------------------------------------

    def poll(self, force: bool = False) -> ReloadResult | None:
        """Reloads if something changed (or ``force``); returns what the reload did, or None when nothing did."""
        with self._lock:
            file_marker = _file_signature(self.path) if self.path is not None else None
            store_marker = self._store_revision()
            now = self.clock()
            changed = (
                force
                or (self.path is not None and file_marker != self._file.marker)
                or (self.store is not None and store_marker is not None and store_marker != self._stored.marker)
                or any(entry.expired(now) for entry in self.live.entries)
            )
            if not changed:
                return None
            return self._reload(file_marker, now)

    def reload(self) -> ReloadResult:
        """Reloads now, whatever changed."""
        result = self.poll(force=True)
        assert result is not None
        return result

    def _store_revision(self) -> int | None:
        if self.store is None:
            return None
        try:
            revision = self.store.revision()
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            self._redis_warning(exc)
            return None
        return revision

    def _redis_warning(self, exc: Exception) -> None:
        if not self._redis_down:
            log.warning("watchlist: Redis unreachable (%s); keeping the stored entries loaded before", exc)
        self._redis_down = True

    def _reload(self, file_marker: _FileSignature, now: float) -> ReloadResult:
        problems: list[EntryProblem] = []
        errors: list[str] = []
        if self.path is not None and (file_marker != self._file.marker or not self._file.entries):
            self._reload_file(file_marker, problems, errors)
        if self.store is not None:
            self._reload_store(problems, errors)
        merged = dict(self._file.entries)
        for entry_id, entry in self._stored.entries.items():
            if entry_id in merged and merged[entry_id] != entry:
                log.info("watchlist: entry %r from Redis replaces the file's entry of that id", entry_id)
            merged[entry_id] = entry
        expired = sorted(entry_id for entry_id, entry in merged.items() if entry.expired(now))
        current = [entry for entry_id, entry in merged.items() if entry_id not in expired]
        before = {entry.id: entry for entry in self.live.entries}
        after = {entry.id: entry for entry in current}
        matcher = Matcher(current, self.default_threshold, color_table=self.color_table)
        self.live.swap(matcher)
        self.reloads += 1
        result = ReloadResult(
            entries=tuple(after),
            added=tuple(sorted(after.keys() - before.keys())),
            removed=tuple(sorted(before.keys() - after.keys() - set(expired))),
            changed=tuple(sorted(k for k in after.keys() & before.keys() if after[k] != before[k])),
            expired=tuple(e for e in expired if e in before),
            problems=tuple(problems),
            errors=tuple(errors),
        )
        self._report(result, matcher)
        return result

    def _reload_file(self, marker: _FileSignature, problems: list[EntryProblem], errors: list[str]) -> None:
        assert self.path is not None
        try:
            loaded = load_watchlist_lenient(self.path)
        except WatchlistError as exc:
            # Often a half-written file: keep the previous entries, and read it again once it changes.
            errors.append(str(exc))
            self._file.marker = marker
            return
        self._file = _Source(self._keep_previous(loaded.entries, loaded.problems, self._file, problems), marker)

    def _reload_store(self, problems: list[EntryProblem], errors: list[str]) -> None:
        assert self.store is not None
        try:
            snapshot = self.store.load()
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            self._redis_warning(exc)
            errors.append(f"{self.store.source}: Redis unreachable: {exc}")
            return
        if self._redis_down:
            log.info("watchlist: Redis reachable again")
            self._redis_down = False
        entries = self._keep_previous(snapshot.entries, snapshot.problems, self._stored, problems)
        self._stored = _Source(entries, snapshot.revision)

    @staticmethod
    def _keep_previous(
        entries: Sequence[WatchlistEntry],
        found: Sequence[EntryProblem],
        previous: _Source,
        problems: list[EntryProblem],
    ) -> dict[str, WatchlistEntry]:
        out = {entry.id: entry for entry in entries}
        for problem in found:
            problems.append(problem)
            if problem.entry_id is not None and problem.entry_id in previous.entries and problem.entry_id not in out:
                out[problem.entry_id] = previous.entries[problem.entry_id]
        return out

    def _report(self, result: ReloadResult, matcher: Matcher) -> None:
        for error in result.errors:
            log.error("watchlist: %s; keeping its previous entries", error)
        for problem in result.problems:
            log.error("watchlist: invalid entry skipped (a previous version stays loaded if any): %s", problem)
        if result.added or result.removed or result.changed or result.expired:
            log.info(
                "watchlist reloaded: %d entries (added %s, removed %s, changed %s, expired %s)",
                len(result.entries),
                list(result.added),
                list(result.removed),
                list(result.changed),
                list(result.expired),
            )
        if self.heads is not None:
            fresh = set(result.added) | set(result.changed)
            for unmatchable in matcher.unmatchable_fields(self.heads):
                if unmatchable.entry_id in fresh:
                    log.warning("watchlist: %s", unmatchable)
        if self.on_reload is not None:
            self.on_reload(result)

    # --- the thread ----------------------------------------------------------------------------------------------

    def start(self) -> WatchlistReloader:
        """Starts the background thread; returns self."""
        self._thread = threading.Thread(target=self._run, name="watchlist-reload", daemon=True)
        self._thread.start()
        return self

    def close(self, timeout: float = 5.0) -> None:
        """Stops the thread (within about one reload cycle)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        pubsub: Any = None
        while not self._stop.is_set():
            notified = False
            try:
                if self.store is not None and pubsub is None:
                    client: Any = self.store.client  # redis-py's pubsub() is untyped
                    pubsub = client.pubsub(ignore_subscribe_messages=True)
                    pubsub.subscribe(self.store.channel)
                if pubsub is not None:
                    notified = self._wait_for_notification(pubsub)
                else:
                    self._stop.wait(self.interval_s)
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                self._redis_warning(exc)
                self._close_pubsub(pubsub)
                pubsub = None
                self._stop.wait(self.interval_s)
            if self._stop.is_set():
                break
            try:
                self.poll(force=notified)
            except Exception:  # a bug must not end the reloads: the next cycle tries again
                log.exception("watchlist reload failed; keeping the current entries")
        self._close_pubsub(pubsub)

    def _wait_for_notification(self, pubsub: Any) -> bool:
        """Waits up to one cycle for a change message; drains any others that came with it."""
        deadline = time.monotonic() + self.interval_s
        notified = False
        while not self._stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            message = pubsub.get_message(timeout=min(left, 0.5))
            if message is not None and message.get("type") == "message":
                notified = True
                deadline = time.monotonic()  # reload now, after taking what else is queued
        return notified

    @staticmethod
    def _close_pubsub(pubsub: Any) -> None:
        if pubsub is not None:
            with contextlib.suppress(redis.ConnectionError, redis.TimeoutError, OSError):
                pubsub.close()


def start_live_watchlist(
    settings: WatchlistSettings,
    client: redis.Redis,
    initial: Sequence[WatchlistEntry] | None,
    heads: Mapping[str, Sequence[str]] | None = None,
    on_reload: Callable[[ReloadResult], None] | None = None,
) -> tuple[LiveMatcher, WatchlistReloader] | None:
    """The service's live watchlist: the file's entries (``initial``, loaded strictly at start; None without a
    file) plus the entries managed in Redis, loaded once now and then kept current by a started
    :class:`WatchlistReloader`.

    Returns None when there is nothing to watch (no file and ``redis_entries`` off).
    """
    store = EntryStore(client, settings.redis_key, settings.redis_channel) if settings.redis_entries else None
    if initial is None and store is None:
        return None
    table = load_color_table(settings.color_table) if settings.color_table is not None else None
    live = LiveMatcher(Matcher(initial or (), settings.default_threshold, color_table=table))
    reloader = WatchlistReloader(
        live,
        default_threshold=settings.default_threshold,
        color_table=table,
        path=settings.path,
        store=store,
        interval_s=settings.reload_interval_s,
        heads=heads,
        on_reload=on_reload,
    )
    reloader.reload()
    return live, reloader.start()
