"""The on-disk spool: order, replay after a restart, the size cap's drop policy, one process per directory, and
records that survive the writing process being killed (SIGKILL) under every fsync policy."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from redisbus.settings import FsyncPolicy, SpoolSettings
from redisbus.spool import RECORD_OVERHEAD_BYTES, Spool, SpoolError
from tests.redisbus.support import SpoolEvents, wait_for


def drain(spool: Spool, kind: str) -> list[str]:
    """Reads and removes every record of ``kind``, oldest first; their keys."""
    keys = []
    while (record := spool.next(kind, timeout=0)) is not None:
        keys.append(record.key)
        spool.done(record)
    return keys


def test_each_kind_is_read_oldest_first_and_removed_when_done(tmp_path: Path) -> None:
    with Spool(tmp_path, SpoolSettings()) as spool:
        for i in range(3):
            spool.append("alert", f"a{i}", b"{}", attachment=b"jpeg" if i == 1 else None)
            spool.append("track", f"t{i}", b"{}", evictable=True)
        assert (spool.pending("alert"), spool.pending("track")) == (3, 3)
        first = spool.next("alert", timeout=0)
        assert first is not None
        again = spool.next("alert", timeout=0)
        assert again is not None
        assert again.seq == first.seq  # read, not removed: it stays until done()
        assert (first.key, first.body, first.attachment, first.replay) == ("a0", b"{}", None, False)
        assert drain(spool, "alert") == ["a0", "a1", "a2"]
        assert spool.pending("alert") == 0
        assert spool.keys("track") == ["t0", "t1", "t2"]
        assert spool.bytes == 3 * (2 + RECORD_OVERHEAD_BYTES)
        assert spool.next("alert", timeout=0.05) is None


def test_a_waiting_reader_wakes_up_on_append(tmp_path: Path) -> None:
    with Spool(tmp_path, SpoolSettings()) as spool:
        got: list[str] = []
        reader = threading.Thread(target=lambda: got.append(getattr(spool.next("alert", timeout=10), "key", "")))
        reader.start()
        spool.append("alert", "late", b"{}")
        reader.join(timeout=5)
        assert got == ["late"]


def test_what_is_left_at_close_is_replayed_in_order_at_the_next_open(tmp_path: Path) -> None:
    with Spool(tmp_path, SpoolSettings()) as spool:
        for i in range(4):
            spool.append("alert", f"a{i}", f'{{"i": {i}}}'.encode(), attachment=bytes([i]) * 10)
        record = spool.next("alert", timeout=0)
        assert record is not None
        spool.done(record)
    events = SpoolEvents()
    with Spool(tmp_path, SpoolSettings(), events) as spool:
        assert spool.pending("alert") == 3
        spool.append("alert", "new", b"{}")
        replays = []
        while (record := spool.next("alert", timeout=0)) is not None:
            replays.append((record.key, record.replay, record.attachment))
            spool.done(record)
        expected = [(f"a{i}", True, bytes([i]) * 10) for i in (1, 2, 3)]
        assert replays == [*expected, ("new", False, None)]
    assert events.replayed == ["alert"] * 3
    assert events.spooled == ["alert"]


def test_full_spool_drops_track_events_first_and_never_an_accepted_alert(tmp_path: Path) -> None:
    record = 1000 + RECORD_OVERHEAD_BYTES
    settings = SpoolSettings(max_bytes=64 * 1024)
    fits = settings.max_bytes // record  # records of 1000 bytes that fit
    events = SpoolEvents()
    body = b"x" * 1000
    with Spool(tmp_path, settings, events) as spool:
        for i in range(fits - 2):
            assert spool.append("track", f"t{i}", body, evictable=True) is not None
        assert spool.append("alert", "a0", body) is not None
        assert spool.append("alert", "a1", body) is not None
        # full: a new track event is dropped, the spooled ones stay
        assert spool.append("track", "late", body, evictable=True) is None
        assert events.dropped == [("track", "full")]
        # a new alert evicts the oldest track event
        assert spool.append("alert", "a2", body) is not None
        assert spool.keys("track")[0] == "t1"
        assert events.dropped == [("track", "full")] * 2
        # alerts fill the spool; once no track event is left to evict, the new alert is refused
        accepted = 3
        while spool.append("alert", f"a{accepted}", body) is not None:
            accepted += 1
        assert spool.pending("track") == 0
        assert accepted == fits
        assert events.dropped[-1] == ("alert", "full")
        assert spool.keys("alert") == [f"a{i}" for i in range(fits)]  # every accepted alert is still there
        assert spool.bytes <= settings.max_bytes


def test_one_process_per_directory(tmp_path: Path) -> None:
    spool = Spool(tmp_path, SpoolSettings())
    probe = subprocess.run(
        [sys.executable, "-c", _OPEN_IN_ANOTHER_PROCESS, str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert probe.returncode == 3, probe.stderr
    assert "is in use by another running vehiclewatch" in probe.stdout
    spool.close()
    Spool(tmp_path, SpoolSettings()).close()  # free again


_OPEN_IN_ANOTHER_PROCESS = """
import sys
from pathlib import Path
from redisbus.spool import Spool, SpoolError
from redisbus.settings import SpoolSettings
try:
    Spool(Path(sys.argv[1]), SpoolSettings())
