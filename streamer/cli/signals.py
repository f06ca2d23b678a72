"""Ctrl-C and SIGTERM for the long-running commands (`run`, `alerts tail`): the first stops gracefully, a later
one forces the exit with status 130."""

from __future__ import annotations

import logging
import signal
import sys
import time
from collections.abc import Callable

from streamer.cli.errors import INTERRUPTED

log = logging.getLogger("vehiclewatch")

# A repeat of the first signal within this many seconds is the same request delivered twice (timeout(1), for one,
# signals both the process and its process group), not an operator insisting.
SAME_SIGNAL_S = 2.0


def on_signals(graceful: Callable[[], None], force: Callable[[], None] | None = None) -> None:
    """SIGINT/SIGTERM: the first calls ``graceful`` (draining); a second one, later, calls ``force`` and exits 130."""
    first: list[float] = []

    def handle(signum: int, _frame: object) -> None:
        now = time.monotonic()
        if not first:
            first.append(now)
            log.info("signal %s: stopping (again to force)", signal.Signals(signum).name)
            graceful()
        elif now - first[0] >= SAME_SIGNAL_S:
            log.warning("signal %s again: exiting now without draining", signal.Signals(signum).name)
            if force is not None:
                force()
            sys.exit(INTERRUPTED)

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)