except SpoolError as exc:
    print(exc)
    sys.exit(3)
"""


def test_unusable_directory_is_one_line(tmp_path: Path) -> None:
    file = tmp_path / "a-file"
    file.write_text("")
    with pytest.raises(SpoolError, match=r"^spool .*a-file/spool\.sqlite3 cannot be used: "):
        Spool(file, SpoolSettings())


def test_a_damaged_file_is_set_aside_and_an_empty_spool_started(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "spool.sqlite3").write_bytes(b"not a database, " * 512)
    with Spool(tmp_path, SpoolSettings()) as spool:
        assert spool.append("alert", "a", b"{}") is not None
        assert spool.keys("alert") == ["a"]
    assert len(list(tmp_path.glob("spool.sqlite3.damaged-*"))) == 1
    assert "is damaged" in caplog.text


def test_interval_policy_syncs_in_the_background(tmp_path: Path) -> None:
    with Spool(tmp_path, SpoolSettings(fsync="interval", fsync_interval_ms=20)) as spool:
        spool.append("alert", "a", b"{}")
        wait_for(lambda: not spool._dirty, timeout=5)


_APPEND_UNTIL_KILLED = """
import sys
from pathlib import Path
from redisbus.spool import Spool
from redisbus.settings import SpoolSettings
spool = Spool(Path(sys.argv[1]), SpoolSettings(fsync=sys.argv[2]))
i = 0
while True:
    spool.append("alert", f"a{i}", b"x" * 2000, attachment=b"j" * 5000)
    print(f"a{i}", flush=True)  # acknowledged: append returned
    i += 1
"""


@pytest.mark.parametrize("fsync", ["always", "interval", "never"])
def test_every_acknowledged_record_survives_sigkill(tmp_path: Path, fsync: FsyncPolicy) -> None:
    writer = subprocess.Popen(
        [sys.executable, "-c", _APPEND_UNTIL_KILLED, str(tmp_path), fsync], stdout=subprocess.PIPE, text=True
    )
    assert writer.stdout is not None
    acknowledged = []
    for line in writer.stdout:
        acknowledged.append(line.strip())
        if len(acknowledged) == 200:
            break
    writer.send_signal(signal.SIGKILL)
    acknowledged += [line.strip() for line in writer.stdout]  # printed before the kill, read after it
    writer.wait(timeout=10)
    with Spool(tmp_path, SpoolSettings()) as spool:
        kept = spool.keys("alert")
    assert kept[: len(acknowledged)] == acknowledged
    assert len(kept) - len(acknowledged) <= 1  # at most the one appended but not yet printed
